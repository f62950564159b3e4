"""R_int you can trust, on generated spectra with exact known parameters (In-Li | LGPS | NMC532, 7 MHz to
0.1 Hz, 0.5 % noise, the leads' inductance): every format, both cells, both 500-cycle series; lin-KK on
valid and drifted sweeps; refusal of sweeps that cannot give R_int; the circuit choice and its reasons."""

import io
import math
import re

import numpy as np
import pytest

from impedance import _impedancepy
from impedance.analysis import (
    DEFAULT_CIRCUIT,
    KK_AMPLITUDE_LIMIT,
    KK_RULE,
    KK_STRUCTURE_LIMIT,
    KK_VERSION,
    fit_circuit,
    fit_spectrum,
    inductive_tail,
    kramers_kronig,
    with_inductor,
)
from impedance.circuits import compile_circuit
from impedance.parsers import ParseError, read_eis
from impedance.simulate import (
    FORMATS,
    STUDY_CIRCUIT,
    STUDY_CIRCUIT_WITH_L,
    STUDY_FREQ_HZ,
    STUDY_INDUCTANCE_H,
    aborted_sweep,
    simulate_spectrum,
    study_params,
    study_series,
    study_spectrum,
    write_spectrum,
)

NOISE = 0.005
TOLERANCE = max(0.01, 3 * NOISE)  # the bar: within max(1 %, 3 x noise) of the truth
EVERY = 10  # cycles between spectra of a generated series: 51 spectra from cycle 0 to 500


def _through_file(spectrum, fmt: str, **kwargs):
    return read_eis(io.BytesIO(write_spectrum(spectrum, fmt, **kwargs)), name=f"{spectrum.source_name}.{fmt}")


def _custom_circuit_class():
    """impedance.py's own CustomCircuit, loaded under the private name (its module imports plotting)."""
    root = _impedancepy._package_dir()
    _impedancepy._load("visualization", root / "visualization.py", rewrite_absolute=True)
    module = _impedancepy._load("models.circuits.circuits", root / "models" / "circuits" / "circuits.py",
                                rewrite_absolute=True)
    return module.CustomCircuit


# --- the generator ------------------------------------------------------------------------------------------
def test_it_generates_the_circuit_impedancepys_customcircuit_predicts():
    params = study_params("coated", cycle=300, inductance_h=STUDY_INDUCTANCE_H)
    spectrum = simulate_spectrum(STUDY_CIRCUIT_WITH_L, params, noise=0.0)
    names = compile_circuit(STUDY_CIRCUIT_WITH_L).parameter_names  # element order, impedance.py's too
    reference = _custom_circuit_class()(STUDY_CIRCUIT_WITH_L, initial_guess=[params[n] for n in names])
    expected = reference.predict(STUDY_FREQ_HZ, use_initial=True)
    assert np.allclose(spectrum.z_ohm, expected, rtol=1e-12, atol=0)
    assert params["R2"] == pytest.approx(248.0 * 1.24)  # 8 % per 100 cycles over 300 cycles
    without = simulate_spectrum(STUDY_CIRCUIT, {n: v for n, v in params.items() if n != "L0"}, noise=0.0)
    assert np.allclose(spectrum.z_ohm - without.z_ohm, 2j * np.pi * STUDY_FREQ_HZ * 2e-7, rtol=1e-9)
    assert spectrum.z_ohm.imag[0] > 7.0  # jwL = 8.8 ohm at 7 MHz puts the top end below the real axis


def test_it_adds_seeded_noise_of_half_a_percent_of_the_modulus():
    a, b = study_spectrum("bare", 7, inductance_h=2e-7), study_spectrum("bare", 7, inductance_h=2e-7)
    exact = study_spectrum("bare", 7, inductance_h=2e-7, noise=0.0)
    assert np.array_equal(a.z_ohm, b.z_ohm)
    rel = (a.z_ohm - exact.z_ohm) / np.abs(exact.z_ohm)
    assert np.std(np.r_[rel.real, rel.imag]) == pytest.approx(NOISE, rel=0.15)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_writes_every_format_the_app_reads_to_seven_digits(fmt):
    spectrum = study_spectrum("coated", 3, inductance_h=STUDY_INDUCTANCE_H)
    parsed = _through_file(spectrum, fmt)
    assert len(parsed.data) == 80 and parsed.warnings == []
    assert np.allclose(parsed.freq_hz, spectrum.freq_hz, rtol=1e-6)
    assert np.allclose(parsed.z_ohm, spectrum.z_ohm, rtol=1e-6, atol=1e-9)


