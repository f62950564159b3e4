"""In chromium: a file in a layout no reader knows is refused with a link; a lab admin maps it once (columns,
units, decimal comma, header line), previews the records and cycles, saves; the file and a second file from that
cycler PC then import without a developer, to the current-integrated capacities within 0.5 %."""
from unittest import mock

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.factories import CellFactory, DeviceFactory, UserFactory
from tests.helpers import ingest, posted_id
from tests.profilefiles import german_export

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refused_site(live_server, project):
    from cells.roles import LAB_ADMIN, ensure_roles

    ensure_roles()  # transactional tests flush the role groups made by migrate
    UserFactory(username="labadmin", roles=[LAB_ADMIN], is_staff=True)
    device = DeviceFactory(name="xt8-pc")
    device.projects.add(project)
    cell = CellFactory(project=project, name="XT8-CELL")
    data, truth = german_export(21, n_cycles=4)
    datafile = ingest(cell, data, "XT8-run-0021.txt")
    assert datafile.status == "failed"
    return {"url": live_server.url, "cell": cell, "device": device, "datafile": datafile, "truth": truth}


def _cell_numbers(page, selector) -> list[float]:
    return [float(t) for t in page.locator(selector).all_text_contents()]


def test_it_maps_an_unknown_layout_once_and_later_files_import(page, refused_site, screenshots):
    from cycling import services
    from cycling.models import CycleSummary, DataFile, FormatProfile

    base, cell, datafile, truth = (refused_site[k] for k in ("url", "cell", "datafile", "truth"))
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "labadmin")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/cells/{cell.pk}/")
    row = page.locator(f"tr.detail[data-for='{datafile.pk}']")
    assert "a lab admin can map this layout once as a format profile" in row.locator(".file-error").text_content()
    page.click(f"#map-layout-{datafile.pk}")
    page.wait_for_url(f"{base}/formats/new/?datafile={datafile.pk}")
    assert page.locator("#mapped-file").text_content() == "XT8-run-0021.txt"
    assert "Zeit/h;Strom/mA;Spannung/V;Zyklus" in page.locator("#file-head").text_content()

    page.fill("input[name=name]", "XT-8 tester")
    page.select_option("select[name=device]", label="xt8-pc")
    page.select_option("select[name=delimiter]", "semicolon")
    page.select_option("select[name=decimal]", ",")
    page.fill("input[name=header_row]", "3")
    for role, column, unit in (("time", "Zeit/h", "h"), ("current", "Strom/mA", "mA"),
                               ("voltage", "Spannung/V", "V"), ("cycle", "Zyklus", None)):
        page.select_option(f"select[name=col_{role}]", column)
        if unit:
            page.select_option(f"select[name=unit_{role}]", unit)
    page.click("#preview-button")
    page.wait_for_selector("#preview-cycles")
    assert not FormatProfile.objects.exists()  # a preview saves nothing
    assert _cell_numbers(page, "#preview-rows tbody tr td:first-child")[:3] == pytest.approx([30.0, 60.0, 90.0],
                                                                                              abs=1e-2)
    np.testing.assert_allclose(_cell_numbers(page, "#preview-cycles td.charge"), truth["charge_mah"], rtol=0.005)
    np.testing.assert_allclose(_cell_numbers(page, "#preview-cycles td.discharge"), truth["discharge_mah"],
                               rtol=0.005)
    page.screenshot(path=str(screenshots / "format-profile-preview.png"), full_page=True)

    # Saving re-reads the file; the worker's ingest is run here (the enqueue is stubbed: no broker in tests).
    with mock.patch.object(services, "datafile_enqueue"):
        page.click("#save-button")
        page.wait_for_url(f"{base}/cells/{cell.pk}/#datafiles")
    profile = FormatProfile.objects.get()
    assert (profile.name, profile.version, profile.device_id) == ("XT-8 tester", 1, refused_site["device"].pk)
    assert services.datafile_ingest(datafile_id=datafile.pk) == "imported"
    page.reload()
    assert page.locator(f"tr[data-id='{datafile.pk}'] .badge").text_content() == "imported"
    assert page.locator(f"article.file-trust[data-id='{datafile.pk}'] dd[data-key=profile]").text_content() == (
        "XT-8 tester, version 1")
    rows = CycleSummary.objects.filter(datafile=datafile).order_by("file_cycle")
    np.testing.assert_allclose([r.charge_mah for r in rows], truth["charge_mah"], rtol=0.005)
    np.testing.assert_allclose([r.discharge_mah for r in rows], truth["discharge_mah"], rtol=0.005)

    # A second run from the same cycler PC, uploaded with its token: read by its profile, no one names it.
    data2, truth2 = german_export(22, n_cycles=3)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {refused_site['device'].key}")
    with mock.patch.object(services, "datafile_enqueue"):
        second_id = posted_id(client, cell, data2, "XT8-run-0022.txt")
    assert services.datafile_ingest(datafile_id=second_id) == "imported"
    second = DataFile.objects.get(pk=second_id)
    assert (second.provenance["profile"], second.provenance["profile_version"]) == ("XT-8 tester", 1)
    rows = CycleSummary.objects.filter(datafile=second).order_by("file_cycle")
    np.testing.assert_allclose([r.charge_mah for r in rows], truth2["charge_mah"], rtol=0.005)
    np.testing.assert_allclose([r.discharge_mah for r in rows], truth2["discharge_mah"], rtol=0.005)
    page.reload()
    assert page.locator(f"tr[data-id='{second_id}'] .badge").text_content() == "imported"
    page.screenshot(path=str(screenshots / "format-profile-imported.png"), full_page=True)
    assert not page.js_errors
