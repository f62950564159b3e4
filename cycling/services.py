"""Writes of cycling data: store an upload, the cycling ingest handler (parse, analyse, swap in), reprocess, delete.

The claim, lease, heartbeat and sweep around the handler live in ingest.machinery (shared with EIS); this
module sends the ingest task on commit and registers `cycling_ingest` for cycling files (CyclingConfig.ready).
"""
import contextlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from assb_lab.lib import file_sha256, jsonable, jsonable_columns
from cells.models import Cell
from cells.services import audit, cell_data_changed
from ingest import machinery as ingest
from ingest.machinery import ClaimHeld, IngestFailed, datafile_ingest  # noqa: F401  (the services' public verbs)
from ingest.signals import cell_data_ingested, subscribers_inline
from readers import ParseError

from .models import CYCLE_FIELDS, CycleSummary, DataFile, FormatProfile, shown_results
from .tasks import ingest_datafile as ingest_datafile_task

log = logging.getLogger(__name__)


# --- upload ---------------------------------------------------------------------------------

def datafile_create(*, cell: Cell, upload, kind: str, notes: str = "", actor=None,
                    enqueue: bool = True, channel: str = "", profile: str = "") -> tuple[DataFile, bool]:
    """Store an uploaded file once per cell (by SHA-256) and enqueue its ingest; returns (datafile, created).

    ``channel`` names the cell's channel in a file of several (kept as metadata['channel_requested'] for every
    later re-read of the file). ``profile`` names the format profile to read it with (metadata['profile_requested'],
    and its key in ['profile_requested_id'], which a later rename of the profile does not change).

    enqueue=False is for callers that run the ingest themselves in this process.
    """
    from cells.auth import DevicePrincipal

    sha = getattr(upload, "sha256", None) or file_sha256(upload)
    existing = DataFile.objects.filter(cell=cell, sha256=sha).first()
    if existing:
        return existing, False
    device = actor.device if isinstance(actor, DevicePrincipal) else None
    user = actor if (actor is not None and device is None and actor.is_authenticated) else None
    datafile = DataFile(
        cell=cell, kind=kind, original_name=_display_name(upload.name), size_bytes=upload.size, sha256=sha,
        notes=notes, uploaded_by=user, device=device,
    )
    if channel.strip():
        datafile.metadata = {**(datafile.metadata or {}), "channel_requested": channel.strip()}
    if profile.strip():
        datafile.metadata = {**(datafile.metadata or {}), **_profile_request(profile.strip())}
    with transaction.atomic():
        target = datafile.file.field.generate_filename(datafile, "upload.bin")  # from upload_to, not the user's
        try:
            datafile.file.save("upload.bin", upload, save=False)
        except OSError:  # disk full mid-write: leave no partial file behind
            with contextlib.suppress(OSError):
                default_storage.delete(target)
            raise
        try:
            datafile.save()
        except Exception:
            default_storage.delete(datafile.file.name)
            raise
        audit(actor=actor, action="upload", obj=datafile, sha256=sha, size_bytes=upload.size, kind=kind)
        if enqueue:
            datafile_enqueue(datafile)
    return datafile, True


def _profile_request(name: str) -> dict:
    """What an upload's named format profile is kept as: the name it gave and, when it exists, its key."""
    found = FormatProfile.objects.filter(name=name).values_list("pk", flat=True).first()
    return {"profile_requested": name, **({"profile_requested_id": found} if found else {})}


def _display_name(name: str) -> str:
    # Kept for display only; strip any path a client sent and control characters.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:255] or "upload"


def datafile_enqueue(datafile: DataFile) -> None:
    """Send the ingest task once the surrounding transaction commits; a broker outage leaves it to the sweeper."""
    ingest.send_on_commit(ingest_datafile_task, datafile.pk)


def datafile_reprocess(*, datafile: DataFile, actor=None, reason: str = "") -> DataFile:
    """Run the ingest again (e.g. after a mass correction); old results stay visible until the new ones land."""
    DataFile.objects.filter(pk=datafile.pk).exclude(status=DataFile.Status.PARSING).update(
        status=DataFile.Status.PENDING, progress_percent=0, error="", traceback="", claim_token=None
    )
    datafile.refresh_from_db()
    audit(actor=actor, action="reprocess", obj=datafile, reason=reason)
    datafile_enqueue(datafile)
    return datafile


def cell_recompute(*, cell: Cell, reason: str) -> int:
    """Reprocess every imported or failed file of a cell; returns how many were queued."""
    files = list(cell.datafiles.exclude(status=DataFile.Status.PARSING))
    for datafile in files:
        datafile_reprocess(datafile=datafile, reason=reason)
    return len(files)