# --- R_int with the default settings ------------------------------------------------------------------------
def test_it_gets_r_int_within_max_1pct_3x_noise_for_98pct_of_both_series_in_every_format():
    """Both cells' series over 500 cycles (51 + 51 spectra), each written in the next format in turn and read
    back, fitted with the default settings (circuit chosen from the data)."""
    rows = []
    for kind in ("bare", "coated"):
        for k, spectrum in enumerate(study_series(kind, cycles=range(0, 501, EVERY))):
            fmt = FORMATS[k % len(FORMATS)]
            truth = spectrum.metadata["true_params"]["R2"]
            result = fit_spectrum(_through_file(spectrum, fmt))
            rows.append((kind, fmt, result.circuit, result.r_int_ohm / truth - 1, result.r_int_stderr_ohm / truth))
    errors = np.array([abs(r[3]) for r in rows])
    within = errors <= TOLERANCE
    assert len(rows) == 102 and {r[1] for r in rows} == set(FORMATS)
    assert within.mean() >= 0.98, [r for r, ok in zip(rows, within, strict=True) if not ok]
    assert {r[2] for r in rows} == {STUDY_CIRCUIT_WITH_L}  # every one of them has the inductive tail
    assert np.abs(np.mean([r[3] for r in rows])) < 0.002  # unbiased (it was +2.3 % on coated cells without L0)
    # the reported standard error is the scatter it claims to be (within a factor 1.5)
    z = np.array([r[3] / r[4] for r in rows])
    assert 0.67 < np.std(z) < 1.5


def test_it_gets_the_same_r_int_from_every_format_of_the_same_spectrum():
    """Each series above sends each spectrum through one format; here the same spectra go through all six
    (written to 7 digits): the R_int of each format is the in-memory one, so the 98 % holds per format.
    Measured over all 612 (102 spectra x 6 formats): bare 51/51 and coated 49/51 within 1.5 % in every
    format; coated's own standard error is 0.7 %, so 1.5 % is 2.1 standard errors (96.6 % expected)."""
    for kind in ("bare", "coated"):
        for spectrum in study_series(kind, cycles=(0, 250, 500)):
            reference = fit_spectrum(spectrum).r_int_ohm
            for fmt in FORMATS:
                assert fit_spectrum(_through_file(spectrum, fmt)).r_int_ohm == pytest.approx(reference, rel=2e-4)


def test_it_was_biased_by_the_inductance_without_the_inductor():
    """The old default: R0-p(R1,CPE1)-p(R2,CPE2)-Wo1 on coated spectra with L0 comes out ~2 % high."""
    errors = [
        fit_circuit(study_spectrum("coated", seed, inductance_h=STUDY_INDUCTANCE_H), DEFAULT_CIRCUIT).r_int_ohm / 248 - 1
        for seed in range(6)
    ]
    assert np.mean(errors) > 0.015
    chosen = [fit_spectrum(study_spectrum("coated", seed, inductance_h=STUDY_INDUCTANCE_H)) for seed in range(6)]
    assert abs(np.mean([r.r_int_ohm / 248 - 1 for r in chosen])) < 0.004


# --- circuit choice ------------------------------------------------------------------------------------------
def test_it_adds_an_inductor_when_the_top_end_is_inductive_and_says_why():
    spectrum = study_spectrum("bare", 2, inductance_h=STUDY_INDUCTANCE_H)
    tail = inductive_tail(spectrum)
    assert tail["detected"] and tail["n_points"] >= 4 and tail["max_z_imag_ohm"] > 7
    result = fit_spectrum(spectrum)
    assert result.circuit == with_inductor(DEFAULT_CIRCUIT) == "L0-" + DEFAULT_CIRCUIT
    prov = result.provenance
    assert prov["chosen_by"] == "AIC" and [c["circuit"] for c in prov["candidates"]] == [DEFAULT_CIRCUIT, result.circuit]
    aic = [c["aic"] for c in prov["candidates"]]
    assert aic[1] < aic[0] - 2 and "lowest AIC" in prov["reason"] and "inductive tail" in prov["reason"]
    assert result.params["L0"] == pytest.approx(2e-7, rel=0.05)
    assert result.r_int_ohm == pytest.approx(1400, rel=TOLERANCE)


