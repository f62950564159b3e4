"""Fitting, R_int and Kramers-Kronig checks on synthetic spectra with known answers and on real samples."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from impedance import _impedancepy
from impedance.analysis import (
    DEFAULT_CIRCUIT,
    R_INT_ELEMENTS,
    fit_circuit,
    fit_series,
    initial_guess,
    kramers_kronig,
)
from impedance.parsers import read_eis
from impedance.simulate import STUDY_PARAMS, simulate_spectrum, study_spectrum

DATA = Path(__file__).resolve().parents[1] / "data" / "eis"
REPO = Path(__file__).resolve().parents[2]


def test_it_keeps_the_pure_modules_free_of_django():
    code = (
        "import impedance.parsers, impedance.analysis, impedance.simulate, impedance.circuits; import sys; "
        "assert 'django' not in sys.modules, 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_it_leaves_the_app_package_init_empty():
    assert (REPO / "impedance" / "__init__.py").read_text() == ""


# --- the numpy-2 shim and the library -------------------------------------------------------------------
def test_it_runs_impedancepys_linkk_under_numpy_2():
    s = read_eis(DATA / "impedancepy_exampleData.csv")
    m, mu, z_fit, res_re, res_im = _impedancepy.validation.linKK(s.freq_hz, s.z_ohm, c=0.85, max_M=10)
    assert 3 <= m <= 10 and len(res_re) == 66 and np.all(np.isfinite(res_im))


def test_it_fits_like_impedancepys_own_circuit_fit():
    spectrum = study_spectrum("bare", 3)
    ours = fit_circuit(spectrum)
    guess = initial_guess(spectrum)
    theirs, _ = _impedancepy.fitting.circuit_fit(
        spectrum.freq_hz,
        spectrum.z_ohm,
        DEFAULT_CIRCUIT,
        [guess.values[n] for n in ours.parameter_names],
        bounds=(
            [guess.bounds[n][0] for n in ours.parameter_names],
            [guess.bounds[n][1] for n in ours.parameter_names],
        ),
        weight_by_modulus=True,
    )
    assert np.allclose(ours.values, theirs, rtol=0.01)
    assert ours.library_versions["impedance"] == "1.7.1"


# --- recovery of known circuits -------------------------------------------------------------------------
F_STUDY = np.logspace(np.log10(7e6), -1, 80)


@pytest.mark.parametrize(
    "circuit, truth",
    [
        ("R0-p(R1,C1)", {"R0": 20.0, "R1": 500.0, "C1": 1e-7}),
        (
            "R0-p(R1,CPE1)-CPE2",
            {"R0": 30.0, "R1": 800.0, "CPE1_0": 3e-6, "CPE1_1": 0.82, "CPE2_0": 2e-3, "CPE2_1": 0.7},
        ),
        (
            "R0-p(R1,CPE1)-p(R2,CPE2)",
            {
                "R0": 12.0,
                "R1": 60.0,
                "CPE1_0": 1e-8,
                "CPE1_1": 0.9,
                "R2": 900.0,
                "CPE2_0": 2e-5,
                "CPE2_1": 0.75,
            },
        ),
        (DEFAULT_CIRCUIT, STUDY_PARAMS["bare"]),
        (DEFAULT_CIRCUIT, STUDY_PARAMS["coated"]),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_recovers_known_circuits_from_spectra_with_half_a_percent_noise(circuit, truth, seed):
    spectrum = simulate_spectrum(circuit, truth, F_STUDY, noise=0.005, seed=seed)
    result = fit_circuit(spectrum, circuit, r_int_elements=())
    assert result.converged, result.message
    for name, value in result.params.items():
        if name.startswith("R"):
            assert value == pytest.approx(truth[name], rel=0.02), name
        if name.startswith("CPE") and name.endswith("_1"):
            assert value == pytest.approx(truth[name], rel=0.05), name


@pytest.mark.parametrize("seed", range(6))
def test_it_keeps_errors_within_three_standard_errors_when_a_broad_arc_hides_a_small_one(seed):
    # R1 (300 ohm) sits on the flank of a 3000 ohm arc with exponent 0.7: its standard error is ~1.1 %, so
    # the 2 % promise does not hold for it, but the reported error does.
    truth = {**STUDY_PARAMS["bare"], "R0": 80.0, "R1": 300.0, "R2": 3000.0, "CPE2_1": 0.7}
    result = fit_circuit(simulate_spectrum(DEFAULT_CIRCUIT, truth, noise=0.005, seed=seed))
    for name in ("R0", "R1", "R2", "CPE1_1", "CPE2_1"):
        assert abs(result.params[name] - truth[name]) < 3 * result.errors[name], name
    assert result.r_int_ohm == pytest.approx(3000, rel=0.02)


@pytest.mark.parametrize("seed", range(5))
def test_it_finds_the_studys_interface_resistance_bare_1400_vs_coated_248_ohm(seed):
    bare = fit_circuit(study_spectrum("bare", seed))
    coated = fit_circuit(study_spectrum("coated", seed))
    assert bare.r_int_ohm == pytest.approx(1400, rel=0.02)
    assert coated.r_int_ohm == pytest.approx(248, rel=0.02)
    for result in (bare, coated):
        assert result.r_int_elements == R_INT_ELEMENTS == ("R2",)
        assert "cathode|electrolyte interface arc" in result.r_int_definition
        assert 0 < result.r_int_stderr_ohm < 0.02 * result.r_int_ohm
        assert result.warnings == []
        assert result.params["CPE1_1"] == pytest.approx(0.85, rel=0.05)
        assert result.params["CPE2_1"] == pytest.approx(0.80, rel=0.05)


def test_it_reports_standard_errors_that_match_the_scatter_over_seeds():
    fits = [fit_circuit(study_spectrum("bare", seed)) for seed in range(20)]
    r2 = np.array([f.r_int_ohm for f in fits])
    err = np.array([f.r_int_stderr_ohm for f in fits])
    assert 0.5 < r2.std(ddof=1) / err.mean() < 2.0
    assert np.all(np.abs(r2 - 1400) < 5 * err)


def test_it_gives_area_specific_r_int_and_the_definition_used():
    result = fit_circuit(study_spectrum("bare", 0), area_cm2=0.785)
    assert result.r_int_area_ohm_cm2 == pytest.approx(result.r_int_ohm * 0.785)
    assert result.r_int_area_stderr_ohm_cm2 == pytest.approx(result.r_int_stderr_ohm * 0.785)
    total = fit_circuit(study_spectrum("bare", 0), r_int_elements=("R1", "R2"))
    assert total.r_int_ohm == pytest.approx(1520, rel=0.02)
    assert "sum of the interface arc resistances" in total.r_int_definition


def test_it_takes_the_area_from_the_file_when_not_given():
    spectrum = study_spectrum("coated", 0)
    spectrum.metadata["area_cm2"] = 2.0
    assert fit_circuit(spectrum).r_int_area_ohm_cm2 == pytest.approx(2 * fit_circuit(spectrum).r_int_ohm)


def test_it_holds_fixed_parameters_and_reports_zero_error_for_them():
    spectrum = study_spectrum("coated", 2)
    result = fit_circuit(spectrum, fixed={"R1": 120.0, "CPE1_0": 2.7e-7, "CPE1_1": 0.85})
    assert result.params["R1"] == 120.0 and result.errors["R1"] == 0.0
    assert result.fixed == ["R1", "CPE1_0", "CPE1_1"]
    assert result.r_int_ohm == pytest.approx(248, rel=0.01)


def test_it_flags_low_cpe_exponents_and_large_relative_errors():
    truth = {"R0": 30.0, "R1": 800.0, "CPE1_0": 3e-5, "CPE1_1": 0.5, "CPE2_0": 2e-3, "CPE2_1": 0.7}
    result = fit_circuit(
        simulate_spectrum("R0-p(R1,CPE1)-CPE2", truth, noise=0.005),
        "R0-p(R1,CPE1)-CPE2",
        r_int_elements=("R1",),
    )
    assert any("CPE1_1" in w and "below 0.6" in w for w in result.warnings)
    noisy = fit_circuit(study_spectrum("coated", 0, noise=0.08))
    # loose elements outside R_int are notes; a warning would be about R_int itself
    assert any("relative standard error" in w for w in noisy.notes)
    assert not any("relative standard error" in w and not w.startswith("R2") for w in noisy.warnings)


def test_it_stops_at_the_time_limit_and_says_so():
    result = fit_circuit(study_spectrum("bare", 0), time_limit_s=0.0)
    assert not result.converged
    assert any("time limit" in w for w in result.warnings)
    assert len(result.values) == 9 and np.all(np.isfinite(result.values))


def test_it_refuses_bad_arguments_before_fitting():
    spectrum = study_spectrum("bare", 0)
    with pytest.raises(ValueError, match="unexpected token"):
        fit_circuit(spectrum, "R0-__import__('os')")
    with pytest.raises(ValueError, match="not a resistor"):
        fit_circuit(spectrum, r_int_elements=("CPE2",))
    with pytest.raises(ValueError, match="unknown parameter"):
        fit_circuit(spectrum, initial={"R9": 1.0})
    with pytest.raises(ValueError, match="weighting"):
        fit_circuit(spectrum, weighting="proportional-ish")


def test_it_refuses_to_fit_a_looped_file_as_one_spectrum():
    lines = [
        f"{f},{z.real},{z.imag}"
        for f, z in zip(study_spectrum("bare").freq_hz, study_spectrum("bare").z_ohm, strict=True)
    ]
    import io

    looped = read_eis(io.BytesIO(("f,zre,zim\n" + "\n".join(lines * 2)).encode()), name="loop.csv")
    with pytest.raises(ValueError, match="2 sweeps"):
        fit_circuit(looped)
    assert [fit_circuit(s).r_int_ohm == pytest.approx(1400, rel=0.02) for s in looped.sweeps()] == [
        True,
        True,
    ]


def test_it_serialises_a_fit_to_json():
    payload = fit_circuit(study_spectrum("bare", 0)).to_dict()
    text = json.dumps(payload)
    assert json.loads(text)["parameter_names"][4] == "R2"
    assert payload["units"][4] == "Ohm" and payload["library_versions"]["impedance"] == "1.7.1"


def test_it_fits_the_real_biologic_sample_with_a_minimal_circuit():
    spectrum = read_eis(DATA / "impedancepy_exampleDataBioLogic.mpt")
    result = fit_circuit(spectrum, "R0-p(R1,CPE1)-CPE2", r_int_elements=("R1",))
    assert result.converged
    assert 40 < result.params["R0"] < 70  # the high-frequency intercept is near 58-65 ohm
    assert result.chi_square_reduced < 1e-3


# --- series --------------------------------------------------------------------------------------------
def test_it_seeds_each_fit_of_a_series_with_the_previous_one():
    growth = [1400, 1450, 1520, 1600, 1700]
    spectra = [
        simulate_spectrum(DEFAULT_CIRCUIT, {**STUDY_PARAMS["bare"], "R2": r2}, noise=0.005, seed=k)
        for k, r2 in enumerate(growth)
    ]
    results = fit_series(spectra)
    assert [r.r_int_ohm for r in results] == pytest.approx(growth, rel=0.02)
    fresh = [fit_circuit(s) for s in spectra[1:]]
    assert sum(r.n_evaluations for r in results[1:]) < sum(r.n_evaluations for r in fresh)


# --- Kramers-Kronig -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["bare", "coated"])
def test_it_passes_kk_for_a_stationary_cell(kind):
    kk = kramers_kronig(study_spectrum(kind, 0))
    assert kk.passes and kk.max_abs_residual_pct < 2.0
    assert len(kk.residuals_real_pct) == len(kk.residuals_imag_pct) == 80
    assert kk.n_rc > 3


def test_it_fails_kk_for_a_drifting_cell():
    drifting = simulate_spectrum(DEFAULT_CIRCUIT, STUDY_PARAMS["bare"], noise=0.005, drift={"R2": 0.3})
    kk = kramers_kronig(drifting)
    assert not kk.passes
    assert kk.max_abs_residual_pct > 2.0
    assert json.loads(json.dumps(kk.to_dict()))["passes"] is False


def test_it_runs_kk_on_the_real_samples_without_printing(capsys):
    names = [
        "impedancepy_exampleData.csv",
        "impedancepy_exampleDataBioLogic.mpt",
        "impedancepy_exampleDataCHInstruments.txt",
        "impedancepy_exampleDataGamry.DTA",
        "pydrttools_LIB_data.txt",
    ]
    results = {name: kramers_kronig(read_eis(DATA / name)) for name in names}
    assert capsys.readouterr().out == ""
    assert results["impedancepy_exampleDataCHInstruments.txt"].max_abs_residual_pct < 5
    assert all(np.isfinite(r.max_abs_residual_pct) for r in results.values())
