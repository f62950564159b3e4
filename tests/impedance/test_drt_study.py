"""The DRT on the demo's coated and bare series (impedance/simulate.py): the interface peak at its frequency
with its resistance following R_int over the cycles, the anode peak staying put."""

import math

import numpy as np
import pytest

from impedance.drt import arc_frequency_hz, compare_with_fit, drt_fit, drt_series
from impedance.simulate import study_series

CYCLES = tuple(range(0, 501, 50))


def _tracks(kind):
    spectra = study_series(kind, cycles=CYCLES)
    results = [drt_fit(s) for s in spectra]
    return spectra, results, drt_series(list(CYCLES), results)


@pytest.mark.parametrize("kind, interface_hz", [("bare", 80.0), ("coated", 700.0)])
def test_it_shows_the_interface_peak_at_its_frequency_following_r_int_and_the_anode_peak_staying_put(
        kind, interface_hz):
    spectra, results, tracks = _tracks(kind)
    truth = [s.metadata["true_params"] for s in spectra]
    r2 = np.array([t["R2"] for t in truth])
    f2 = np.array([arc_frequency_hz(t, "R2") for t in truth])
    assert f2[0] == pytest.approx(interface_hz, rel=0.05)  # the demo's model: the note's 80 Hz / 0.7 kHz
    # the interface process: the track found in every spectrum whose resistance is largest at cycle 0
    full = [t for t in tracks if t["n_found"] == len(CYCLES)]
    interface = max(full, key=lambda t: t["resistance_ohm"][0])
    found_f = np.array(interface["f_hz"])
    assert np.max(np.abs(np.log10(found_f / f2))) <= 0.15
    assert abs(math.log10(found_f[0] / interface_hz)) <= 0.15
    found_r = np.array(interface["resistance_ohm"])
    assert np.max(np.abs(found_r / r2 - 1)) <= 0.10
    true_growth = (r2[-1] - r2[0]) / (CYCLES[-1] - CYCLES[0]) * 100
    assert interface["growth_ohm_per_100_cycles"] == pytest.approx(true_growth, rel=0.10)
    # the anode (In-Li | LGPS) arc near 30 kHz: found in every spectrum, staying put, 120 ohm
    f1 = arc_frequency_hz(truth[0], "R1")
    anode = min(full, key=lambda t: abs(math.log10(t["f_hz_median"] / f1)))
    assert abs(math.log10(anode["f_hz_median"] / f1)) <= 0.15
    # a small peak (2-8 % of R_pol) scatters with the noise, but stays within 0.2 decade and does not move:
    # the trend over 500 cycles is below 0.1 decade, while the interface peak moves as its truth does
    log_f = np.log10(anode["f_hz"])
    assert np.max(np.abs(log_f - math.log10(f1))) <= 0.2
    assert abs(np.polyfit(CYCLES, log_f, 1)[0] * 500) < 0.1
    true_shift = np.polyfit(CYCLES, np.log10(f2), 1)[0] * 500  # bare -0.65, coated -0.18 decade
    assert np.polyfit(CYCLES, np.log10(found_f), 1)[0] * 500 == pytest.approx(true_shift, abs=0.05)
    assert np.max(np.abs(np.array(anode["resistance_ohm"]) / 120.0 - 1)) <= 0.15
    assert abs(anode["growth_ohm_per_100_cycles"]) < 0.1 * abs(true_growth)
    # R_inf is the bulk's 45 ohm and the leads' 0.2 uH is found
    assert all(r.r_inf_ohm == pytest.approx(45.0, rel=0.03) for r in results)
    assert all(r.inductance_h == pytest.approx(2e-7, rel=0.15) for r in results)


def test_it_flags_a_disagreement_only_beyond_both_uncertainties():
    agree = compare_with_fit(1389.0, 1400.0, 20.0)
    assert not agree["disagree"] and agree["limit_ohm"] == pytest.approx(2 * math.hypot(20.0, 0.05 * 1389.0))
    assert compare_with_fit(1000.0, 1400.0, 20.0)["disagree"]
