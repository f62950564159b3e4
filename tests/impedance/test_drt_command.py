"""`manage.py drt FILE [--lambda X] --format json`: the contract's keys, the truth of a seeded file, exit 2."""

import json
import math
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from impedance.parsers import EisSpectrum
from impedance.simulate import write_spectrum
from impedance.simulate_drt import Arc, drt_truth_spectrum

KEYS = {"tau_s", "gamma_ohm", "r_inf_ohm", "r_pol_ohm", "lambda", "peaks", "residual_rel"}
ARCS = [Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-1, 0.9)]


def run(*args) -> dict:
    out = StringIO()
    call_command("drt", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def seeded_file(tmp_path):
    spectrum, truth = drt_truth_spectrum(ARCS, seed=11)
    path = tmp_path / "cell_c100.csv"
    path.write_bytes(write_spectrum(spectrum, "csv"))
    return path, truth


def test_it_prints_exactly_the_contracts_keys_and_the_truth(seeded_file):
    path, truth = seeded_file
    result = run(path, "--format", "json")
    assert set(result) == KEYS
    assert all(set(p) == {"tau_s", "f_hz", "resistance_ohm"} for p in result["peaks"])
    assert len(result["tau_s"]) == len(result["gamma_ohm"])
    assert np.trapezoid(result["gamma_ohm"], np.log(result["tau_s"])) == pytest.approx(result["r_pol_ohm"], rel=5e-3)
    assert result["r_inf_ohm"] == pytest.approx(truth.r_inf_ohm, rel=0.03)
    assert result["r_pol_ohm"] == pytest.approx(truth.r_pol_ohm, rel=0.03)
    assert sum(p["resistance_ohm"] for p in result["peaks"]) == pytest.approx(result["r_pol_ohm"], rel=1e-9)
    for arc in truth.arcs:
        peak = min(result["peaks"], key=lambda p: abs(math.log10(p["tau_s"] / arc.tau_s)))
        assert abs(math.log10(peak["tau_s"] / arc.tau_s)) <= 0.15
        assert peak["resistance_ohm"] == pytest.approx(arc.r_ohm, rel=0.15)
        assert peak["f_hz"] == pytest.approx(1 / (2 * math.pi * peak["tau_s"]))
    assert 0.003 < result["residual_rel"] < 0.01  # the 0.5 % noise, not less (over-fitting) nor more


def test_it_uses_a_given_lambda(seeded_file):
    path, _ = seeded_file
    auto, given = run(path, "--format", "json"), run(path, "--lambda", "0.3", "--format", "json")
    assert given["lambda"] == 0.3 and auto["lambda"] != 0.3
    assert given["residual_rel"] > auto["residual_rel"]


def _write(tmp_path, f, z, name):
    spectrum = EisSpectrum(data=pd.DataFrame({"freq_hz": f, "z_real_ohm": z.real, "z_imag_ohm": z.imag}))
    path = tmp_path / name
    path.write_bytes(write_spectrum(spectrum, "csv"))
    return path


@pytest.mark.parametrize("case, message", [("few", "only 6 valid points"), ("resistor", "no arc")])
def test_it_exits_2_with_the_reason_for_a_spectrum_without_a_drt(tmp_path, capsys, case, message):
    if case == "few":
        spectrum, _ = drt_truth_spectrum(ARCS, seed=1)
        path = _write(tmp_path, spectrum.freq_hz[:6], spectrum.z_ohm[:6], "aborted.csv")
    else:
        f = np.logspace(5, -1, 40)
        path = _write(tmp_path, f, np.full(40, 50.0) - 0.001j, "resistor.csv")
    with pytest.raises(SystemExit) as caught:
        run(path, "--format", "json")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err and path.name in err


def test_it_exits_2_for_an_unreadable_file(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    path.write_text("hello\nworld\n")
    with pytest.raises(SystemExit) as caught:
        run(path, "--format", "json")
    assert caught.value.code == 2 and "notes.csv" in capsys.readouterr().err
