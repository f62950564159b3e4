"""Reads of cycling data: per-cycle tables from the database, curves and dQ/dV from the Parquet records."""
import numpy as np
import pandas as pd
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from cells.models import Cell

from .models import CycleSummary, DataFile

CURVE_COLUMNS = ["record", "cycle", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "step_kind", "step_mode"]


def datafiles_visible_to(user) -> QuerySet[DataFile]:
    return DataFile.objects.restrict(user).select_related("cell", "device", "uploaded_by")


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


def _records_of_cycles(cell: Cell, cycle_tokens: list[str]):
    """(cycles, records) per active file for the requested cycles; a cycle comes from the newest file having it."""
    used = set()
    for datafile in active_datafiles(cell):
        available = list(CycleSummary.objects.filter(datafile=datafile).order_by("cycle").values_list("cycle", flat=True))
        wanted = [c for c in resolve_cycles(cycle_tokens, available) if c not in used]
        if wanted:
            used.update(wanted)
            yield wanted, records_of(datafile, wanted)


def cell_curves(cell: Cell, cycle_tokens: list[str], points_per_half: int = 400) -> dict:
    """Voltage vs capacity of chosen cycles, each half-cycle downsampled to at most `points_per_half`."""
    mass_g = (cell.active_mass_mg or 0) / 1000.0
    unit = "mAh/g" if mass_g else "mAh"
    traces = []
    for _wanted, recs in _records_of_cycles(cell, cycle_tokens):
        # Records without a voltage (kept for capacity by the parser) are no point of a voltage curve.
        drawn = recs[(recs["step_kind"] != "rest") & recs["voltage_v"].notna()]
        for (cycle, kind), part in drawn.groupby(["cycle", "step_kind"], sort=True):
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
    traces = []
    for wanted, recs in _records_of_cycles(cell, cycle_tokens):
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
                    "peaks_v": np.round(peaks["voltage_v"].to_numpy(dtype=float), 4).tolist(),
                })
    return {"cell": cell.pk, "dqdv_unit": "mAh/g/V" if mass_g else "mAh/V", "params": params, "traces": traces}


# --- trust: fade figures, pause bands, peak tracking (added for the cell page and the peaks API) ----------

PEAKS_CACHE_S = 7 * 24 * 3600
PAUSE_CODES = {"time_gap": "pause", "channel_restarted": "interruption"}


def cell_run_metrics(cell: Cell, *, reference_cycle: int | None = None, window: int = 100) -> dict:
    """analysis.run_metrics on the cell's active cycles (newest file wins a cycle), for the cell page."""
    from cycling.analysis import run_metrics

    fields = ["cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
              "ce_convention", "segment", "is_partial"]
    rows = list(cycles_of([cell]).values_list(*fields))
    if not rows:
        return {}
    frame = pd.DataFrame.from_records(rows, columns=fields).drop_duplicates("cycle", keep="first")
    for col in fields[1:6]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    convention = next((c for c in frame["ce_convention"] if c), "discharge/charge")
    frame.attrs.update(ce_convention=convention,
                       first_half="charge" if convention == "discharge/charge" else "discharge")
    return run_metrics(frame.reset_index(drop=True), reference_cycle=reference_cycle, window=window)


