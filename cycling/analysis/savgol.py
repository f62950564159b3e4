"""Savitzky-Golay filter of rows on a uniform grid (mode 'interp'), exactly as scipy.signal.savgol_filter.

Why not scipy.signal: importing it costs about 1 s of CPU (it imports scipy.stats, scipy.interpolate and more,
and rewrites some 800 docstrings), as much as the whole analysis of a 448k-record file, for this one function
that dQ/dV needs; `summarize` pays it on every run. This is scipy 1.17's savgol_coeffs and
savgol_filter(mode="interp") for float64 input, on numpy, scipy.linalg.lstsq and scipy.ndimage.convolve1d
(the same operations in the same order, so the same numbers to the last bit:
tests/cycling/test_savgol.py compares it with scipy.signal.savgol_filter).

Adapted from scipy/signal/_savitzky_golay.py and scipy/signal/_polyutils.py of SciPy 1.17.1, under SciPy's
licence:

Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers.
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted provided that
the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of conditions and the
   following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the
   following disclaimer in the documentation and/or other materials provided with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse or
   promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED
WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A
PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY
DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR
OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH
DAMAGE.
"""

from __future__ import annotations

import math

import numpy as np


def _lstsq(a: np.ndarray, b: np.ndarray, rcond: float):
    from scipy.linalg import lstsq

    return lstsq(a, b, cond=rcond)


def savgol_coeffs(window_length: int, polyorder: int, deriv: int = 0, delta: float = 1.0) -> np.ndarray:
    """The convolution coefficients of the filter (window centred, use='conv')."""
    if polyorder >= window_length:
        raise ValueError("polyorder must be less than window_length.")
    halflen, rem = divmod(window_length, 2)
    pos = halflen - 0.5 if rem == 0 else halflen
    if deriv > polyorder:
        return np.zeros(window_length, dtype=np.float64)
    x = np.flip(np.arange(-pos, window_length - pos, dtype=np.float64))
    order = np.reshape(np.arange(polyorder + 1, dtype=np.float64), (-1, 1))
    a = x ** order
    y = np.zeros(polyorder + 1, dtype=np.float64)
    y[deriv] = float(math.factorial(deriv)) / (delta ** deriv)
    rcond = np.finfo(a.dtype).eps * max(a.shape[-1], a.shape[-2])
    coeffs, _, _, _ = _lstsq(a, y, rcond)
    return coeffs


def _polyfit(x: np.ndarray, y: np.ndarray, deg: int) -> np.ndarray:
    order = int(deg) + 1
    rcond = x.shape[0] * np.finfo(x.dtype).eps
    powers = np.flip(np.arange(order, dtype=x.dtype))
    lhs = x[:, None] ** powers[None, :]
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    lhs /= scale
    c, _, _rank, _ = _lstsq(lhs, y, rcond)
    return (c.T / scale).T


def _polyder(p: np.ndarray, m: int) -> np.ndarray:
    if m == 0:
        return p
    n = p.shape[0]
    if n <= m:
        return np.zeros_like(p[:1, ...])
    dp = np.array(p[:-m, ...], copy=True)
    for k in range(m):
        rng = np.arange(n - k - 1, m - k - 1, -1, dtype=p.dtype)
        dp *= np.reshape(rng, (n - m,) + (1,) * (p.ndim - 1))
    return dp


def _polyval(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    y = np.zeros_like(x)
    for j in range(p.shape[0]):
        y = y * x + p[j, ...]
    return y


def _fit_edge(x, window_start, window_stop, interp_start, interp_stop, polyorder, deriv, delta, y):
    """Rows' edges (axis 1) from a polynomial fitted to the first or last window."""
    x_edge = x[:, window_start:window_stop]
    xx_edge = np.swapaxes(x_edge, 1, 0)
    xx_edge = np.reshape(xx_edge, (xx_edge.shape[0], -1))
    poly_coeffs = _polyfit(np.arange(0, window_stop - window_start, dtype=x.dtype), xx_edge, polyorder)
    if deriv > 0:
        poly_coeffs = _polyder(poly_coeffs, deriv)
    i = np.arange(interp_start - window_start, interp_stop - window_start, dtype=poly_coeffs.dtype)
    values = _polyval(poly_coeffs, np.reshape(i, (-1, 1))) / (delta ** deriv)
    shp = list(y.shape)
    shp[0], shp[1] = shp[1], shp[0]
    values = np.reshape(values, (interp_stop - interp_start, *shp[1:]))
    values = np.swapaxes(values, 0, 1)
    y[:, interp_start:interp_stop] = values
    return y


def savgol_rows(x: np.ndarray, window_length: int, polyorder: int, deriv: int = 0, delta: float = 1.0) -> np.ndarray:
    """scipy.signal.savgol_filter(x, window_length, polyorder, deriv, delta, axis=1, mode="interp") of a 2-D
    float64 array: each row filtered, its edges from a polynomial fitted to the first and last window."""
    from scipy.ndimage import convolve1d

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("savgol_rows filters the rows of a 2-D array")
    coeffs = savgol_coeffs(window_length, polyorder, deriv=deriv, delta=delta)
    if window_length > x.shape[1]:
        raise ValueError("If mode is 'interp', window_length must be less than or equal to the size of x.")
    y = convolve1d(x, coeffs, axis=1, mode="constant")
    halflen = window_length // 2
    y = _fit_edge(x, 0, window_length, 0, halflen, polyorder, deriv, delta, y)
    n = x.shape[1]
    return _fit_edge(x, n - window_length, n, n - halflen, n, polyorder, deriv, delta, y)
