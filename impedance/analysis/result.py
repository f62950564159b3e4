"""The result of one equivalent-circuit fit (FitResult), what its R_int means, and when a fit looks doubtful."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..circuits import Circuit, compile_circuit
from .common import DEFAULT_CIRCUIT, R_INT_ELEMENTS, with_inductor


@dataclass
class FitResult:
    """One equivalent-circuit fit. ``values``/``stderr`` follow ``parameter_names`` (impedance.py's names)."""

    circuit: str
    parameter_names: list[str]
    values: list[float]
    stderr: list[float]
    units: list[str]
    fixed: list[str]
    weighting: str
    n_points: int
    chi_square: float  # sum of squared weighted residuals
    chi_square_reduced: float  # chi_square / (2 n_points - free parameters)
    r_int_elements: tuple[str, ...]
    r_int_definition: str
    r_int_ohm: float
    r_int_stderr_ohm: float
    area_cm2: float | None
    r_int_area_ohm_cm2: float | None
    r_int_area_stderr_ohm_cm2: float | None
    converged: bool
    message: str
    n_evaluations: int
    elapsed_s: float
    library_versions: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    covariance: list[list[float]] | None = None
    notes: list[str] = field(default_factory=list)  # facts about the fit that do not concern R_int
    refused: str = ""  # why these data cannot give R_int (then r_int_ohm is NaN); empty when it is given
    provenance: dict = field(default_factory=dict)  # which circuit, and why (see fit_spectrum)

    @property
    def has_r_int(self) -> bool:
        return not self.refused and math.isfinite(self.r_int_ohm)

    @property
    def aic(self) -> float:
        """Akaike information criterion of the weighted residuals: 2n ln(chi2 / 2n) + 2k (k free params)."""
        n_res = 2 * self.n_points
        k = len(self.parameter_names) - len(self.fixed)
        if not (self.chi_square > 0 and math.isfinite(self.chi_square)):
            return float("nan")
        return n_res * math.log(self.chi_square / n_res) + 2 * k

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(self.parameter_names, self.values, strict=True))

    @property
    def errors(self) -> dict[str, float]:
        return dict(zip(self.parameter_names, self.stderr, strict=True))

    def predict(self, freq_hz) -> np.ndarray:
        return compile_circuit(self.circuit)(self.values, freq_hz)

    def to_dict(self) -> dict:
        """JSON-ready (NaN and inf become None)."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return clean(asdict(self))


def _r_int_definition(circ: Circuit, elements: tuple[str, ...]) -> str:
    if elements == R_INT_ELEMENTS and circ.text in (DEFAULT_CIRCUIT, with_inductor(DEFAULT_CIRCUIT)):
        return (
            "R2: diameter of the mid-frequency cathode|electrolyte interface arc after the high-frequency "
            f"intercept, in {circ.text}"
        )
    joined = " + ".join(elements)
    return f"{joined}: {'sum of the interface arc resistances' if len(elements) > 1 else 'interface arc resistance'} in {circ.text}"


def _suspicious(result: FitResult) -> bool:
    return not result.converged or any(
        "sits on its bound" in w or "relative standard error" in w or "CPE exponent" in w
        for w in result.warnings + result.notes
    )
