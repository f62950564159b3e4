"""The pure rule engine on generated runs with known truth: right cycle, exactly once, and it clears."""
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cycling.simulate import study_cell
from monitoring import rules
from tests.monitoring.runs import FADE_PER_CYCLE_MAH_G as FADE
from tests.monitoring.runs import bare_run, fading_run, per_cycle

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULTS = {kind: default for kind, (_label, _unit, default) in rules.RULE_KINDS.items()}


def facts(frame, **kw):
    base = dict(now=NOW, formation_cycles=int((frame["segment"] == "formation").sum()), reference_cycle=3,
                voltage_window_v=(1.88, 3.78))
    base.update(kw)
    return rules.CellFacts(**base)


def growing(frame, **kw):
    """Evaluate every prefix of the run, as successive exports of a growing file would: {last cycle: conditions}."""
    return {int(n): {c.kind: c for c in rules.evaluate(frame[frame["cycle"] <= n], facts(frame, **kw), DEFAULTS)}
            for n in frame["cycle"]}


@pytest.fixture(scope="module")
def fading():
    return per_cycle(fading_run(80)[0])


def test_it_imports_without_django():
    code = "import sys, monitoring.rules; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_it_raises_retention_at_the_cycle_the_fade_crosses_80_percent_once(fading):
    seen = growing(fading)
    # 140 - 0.48 k < 112 (80 % of cycle 3) first at k = 59: cycle 62 (111.68 mAh/g = 79.77 %).
    assert all(rules.RETENTION not in seen[n] for n in range(1, 62))
    hits = {seen[n][rules.RETENTION].cycle for n in range(62, 81)}
    assert hits == {62}  # the same condition at every later export: one alert, not nineteen
    last = seen[80][rules.RETENTION]
    assert last.values["retention_percent"] == pytest.approx(111.68 / 140 * 100, abs=0.01)
    assert last.values["reference_cycle"] == 3 and last.values["reference_capacity"] == pytest.approx(140.0, abs=0.01)
    assert last.values["latest_retention_percent"] == pytest.approx((140 - FADE * 77) / 140 * 100, abs=0.01)
    assert "cycle 62" in last.message and "79.8 %" in last.message


def test_it_does_not_count_formation_or_the_switch_to_c3_as_a_drop_or_low_ce(fading):
    seen = growing(fading)
    # Cycle 1's CE is 85.8 % (formation) and 159.6 -> 140 mAh/g is the 0.1C -> C/3 switch (-12 %).
    assert all(rules.LOW_CE not in seen[n] and rules.DROP not in seen[n] for n in seen)


def test_it_flags_a_ce_dip_at_its_first_cycle_and_clears_after_it():
    frame = per_cycle(fading_run(50, ce_dip=(40, 41, 42))[0])
    seen = growing(frame)
    assert all(rules.LOW_CE not in seen[n] for n in range(1, 40))
    assert {seen[n][rules.LOW_CE].cycle for n in (40, 41, 42)} == {40}
    assert seen[41][rules.LOW_CE].values["ce_percent"] == pytest.approx(90.0, abs=0.01)
    assert all(rules.LOW_CE not in seen[n] for n in range(43, 51))  # CE back at 99.5 %: cleared


def test_it_flags_a_sudden_drop_between_like_cycles():
    frame = per_cycle(fading_run(50, drop_at=30, drop_percent=12.0)[0])
    seen = growing(frame)
    assert all(rules.DROP not in seen[n] for n in range(1, 30))
    drop = seen[50][rules.DROP]
    assert drop.cycle == 30 and drop.values["from_cycle"] == 29
    # (140 - 0.48*26) -> (140 - 0.48*27) * 0.88: 12.3 % lower.
    before, after = 140 - FADE * 26, (140 - FADE * 27) * 0.88
    expected = (before - after) / before * 100
    assert drop.values["drop_percent"] == pytest.approx(expected, abs=0.05)
    assert drop.values["c_rate_label"] == "C/3"


def test_it_does_not_call_a_rate_test_a_drop():
    records, _ = study_cell("coated", n_cycles=40, rate_test=True, points_per_half_cycle=12, cv_points=3,
                            rest_points=2)
    frame = per_cycle(records)
    assert set(frame["segment"]) >= {"rate-test", "long-term"}
    seen = growing(frame, reference_cycle=int(frame.loc[frame["segment"] == "long-term", "cycle"].iloc[0]))
    assert all(rules.DROP not in seen[n] for n in seen)  # 159 -> 105 mAh/g at 1C is a protocol, not a fade
    assert all(rules.DIED not in seen[n] for n in seen)


def test_it_says_the_bare_cell_died_where_its_capacity_fell_below_10_mah_g():
    records, info = bare_run(200)
    frame = per_cycle(records)
    truth = int(np.flatnonzero(info["discharge_mah_g"] < 10.0)[0]) + 1
    assert 100 < truth < 200
    seen = growing(frame)
    assert all(rules.DIED not in seen[n] for n in range(1, truth))
    assert {seen[n][rules.DIED].cycle for n in range(truth, 201)} == {truth}
    assert seen[200][rules.DIED].values["latest_capacity_mah_g"] == pytest.approx(0.5, abs=0.01)
    # Its first C/3 cycles run at 94 % CE (study simulator): low CE from cycle 3, gone by cycle 6.
    assert seen[3][rules.LOW_CE].cycle == 3 and rules.LOW_CE not in seen[6]


