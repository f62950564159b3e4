"""Alerts through the real ingest: the hook evaluates after every import, alerts appear once and clear."""
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from cells.models import AuditEvent
from cycling import services as ingest
from cycling.models import DataFile
from monitoring import rules, services
from monitoring.models import Alert, AlertRule, RunState
from monitoring.tasks import evaluate_and_notify
from tests.monitoring.conftest import ending_at, land_bytes, recent
from tests.web.helpers import ingest as ingest_bytes

pytestmark = pytest.mark.django_db


def live(cell):
    return {a.kind: a for a in Alert.objects.filter(cell=cell, closed_at=None)}


def test_it_raises_the_bare_cells_death_once_across_a_growing_export(
        bare_cell, bare_records, eager_celery, django_capture_on_commit_callbacks):
    records, info = bare_records
    died_at = int(np.flatnonzero(info["discharge_mah_g"] < 10.0)[0]) + 1
    records = ending_at(records, recent(1))
    early = records[records["cycle"] <= died_at - 5]
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest_bytes(bare_cell, land_bytes(early), "BARE-01_day1.xlsx")
    assert first.status == DataFile.Status.IMPORTED
    assert rules.DIED not in live(bare_cell)
    run = RunState.objects.get(cell=bare_cell)
    assert run.latest_cycle == died_at - 5 and run.state == RunState.State.RUNNING

    with django_capture_on_commit_callbacks(execute=True):
        second = ingest_bytes(bare_cell, land_bytes(records), "BARE-01_day9.xlsx")
    assert DataFile.objects.get(pk=first.pk).superseded_by_id == second.pk
    alerts = live(bare_cell)
    assert alerts[rules.DIED].cycle == died_at
    assert f"cycle {died_at}" in alerts[rules.DIED].message and alerts[rules.DIED].message.startswith("BARE-01: ")
    assert alerts[rules.DIED].get_absolute_url() == f"/cells/{bare_cell.pk}/?cycle={died_at}#cycle-{died_at}"
    run.refresh_from_db()
    assert run.state == RunState.State.DIED and run.latest_cycle == 200
    assert run.latest_capacity == pytest.approx(0.5, abs=0.01)

    # A reprocess (e.g. a mass correction) re-evaluates: the same alerts, no duplicates.
    before = Alert.objects.filter(cell=bare_cell).count()
    with django_capture_on_commit_callbacks(execute=True):
        ingest.datafile_reprocess(datafile=second)
    assert Alert.objects.filter(cell=bare_cell).count() == before
    assert Alert.objects.filter(cell=bare_cell, kind=rules.DIED).count() == 1


def test_it_names_retention_against_the_reference_cycle_and_clears_nothing_on_the_same_data(
        cell, fading_records, eager_celery, django_capture_on_commit_callbacks):
    records, _ = fading_records
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(records, recent(2))), "LNTO-01.xlsx")
    alert = live(cell)[rules.RETENTION]
    assert alert.cycle == 62 and alert.values["reference_cycle"] == 3
    run = RunState.objects.get(cell=cell)
    assert run.reference_cycle == 3
    assert run.retention_percent == pytest.approx((140 - 0.48 * 77) / 140 * 100, abs=0.05)
    assert run.latest_ce_percent == pytest.approx(99.5, abs=0.05)
    assert len(run.sparkline) == 40 and run.sparkline[-1][0] == 80
    services.cell_evaluate(cell_id=cell.pk)
    services.cell_evaluate(cell_id=cell.pk)
    assert Alert.objects.filter(cell=cell).count() == len(live(cell))  # nothing closed, nothing doubled


def test_it_goes_stale_when_the_run_stops_sending_and_clears_when_data_returns(
        cell, fading_records, eager_celery, django_capture_on_commit_callbacks):
    records, _ = fading_records
    in_run = records["cycle"] <= 40
    tail = (records["sys_time"].max() - records.loc[in_run, "sys_time"].max()).to_pytimedelta()
    full = ending_at(records, recent(2) + tail)  # one run: its first 40 cycles end 2 h ago
    early = full[in_run]
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest_bytes(cell, land_bytes(early), "run_a.xlsx")
    assert rules.STALE not in live(cell)
    # The beat's pass 13 h later: no new record for longer than the 12 h limit.
    later = timezone.now() + timedelta(hours=11)
    assert services.cells_due(now=later) == [cell.pk]
    evaluate_and_notify(cell.pk, now=later)
    stale = live(cell)[rules.STALE]
    assert stale.cycle == 40 and stale.values["hours_since_last_record"] == pytest.approx(13.0, abs=0.1)
    assert services.cells_due(now=later) == []  # already flagged: not evaluated again and again
    row = RunState.objects.get(cell=cell)
    assert row.stale_at == row.last_record_at + timedelta(hours=12)

    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(full), "run_b.xlsx")
    assert DataFile.objects.get(pk=first.pk).status == DataFile.Status.IMPORTED
    assert rules.STALE not in live(cell)
    assert Alert.objects.get(cell=cell, kind=rules.STALE).status == Alert.Status.CLEARED


