"""Turn any cycler's per-record columns into the canonical record frame with LAND's semantics.

Each instrument counts capacity its own way (Neware and Maccor per step, Arbin per cycle, BioLogic
(Q-Qo) over the whole test, signed or not). Readers hand over the instrument's counters together with
the grouping they restart on; here they become per-record throughput and then LAND's running totals,
which restart only when the current changes direction (rests in between keep the total).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from readers.errors import ParseError

from ..analysis.cycles import channel_restarts, derive_cycles, kind_codes
from .columns import STEP_STATES, UNITS
from .land import RECORD_COLUMNS
from .values import arrow_pool

_TIME_JITTER_S = 1.0

@dataclass(frozen=True)
class Counter:
    """An instrument's capacity (mAh) or energy (mWh) counter and how it counts.

    An unsigned counter (the default; a sign is dropped) restarts from zero now and then - per step on
    Neware and Maccor, per cycle on Arbin, per half cycle on BioLogic: a drop to below half its previous
    value, or a change of ``restart`` (a per-record group label) when given, is a restart. A ``signed``
    counter (BioLogic's (Q-Qo)) runs over the whole test, up while charging, down while discharging.
    A counter of one ``direction`` ('charge' or 'discharge': Arbin's Charge_Capacity beside its
    Discharge_Capacity) counts only on records of that direction: the other counter's noise, or a tick
    it takes at the first record of a step, is not charge that flowed.
    """

    values: np.ndarray
    restart: np.ndarray | None = None
    signed: bool = False
    direction: str | None = None


def repair_clock_glitches(test_time_s: np.ndarray, rows: np.ndarray, *,
                          jitter_s: float = _TIME_JITTER_S) -> tuple[np.ndarray, str | None]:
    """(test time, finding): single records whose test time jumps away and straight back (a cycler's clock
    glitch: 0 s on one record at a step start, then the test carries on) get the time between their
    neighbours, and the finding names their rows. A drop that the next record does not undo (a restart, two
    tests merged) is left as it is, for the caller to refuse."""
    t = np.asarray(test_time_s, dtype=np.float64)
    drops = np.flatnonzero(np.diff(t) < -jitter_s) + 1
    if not drops.size:
        return t, None
    n = len(t)
    glitch = []
    for j in drops.tolist():
        if j + 1 < n and t[j + 1] >= t[j - 1] - jitter_s:
            glitch.append(j)  # one record fell back (0 s) and the next carries on
        elif (j >= 2 and j + 1 < n and t[j] >= t[j - 2] - jitter_s and t[j + 1] >= t[j] - jitter_s
              and (not glitch or glitch[-1] != j - 1)):
            glitch.append(j - 1)  # one record jumped ahead and the next ones are back on track
    glitch = sorted(set(g for g in glitch if 0 < g < n - 1))
    if not glitch:
        return t, None
    # Isolated records only: two neighbouring odd records are not a glitch that interpolation can repair.
    isolated = [g for g in glitch if g - 1 not in glitch and g + 1 not in glitch]
    if not isolated:
        return t, None
    fixed = t.copy()
    at = np.asarray(isolated)
    fixed[at] = 0.5 * (t[at - 1] + t[at + 1])
    shown = ", ".join(str(int(rows[g])) for g in isolated[:10]) + (" ..." if len(isolated) > 10 else "")
    finding = (f"the test time jumps on {len(isolated)} isolated record(s) and carries on at the next (a clock "
               f"glitch of the cycler, e.g. 0 s at a step start): row(s) {shown}; their times were set between "
               "their neighbours'")
    return fixed, finding


def unit_factor(unit: str | None, dimension: str, *, column: str, default: str | None = None) -> float:
    """Factor from the unit as written ('mA', 'A', 'mA.h', 'Ah', 'uAh') to the canonical unit of ``dimension``,
    through THE unit table (columns.UNITS). A missing unit takes ``default`` (the instrument's fixed unit) or
    is an error: guessing mA versus A is a silent 1000x error."""
    key = (unit or default or "").strip().lower().replace(".", "").replace(" ", "")
    key = {"amps": "a", "amp-hr": "ah", "watt-hr": "wh", "volts": "v", "sec": "s", "hr": "h"}.get(key, key)
    if not key:
        raise ParseError(f"the header gives no unit of {dimension}", column=column)
    known = UNITS.get(key)
    if known is None or known[0] != dimension:
        raise ParseError(f"unit '{unit or default}' is not a unit of {dimension}", column=column)
    return known[1]


_HEADER_UNIT = re.compile(r"^\s*(?P<name>.*?)\s*(?:[(\[](?P<u1>[^()\[\]]*)[)\]]|/\s*(?P<u2>[^/]+(?:/[^/]+)?))\s*$")


def split_header(raw: object) -> tuple[str, str | None]:
    """'Current(mA)' / 'Current (A)' / 'I/mA' / 'Capacity [Ah]' -> (name, unit); 'Amps' -> ('Amps', None)."""
    text = "" if raw is None else str(raw).strip().lstrip("\ufeff")
    match = _HEADER_UNIT.match(text)
    if match and match.group("name"):
        return match.group("name"), (match.group("u1") or match.group("u2") or "").strip() or None
    return text, None


def kinds_from_codes(codes: np.ndarray, current_ma: np.ndarray,
                     table: dict[str, tuple[str, str]] = STEP_STATES) -> tuple[pd.Categorical, pd.Categorical]:
    """(step_kind, step_mode) from the instrument's step codes; unknown codes take the current's sign. Both
    come as categoricals (small integer codes over a few words): no Python string per record."""
    if isinstance(codes, tuple):  # already factorised: (per-record ids from 0, their words)
        ids, uniques = codes
    else:
        # pandas factorises an Arrow-backed text column in C: no Python string per cell.
        ids, uniques = pd.factorize(codes if isinstance(codes, pd.Series) else np.asarray(codes, dtype=object),
                                    use_na_sentinel=True)
    # Looked up once per distinct code (a handful; plain Python beats pandas' set-up on so few), then spread
    # by the codes' ids: no per-record lookup or NaN test.
    found = [table.get(re.sub(r"\s+", "_", str(code).strip().upper())) for code in uniques]
    modes = list(dict.fromkeys([""] + [hit[1] for hit in found if hit]))
    kind_of_code = np.array([_KIND_WORDS.index(hit[0]) if hit else -1 for hit in found] + [-1], dtype=np.int8)
    mode_of_code = np.array([modes.index(hit[1]) if hit else 0 for hit in found] + [0], dtype=np.int8)
    kinds = kind_of_code[ids]
    unknown = kinds < 0
    if unknown.any():
        kinds[unknown] = _sign_codes(np.asarray(current_ma, dtype=np.float64)[unknown])
    return (pd.Categorical.from_codes(kinds, dtype=_KIND_DTYPE, validate=False),
            pd.Categorical.from_codes(mode_of_code[ids], dtype=_words_dtype(tuple(modes)), validate=False))


_KIND_WORDS = ["discharge", "rest", "charge"]  # by sign of the current + 1
# Made once: checking a categorical's words costs more than the rest of a small file's kinds.
_KIND_DTYPE = pd.CategoricalDtype(_KIND_WORDS)


@functools.lru_cache(maxsize=64)
def _words_dtype(words: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(words))


def _sign_codes(current: np.ndarray) -> np.ndarray:
    return (np.sign(current).astype(np.int8) + 1).astype(np.int8)


def kinds_from_sign(current_ma: np.ndarray) -> tuple[pd.Categorical, pd.Categorical]:
    """(step_kind, step_mode) from the current's sign alone, as categoricals like kinds_from_codes'."""
    kind = _sign_codes(np.asarray(current_ma, dtype=np.float64))
    # the sign tells the direction, not CC from CV (as LAND)
    return (pd.Categorical.from_codes(kind, dtype=_KIND_DTYPE, validate=False),
            pd.Categorical.from_codes(np.zeros(len(kind), dtype=np.int8), dtype=_words_dtype(("",)), validate=False))


_DIRECTION_CODE = {"charge": 1, "discharge": 2}  # cycling.analysis.cycles.kind_codes


def throughput(counters: list[Counter], n: int, codes: np.ndarray | None = None) -> np.ndarray:
    """Per-record amount that flowed, summed over the instrument's counters (its running sum gives the
    counter back between restarts, small noise included). With ``codes`` (1 charge, 2 discharge, 0 rest)
    a counter of one direction counts only on records of that direction."""
    total = np.zeros(n)
    for counter in counters:
        if counter.direction is not None and counter.direction not in _DIRECTION_CODE:
            raise ValueError(f"a counter's direction is 'charge' or 'discharge', not {counter.direction!r}")
        values = np.nan_to_num(np.asarray(counter.values, dtype=np.float64))
        if counter.signed:
            step = np.diff(values, prepend=0.0)
            total += np.abs(step)
            continue
        values = np.abs(values)
        previous = np.concatenate([[0.0], values[:-1]])
        restarted = values < 0.5 * previous
        if counter.restart is not None:
            restarted[1:] |= _changes(counter.restart)
        flow = np.where(restarted, values, values - previous)
        if counter.direction is not None and codes is not None:
            flow = np.where(np.asarray(codes) == _DIRECTION_CODE[counter.direction], flow, 0.0)
        total += flow
    return total


def _changes(labels) -> np.ndarray:
    """Per record after the first: does the group label differ from the record before's? Numbers are compared
    as they are (a gap equals a gap), anything else by pandas' factorisation."""
    group = np.asarray(labels)
    if group.dtype.kind in "iub":
        return group[1:] != group[:-1]
    if group.dtype.kind == "f":  # step or cycle numbers
        return (group[1:] != group[:-1]) & ~(np.isnan(group[1:]) & np.isnan(group[:-1]))
    group = pd.factorize(group)[0]
    return group[1:] != group[:-1]


def _run_firsts(values: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Per record the value at the start of its run (``change`` marks each run's first record, the first
    included): what groupby(...).transform("first") gives for runs of a counter, without pandas' set-up."""
    return values[np.maximum.accumulate(np.where(change, np.arange(len(change)), 0))]


def running_totals(flow: np.ndarray, code: np.ndarray) -> np.ndarray:
    """LAND's running total: adds up over records of one direction, rests keep it, a reversal restarts it.
    ``code`` is cycling.analysis.cycles.kind_codes of the records (1 charge, 2 discharge, 0 rest)."""
    moving = code > 0
    # the direction last moved in (0 before the first move): the moving records' codes carried forward
    last = np.maximum.accumulate(np.where(moving, np.arange(len(code)), 0))
    held = np.where(moving[last], code[last], 0)
    change = np.ones(len(held), dtype=bool)
    change[1:] = held[1:] != held[:-1]
    segment = np.cumsum(change)
    flow = np.where(code > 0, flow, 0.0)  # what a rest record "moved" is noise on a counter at rest
    return pd.Series(flow).groupby(segment).cumsum().to_numpy()


def split_cccv(ids: np.ndarray, names: list, current_ma: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, list]:
    """A combined CCCV step: CC while the current holds its starting value, CV once it tapers (as LAND).
    ``ids``/``names`` are the step modes' codes and words; returns them with CCCV split. ``step`` numbers
    the steps in runs (each step one run of records, as build_records numbers them)."""
    if "CCCV" not in names:
        return ids, names
    cccv = ids == names.index("CCCV")
    if not cccv.any():
        return ids, names
    names = names + [word for word in ("CC", "CV") if word not in names]
    current = np.abs(current_ma)
    start = _run_firsts(current, np.r_[True, step[1:] != step[:-1]])
    ids = ids.astype(np.int64, copy=True)
    ids[cccv] = np.where(current[cccv] < 0.99 * start[cccv], names.index("CV"), names.index("CC"))
    return ids, names


def _coded(values) -> tuple[np.ndarray, list]:
    """(codes, words) of a text column: a categorical's own, else pandas' factorisation (-1 for a gap)."""
    if isinstance(values, pd.Categorical):
        return values.codes, list(values.categories)
    ids, names = pd.factorize(np.asarray(values, dtype=object))
    return ids, list(names)


def _decoded(ids: np.ndarray, names: list) -> np.ndarray:
    """The object array of words that ``ids`` stand for (None for a gap): only for the rare odd record."""
    return np.array(list(names) + [None], dtype=object)[ids]


def build_records(
    *,
    sheet: str | None,
    rows: np.ndarray,
    test_time_s: np.ndarray,
    current_ma: np.ndarray,
    voltage_v: np.ndarray,
    capacity: list[Counter],
    energy: list[Counter] | None = None,
    kind: np.ndarray | None = None,
    mode: np.ndarray | None = None,
    step_time_s: np.ndarray | None = None,
    record: np.ndarray | None = None,
    cycle: np.ndarray | None = None,
    step: np.ndarray | None = None,
    sys_time: np.ndarray | None = None,
    metadata: dict | None = None,
) -> pd.DataFrame:
    """The canonical record frame (RECORD_COLUMNS) from one instrument's columns, checked.

    ``rows`` are the file's row numbers (as a spreadsheet or text editor counts them) for error messages.
    ``step`` is the instrument's step label; the frame numbers steps globally from 1 (like LAND's
    Step-Index), a new one wherever the label, the cycle or the step kind changes. ``cycle`` is the
    instrument's cycle counter; a counter starting at 0 is shifted to start at 1 (noted in metadata).
    """
    n = len(test_time_s)
    meta = metadata if metadata is not None else {}
    if n == 0:
        raise ParseError("the record table has a header but no data rows", sheet=sheet)
    test_time = np.asarray(test_time_s, dtype=np.float64)
    current = np.asarray(current_ma, dtype=np.float64)
    voltage = np.asarray(voltage_v, dtype=np.float64)
    for name, values in (("test time", test_time), ("current", current), ("voltage", voltage)):
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = "missing" if np.isnan(values[i]) else "infinite"
            raise ParseError(f"the {name} value is {what}", sheet=sheet, row=int(rows[i]), column=name)
    test_time, finding = repair_clock_glitches(test_time, rows)
    if finding:
        meta.setdefault("reader_warnings", []).append(finding)
    back = np.flatnonzero(np.diff(test_time) < -_TIME_JITTER_S)
    if back.size:
        i = int(back[0]) + 1
        raise ParseError(
            f"test time goes backwards ({test_time[i - 1]:.3f} s -> {test_time[i]:.3f} s); the records are "
            "out of order or two tests were merged", sheet=sheet, row=int(rows[i]), column="test time")
    test_time = np.maximum.accumulate(test_time)

    if kind is None:
        kind, default_mode = kinds_from_sign(current)
        mode = default_mode if mode is None else mode
    kind_ids, kind_names = _coded(kind)
    mode_ids, mode_names = (np.zeros(n, dtype=np.int8), [""]) if mode is None else _coded(mode)

    codes = _kind_codes(kind_ids, kind_names, current)
    record_no = np.arange(1, n + 1, dtype=np.int64) if record is None else _whole(record, sheet, rows, "record")
    if cycle is None:
        restart = channel_restarts(record_no, test_time)
        cycle_no = derive_cycles(codes, restart)
        meta["cycle_source"] = "derived"
    else:
        cycle_no = _whole(cycle, sheet, rows, "cycle")
        if cycle_no.min() < 1:
            meta["cycle_offset"] = int(1 - cycle_no.min())
            cycle_no = cycle_no + meta["cycle_offset"]
        meta.setdefault("cycle_source", "instrument")
    change = np.ones(n, dtype=bool)
    change[1:] = (cycle_no[1:] != cycle_no[:-1]) | (codes[1:] != codes[:-1])
    if step is not None:
        change[1:] |= _changes(step)
    step_no = np.cumsum(change).astype(np.int64)
    mode_ids, mode_names = split_cccv(mode_ids, mode_names, current, step_no)
    if step_time_s is None or np.isnan(np.asarray(step_time_s, dtype=np.float64)).all():
        step_time = test_time - _run_firsts(test_time, change)
    else:
        step_time = np.asarray(step_time_s, dtype=np.float64)
        gaps = np.isnan(step_time)
        if gaps.any():
            derived = test_time - _run_firsts(test_time, change)
            step_time = np.where(gaps, derived, step_time)

    capacity_mah = running_totals(throughput(capacity, n, codes), codes)
    energy_mwh = running_totals(throughput(energy, n, codes), codes) if energy else np.full(n, np.nan)
    # Plain arrays, no Series: the frame then aligns no index (pandas' set-up is most of a small file's cost).
    stamps = (np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]") if sys_time is None
              else np.asarray(sys_time, dtype="datetime64[ns]"))
    columns = {
        "record": record_no,
        "test_time_s": test_time,
        "step_time_s": step_time.astype(np.float64, copy=False),
        "current_ma": current,
        "voltage_v": voltage,
        "capacity_mah": capacity_mah.astype(np.float64, copy=False),
        "energy_mwh": energy_mwh.astype(np.float64, copy=False),
        "cycle": cycle_no.astype(np.int64, copy=False),
        "step": step_no,
        "step_kind": _words(kind_ids, kind_names),
        "step_mode": _words(mode_ids, mode_names),
        "sys_time": stamps,
    }
    # The arrays are this function's own (a read-only one, a view of the reader's table, is copied): the
    # frame takes them as they are instead of copying every column into one block.
    columns = {name: np.array(values) if isinstance(values, np.ndarray) and not values.flags.writeable else values
               for name, values in columns.items()}
    frame = pd.DataFrame({name: columns[name] for name in RECORD_COLUMNS}, copy=False)
    return frame  # in the file's order: test time, checked above, is what orders records


def _kind_codes(ids: np.ndarray, names: list, current: np.ndarray) -> np.ndarray:
    """cycling.cycles.kind_codes, judged once per distinct step kind and spread by the kinds' ids."""
    words = names
    names = np.asarray(names, dtype=object)
    ones = np.ones(len(names))
    charge_like, discharge_like = kind_codes(names, ones), kind_codes(names, -ones)
    codes = np.append(charge_like, 0).astype(np.int8)[ids]
    # A kind kind_codes does not know takes the current's sign: it answers differently for +1 and -1.
    unknown = np.append(charge_like != discharge_like, True)[ids]
    if unknown.any():
        codes[unknown] = kind_codes(_decoded(ids, words)[unknown], current[unknown])
    return codes


_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"


def _words(ids: np.ndarray, names: list):
    """A text column (pandas' str) of a few distinct words built in Arrow from their ids (astype('str') makes
    a Python string per record)."""
    if (ids < 0).any():
        return pd.Series(_decoded(ids, names), dtype=object).astype("str").array
    import pyarrow as pa
    import pyarrow.compute as pc

    # large_string, as pandas keeps its str columns
    words = pc.take(pa.array([str(v) for v in names], pa.large_string()), pa.array(ids), memory_pool=arrow_pool())
    return pd.arrays.ArrowStringArray(words, dtype=_STR)


def _whole(values, sheet: str | None, rows: np.ndarray, column: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "fiu":
        numbers = values.astype(np.float64, copy=False)
    else:
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    gaps = np.isnan(numbers)
    if gaps.all():
        raise ParseError(f"the {column} column holds no numbers", sheet=sheet, column=column)
    if gaps.any():
        numbers = pd.Series(numbers).ffill().bfill().to_numpy()
    bad = numbers != np.round(numbers)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParseError(f"'{numbers[i]}' is not a whole number", sheet=sheet, row=int(rows[i]), column=column)
    return numbers.astype(np.int64)


def summarise(records: pd.DataFrame, metadata: dict) -> dict:
    """The metadata every reader fills in the same way from its records."""
    # On numpy arrays and Arrow comparisons: pandas' per-call set-up is most of a small file's cost.
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = pa.array(records["step_kind"].array, pa.large_string())  # the column's own Arrow data, no copy

    def where(word: str) -> np.ndarray:
        return pc.fill_null(pc.equal(kinds, word), False).to_numpy(zero_copy_only=False)

    moving = np.flatnonzero(~where("rest"))
    first_kind = records["step_kind"].iat[int(moving[0])] if len(moving) else "rest"
    cycle = records["cycle"].to_numpy()
    metadata["first_step_kind"] = first_kind
    metadata["n_records"] = len(records)
    metadata["n_cycles"] = len(pd.unique(cycle))
    if "start_time" not in metadata:
        stamped = np.flatnonzero(~np.isnat(records["sys_time"].to_numpy(dtype="datetime64[ns]")))
        if len(stamped):
            metadata["start_time"] = records["sys_time"].iat[int(stamped[0])].isoformat()
    partial = False
    if first_kind != "rest":
        second = "discharge" if first_kind == "charge" else "charge"
        partial = not where(second)[cycle == cycle[-1]].any()
    metadata["partial_last_cycle"] = bool(partial)
    return metadata
