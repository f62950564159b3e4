"""Board and alert API: rows and numbers, sorting and filters, access by project, devices kept out, queries pinned."""
from datetime import timedelta

import pytest
from django.utils import timezone

from cells.models import AuditEvent
from cells.roles import VIEWER
from monitoring import rules
from monitoring.models import Alert, AlertRule, RunState
from tests.conftest import client_for
from tests.factories import CellFactory, GroupFactory, ProjectFactory, UserFactory
from tests.monitoring.conftest import ending_at, land_bytes, recent
from tests.web.helpers import ingest as ingest_bytes

pytestmark = pytest.mark.django_db


def board_row(cell, **kw):
    """A board row as the evaluation would leave it (for access, sorting and query-count tests)."""
    now = timezone.now()
    base = dict(cell=cell, latest_cycle=100, latest_capacity=120.0, capacity_unit="mAh/g", retention_percent=86.0,
                reference_cycle=3, latest_ce_percent=99.6, last_record_at=now - timedelta(hours=1),
                stale_at=now + timedelta(hours=11), sparkline=[[1, 161.4], [100, 120.0]])
    base.update(kw)
    if "datafile" not in kw:
        from cycling.models import DataFile

        base["datafile"] = DataFile.objects.create(
            cell=cell, original_name=f"{cell.name}.xlsx", size_bytes=1, sha256=f"{cell.pk:064d}",
            file=f"datafiles/{cell.pk}.bin", status=DataFile.Status.IMPORTED)
    return RunState.objects.create(**base)


def alert_for(cell, kind=rules.RETENTION, cycle=62):
    return Alert.objects.create(cell=cell, kind=kind, cycle=cycle, message=f"{cell.name}: retention fell below 80 %")


@pytest.fixture
def two_projects(project, viewer):
    mine = CellFactory(project=project, name="LNTO-01")
    other_project = ProjectFactory(name="Other project")
    theirs = CellFactory(project=other_project, name="SECRET-01", group=GroupFactory(project=other_project))
    for cell in (mine, theirs):
        board_row(cell)
        alert_for(cell)
    return mine, theirs


def test_it_shows_a_viewer_only_rows_and_alerts_of_their_projects(viewer, two_projects):
    mine, theirs = two_projects
    client = client_for(viewer)
    board = client.get("/api/v1/board/")
    assert board.status_code == 200
    assert [r["cell_name"] for r in board.json()] == ["LNTO-01"]
    alerts = client.get("/api/v1/alerts/").json()["results"]
    assert [a["cell_name"] for a in alerts] == ["LNTO-01"]
    theirs_alert = Alert.objects.get(cell=theirs)
    assert client.get(f"/api/v1/alerts/{theirs_alert.pk}/").status_code == 404
    assert client.get("/board/").status_code == 302  # pages need a session login (force_authenticate is API only)


def test_it_keeps_device_tokens_away_from_alerts_and_the_board(device_api, two_projects):
    assert device_api.get("/api/v1/alerts/").status_code == 403
    assert device_api.get("/api/v1/board/").status_code == 403
    alert = Alert.objects.get(cell=two_projects[0])
    assert device_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403


def test_it_lets_researchers_act_on_alerts_but_not_viewers(viewer, researcher, two_projects):
    alert = Alert.objects.get(cell=two_projects[0])
    assert client_for(viewer).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    client = client_for(researcher)
    answer = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert answer.status_code == 200 and answer.json()["status"] == "acknowledged"
    assert answer.json()["acknowledged_by"] == "researcher"
    muted = client.post(f"/api/v1/alerts/{alert.pk}/mute/", {"hours": 4}, format="json").json()
    assert muted["muted"] is True
    assert client.post(f"/api/v1/alerts/{alert.pk}/mute/", {"hours": 0}, format="json").status_code == 400
    resolved = client.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "replaced the cell"}, format="json")
    assert resolved.json()["status"] == "resolved" and resolved.json()["closed_at"]
    assert list(AuditEvent.objects.filter(object_type="monitoring.alert").order_by("at")
                .values_list("action", flat=True)) == ["acknowledge", "mute", "resolve"]