def datafile_delete(*, datafile: DataFile, actor=None) -> None:
    """Remove a file and everything derived from it (rows, records, the original bytes)."""
    names = [n for n in (datafile.file.name, datafile.records_file) if n]
    if DataFile.objects.filter(file=datafile.file.name).exclude(pk=datafile.pk).exists():
        names.remove(datafile.file.name)  # another cell's channel of the same file holds these bytes too
    audit(actor=actor, action="delete", obj=datafile, sha256=datafile.sha256, original_name=datafile.original_name)
    with transaction.atomic():
        Cell.objects.select_for_update().filter(pk=datafile.cell_id).first()
        # A file it had replaced becomes the active export again (its cycles are rebuilt).
        revived = list(DataFile.objects.filter(superseded_by=datafile))
        DataFile.objects.filter(pk__in=[f.pk for f in revived]).update(
            superseded_by=None, status=DataFile.Status.PENDING, claim_token=None
        )
        cell_id, datafile_id, was = datafile.cell_id, datafile.pk, datafile.status
        datafile.delete()
        cell_timeline_apply(cell_id=cell_id)
        for other in revived:
            datafile_enqueue(other)
        # The board and the alerts follow at once (a deleted failed import clears its "failed import" state and
        # alert): the subscribers evaluate in this process, not when a worker gets to it.
        with subscribers_inline():
            cell_data_ingested.send(sender=DataFile, cell_id=cell_id, datafile_id=datafile_id, status="deleted",
                                    previous_status=was)
    transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


# --- the cycling ingest handler -------------------------------------------------------------

def cell_spec(cell: Cell):
    """The build facts analysis needs, from the cell's current build sheet (never a default mass)."""
    from cycling.analysis import CellSpec

    first = None if cell.first_half == Cell.FirstHalf.AUTO else cell.first_half
    return CellSpec(
        active_mass_mg=cell.active_mass_mg, area_cm2=cell.electrode_area_cm2,
        theoretical_mah_g=cell.effective_theoretical_mah_g, first_half=first,
        voltage_window_v=cell.cell_voltage_window_v,
    )


@dataclass
class _StoredExport:
    """An export rebuilt from our own Parquet and the provenance of its first ingest (no re-parse)."""

    records: pd.DataFrame
    cycle_table: pd.DataFrame | None
    metadata: dict
    warnings: list[str]
    instrument: str
    reader: str
    reader_version: str
    stored: pd.DataFrame | None = None  # the Parquet as stored (analysed columns included)


def _provenance_of_reader(export) -> dict:
    """Which registered reader (``parser``, at its own ``parser_version``: the record cache's key) made the
    records, and the instrument and library (``reader``, ``reader_version``) it names."""
    meta = getattr(export, "metadata", None) or {}
    return {"instrument": export.instrument, "reader": export.reader, "reader_version": export.reader_version,
            "parser": meta.get("parser") or export.reader,
            "parser_version": meta.get("parser_version") or export.reader_version,
            # which channel of the file the records are (a file of several channels holds one cell each)
            "channel": meta.get("channel"), "channels_in_file": meta.get("channels_in_file", 1),
            # the lab's format profile that read a layout no reader knows (name and version), else None
            # (its key survives a rename: the pages show the profile's name as it is now)
            "profile": meta.get("profile"), "profile_id": meta.get("profile_id"),
            "profile_version": meta.get("profile_version")}


