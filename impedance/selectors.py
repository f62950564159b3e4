"""Reads of EIS results, always scoped to the cells the asking user may see."""
from __future__ import annotations

import numpy as np
import pandas as pd
from django.db.models import Prefetch, Q, QuerySet

from cells.models import Cell, CellGroup
from cells.selectors import cells_visible_to, groups_visible_to
from cycling.models import DataFile

from .analysis import R_INT_MARK_RELATIVE_ERROR
from .circuits import compile_circuit
from .models import EisFit, EisSpectrum

CURVE_POINTS = 200
_DATA_FIELDS = ("freq_hz", "z_real_ohm", "z_imag_ohm", "kk")


def spectra_visible_to(user) -> QuerySet[EisSpectrum]:
    """Spectra of visible cells whose file has not since failed (a failed reprocess hides stale rows)."""
    return (
        EisSpectrum.objects.restrict(user)
        .exclude(datafile__status=DataFile.Status.FAILED)
        .select_related("cell", "datafile")
    )


def with_current_fit(qs: QuerySet[EisSpectrum]) -> QuerySet[EisSpectrum]:
    """Prefetch each spectrum's current fit into ``current_fits`` (a list of zero or one)."""
    return qs.prefetch_related(
        Prefetch("fits", queryset=EisFit.objects.filter(is_current=True), to_attr="current_fits")
    )


def current_fit(spectrum: EisSpectrum) -> EisFit | None:
    fits = getattr(spectrum, "current_fits", None)
    if fits is None:
        fits = [f for f in spectrum.fits.all() if f.is_current]
    return fits[0] if fits else None


def list_rows(qs: QuerySet[EisSpectrum]) -> QuerySet[EisSpectrum]:
    """The list endpoint's rows: the data arrays are left in the database."""
    return with_current_fit(qs.defer(*_DATA_FIELDS)).order_by("cell__name", "after_cycle", "datafile_id", "sweep")


# --- one spectrum for plotting ----------------------------------------------------------------

def _bode(f: np.ndarray, z: np.ndarray) -> dict:
    return {
        "freq_hz": f.tolist(),
        "z_real_ohm": z.real.tolist(),
        "z_imag_ohm": z.imag.tolist(),
        "z_mod_ohm": np.abs(z).tolist(),
        "phase_deg": np.degrees(np.angle(z)).tolist(),
    }


def fit_curve(fit: EisFit, freq_min_hz: float, freq_max_hz: float, points: int = CURVE_POINTS) -> dict | None:
    """Z of the fitted circuit on a log-spaced grid over the measured range (high to low frequency)."""
    circ = compile_circuit(fit.circuit)  # stored circuits passed the strict grammar; parsed again, never eval'd
    values = [fit.parameters.get(name, {}).get("value") for name in circ.parameter_names]
    if any(v is None for v in values):
        return None
    f = np.logspace(np.log10(freq_max_hz), np.log10(freq_min_hz), points)
    z = circ(values, f)
    if not np.all(np.isfinite(z)):
        return None
    return _bode(f, z)


def r_int_finding(r_int_ohm, r_int_stderr_ohm, converged, refused) -> tuple[bool, str]:
    """(marked, why) for one fit's R_int: no R_int (refused), not converged, or a standard error above
    ``R_INT_MARK_RELATIVE_ERROR`` of the value: such points are shown as marked, never as plain points."""
    if r_int_ohm is None:
        return True, f"no R_int: {refused}" if refused else "no R_int"
    if not converged:
        return True, "the fit did not converge"
    if r_int_stderr_ohm is None or r_int_ohm == 0 or r_int_stderr_ohm / abs(r_int_ohm) > R_INT_MARK_RELATIVE_ERROR:
        pct = "unknown" if r_int_stderr_ohm is None or r_int_ohm == 0 else f"{100 * r_int_stderr_ohm / abs(r_int_ohm):.0f} %"
        return True, f"standard error {pct} of R_int (> {100 * R_INT_MARK_RELATIVE_ERROR:g} %)"
    return False, ""


def _fit_finding(fit: EisFit) -> tuple[bool, str]:
    return r_int_finding(fit.r_int_ohm, fit.r_int_stderr_ohm, fit.converged, (fit.provenance or {}).get("refused"))