def test_it_serves_a_real_run_with_its_numbers(api, cell, fading_records, eager_celery,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(3))), "LNTO-01.xlsx")
    (row,) = api.get("/api/v1/board/").json()
    assert row["cell_name"] == "LNTO-01" and row["state"] == "running" and row["state_label"] == "Running"
    assert row["latest_cycle"] == 80 and row["reference_cycle"] == 3 and row["capacity_unit"] == "mAh/g"
    assert row["latest_capacity"] == pytest.approx(140 - 0.48 * 77, abs=0.05)
    assert row["retention_percent"] == pytest.approx((140 - 0.48 * 77) / 140 * 100, abs=0.05)
    assert row["latest_ce_percent"] == pytest.approx(99.5, abs=0.05)
    assert row["hours_since_last_record"] == pytest.approx(3.0, abs=0.05)
    assert row["open_alerts"] == 1 and row["alerts"][0]["kind"] == rules.RETENTION
    assert row["alerts"][0]["cycle"] == 62 and row["alerts"][0]["url"].endswith("?cycle=62#cycle-62")
    assert row["run_started_lab_time"] and row["last_record_lab_time"]


def test_it_turns_a_quiet_run_stale_as_time_passes(api, cell):
    board_row(cell, last_record_at=timezone.now() - timedelta(hours=13), stale_at=timezone.now() - timedelta(hours=1))
    assert api.get("/api/v1/board/").json()[0]["state"] == "stale"
    assert [r["cell_name"] for r in api.get("/api/v1/board/?state=stale").json()] == ["LNTO-01"]
    assert api.get("/api/v1/board/?state=running").json() == []


def test_it_sorts_and_filters(api, project, device):
    group_b = GroupFactory(project=project, name="LNTO-coated")
    for name, retention, group in (("A-1", 90.0, None), ("B-2", 70.0, group_b), ("C-3", 80.0, None)):
        cell = CellFactory(project=project, name=name, **({"group": group} if group else {}))
        board_row(cell, retention_percent=retention, device=device if name == "C-3" else None)
    names = [r["cell_name"] for r in api.get("/api/v1/board/?ordering=retention_percent").json()]
    assert names == ["B-2", "C-3", "A-1"]
    assert [r["cell_name"] for r in api.get("/api/v1/board/?ordering=-cell__name").json()] == ["C-3", "B-2", "A-1"]
    assert [r["cell_name"] for r in api.get("/api/v1/board/?group=LNTO-coated").json()] == ["B-2"]
    assert [r["cell_name"] for r in api.get(f"/api/v1/board/?device={device.name}").json()] == ["C-3"]
    assert [r["cell_name"] for r in api.get(f"/api/v1/board/?project={project.pk}&q=a-").json()] == ["A-1"]


