"""Reads of the DRT of stored EIS spectra: each sweep's DRT computed on demand and cached, a cell's processes
tracked over cycles and set beside the circuit fit's R_int.

Not stored in the database: a DRT is a function of the stored points and of ``DRT_VERSION`` (0.15 s per
sweep), so it is cached (the shared "dashboard" cache: Redis in production) under a key made of both (a
reprocess that changes the points, or a new version of the method, changes the key) and a researcher's lambda
is a parameter of the read, not state to keep. The ingest warms the cache with each new sweep's DRT
(:func:`warm`), so the impedance page of a cell with 51 spectra does not compute them on its first view. A
cache that does not answer only costs the computation.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from types import SimpleNamespace

import numpy as np

from cycling.cache import read_guarded, write_guarded

from .drt import DRT_VERSION, DrtError, DrtPeak, arc_frequency_hz, compare_with_fit, drt_fit, drt_series
from .models import EisFit, EisSpectrum

log = logging.getLogger(__name__)
CACHE_TIMEOUT_S = 7 * 24 * 3600
MATCH_FIT_DECADES = 0.5  # the fit's R_int arc and a DRT peak are the same arc when this close in frequency


def _key(spectrum: EisSpectrum, lambda_: float | None) -> str:
    digest = hashlib.sha1(
        json.dumps([spectrum.freq_hz, spectrum.z_real_ohm, spectrum.z_imag_ohm]).encode(), usedforsecurity=False
    ).hexdigest()[:16]
    return f"drt:v{DRT_VERSION}:{spectrum.pk}:{digest}:{lambda_!r}"


def _compute(spectrum: EisSpectrum, lambda_: float | None) -> dict:
    try:
        result = drt_fit(freq_hz=np.asarray(spectrum.freq_hz, dtype=float),
                         z_ohm=np.asarray(spectrum.z_real_ohm, dtype=float)
                         + 1j * np.asarray(spectrum.z_imag_ohm, dtype=float), lambda_=lambda_)
    except DrtError as exc:
        return {"error": str(exc), "spectrum": spectrum.pk}
    return result.as_json() | {
        "spectrum": spectrum.pk, "sweep": spectrum.sweep,
        "peaks_detail": [p.as_dict() for p in result.peaks],
        "inductance_h": result.inductance_h,
        "capacitance_f": result.capacitance_f if result.capacitance_f and math.isfinite(result.capacitance_f)
        else None,
        "provenance": result.method, "warnings": result.warnings,
    }


def spectra_drts(spectra: list[EisSpectrum], *, lambda_: float | None = None) -> list[dict]:
    """The DRT of each stored sweep as a plain dict (the CLI's keys plus provenance), or ``{"error": reason}``;
    one cache round trip for those already computed."""
    keys = [_key(s, lambda_) for s in spectra]
    found = read_guarded(keys, what="DRT")
    missing = {k: _compute(s, lambda_) for k, s in zip(keys, spectra, strict=True) if k not in found}
    if missing:
        write_guarded(missing, timeout_s=CACHE_TIMEOUT_S, what="DRT")
    return [found.get(k) or missing[k] for k in keys]


def spectrum_drt(spectrum: EisSpectrum, *, lambda_: float | None = None) -> dict:
    """The DRT of one stored sweep (see :func:`spectra_drts`)."""
    return spectra_drts([spectrum], lambda_=lambda_)[0]


def warm(spectra: list[EisSpectrum]) -> None:
    """Compute and cache the DRTs of new sweeps (the ingest calls it after its transaction); never raises."""
    try:
        spectra_drts(spectra)
    except Exception as exc:  # noqa: BLE001 (a DRT problem must not fail an ingest: the page computes it)
        log.warning("DRT not precomputed (%s)", exc)


def _as_result(d: dict) -> SimpleNamespace:
    return SimpleNamespace(peaks=[DrtPeak(**{k: p[k] for k in ("tau_s", "f_hz", "resistance_ohm", "gamma_max_ohm",
                                                               "tau_from_s", "tau_to_s")})
                                  for p in d.get("peaks_detail", [])])


def _fit_comparison(fit: EisFit | None, drt: dict) -> dict | None:
    """The DRT peak at the frequency of the fit's R_int arc beside the fit's R_int (one resistor only)."""
    if fit is None or fit.r_int_ohm is None or "error" in drt or len(fit.r_int_elements or []) != 1:
        return None
    f_arc = arc_frequency_hz(fit.parameter_values(), fit.r_int_elements[0])
    if f_arc is None or not drt["peaks"]:
        return None
    peak = min(drt["peaks"], key=lambda p: abs(math.log10(p["f_hz"] / f_arc)))
    if abs(math.log10(peak["f_hz"] / f_arc)) > MATCH_FIT_DECADES:
        return None
    return compare_with_fit(peak["resistance_ohm"], fit.r_int_ohm, fit.r_int_stderr_ohm) | {
        "fit_f_hz": f_arc, "drt_f_hz": peak["f_hz"], "circuit": fit.circuit, "element": fit.r_int_elements[0]}


def cell_drt(spectra: list[EisSpectrum], current_fits: dict[int, EisFit | None] | None = None) -> dict:
    """DRTs of a cell's sweeps (in the given order), the processes tracked over cycles and, per sweep, the
    comparison with the current circuit fit's R_int where both describe the same arc."""
    current_fits = current_fits or {}
    drts = spectra_drts(spectra)
    usable = [(s, d) for s, d in zip(spectra, drts, strict=True) if "error" not in d]
    tracks = drt_series([s.after_cycle for s, _ in usable], [_as_result(d) for _, d in usable]) if usable else []
    for t in tracks:
        t["spectrum"] = [s.pk for s, _ in usable]
    comparisons = []
    for s, d in usable:
        c = _fit_comparison(current_fits.get(s.pk), d)
        if c is not None:
            comparisons.append(c | {"spectrum": s.pk, "after_cycle": s.after_cycle})
    return {
        "spectra": [d | {"after_cycle": s.after_cycle} for s, d in zip(spectra, drts, strict=True)],
        "tracks": tracks,
        "comparisons": comparisons,
        "n_disagree": sum(1 for c in comparisons if c["disagree"]),
        "version": DRT_VERSION,
    }


GROUP_MATCH_DECADES = 0.5  # processes of replicate cells are the same process when their median f are this close


def _group_processes(per_cell: dict[int, list[dict]]) -> list[dict]:
    """Processes of replicate cells pooled by median frequency, with mean, sample sd and n over the cells per
    cycle (a cell with two tracks in one cluster contributes their sum)."""
    items = sorted(((math.log10(t["f_hz_median"]), cell, t) for cell, tracks in per_cell.items() for t in tracks),
                   key=lambda x: -x[0])  # fast processes first
    clusters: list[list[tuple[float, int, dict]]] = []
    for item in items:
        if clusters and abs(item[0] - float(np.mean([c[0] for c in clusters[-1]]))) <= GROUP_MATCH_DECADES:
            clusters[-1].append(item)
        else:
            clusters.append([item])
    out = []
    for cluster in clusters:
        by_cell: dict[int, dict[int, float]] = {}
        for _, cell, t in cluster:
            for c, r in zip(t["cycle"], t["resistance_ohm"], strict=True):
                if c is not None and r is not None:
                    by_cell.setdefault(cell, {})
                    by_cell[cell][c] = by_cell[cell].get(c, 0.0) + r
        cycles = sorted({c for values in by_cell.values() for c in values})
        mean, sd, n = [], [], []
        for c in cycles:
            values = [v[c] for v in by_cell.values() if c in v]
            n.append(len(values))
            mean.append(float(np.mean(values)))
            sd.append(float(np.std(values, ddof=1)) if len(values) >= 2 else None)
        out.append({"f_hz_median": float(10 ** np.median([x[0] for x in cluster])), "cells": sorted(by_cell),
                    "cycle": cycles, "mean_ohm": mean, "sd_ohm": sd, "n": n})
    return out


def drt_compare(user, group_ids: tuple[int, ...], cycles: tuple[int, ...]) -> dict:
    """For the Compare page: each chosen group's DRTs at the chosen cycles (each cell's sweep measured after
    that cycle; default: the first and last cycle measured) and its processes' resistance vs cycle over the replicate cells (mean, sample sd, n)."""
    from cells.selectors import groups_visible_to

    from .selectors import spectra_visible_to

    groups = list(groups_visible_to(user).filter(pk__in=group_ids))
    order = {gid: i for i, gid in enumerate(group_ids)}
    groups.sort(key=lambda g: order[g.pk])
    spectra = list(spectra_visible_to(user).filter(cell__group__in=[g.pk for g in groups], after_cycle__isnull=False)
                   .order_by("cell_id", "after_cycle", "datafile_id", "sweep"))
    if not cycles and spectra:  # default: the first and the last measured cycle
        cycles = tuple(sorted({min(s.after_cycle for s in spectra), max(s.after_cycle for s in spectra)}))
    drts = dict(zip([s.pk for s in spectra], spectra_drts(spectra), strict=True))
    out = []
    for g in groups:
        mine = [s for s in spectra if s.cell.group_id == g.pk]
        per_cell: dict[int, list[dict]] = {}
        curves = []
        for cell_id in sorted({s.cell_id for s in mine}):
            cell_spectra = [s for s in mine if s.cell_id == cell_id and "error" not in drts[s.pk]]
            if not cell_spectra:
                continue
            results = [_as_result(drts[s.pk]) for s in cell_spectra]
            per_cell[cell_id] = drt_series([s.after_cycle for s in cell_spectra], results)
            for s in cell_spectra:
                if s.after_cycle in cycles:
                    d = drts[s.pk]
                    curves.append({"cell": cell_id, "cell_name": s.cell.name, "cycle": s.after_cycle,
                                   "spectrum": s.pk, "tau_s": d["tau_s"], "gamma_ohm": d["gamma_ohm"],
                                   "lambda": d["lambda"]})
        out.append({"id": g.pk, "name": g.name, "color": g.color or "", "drts": curves,
                    "processes": _group_processes(per_cell)})
    return {"groups": out, "cycles": list(cycles), "version": DRT_VERSION}
