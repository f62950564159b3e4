"""The demo shows the board at work: its bare cells die during their run, so the demo board has real alerts."""
import numpy as np
import pytest

from cells.demo import load_study_registry
from cycling.simulate import study_cell
from lab.demo import demo_exports
from monitoring import rules
from monitoring.models import Alert, RunState
from tests.web.helpers import ingest

pytestmark = pytest.mark.django_db


def test_it_gives_the_demo_board_died_bare_cells_and_running_coated_ones(
        settings, tmp_path, eager_celery, django_capture_on_commit_callbacks):
    settings.VAR_DIR = tmp_path  # generate the demo exports afresh, apart from the demo's own cache
    load_study_registry()
    for cell, path in demo_exports(cycles=120):
        with django_capture_on_commit_callbacks(execute=True):
            ingest(cell, path.read_bytes(), path.name)
    rows = {r.cell.name: r for r in RunState.objects.select_related("cell")}
    assert sorted(rows) == ["BARE-01", "BARE-02", "BARE-03", "LNTO-01", "LNTO-02", "LNTO-03"]
    truth = int(np.flatnonzero(study_cell("bare", n_cycles=120, points_per_half_cycle=4)[1]["discharge_mah_g"]
                               < 10.0)[0]) + 1
    died = Alert.objects.get(cell__name="BARE-01", kind=rules.DIED, closed_at=None)
    assert died.cycle == truth and "below 10 mAh/g" in died.message
    for name in ("BARE-01", "BARE-02", "BARE-03"):
        assert rows[name].state == RunState.State.DIED
    for name in ("LNTO-01", "LNTO-02", "LNTO-03"):
        assert rows[name].state == RunState.State.RUNNING and rows[name].latest_cycle == 120
        assert not Alert.objects.filter(cell=rows[name].cell, closed_at=None).exists()
    # The demo runs end an hour before they were generated: running today, not in 2021. (The simulator's
    # naive SysTime ignores daylight saving, so a run crossing the autumn change reads up to an hour older.)
    quiet_h = [(died.opened_at - row.last_record_at).total_seconds() / 3600 for row in rows.values()]
    assert all(0.9 < h < 2.1 for h in quiet_h), quiet_h
