"""A reprocess (e.g. after a mass correction) never shows an empty cell: old rows stay until the swap-in."""
import csv
import io

import pytest

from cycling import services
from cycling.models import DataFile
from ingest import machinery as ingest
from tests.conftest import client_for
from tests.landfiles import study_export, upload_file

pytestmark = pytest.mark.django_db


def _cycles(client, cell):
    return client.get(f"/api/v1/cells/{cell.pk}/cycles/").json()


def _page_shows_cycles(client, cell):
    html = client.get(f"/cells/{cell.pk}/").content.decode()
    return '<div id="no-cycles" class="empty" hidden>' in html


def _export_rows(client, cell):
    text = client.get(f"/cells/{cell.pk}/cycles/export/?format=csv").content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_it_keeps_the_old_cycles_visible_until_the_new_ones_are_swapped_in(api, researcher, cell):
    data, _ = study_export("coated", n_cycles=12)
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(data, "LNTO-01.xlsx"), "cell": cell.name},
                    format="multipart")
    datafile_id = resp.json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    web = client_for(researcher)
    web.force_login(researcher)
    before = _cycles(api, cell)
    assert len(before) == 12 and before[0]["discharge_mah_g"] == pytest.approx(161.4, rel=1e-3)

    # A mass correction re-queues the file: pending, then a worker claims it (parsing) ...
    cell.composite_loading_mg_cm2 = 24.0  # twice the mass: half the mAh/g
    cell.save()
    assert DataFile.objects.get(pk=datafile_id).status == DataFile.Status.PENDING
    for state in ("pending", "parsing"):
        if state == "parsing":
            assert ingest.claim(datafile_id) is not None
        assert DataFile.objects.get(pk=datafile_id).status == state
        assert _cycles(api, cell) == before, state
        assert _page_shows_cycles(web, cell), state
        assert len(_export_rows(web, cell)) == 12, state
        assert api.get(f"/api/v1/cells/{cell.pk}/curves/?cycles=1").json()["traces"], state

    # ... and the new values replace the old ones in one step.
    DataFile.objects.filter(pk=datafile_id).update(status=DataFile.Status.PENDING, claim_token=None)
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    after = _cycles(api, cell)
    assert len(after) == 12
    assert after[0]["discharge_mah_g"] == pytest.approx(before[0]["discharge_mah_g"] / 2, rel=1e-6)


def test_it_shows_nothing_for_a_first_import_still_running(api, cell):
    data, _ = study_export("coated", n_cycles=3)
    api.post("/api/v1/datafiles/", {"file": upload_file(data, "LNTO-01.xlsx"), "cell": cell.name}, format="multipart")
    assert _cycles(api, cell) == []