def _load_export(datafile: DataFile, progress):
    """(export, parsed): our own Parquet when the reader that wrote it is still at the version that did,
    else the original bytes parsed (each reader has its own version: a new Neware reader re-reads Neware
    files only)."""
    from cycling.analysis.record import raw_record
    from cycling.parsers import PARSER_VERSION, pick_run, read_runs, reader_version, same_channel

    prov = datafile.provenance or {}
    meta = datafile.metadata or {}
    requested = meta.get("channel_requested")
    # Our records of a file of several channels are of one of them: the upload's, else the cell's own.
    wanted = requested or (datafile.cell.cycler_channel or None if meta.get("file_channels") else None)
    # Provenance written before readers had their own versions names no parser: it was LAND's version then.
    parser = prov.get("parser") or "assb-lab land"
    current = reader_version(parser)
    if (datafile.records_file and current is not None and prov.get("parser_version") == current
            and (wanted is None or same_channel(prov.get("channel"), wanted))
            and default_storage.exists(datafile.records_file)):
        with default_storage.open(datafile.records_file, "rb") as fh:
            stored = pd.read_parquet(fh)
        # The analysis starts again from the records as read (an analysed record keeps the instrument's index).
        records = raw_record(stored)
        cycle_table = pd.DataFrame(prov["land_cycle_table"]) if prov.get("land_cycle_table") else None
        metadata = {**datafile.metadata, "parser": parser, "parser_version": current}
        return _StoredExport(records, cycle_table, metadata, list(prov.get("parser_warnings", [])),
                             prov.get("instrument") or "LAND", prov.get("reader") or parser,
                             prov.get("reader_version") or PARSER_VERSION, stored=stored), False
    with default_storage.open(datafile.file.name, "rb") as fh:
        runs = read_runs(fh, name=datafile.original_name, progress=progress.stage(2, 70),
                         profiles=_profiles_for(datafile))
    export = pick_run(runs, requested or _channel_of_cell(datafile, runs))
    if requested:
        export.metadata["channel_requested"] = requested
    elif len(runs) > 1:
        export.metadata["channel_from_cell"] = True
    for key in ("profile_requested", "profile_requested_id"):
        if meta.get(key):
            export.metadata[key] = meta[key]
    return export, True


def _channel_of_cell(datafile: DataFile, runs) -> str | None:
    """The cell's own channel (Cell.cycler_channel) among the runs of a file of several channels whose upload
    named none; None for a one-run file. A ParseError listing the file's channels when the cell's is not one."""
    from cycling.parsers import same_channel

    own = datafile.cell.cycler_channel.strip()
    if len(runs) < 2 or not own:
        return None  # pick_run refuses a file of several channels without one, listing them
    if not any(same_channel(run.metadata.get("channel"), own) for run in runs):
        listing = ", ".join(str(run.metadata.get("channel")) for run in runs)
        raise ParseError(f"the file holds {len(runs)} channels ({listing}), and none is cell "
                         f"{datafile.cell.name}'s channel {own} (its build sheet): upload the file to the cell of "
                         "each channel, or name the channel when uploading", file=datafile.original_name)
    return own


def _route_other_channels(datafile: DataFile, metadata: dict, run_start) -> list[dict]:
    """Give every other channel of a file of several channels (read here at the cell's own channel) its own
    data file for the cell registered on that channel in the same project (Cell.cycler_channel), one the
    uploader may upload to; the same stored bytes, the channel named. Inside the caller's transaction.

    A channel may be used by a new cell once an old one is done: a cell built after the run started is not
    a candidate. Returns one finding per channel: where it went (info), or why it went nowhere (warning); the
    same is kept in metadata['channels_routed'] / ['channels_unrouted'] for the API."""
    from cycling.parsers import same_channel

    own = metadata.get("channel")
    others = [c for c in metadata.get("file_channels") or [] if not same_channel(c, own)]
    if not others:
        return []
    candidates = [c for c in _cells_the_uploader_may_fill(datafile) if c.cycler_channel.strip()]
    if run_start is not None:
        candidates = [c for c in candidates if c.build_date is None or c.build_date <= run_start.date()]
    routed, unrouted, findings = {}, {}, []
    project = datafile.cell.project
    for channel in others:
        cells = [c for c in candidates if same_channel(c.cycler_channel, channel)]
        if len(cells) == 1:
            sibling = _datafile_for_channel(datafile, cells[0], channel)
            routed[channel] = {"cell": cells[0].pk, "cell_name": cells[0].name, "datafile": sibling.pk}
            findings.append(_channel_finding("channel_routed", "info", f"Channel {channel} of the file goes to cell "
                                             f"{cells[0].name} (registered on that channel): data file {sibling.pk}."))
            continue
        if cells:
            unrouted[channel] = f"several cells of project {project} are registered on it ({', '.join(map(str, cells))})"
            todo = "upload the file to the right one naming the channel"
        else:
            unrouted[channel] = f"no cell of project {project} that the uploader may upload to is registered on it"
            todo = ("record the channel on its cell's build sheet and reprocess this file, or upload the file to "
                    "that cell naming the channel")
        findings.append(_channel_finding("channel_not_imported", "warning",
                                         f"Channel {channel} of the file is not imported: {unrouted[channel]}; {todo}."))
    metadata.update(channels_routed=routed, channels_unrouted=unrouted)
    return findings


def _channel_finding(code: str, severity: str, message: str) -> dict:
    """A finding of the ingest (the analysis' shape, cycling.analysis.checks.Finding) about the whole file."""
    return {"code": code, "severity": severity, "message": message, "first_record": None, "last_record": None,
            "cycles": []}


