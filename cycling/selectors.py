"""Reads of cycling data: per-cycle tables from the database, curves and dQ/dV from the Parquet records."""
import numpy as np
import pandas as pd
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from cells.models import Cell
from cells.selectors import projects_visible_to, sees_everything

from .models import CycleSummary, DataFile

CURVE_COLUMNS = ["record", "cycle", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "step_kind", "step_mode"]


def datafiles_visible_to(user) -> QuerySet[DataFile]:
    from cells.auth import DevicePrincipal

    qs = DataFile.objects.select_related("cell", "device", "uploaded_by")
    if sees_everything(user) and not isinstance(user, DevicePrincipal):
        return qs
    return qs.filter(cell__project__in=projects_visible_to(user))


def active_datafiles(cell: Cell, kind: str = DataFile.Kind.CYCLING) -> QuerySet[DataFile]:
    """Imported files of a cell that no later export replaced, newest first."""
    return cell.datafiles.filter(kind=kind, status=DataFile.Status.IMPORTED, superseded_by__isnull=True).order_by(
        "-created_at"
    )


def cycles_of(cells) -> QuerySet[CycleSummary]:
    """Per-cycle rows of the cells' active files (one query however many cells)."""
    return CycleSummary.objects.filter(
        cell__in=cells, datafile__status=DataFile.Status.IMPORTED, datafile__superseded_by__isnull=True
    ).order_by("cell_id", "cycle", "-datafile_id")


def records_of(datafile: DataFile, cycles: list[int] | None = None, columns=CURVE_COLUMNS) -> pd.DataFrame:
    """Raw records of one file (only the requested cycles), read from its Parquet file."""
    filters = [("cycle", "in", list(map(int, cycles)))] if cycles else None
    with default_storage.open(datafile.records_file, "rb") as fh:
        return pd.read_parquet(fh, columns=list(columns), filters=filters)


def resolve_cycles(tokens: list[str], available: list[int]) -> list[int]:
    """Turn '1,2,last,500' into cycle numbers that exist; 'last' is the last complete cycle."""
    if not available:
        return []
    out = []
    for token in tokens:
        token = token.strip().lower()
        if token == "last":
            out.append(available[-1])
        elif token.isdigit() and int(token) in available:
            out.append(int(token))
    return sorted(set(out))


def _downsample(n_points: int, y: np.ndarray) -> np.ndarray:
    """Indices of at most n_points samples keeping the shape and the extremes (MinMax-LTTB)."""
    if len(y) <= n_points:
        return np.arange(len(y))
    from tsdownsample import MinMaxLTTBDownsampler

    return np.sort(MinMaxLTTBDownsampler().downsample(np.ascontiguousarray(y, dtype=np.float64), n_out=n_points))


def cell_curves(cell: Cell, cycle_tokens: list[str], points_per_half: int = 400) -> dict:
    """Voltage vs capacity of chosen cycles, each half-cycle downsampled to at most `points_per_half`."""
    mass_g = (cell.active_mass_mg or 0) / 1000.0
    unit = "mAh/g" if mass_g else "mAh"
    traces = []
    used = set()
    for datafile in active_datafiles(cell):
        available = list(CycleSummary.objects.filter(datafile=datafile).order_by("cycle").values_list("cycle", flat=True))
        wanted = [c for c in resolve_cycles(cycle_tokens, available) if c not in used]
        if not wanted:
            continue
        used.update(wanted)
        recs = records_of(datafile, wanted)
        for (cycle, kind), part in recs[recs["step_kind"] != "rest"].groupby(["cycle", "step_kind"], sort=True):
            capacity = part["capacity_mah"].to_numpy()
            voltage = part["voltage_v"].to_numpy()
            # Capacity keeps running through CC and CV of one direction; start each half at 0.
            capacity = capacity - capacity[0] if capacity.size else capacity
            idx = _downsample(points_per_half, voltage)
            x = capacity[idx] / mass_g if mass_g else capacity[idx]
            traces.append({"cycle": int(cycle), "half": kind, "capacity": np.round(x, 4).tolist(),
                           "voltage_v": np.round(voltage[idx], 4).tolist()})
    return {"cell": cell.pk, "capacity_unit": unit, "traces": traces}


def cell_dqdv(cell: Cell, cycle_tokens: list[str], **params) -> dict:
    """Smoothed dQ/dV of chosen cycles (both halves) with their main peaks."""
    from cycling.analysis import dqdv, dqdv_peaks

    mass_g = (cell.active_mass_mg or 0) / 1000.0
    traces, used = [], set()
    for datafile in active_datafiles(cell):
        available = list(CycleSummary.objects.filter(datafile=datafile).order_by("cycle").values_list("cycle", flat=True))
        wanted = [c for c in resolve_cycles(cycle_tokens, available) if c not in used]
        if not wanted:
            continue
        used.update(wanted)
        recs = records_of(datafile, wanted)
        for cycle in wanted:
            for half in ("charge", "discharge"):
                curve = dqdv(recs, cycle, half, **params)
                if curve is None or len(curve) == 0:
                    continue
                y = curve["dqdv_mah_v"].to_numpy()
                if mass_g:
                    y = y / mass_g
                peaks = dqdv_peaks(curve)
                traces.append({
                    "cycle": cycle, "half": half, "voltage_v": np.round(curve["voltage_v"].to_numpy(), 4).tolist(),
                    "dqdv": np.round(y, 4).tolist(),
                    "peaks_v": [round(float(v), 4) for v in _peak_voltages(peaks)],
                })
    return {"cell": cell.pk, "dqdv_unit": "mAh/g/V" if mass_g else "mAh/V", "params": params, "traces": traces}


def _peak_voltages(peaks) -> list[float]:
    if peaks is None:
        return []
    if isinstance(peaks, pd.DataFrame):
        return peaks["voltage_v"].tolist() if "voltage_v" in peaks else []
    return [p["voltage_v"] if isinstance(p, dict) else float(p) for p in peaks]