def fit_summary(fit: EisFit | None) -> dict | None:
    if fit is None:
        return None
    marked, finding = _fit_finding(fit)
    return {
        "provenance": fit.provenance or {}, "r_int_marked": marked, "r_int_finding": finding,
        "id": fit.pk, "circuit": fit.circuit, "is_current": fit.is_current, "r_int_elements": fit.r_int_elements,
        "r_int_definition": fit.r_int_definition, "r_int_ohm": fit.r_int_ohm,
        "r_int_stderr_ohm": fit.r_int_stderr_ohm, "area_cm2": fit.area_cm2, "r_int_ohm_cm2": fit.r_int_ohm_cm2,
        "r_int_stderr_ohm_cm2": fit.r_int_stderr_ohm_cm2, "chi_square": fit.chi_square,
        "chi_square_reduced": fit.chi_square_reduced, "converged": fit.converged, "parameters": fit.parameters,
        "weighting": fit.weighting, "library_versions": fit.library_versions, "warnings": fit.warnings,
        "created_by": fit.created_by.get_username() if fit.created_by_id else None,
        "created_at": fit.created_at.isoformat(),
    }


def spectrum_summary(spectrum: EisSpectrum) -> dict:
    fit = current_fit(spectrum)
    return {
        "id": spectrum.pk, "cell": spectrum.cell_id, "cell_name": spectrum.cell.name,
        "datafile": spectrum.datafile_id, "original_name": spectrum.datafile.original_name,
        "sweep": spectrum.sweep, "after_cycle": spectrum.after_cycle, "temperature_c": spectrum.temperature_c,
        "dc_potential_v": spectrum.dc_potential_v, "n_points": spectrum.n_points,
        "freq_min_hz": spectrum.freq_min_hz, "freq_max_hz": spectrum.freq_max_hz,
        "kk_max_residual_pct": spectrum.kk_max_residual_pct, "kk_passes": spectrum.kk_passes,
        "warnings": spectrum.warnings,
        "circuit": fit.circuit if fit else None, "r_int_ohm": fit.r_int_ohm if fit else None,
        "r_int_stderr_ohm": fit.r_int_stderr_ohm if fit else None,
        "r_int_ohm_cm2": fit.r_int_ohm_cm2 if fit else None, "fit_converged": fit.converged if fit else None,
        "r_int_marked": _fit_finding(fit)[0] if fit else None, "r_int_finding": _fit_finding(fit)[1] if fit else "",
    }


def spectrum_detail(spectrum: EisSpectrum, fits: list[EisFit] | None = None) -> dict:
    """Data for Nyquist/Bode plots, every fit (current first) evaluated on a dense grid, KK residuals."""
    if fits is None:
        fits = list(spectrum.fits.select_related("created_by").order_by("-is_current", "-created_at"))
    f = np.asarray(spectrum.freq_hz, dtype=float)
    z = np.asarray(spectrum.z_real_ohm, dtype=float) + 1j * np.asarray(spectrum.z_imag_ohm, dtype=float)
    kk = spectrum.kk or {}
    spectrum.current_fits = [fit for fit in fits if fit.is_current]
    detail = spectrum_summary(spectrum)
    detail["metadata"] = spectrum.metadata
    detail["data"] = _bode(f, z)
    detail["kk"] = {
        "freq_hz": kk.get("freq_hz", []), "residuals_real_pct": kk.get("residuals_real_pct", []),
        "residuals_imag_pct": kk.get("residuals_imag_pct", []), "threshold_pct": kk.get("threshold_pct"),
        "n_rc": kk.get("n_rc"), "mu": kk.get("mu"), "c": kk.get("c"), "fit_type": kk.get("fit_type"),
        "add_cap": kk.get("add_cap"), "add_inductance": kk.get("add_inductance"),
        "max_abs_residual_pct": kk.get("max_abs_residual_pct"), "passes": kk.get("passes"),
        "noise_pct": kk.get("noise_pct"), "amplitude": kk.get("amplitude"), "amplitude_limit": kk.get("amplitude_limit"),
        "structure": kk.get("structure"), "structure_limit": kk.get("structure_limit"),
        "structure_window": kk.get("structure_window") or {}, "finding": kk.get("finding", ""),
        "version": kk.get("version", 1), "rule": kk.get("rule", ""),
    }
    detail["fits"] = [
        fit_summary(fit) | {"curve": fit_curve(fit, spectrum.freq_min_hz, spectrum.freq_max_hz)} for fit in fits
    ]
    return detail


# --- R_int vs cycle ------------------------------------------------------------------------------

