"""No reader lets out anything but ParseError, in every format (hypothesis, byte-level mutations of seeded
files of each kind, as tests/fuzz.py does for LAND): a cycler file gives its runs or a ParseError naming the
file; an EIS file gives a spectrum or a ParseError."""
import io
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from cycling.parsers import read_runs
from cycling.parsers.bdf import write_bdf
from cycling.simulate import study_cell
from cycling.testing import write_land
from cycling.writers import (
    write_arbin_csv,
    write_arbin_xlsx,
    write_biologic_mpt,
    write_maccor_text,
    write_neware_csv,
    write_neware_layered,
)
from impedance.parsers import read_eis
from readers import ParseError
from tests.fuzz import BYTE_EDITS, mutate

DATA = Path(__file__).resolve().parents[1] / "data"


def _written(writer, records, **kwargs) -> bytes:
    buffer = io.BytesIO()
    writer(records, buffer, **kwargs)
    return buffer.getvalue()


@cache
def cycler_seeds() -> list[tuple[bytes, str]]:
    small, _ = study_cell(group="coated", n_cycles=2, points_per_half_cycle=5, seed=5)
    other, _ = study_cell(group="coated", n_cycles=2, points_per_half_cycle=4, seed=9)
    cp1252 = pd.read_csv(io.BytesIO(_written(write_arbin_csv, small)))
    cp1252["Aux_Temperature_1(°C)"] = "25 °C €"
    return [
        (_written(write_arbin_csv, small), "fuzz.csv"),
        (cp1252.to_csv(index=False).encode("cp1252"), "fuzz-cp1252.csv"),
        (_written(write_maccor_text, small), "fuzz.001"),
        (_written(write_maccor_text, small, layout="name-channel", milli=True, encoding="cp1252",
                  description="µ 25 °C"), "fuzz.002"),
        (_written(write_biologic_mpt, small), "fuzz.mpt"),
        (_written(write_neware_csv, small), "fuzz-neware.csv"),
        (_written(write_neware_layered, small), "fuzz-report.csv"),
        (_written(lambda r, d: write_bdf(r, d, fmt="csv"), small), "fuzz.bdf.csv"),
        (_written(lambda r, d: write_bdf(r, d, fmt="parquet"), small), "fuzz.bdf.parquet"),
        (_written(lambda r, d: write_land(r, d, variant="csv"), small), "fuzz-land.csv"),
        (_written(lambda r, d: write_arbin_xlsx({"1-053": r, "1-059": other}, d), small), "fuzz.xlsx"),
        ((DATA / "cyclers/neware/navani__test.ndax").read_bytes(), "fuzz.ndax"),
    ]


@fuzz_settings(max_examples=300, deadline=10000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 11), edits=BYTE_EDITS)
def test_every_cycler_reader_gives_runs_or_a_parse_error_for_mutated_files(which, edits):
    data, name = cycler_seeds()[which]
    try:
        runs = read_runs(io.BytesIO(mutate(data, edits)), name=name)
    except ParseError as exc:
        assert name in str(exc)
        return
    for run in runs:
        assert len(run.records) > 0 and run.records["test_time_s"].is_monotonic_increasing


def test_the_cycler_seeds_read_unmutated():
    instruments = [[r.instrument for r in read_runs(io.BytesIO(data), name=name)] for data, name in cycler_seeds()]
    assert instruments == [["Arbin"], ["Arbin"], ["Maccor"], ["Maccor"], ["BioLogic"], ["Neware"], ["Neware"],
                           ["BDF"], ["BDF"], ["LAND"], ["Arbin", "Arbin"], ["Neware"]]


@cache
def eis_seeds() -> list[tuple[bytes, str]]:
    return [(path.read_bytes(), path.name) for path in sorted((DATA / "eis").iterdir()) if path.suffix != ".md"]


@fuzz_settings(max_examples=200, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 5), edits=BYTE_EDITS)
def test_every_eis_reader_gives_a_spectrum_or_a_parse_error_for_mutated_files(which, edits):
    data, name = eis_seeds()[which]
    try:
        spectrum = read_eis(io.BytesIO(mutate(data, edits)), name=name)
    except ParseError as exc:
        assert name in str(exc)
        return
    assert (spectrum.freq_hz > 0).all()


@fuzz_settings(max_examples=100, deadline=3000)
@given(raw=st.binary(max_size=3000))
def test_read_eis_gives_a_spectrum_or_a_parse_error_for_random_bytes(raw):
    try:
        read_eis(io.BytesIO(raw), name="fuzz.bin")
    except ParseError:
        pass
