"""Writes of EIS results: ingest an uploaded EIS file (parse, KK-check, fit, swap in) and refit a sweep.

The ingest is called by ``ingest.machinery.datafile_ingest`` after it has claimed the file (registered for
EIS files from ImpedanceConfig.ready), and follows the
cycling path: the slow work (parse, lin-KK, fits) happens outside any transaction, then the file's rows are
replaced inside one transaction that first checks the claim is still ours, so a second run or a run after a
crash leaves exactly one consistent result.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from assb_lab.lib import jsonable
from cells.services import audit, cell_data_changed
from cycling.models import DataFile
from ingest.machinery import IngestFailed

from . import drt_selectors, parsers
from .analysis import (
    DEFAULT_CIRCUIT,
    KK_RULE,
    KK_VERSION,
    R_INT_ELEMENTS,
    FitResult,
    _suspicious,
    fit_spectrum,
    kramers_kronig,
    library_versions,
)
from .circuits import compile_circuit, validate_circuit
from .models import EisFit, EisSpectrum

INGEST_VERSION = 3  # 2: circuit chosen from the data (inductor), own lin-KK, refused sweeps; 3: KK_VERSION 2
FIT_TIME_LIMIT_S = 20.0  # per circuit fitted; a sweep fits at most two circuits, each with at most two starts
REFIT_TIME_LIMIT_S = 10.0  # a refit runs inside the web request

_NOTES_CYCLE = re.compile(r"\bafter[_ ]?cycle\s*[=:]\s*(\d{1,6})\b", re.IGNORECASE)
_NAME_CYCLE = re.compile(r"(?:^|[_\-\s.])(?:c|cyc|cycle)[_\-]?(\d{1,6})(?=[_\-\s.]|$)", re.IGNORECASE)
_ELEMENT_NAME = re.compile(r"^[A-Za-z]{1,4}\d{1,3}$")


def after_cycle_of(*, notes: str, original_name: str) -> tuple[int | None, str]:
    """The cycle after which a file's spectra were measured, and where that came from.

    Rule: ``after_cycle=N`` (or ``after cycle: N``) in the upload notes wins; else a cycle token in the
    file name (``LNTO-01_c100.mpt``, ``bare_cycle100.txt``, ``x_cyc-100.z``; the last one counts); else
    unknown (None). 0 means before cycling (e.g. after assembly).
    """
    m = _NOTES_CYCLE.search(notes or "")
    if m:
        return int(m.group(1)), "notes"
    stem = (original_name or "").rsplit(".", 1)[0]
    found = _NAME_CYCLE.findall(stem)
    if found:
        return int(found[-1]), "file name"
    return None, ""


# --- ingest ---------------------------------------------------------------------------------

def spectrum_ingest(*, datafile: DataFile, token, owned, progress) -> str:
    """Parse one EIS file, KK-check and fit each sweep with the default circuit, swap in its rows.

    ``owned(datafile_id, token)`` is the queryset of the file while our claim holds. Bad data raises
    IngestFailed with the parser's message (no rows are written); a KK failure or a poor fit is a
    warning, not a failure.
    """
    cell = datafile.cell
    try:
        with default_storage.open(datafile.file.name, "rb") as fh:
            parsed = parsers.read_eis(fh, name=datafile.original_name)
    except parsers.ParseError as exc:
        raise IngestFailed(str(exc)) from exc  # the message already names the file
    progress.stage(0, 10)(1.0)

    sweeps = parsed.sweeps()
    area = cell.electrode_area_cm2
    after_cycle, cycle_source = after_cycle_of(notes=datafile.notes, original_name=datafile.original_name)
    warnings = list(parsed.warnings)
    if after_cycle is None:
        warnings.append("No cycle number: add after_cycle=N to the upload notes or name the file like "
                        "'..._c100.mpt' to place its spectra on the R_int vs cycle plot.")
    if area is None:
        warnings.append(f"Cell {cell.name} has no electrode area: area-specific R_int (ohm cm2) is left empty.")

    kk_results = []
    for k, sweep in enumerate(sweeps):
        kk_results.append(_kk(sweep))
        progress.stage(10, 30)((k + 1) / len(sweeps))

    seed_fit, series_fit = _series_fits(datafile, after_cycle)
    results = _fit_sweeps(sweeps, seed_fit, series_fit, area, progress)

    kept = _rerun_user_refits(datafile, sweeps, area)
    if kept:
        warnings.append(f"Kept {len(kept)} refit(s) by a user across the reprocess, refitted on the new points: "
                        + ", ".join(sorted({r.circuit for _, r in kept})) + ".")

    temperature = _float(parsed.metadata.get("temperature_c"))
    if temperature is None:
        temperature = cell.temperature_c
    spectra: list[EisSpectrum] = []
    for sweep, kk in zip(sweeps, kk_results, strict=True):
        number = int(sweep.metadata.get("sweep", 1))
        prefix = f"Sweep {number}: " if len(sweeps) > 1 else ""
        sweep_warnings = kk_warnings(kk)
        warnings += [prefix + w[0].upper() + w[1:] for w in sweep_warnings]
        f = sweep.freq_hz
        z = sweep.z_ohm
        spectra.append(EisSpectrum(
            datafile=datafile, cell=cell, sweep=number, after_cycle=after_cycle, temperature_c=temperature,
            dc_potential_v=_float(sweep.metadata.get("dc_potential_v")), n_points=len(f),
            freq_min_hz=float(f.min()), freq_max_hz=float(f.max()),
            freq_hz=_floats(f), z_real_ohm=_floats(z.real), z_imag_ohm=_floats(z.imag),
            **kk_fields(kk),
            metadata=jsonable({k: v for k, v in sweep.metadata.items() if k != "columns"}),
            warnings=sweep_warnings,
        ))
    for k, result in enumerate(results):
        prefix = f"Sweep {spectra[k].sweep} fit: " if len(sweeps) > 1 else "Fit: "
        warnings += [prefix + w for w in result.warnings]

    metadata = {**jsonable(parsed.metadata), "after_cycle": after_cycle, "after_cycle_source": cycle_source}
    provenance = {
        "ingest_version": INGEST_VERSION, "circuit": results[0].circuit if results else DEFAULT_CIRCUIT,
        "circuit_choice": jsonable(results[0].provenance) if results else {}, "r_int_elements": list(R_INT_ELEMENTS),
        "library_versions": library_versions(), "area_cm2": area, "kk_version": KK_VERSION, "kk_rule": KK_RULE,
        "fit_time_limit_s": FIT_TIME_LIMIT_S, "seeded_from_fit": seed_fit.pk if seed_fit else None,
        "computed_at": timezone.now().isoformat(),
    }
    with transaction.atomic():
        if owned(datafile.pk, token).select_for_update().first() is None:
            return "abandoned"  # the lease ran out and another worker took over: leave its result
        EisSpectrum.objects.filter(datafile=datafile).delete()
        EisSpectrum.objects.bulk_create(spectra)
        previous = seed_fit
        for spectrum, result in zip(spectra, results, strict=True):
            was_seeded = bool(result.provenance.get("seeded"))
            created = fit_create(spectrum, result, seeded_from=previous if was_seeded else None)
            if result.has_r_int and result.converged:
                previous = created
        _store_kept_refits(spectra, kept)
        DataFile.objects.filter(pk=datafile.pk).update(
            status=DataFile.Status.IMPORTED, progress_percent=100, error="", traceback="", warnings=warnings,
            n_records=sum(s.n_points for s in spectra), n_cycles=None, metadata=metadata, provenance=provenance,
            claim_token=None, finished_at=timezone.now(),
        )
    drt_selectors.warm(spectra)  # after the commit: the page then reads the DRTs from the cache
    return DataFile.Status.IMPORTED


def kk_fields(kk) -> dict:
    """The EisSpectrum fields that hold a lin-KK result (``kk`` None: it could not be computed)."""
    if kk is None:
        return {"kk_max_residual_pct": None, "kk_passes": None, "kk": {}}
    return {"kk_max_residual_pct": kk.max_abs_residual_pct, "kk_passes": kk.passes, "kk": jsonable(kk.to_dict())}


KK_WARNING_PREFIX = "Kramers-Kronig"


def kk_warnings(kk) -> list[str]:
    """The sweep's warnings of a lin-KK result; each starts with ``KK_WARNING_PREFIX`` (a recheck replaces them)."""
    if kk is None:
        return [f"{KK_WARNING_PREFIX} test could not be computed"]
    if kk.passes:
        return []
    return [
        f"{KK_WARNING_PREFIX} residuals are not noise: {kk.finding}. The cell may have drifted during the sweep "
        "(or a point is bad); treat the fit with care"
    ]


