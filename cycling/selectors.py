"""Reads of cycling data: per-cycle tables from the database, curves and dQ/dV from the Parquet records."""
import numpy as np
import pandas as pd
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from assb_lab.lib import jsonable_records
from cells.models import Cell

from .models import CycleSummary, DataFile, shown_results

CURVE_COLUMNS = ["record", "cycle", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "step_kind", "step_mode",
                 "half"]


def datafiles_visible_to(user) -> QuerySet[DataFile]:
    return DataFile.objects.restrict(user).select_related("cell", "device", "uploaded_by")


def active_datafiles(cell: Cell, kind: str = DataFile.Kind.CYCLING) -> QuerySet[DataFile]:
    """Files of a cell whose results are shown (imported, or being recomputed), newest first."""
    return cell.datafiles.filter(shown_results(), kind=kind).order_by("-created_at")


def cycles_of(cells) -> QuerySet[CycleSummary]:
    """Per-cycle rows of the cells' active files (one query however many cells); a file being recomputed
    keeps its old rows until the new ones are swapped in."""
    return CycleSummary.objects.filter(shown_results("datafile__"), cell__in=cells).order_by(
        "cell_id", "cycle", "-datafile_id")


def records_of(datafile: DataFile, cycles: list[int] | None = None, columns=CURVE_COLUMNS) -> pd.DataFrame:
    """The analysed records of one file (only the requested file cycles), read from its Parquet file.

    `cycle` is the file's cycle as its ingest analysed it (cycling.analysis.record); add the file's
    cycle_offset for the cell's. A Parquet written before the analysed record is re-derived here.
    """
    if is_legacy_record(datafile):
        with default_storage.open(datafile.records_file, "rb") as fh:
            records = _as_analysed(pd.read_parquet(fh), *_legacy_context(datafile))
        if cycles:
            records = records[records["cycle"].isin(list(map(int, cycles)))].reset_index(drop=True)
        return records[list(columns)]
    filters = [("cycle", "in", list(map(int, cycles)))] if cycles else None
    with default_storage.open(datafile.records_file, "rb") as fh:
        return pd.read_parquet(fh, columns=list(columns), filters=filters)


def is_legacy_record(datafile: DataFile) -> bool:
    """True for a Parquet written before the ingest stored the analysed record (its `cycle` is the instrument's
    index, it has no half or segment): read through `_legacy_context` and `_as_analysed` until a reprocess rewrites it."""
    return not (datafile.provenance or {}).get("records_format")


_RULE_COLUMNS = ["record", "test_time_s", "current_ma", "step_kind", "cycle"]  # what the cycle rule reads


def _legacy_context(datafile: DataFile) -> tuple[np.ndarray | None, pd.DataFrame]:
    """What an old Parquet needs to be read as the analysed record: the cycle numbers its ingest used when
    the rule corrected the file's index (the same rule, the first half in its provenance; None: the stored
    index was used) and the file's per-cycle table (segment, C-rate label) from its stored cycles."""
    from cycling.analysis.checks import resolve_cycles as resolve_cycle_numbers

    prov = datafile.provenance or {}
    numbers = None
    if prov.get("cycle_source") == "derived":
        with default_storage.open(datafile.records_file, "rb") as fh:
            rule_input = pd.read_parquet(fh, columns=_RULE_COLUMNS)
        first_half = prov.get("first_half")
        numbers, _ = resolve_cycle_numbers(rule_input, None if first_half in (None, "auto") else first_half)
    table = pd.DataFrame.from_records(
        list(CycleSummary.objects.filter(datafile=datafile).values_list("file_cycle", "segment", "c_rate_label")),
        columns=["cycle", "segment", "c_rate_label"])
    return numbers, table


def _as_analysed(raw: pd.DataFrame, numbers: np.ndarray | None, table: pd.DataFrame) -> pd.DataFrame:
    """Raw records (a whole old Parquet, or a slice of it with its slice of `numbers`) as the analysed record."""
    from cycling.analysis.record import analysed_record

    return analysed_record(raw, raw["cycle"].to_numpy() if numbers is None else numbers, table)


# Cycles drawn as voltage profiles and dQ/dV when nobody chose: the one default of every face.
DEFAULT_PROFILE_CYCLES = "1,2,10,100,last"


