"""Figures for papers: the compare and cell plots drawn with matplotlib as SVG or PDF (pure: payload dicts in, bytes out).

The inputs are the very payloads the pages plot (lab.compare.compare, cycling.selectors.cell_curves,
per-cycle rows), so a figure shows what the page shows. Publication style: single-column size (3.5 in),
8-9 pt text, axis labels with units, the groups' colours as on the page, no UI chrome; SVG keeps text
as text so a journal's editor can restyle it.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np

FORMATS = {"svg": "image/svg+xml", "pdf": "application/pdf"}
STYLE = {
    "font.size": 8, "axes.labelsize": 9, "axes.titlesize": 9, "legend.fontsize": 7.5, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "axes.linewidth": 0.8, "lines.linewidth": 1.2, "axes.spines.top": False,
    "axes.spines.right": False, "legend.frameon": False, "svg.fonttype": "none", "pdf.fonttype": 42,
    "font.family": "DejaVu Sans", "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    "svg.hashsalt": "assb-lab",  # fixed clip-path ids: the same figure gives the same bytes (reproducible zips)
}
SIZE_IN = (3.5, 2.6)

COMPARE_METRICS = {
    "discharge_mah_g": "Discharge capacity (mAh g$^{-1}$)",
    "ce_percent": "Coulombic efficiency (%)",
    "retention_percent": "Capacity retention (%)",
}
_CAPACITY_LABELS = {"mAh/g": "Capacity (mAh g$^{-1}$)", "mAh": "Capacity (mAh)"}


@contextmanager
def _styled(**extra):
    """A new figure in the publication style; matplotlib is imported here, not when the URLs load (it takes
    about a second, which the first request of every server process would pay)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({**STYLE, **extra}):
        yield Figure(figsize=SIZE_IN)


def _render(fig, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"figure format must be svg or pdf, not {fmt!r}")
    buf = io.BytesIO()
    # A fixed creation date keeps the same data giving the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None}
    fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def compare_figure(payload: dict, *, metric: str = "discharge_mah_g", band: str = "sd", fmt: str = "svg") -> bytes:
    """Group means against cycle with a band (sd or min-max) across replicates, in the page's colours."""
    if metric not in COMPARE_METRICS:
        raise ValueError(f"metric must be one of {', '.join(COMPARE_METRICS)}, not {metric!r}")
    with _styled() as fig:
        ax = fig.add_subplot()
        for group in payload["groups"]:
            cycle = np.asarray(group["cycle"], dtype=float)
            stats = group[metric]
            mean = np.asarray(stats["mean"], dtype=float)
            lo, hi = (stats["min"], stats["max"]) if band == "minmax" else (
                mean - np.nan_to_num(np.asarray(stats["sd"], dtype=float)),
                mean + np.nan_to_num(np.asarray(stats["sd"], dtype=float)))
            label = f"{group['name']} (n = {group['n_cells']})"
            ax.plot(cycle, mean, color=group["color"], label=label)
            ax.fill_between(cycle, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float), color=group["color"],
                            alpha=0.2, linewidth=0)
        ax.set_xlabel("Cycle number")
        ax.set_ylabel(COMPARE_METRICS[metric])
        if payload["groups"]:
            ax.legend(loc="best")
        return _render(fig, fmt)


def cell_profiles_figure(curves: dict, *, title: str = "", fmt: str = "svg") -> bytes:
    """Voltage against capacity of the chosen cycles (charge and discharge), one colour per cycle."""
    cycles = sorted({t["cycle"] for t in curves["traces"]})
    colors = dict(zip(cycles, _cycle_colors(len(cycles)), strict=True))
    with _styled() as fig:
        ax = fig.add_subplot()
        labelled = set()
        for trace in curves["traces"]:
            cycle = trace["cycle"]
            ax.plot(trace["capacity"], trace["voltage_v"], color=colors[cycle],
                    label=f"cycle {cycle}" if cycle not in labelled else None)
            labelled.add(cycle)
        ax.set_xlabel(_CAPACITY_LABELS.get(curves["capacity_unit"], f"Capacity ({curves['capacity_unit']})"))
        ax.set_ylabel("Voltage (V)")
        if title:
            ax.set_title(title, loc="left")
        if labelled:
            ax.legend(loc="best")
        return _render(fig, fmt)


def cell_capacity_figure(rows: list[dict], *, color: str, title: str = "", fmt: str = "svg") -> bytes:
    """Discharge capacity (left axis) and Coulombic efficiency (right axis) against cycle of one cell."""
    cycle = np.array([r["cycle"] for r in rows], dtype=float)
    per_gram = any(r.get("discharge_mah_g") is not None for r in rows)
    key = "discharge_mah_g" if per_gram else "discharge_mah"
    capacity = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
    ce = np.array([np.nan if r.get("ce_percent") is None else r["ce_percent"] for r in rows], dtype=float)
    with _styled(**{"axes.spines.right": True}) as fig:
        ax = fig.add_subplot()
        ax.plot(cycle, capacity, "o", markersize=2.5, color=color)
        ax.set_xlabel("Cycle number")
        ax.set_ylabel("Discharge capacity (mAh g$^{-1}$)" if per_gram else "Discharge capacity (mAh)")
        right = ax.twinx()
        right.plot(cycle, ce, "s", markersize=2, color="#555555", fillstyle="none")
        right.set_ylabel("Coulombic efficiency (%)")
        if title:
            ax.set_title(title, loc="left")
        return _render(fig, fmt)


def _cycle_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))][:n]