def _uploader(datafile: DataFile):
    """Who uploaded the file, as the access rules see them: its cycler PC, its user, or None (a server-side
    import by an operator, manage.py ingest)."""
    from cells.auth import DevicePrincipal

    if datafile.device_id:
        return DevicePrincipal(datafile.device)
    return datafile.uploaded_by


def _cells_the_uploader_may_fill(datafile: DataFile) -> list[Cell]:
    """The other cells of the file's project that its uploader may upload to now (as the upload API checks)."""
    cells = Cell.objects.filter(project_id=datafile.cell.project_id).exclude(pk=datafile.cell_id)
    actor = _uploader(datafile)
    if actor is None:
        return list(cells.order_by("name"))
    device = getattr(actor, "device", None)
    allowed = device.is_active if device is not None else actor.is_active and actor.has_perm("cycling.add_datafile")
    return list(cells.restrict(actor).order_by("name")) if allowed else []


def _datafile_for_channel(source: DataFile, cell: Cell, channel: str) -> DataFile:
    """A data file of ``cell`` for one channel of ``source``: the same stored bytes (removed with the last data
    file that holds them), the channel named, queued on commit. The cell's existing one if it holds the bytes."""
    existing = DataFile.objects.filter(cell=cell, sha256=source.sha256).first()
    if existing is not None:
        return existing
    sibling = DataFile(
        cell=cell, kind=source.kind, original_name=source.original_name, size_bytes=source.size_bytes,
        sha256=source.sha256, uploaded_by=source.uploaded_by, device=source.device,
        notes=f"Channel {channel} of {source.original_name}, uploaded for cell {source.cell.name} (data file "
              f"{source.pk}).",
        metadata={"channel_requested": channel, "channel_routed_from": source.pk},
    )
    sibling.file.name = source.file.name
    sibling.save()
    audit(actor=_uploader(source), action="upload", obj=sibling, sha256=source.sha256, size_bytes=source.size_bytes,
          kind=source.kind, channel=channel, routed_from=source.pk)
    datafile_enqueue(sibling)
    return sibling


def _profiles_for(datafile: DataFile) -> list:
    """The format profiles that may read this file: the one its upload named (forced), then its cycler PC's
    (applied when their mapped header is the file's)."""
    from cycling.parsers import Profile
    from cycling.parsers.profile import mapping_from_dict

    meta = datafile.metadata or {}
    named, key = meta.get("profile_requested"), meta.get("profile_requested_id")
    found = []
    if named or key:
        # by its key when the upload's name was known then: a renamed profile still reads the file
        profile = (FormatProfile.objects.filter(pk=key) if key else FormatProfile.objects.filter(name=named)).first()
        if profile is None:
            raise ParseError(f"the upload names the format profile '{named}', which does not exist",
                             file=datafile.original_name)
        found.append((profile, True))
    if datafile.device_id:
        found += [(p, False) for p in FormatProfile.objects.filter(device_id=datafile.device_id).order_by("-updated_at")]
    return [Profile(p.name, p.version, mapping_from_dict(p.mapping), forced, key=p.pk) for p, forced in found]


