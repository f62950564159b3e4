"""SysTime (naive local wall clock) to UTC across daylight-saving changes."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from cycling.simulate import simple_spec, simulate_cell
from cycling.timezones import localize_sys_time, start_time_utc

BERLIN = "Europe/Berlin"


def wall_clock(utc: pd.DatetimeIndex, tz: str = BERLIN) -> pd.Series:
    """What a cycler PC in `tz` writes into SysTime for these instants."""
    return pd.Series(utc.tz_convert(tz).tz_localize(None))


def test_it_resolves_the_autumn_fall_back_hour_by_record_order():
    # 31 Oct 2021: 03:00 CEST -> 02:00 CET, so 02:00-02:59 appears twice; logged every 10 min.
    utc = pd.date_range("2021-10-30 23:30", "2021-10-31 02:30", freq="10min", tz="UTC")
    wall = wall_clock(utc)
    assert wall.duplicated().sum() == 6  # 02:00 ... 02:50 twice
    out = localize_sys_time(wall, BERLIN)
    assert str(out.dt.tz) == "UTC"
    pd.testing.assert_series_equal(out, pd.Series(utc), check_names=False)
    assert out.is_monotonic_increasing
    first_0230, second_0230 = np.flatnonzero(wall == pd.Timestamp("2021-10-31 02:30"))
    assert out[first_0230] == pd.Timestamp("2021-10-31 00:30", tz="UTC")
    assert out[second_0230] == pd.Timestamp("2021-10-31 01:30", tz="UTC")


def test_it_falls_back_to_summer_time_when_only_the_first_pass_was_logged():
    # Records stop inside the repeated hour: pandas cannot infer, the order rule says first pass (CEST).
    wall = pd.Series(pd.to_datetime(["2021-10-31 01:50", "2021-10-31 02:10", "2021-10-31 02:40"]))
    out = localize_sys_time(wall, BERLIN)
    assert out.tolist() == [pd.Timestamp(t, tz="UTC") for t in
                            ("2021-10-30 23:50", "2021-10-31 00:10", "2021-10-31 00:40")]


def test_it_uses_standard_time_after_the_clock_steps_back_even_with_a_sparse_log():
    wall = pd.Series(pd.to_datetime(["2021-10-31 02:40", "2021-10-31 02:05", "2021-10-31 03:20"]))
    out = localize_sys_time(wall, BERLIN)
    assert out.tolist() == [pd.Timestamp(t, tz="UTC") for t in
                            ("2021-10-31 00:40", "2021-10-31 01:05", "2021-10-31 02:20")]


def test_it_shifts_the_nonexistent_spring_forward_hour_forward():
    # 28 Mar 2021: 02:00 CET -> 03:00 CEST; 02:15 and 02:45 never happened on the wall clock.
    wall = pd.Series(pd.to_datetime(["2021-03-28 01:45", "2021-03-28 02:15", "2021-03-28 02:45",
                                     "2021-03-28 03:15"]))
    out = localize_sys_time(wall, BERLIN)
    assert out.tolist() == [pd.Timestamp(t, tz="UTC") for t in
                            ("2021-03-28 00:45", "2021-03-28 01:00", "2021-03-28 01:00", "2021-03-28 01:15")]


def test_it_keeps_missing_times_and_the_index():
    wall = pd.Series(pd.to_datetime(["2021-07-01 12:00", None, "2021-07-01 12:01"]), index=[10, 11, 12])
    out = localize_sys_time(wall, "Asia/Shanghai")
    assert list(out.index) == [10, 11, 12]
    assert out[10] == pd.Timestamp("2021-07-01 04:00", tz="UTC")
    assert pd.isna(out[11])


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "CEST+1"])
def test_it_refuses_an_unknown_zone_clearly(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        localize_sys_time(pd.Series(pd.to_datetime(["2021-07-01 12:00"])), name)


def test_it_gives_the_start_of_a_simulated_test_in_utc():
    records = simulate_cell(simple_spec(2, start=datetime(2021, 3, 1, 9, 0, 0)))
    assert start_time_utc(records, BERLIN) == datetime(2021, 3, 1, 8, 0, 0, tzinfo=UTC)
    # First SysTime missing: the next one minus its test time still gives the start.
    records.loc[0, "sys_time"] = pd.NaT
    assert start_time_utc(records, BERLIN) == datetime(2021, 3, 1, 8, 0, 0, tzinfo=UTC)
    assert start_time_utc(records.assign(sys_time=pd.NaT), BERLIN) is None


def test_it_localises_a_test_running_through_the_autumn_change():
    records = simulate_cell(simple_spec(3))
    # The simulator adds test time to a naive start; a real cycler PC's clock steps back at 03:00 CEST.
    utc = pd.Timestamp("2021-10-30 18:00", tz="UTC") + pd.to_timedelta(records["test_time_s"], unit="s")
    records["sys_time"] = wall_clock(pd.DatetimeIndex(utc)).to_numpy()
    assert (records["sys_time"].diff().dt.total_seconds() < 0).sum() == 1
    out = localize_sys_time(records["sys_time"], BERLIN)
    assert out.is_monotonic_increasing
    elapsed = (out - out.iloc[0]).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(elapsed, records["test_time_s"].to_numpy(), atol=1e-3)
    assert start_time_utc(records, BERLIN) == datetime(2021, 10, 30, 18, 0, 0, tzinfo=UTC)
