"""Files of 10^7 records in bounded memory: the streamed BDF and Neware csv reads give exactly the records of the
whole-file read, and what they hold per record does not grow with the file (bench/bench_big.py measures 10^6
and 10^7)."""
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cycling.analysis import CellSpec, analyse
from cycling.parsers import ParseError, read_export
from cycling.parsers import bdf as bdf_module
from cycling.parsers import neware as neware_module
from cycling.parsers.bdf import write_bdf
from cycling.simulate import study_cell
from cycling.writers import WRITERS

ROOT = Path(__file__).resolve().parents[2]


class _Stream(io.RawIOBase):
    """A binary upload that cannot seek (a socket, a pipe): the reader must take its bytes whole."""

    def __init__(self, data: bytes):
        self._inner = io.BytesIO(data)
        self.name = "stream.bdf"

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._inner.readinto(buffer)


@pytest.fixture(scope="module")
def run():
    """About 2 x 10^5 seeded records of one cell (120 cycles)."""
    frame, _ = study_cell(group="coated", n_cycles=120, points_per_half_cycle=820, seed=11)
    return frame


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_it_reads_a_big_bdf_file_in_batches_to_exactly_the_records_and_cycles_of_the_whole_file_read(
        run, fmt, tmp_path, monkeypatch):
    path = tmp_path / f"run.bdf.{fmt}"
    write_bdf(run, path, fmt=fmt)
    whole = read_export(_Stream(path.read_bytes()), name=path.name)
    # Small batches, so that the file is read in many (the default is a few MB per column).
    monkeypatch.setattr(bdf_module, "_BLOCK_BYTES", 1 << 20)
    monkeypatch.setattr(bdf_module, "_BATCH_ROWS", 7_000)
    seen = []
    monkeypatch.setattr(bdf_module, "_gather", _counting(bdf_module._gather, seen))
    batched = read_export(path)
    assert seen[0] > 10  # batches read
    assert len(batched.records) == len(run) == 199_446
    a = _same_as_whole(batched, whole)
    # The simulator's own numbers come back: what cycle 3 charged and discharged, in mAh.
    third = run[run["cycle"] == 3]
    for half in ("charge", "discharge"):
        simulated = third.loc[third["step_kind"] == half, "capacity_mah"].max()
        assert a.cycles.set_index("cycle").loc[3, f"{half}_mah"] == pytest.approx(simulated, rel=1e-9)


def _same_as_whole(batched, whole):
    """The batched read gives exactly the records, metadata and warnings of the whole-file read, and the same
    120-cycle analysis; that analysis (of the batched read) for the caller's own checks."""
    pd.testing.assert_frame_equal(batched.records, whole.records, check_exact=True)
    assert batched.metadata == whole.metadata
    assert batched.warnings == whole.warnings
    spec = CellSpec(active_mass_mg=8.4, theoretical_mah_g=160.0)
    a, b = analyse(batched, spec), analyse(whole, spec)
    pd.testing.assert_frame_equal(a.cycles, b.cycles, check_exact=True)
    assert len(a.cycles) == 120 and a.warnings == b.warnings
    return a


def _counting(gather, seen):
    def counted(batches, *args):
        batches = list(batches)
        seen.append(len(batches))
        return gather(iter(batches), *args)
    return counted


def test_a_value_that_is_not_a_number_deep_in_a_big_file_is_named_as_the_whole_file_read_names_it(run, tmp_path,
                                                                                                  monkeypatch):
    path = tmp_path / "bad.bdf.csv"
    write_bdf(run.iloc[:60_000], path)
    lines = path.read_bytes().split(b"\n")
    cells = lines[50_001].split(b",")
    cells[1] = b"4.1x"  # voltage of data row 50,000 (line 50,002 of the file)
    lines[50_001] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(bdf_module, "_BLOCK_BYTES", 1 << 20)
    with pytest.raises(ParseError) as streamed:
        read_export(path)
    with pytest.raises(ParseError) as whole:
        read_export(_Stream(path.read_bytes()), name=path.name)
    assert str(streamed.value) == str(whole.value)
    assert "'4.1x' is not a number" in str(streamed.value) and "row 50002" in str(streamed.value)


def _neware_csv(frame: pd.DataFrame) -> bytes:
    """The records as a Neware BTS record csv (DataPoint, ..., Time and Total Time as h:min:s, Current(A),
    Chg. Cap.(Ah), ..., Date)."""
    out = io.BytesIO()
    WRITERS["neware"](frame, out)
    return out.getvalue()


def _whole_and_batched(path: Path, monkeypatch):
    """(the whole-file read, the batched read of the path in small blocks, how many batches it read)."""
    whole = read_export(_Stream(path.read_bytes()), name=path.name)
    monkeypatch.setattr(neware_module, "_BLOCK_BYTES", 1 << 20)
    seen = []
    monkeypatch.setattr(neware_module, "gather", _counting(neware_module.gather, seen))
    return whole, read_export(path), seen