def cycle_tokens(text: str | None, default: str = DEFAULT_PROFILE_CYCLES) -> list[str]:
    """'1, 2,10,last' -> ['1', '2', '10', 'last']: THE parser of a cycle list (pages, API, dataset); empty or
    None -> the default. resolve_cycles turns the tokens into cycles that exist."""
    text = text if text and text.strip() else default
    return [t.strip().lower() for t in text.split(",") if t.strip()]


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


def _cycles_by_file(cell: Cell, cycle_tokens: list[str]):
    """[(datafile, cell cycles)] of the active files holding the requested cell cycles ('last' = the cell's
    last); where two files overlap (a conflict the page shows) a cycle comes from the later file on the timeline."""
    files = {f.pk: f for f in active_datafiles(cell)}
    rows = (CycleSummary.objects.filter(datafile_id__in=files).order_by("cycle", "-datafile__timeline_position")
            .values_list("cycle", "datafile_id"))
    owner: dict[int, int] = {}
    for cycle, datafile_id in rows:
        owner.setdefault(cycle, datafile_id)
    wanted = resolve_cycles(cycle_tokens, sorted(owner))
    by_file: dict[int, list[int]] = {}
    for cycle in wanted:
        by_file.setdefault(owner[cycle], []).append(cycle)
    return [(files[datafile_id], cycles) for datafile_id, cycles in by_file.items()]


def _records_of_cycles(cell: Cell, cycle_tokens: list[str]):
    """(cell cycles, records, datafile) per active file for the requested cell cycles ('last' = the cell's last).

    The records carry the cell's cycle numbers (the file's own + its timeline offset).
    """
    for datafile, cycles in _cycles_by_file(cell, cycle_tokens):
        offset = datafile.cycle_offset
        recs = records_of(datafile, [c - offset for c in cycles])
        yield cycles, recs.assign(cycle=recs["cycle"] + offset), datafile


def _file_halves(datafile: DataFile, file_cycles: list[int], points_per_half: int) -> list[tuple]:
    """[(file cycle, half, capacity mAh from the half's start, voltage)] of one file's cycles, downsampled.

    Depends only on the file's records (its records file is named anew by every ingest), so it is kept in the
    dashboard cache under that name: a cell's curves after a new import read only the new file's records.
    """
    from . import cache

    key = ("curve-halves", (datafile.pk, datafile.records_file, tuple(file_cycles), points_per_half))
    found = cache.get_many([key]).get(key)
    if found is not None:
        return found
    recs = records_of(datafile, file_cycles, columns=["cycle", "capacity_mah", "voltage_v", "half"])
    # Records without a voltage (kept for capacity by the parser) are no point of a voltage curve.
    drawn = recs[(recs["half"] != "rest") & recs["voltage_v"].notna()]
    halves = []
    for (cycle, kind), part in drawn.groupby(["cycle", "half"], sort=True, observed=True):
        capacity = part["capacity_mah"].to_numpy()
        voltage = part["voltage_v"].to_numpy()
        # Capacity keeps running through CC and CV of one direction; start each half at 0.
        capacity = capacity - capacity[0] if capacity.size else capacity
        idx = _downsample(points_per_half, voltage)
        halves.append((int(cycle), kind, capacity[idx], voltage[idx]))
    cache.set_many({key: halves})
    return halves


def cell_curves(cell: Cell, cycle_tokens: list[str], points_per_half: int = 400) -> dict:
    """Voltage vs capacity of chosen cycles, each half-cycle downsampled to at most `points_per_half`."""
    mass_g = (cell.active_mass_mg or 0) / 1000.0
    unit = "mAh/g" if mass_g else "mAh"
    traces = []
    for datafile, cycles in _cycles_by_file(cell, cycle_tokens):
        offset = datafile.cycle_offset
        for file_cycle, kind, capacity, voltage in _file_halves(datafile, [c - offset for c in cycles],
                                                                points_per_half):
            x = capacity / mass_g if mass_g else capacity
            traces.append({"cycle": file_cycle + offset, "half": kind, "capacity": np.round(x, 4).tolist(),
                           "voltage_v": np.round(voltage, 4).tolist(), "datafile": datafile.pk,
                           "file_cycle": file_cycle})
    return {"cell": cell.pk, "capacity_unit": unit, "traces": traces}