def _is_kk_warning(text: str) -> bool:
    return KK_WARNING_PREFIX in text  # the KK lines of every version name the test; no other line does


def kk_recheck(*, spectrum_model=EisSpectrum, datafile_model=DataFile, only_outdated: bool = True) -> int:
    """Recompute stored lin-KK results from the stored points with the current rule (``KK_VERSION``).

    The KK check reads only a sweep's points and feeds nothing else (the fits do not use it), so a new rule
    needs no re-ingest: each spectrum's ``kk`` fields and KK warning are replaced, and so are its file's KK
    warning lines and the rule named in its provenance; fits, refits and everything else stay. Used by
    migration 0004 (with its historical models) and ``manage.py recheck_kk``. Returns the spectra changed.
    """
    changed_files: dict[int, list] = {}
    n = 0
    for spectrum in spectrum_model.objects.order_by("datafile_id", "sweep").iterator(chunk_size=200):
        if only_outdated and (spectrum.kk or {}).get("version") == KK_VERSION:
            continue
        kk = _kk(as_parsed(spectrum))
        fields = kk_fields(kk)
        for name, value in fields.items():
            setattr(spectrum, name, value)
        spectrum.warnings = [w for w in (spectrum.warnings or []) if not _is_kk_warning(w)]
        spectrum.warnings += kk_warnings(kk)
        spectrum.save(update_fields=[*fields, "warnings"])
        changed_files.setdefault(spectrum.datafile_id, [])
        n += 1
    for datafile in datafile_model.objects.filter(pk__in=list(changed_files)):
        sweeps = list(spectrum_model.objects.filter(datafile_id=datafile.pk).order_by("sweep"))
        lines = [w for w in (datafile.warnings or []) if not _is_kk_warning(w)]
        for spectrum in sweeps:
            prefix = f"Sweep {spectrum.sweep}: " if len(sweeps) > 1 else ""
            lines += [prefix + w[0].upper() + w[1:] for w in spectrum.warnings if _is_kk_warning(w)]
        provenance = {k: v for k, v in (datafile.provenance or {}).items() if k != "kk_threshold_pct"}
        provenance.update(kk_version=KK_VERSION, kk_rule=KK_RULE)
        datafile_model.objects.filter(pk=datafile.pk).update(warnings=lines, provenance=provenance)
    return n


