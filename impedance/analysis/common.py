"""Shared by the impedance core: circuit defaults, the limits of the trust checks, library versions, and small
helpers on a sweep (sorted by frequency) and on a compiled circuit (its top-level blocks, an arc's apex)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy

from .. import _impedancepy
from ..circuits import Circuit, Node, compile_circuit, validate_circuit
from ..parsers import EisSpectrum

DEFAULT_CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)-Wo1"


R_INT_ELEMENTS: tuple[str, ...] = ("R2",)


CPE_EXPONENT_WARN = 0.6


RELATIVE_ERROR_WARN = 0.20


WEIGHTINGS = ("modulus", "unit")


MIN_FIT_POINTS = 10


MIN_ARC_FRACTION = 0.05  # of the Z' span: below it there is no arc to fit


MIN_ARC_OF_MODULUS = 0.01  # of the median |Z|: an "arc" that low is noise on a resistor


MIN_DECADES_PER_TIME_CONSTANT = 1.0


MIN_DECADES_BELOW_ARC = 0.5  # the sweep must reach this far below the interface arc's apex (its closing half)


INDUCTIVE_MIN_POINTS = 2


AIC_MARGIN = 2.0  # the usual threshold of "substantial support" for the larger model (Burnham & Anderson)


R_INT_MARK_RELATIVE_ERROR = RELATIVE_ERROR_WARN  # R_int with a larger standard error is marked on plots


R_INT_REFUSE_RELATIVE_ERROR = 1.0  # a standard error as large as R_int itself: the data say nothing about it


_TIME_CONSTANT_KINDS = {"W", "Wo", "Ws", "G", "Gs", "Zarc", "TLMQ"}


_Z_SCALED = {"R", "W", "Wo_0", "Ws_0", "G_0", "Gs_0", "Zarc_0", "TLMQ_0"}


def library_versions() -> dict[str, str]:
    return {
        "impedance": _impedancepy.VERSION,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


def _sorted_desc(spectrum: EisSpectrum) -> tuple[np.ndarray, np.ndarray]:
    if spectrum.n_sweeps > 1:
        raise ValueError(
            f"{spectrum.source_name or 'spectrum'} holds {spectrum.n_sweeps} sweeps; fit each of spectrum.sweeps()"
        )
    f, z = spectrum.freq_hz, spectrum.z_ohm
    order = np.argsort(-f, kind="stable")
    return f[order], z[order]


def with_inductor(circuit: str) -> str:
    """The circuit with a series inductance L0 in front (unchanged if it already has an inductor)."""
    circ = compile_circuit(validate_circuit(circuit))
    if any(el.kind in ("L", "La") for el in circ.elements):
        return circ.text
    name = "L0"
    k = 0
    while circ.element_kind(name) is not None:
        k += 1
        name = f"L{k}"
    return validate_circuit(f"{name}-{circ.text}")


def _params_of(circ: Circuit, node: Node) -> list[int]:
    """Indices (into ``circ.parameter_names``) of the parameters of a node of the circuit tree."""
    index = {n: k for k, n in enumerate(circ.parameter_names)}
    if node.op == "e":
        el = node.element
        keys = [el.name] if el.n_params == 1 else [f"{el.name}_{i}" for i in range(el.n_params)]
        return [index[k] for k in keys]
    return [k for child in node.children for k in _params_of(circ, child)]


def _char_freq_hz(circ: Circuit, node: Node, x) -> float:
    """Apex frequency of an R||CPE or R||C block (NaN for other shapes)."""
    kinds = {c.element.kind: _params_of(circ, c) for c in node.children if c.op == "e"}
    if "R" in kinds and "CPE" in kinds:
        r, (q, a) = x[kinds["R"][0]], (x[kinds["CPE"][0]], x[kinds["CPE"][1]])
        return float(1.0 / (2 * np.pi * (r * q) ** (1.0 / a)))
    if "R" in kinds and "C" in kinds:
        return float(1.0 / (2 * np.pi * x[kinds["R"][0]] * x[kinds["C"][0]]))
    return float("nan")


def _top_level(circ: Circuit) -> tuple[Node, ...]:
    return circ.tree.children if circ.tree.op == "s" else (circ.tree,)