def test_it_answers_the_board_in_a_fixed_number_of_queries(api, project, django_assert_max_num_queries):
    def cells(n, start):
        for i in range(n):
            cell = CellFactory(project=project, name=f"Q-{start + i:03d}")
            board_row(cell)
            alert_for(cell)
    cells(3, 0)
    with django_assert_max_num_queries(6) as few:
        assert len(api.get("/api/v1/board/").json()) == 3
    cells(30, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/v1/board/").json()) == 33


def test_it_lets_lab_admins_edit_rules_and_refuses_two_scopes(lab_admin, researcher, cell):
    admin_api = client_for(lab_admin)
    rules_now = admin_api.get("/api/v1/alert-rules/?kind=retention_below").json()["results"]
    assert [(r["threshold"], r["scope"], r["unit"]) for r in rules_now] == [(80.0, "whole lab", "%")]
    made = admin_api.post("/api/v1/alert-rules/", {"kind": rules.RETENTION, "threshold": 70, "group": cell.group_id},
                          format="json")
    assert made.status_code == 201 and made.json()["scope"] == f"group {cell.group}"
    both = admin_api.post("/api/v1/alert-rules/", {"kind": rules.DIED, "threshold": 5, "group": cell.group_id,
                                                   "cell": cell.pk}, format="json")
    assert both.status_code == 400 and "one scope" in str(both.json())
    assert client_for(researcher).post("/api/v1/alert-rules/", {"kind": rules.DIED, "threshold": 5},
                                       format="json").status_code == 403
    assert AlertRule.objects.get(kind=rules.RETENTION, group=cell.group).threshold == 70.0


def test_it_keeps_subscriptions_personal(viewer, researcher, project):
    viewer.email = "viewer@lab.example"  # e-mail subscriptions need an address (test_settings_page)
    viewer.save(update_fields=["email"])
    mine = client_for(viewer).post("/api/v1/alert-subscriptions/", {"project": project.pk, "email": True,
                                                                    "kinds": [rules.DIED]}, format="json")
    assert mine.status_code == 201
    assert client_for(researcher).get("/api/v1/alert-subscriptions/").json()["results"] == []
    bad = client_for(viewer).post("/api/v1/alert-subscriptions/", {"project": project.pk, "kinds": ["nonsense"]},
                                  format="json")
    assert bad.status_code == 400
    stranger = UserFactory(username="stranger", roles=[VIEWER])
    refused = client_for(stranger).post("/api/v1/alert-subscriptions/", {"project": project.pk}, format="json")
    assert refused.status_code == 400 and "not a member" in str(refused.json())


def test_it_documents_the_board_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/board/" in schema["paths"] and "/api/v1/alerts/{id}/acknowledge/" in schema["paths"]


def test_it_renders_the_board_and_the_inbox_with_a_badge_for_a_viewer(client, viewer, two_projects):
    client.force_login(viewer)
    page = client.get("/board/").content.decode()
    assert 'id="board" data-api="/api/v1/board/"' in page and 'href="/board/"' in page
    assert 'id="alert-badge"' in page and ">1</span>" in page  # one open alert of project A, none of B
    inbox = client.get("/alerts/").content.decode()
    assert "LNTO-01" in inbox and "SECRET-01" not in inbox
    assert "Acknowledge" not in inbox  # viewers read; researchers act
    Alert.objects.filter(cell=two_projects[0]).update(status=Alert.Status.ACKNOWLEDGED)
    assert 'id="alert-badge"' not in client.get("/board/").content.decode()


def test_it_marks_a_quiet_run_finished_and_drops_old_finished_runs(api, viewer, cell, project, settings):
    board_row(cell, datafile=None, last_record_at=timezone.now() - timedelta(hours=20),
              stale_at=timezone.now() - timedelta(hours=8))
    assert api.get("/api/v1/board/").json() == []  # no cycling file: not a run on the board
    from cycling.models import DataFile

    datafile = DataFile.objects.create(cell=cell, original_name="x.xlsx", size_bytes=1, sha256="0" * 64,
                                       file="datafiles/x.bin", status=DataFile.Status.IMPORTED)
    RunState.objects.filter(cell=cell).update(datafile=datafile)
    assert api.get("/api/v1/board/").json()[0]["state"] == "stale"
    assert client_for(viewer).post(f"/api/v1/board/{cell.pk}/finish/").status_code == 403
    done = api.post(f"/api/v1/board/{cell.pk}/finish/")
    assert done.status_code == 200 and done.json()["state"] == "finished", done.json()
    assert AuditEvent.objects.filter(action="finish_run", object_id=str(cell.pk)).exists()
    RunState.objects.filter(cell=cell).update(finished_at=timezone.now() - timedelta(days=15))
    assert api.get("/api/v1/board/").json() == []  # finished more than 14 days ago