_RINT_COLUMNS = {
    "spectrum__cell_id": "cell",
    "spectrum_id": "spectrum",
    "spectrum__after_cycle": "cycle",
    "spectrum__datafile_id": "datafile",
    "spectrum__sweep": "sweep",
    "spectrum__kk_passes": "kk_passes",
    "circuit": "circuit",
    "converged": "converged",
    "r_int_ohm": "r_int_ohm",
    "r_int_stderr_ohm": "r_int_stderr_ohm",
    "r_int_ohm_cm2": "r_int_ohm_cm2",
    "provenance__refused": "refused",
}
_SERIES_FIELDS = ["cycle", "r_int_ohm", "r_int_stderr_ohm", "r_int_ohm_cm2", "spectrum", "kk_passes", "converged",
                  "circuit", "marked", "finding"]


def rint_frame(cells) -> pd.DataFrame:
    """Current fits of the cells' spectra in ONE query (``cells``: Cell instances or a queryset of them)."""
    cell_filter = Q(spectrum__cell__in=cells) if isinstance(cells, QuerySet) else Q(
        spectrum__cell_id__in=[c.pk for c in cells])
    rows = (
        EisFit.objects.filter(cell_filter, is_current=True)
        .exclude(spectrum__datafile__status=DataFile.Status.FAILED)
        .order_by("spectrum__cell_id", "spectrum__after_cycle", "spectrum__datafile_id", "spectrum__sweep")
        .values_list(*_RINT_COLUMNS)
    )
    frame = pd.DataFrame(list(rows), columns=list(_RINT_COLUMNS.values()))
    findings = [
        r_int_finding(None if pd.isna(r) else r, None if pd.isna(e) else e, bool(c), x)
        for r, e, c, x in zip(frame["r_int_ohm"], frame["r_int_stderr_ohm"], frame["converged"], frame["refused"],
                              strict=True)
    ]
    frame["marked"] = [m for m, _ in findings]
    frame["finding"] = [w for _, w in findings]
    return frame


def r_int_after_formation(cells) -> dict[int, dict]:
    """{cell id: R_int of its earliest spectrum's current fit (lowest known after_cycle; spectra of unknown cycle
    only when there is no other), that cycle and the spectrum id}: ONE query. The one definition of "R_int after
    formation" (compare, effects)."""
    if not cells:
        return {}
    frame = rint_frame(cells)
    if frame.empty:
        return {}
    # Known cycles first (NULL ordering differs between SQLite and PostgreSQL: sort here, not in SQL).
    frame = frame.sort_values(["cell", "cycle", "datafile", "sweep"], na_position="last", kind="stable")
    first = frame.drop_duplicates("cell", keep="first")
    return {
        int(row.cell): {
            "r_int_ohm": row.r_int_ohm, "r_int_ohm_cm2": row.r_int_ohm_cm2,
            "r_int_cycle": None if pd.isna(row.cycle) else int(row.cycle), "r_int_spectrum_id": int(row.spectrum),
        }
        for row in first.itertuples(index=False)
    }


def _clean(values) -> list:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def cell_series(cell: Cell, frame: pd.DataFrame) -> dict:
    """One cell's R_int per spectrum, by cycle (spectra of unknown cycle last, with cycle None)."""
    mine = frame[frame["cell"] == cell.pk]
    mine = mine.sort_values(["cycle", "datafile", "sweep"], na_position="last", kind="stable")
    series = {
        "id": cell.pk, "name": cell.name, "group_id": cell.group_id, "group": cell.group.name,
        "color": cell.group.color or "", "area_cm2": cell.electrode_area_cm2,
    }
    for field in _SERIES_FIELDS:
        column = mine[field].astype(object) if field in mine else pd.Series([], dtype=object)
        values = [None if pd.isna(v) else v for v in column] if field == "cycle" else list(column)
        series[field] = _clean([int(v) if field == "cycle" and v is not None else v for v in values])
    return series


def _stats(per_cell: pd.DataFrame, column: str, cycles: list[int]) -> dict:
    """Mean, sample sd (None below two cells) and n per cycle over the cells (columns of the pivot)."""
    if per_cell.empty:
        return {"mean": [], "sd": [], "n": []}
    pivot = per_cell.pivot_table(index="cycle", columns="cell", values=column, aggfunc="mean").reindex(cycles)
    n = pivot.notna().sum(axis=1)
    mean = pivot.mean(axis=1)
    sd = pivot.std(axis=1, ddof=1).where(n >= 2)
    return {
        "mean": _clean([None if pd.isna(v) else round(float(v), 4) for v in mean]),
        "sd": _clean([None if pd.isna(v) else round(float(v), 4) for v in sd]),
        "n": [int(v) for v in n],
    }