def test_it_keeps_the_plain_circuit_without_an_inductive_tail():
    spectrum = study_spectrum("coated", 4)
    assert not inductive_tail(spectrum)["detected"]
    result = fit_spectrum(spectrum)
    assert result.circuit == DEFAULT_CIRCUIT and len(result.provenance["candidates"]) == 1
    assert result.provenance["reason"].startswith("no inductive tail")
    assert result.r_int_ohm == pytest.approx(248, rel=TOLERANCE)


def test_it_fits_only_the_capacitive_points_when_asked_and_that_is_biased_so_it_is_not_the_default():
    """The issue's alternative to the inductor: crop Z'' >= 0 and fit the plain circuit. The inductance still
    has a share in the capacitive points next to the crossing, so coated R_int comes out ~2 % high."""
    rows = []
    for kind, truth in (("coated", 248.0), ("bare", 1400.0)):
        for seed in range(8):
            spectrum = study_spectrum(kind, 600 + seed, inductance_h=STUDY_INDUCTANCE_H)
            cropped = fit_spectrum(spectrum, capacitive_only=True)
            default = fit_spectrum(spectrum)
            assert cropped.circuit == DEFAULT_CIRCUIT and cropped.n_points == 75 and cropped.has_r_int
            prov = cropped.provenance
            assert prov["capacitive_only"] and prov["n_points_dropped"] == 5 and "capacitive points only" in prov["reason"]
            rows.append((kind, cropped.r_int_ohm / truth - 1, default.r_int_ohm / truth - 1))
    # paired on the same spectra, so the noise cancels: the cropped fit's excess over the inductor fit
    excess = {k: np.array([r[1] - r[2] for r in rows if r[0] == k]) for k in ("coated", "bare")}
    assert excess["coated"].mean() == pytest.approx(0.022, abs=0.004) and excess["coated"].min() > 0.015
    assert 0.001 < excess["bare"].mean() < 0.005
    assert abs(np.mean([r[2] for r in rows])) < 0.004  # the default (with L0) is the unbiased one


def test_it_fits_the_circuit_it_is_given_and_records_where_it_came_from():
    spectrum = study_spectrum("coated", 4, inductance_h=STUDY_INDUCTANCE_H)
    result = fit_spectrum(spectrum, circuit=DEFAULT_CIRCUIT, circuit_source="kept from the series")
    assert result.circuit == DEFAULT_CIRCUIT
    assert result.provenance == {"circuit": DEFAULT_CIRCUIT, "chosen_by": "given", "reason": "kept from the series"}


# --- lin-KK -------------------------------------------------------------------------------------------------
KK_SEEDS = range(12)


def _valid(kind, seed, **kwargs):
    return study_spectrum(kind, 4000 + seed, cycle=(40 * seed) % 520, **kwargs)


def _drifted(kind, seed, ramp, **kwargs):
    """R2 ramped by ``ramp`` (0.1 = 10 %) over the sweep's clock, high to low frequency (each point lasts two
    periods, at least 0.5 s: 127 s in all, 69 % of it below 1 Hz)."""
    return study_spectrum(kind, 4000 + seed, inductance_h=STUDY_INDUCTANCE_H, drift={"R2": ramp}, **kwargs)


def test_it_passes_lin_kk_on_every_valid_spectrum_of_both_series():
    worst_structure = worst_amplitude = 0.0
    for kind in ("bare", "coated"):
        for spectrum in study_series(kind, cycles=range(0, 501, EVERY)):
            kk = kramers_kronig(spectrum)
            assert kk.passes, (spectrum.source_name, kk.finding)
            assert kk.n_rc >= 8  # at least one RC element per measured decade (7.8 decades)
            assert kk.mu < kk.c
            assert 0.3 < kk.noise_pct < 0.75  # the generator's 0.5 % of |Z|, estimated from the residuals
            worst_structure, worst_amplitude = max(worst_structure, kk.structure), max(worst_amplitude, kk.amplitude)
    # margins: the worst of the 102 against the limits (over 2000 generated valid spectra: 3.74 and 5.18)
    assert worst_structure < KK_STRUCTURE_LIMIT - 0.5 and worst_amplitude < KK_AMPLITUDE_LIMIT - 0.5