def cell_pause_bands(cell: Cell) -> list[dict]:
    """Pauses (time_gap findings) and interruptions (channel restarts) of the cell's active cycling files,
    placed on the cycle axis: each finding's record range is looked up in the files' per-cycle record
    ranges (CycleSummary first_record/last_record), so the band sits at the cycle the records belong to."""
    files = [f for f in active_datafiles(cell) if any(
        x.get("code") in PAUSE_CODES for x in (f.provenance or {}).get("findings", []))]
    if not files:
        return []
    rows = pd.DataFrame.from_records(
        list(CycleSummary.objects.filter(datafile__in=files).order_by("datafile_id", "first_record")
             .values_list("datafile_id", "cycle", "first_record", "last_record")),
        columns=["datafile_id", "cycle", "first_record", "last_record"])
    bands = []
    for datafile in files:
        table = rows[rows["datafile_id"] == datafile.pk]
        for finding in (datafile.provenance or {}).get("findings", []):
            kind = PAUSE_CODES.get(finding.get("code"))
            if not kind:
                continue
            a, b = _cycle_at(table, finding.get("first_record")), _cycle_at(table, finding.get("last_record"))
            listed = finding.get("cycles") or []
            a = a if a is not None else (min(listed) if listed else None)
            b = b if b is not None else (max(listed) if listed else a)
            if a is None:
                continue
            bands.append({"kind": kind, "code": finding["code"], "datafile": datafile.pk,
                          "from_cycle": min(a, b), "to_cycle": max(a, b),
                          "first_record": finding.get("first_record"), "last_record": finding.get("last_record"),
                          "message": finding.get("message", "")})
    return sorted(bands, key=lambda band: (band["from_cycle"], band["datafile"]))


def _cycle_at(table: pd.DataFrame, record) -> int | None:
    """The cycle whose record range (table sorted by first_record) holds `record`."""
    first = table["first_record"].to_numpy(dtype=float)
    if record is None or not len(first):
        return None
    i = int(np.searchsorted(first, float(record), side="right")) - 1
    return int(table["cycle"].iloc[i]) if i >= 0 and record <= table["last_record"].iloc[i] else None


def dqdv_params(**given):
    """analysis.DqdvParams with the given values over its defaults (None = default)."""
    from cycling.analysis import DqdvParams

    return DqdvParams(**{k: v for k, v in given.items() if v is not None})


def _analysed_records(datafile: DataFile) -> pd.DataFrame:
    """All records of a file numbered by the cycles its ingest analysed (derived ones when LAND's index
    was not usable; see cycling.checks.resolve_cycles)."""
    records = records_of(datafile)
    prov = datafile.provenance or {}
    if prov.get("cycle_source") == "derived":
        from cycling.checks import resolve_cycles as resolve_cycle_numbers

        first_half = prov.get("first_half")
        numbers, _ = resolve_cycle_numbers(records, None if first_half in (None, "auto") else first_half)
        records = records.assign(cycle=numbers)
    return records


def datafile_peaks(datafile: DataFile, params=None) -> dict:
    """dQ/dV peak tracks of one file (checks.peak_tracking + peak_drift over all its records).

    Cached in Django's cache: the key holds the file id, its records file name and ingest time (both change
    with every re-ingest), the analysis version and the dQ/dV parameters, so a stale entry is never read; reading
    all records of a 500-cycle file and tracking takes about a second, a cache hit a few ms.
    """
    from django.core.cache import cache

    from cycling.analysis import ANALYSIS_VERSION
    from cycling.checks import peak_drift, peak_tracking

    params = params or dqdv_params()
    computed = (datafile.provenance or {}).get("computed_at", "")
    key = (f"assb:peaks:{datafile.pk}:{datafile.records_file}:{computed}:{ANALYSIS_VERSION}:"
           f"{params.grid_mv:g}:{int(params.smooth)}:{params.window}:{params.polyorder}")
    found = cache.get(key)
    if found is not None:
        return found
    records = _analysed_records(datafile)
    peaks = peak_tracking(records, grid_mv=params.grid_mv, window=params.window, polyorder=params.polyorder) \
        if params.smooth else peak_tracking(records, curves=_unsmoothed(records, params))
    drift = peak_drift(peaks)
    result = {"peaks": _records_json(peaks), "drift": _records_json(drift)}
    cache.set(key, result, PEAKS_CACHE_S)
    return result


def _unsmoothed(records, params):
    from cycling.analysis import dqdv_all

    return dqdv_all(records, grid_mv=params.grid_mv, smooth=False, window=params.window, polyorder=params.polyorder)


