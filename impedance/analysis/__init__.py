"""Equivalent-circuit fitting, R_int and Kramers-Kronig checks of EIS spectra; no Django here.

Fitting is weighted complex non-linear least squares (scipy ``least_squares``, trust-region reflective) on
impedance.py's element definitions, with positive parameters fitted in log space and exponents linearly.
impedance.py's own ``CustomCircuit`` is not used: this project's app package shadows the library's name
(see ``_impedancepy``), ``CustomCircuit`` drags in matplotlib/altair, and ``curve_fit`` offers no time
limit. A test checks that both give the same parameters on the same data.

Circuit convention: top-level parallel blocks are listed from high to low frequency; for the sulfide cells
``DEFAULT_CIRCUIT`` is R0 (bulk electrolyte, high-frequency intercept) - p(R1,CPE1) (grain boundary or
In-Li|LGPS interphase) - p(R2,CPE2) (cathode|LGPS interface: R_int) - Wo1 (diffusion tail).

Trust: ``fit_spectrum`` adds a series L0 when the top end is inductive (leads, holder) and keeps it only if
the AIC says so; ``fit_refusal`` gives no R_int for sweeps that cannot determine it (too few points, no arc,
span too short, interface arc outside the measured range); ``kramers_kronig`` is lin-KK with the mu
criterion, series L and C terms and residuals on both parts.

A package of focused modules (like cycling.analysis): `common` (circuit defaults, limits, helpers), `guess`
(initial guesses), `result` (FitResult, R_int's definition), `rint` (when no R_int is given), `fitting`
(fit_circuit, fit_series), `choice` (circuit choice: fit_spectrum, inductive tail) and `kk` (Kramers-Kronig).
`from impedance.analysis import X` keeps working for every public name.
"""
# ruff: noqa: F401  (re-exports: the public names of the submodules)
from ..circuits import validate_circuit
from .choice import capacitive_part, fit_spectrum, inductive_tail
from .common import (
    AIC_MARGIN,
    CPE_EXPONENT_WARN,
    DEFAULT_CIRCUIT,
    INDUCTIVE_MIN_POINTS,
    MIN_ARC_FRACTION,
    MIN_ARC_OF_MODULUS,
    MIN_DECADES_BELOW_ARC,
    MIN_DECADES_PER_TIME_CONSTANT,
    MIN_FIT_POINTS,
    R_INT_ELEMENTS,
    R_INT_MARK_RELATIVE_ERROR,
    R_INT_REFUSE_RELATIVE_ERROR,
    RELATIVE_ERROR_WARN,
    WEIGHTINGS,
    library_versions,
    with_inductor,
)
from .fitting import fit_circuit, fit_series
from .guess import Guess, initial_guess
from .kk import (
    KK_AMPLITUDE_LIMIT,
    KK_MU_CRITERION,
    KK_NOISE_FLOOR_PCT,
    KK_RULE,
    KK_STRUCTURE_LIMIT,
    KK_STRUCTURE_WINDOWS,
    KK_VERSION,
    KKResult,
    kk_noise_pct,
    kk_structure,
    kramers_kronig,
)
from .result import FitResult, _suspicious
from .rint import fit_refusal

__all__ = [
    "DEFAULT_CIRCUIT",
    "R_INT_ELEMENTS",
    "FitResult",
    "Guess",
    "KKResult",
    "KK_RULE",
    "KK_VERSION",
    "fit_circuit",
    "fit_refusal",
    "capacitive_part",
    "fit_series",
    "fit_spectrum",
    "inductive_tail",
    "with_inductor",
    "initial_guess",
    "kramers_kronig",
    "library_versions",
    "validate_circuit",
]