def cycling_ingest(*, datafile: DataFile, token, owned, progress) -> str:
    """The ingest of one claimed cycling file (ingest.machinery calls it): records -> analysis -> swap in."""
    from cycling.analysis import analyse
    from cycling.analysis.record import RECORDS_FORMAT, analysed_record, same_analysis
    from cycling.timezones import localize_sys_time, start_time_utc

    export, parsed = _load_export(datafile, progress)
    progress.stage(70, 70)(1.0)
    spec = cell_spec(datafile.cell)
    result = analyse(export, spec)
    stored = getattr(export, "stored", None)
    cycles = result.cycles
    # Stored as analysed: every reader takes the cycle, half and segment from here (cycling.analysis.record).
    records = analysed_record(export.records, result.records["cycle"].to_numpy(), cycles)
    parser_warnings, warnings = list(export.warnings), list(result.warnings)
    cycle_table = export.cycle_table
    metadata = dict(export.metadata)
    # LAND's SysTime is the cycler PC's naive wall clock: read it in the PC's zone, keep it in UTC.
    lab_zone = datafile.device.timezone if datafile.device_id else settings.TIME_ZONE
    records = records.assign(sys_time=localize_sys_time(records["sys_time"], lab_zone))
    start = start_time_utc(records, lab_zone)
    end = records["sys_time"].max() if len(records) else None
    end = end.to_pydatetime() if end is not None and pd.notna(end) else None
    metadata.update(start_time_utc=start.isoformat() if start else None,
                    end_time_utc=end.isoformat() if end else None, sys_time_zone=lab_zone)
    progress.stage(85, 85)(1.0)

    records_name = datafile.records_file
    # A reprocess rewrites the records only when the analysis decided otherwise (e.g. a new first half).
    if parsed or stored is None or not same_analysis(stored, records):
        records_name = _write_records(datafile, token, records)
    channel_key = _channel_key(metadata, records)
    provenance = {
        "records_format": RECORDS_FORMAT, **_provenance_of_reader(export), **result.provenance(),
        "parser_warnings": parser_warnings,
        "land_cycle_table": None if cycle_table is None else jsonable_columns(cycle_table),
        "computed_at": timezone.now().isoformat(),
    }
    old_records = datafile.records_file if datafile.records_file != records_name else ""
    superseded = _find_prefix_exports(datafile, channel_key, records)
    # The other way round (the longer export arrived first): this file adds nothing, so upload order cannot matter.
    extended_by = None if superseded else _find_extending_export(datafile, channel_key, records)

    rows = _cycle_rows(datafile, cycles)
    with transaction.atomic():
        # The cell row first: swap-ins of two files of one cell then renumber its timeline one after the other.
        Cell.objects.select_for_update().filter(pk=datafile.cell_id).first()
        locked = DataFile.objects.select_for_update().filter(pk=datafile.pk, claim_token=token).first()
        if locked is None:  # lost the claim (lease ran out and another worker took over): leave its result
            transaction.on_commit(lambda: records_name != datafile.records_file and default_storage.delete(records_name))
            return "abandoned"
        if metadata.get("file_channels") and not metadata.get("channel_requested"):
            provenance["findings"] = [*provenance.get("findings", []),
                                      *_route_other_channels(datafile, metadata, start)]
        CycleSummary.objects.filter(datafile=datafile).delete()
        if extended_by is None:
            CycleSummary.objects.bulk_create(rows, batch_size=2000)
        else:
            warnings.append(f"The longer export {extended_by.original_name} (id {extended_by.pk}) of the same run "
                            f"already holds these records, so this file's cycles are not counted again.")
        for older in superseded:
            CycleSummary.objects.filter(datafile=older).delete()
            DataFile.objects.filter(pk=older.pk).update(superseded_by=datafile)
            warnings.append(f"Replaces the earlier export {older.original_name} (id {older.pk}) of the same run.")
        DataFile.objects.filter(pk=datafile.pk).update(
            status=DataFile.Status.IMPORTED, progress_percent=100, error="", traceback="", warnings=warnings,
            n_records=len(records), n_cycles=len(cycles), metadata=jsonable(metadata), provenance=provenance,
            records_file=records_name, channel_key=channel_key, claim_token=None, finished_at=timezone.now(),
            superseded_by=extended_by,
        )
        cell_timeline_apply(cell_id=datafile.cell_id)
        if old_records:
            transaction.on_commit(lambda: default_storage.delete(old_records))
    return DataFile.Status.IMPORTED


def _write_records(datafile: DataFile, token, records: pd.DataFrame) -> str:
    import tempfile

    from django.core.files.base import File

    from cycling.analysis.record import write_records_parquet

    name = f"records/{datafile.uid}-{token.hex[:8]}.parquet"
    # Through a temporary file, not a buffer: the Parquet of 10^7 records is half a gigabyte.
    with tempfile.TemporaryFile(suffix=".parquet") as buf:
        write_records_parquet(records, buf)
        buf.seek(0)
        try:
            return default_storage.save(name, File(buf))
        except OSError:  # disk full mid-write: leave no partial records file behind
            with contextlib.suppress(OSError):
                default_storage.delete(name)
            raise


def _channel_key(metadata: dict, records: pd.DataFrame) -> str:
    """Identity of a run across repeated exports: channel/barcode if the file names one, and its start time."""
    parts = [str(metadata.get(k)) for k in ("channel", "barcode", "start_time") if metadata.get(k)]
    if "sys_time" in records and len(records) and pd.notna(records["sys_time"].iloc[0]):
        parts.append(pd.Timestamp(records["sys_time"].iloc[0]).isoformat())
    return "|".join(parts)[:200]


_PREFIX_COLUMNS = ["record", "test_time_s", "current_ma", "voltage_v"]