def _records_json(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(pd.notna(frame), None)
    out = clean.to_dict("records")
    for row in out:
        for k, v in row.items():
            if isinstance(v, np.generic):
                row[k] = v.item()
    return out


def cell_peaks(cell: Cell, params=None) -> dict:
    """Peak tracks of the cell's active cycling file (the newest when several are active)."""
    from dataclasses import asdict

    from cycling.analysis import ANALYSIS_VERSION

    params = params or dqdv_params()
    datafile = active_datafiles(cell).first()
    mass_g = (cell.active_mass_mg or 0) / 1000.0
    body = {"cell": cell.pk, "datafile": datafile.pk if datafile else None, "analysis_version": ANALYSIS_VERSION,
            "params": asdict(params), "active_mass_mg": cell.active_mass_mg, "peaks": [], "drift": []}
    if datafile is not None:
        body.update(datafile_peaks(datafile, params))
    body["height_unit"], body["area_unit"] = "mAh/V", "mAh"
    body["mass_g"] = mass_g or None
    return body


# --- full-resolution records (data out) -------------------------------------------------------------

RECORD_BATCH_ROWS = 16_384  # ~2 MB of CSV per chunk


def cell_timeline_files(cell: Cell) -> list[DataFile]:
    """The cell's active cycling files in the order they ran: THE one place that decides it.

    Until the cell timeline lands this is the run's start time from the file (else the upload time).
    """
    files = list(active_datafiles(cell))
    return sorted(files, key=lambda f: ((f.metadata or {}).get("start_time_utc") or f.created_at.isoformat(),
                                        f.created_at, f.pk))


def parse_cycle_filter(text: str | None) -> list[tuple[int, int]] | None:
    """'1,2,10-20' -> [(1, 1), (2, 2), (10, 20)]; None/'' -> no filter. ValueError names the bad part."""
    if not text or not text.strip():
        return None
    ranges = []
    for token in text.split(","):
        token = token.strip()
        lo, sep, hi = token.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise ValueError(f"'{token}' is not a cycle number or a range such as 10-20")
        lo_n, hi_n = int(lo), int(hi) if sep else int(lo)
        if hi_n < lo_n:
            raise ValueError(f"the range '{token}' runs backwards")
        ranges.append((lo_n, hi_n))
    return ranges


def iter_records(datafile: DataFile, *, cycles: list[tuple[int, int]] | None = None,
                 columns: list[str] | None = None, batch_rows: int = RECORD_BATCH_ROWS):
    """Yield the stored records of one file as Arrow record batches (bounded memory whatever the file's size).

    Only the row groups whose cycle statistics meet the filter are read; `columns` are the canonical names.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = list(columns) if columns else None
    read = None if wanted is None else list(dict.fromkeys([*wanted, *(["cycle"] if cycles else [])]))
    with default_storage.open(datafile.records_file, "rb") as fh:
        # No pre-buffering: it would read every requested row group into memory before the first batch.
        parquet = pq.ParquetFile(fh, pre_buffer=False)
        groups = list(range(parquet.num_row_groups))
        if cycles:
            groups = [g for g in groups if _group_may_hold(parquet, g, cycles)]
        if not groups:
            return
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=read):
            if cycles:
                cycle = batch.column("cycle")
                keep = None
                for lo, hi in cycles:
                    inside = pc.and_(pc.greater_equal(cycle, lo), pc.less_equal(cycle, hi))
                    keep = inside if keep is None else pc.or_(keep, inside)
                batch = batch.filter(keep)
                if batch.num_rows == 0:
                    continue
            yield batch if wanted is None else batch.select(wanted)


def _group_may_hold(parquet, group: int, cycles: list[tuple[int, int]]) -> bool:
    meta = parquet.metadata.row_group(group)
    names = [meta.column(i).path_in_schema for i in range(meta.num_columns)]
    if "cycle" not in names:
        return True
    stats = meta.column(names.index("cycle")).statistics
    if stats is None or not stats.has_min_max:
        return True
    return any(lo <= stats.max and hi >= stats.min for lo, hi in cycles)
