"""Initial guesses of an equivalent-circuit fit: arcs found on the Nyquist plot, bounds per element kind."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.signal import find_peaks

from ..circuits import Node, compile_circuit, validate_circuit
from ..parsers import EisSpectrum
from .common import _Z_SCALED, DEFAULT_CIRCUIT, _sorted_desc


class Guess(NamedTuple):
    values: dict[str, float]
    bounds: dict[str, tuple[float, float]]


def _arc_features(f: np.ndarray, z: np.ndarray):
    """High-frequency intercept, apexes of -Z'' (indices, by falling frequency), the arc/tail junction and
    the smoothed -Z'' used to find them."""
    y = -z.imag
    ys = np.convolve(np.r_[y[0], y[0], y, y[-1], y[-1]], np.ones(5) / 5, mode="valid") if len(y) >= 5 else y
    capacitive = np.flatnonzero(y > 0)
    first = capacitive[0] if len(capacitive) else 0
    if first == 0:
        r0 = float(z.real[0])
    else:  # inductive top end: interpolate where Z'' crosses zero
        r0 = float(np.interp(0.0, [-y[first - 1], -y[first]], [z.real[first - 1], z.real[first]]))
    scale = float(np.ptp(ys)) or 1.0
    maxima, props = find_peaks(ys, prominence=0.03 * scale)
    minima, _ = find_peaks(-ys, prominence=0.01 * scale)
    junction = len(f) - 1
    if len(maxima):
        after = minima[minima > maxima[0]]
        if len(after) and ys[-1] > ys[after[-1]]:
            junction = int(after[-1])
    keep = maxima <= junction
    return max(r0, 0.0), maxima[keep], props["prominences"][keep], junction, ys


def _element_bounds(kind: str, i: int, zscale: float) -> tuple[float, float]:
    key = kind if f"{kind}_{i}" not in _Z_SCALED else f"{kind}_{i}"
    if key in _Z_SCALED or kind == "R":
        return (1e-6 * zscale, 1e3 * zscale)
    table = {
        ("C", 0): (1e-15, 10.0),
        ("L", 0): (1e-13, 1e-1),
        ("CPE", 0): (1e-15, 1e3),
        ("CPE", 1): (0.2, 1.0),
        ("La", 0): (1e-13, 1.0),
        ("La", 1): (0.2, 1.0),
        ("Zarc", 2): (0.2, 1.0),
        ("TLMQ", 1): (1e-15, 1e3),
        ("TLMQ", 2): (0.2, 1.0),
        ("Gs", 2): (1e-3, 1e3),
    }
    return table.get((kind, i), (1e-9, 1e6))  # time constants (s)


def initial_guess(spectrum: EisSpectrum, circuit: str = DEFAULT_CIRCUIT, *, spread: bool = False) -> Guess:
    """Starting values and bounds read off the spectrum.

    R0 = the high-frequency real-axis intercept; each top-level parallel block (in circuit order = from high
    to low frequency) gets one apex of -Z'' (its R from the apex height, its C/CPE from the apex
    frequency); blocks without an apex of their own share the remaining arc width; a Warburg tail gets its
    size from the low-frequency rise. ``spread=True`` ignores the apexes and spreads the blocks a decade
    apart over the arc region (the fallback start).
    """
    circ = compile_circuit(validate_circuit(circuit))
    f, z = _sorted_desc(spectrum)
    zscale = float(np.max(np.abs(z))) or 1.0
    r0, peaks, prominence, junction, ys = _arc_features(f, z)
    arc_total = max(float(z.real[junction]) - r0, 0.02 * zscale)
    top = circ.tree.children if circ.tree.op == "s" else (circ.tree,)
    blocks = [n for n in top if n.op == "p" or (n.op == "e" and n.element.kind in ("Zarc", "G", "Gs"))]
    n_arcs = len(blocks)

    # apex frequency and resistance for each block, from high to low frequency
    if n_arcs:
        chosen = [] if spread else sorted(peaks[np.argsort(-prominence)[:n_arcs]].tolist())
        heights = np.array([max(ys[i], 1e-12) for i in chosen])
        arcs: list[tuple[float, float]] = []
        if len(chosen) == n_arcs:
            shares = heights / heights.sum()
            arcs = [(float(f[i]), float(arc_total * s)) for i, s in zip(chosen, shares, strict=True)]
        else:  # fewer apexes than blocks (merged arcs): blocks a decade apart around them
            centre = (
                float(np.exp(np.mean(np.log(f[chosen])))) if chosen else float(np.sqrt(f[0] * f[junction]))
            )
            offsets = (np.arange(n_arcs) - (n_arcs - 1) / 2) * 1.0
            arcs = [(centre * 10 ** (-o), arc_total / n_arcs) for o in offsets]
    tail_rise = max(float(z.real[-1] - z.real[junction]), 0.0)
    w_low = 2 * np.pi * f[-1]

    values: dict[str, float] = {}
    bounds: dict[str, tuple[float, float]] = {}
    used_r0 = False

    def set_element(el, *, arc: tuple[float, float] | None = None, top_level: bool):
        nonlocal used_r0
        kind, name = el.kind, el.name
        for i in range(el.n_params):
            key = name if el.n_params == 1 else f"{name}_{i}"
            bounds[key] = _element_bounds(kind, i, zscale)
        if kind == "R":
            if arc is not None:
                values[name] = arc[1]
            elif top_level and not used_r0:
                values[name], used_r0 = max(r0, 1e-3 * zscale), True
            else:
                values[name] = 0.01 * zscale
        elif kind == "C":
            fa, ra = arc if arc else (f[-1], arc_total)
            values[name] = 1.0 / (2 * np.pi * fa * ra)
        elif kind == "CPE":
            if arc:
                fa, ra = arc
                values[f"{name}_0"], values[f"{name}_1"] = 1.0 / (ra * (2 * np.pi * fa) ** 0.9), 0.9
            else:  # a series CPE as the tail: |Z''| at the lowest frequency
                values[f"{name}_0"] = 1.0 / (max(ys[-1], 1e-3 * zscale) * w_low**0.7)
                values[f"{name}_1"] = 0.7
        elif kind == "L":
            pos = np.maximum(z.imag[:3], 0)
            values[name] = float(max(pos.max() / (2 * np.pi * f[0]), 1e-9)) if pos.max() > 0 else 1e-9
        elif kind == "La":
            values[f"{name}_0"], values[f"{name}_1"] = 1e-7, 0.9
        elif kind == "W":
            values[name] = max(ys[-1], 0.05 * zscale) * np.sqrt(w_low)
        elif kind in ("Wo", "Ws"):
            z0 = max(3 * tail_rise, 0.1 * arc_total)
            values[f"{name}_0"] = z0
            values[f"{name}_1"] = float(np.clip(z0 / (w_low * max(ys[-1], 1e-3 * zscale)), 1e-3, 1e4))
        elif kind in ("G", "Gs", "Zarc"):
            fa, ra = arc if arc else (np.sqrt(f[0] * f[-1]), 0.1 * arc_total)
            values[f"{name}_0"], values[f"{name}_1"] = ra, 1.0 / (2 * np.pi * fa)
            if kind == "Gs":
                values[f"{name}_2"] = 1.0
            if kind == "Zarc":
                values[f"{name}_2"] = 0.9
        elif kind == "TLMQ":
            values[f"{name}_0"], values[f"{name}_1"], values[f"{name}_2"] = 0.1 * arc_total, 1e-5, 0.9

    def walk(node: Node, arc, top_level):
        if node.op == "e":
            set_element(node.element, arc=arc, top_level=top_level)
        else:
            first_r = True
            for child in node.children:
                child_arc = arc
                if arc is not None and child.op == "e" and child.element.kind == "R":
                    child_arc = arc if first_r else (arc[0], 0.01 * arc[1])
                    first_r = False
                walk(child, child_arc, top_level and node.op == "s")

    for node in top:
        arc = arcs[blocks.index(node)] if node in blocks else None
        walk(node, arc, True)
    for key, (lo, hi) in bounds.items():
        values[key] = float(np.clip(values[key], lo * 1.0001, hi / 1.0001 if hi > 0 else hi))
    return Guess(values, bounds)