def test_it_reads_a_big_neware_csv_in_batches_to_exactly_the_records_and_cycles_of_the_whole_file_read(
        run, tmp_path, monkeypatch):
    path = tmp_path / "run.csv"
    path.write_bytes(_neware_csv(run))
    whole, batched, seen = _whole_and_batched(path, monkeypatch)
    assert seen[0] > 10  # batches read (a 1 MB block holds ~9,000 records)
    assert len(batched.records) == len(run) == 199_446
    a = _same_as_whole(batched, whole)
    assert batched.metadata["units"] == {"Current(A)": "A", "Voltage(V)": "V", "Chg. Cap.(Ah)": "Ah",
                                         "DChg. Cap.(Ah)": "Ah", "Chg. Energy(Wh)": "Wh", "DChg. Energy(Wh)": "Wh"}
    assert batched.cycle_table is None is whole.cycle_table
    # The simulator's cycle 3 comes back through Ah and h:min:s text (the csv keeps 6 decimals of Ah).
    third = run[run["cycle"] == 3]
    for half in ("charge", "discharge"):
        simulated = third.loc[third["step_kind"] == half, "capacity_mah"].max()
        assert a.cycles.set_index("cycle").loc[3, f"{half}_mah"] == pytest.approx(simulated, abs=1e-3)
    assert batched.records["test_time_s"].iat[-1] == pytest.approx(run["test_time_s"].iat[-1], abs=1e-6)


@pytest.fixture(scope="module")
def short():
    frame, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=60, seed=3)
    return frame


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "cp1252"])
def test_a_neware_csv_in_another_encoding_reads_as_its_bytes_read_whole_do(short, encoding, tmp_path, monkeypatch):
    """UTF-8 with a BOM is read in batches; GB18030 and cp1252 files (a note line above the header in the
    cycler PC's code page) are read whole, as before."""
    note = {"utf-8-sig": "备注: 电池 7 25 °C", "gb18030": "备注: 电池 7 25 °C", "cp1252": "Zelle 7 25 °C 3 €"}[encoding]
    text = note + "\n" + _neware_csv(short).decode()
    path = tmp_path / "cell.csv"
    path.write_bytes(text.encode(encoding))
    whole, read, seen = _whole_and_batched(path, monkeypatch)
    assert seen == ([1] if encoding == "utf-8-sig" else [])
    assert read.metadata["encoding"] == whole.metadata["encoding"] == encoding
    pd.testing.assert_frame_equal(read.records, whole.records, check_exact=True)
    assert read.metadata == whole.metadata and len(read.records) == len(short) == 432


def test_a_neware_csv_in_milliamperes_reads_its_units_from_the_header_in_batches(short, tmp_path, monkeypatch):
    amperes = tmp_path / "a.csv"
    amperes.write_bytes(_neware_csv(short))
    header, body = amperes.read_bytes().split(b"\n", 1)
    milli = tmp_path / "ma.csv"
    milli.write_bytes(header.replace(b"(A)", b"(mA)").replace(b"(Ah)", b"(mAh)") + b"\n" + body)
    whole, read, seen = _whole_and_batched(milli, monkeypatch)
    assert seen == [1]
    pd.testing.assert_frame_equal(read.records, whole.records, check_exact=True)
    in_amperes = read_export(amperes).records
    current = in_amperes["current_ma"].to_numpy()
    assert np.abs(current).max() > 0.1  # mA: the simulator's currents, so the check below means something
    np.testing.assert_array_equal(read.records["current_ma"].to_numpy(), current / 1e3)
    assert read.metadata["units"]["Current(mA)"] == "mA"


def test_a_value_that_is_not_a_number_deep_in_a_neware_csv_is_named_as_the_whole_file_read_names_it(
        run, tmp_path, monkeypatch):
    lines = _neware_csv(run.iloc[:60_000]).split(b"\n")
    cells = lines[50_001].split(b",")
    cells[7] = b"4.1x"  # Voltage(V) of data row 50,001 (line 50,002 of the file)
    lines[50_001] = b",".join(cells)
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(neware_module, "_BLOCK_BYTES", 1 << 20)
    with pytest.raises(ParseError) as streamed:
        read_export(path)
    with pytest.raises(ParseError) as whole:
        read_export(_Stream(path.read_bytes()), name=path.name)
    assert str(streamed.value) == str(whole.value)
    assert "'4.1x' is not a number" in str(streamed.value) and "row 50002" in str(streamed.value)