def cell_dqdv(cell: Cell, cycle_tokens: list[str], params=None) -> dict:
    """Smoothed dQ/dV of chosen cycles (both halves) with their main peaks (params: analysis.DqdvParams)."""
    from dataclasses import asdict

    from cycling.analysis import dqdv, dqdv_peaks

    params = params or dqdv_params()
    mass_g = (cell.active_mass_mg or 0) / 1000.0
    traces = []
    for wanted, recs, datafile in _records_of_cycles(cell, cycle_tokens):
        for cycle in wanted:
            for half in ("charge", "discharge"):
                curve = dqdv(recs, cycle, half, params)
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
                    "datafile": datafile.pk, "file_cycle": cycle - datafile.cycle_offset,
                })
    return {"cell": cell.pk, "dqdv_unit": "mAh/g/V" if mass_g else "mAh/V", "params": asdict(params), "traces": traces}


# --- trust: fade figures, pause bands, peak tracking (added for the cell page and the peaks API) ----------

PEAKS_CACHE_S = 7 * 24 * 3600
PAUSE_CODES = {"time_gap": "pause", "channel_restarted": "interruption"}


CELL_FRAME_FIELDS = ["cell_id", "cycle", "file_cycle", "datafile_id", "charge_mah", "discharge_mah", "charge_mah_g",
                     "discharge_mah_g", "ce_percent", "ce_convention", "c_rate_label", "segment", "is_partial"]


