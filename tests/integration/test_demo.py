"""The quick start's demo path: the study's cells uploaded over HTTP as a cycler PC would, imported by a worker."""
import pytest

from cells.demo import load_study_registry
from cycling.models import CycleSummary, DataFile
from lab.demo import upload_demo_data

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_it_loads_the_demo_study_through_the_real_api_and_worker(start_worker, live_server, settings):
    start_worker(concurrency=2)
    load_study_registry()
    statuses = upload_demo_data(base_url=live_server.url, cycles=12, timeout_s=240)
    assert len(statuses) == 6 + 18
    assert set(DataFile.objects.values_list("status", flat=True)) == {"imported"}
    first = {c.cell.name: c for c in CycleSummary.objects.filter(cycle=1).select_related("cell")}
    assert first["LNTO-01"].discharge_mah_g == pytest.approx(161.4, rel=1e-3)
    assert first["LNTO-01"].ce_percent == pytest.approx(85.8, abs=0.05)
    assert first["BARE-01"].ce_percent == pytest.approx(54.5, abs=0.05)

    from impedance.models import EisFit

    after_formation = {
        f.spectrum.cell.name: f.r_int_ohm
        for f in EisFit.objects.filter(is_current=True, spectrum__after_cycle=2).select_related("spectrum__cell")
    }
    assert after_formation["BARE-02"] == pytest.approx(1400, rel=0.02)
    assert after_formation["LNTO-02"] == pytest.approx(248, rel=0.02)
    # Uploading again sends the same bytes: answered 200, nothing duplicated.
    again = upload_demo_data(base_url=live_server.url, cycles=12, timeout_s=60)
    assert {a["id"] for a in again} == {a["id"] for a in statuses}
    assert DataFile.objects.count() == 24
