"""cycling.analysis.savgol: scipy.signal.savgol_filter's numbers to the last bit, without importing scipy.signal."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import savgol_filter

from cycling.analysis.savgol import savgol_rows

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("window, polyorder, deriv, delta", [
    (21, 3, 1, 0.005),  # dQ/dV's defaults: 21 points of the 5 mV grid, cubic, first derivative
    (5, 2, 0, 1.0), (7, 4, 2, 0.01), (3, 0, 1, 0.5), (9, 2, 3, 1.0),  # deriv > polyorder: all zeros
])
def test_it_gives_scipys_numbers_bit_for_bit(window, polyorder, deriv, delta):
    rng = np.random.default_rng(7)
    rows = np.cumsum(rng.normal(size=(30, 120)), axis=1) * 40.0
    expected = savgol_filter(rows, window, polyorder, deriv=deriv, delta=delta, axis=1, mode="interp")
    got = savgol_rows(rows, window, polyorder, deriv=deriv, delta=delta)
    assert np.array_equal(got, expected)
    if deriv > polyorder:
        assert not got.any()


def test_a_window_as_long_as_the_row_is_one_polynomial_fit():
    x = np.arange(7, dtype=float)
    rows = np.vstack([2.0 + 3.0 * x - 0.5 * x**2, x**3])
    got = savgol_rows(rows, 7, 2, deriv=1, delta=1.0)
    assert np.array_equal(got, savgol_filter(rows, 7, 2, deriv=1, axis=1, mode="interp"))
    assert got[0] == pytest.approx(3.0 - x, abs=1e-12)  # a parabola's exact slope


def test_the_pipeline_does_not_import_scipy_signal():
    code = ("import sys; from cycling.analysis import analyse, dqdv_all; "
            "print('scipy.signal' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