def test_it_raises_import_failed_and_clears_it_with_the_next_good_file(
        cell, fading_records, eager_celery, django_capture_on_commit_callbacks):
    from tests.landfiles import NOT_A_CYCLER

    with django_capture_on_commit_callbacks(execute=True):
        bad = ingest_bytes(cell, NOT_A_CYCLER, "room_logger.csv")
    assert bad.status == DataFile.Status.FAILED
    alert = live(cell)[rules.IMPORT_FAILED]
    assert "room_logger.csv" in alert.message
    assert RunState.objects.get(cell=cell).state == RunState.State.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(1))), "LNTO-01.xlsx")
    assert rules.IMPORT_FAILED not in live(cell)
    assert RunState.objects.get(cell=cell).state == RunState.State.RUNNING


def test_it_uses_the_most_specific_rule(cell, fading_records, eager_celery, django_capture_on_commit_callbacks):
    AlertRule.objects.create(kind=rules.RETENTION, threshold=70.0, group=cell.group)
    AlertRule.objects.create(kind=rules.RETENTION, threshold=90.0, project=cell.project)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(1))), "LNTO-01.xlsx")
    # The group's 70 % wins over the project's 90 %: 140 - 0.48 k < 98 first at k = 88 -> beyond cycle 80.
    assert rules.RETENTION not in live(cell)
    AlertRule.objects.create(kind=rules.RETENTION, threshold=85.0, cell=cell)
    services.cell_evaluate(cell_id=cell.pk)
    # 140 - 0.48 k < 119 first at k = 44: cycle 47 (cycle 3 is k = 0).
    assert live(cell)[rules.RETENTION].cycle == 47
    AlertRule.objects.filter(cell=cell).update(enabled=False)
    services.cell_evaluate(cell_id=cell.pk)
    assert rules.RETENTION not in live(cell)


def test_it_acknowledges_mutes_and_resolves_with_an_audit_trail(
        cell, researcher, fading_records, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(1))), "LNTO-01.xlsx")
    alert = live(cell)[rules.RETENTION]
    services.alert_acknowledge(alert=alert, actor=researcher)
    services.alert_mute(alert=alert, actor=researcher, hours=2)
    assert alert.is_muted() and alert.status == Alert.Status.ACKNOWLEDGED
    services.alert_resolve(alert=alert, actor=researcher, note="cell taken off the cycler")
    actions = list(AuditEvent.objects.filter(object_type="monitoring.alert", object_id=str(alert.pk))
                   .order_by("at").values_list("action", "user__username"))
    assert actions == [("acknowledge", "researcher"), ("mute", "researcher"), ("resolve", "researcher")]
    # The same condition (same first cycle) is not raised again after a resolve.
    services.cell_evaluate(cell_id=cell.pk)
    assert rules.RETENTION not in live(cell)
    assert Alert.objects.filter(cell=cell, kind=rules.RETENTION).count() == 1
    with pytest.raises(ValueError, match="at most 2160 hours"):
        services.alert_mute(alert=alert, actor=researcher, hours=10_000)


def test_it_follows_the_cell_timeline_across_a_resumed_test(
        bare_cell, bare_records, eager_celery, django_capture_on_commit_callbacks):
    """A bare run stopped at cycle 100 and resumed: the second export counts from 1 again, the board and the
    death alert count in cell cycles."""
    records, info = bare_records
    died_at = int(np.flatnonzero(info["discharge_mah_g"] < 10.0)[0]) + 1
    assert died_at > 100
    records = ending_at(records, recent(1))
    first = records[records["cycle"] <= 100].copy()
    second = records[records["cycle"] > 100].copy()
    second["cycle"] -= 100
    second["record"] = np.arange(1, len(second) + 1)
    second["test_time_s"] -= second["test_time_s"].iloc[0]
    second["step"] -= second["step"].iloc[0] - 1
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bytes(bare_cell, land_bytes(first.reset_index(drop=True)), "BARE-01_part1.xlsx")
        ingest_bytes(bare_cell, land_bytes(second.reset_index(drop=True)), "BARE-01_part2.xlsx")
    run = RunState.objects.get(cell=bare_cell)
    assert run.latest_cycle == 200
    assert live(bare_cell)[rules.DIED].cycle == died_at
