"""A researcher (not staff) registers a cell in chromium and sees its derived values before saving."""
import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def registry_site(live_server):
    from cells.demo import STUDY_PROJECT, load_study_registry
    from cells.models import Project
    from cells.roles import RESEARCHER, ensure_roles

    ensure_roles()  # transactional tests flush the role groups made by migrate
    cells = {c.name: c for c in load_study_registry()}
    user = UserFactory(username="rita", roles=[RESEARCHER])
    assert not user.is_staff
    Project.objects.get(name=STUDY_PROJECT).members.add(user)
    return {"cells": cells, "url": live_server.url}


def login(page, base):
    page.goto(f"{base}/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_it_registers_a_cell_from_the_papers_active_loading(page, registry_site, screenshots):
    from cells.models import AuditEvent, Cell

    base, lnto = registry_site["url"], registry_site["cells"]["LNTO-01"]
    login(page, base)
    page.click("#register-cell")
    page.wait_for_url(f"{base}/cells/new/")
    page.fill("#id_name", "LNTO-07")
    page.select_option("#id_project", str(lnto.project_id))
    page.select_option("#id_group", str(lnto.group_id))
    page.select_option("#id_cathode_material", str(lnto.cathode_material_id))
    page.select_option("#id_coating", str(lnto.coating_id))
    page.select_option("#id_electrolyte", str(lnto.electrolyte_id))
    page.select_option("#id_anode", str(lnto.anode_id))
    page.fill("#id_cathode_active_fraction", "0.70")
    page.fill("#id_active_loading_mg_cm2", "8.4")
    page.fill("#id_area_cm2", "0.785")  # theoretical capacity left empty: SC-NMC532's 160 mAh/g
    page.select_option("#id_pressing-0-layer", "cathode")
    page.fill("#id_pressing-0-force_t", "3.5")
    page.fill("#id_pressing-0-die_diameter_mm", "10")

    expect(page.locator("#derived-one-c")).to_have_text("1.0550", timeout=10_000)
    assert page.text_content("#derived-active-mass") == "6.594"
    assert page.text_content("#derived-areal-capacity") == "1.344"
    assert page.text_content("#derived-one-c") == "1.0550"
    assert page.text_content("#derived-composite-loading") == "12.000"
    assert page.text_content("#derived-theoretical") == "160.0"
    assert page.text_content("output[data-derived='pressure-0']") == "437 MPa"
    assert page.input_value("#id_replicate_number") == "4"  # the group's next replicate
    assert not Cell.objects.filter(name="LNTO-07").exists()  # all of it before saving
    page.screenshot(path=str(screenshots / "register.png"), full_page=True)

    # An implausible value is flagged while typing, then corrected.
    page.fill("#id_composite_loading_mg_cm2", "7")
    page.wait_for_selector("#derived-errors li", timeout=10_000)
    assert "cannot exceed the composite loading" in page.text_content("#derived-errors")
    page.fill("#id_composite_loading_mg_cm2", "")
    expect(page.locator("#derived-errors li")).to_have_count(0, timeout=10_000)

    page.click("#register-submit")
    cell = Cell.objects.get(name="LNTO-07")
    page.wait_for_url(f"{base}/cells/{cell.pk}/")
    assert "LNTO-07 registered." in page.text_content(".messages")
    assert cell.composite_loading_mg_cm2 == pytest.approx(12.0) and cell.one_c_current_ma == pytest.approx(1.05504)
    assert AuditEvent.objects.filter(action="create", object_id=str(cell.pk), user__username="rita").exists()
    assert page.js_errors == []

    # Its replicate: "register like this one" prefills the next name and the whole build sheet.
    page.click("#register-like")
    expect(page.locator("#derived-one-c")).to_have_text("1.0550", timeout=10_000)
    assert page.input_value("#id_name") == "LNTO-08"
    assert page.input_value("#id_composite_loading_mg_cm2") == "12.0"