def cells_cycles_frame(cells, cycles=None) -> pd.DataFrame:
    """The cells' cycles on their timelines in ONE query: one row per (cell, cell cycle); where two files
    overlap (a flagged conflict) the later file on the timeline gives the row. `cycles`: only these cell cycle
    numbers (e.g. the effects' outcome at cycle N reads a few rows per cell, not the whole timelines)."""
    found = cycles_of(cells) if cycles is None else cycles_of(cells).filter(cycle__in=list(cycles))
    rows = (found.order_by("cell_id", "cycle", "-datafile__timeline_position", "-datafile_id")
            .values_list(*CELL_FRAME_FIELDS))
    frame = pd.DataFrame.from_records(list(rows), columns=CELL_FRAME_FIELDS)
    frame = frame.drop_duplicates(["cell_id", "cycle"], keep="first")
    for col in ("charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame.reset_index(drop=True)


def metric_references(project) -> dict:
    """The project's reference cycles as cell_metrics' keyword arguments (None = the metric's default)."""
    return {"reference_cycle": getattr(project, "retention_reference_cycle", None),
            "decay_reference_cycle": getattr(project, "decay_reference_cycle", None)}


def cell_run_metrics(cell: Cell, *, reference_cycle: int | None = None, window: int = 100) -> dict:
    """analysis.cell_metrics on the cell's timeline with its project's reference cycles (`reference_cycle`
    overrides the retention one): the numbers of the cell page (and every other face)."""
    from cycling.analysis import cell_metrics

    refs = metric_references(cell.project)
    if reference_cycle is not None:
        refs["reference_cycle"] = reference_cycle
    frame = cells_cycles_frame([cell])
    out = cell_metrics(frame[~frame["is_partial"].astype(bool)], window=window, **refs)
    if out:  # whose choice the references are, for the page to say so
        project = metric_references(cell.project)
        out["retention_reference_set_by_project"] = reference_cycle is None and project["reference_cycle"] is not None
        out["decay_reference_set_by_project"] = project["decay_reference_cycle"] is not None
    return out


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


def datafile_peaks(datafile: DataFile, params=None) -> dict:
    """dQ/dV peak tracks of one file (checks.peak_tracking + peak_drift over all its records).

    Cached in Django's cache: the key holds the file id, its records file name and ingest time (both change
    with every re-ingest), the analysis version and the dQ/dV parameters, so a stale entry is never read; reading
    all records of a 500-cycle file and tracking takes about a second, a cache hit a few ms.
    """
    from django.core.cache import cache

    from cycling.analysis import ANALYSIS_VERSION
    from cycling.analysis.checks import peak_drift, peak_tracking

    params = params or dqdv_params()
    computed = (datafile.provenance or {}).get("computed_at", "")
    key = (f"assb:peaks:{datafile.pk}:{datafile.records_file}:{computed}:{ANALYSIS_VERSION}:"
           f"{params.grid_mv:g}:{int(params.smooth)}:{params.window_points}:{params.polyorder}")
    found = cache.get(key)
    if found is not None:
        return found
    records = records_of(datafile)  # numbered by the cycles its ingest analysed
    peaks = peak_tracking(records, params=params)
    drift = peak_drift(peaks)
    result = {"peaks": jsonable_records(peaks), "drift": jsonable_records(drift)}
    cache.set(key, result, PEAKS_CACHE_S)
    return result


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
        offset = datafile.cycle_offset  # cached per file in its own numbers; the cell's numbers on the way out
        body["peaks"] = [{**p, "cycle": p["cycle"] + offset, "file_cycle": p["cycle"]} for p in body["peaks"]]
        body["drift"] = [{**d, "first_cycle": d["first_cycle"] + offset, "last_cycle": d["last_cycle"] + offset}
                         for d in body["drift"]]
    body["height_unit"], body["area_unit"] = "mAh/V", "mAh"
    body["mass_g"] = mass_g or None
    return body


def cell_timeline(cell: Cell) -> dict:
    """The cell's cycling files in run order for the page: times, cycle ranges (cell and file), relation,
    warnings, and each file's bar on a shared time axis (left/width in % of the cell's span)."""
    from django.db.models import Max, Min
    from django.utils.dateparse import parse_datetime

    files = list(active_datafiles(cell).order_by("timeline_position", "created_at"))
    ranges = {r["datafile_id"]: r for r in CycleSummary.objects.filter(datafile__in=files).values("datafile_id")
              .annotate(first=Min("file_cycle"), last=Max("file_cycle"))}
    items = []
    for f in files:
        meta = f.metadata or {}
        start, end = parse_datetime(meta.get("start_time_utc") or ""), parse_datetime(meta.get("end_time_utc") or "")
        r = ranges.get(f.pk, {"first": None, "last": None})
        items.append({
            "datafile": f, "id": f.pk, "name": f.original_name, "position": f.timeline_position,
            "relation": f.timeline_relation, "mark": f.timeline_mark, "start": start, "end": end,
            "first_file_cycle": r["first"], "last_file_cycle": r["last"],
            "first_cell_cycle": None if r["first"] is None else r["first"] + f.cycle_offset,
            "last_cell_cycle": None if r["last"] is None else r["last"] + f.cycle_offset,
            "warnings": f.timeline_warnings or [],
        })
    timed = [i for i in items if i["start"] and i["end"]]
    lo = min((i["start"] for i in timed), default=None)
    hi = max((i["end"] for i in timed), default=None)
    span_s = (hi - lo).total_seconds() if lo and hi and hi > lo else None
    for i in items:
        if span_s and i["start"] and i["end"]:
            i["left_percent"] = round((i["start"] - lo).total_seconds() / span_s * 100, 2)
            i["width_percent"] = max(round((i["end"] - i["start"]).total_seconds() / span_s * 100, 2), 0.5)
        else:
            i["left_percent"], i["width_percent"] = 0, 100
    conflicts = sorted({w for i in items for w in i["warnings"] if w.startswith("Conflict: ")})
    return {"files": items, "start": lo, "end": hi, "conflicts": conflicts}


# --- full-resolution records (data out) -------------------------------------------------------------

RECORD_BATCH_ROWS = 16_384  # ~2 MB of CSV per chunk


def cell_timeline_files(cell: Cell) -> list[DataFile]:
    """The cell's active cycling files in the order they ran: THE one place that decides it.

    The cell timeline's order (DataFile.timeline_position, set by services.cell_timeline_apply).
    """
    return list(active_datafiles(cell).order_by("timeline_position", "created_at", "pk"))


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


CELL_CYCLE = "cell_cycle"  # added on read: the record's file cycle + the file's timeline offset


def iter_records(datafile: DataFile, *, cycles: list[tuple[int, int]] | None = None,
                 columns: list[str] | None = None, batch_rows: int = RECORD_BATCH_ROWS):
    """Yield the stored (analysed) records of one file as Arrow record batches, bounded memory whatever the
    file's size, each with `cell_cycle` (the file's cycle + its timeline offset) after `cycle`.

    `cycles`: ranges of the file's own cycles; only the row groups whose cycle statistics meet the filter are
    read. `columns`: the canonical names (`cell_cycle` among them) in the order wanted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    offset = datafile.cycle_offset or 0
    wanted = list(columns) if columns else None
    stored = None if wanted is None else [c for c in wanted if c != CELL_CYCLE]
    read = None if stored is None else list(dict.fromkeys([*stored, *(["cycle"] if cycles or CELL_CYCLE in wanted
                                                                      else [])]))

    def finish(batch):
        if cycles:
            cycle = batch.column("cycle")
            keep = None
            for lo, hi in cycles:
                inside = pc.and_(pc.greater_equal(cycle, lo), pc.less_equal(cycle, hi))
                keep = inside if keep is None else pc.or_(keep, inside)
            batch = batch.filter(keep)
            if batch.num_rows == 0:
                return None
        if wanted is None or CELL_CYCLE in wanted:
            names = batch.schema.names
            at = names.index("cycle") + 1
            cell_cycle = pc.add(batch.column("cycle").cast(pa.int64()), pa.scalar(offset, pa.int64()))
            arrays = [*batch.columns[:at], cell_cycle, *batch.columns[at:]]
            batch = pa.RecordBatch.from_arrays(arrays, names=[*names[:at], CELL_CYCLE, *names[at:]])
        return batch if wanted is None else batch.select(wanted)

    if is_legacy_record(datafile):  # written before the analysed record: re-derived batch by batch
        numbers, table = _legacy_context(datafile)
        at = 0
        with default_storage.open(datafile.records_file, "rb") as fh:
            for raw in pq.ParquetFile(fh, pre_buffer=False).iter_batches(batch_size=batch_rows):
                frame = raw.to_pandas()
                part = None if numbers is None else numbers[at:at + len(frame)]
                at += len(frame)
                frame = _as_analysed(frame, part, table)
                batch = pa.RecordBatch.from_pandas(frame if read is None else frame[read], preserve_index=False)
                if (out := finish(batch)) is not None:
                    yield out
        return
    with default_storage.open(datafile.records_file, "rb") as fh:
        # No pre-buffering: it would read every requested row group into memory before the first batch.
        parquet = pq.ParquetFile(fh, pre_buffer=False)
        groups = list(range(parquet.num_row_groups))
        if cycles:
            groups = [g for g in groups if _group_may_hold(parquet, g, cycles)]
        if not groups:
            return
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=read):
            if (out := finish(batch)) is not None:
                yield out


def _group_may_hold(parquet, group: int, cycles: list[tuple[int, int]]) -> bool:
    meta = parquet.metadata.row_group(group)
    names = [meta.column(i).path_in_schema for i in range(meta.num_columns)]
    if "cycle" not in names:
        return True
    stats = meta.column(names.index("cycle")).statistics
    if stats is None or not stats.has_min_max:
        return True
    return any(lo <= stats.max and hi >= stats.min for lo, hi in cycles)


def format_profile_provenance(provenances) -> dict[int, dict]:
    """For the provenance of files read by a format profile: {profile id: {"name", "current_version"}} as the
    profiles are now (one query; a rename shows on every file it read, the version applied stays the file's)."""
    from .models import FormatProfile

    ids = {p.get("profile_id") for p in provenances if p and p.get("profile_id")}
    if not ids:
        return {}
    return {pk: {"name": name, "current_version": version}
            for pk, name, version in FormatProfile.objects.filter(pk__in=ids).values_list("pk", "name", "version")}


def format_profile_of(provenance: dict, profiles: dict[int, dict]) -> dict | None:
    """The format profile that read a file: its key, its name as it is now (else as it was when it read the file,
    for a profile since deleted or provenance older than the key), the version applied and its current one."""
    if not (provenance or {}).get("profile"):
        return None
    now = profiles.get(provenance.get("profile_id")) or {}
    return {"id": provenance.get("profile_id"), "name": now.get("name", provenance["profile"]),
            "version": provenance.get("profile_version"), "current_version": now.get("current_version")}


def format_profile_document(profile) -> dict:
    """A format profile as exported JSON (what format_profile_import reads back)."""
    from cycling.parsers.profile import VERSION

    return {"format": "assb-lab format profile", "format_version": VERSION, "name": profile.name,
            "version": profile.version, "device": profile.device.name if profile.device_id else None,
            "mapping": profile.mapping}


def unknown_layout_files(user) -> QuerySet:
    """Cycling files the user may see that were refused because no reader recognises their layout."""
    from readers import UNKNOWN_LAYOUT_HINT

    return (DataFile.objects.restrict(user, "view")
            .filter(kind=DataFile.Kind.CYCLING, status=DataFile.Status.FAILED, error__contains=UNKNOWN_LAYOUT_HINT)
            .select_related("cell").order_by("-created_at"))