def _find_prefix_exports(datafile: DataFile, channel_key: str, records: pd.DataFrame) -> list[DataFile]:
    """Earlier exports of the same run: same cell, same channel key, fewer records that are our prefix."""
    if not channel_key:
        return []
    candidates = DataFile.objects.filter(
        cell=datafile.cell, kind=datafile.kind, channel_key=channel_key, status=DataFile.Status.IMPORTED,
        superseded_by__isnull=True, n_records__lt=len(records),
    ).exclude(pk=datafile.pk)
    out = []
    for older in candidates:
        try:
            with default_storage.open(older.records_file, "rb") as fh:
                theirs = pd.read_parquet(fh, columns=_PREFIX_COLUMNS)
        except (OSError, ValueError):
            continue
        # The last cycle of the older export may be cut mid-step; compare all but its last 1 %.
        n = max(1, int(len(theirs) * 0.99))
        mine = records[_PREFIX_COLUMNS].iloc[:n].to_numpy(dtype=float)
        if np.allclose(theirs.iloc[:n].to_numpy(dtype=float), mine, rtol=1e-6, atol=1e-9, equal_nan=True):
            out.append(older)
    return out


def _find_extending_export(datafile: DataFile, channel_key: str, records: pd.DataFrame) -> DataFile | None:
    """A longer export of the same run already imported, whose first records are all of ours."""
    if not channel_key or not len(records):
        return None
    candidates = DataFile.objects.filter(
        cell=datafile.cell, kind=datafile.kind, channel_key=channel_key, status=DataFile.Status.IMPORTED,
        superseded_by__isnull=True, n_records__gt=len(records),
    ).exclude(pk=datafile.pk)
    n = max(1, int(len(records) * 0.99))  # our last cycle may be cut mid-step
    mine = records[_PREFIX_COLUMNS].iloc[:n].to_numpy(dtype=float)
    for newer in candidates:
        try:
            with default_storage.open(newer.records_file, "rb") as fh:
                theirs = pd.read_parquet(fh, columns=_PREFIX_COLUMNS).iloc[:n]
        except (OSError, ValueError):
            continue
        if np.allclose(theirs.to_numpy(dtype=float), mine, rtol=1e-6, atol=1e-9, equal_nan=True):
            return newer
    return None


# --- the cell timeline ------------------------------------------------------------------------

def _parse_time(value):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value) if value else None


def cell_timeline_apply(*, cell_id: int) -> list[str]:
    """Place the cell's cycling files on one timeline (cycling.analysis.timeline) and renumber their cycles:
    cell cycle = the file's offset + its own cycle. Called inside the transaction of every swap-in, delete
    and timeline mark, so the cell is never seen half-renumbered. Returns the cell's conflict warnings."""
    import zoneinfo

    from django.conf import settings
    from django.db.models import F, Max

    from cycling.analysis.timeline import FileSpan, place

    files = list(DataFile.objects.select_for_update().filter(shown_results(), cell_id=cell_id,
                                                              kind=DataFile.Kind.CYCLING))
    last = dict(CycleSummary.objects.filter(datafile__in=files).values("datafile_id")
                .annotate(last=Max("file_cycle")).values_list("datafile_id", "last"))
    spans = [FileSpan(id=f.pk, name=f.original_name, start=_parse_time((f.metadata or {}).get("start_time_utc")),
                      end=_parse_time((f.metadata or {}).get("end_time_utc")), uploaded=f.created_at,
                      last_file_cycle=int(last.get(f.pk) or 0), override=f.timeline_mark) for f in files]
    placements, cell_warnings = place(spans, zoneinfo.ZoneInfo(settings.TIME_ZONE))  # warnings in lab time
    by_id = {f.pk: f for f in files}
    for p in placements:  # one UPDATE per file, never per cycle
        # Only the rows whose number is wrong (a re-ingest has just stored its rows with the file's own
        # numbers, a mark or a delete moved the offset): a file that starts its cell's timeline keeps
        # cycle = file_cycle, and rewriting its rows doubled what PostgreSQL wrote per import.
        shifted = F("file_cycle") + p.cycle_offset
        CycleSummary.objects.filter(datafile_id=p.id).exclude(cycle=shifted).update(cycle=shifted)
        DataFile.objects.filter(pk=p.id).update(timeline_relation=p.relation, timeline_position=p.position,
                                                cycle_offset=p.cycle_offset, timeline_warnings=p.warnings)
    # Files off the timeline (superseded, failed) keep no stale placement.
    DataFile.objects.filter(cell_id=cell_id, kind=DataFile.Kind.CYCLING).exclude(pk__in=by_id).update(
        timeline_relation="", timeline_position=None, timeline_warnings=[])
    cell_data_changed(cell_id=cell_id)
    cell_figures_refresh(cell_ids=[cell_id])
    return cell_warnings