@pytest.mark.parametrize("kind", ["bare", "coated"])
@pytest.mark.parametrize("inductance_h", [None, STUDY_INDUCTANCE_H, 1e-6])
def test_it_passes_lin_kk_on_every_valid_spectrum_of_each_seed(kind, inductance_h):
    results = [kramers_kronig(_valid(kind, seed, inductance_h=inductance_h)) for seed in KK_SEEDS]
    assert all(kk.passes for kk in results), [kk.finding for kk in results if not kk.passes]
    assert max(kk.structure for kk in results) < KK_STRUCTURE_LIMIT - 0.5
    assert max(kk.amplitude for kk in results) < KK_AMPLITUDE_LIMIT - 0.5


def test_it_passes_the_bare_spectra_impedancepy_failed_with_five_rc_elements():
    """impedance.py 1.7.1's linKK stops at M = 5 on these and reports ~49 % (the demo's false warning)."""
    for cycle in (100, 200):
        spectrum = study_spectrum("bare", cycle, cycle=cycle)
        kk = kramers_kronig(spectrum)
        assert kk.passes and kk.max_abs_residual_pct < 2.0 and kk.n_rc > 15


def test_it_does_not_cry_wolf_on_a_noisier_instrument():
    """1 % noise: every residual is noise, the old 2 %-of-|Z| limit failed all of these, the rule passes them."""
    for kind in ("bare", "coated"):
        for seed in KK_SEEDS:
            kk = kramers_kronig(_valid(kind, seed, noise=0.01, inductance_h=STUDY_INDUCTANCE_H))
            assert kk.passes and kk.max_abs_residual_pct > 2.0 and kk.noise_pct == pytest.approx(1.0, rel=0.35)


@pytest.mark.parametrize(("kind", "ramp"), [("bare", 0.2), ("bare", 0.3), ("bare", 0.5), ("coated", 0.3),
                                            ("coated", 0.5)])
def test_it_fails_lin_kk_on_every_drifted_sweep(kind, ramp):
    """Every seed fails, each for structured residuals at the low-frequency end where the sweep spends its time
    (weakest over 100 seeds: bare 20 % 4.95, coated 30 % 4.81, against the limit of 4.5)."""
    for seed in KK_SEEDS:
        kk = kramers_kronig(_drifted(kind, seed, ramp))
        assert not kk.passes and kk.structure >= KK_STRUCTURE_LIMIT, (seed, kk.structure)
        assert kk.structure_window["to_hz"] < 30 and "drifts during the sweep" in kk.finding


@pytest.mark.parametrize(("kind", "ramp"), [("bare", 0.1), ("coated", 0.2)])
def test_it_fails_smaller_ramps_on_a_quieter_instrument(kind, ramp):
    """0.2 % noise (the accuracy of a good analyser, the rule's noise floor): R2 ramped 10 % on bare cells and
    20 % on coated ones fails on every seed; the valid spectra of the same seeds pass."""
    for seed in KK_SEEDS:
        kk = kramers_kronig(_drifted(kind, seed, ramp, noise=0.002))
        assert not kk.passes and kk.structure > KK_STRUCTURE_LIMIT + 1, (seed, kk.structure)
        assert kramers_kronig(_valid(kind, seed, noise=0.002, inductance_h=STUDY_INDUCTANCE_H)).passes


def test_it_states_how_much_of_a_10pct_ramp_any_kk_test_can_see_at_half_a_percent_noise():
    """The limit of the data, not of the rule: lin-KK absorbs what a KK-consistent spectrum can explain, and
    what is left of a noise-free 10 % ramp is only ~3.5 (coated) and ~5.4 (bare) noise standard deviations in
    all 160 residuals together. Even a test that knew the drift's exact shape would miss a third of the
    coated ones at a 3-sigma limit; the rule catches a quarter of the bare ones and almost no coated ones."""
    seen = {}
    for kind in ("bare", "coated"):
        kk = kramers_kronig(_drifted(kind, 0, 0.1, noise=0.0), max_m=24)
        seen[kind] = math.hypot(*map(np.linalg.norm, (kk.residuals_real_pct, kk.residuals_imag_pct))) / (100 * NOISE)
    assert seen["coated"] == pytest.approx(3.5, abs=0.3) and seen["bare"] == pytest.approx(5.4, abs=0.4)
    caught = sum(not kramers_kronig(_drifted("bare", seed, 0.1)).passes for seed in range(20))
    assert 2 <= caught <= 10


