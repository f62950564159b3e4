"""C-rate segments of a run: formation, rate test, long-term cycling, from runs of equal rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

_LONG_TERM_MIN_CYCLES = 10
_STAIR_MAX_STEP_CYCLES = 20


def label_segments(rate_keys: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Label cycles 'formation' | 'rate-test' | 'long-term' | 'other' from runs of equal rate.

    rate_keys: one hashable per cycle (the C-rate label, or a binned current when no mass is known);
    rates: a number per cycle to order the runs (C-rate or current).
    - rate-test: at least three consecutive runs of <= 20 cycles with strictly increasing rate, plus
      an immediately following shorter-or-equal run back at a lower rate (recovery);
    - formation: the leading run when its rate is lower than the next run's, or it is a short run
      (<= 5 cycles); when it is also the first stair of a rate test, only its cycles beyond the stair
      length are formation;
    - long-term: any other run of >= 10 cycles; everything else 'other'.
    """
    n = len(rate_keys)
    out = np.full(n, "other", dtype=object)
    if n == 0:
        return out
    keys = pd.Series(rate_keys, dtype=object).fillna("").to_numpy(dtype=object)
    change = np.concatenate([[True], keys[1:] != keys[:-1]])
    starts = np.flatnonzero(change)
    ends = np.concatenate([starts[1:], [n]])
    lengths = ends - starts
    run_rate = np.array([np.nanmean(rates[s:e]) if np.isfinite(rates[s:e]).any() else np.nan
                         for s, e in zip(starts, ends, strict=True)])
    n_runs = len(starts)
    is_stair = np.zeros(n_runs, dtype=bool)
    i = 0
    while i < n_runs:  # loop over runs (a handful), not records
        j = i
        while (j + 1 < n_runs and lengths[j + 1] <= _STAIR_MAX_STEP_CYCLES
               and run_rate[j + 1] > run_rate[j]):
            j += 1
        if j - i + 1 >= 3 and all(lengths[k] <= _STAIR_MAX_STEP_CYCLES for k in range(i + 1, j + 1)):
            is_stair[i:j + 1] = True
            if j + 1 < n_runs and run_rate[j + 1] < run_rate[j] and lengths[j + 1] <= max(lengths[i + 1:j + 1]):
                is_stair[j + 1] = True
                j += 1
            i = j + 1
        else:
            i += 1
    for r in range(n_runs):
        if is_stair[r]:
            out[starts[r]:ends[r]] = "rate-test"
        elif lengths[r] >= _LONG_TERM_MIN_CYCLES:
            out[starts[r]:ends[r]] = "long-term"
    # Formation: the leading run.
    if is_stair[0] and n_runs > 1:
        step_len = lengths[1]
        surplus = lengths[0] - step_len
        if surplus > 0:
            out[: surplus] = "formation"
    elif n_runs > 1 and (run_rate[0] < run_rate[1] or lengths[0] <= 5) and lengths[0] < lengths[1]:
        out[starts[0]:ends[0]] = "formation"
    elif n_runs == 1 and lengths[0] < _LONG_TERM_MIN_CYCLES:
        out[:] = "formation"
    return out
