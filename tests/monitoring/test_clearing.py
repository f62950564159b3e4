"""A failed import that is deleted clears its board state and alert at once; `ingest --now` evaluates the alert
rules in its own process: neither waits for a worker."""
import io

import pytest

from cycling import services as cycling_services
from cycling.models import DataFile
from monitoring import rules
from monitoring.models import Alert, RunState
from tests.landfiles import CUT_EXPORT
from tests.monitoring.conftest import ending_at, land_bytes, recent
from tests.web.helpers import ingest as ingest_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_worker(monkeypatch):
    """Queueing an evaluation fails loudly: what passes did its work in process."""
    from monitoring import tasks

    def refuse(*args, **kwargs):
        raise AssertionError("the evaluation was queued to a worker")

    monkeypatch.setattr(tasks.evaluate_cell, "delay", refuse)


def live(cell):
    return {a.kind: a for a in Alert.objects.filter(cell=cell, closed_at=None)}


def test_deleting_a_failed_import_clears_its_state_and_alert_at_once(
        cell, fading_records, eager_celery, django_capture_on_commit_callbacks, monkeypatch):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(1))), "LNTO-01.xlsx")
    with django_capture_on_commit_callbacks(execute=True):
        bad = ingest_bytes(cell, CUT_EXPORT, "LNTO-01_cut.csv")
    assert bad.status == DataFile.Status.FAILED
    alert = live(cell)[rules.IMPORT_FAILED]
    assert RunState.objects.get(cell=cell).state == RunState.State.FAILED
    # Each text names the file once: the stored error, the alert, the board row's error.
    assert bad.error.count("LNTO-01_cut.csv") == 1, bad.error
    assert alert.message.count("LNTO-01_cut.csv") == 1, alert.message
    assert alert.message.startswith("LNTO-01: the import of LNTO-01_cut.csv failed: ")
    assert RunState.objects.get(cell=cell).import_error.count("LNTO-01_cut.csv") == 1

    from monitoring import tasks

    monkeypatch.setattr(tasks.evaluate_cell, "delay", lambda *a, **k: pytest.fail("queued to a worker"))
    with django_capture_on_commit_callbacks(execute=True):
        cycling_services.datafile_delete(datafile=bad, actor=None)
    assert rules.IMPORT_FAILED not in live(cell)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CLEARED and alert.closed_at is not None
    run = RunState.objects.get(cell=cell)
    assert run.state == RunState.State.RUNNING and run.import_error == ""


def test_ingest_now_evaluates_the_rules_without_a_worker(cell, fading_records, tmp_path, no_worker,
                                                         django_capture_on_commit_callbacks):
    from django.core.management import call_command

    path = tmp_path / "LNTO-01_ch1.xlsx"
    path.write_bytes(land_bytes(ending_at(fading_records[0], recent(1))))
    (tmp_path / "LNTO-01_cut.csv").write_bytes(CUT_EXPORT)
    with django_capture_on_commit_callbacks(execute=True):  # the command runs in autocommit; the test in a transaction
        call_command("ingest", str(path), str(tmp_path / "LNTO-01_cut.csv"), "--cell", cell.name, "--now",
                     stdout=io.StringIO())
    run = RunState.objects.get(cell=cell)
    assert run.latest_cycle == 80
    assert rules.IMPORT_FAILED in live(cell)  # the cut export (newest) failed: the board says so already
