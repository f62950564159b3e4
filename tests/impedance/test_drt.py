"""The DRT on seeded spectra with an exact truth (ZARC arcs, diffusion, inductance, 0.5 % noise)."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from impedance.drt import DrtError, DrtPeak, drt_fit, drt_peaks, match_peaks
from impedance.simulate_drt import Arc, Diffusion, drt_truth_spectrum

REPO = Path(__file__).resolve().parents[2]
SEEDS = range(10)

TWO_DECADES = [Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-1, 0.9)]
ONE_DECADE = [Arc(100, 1e-4, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-2, 0.9)]
CASES = {
    "three arcs two decades apart": dict(arcs=TWO_DECADES),
    "three arcs a decade apart": dict(arcs=ONE_DECADE),
    "three arcs with lead inductance": dict(arcs=TWO_DECADES, inductance_h=1e-6),
    "two arcs and blocking diffusion (Wo)": dict(arcs=TWO_DECADES[:2], diffusion=Diffusion(400, 2, "Wo")),
    "two arcs, transmissive diffusion (Ws), inductance": dict(
        arcs=TWO_DECADES[:2], diffusion=Diffusion(200, 2, "Ws"), inductance_h=1e-6),
}


def _nearest(peaks, tau_s):
    return min(range(len(peaks)), key=lambda i: abs(math.log10(peaks[i].tau_s / tau_s)))


def test_it_imports_without_django():
    code = ("import impedance.drt, impedance.simulate_drt, sys; "
            "assert 'django' not in sys.modules, 'django imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


@pytest.mark.parametrize("case", list(CASES))
def test_it_finds_each_arc_and_the_series_terms_of_seeded_spectra(case):
    worst = {"tau_dec": 0.0, "r_rel": 0.0, "spurious": 0.0, "r_inf_rel": 0.0, "r_pol_rel": 0.0}
    for seed in SEEDS:
        spectrum, truth = drt_truth_spectrum(seed=seed, **CASES[case])
        result = drt_fit(spectrum)
        matched = set()
        for arc in truth.arcs:
            i = _nearest(result.peaks, arc.tau_s)
            matched.add(i)
            peak = result.peaks[i]
            worst["tau_dec"] = max(worst["tau_dec"], abs(math.log10(peak.tau_s / arc.tau_s)))
            worst["r_rel"] = max(worst["r_rel"], abs(peak.resistance_ohm / arc.r_ohm - 1))
        for i, peak in enumerate(result.peaks):
            # the diffusion's own RC peaks (tau_W / (k pi)^2, k = 1, 2, ...) are processes, not spurious
            diffusion = truth.diffusion is not None and peak.tau_s > truth.diffusion.tau_s / 300
            if i not in matched and not diffusion:
                worst["spurious"] = max(worst["spurious"], peak.resistance_ohm / truth.r_pol_ohm)
        worst["r_inf_rel"] = max(worst["r_inf_rel"], abs(result.r_inf_ohm / truth.r_inf_ohm - 1))
        worst["r_pol_rel"] = max(worst["r_pol_rel"], abs(result.r_pol_ohm / truth.r_pol_ohm - 1))
    assert worst["tau_dec"] <= 0.15, worst
    assert worst["r_rel"] <= 0.15, worst
    assert worst["spurious"] <= 0.075, worst
    assert worst["r_inf_rel"] <= 0.03, worst
    assert worst["r_pol_rel"] <= 0.03, worst


def test_it_gives_the_total_of_two_arcs_half_a_decade_apart():
    arcs = [Arc(150, 1e-4, 0.9), Arc(250, 10**-3.5, 0.9)]
    for seed in SEEDS:
        spectrum, truth = drt_truth_spectrum(arcs, seed=seed)
        result = drt_fit(spectrum)
        near = [p.resistance_ohm for p in result.peaks if 10**-4.6 < p.tau_s < 10**-2.9]
        assert abs(sum(near) / 400 - 1) <= 0.10, (seed, result.peaks)
        assert abs(result.r_pol_ohm / truth.r_pol_ohm - 1) <= 0.10


def test_it_makes_the_peak_areas_add_up_to_the_polarisation_and_gamma_integrate_to_it():
    spectrum, _ = drt_truth_spectrum(TWO_DECADES, seed=3)
    result = drt_fit(spectrum)
    assert sum(p.resistance_ohm for p in result.peaks) == pytest.approx(result.r_pol_ohm, rel=1e-9)
    integral = np.trapezoid(result.gamma_ohm, np.log(result.tau_s))
    assert integral == pytest.approx(result.r_pol_ohm, rel=5e-3)
    assert all(p.f_hz == pytest.approx(1 / (2 * math.pi * p.tau_s)) for p in result.peaks)


def test_it_fits_the_inductance_only_when_the_top_end_is_inductive_and_the_capacitance_of_a_blocking_tail():
    plain, _ = drt_truth_spectrum(TWO_DECADES, seed=1)
    assert drt_fit(plain).inductance_h is None
    with_l, _ = drt_truth_spectrum(TWO_DECADES, inductance_h=1e-6, seed=1)
    assert drt_fit(with_l).inductance_h == pytest.approx(1e-6, rel=0.1)
    wo, truth = drt_truth_spectrum(TWO_DECADES[:2], diffusion=Diffusion(400, 5, "Wo"), seed=1)
    result = drt_fit(wo)
    assert result.capacitance_f == pytest.approx(truth.diffusion.series_capacitance_f, rel=0.1)
    assert "series capacitance" in result.tail and result.capacitance_f is not None
    assert drt_fit(plain).capacitance_f is None


def test_it_states_how_lambda_was_chosen_and_uses_a_given_one():
    spectrum, _ = drt_truth_spectrum(TWO_DECADES, seed=2)
    auto = drt_fit(spectrum)
    assert auto.lambda_method == "gcv" and len(auto.gcv["score"]) == len(auto.gcv["lambda"])
    assert auto.lambda_ == auto.gcv["lambda"][int(np.argmin(auto.gcv["score"]))]
    given = drt_fit(spectrum, lambda_=0.05)
    assert given.lambda_ == 0.05 and given.lambda_method == "given" and given.gcv == {}
    # a stronger regularisation smooths: the fit gets worse, the polarisation stays
    assert given.residual_rel > auto.residual_rel
    assert given.r_pol_ohm == pytest.approx(auto.r_pol_ohm, rel=0.03)
    with pytest.raises(DrtError, match="lambda must be a positive"):
        drt_fit(spectrum, lambda_=-1.0)


def test_it_refuses_spectra_that_cannot_give_a_drt():
    spectrum, _ = drt_truth_spectrum(TWO_DECADES, seed=0)
    with pytest.raises(DrtError, match="only 6 valid points"):
        drt_fit(freq_hz=spectrum.freq_hz[:6], z_ohm=spectrum.z_ohm[:6])
    f = np.logspace(5, 0, 40)
    with pytest.raises(DrtError, match="no arc"):
        drt_fit(freq_hz=f, z_ohm=np.full(40, 50.0 + 0.01j))
    with pytest.raises(DrtError, match="decades"):
        drt_fit(freq_hz=np.linspace(1000, 1500, 20), z_ohm=np.full(20, 50 - 10j))


def test_it_merges_a_noise_wiggle_into_its_neighbour():
    y = np.linspace(np.log(1e-6), np.log(1), 200)
    big = 100 * np.exp(-(((y - np.log(1e-4)) / 0.8) ** 2))
    wiggle = 1.0 * np.exp(-(((y - np.log(1e-2)) / 0.3) ** 2))  # 0.4 % of the area, 1 % of the height
    peaks = drt_peaks(np.exp(y), big + wiggle)
    assert len(peaks) == 1
    total = np.trapezoid(big + wiggle, y)
    assert peaks[0].resistance_ohm == pytest.approx(total, rel=1e-9)
    real = 30 * np.exp(-(((y - np.log(1e-2)) / 0.5) ** 2))
    assert len(drt_peaks(np.exp(y), big + real)) == 2


def test_it_tracks_peaks_across_a_series_by_tau():
    def p(tau):
        return DrtPeak(tau_s=tau, f_hz=1 / (2 * math.pi * tau), resistance_ohm=1.0, gamma_max_ohm=1.0,
                       tau_from_s=tau, tau_to_s=tau)

    series = [[p(1e-5), p(2e-3)], [p(1.2e-5), p(3e-3)], [p(1.1e-5)], [p(1e-5), p(4e-3), p(1.0)]]
    tracks = match_peaks(series)
    assert tracks == [[0, 0, 0, 0], [1, 1, None, 1], [None, None, None, 2]]