def _kk(sweep: parsers.EisSpectrum):
    try:
        return kramers_kronig(sweep)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError):
        return None


def _fit_sweeps(sweeps, seed_fit: EisFit | None, series_fit: EisFit | None, area, progress) -> list[FitResult]:
    """Fit every sweep with the cell's series circuit, or choose one from the first sweep that can be fitted.

    A cell's R_int-vs-cycle series keeps one circuit (the one of its earlier fits, which a user may have
    changed by a refit), so that R_int values of different cycles mean the same thing. Each fit starts from
    the previous converged one of the series (same circuit) and, if that start looks poor, also from the
    spectrum's own start; the better fit is kept.
    """
    circuit = series_fit.circuit if series_fit else None
    elements = tuple(series_fit.r_int_elements) if series_fit else R_INT_ELEMENTS
    source = (
        f"kept the circuit of this cell's R_int series (fit #{series_fit.pk}, after cycle "
        f"{series_fit.spectrum.after_cycle}); refit to change it" if series_fit else ""
    )
    seed = seed_fit.parameter_values() if seed_fit and seed_fit.circuit == circuit else None
    options = {"area_cm2": area, "time_limit_s": FIT_TIME_LIMIT_S, "r_int_elements": elements}
    results: list[FitResult] = []
    for k, sweep in enumerate(sweeps):
        if circuit is None:
            result = fit_spectrum(sweep, **options)
            if result.has_r_int:
                circuit, source = result.circuit, f"chosen from sweep {sweep.metadata.get('sweep', 1)} of this file"
        else:
            result = fit_spectrum(sweep, circuit=circuit, circuit_source=source, initial=seed, **options)
            if seed is not None and _suspicious(result):
                # A start from another sweep can sit in the wrong minimum when the spectrum changed a lot:
                # try the spectrum's own start as well and keep the better fit.
                fresh = fit_spectrum(sweep, circuit=circuit, circuit_source=source, **options)
                if fresh.chi_square < result.chi_square:
                    result = fresh
                else:
                    result.provenance["seeded"] = True
            elif seed is not None:
                result.provenance["seeded"] = True
        if result.has_r_int and result.converged:
            seed = dict(zip(result.parameter_names, result.values, strict=True))
        results.append(result)
        progress.stage(30, 90)((k + 1) / len(sweeps))
    return results


