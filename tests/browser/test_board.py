"""The board in chromium: it renders the running cell, an alert appears after an upload without a page reload,
and acknowledging it from the board works; screenshots for a human look."""
import pytest
import requests

from tests.factories import CellFactory, DeviceFactory, ProjectFactory, UserFactory
from tests.monitoring.conftest import eager_celery, ending_at, land_bytes, recent  # noqa: F401 (fixture)
from tests.monitoring.runs import fading_run
from tests.web.helpers import ingest as ingest_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(live_server):
    from cells.roles import RESEARCHER, ensure_roles

    ensure_roles()  # transactional tests flush the role groups made by migrate
    project = ProjectFactory(name="LNTO coating study")
    user = UserFactory(username="alice", roles=[RESEARCHER])
    project.members.add(user)
    cell = CellFactory(project=project, name="LNTO-07")
    device = DeviceFactory(name="cycler-pc-7")
    device.projects.add(project)
    records, _ = fading_run(80)
    full = ending_at(records, recent(1))  # the whole run's last record: an hour ago
    in_run = full["cycle"] <= 50  # the first export stopped ~6 days earlier: the run went stale
    return {"url": live_server.url, "cell": cell, "device": device, "early": full[in_run], "full": full}


def login(page, base):
    page.goto(f"{base}/accounts/login/?next=/board/%3Frefresh%3D1")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/board/?refresh=1")


@pytest.mark.usefixtures("eager_celery")
def test_it_shows_an_alert_after_an_upload_without_a_reload_and_acknowledges_it(page, lab, screenshots):
    ingest_bytes(lab["cell"], land_bytes(lab["early"]), "LNTO-07_day1.xlsx")  # cycles 1-50, then silence
    base = lab["url"]
    login(page, base)
    page.wait_for_selector("body[data-board-ready='1']", timeout=20_000)
    row = page.locator("table.board tbody tr[data-cell='LNTO-07']")
    assert row.locator("td[data-key=latest_cycle]").text_content() == "50"
    assert row.locator("td[data-key=state] .badge").text_content() == "Stale"
    assert row.locator("li[data-kind=no_new_data]").count() == 1
    assert row.locator("li[data-kind=retention_below]").count() == 0
    assert row.locator("svg.spark polyline").count() == 1
    page.evaluate("() => { window.__sameDocument = true; }")
    page.screenshot(path=str(screenshots / "board-running.png"), full_page=True)

    # The cycler PC uploads the grown export through the API; the (eager) worker imports and evaluates it.
    answer = requests.post(f"{base}/api/v1/datafiles/", headers={"Authorization": f"Token {lab['device'].key}"},
                           data={"cell": "LNTO-07", "kind": "cycling"},
                           files={"file": ("LNTO-07_day4.xlsx", land_bytes(lab["full"]))}, timeout=120)
    assert answer.status_code == 202, answer.text

    alert = row.locator("li[data-kind=retention_below]")
    alert.wait_for(timeout=20_000)
    assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    assert row.locator("td[data-key=latest_cycle]").text_content() == "80"
    assert row.locator("td[data-key=state] .badge").text_content() == "Running"
    assert row.locator("li[data-kind=no_new_data]").count() == 0  # data came back: the stale alert cleared
    assert "(1.0 h ago)" in row.locator("td[data-key=last_data]").text_content()
    assert alert.locator("a").text_content() == "Retention below 80 % of the reference cycle · cycle 62"
    assert alert.locator("a").get_attribute("href").endswith("?cycle=62#cycle-62")
    assert "79.8 %" in alert.locator("a").get_attribute("title")
    page.screenshot(path=str(screenshots / "board-alert.png"), full_page=True)

    # One menu per incident (acknowledge / mute / resolve), opened from its summary.
    alert.locator("details.alert-menu > summary").click()
    alert.locator("button[data-alert-action=acknowledge]").click()
    page.wait_for_selector("li[data-kind=retention_below][data-status=acknowledged]", timeout=10_000)
    from monitoring.models import Alert

    assert Alert.objects.get(cell=lab["cell"], kind="retention_below").acknowledged_by.username == "alice"
    page.screenshot(path=str(screenshots / "board-acknowledged.png"), full_page=True)

    # Lab time, 24-hour, zone named: never the browser's "9:45:15 PM".
    import re

    updated = page.locator("#board-updated").text_content()
    assert re.match(r"Updated \d{2}:\d{2}:\d{2} \S+ · 1 cell$", updated), updated
    assert "AM" not in updated and "PM" not in updated

    # The test ended: mark it finished from the board, after a confirmation; then undo and finish again.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    row.locator("button[data-finish-cell]").click()
    page.wait_for_selector("tr[data-cell='LNTO-07'][data-state=finished]", timeout=10_000)
    assert len(dialogs) == 1 and "Mark the run of LNTO-07 finished?" in dialogs[0]
    assert row.locator("button[data-finish-cell]").count() == 0
    page.click("#board-undo button[data-unfinish-cell]")
    page.wait_for_selector("tr[data-cell='LNTO-07'][data-state=running]", timeout=10_000)
    row.locator("button[data-finish-cell]").click()
    page.wait_for_selector("tr[data-cell='LNTO-07'][data-state=finished]", timeout=10_000)

    page.click("nav >> text=Alerts")
    page.wait_for_selector("table.alerts tbody tr[data-alert]")
    assert "retention fell below 80 % at cycle 62" in page.locator("table.alerts").text_content()
    page.screenshot(path=str(screenshots / "alert-inbox.png"), full_page=True)
    assert page.js_errors == []


def test_the_inbox_acts_on_each_alert_through_the_boards_menu(page, lab, screenshots):
    from monitoring.models import Alert

    for kind, cycle in (("retention_below", 62), ("low_ce", 40)):
        Alert.objects.create(cell=lab["cell"], kind=kind, cycle=cycle, title=f"{kind} title",
                             message=f"LNTO-07: {kind} at cycle {cycle}")
    base = lab["url"]
    page.goto(f"{base}/accounts/login/?next=/alerts/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/alerts/")
    rows = page.locator("table.alerts tbody tr[data-alert]")
    assert rows.count() == 2
    for i in range(2):  # one closed menu per alert, not three buttons
        assert rows.nth(i).locator("details.alert-menu").count() == 1
        assert rows.nth(i).locator("button[data-alert-action]:visible").count() == 0
    retention = page.locator("table.alerts tbody tr[data-alert]", has_text="retention_below title")
    retention.locator("details.alert-menu > summary").click()
    menu = retention.locator(".alert-actions button")
    page.screenshot(path=str(screenshots / "alert-inbox-menu.png"), full_page=True)
    assert menu.all_text_contents() == ["Acknowledge", "Mute 24 h", "Resolve"]
    menu.filter(has_text="Acknowledge").click()
    page.wait_for_selector("tr.alert-acknowledged", timeout=10_000)  # the inbox reloads with the new status
    alert = Alert.objects.get(cell=lab["cell"], kind="retention_below")
    assert alert.status == Alert.Status.ACKNOWLEDGED and alert.acknowledged_by.username == "alice"
    assert Alert.objects.get(cell=lab["cell"], kind="low_ce").status == Alert.Status.OPEN
    acknowledged = page.locator("tr.alert-acknowledged")
    acknowledged.locator("details.alert-menu > summary").click()  # no "Acknowledge" once acknowledged
    assert acknowledged.locator(".alert-actions button").all_text_contents() == ["Mute 24 h", "Resolve"]
    assert page.js_errors == []