def cell_figures_refresh(*, cell_ids) -> int:
    """Recompute the stored CellFigures of these cells with analysis.cell_metrics (the one definition of each
    metric) and their project's reference cycles: one query for the cells, one for their cycles, one upsert.
    Each row keeps the data_version it was computed from, so a later change shows it stale. Returns the count."""
    from cycling.analysis import cell_metrics, long_term_rate_label

    from .models import CELL_FIGURE_KEYS, CellFigures
    from .selectors import cells_cycles_frame, metric_references

    cells = list(Cell.objects.filter(pk__in=list(cell_ids)).select_related("project").only(
        "pk", "data_version", "project__retention_reference_cycle", "project__decay_reference_cycle"))
    if not cells:
        return 0
    frame = cells_cycles_frame([c.pk for c in cells])
    complete = frame[~frame["is_partial"].astype(bool)] if len(frame) else frame
    by_cell = dict(tuple(complete.groupby("cell_id", sort=False))) if len(complete) else {}
    rows = []
    for cell in cells:
        part = by_cell.get(cell.pk, complete.iloc[0:0])
        m = cell_metrics(part, **metric_references(cell.project))
        values = {k: m.get(k) for k in CELL_FIGURE_KEYS}
        values["capacity_unit"] = values["capacity_unit"] or ""
        values["capacity_half"] = values["capacity_half"] or ""
        rows.append(CellFigures(cell_id=cell.pk, data_version=cell.data_version, latest_cycle=m.get("last_cycle"),
                                long_term_c_rate_label=long_term_rate_label(part), **values))
    CellFigures.objects.bulk_create(rows, update_conflicts=True, unique_fields=["cell"],
                                    update_fields=["data_version", "latest_cycle", "long_term_c_rate_label",
                                                   *CELL_FIGURE_KEYS])
    return len(rows)


def cell_figures_of(*, cell_ids, rows: bool = False) -> dict:
    """{cell id: CellFigures} of these cells (ids, or a queryset of their ids) as of their current data: the stale ones (cell_figures_stale) are
    recomputed first, so a face reading them shows what cell_metrics gives now. A cell that never had data has
    no entry. Two queries however many cells when nothing is stale. `rows=True`: plain rows with the same
    attributes instead of model objects (hundreds of cells: a few ms instead of tens)."""
    from types import SimpleNamespace

    from django.db.models import QuerySet

    from .models import CellFigures

    ids = cell_ids if isinstance(cell_ids, QuerySet) else list(cell_ids)  # a queryset: sent as a subquery
    stale = cell_figures_stale(Cell.objects.filter(pk__in=ids))
    if stale:
        cell_figures_refresh(cell_ids=stale)
    found = CellFigures.objects.filter(cell_id__in=ids)
    if rows:
        return {row["cell_id"]: SimpleNamespace(**row) for row in found.values()}
    return {f.cell_id: f for f in found}


def cell_figures_after_ingest(sender, *, cell_id: int, **kwargs) -> None:
    """Receiver of ingest.signals.cell_data_ingested (CyclingConfig.ready): the cell's figures at its new data
    version. Never raises: the figures are derived, and the cell list recomputes stale ones when it reads them."""
    try:
        cell_figures_refresh(cell_ids=[cell_id])
    except Exception:  # noqa: BLE001
        log.exception("cell figures of cell %s not refreshed after the ingest", cell_id)


def cell_figures_stale(cells) -> list[int]:
    """Ids of the cells (a queryset) whose stored figures are missing or older than their data. A cell that
    never had data (data_version 0) has nothing to compute: its figures are empty without a row."""
    from django.db.models import F

    return list(cells.exclude(figures__data_version=F("data_version")).exclude(
        data_version=0, figures__isnull=True).values_list("pk", flat=True))


def datafile_mark_timeline(*, datafile: DataFile, mark: str, actor=None) -> DataFile:
    """A researcher's decision on how a file follows the previous one ('' = from the clocks, 'continues',
    'new_run'); audit-logged, and the cell is renumbered at once."""
    if mark not in DataFile.TimelineMark.values:
        raise ValueError(f"unknown timeline mark {mark!r}; use one of {', '.join(map(repr, DataFile.TimelineMark.values))}")
    with transaction.atomic():
        Cell.objects.select_for_update().filter(pk=datafile.cell_id).first()
        # The stored mark (an admin form has already set the new one on the instance).
        before = DataFile.objects.filter(pk=datafile.pk).values_list("timeline_mark", flat=True).first()
        DataFile.objects.filter(pk=datafile.pk).update(timeline_mark=mark)
        audit(actor=actor, action="timeline_mark", obj=datafile, before=before, after=mark,
              changes={"timeline_mark": [before, mark]} if before != mark else {})
        cell_timeline_apply(cell_id=datafile.cell_id)
    datafile.refresh_from_db()
    return datafile


