"""Seeded spectra with an exact DRT truth: ZARC arcs of known R and tau, optional diffusion and inductance.

A ZARC R / (1 + (j w tau)^n) has the DRT R sin((1-n) pi) / (2 pi (cosh(n ln(tau'/tau)) - cos((1-n) pi))),
a symmetric peak at tau of area R. A finite-length diffusion element with a blocking end (``"Wo"``:
R coth(s)/s, s = sqrt(j w tau_W)) is a series capacitance tau_W/R plus RC elements 2R/(k pi)^2 at
tau_W/(k pi)^2, whose resistances add up to R/3; a transmissive one (``"Ws"``: R tanh(s)/s) is RC elements
8R/((2k-1) pi)^2 at 4 tau_W/((2k-1) pi)^2, adding up to R. ``truth`` states both, so a DRT can be checked
against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .parsers import EisSpectrum

__all__ = ["Arc", "Diffusion", "DrtTruth", "drt_truth_spectrum"]

DEFAULT_FREQ_HZ = np.logspace(6, -1, 71)  # 1 MHz to 0.1 Hz, 10 points per decade


@dataclass(frozen=True)
class Arc:
    """A ZARC arc: resistance, characteristic time constant and dispersion exponent (1 = ideal RC)."""

    r_ohm: float
    tau_s: float
    n: float = 0.9

    def z(self, w: np.ndarray) -> np.ndarray:
        return self.r_ohm / (1 + (1j * w * self.tau_s) ** self.n)


@dataclass(frozen=True)
class Diffusion:
    """A finite-length diffusion element: ``kind`` "Wo" (blocking end) or "Ws" (transmissive end)."""

    r_ohm: float
    tau_s: float
    kind: str = "Wo"

    def __post_init__(self):
        if self.kind not in ("Wo", "Ws"):
            raise ValueError(f"kind must be 'Wo' or 'Ws', got {self.kind!r}")

    def z(self, w: np.ndarray) -> np.ndarray:
        s = np.sqrt(1j * w * self.tau_s)
        return self.r_ohm * (1 / np.tanh(s) if self.kind == "Wo" else np.tanh(s)) / s

    @property
    def dc_resistance_ohm(self) -> float:
        """The resistance of its RC part: R/3 (Wo, the rest is a capacitance) or R (Ws)."""
        return self.r_ohm / 3 if self.kind == "Wo" else self.r_ohm

    @property
    def series_capacitance_f(self) -> float | None:
        return self.tau_s / self.r_ohm if self.kind == "Wo" else None


@dataclass
class DrtTruth:
    r_inf_ohm: float
    arcs: tuple[Arc, ...]
    diffusion: Diffusion | None
    inductance_h: float
    noise: float
    seed: int
    extra: dict = field(default_factory=dict)

    @property
    def r_pol_ohm(self) -> float:
        """Arcs plus the diffusion's RC part: what the integral of gamma should give."""
        return sum(a.r_ohm for a in self.arcs) + (self.diffusion.dc_resistance_ohm if self.diffusion else 0.0)


def drt_truth_spectrum(
    arcs: Sequence[Arc],
    *,
    r_inf_ohm: float = 20.0,
    diffusion: Diffusion | None = None,
    inductance_h: float = 0.0,
    freq_hz: Sequence[float] | np.ndarray | None = None,
    noise: float = 0.005,
    seed: int = 0,
) -> tuple[EisSpectrum, DrtTruth]:
    """A seeded spectrum (Z' and Z'' each with ``noise * |Z| * N(0, 1)``, as ``simulate.simulate_spectrum``)
    and its exact truth."""
    f = np.asarray(DEFAULT_FREQ_HZ if freq_hz is None else freq_hz, dtype=float)
    w = 2 * np.pi * f
    z = np.full(len(f), r_inf_ohm, dtype=complex) + 1j * w * inductance_h
    for arc in arcs:
        z = z + arc.z(w)
    if diffusion is not None:
        z = z + diffusion.z(w)
    rng = np.random.default_rng(seed)
    z = z + noise * np.abs(z) * (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)))
    truth = DrtTruth(r_inf_ohm=r_inf_ohm, arcs=tuple(arcs), diffusion=diffusion, inductance_h=inductance_h,
                     noise=noise, seed=seed)
    data = pd.DataFrame({"freq_hz": f, "z_real_ohm": z.real, "z_imag_ohm": z.imag})
    meta = {"format": "synthetic", "generator": "drt_truth_spectrum", "noise": noise, "seed": seed,
            "n_points": len(f), "n_sweeps": 1}
    return EisSpectrum(data=data, metadata=meta, warnings=[], source_name=f"drt-truth-{seed}"), truth