def group_series(group: CellGroup, members: list[Cell], frame: pd.DataFrame) -> dict:
    """A group's R_int per cycle: each cell's mean at that cycle, then mean/sd/n over the cells.

    Marked fits (no R_int, not converged, large standard error) stay out of the mean: they are shown on
    their cell's series with the reason instead.
    """
    ids = [c.pk for c in members]
    keep = frame["cell"].isin(ids) & frame["cycle"].notna() & ~frame["marked"].astype(bool)
    rows = frame[keep].copy()
    rows["cycle"] = rows["cycle"].astype(int)
    for col in ("r_int_ohm", "r_int_ohm_cm2"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce")
    cycles = sorted(int(c) for c in rows["cycle"].unique())
    return {
        "id": group.pk, "name": group.name, "color": group.color or "", "cells": ids, "n_cells": len(ids),
        "cycle": cycles, "r_int_ohm": _stats(rows, "r_int_ohm", cycles),
        "r_int_ohm_cm2": _stats(rows, "r_int_ohm_cm2", cycles),
    }


def rint_compare(user, group_ids: tuple[int, ...], cell_ids: tuple[int, ...]) -> dict:
    """R_int vs cycle for chosen groups (members' series + mean/sd) and single cells.

    Three queries whatever the number of cells: the visible groups, the visible cells, their fits.
    """
    groups = list(groups_visible_to(user).filter(pk__in=group_ids)) if group_ids else []
    order = {gid: i for i, gid in enumerate(group_ids)}
    groups.sort(key=lambda g: order[g.pk])
    if not groups and not cell_ids:
        return {"groups": [], "cells": []}
    cond = Q(pk__in=cell_ids) | Q(group__in=[g.pk for g in groups])
    cells = list(cells_visible_to(user).filter(cond).order_by("group__name", "replicate_number", "name"))
    frame = rint_frame(cells)
    chosen = set(cell_ids)
    return {
        "groups": [group_series(g, [c for c in cells if c.group_id == g.pk], frame) for g in groups],
        "cells": [cell_series(c, frame) | {"selected": c.pk in chosen} for c in cells],
    }


def _fmt_hz(hz: float) -> str:
    """'7 MHz', '0.1 Hz': below 1 Hz in Hz, as EIS papers write the lower end."""
    for factor, unit in ((1e6, "MHz"), (1e3, "kHz")):
        if abs(hz) >= factor:
            return f"{hz / factor:.3g} {unit}"
    return f"{hz:.3g} Hz"


def eis_provenance(datafile_ids) -> dict[int, list[dict]]:
    """How the numbers of EIS files were made, per file id: one row per sweep with the frequency range,
    the Kramers-Kronig check and the current fit (circuit, R_int, chi², convergence). Two queries in all;
    the spectra's big JSON columns are not loaded."""
    spectra = with_current_fit(
        EisSpectrum.objects.filter(datafile_id__in=list(datafile_ids)).defer(*_DATA_FIELDS, "metadata")
    ).order_by("datafile_id", "sweep")
    out: dict[int, list[dict]] = {}
    for s in spectra:
        fit = current_fit(s)
        out.setdefault(s.datafile_id, []).append({
            "sweep": s.sweep, "after_cycle": s.after_cycle, "n_points": s.n_points,
            "frequency_range": f"{_fmt_hz(s.freq_max_hz)} – {_fmt_hz(s.freq_min_hz)}",
            "kk_passes": s.kk_passes, "kk_max_residual_pct": s.kk_max_residual_pct,
            "circuit": fit.circuit if fit else None, "r_int_elements": fit.r_int_elements if fit else [],
            "r_int_ohm": fit.r_int_ohm if fit else None, "r_int_stderr_ohm": fit.r_int_stderr_ohm if fit else None,
            "chi_square_reduced": fit.chi_square_reduced if fit else None,
            "chi_square_reduced_text": f"{fit.chi_square_reduced:.3g}" if fit and fit.chi_square_reduced is not None
            else "—",
            "converged": fit.converged if fit else None, "weighting": fit.weighting if fit else None,
        })
    return out
