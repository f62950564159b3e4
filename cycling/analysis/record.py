"""The analysed record: the raw records with what the analysis decided about each one, as stored in the Parquet.

The ingest stores it once; every reader of records (curves, dQ/dV, peaks, the records API, BDF, the dataset,
monitoring) reads these columns and never decides again what a cycle is. Per record:

- ``cycle``: the file's cycle as analysed (the instrument's index, or the cycle rule's numbers where the
  rule had to correct it: cycling.analysis.checks.resolve_cycles); the cycles API's ``file_cycle``;
- ``instrument_cycle``: the instrument's own cycle index as read (kept, so a reprocess starts from the raw
  record again);
- ``half``: 'charge', 'discharge' or 'rest', the direction the analysis counted the record in;
- ``segment`` and ``c_rate_label``: those of the record's cycle in the per-cycle table.

The cell's cycle is not stored: it is ``cycle`` + the file's timeline offset (DataFile.cycle_offset),
applied on read, so a timeline mark or a new file before this one rewrites no records.
Pure pandas/numpy (no Django).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import _kind_codes

# Bumped when the stored columns change; a data file's provenance names the format its Parquet was written in.
RECORDS_FORMAT = 2
ANALYSED_COLUMNS = ["instrument_cycle", "half", "segment", "c_rate_label"]
HALVES = ["rest", "charge", "discharge"]  # index = the analysis' kind code (0 rest, 1 charge, 2 discharge)


def _per_cycle(values: pd.Series, where: np.ndarray) -> pd.Categorical:
    """A per-cycle text column spread to the records (`where`: each record's row in the table), as a
    categorical: a handful of distinct words, stored dictionary-encoded."""
    table = pd.Categorical(values.fillna("").astype(str))
    return pd.Categorical.from_codes(table.codes[where], categories=table.categories)


def analysed_record(records: pd.DataFrame, cycle: np.ndarray, cycles: pd.DataFrame) -> pd.DataFrame:
    """`records` as read (its ``cycle`` the instrument's) with the analysed columns, in the same order.

    cycle: the analysed cycle number of each record; cycles: the per-cycle table (``cycle``, ``segment``,
    ``c_rate_label``) of those numbers. A record whose cycle the table lacks gets '' for both.
    """
    cycle = np.asarray(cycle, dtype=np.int64)
    table_cycles = cycles["cycle"].to_numpy(dtype=np.int64)
    # Each record's row in the table; row len(table) (padded below) is the '' of a cycle the table lacks.
    where = np.full(len(cycle), len(table_cycles), dtype=np.int64)
    if len(table_cycles):
        order = np.argsort(table_cycles, kind="stable")
        pos = np.minimum(np.searchsorted(table_cycles[order], cycle), len(order) - 1)
        hit = table_cycles[order][pos] == cycle
        where[hit] = order[pos][hit]
    pad = pd.Series([""])
    segment = pd.concat([cycles["segment"].reset_index(drop=True), pad], ignore_index=True)
    label = pd.concat([cycles["c_rate_label"].reset_index(drop=True), pad], ignore_index=True)
    half = pd.Categorical.from_codes(_kind_codes(records).astype(np.int8), categories=HALVES)
    return records.assign(cycle=cycle, instrument_cycle=records["cycle"].to_numpy(dtype=np.int64), half=half,
                          segment=_per_cycle(segment, where), c_rate_label=_per_cycle(label, where))


def raw_record(stored: pd.DataFrame) -> pd.DataFrame:
    """The records as read from the instrument, from a stored analysed record (or an older raw one as it is)."""
    if "instrument_cycle" not in stored:
        return stored
    raw = stored.drop(columns=[c for c in ANALYSED_COLUMNS if c in stored])
    return raw.assign(cycle=stored["instrument_cycle"].to_numpy(dtype=np.int64))


def same_analysis(stored: pd.DataFrame, analysed: pd.DataFrame) -> bool:
    """True when the analysed columns of a stored record equal the new ones (a reprocess need not rewrite it)."""
    if "instrument_cycle" not in stored or len(stored) != len(analysed):
        return False
    for name in ("cycle", *ANALYSED_COLUMNS):
        a, b = stored[name], analysed[name]
        if name in ("cycle", "instrument_cycle"):
            if not np.array_equal(a.to_numpy(dtype=np.int64), b.to_numpy(dtype=np.int64)):
                return False
        else:
            mine, theirs = pd.Categorical(a), pd.Categorical(b)
            if not set(theirs.categories) <= set(mine.categories):
                return False
            if not np.array_equal(mine.codes, theirs.set_categories(mine.categories).codes):
                return False
    return True


# Records per Parquet row group: a cycle's curve reads one or two groups (the cycle's min/max statistics
# let the reader skip the rest), and a slice of this many records is converted to Arrow at a time.
RECORDS_ROW_GROUP = 100_000


def write_records_parquet(records: pd.DataFrame, target) -> None:
    """The analysed records as Parquet (zstd), row group by row group: only one group's Arrow copy is held,
    never the whole table (a 10^7-record file). Every group carries min/max statistics of ``cycle``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for start in range(0, max(len(records), 1), RECORDS_ROW_GROUP):
            table = pa.Table.from_pandas(records.iloc[start:start + RECORDS_ROW_GROUP], preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=RECORDS_ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