def test_it_goes_stale_after_n_hours_without_data_unless_finished(fading):
    quiet = facts(fading, last_record_at=NOW - timedelta(hours=13))
    found = {c.kind: c for c in rules.evaluate(fading, quiet, {rules.STALE: 12.0})}
    assert found[rules.STALE].values["hours_since_last_record"] == pytest.approx(13.0)
    assert found[rules.STALE].cycle == 80
    assert rules.evaluate(fading, facts(fading, last_record_at=NOW - timedelta(hours=11)), {rules.STALE: 12.0}) == []
    assert rules.evaluate(fading, facts(fading, last_record_at=NOW - timedelta(hours=13), finished=True),
                          {rules.STALE: 12.0}) == []


def test_it_flags_voltage_outside_the_registered_window():
    frame = per_cycle(fading_run(10, v_max=3.90)[0])
    found = {c.kind: c for c in rules.evaluate(frame, facts(frame), {rules.VOLTAGE: 0.05})}
    assert found[rules.VOLTAGE].cycle == 1
    assert found[rules.VOLTAGE].values["max_voltage_v"] == pytest.approx(3.90, abs=0.005)
    ok = per_cycle(fading_run(10)[0])
    assert rules.evaluate(ok, facts(ok), {rules.VOLTAGE: 0.05}) == []


def test_it_flags_r_int_above_the_limit_and_growing_too_fast():
    # The study's bare cell: 1400 ohm after formation; +45 % per 100 cycles (the demo's illustrative growth).
    rint = pd.DataFrame({"cycle": [2, 100, 200], "r_int_ohm": [1400.0, 1400 * 1.441, 1400 * 1.891]})
    found = {c.kind: c for c in rules.evaluate(pd.DataFrame(columns=["cycle", "segment"]),
                                               rules.CellFacts(now=NOW, rint=rint), DEFAULTS)}
    assert found[rules.RINT_LIMIT].cycle == 2
    assert found[rules.RINT_GROWTH].values["rate_percent_per_100_cycles"] == pytest.approx(45.0, abs=0.1)
    coated = pd.DataFrame({"cycle": [2, 100, 200], "r_int_ohm": [248.0, 267.4, 287.7]})
    assert rules.evaluate(pd.DataFrame(columns=["cycle", "segment"]), rules.CellFacts(now=NOW, rint=coated),
                          DEFAULTS) == []


def test_it_reports_a_failed_import_by_name_and_reason(fading):
    found = rules.evaluate(fading, facts(fading, failed_import="LNTO-01.xlsx failed: sheet 'record' row 7"),
                           {rules.IMPORT_FAILED: None})
    assert [c.kind for c in found] == [rules.IMPORT_FAILED]
    assert "LNTO-01.xlsx" in found[0].message and "row 7" in found[0].message


def test_it_refuses_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        rules.CellFacts(now=datetime(2026, 1, 1))


def _cycles(capacity, ce=99.5):
    n = len(capacity)
    return pd.DataFrame({"cycle": np.arange(1, n + 1), "capacity_mah_g": capacity, "capacity_mah": np.nan,
                         "ce_percent": ce, "c_rate_label": "C/3", "segment": "long-term", "is_partial": False})


def test_it_compares_retention_on_the_rounding_it_shows():
    # 79.96 % reads "80.0 %": not below 80 %; 79.94 % reads "79.9 %": below.
    kept = rules.evaluate(_cycles([100.0, 90.0, 79.96]), facts(_cycles([0]), reference_cycle=1, formation_cycles=0),
                          {rules.RETENTION: 80.0})
    assert kept == []
    [fell] = rules.evaluate(_cycles([100.0, 90.0, 79.94]), facts(_cycles([0]), reference_cycle=1, formation_cycles=0),
                            {rules.RETENTION: 80.0})
    assert fell.cycle == 3 and "is 79.9 % of reference cycle 1" in fell.message


def test_it_compares_a_drop_on_the_rounding_it_shows():
    # 100 -> 94.96 is a 5.04 % drop, shown "5.0 %": not above the 5 % limit.
    limit = {rules.DROP: 5.0}
    ok = rules.evaluate(_cycles([100.0, 100.0, 94.96]), facts(_cycles([0]), formation_cycles=0), limit)
    assert ok == []
    [drop] = rules.evaluate(_cycles([100.0, 100.0, 94.9]), facts(_cycles([0]), formation_cycles=0), limit)
    assert "dropped 5.1 %" in drop.message


def test_it_folds_a_dead_cells_follow_on_conditions_into_its_death():
    records, _ = bare_run(200)
    frame = per_cycle(records)
    rint = pd.DataFrame({"cycle": [2, 100, 200], "r_int_ohm": [400.0, 580.0, 760.0]})  # +45 % per 100 cycles
    found = rules.evaluate(frame, facts(frame, rint=rint), DEFAULTS)
    assert [c.kind for c in found] == [rules.DIED]
    died = found[0]
    assert set(died.values["suppressed"]) >= {rules.RETENTION, rules.RINT_GROWTH}
    assert "follow-on conditions not raised separately: retention below x %" in died.message
    # Without the death rule the same run shows its follow-ons, most severe first.
    alive = rules.evaluate(frame, facts(frame, rint=rint), {k: v for k, v in DEFAULTS.items() if k != rules.DIED})
    kinds = [c.kind for c in alive]
    assert rules.RETENTION in kinds and rules.RINT_GROWTH in kinds
    assert kinds == sorted(kinds, key=rules.severity_rank)