def _series_fits(datafile: DataFile, after_cycle: int | None) -> tuple[EisFit | None, EisFit | None]:
    """(seed, series) fits of the file's cell: the current fit with R_int from the latest earlier cycle (the
    seed of a series), and the fit whose circuit the series keeps: the seed if any, else the cell's earliest."""
    fits = (
        EisFit.objects.filter(
            is_current=True, converged=True, r_int_ohm__isnull=False, spectrum__cell_id=datafile.cell_id,
            spectrum__datafile__status=DataFile.Status.IMPORTED,
        )
        .exclude(spectrum__datafile_id=datafile.pk)
        .select_related("spectrum")
    )
    seed = None
    if after_cycle is not None:
        seed = (
            fits.filter(spectrum__after_cycle__lt=after_cycle)
            .order_by("-spectrum__after_cycle", "-spectrum__sweep", "-created_at")
            .first()
        )
    series = seed or fits.order_by("spectrum__after_cycle", "spectrum__sweep", "created_at").first()
    return seed, series


def _rerun_user_refits(datafile: DataFile, sweeps, area) -> list[tuple[EisFit, FitResult]]:
    """A reprocess replaces a file's spectra: the refits users made of them are fitted again, same circuit and
    R_int elements, on the new points of the same sweep (outside the transaction: fits take time), so that a
    researcher's choice survives instead of being deleted with the old rows."""
    by_number = {int(s.metadata.get("sweep", 1)): s for s in sweeps}
    out = []
    old = EisFit.objects.filter(spectrum__datafile=datafile, created_by__isnull=False).select_related(
        "spectrum", "created_by")
    for fit in old.order_by("created_at"):
        sweep = by_number.get(fit.spectrum.sweep)
        if sweep is None:
            continue
        try:
            result = fit_spectrum(sweep, circuit=fit.circuit, r_int_elements=list(fit.r_int_elements),
                                  circuit_source="refit by a user, kept across a reprocess", area_cm2=area,
                                  time_limit_s=REFIT_TIME_LIMIT_S)
        except ValueError:
            continue
        result.provenance = {**result.provenance, "kept_across_reprocess": {
            "previous_fit": fit.pk, "previous_r_int_ohm": fit.r_int_ohm, "was_current": fit.is_current,
            "refit_at": fit.created_at.isoformat(), "by": fit.created_by.get_username()}}
        out.append((fit, result))
    return out


def _store_kept_refits(spectra: list[EisSpectrum], kept: list[tuple[EisFit, FitResult]]) -> None:
    """Store the re-run refits on the new spectra (inside the ingest's transaction); the one that was current
    stays current, otherwise the ingest's own fit does."""
    by_number = {s.sweep: s for s in spectra}
    for spectrum in spectra:
        mine = [(old, r) for old, r in kept if old.spectrum.sweep == spectrum.sweep]
        if not mine:
            continue
        default = EisFit.objects.get(spectrum=spectrum, is_current=True)
        current = default
        for old, result in mine:
            created = fit_create(by_number[spectrum.sweep], result, created_by=old.created_by)
            if old.is_current:
                current = created
        EisFit.objects.filter(spectrum=spectrum).exclude(pk=current.pk).update(is_current=False)
        EisFit.objects.filter(pk=current.pk).update(is_current=True)