def test_it_fails_lin_kk_on_a_single_bad_point():
    spectrum = _valid("coated", 1, inductance_h=STUDY_INDUCTANCE_H)
    spectrum.data.loc[40, "z_real_ohm"] *= 1.05  # one point 5 % off (a range switch, a loose contact)
    kk = kramers_kronig(spectrum)
    assert not kk.passes and kk.amplitude > KK_AMPLITUDE_LIMIT and "times the noise" in kk.finding


def test_it_needs_the_inductance_term_of_lin_kk_for_inductive_spectra():
    spectrum = study_spectrum("coated", 5, inductance_h=1e-6)
    with_l, without_l = kramers_kronig(spectrum), kramers_kronig(spectrum, add_inductance=False)
    assert with_l.passes and with_l.inductance_h == pytest.approx(1e-6, rel=0.05)
    assert without_l.max_abs_residual_pct > with_l.max_abs_residual_pct and not without_l.passes


def test_it_needs_the_capacitance_term_of_lin_kk_for_a_blocking_tail():
    spectrum = simulate_spectrum("R0-p(R1,CPE1)-C2", {"R0": 45.0, "R1": 1400.0, "CPE1_0": 4.93e-6, "CPE1_1": 0.8,
                                                       "C2": 1e-3}, seed=3)
    with_c, without_c = kramers_kronig(spectrum), kramers_kronig(spectrum, add_cap=False)
    assert with_c.passes and with_c.capacitance_f == pytest.approx(1e-3, rel=0.1)
    assert not without_c.passes


def test_it_reports_residuals_on_both_parts_per_frequency():
    kk = kramers_kronig(study_spectrum("bare", 1))
    d = kk.to_dict()
    assert len(d["residuals_real_pct"]) == len(d["residuals_imag_pct"]) == len(d["freq_hz"]) == 80
    assert d["max_abs_residual_pct"] == pytest.approx(
        max(np.max(np.abs(d["residuals_real_pct"])), np.max(np.abs(d["residuals_imag_pct"]))))
    assert d["c"] == 0.85 and d["add_cap"] and d["add_inductance"] and "Schönleber" in d["method"]
    assert d["version"] == KK_VERSION and d["rule"] == KK_RULE and d["finding"] == ""
    assert d["threshold_pct"] == pytest.approx(KK_AMPLITUDE_LIMIT * d["noise_pct"])


# --- refusal ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_it_gives_no_r_int_for_an_aborted_five_point_sweep(fmt):
    spectrum = _through_file(aborted_sweep(study_spectrum("coated", 9, inductance_h=STUDY_INDUCTANCE_H)), fmt,
                             aborted=True)
    assert len(spectrum.data) == 5
    result = fit_spectrum(spectrum)
    assert not result.has_r_int and math.isnan(result.r_int_ohm) and not result.converged
    assert result.refused.startswith("only 5 points for the 9 free parameters")
    assert result.to_dict()["r_int_ohm"] is None
    assert result.warnings and "aborted" in result.warnings[0]


@pytest.mark.parametrize(("kind", "truth", "stopped_at", "given_from"), [("bare", 1400.0, (35, 55), 60),
                                                                     ("coated", 248.0, (35, 45), 50)])
def test_it_gives_no_r_int_for_a_sweep_aborted_before_the_interface_arc_closes(kind, truth, stopped_at, given_from):
    """Stopped at 3 kHz (35 points) the fit finds a ghost arc (~5 % of R_int, standard error twice that): no
    R_int. Stopped inside the arc (bare 30 Hz, coated 300 Hz: less than half a decade below its apex): no R_int
    either (it came out +2.2 % with a standard error of 0.5 %). Once the arc closes within the data R_int is
    given, within its standard error of the truth."""
    spectrum = study_spectrum(kind, 701, inductance_h=STUDY_INDUCTANCE_H)
    for n in stopped_at:
        result = fit_spectrum(aborted_sweep(spectrum, n), time_limit_s=3)
        assert not result.has_r_int and result.refused.endswith("no R_int is given"), (n, result.r_int_ohm)
        assert "standard error" in result.refused or "does not close within the data" in result.refused
    result = fit_spectrum(aborted_sweep(spectrum, given_from))
    assert result.has_r_int and abs(result.r_int_ohm - truth) < 2 * result.r_int_stderr_ohm