def _cycle_rows(datafile: DataFile, cycles: pd.DataFrame) -> list[CycleSummary]:
    frame = cycles.reindex(columns=CYCLE_FIELDS)
    frame = frame.astype(object).where(pd.notna(frame), None)
    frame["c_rate_label"] = frame["c_rate_label"].fillna("")
    frame["segment"] = frame["segment"].fillna("")
    frame["ce_convention"] = cycles.attrs.get("ce_convention") or ""
    frame["is_partial"] = frame["is_partial"].fillna(False).astype(bool)
    # The cell's number is set by cell_timeline_apply in the same transaction.
    frame["file_cycle"] = frame["cycle"]
    return [CycleSummary(datafile=datafile, cell_id=datafile.cell_id, **row) for row in frame.to_dict("records")]


# --- sweeper --------------------------------------------------------------------------------

def sweep_stale(*, pending_after_s: int | None = None) -> list[int]:
    """Re-send files nobody is working on (see ingest.machinery.sweep_stale)."""
    return ingest.sweep_stale(ingest_datafile_task, pending_after_s=pending_after_s)


# --- format profiles (a lab's own mapping of a text layout no reader knows) ---------------------------

def format_profile_save(*, name: str, mapping: dict, device=None, actor=None,
                        profile: FormatProfile | None = None) -> FormatProfile:
    """Create a profile, or save an edit of ``profile`` as its next version; the mapping is checked first
    (ParseError naming what is wrong) and stored in its canonical form."""
    from cycling.parsers.profile import mapping_from_dict

    clean = mapping_from_dict(mapping).to_dict()
    name = name.strip()
    if not name:
        raise ParseError("a format profile needs a name")
    with transaction.atomic():
        if profile is None:
            profile = FormatProfile.objects.create(name=name, device=device, mapping=clean, created_by=actor
                                                   if getattr(actor, "is_authenticated", False) else None)
            audit(actor=actor, action="create", obj=profile, version=1)
            return profile
        locked = FormatProfile.objects.select_for_update().get(pk=profile.pk)
        changes = {field: [old, new] for field, old, new in (
            ("name", locked.name, name), ("device", str(locked.device or ""), str(device or "")),
            ("mapping", locked.mapping, clean)) if old != new}
        if not changes:
            return locked
        locked.name, locked.device, locked.mapping = name, device, clean
        locked.version += 1
        locked.save()
        audit(actor=actor, action="update", obj=locked, changes={**changes, "version": [locked.version - 1,
                                                                                         locked.version]})
        return locked


def datafile_read_with_profile(*, datafile: DataFile, profile: FormatProfile, actor=None) -> DataFile:
    """Read ``datafile`` again with ``profile`` (kept as metadata['profile_requested'] for every later re-read)."""
    metadata = {**(datafile.metadata or {}), "profile_requested": profile.name, "profile_requested_id": profile.pk}
    DataFile.objects.filter(pk=datafile.pk).update(metadata=metadata)
    datafile.metadata = metadata
    return datafile_reprocess(datafile=datafile, actor=actor, reason=f"read with format profile {profile}")


def format_profile_reread(*, profile: FormatProfile, actor=None) -> int:
    """After an edit: read again every cycling file an earlier version of ``profile`` read (their provenance then
    names the new version); returns how many were queued."""
    files = list(DataFile.objects.filter(kind=DataFile.Kind.CYCLING, provenance__profile_id=profile.pk)
                 .exclude(provenance__profile_version=profile.version).exclude(status=DataFile.Status.PARSING))
    for datafile in files:
        datafile_reprocess(datafile=datafile, actor=actor, reason=f"format profile {profile} edited")
    return len(files)


def format_profile_import(*, document: bytes | str, actor=None, device=None) -> FormatProfile:
    """A profile from its JSON export: a new one, or the next version of the profile of that name."""
    from cycling.parsers.profile import mapping_from_json

    doc, mapping = mapping_from_json(document)
    name = str(doc.get("name") or "").strip()
    existing = FormatProfile.objects.filter(name=name).first()
    return format_profile_save(name=name, mapping=mapping.to_dict(), actor=actor, profile=existing,
                               device=device if device is not None else (existing.device if existing else None))
