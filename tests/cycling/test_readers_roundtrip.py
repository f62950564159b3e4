"""Seeded writers of the text formats: write -> read_export -> the same records; and fuzzed files give a
record frame or a ParseError, nothing else."""

import io
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from cycling.parsers import ParseError, read_export
from cycling.simulate import study_cell
from cycling.writers import WRITERS, write_biologic_mpt, write_maccor_text
from tests.fuzz import BYTE_EDITS, mutate

ROOT = Path(__file__).resolve().parents[2]
EXACT = ["record", "cycle", "step"]
NUMBERS = ["test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah"]
INSTRUMENT = {"arbin": "Arbin", "maccor": "Maccor", "biologic": "BioLogic", "neware": "Neware"}


@cache
def records() -> pd.DataFrame:
    frame, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=15, seed=11)
    return frame


def written(writer, **kwargs) -> bytes:
    buffer = io.BytesIO()
    writer(records(), buffer, **kwargs)
    return buffer.getvalue()


def assert_same_records(back: pd.DataFrame, original: pd.DataFrame, *, energy: bool = True, mode: bool = False):
    assert len(back) == len(original)
    for column in EXACT:
        assert (back[column].to_numpy() == original[column].to_numpy()).all(), column
    for column in NUMBERS + (["energy_mwh"] if energy else []):
        assert np.allclose(back[column].to_numpy(), original[column].to_numpy(), rtol=1e-8, atol=1e-9), column
    assert (back["step_kind"].to_numpy() == original["step_kind"].to_numpy()).all()
    if mode:
        assert (back["step_mode"].to_numpy() == original["step_mode"].to_numpy()).all()


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_it_reads_back_what_each_writer_wrote(fmt):
    export = read_export(io.BytesIO(written(WRITERS[fmt])), name=f"roundtrip.{fmt}")
    assert export.instrument == INSTRUMENT[fmt]
    assert_same_records(export.records, records(), energy=fmt != "biologic", mode=fmt in ("biologic", "neware"))


def test_the_study_cell_has_cv_steps_to_lose():
    assert (records()["step_mode"] == "CV").sum() > 10  # the mode check above is not vacuous


def test_it_reads_back_an_mpt_with_decimal_commas_and_no_header_block():
    data = written(write_biologic_mpt, decimal=",", header=False)
    assert b"," in data.splitlines()[1]
    export = read_export(io.BytesIO(data), name="comma.mpt")
    assert export.metadata["decimal"] == ","
    assert_same_records(export.records, records(), energy=False, mode=True)


def test_it_reads_back_maccor_times_in_seconds():
    data = written(write_maccor_text, clock_times=False)
    assert b"Test (Sec)" in data
    assert_same_records(read_export(io.BytesIO(data), name="run.001").records, records())


def test_the_readers_and_writers_import_no_django():
    code = ("import sys, cycling.writers, cycling.parsers.crosscheck; from cycling.parsers import registry; "
            "list(registry.READERS); "
            "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert result.stdout.strip() == "[]"


@cache
def seeds() -> list[tuple[bytes, str]]:
    small, _ = study_cell(group="coated", n_cycles=2, points_per_half_cycle=6, seed=5)
    out = []
    for fmt, writer in sorted(WRITERS.items()):
        buffer = io.BytesIO()
        writer(small, buffer)
        out.append((buffer.getvalue(), f"fuzz.{fmt}"))
    data = ROOT / "tests" / "data" / "cyclers"
    out.append(((data / "neware/navani__test.ndax").read_bytes(), "fuzz.ndax"))
    out.append(((data / "neware/navani__test.nda").read_bytes()[:20000], "fuzz.nda"))
    return out


@fuzz_settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 5), edits=BYTE_EDITS)
def test_every_reader_gives_a_frame_or_a_parse_error_for_mutated_files(which, edits):
    data, name = seeds()[which]
    try:
        export = read_export(io.BytesIO(mutate(data, edits)), name=name)
    except ParseError as exc:
        assert name in str(exc)
        return
    assert len(export.records) > 0 and export.records["test_time_s"].is_monotonic_increasing


@fuzz_settings(max_examples=80, deadline=3000)
@given(raw=st.binary(max_size=3000))
def test_read_export_gives_a_frame_or_a_parse_error_for_random_bytes(raw):
    try:
        read_export(io.BytesIO(raw), name="fuzz.bin")
    except ParseError:
        pass