def _peak_of_read(path: Path) -> dict:
    code = ("import json, sys; from pathlib import Path; from cycling.parsers import read_export; "
            "from cycling.analysis import CellSpec, analyse; "
            "e = read_export(sys.argv[1]); analyse(e, CellSpec()); "
            "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0]; "
            "print(json.dumps({'n': len(e.records), 'peak_mb': int(hwm.split()[1]) / 1024}))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _bytes_per_record(tmp_path: Path, suffix: str, write) -> float:
    """What each further record costs read + analysis: the slope of the peak RSS between two lengths of the
    same 120-cycle run, ``write(frame, path)`` writing each as a file of that kind."""
    sizes = []
    for per_half in (400, 1600):
        frame, _ = study_cell(group="coated", n_cycles=120, points_per_half_cycle=per_half, seed=5)
        path = tmp_path / f"run{per_half}.{suffix}"
        write(frame, path)
        del frame
        sizes.append(_peak_of_read(path))
    small, big = sizes
    assert big["n"] - small["n"] == 120 * 2 * 1200  # records added (two halves per cycle, 1,200 points more each)
    return (big["peak_mb"] - small["peak_mb"]) * 1024 * 1024 / (big["n"] - small["n"])


def test_the_memory_a_bdf_file_costs_per_record_stays_far_below_the_whole_file_reads(tmp_path):
    """Peak RSS of read + analysis at two lengths: the slope is what each further record costs. Reading the
    whole file (its bytes, every column as parsed, then the copies) cost ~880 bytes per record of a BDF csv;
    read in batches of the needed columns it is the record frame and the analysis' working arrays."""
    per_record = _bytes_per_record(tmp_path, "bdf.csv", write_bdf)
    assert per_record < 500, f"{per_record:.0f} bytes per record"


def test_the_analysis_works_per_record_in_a_few_tens_of_bytes_and_its_slices_of_cycles_change_nothing(
        tmp_path, monkeypatch):
    """The analysis' working arrays beyond the records it is given, counted by tracemalloc (numpy reports every
    array to it, so the count is exact, not the noisy RSS of a loaded machine). Working on whole-file arrays
    (the cycle rule judged three times, float64 temporaries of every column, the per-half groupby of the whole
    file) it held ~190 bytes per record at its peak; now ~50. The per-half table is worked out on slices of
    whole cycles: slices of 2^14 records give the very table of one slice per 2^18."""
    import tracemalloc

    from cycling.analysis import summary as summary_module

    frame, _ = study_cell(group="coated", n_cycles=120, points_per_half_cycle=1600, seed=5)
    path = tmp_path / "run.bdf.parquet"
    write_bdf(frame, path, fmt="parquet")
    del frame
    export = read_export(path)
    n = len(export.records)
    assert n == 386_646
    spec = CellSpec(active_mass_mg=8.4, theoretical_mah_g=160.0)
    whole_slices = analyse(export, spec)
    # Small slices, so that the slices' own temporaries (bounded by their length) do not hide the per-record part.
    monkeypatch.setattr(summary_module, "HALF_TABLE_CHUNK_RECORDS", 1 << 14)
    tracemalloc.start()
    try:
        held = tracemalloc.get_traced_memory()[0]
        small_slices = analyse(export, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_record = (peak - held) / n
    assert per_record < 80, f"{per_record:.0f} bytes per record"
    pd.testing.assert_frame_equal(small_slices.cycles, whole_slices.cycles, check_exact=True)
    assert small_slices.warnings == whole_slices.warnings and len(small_slices.cycles) == 120


def test_the_memory_a_neware_csv_costs_per_record_stays_far_below_the_whole_file_reads(tmp_path):
    """As for BDF: read whole (its bytes, every column as parsed, the canonical columns at once), read +
    analysis of a Neware csv cost 670-700 bytes per record; in batches of the needed columns (h:min:s times
    as seconds, stamps and step types as Arrow text) 390-410 (two runs each, 2 cores shared)."""
    per_record = _bytes_per_record(tmp_path, "csv", lambda frame, path: path.write_bytes(_neware_csv(frame)))
    assert per_record < 550, f"{per_record:.0f} bytes per record"


def test_the_stored_records_are_row_groups_with_cycle_statistics_so_one_cycle_reads_one_or_two(run, tmp_path):
    from cycling.analysis.record import RECORDS_ROW_GROUP, write_records_parquet

    export = read_export(_write(run, tmp_path))
    path = tmp_path / "records.parquet"
    write_records_parquet(export.records, path)
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_rows == len(run)
    assert parquet.metadata.num_row_groups == int(np.ceil(len(run) / RECORDS_ROW_GROUP)) == 2
    cycle = parquet.schema_arrow.names.index("cycle")
    stats = [parquet.metadata.row_group(g).column(cycle).statistics for g in range(parquet.num_row_groups)]
    assert all(s.has_min_max for s in stats) and stats[0].min == 1 and stats[-1].max == 120
    pd.testing.assert_frame_equal(pd.read_parquet(path), export.records, check_exact=True)


def _write(run, folder: Path) -> Path:
    path = folder / "run.bdf.parquet"
    write_bdf(run, path, fmt="parquet")
    return path