def fit_create(spectrum: EisSpectrum, result: FitResult, *, seeded_from=None, created_by=None) -> EisFit:
    """Store a fit as the spectrum's current one (call inside a transaction)."""
    d = result.to_dict()
    parameters = {
        name: {"value": value, "stderr": err, "unit": unit, "fixed": name in result.fixed}
        for name, value, err, unit in zip(d["parameter_names"], d["values"], d["stderr"], d["units"], strict=True)
    }
    EisFit.objects.filter(spectrum=spectrum, is_current=True).update(is_current=False)
    cell_data_changed(cell_id=spectrum.cell_id)  # R_int of the compare page
    return EisFit.objects.create(
        spectrum=spectrum, circuit=result.circuit, r_int_elements=list(result.r_int_elements),
        r_int_definition=result.r_int_definition, parameters=parameters, chi_square=d["chi_square"],
        chi_square_reduced=d["chi_square_reduced"], weighting=result.weighting, r_int_ohm=d["r_int_ohm"],
        r_int_stderr_ohm=d["r_int_stderr_ohm"], area_cm2=d["area_cm2"], r_int_ohm_cm2=d["r_int_area_ohm_cm2"],
        r_int_stderr_ohm_cm2=d["r_int_area_stderr_ohm_cm2"], converged=result.converged, seeded_from=seeded_from,
        elapsed_s=result.elapsed_s, library_versions=result.library_versions, warnings=list(result.warnings),
        provenance=jsonable({**result.provenance, "refused": result.refused, "notes": result.notes}), is_current=True,
        created_by=created_by,
    )


# --- refit ----------------------------------------------------------------------------------

class RefitError(ValueError):
    """The refit request is not usable (bad circuit, bad R_int elements); the message names the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def spectrum_refit(*, spectrum: EisSpectrum, circuit: str, r_int_elements=None, actor=None) -> EisFit:
    """Fit another circuit to a stored sweep; the new fit becomes the current one.

    The circuit must pass the strict grammar before anything else sees it (impedance.py would eval it).
    ``r_int_elements`` default to R2 when the circuit has a resistor R2.
    """
    try:
        text = validate_circuit(circuit)
    except ValueError as exc:
        raise RefitError("circuit", str(exc)) from None
    circ = compile_circuit(text)
    if r_int_elements is None or len(r_int_elements) == 0:
        if circ.element_kind("R2") != "R":
            raise RefitError("r_int_elements", f"name the resistor(s) of {text} that form R_int, e.g. ['R2']")
        r_int_elements = list(R_INT_ELEMENTS)
    if len(r_int_elements) > 12 or not all(isinstance(e, str) and _ELEMENT_NAME.match(e) for e in r_int_elements):
        raise RefitError("r_int_elements", "R_int elements must be element names such as 'R2' (at most 12)")
    for name in r_int_elements:
        if circ.element_kind(name) != "R":
            raise RefitError("r_int_elements", f"{name!r} is not a resistor of {text}")
    area = spectrum.cell.electrode_area_cm2
    try:
        result = fit_spectrum(
            as_parsed(spectrum), circuit=text, circuit_source="refit by a user: later spectra of this cell keep it",
            r_int_elements=r_int_elements, area_cm2=area, time_limit_s=REFIT_TIME_LIMIT_S,
        )
    except ValueError as exc:
        raise RefitError("circuit", f"the fit could not run: {exc}") from None
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        locked = EisSpectrum.objects.select_for_update().get(pk=spectrum.pk)
        fit = fit_create(locked, result, created_by=user)
        audit(actor=actor, action="refit", obj=locked, circuit=text, r_int_elements=list(r_int_elements),
              r_int_ohm=fit.r_int_ohm, fit=fit.pk)
    return fit


def as_parsed(spectrum: EisSpectrum) -> parsers.EisSpectrum:
    """A stored sweep as the analysis layer's spectrum type."""
    data = pd.DataFrame({
        "freq_hz": np.asarray(spectrum.freq_hz, dtype=float),
        "z_real_ohm": np.asarray(spectrum.z_real_ohm, dtype=float),
        "z_imag_ohm": np.asarray(spectrum.z_imag_ohm, dtype=float),
    })
    return parsers.EisSpectrum(data=data, metadata=dict(spectrum.metadata or {}), source_name=str(spectrum))


# --- helpers --------------------------------------------------------------------------------

def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float)]


