"""EIS readers on the real sample files (figures from shared/samples/SOURCES.md) and on broken variants."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impedance.parsers import EisSpectrum, ParseError, read_eis
from impedance.simulate import study_spectrum

DATA = Path(__file__).resolve().parents[1] / "data" / "eis"
BIOLOGIC = DATA / "impedancepy_exampleDataBioLogic.mpt"
GAMRY = DATA / "impedancepy_exampleDataGamry.DTA"
ZPLOT = DATA / "impedancepy_exampleDataZPlot.z"
CHI = DATA / "impedancepy_exampleDataCHInstruments.txt"
PYDRT = DATA / "pydrttools_LIB_data.txt"
IMPEDANCEPY_CSV = DATA / "impedancepy_exampleData.csv"
SAMPLES = [BIOLOGIC, GAMRY, ZPLOT, CHI, PYDRT, IMPEDANCEPY_CSV]


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("latin-1")


def _parse_text(text: str, name: str = "variant.txt", encoding: str = "latin-1") -> EisSpectrum:
    return read_eis(io.BytesIO(text.encode(encoding)), name=name)


# --- real samples -----------------------------------------------------------------------------------------
def test_it_reads_the_biologic_sample_negating_minus_im_z():
    s = read_eis(BIOLOGIC)
    d = s.data
    assert len(d) == 43
    assert d.freq_hz.min() == pytest.approx(0.01689554) and d.freq_hz.max() == pytest.approx(1000.3201)
    assert d.z_real_ohm.min() == pytest.approx(57.859802) and d.z_real_ohm.max() == pytest.approx(110.97003)
    # file row 1: -Im(Z) = 3.8998979E-001 -> Z'' = -0.38998979
    assert d.z_imag_ohm.iloc[0] == pytest.approx(-0.38998979)
    assert (d.z_imag_ohm < 0).sum() == 39
    assert d.time_s.iloc[0] == pytest.approx(0.7836904905780102)
    assert "sweep" not in d
    m = s.metadata
    assert m["format"] == "biologic-mpt" and m["encoding"] == "latin-1"
    assert m["instrument"].startswith("BioLogic SP-150")
    assert m["area_cm2"] == pytest.approx(0.001)
    assert m["amplitude_mv"] == 20.0 and m["points_per_decade"] == 9.0
    assert m["freq_initial_hz"] == pytest.approx(1000.0) and m["freq_final_hz"] == pytest.approx(0.01)
    assert m["start_time"] == "02/04/2018 10:02:46"
    assert s.warnings == []


def test_it_reads_the_gamry_sample_from_the_zcurve_table_not_the_ocv_table():
    s = read_eis(GAMRY)
    d = s.data
    assert len(d) == 72
    assert d.freq_hz.max() == pytest.approx(200015.6) and d.freq_hz.min() == pytest.approx(0.0158898)
    assert d.z_real_ohm.min() == pytest.approx(825.8584) and d.z_real_ohm.max() == pytest.approx(17007.49)
    assert d.z_imag_ohm.iloc[0] == pytest.approx(-1367.239)  # Zimag is already signed
    m = s.metadata
    assert m["format"] == "gamry-dta" and m["technique"] == "EISPOT"
    assert m["area_cm2"] == 1.0 and m["amplitude_mv"] == 10.0 and m["dc_potential_v"] == pytest.approx(-0.05)
    assert m["units"][2:5] == ["Hz", "ohm", "ohm"]
    assert m["start_time"] == "4/23/2018 16:43:15"


def test_it_reads_the_zplot_sample_and_warns_about_the_declared_point_count():
    s = read_eis(ZPLOT)
    assert len(s.data) == 21
    assert s.metadata["declared_points"] == 56
    assert s.data.freq_hz.max() == pytest.approx(3e5) and s.data.freq_hz.min() == pytest.approx(3e3, rel=0.01)
    assert s.data.z_imag_ohm.iloc[0] == pytest.approx(-11.335)
    assert any("declares 56" in w and "21 rows" in w for w in s.warnings)


def test_it_reads_the_chi_sample():
    s = read_eis(CHI)
    d = s.data
    assert len(d) == 73
    assert d.freq_hz.min() == pytest.approx(0.1) and d.freq_hz.max() == pytest.approx(99610)
    assert d.z_real_ohm.min() == pytest.approx(98.91) and d.z_real_ohm.max() == pytest.approx(5685)
    assert s.metadata["format"] == "chi-txt"
    assert s.metadata["instrument"] == "CH Instruments CHI660E"
    assert s.metadata["amplitude_mv"] == pytest.approx(25.0)


def test_it_reads_the_headerless_pydrttools_file_in_its_descending_order():
    d = read_eis(PYDRT).data
    assert len(d) == 107
    assert np.all(np.diff(d.freq_hz) < 0)
    assert d.freq_hz.iloc[0] == pytest.approx(999.040405) and d.freq_hz.iloc[-1] == pytest.approx(
        0.00500083202
    )
    assert d.z_real_ohm.min() == pytest.approx(0.112362966) and d.z_real_ohm.max() == pytest.approx(
        0.151735559
    )
    inductive = d.z_imag_ohm > 0
    assert inductive.sum() == 7
    assert d.freq_hz[inductive].min() > 450 > d.freq_hz[~inductive].max()


def test_it_reads_the_headerless_impedancepy_csv():
    d = read_eis(IMPEDANCEPY_CSV).data
    assert len(d) == 66
    assert d.freq_hz.min() == pytest.approx(3.1623e-3) and d.freq_hz.max() == pytest.approx(1e4)
    assert (d.z_imag_ohm > 0).sum() == 9
    assert (d.z_imag_ohm[d.freq_hz.nlargest(9).index] > 0).all()


def test_it_reads_a_binary_file_object_and_names_it():
    with BIOLOGIC.open("rb") as fh:
        s = read_eis(fh)
    assert s.source_name == BIOLOGIC.name and len(s.data) == 43


# --- variants of the samples ------------------------------------------------------------------------------
def _biologic_with_data(transform) -> str:
    lines = _read_text(BIOLOGIC).splitlines()
    return "\n".join(lines[:61] + [transform(line) for line in lines[61:]]) + "\n"


def test_it_reads_decimal_commas():
    s = _parse_text(_biologic_with_data(lambda line: line.replace(".", ",")))
    ref = read_eis(BIOLOGIC).data
    assert np.allclose(s.data.z_real_ohm, ref.z_real_ohm) and s.metadata["decimal_comma"]


def test_it_splits_a_looped_biologic_file_on_cycle_number():
    lines = _read_text(BIOLOGIC).splitlines()
    header = lines[60].split("\t")
    cyc = header.index("cycle number")

    def second(line):
        parts = line.split("\t")
        parts[cyc] = "2.000000000000000E+000"
        return "\t".join(parts)

    text = "\n".join(lines + [second(line) for line in lines[61:]]) + "\n"
    s = _parse_text(text)
    assert s.n_sweeps == 2 and len(s.data) == 86
    parts = s.sweeps()
    assert [len(p.data) for p in parts] == [43, 43] and parts[1].metadata["sweep"] == 2
    assert "sweep" not in parts[0].data


def test_it_splits_sweeps_where_the_frequency_jumps_back_up():
    d = study_spectrum("bare", 0).data
    rows = [f"{f},{a},{b}" for f, a, b in zip(d.freq_hz, d.z_real_ohm, d.z_imag_ohm, strict=True)]
    s = _parse_text("freq,Zre,Zim\n" + "\n".join(rows + rows + rows[:30]) + "\n")
    assert s.n_sweeps == 3
    assert s.data.groupby("sweep").size().tolist() == [80, 80, 30]


def test_it_reads_an_autolab_nova_export_with_negated_columns():
    d = study_spectrum("coated", 1).data
    header = "Index;Frequency (Hz);Z' (Ω);-Z'' (Ω);Z (Ω);-Phase (°);Time (s)"
    z = d.z_real_ohm + 1j * d.z_imag_ohm
    rows = [
        f"{i + 1};{f:.6e};{a:.6e};{-b:.6e};{abs(c):.6e};{-np.degrees(np.angle(c)):.4f};{i * 2.5}"
        for i, (f, a, b, c) in enumerate(zip(d.freq_hz, d.z_real_ohm, d.z_imag_ohm, z, strict=True))
    ]
    s = _parse_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert s.metadata["format"] == "autolab-nova"
    assert np.allclose(s.data.z_imag_ohm, d.z_imag_ohm, rtol=1e-5)
    assert s.data.time_s.iloc[-1] == pytest.approx(79 * 2.5)


@pytest.mark.parametrize(
    "header, sep",
    [
        ("Frequency (Hz),Z' (Ohm),Z'' (Ohm)", ","),
        ("f;Zre;Zim", ";"),
        ("freq\tRe(Z)\t-Im(Z)", "\t"),
        ("Freq/Hz Zreal/ohm -Zimag/ohm", " "),
        ('"frequency","real","imag"', ","),
    ],
)
def test_it_maps_common_header_spellings(header, sep):
    d = study_spectrum("bare", 2).data
    negate = "-" in header.split(sep)[2]
    rows = [
        sep.join(f"{v:.8e}" for v in (f, a, -b if negate else b))
        for f, a, b in zip(d.freq_hz, d.z_real_ohm, d.z_imag_ohm, strict=True)
    ]
    s = _parse_text(header + "\n" + "\n".join(rows) + "\n")
    assert np.allclose(s.data.z_imag_ohm, d.z_imag_ohm, rtol=1e-7)
    assert np.allclose(s.data.freq_hz, d.freq_hz, rtol=1e-7)


def test_it_builds_z_from_modulus_and_phase():
    d = read_eis(CHI).data
    text = "freq,|Z|,phase\n" + "\n".join(
        f"{f},{abs(complex(a, b))},{np.degrees(np.angle(complex(a, b)))}"
        for f, a, b in zip(d.freq_hz, d.z_real_ohm, d.z_imag_ohm, strict=True)
    )
    s = _parse_text(text)
    assert np.allclose(s.data.z_real_ohm, d.z_real_ohm) and np.allclose(s.data.z_imag_ohm, d.z_imag_ohm)


def test_it_keeps_the_rows_of_an_aborted_gamry_sweep_and_says_so():
    lines = _read_text(GAMRY).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ZCURVE"))
    text = "\n".join(lines[: start + 3 + 30] + ["EXPERIMENTABORTED"]) + "\n"
    s = _parse_text(text)
    assert len(s.data) == 30 and s.metadata["aborted"] is True
    assert any("EXPERIMENTABORTED" in w for w in s.warnings)


# --- refusals ---------------------------------------------------------------------------------------------
def _refused(text_or_bytes, name="bad.txt") -> str:
    raw = text_or_bytes if isinstance(text_or_bytes, bytes) else text_or_bytes.encode("latin-1")
    with pytest.raises(ParseError) as exc:
        read_eis(io.BytesIO(raw), name=name)
    assert str(exc.value).startswith(f"file '{name}'")
    return str(exc.value)


def test_it_refuses_an_empty_file():
    assert "empty" in _refused(b"")
    assert "empty" in _refused(b"  \n\n")


def test_it_refuses_binary_junk():
    assert "binary" in _refused(bytes(range(256)) * 4)


def test_it_refuses_an_mpr_and_asks_for_the_mpt_export():
    msg = _refused(b"BIO-LOGIC MODULAR FILE\x1a                         \x00\x00\x01", name="cell.mpr")
    assert ".mpt" in msg and "Export as Text" in msg


def test_it_refuses_a_biologic_file_without_a_frequency_column():
    lines = _read_text(BIOLOGIC).splitlines()
    text = "\n".join(lines[:60] + ["\t".join(line.split("\t")[1:]) for line in lines[60:]])
    msg = _refused(text, name="MissingFreq.mpt")
    assert "row 61" in msg and "no frequency column" in msg and "Re(Z)/Ohm" in msg


def test_it_refuses_a_non_numeric_value_naming_line_and_column():
    lines = _read_text(BIOLOGIC).splitlines()
    parts = lines[70].split("\t")
    parts[1] = "abc"
    lines[70] = "\t".join(parts)
    msg = _refused("\n".join(lines))
    assert "row 71" in msg and "'Re(Z)/Ohm'" in msg and "'abc' is not a number" in msg


def test_it_refuses_a_zero_frequency():
    text = "f,Zre,Zim\n" + "\n".join(f"{f},1,-1" for f in [100, 10, 1, 0, 0.1, 0.01]) + "\n"
    msg = _refused(text)
    assert "row 5" in msg and "'f'" in msg and "must be > 0" in msg


def test_it_refuses_fewer_than_five_points():
    assert "only 4 data point(s)" in _refused("f,Zre,Zim\n1000,1,-1\n100,2,-1\n10,3,-1\n1,4,-1\n")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_it_refuses_nan_and_inf(bad):
    text = "f,Zre,Zim\n" + "\n".join(f"{f},1,{bad if f == 1 else -1}" for f in [1000, 100, 10, 1, 0.1]) + "\n"
    msg = _refused(text)
    assert "row 5" in msg and "'Zim'" in msg and "NaN or infinite" in msg


def test_it_refuses_rows_that_do_not_split_into_columns():
    text = "f,Zre,Zim\n" + "\n".join(["1000,1,-1", "100,1,-1,5,6", "10,1,-1", "1,1,-1", "0.1,1,-1"]) + "\n"
    assert "line 3" in _refused(text)


def test_it_refuses_a_missing_file():
    with pytest.raises(ParseError, match="file 'nowhere.mpt': cannot be opened"):
        read_eis(DATA / "nowhere.mpt")


# --- fuzzing ----------------------------------------------------------------------------------------------
def _must_parse_or_refuse(raw: bytes) -> None:
    t0 = time.monotonic()
    try:
        result = read_eis(io.BytesIO(raw), name="fuzz")
    except ParseError:
        pass
    else:
        assert isinstance(result, EisSpectrum)
        assert len(result.data) >= 5 and (result.data.freq_hz > 0).all()
        assert np.isfinite(result.data[["z_real_ohm", "z_imag_ohm"]].to_numpy()).all()
    assert time.monotonic() - t0 < 2.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_it_never_raises_anything_but_parseerror_on_random_bytes(raw):
    _must_parse_or_refuse(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.binary(max_size=12)), min_size=1, max_size=6
    ),
)
def test_it_never_raises_anything_but_parseerror_on_mutated_samples(sample, edits):
    raw = bytearray(sample.read_bytes())
    for where, cut, insert in edits:
        i = int(where * len(raw))
        raw[i : i + cut] = insert
    _must_parse_or_refuse(bytes(raw))


@settings(max_examples=150, deadline=None)
@given(
    sample=st.sampled_from(SAMPLES),
    keep=st.floats(0, 1),
    junk=st.sampled_from(
        ["", "nan", "x", ";", "\t", ",", "-", "1e999", "\x00", '"', "0", "EXPERIMENTABORTED\n"]
    ),
)
def test_it_never_raises_anything_but_parseerror_on_truncated_samples(sample, keep, junk):
    raw = sample.read_bytes()
    _must_parse_or_refuse(raw[: int(keep * len(raw))] + junk.encode())