def test_it_refuses_a_sweep_without_an_arc():
    spectrum = simulate_spectrum("L0-R0", {"L0": 2e-7, "R0": 45.0}, noise=0.001)
    result = fit_spectrum(spectrum)
    assert not result.has_r_int and result.refused.startswith("no arc")


def test_it_refuses_a_span_too_short_for_the_circuit():
    short = simulate_spectrum(STUDY_CIRCUIT, study_params("bare"), STUDY_FREQ_HZ[:25])  # 7 MHz to 20 kHz
    result = fit_spectrum(short)
    assert re.match(r"the sweep spans 2\.\d decades .* too short for the 3 time constants", result.refused)


def test_it_refuses_r_int_when_the_interface_arc_lies_below_the_measured_range():
    stopped = simulate_spectrum(STUDY_CIRCUIT, study_params("bare"), STUDY_FREQ_HZ[:40])  # down to ~940 Hz
    result = fit_spectrum(stopped)
    assert not result.has_r_int
    assert "interface arc (R2)" in result.refused and "outside the measured" in result.refused


# --- parser messages ----------------------------------------------------------------------------------------
def _csv(rows):
    return io.BytesIO(("f,Z',Z''\n" + "\n".join(rows) + "\n").encode())


def test_it_names_the_first_bad_cell_of_the_file_not_the_first_bad_column():
    rows = [f"{10 ** (3 - k / 10):.4g},{1 + k},{-0.1 - k}" for k in range(60)]
    rows[47] = "1e3,abc,-1"  # line 49, column Z'
    rows[12] = "1e3,2,xyz"  # line 14, column Z''
    with pytest.raises(ParseError, match=r"^file 't\.csv', row 14, column \"Z''\": value 'xyz' is not a number$"):
        read_eis(_csv(rows), name="t.csv")
    rows[12] = "0,2,xyz"  # on one row the leftmost bad cell wins
    with pytest.raises(ParseError, match=r"row 14, column 'f': frequency must be > 0, got 0"):
        read_eis(_csv(rows), name="t.csv")


def test_it_says_so_when_a_column_is_zero_or_empty_everywhere():
    with pytest.raises(ParseError, match=r"column 'f' is 0 in every data row \(lines 2-21\)"):
        read_eis(_csv([f"0,{1 + k},-1" for k in range(20)]), name="t.csv")
    with pytest.raises(ParseError, match=r"column \"Z'\" is empty in every data row \(lines 2-21\)"):
        read_eis(_csv([f"{k + 1},,-1" for k in range(20)]), name="t.csv")


def _rows_of(spectrum, raw: str):
    """Line index of each point in a written file (found by its frequency and Z' as written, 7 digits)."""
    lines = raw.split("\n")
    f, z = spectrum.freq_hz, spectrum.z_ohm
    found = [next(i for i, line in enumerate(lines) if f"{f[k]:.7E}" in line and f"{z.real[k]:.7E}" in line)
             for k in range(len(f))]
    return lines, found


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_names_the_first_bad_cell_and_an_all_zero_column_in_every_format(fmt):
    spectrum = study_spectrum("coated", 3, inductance_h=STUDY_INDUCTANCE_H)
    f, z = spectrum.freq_hz, spectrum.z_ohm
    lines, rows = _rows_of(spectrum, write_spectrum(spectrum, fmt).decode("latin-1"))

    def read(edited):
        return read_eis(io.BytesIO("\n".join(edited).encode("latin-1")), name=f"t.{fmt}")

    bad = list(lines)
    bad[rows[47]] = bad[rows[47]].replace(f"{f[47]:.7E}", "q1", 1)  # a later row, the first column
    bad[rows[12]] = bad[rows[12]].replace(f"{z.real[12]:.7E}", "abc", 1)  # an earlier row, a later column
    with pytest.raises(ParseError, match=rf"^file 't\.{fmt}', row {rows[12] + 1}, column .*Z.*: value 'abc' is not a number$"):
        read(bad)
    for value_of in (lambda k: f[k], lambda k: z.real[k]):  # the frequency, then Z'
        zero = list(lines)
        for k, i in enumerate(rows):
            zero[i] = zero[i].replace(f"{value_of(k):.7E}", f"{0.0:.7E}", 1)
        with pytest.raises(ParseError, match=rf"column .* is 0 in every data row \(lines {rows[0] + 1}-{rows[-1] + 1}\)"):
            read(zero)
