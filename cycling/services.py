"""Writes of cycling data: store an upload, ingest it (claim, parse, analyse, swap in), reprocess, delete.

The ingest is idempotent: a file is claimed with one conditional UPDATE (a lease renewed by a heartbeat),
the slow work happens outside any transaction, and the results replace the old ones inside one
transaction that first checks the claim is still ours. Running it twice, or after a crash halfway,
leaves exactly one consistent result.
"""
import contextlib
import io
import logging
import threading
import traceback
import uuid
from dataclasses import asdict
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cells.models import Cell
from cells.services import audit

from .models import CYCLE_FIELDS, CycleSummary, DataFile

log = logging.getLogger(__name__)

LEASE_S = getattr(settings, "ASSB_INGEST_LEASE_S", 60)


class ClaimHeld(Exception):
    """Another worker holds a live claim on the file; try again later."""


class IngestFailed(Exception):
    """Bad data: the file cannot be imported. Not retried."""


# --- upload ---------------------------------------------------------------------------------

def datafile_create(*, cell: Cell, upload, kind: str, notes: str = "", actor=None,
                    enqueue: bool = True) -> tuple[DataFile, bool]:
    """Store an uploaded file once per cell (by SHA-256) and enqueue its ingest; returns (datafile, created).

    enqueue=False is for callers that run the ingest themselves in this process.
    """
    from cells.auth import DevicePrincipal

    sha = getattr(upload, "sha256", None) or _sha256_of(upload)
    existing = DataFile.objects.filter(cell=cell, sha256=sha).first()
    if existing:
        return existing, False
    device = actor.device if isinstance(actor, DevicePrincipal) else None
    user = actor if (actor is not None and device is None and actor.is_authenticated) else None
    datafile = DataFile(
        cell=cell, kind=kind, original_name=_display_name(upload.name), size_bytes=upload.size, sha256=sha,
        notes=notes, uploaded_by=user, device=device,
    )
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


def _display_name(name: str) -> str:
    # Kept for display only; strip any path a client sent and control characters.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:255] or "upload"


def _sha256_of(fileobj) -> str:
    import hashlib

    sha = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        sha.update(chunk)
    fileobj.seek(0)
    return sha.hexdigest()


def datafile_enqueue(datafile: DataFile) -> None:
    """Send the ingest task once the surrounding transaction commits; a broker outage leaves it to the sweeper."""
    from .tasks import ingest_datafile

    def send():
        try:
            ingest_datafile.apply_async(args=[datafile.pk], retry=True, retry_policy={
                "max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1,
            })
        except Exception as exc:  # broker down: the file stays pending and the sweeper sends it later
            log.warning("could not enqueue data file %s (%s); the sweeper will retry", datafile.pk, exc)
            return
        DataFile.objects.filter(pk=datafile.pk).update(queued_at=timezone.now())

    transaction.on_commit(send)


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
    audit(actor=actor, action="delete", obj=datafile, sha256=datafile.sha256, original_name=datafile.original_name)
    with transaction.atomic():
        # A file it had replaced becomes the active export again (its cycles are rebuilt).
        revived = list(DataFile.objects.filter(superseded_by=datafile))
        DataFile.objects.filter(pk__in=[f.pk for f in revived]).update(
            superseded_by=None, status=DataFile.Status.PENDING, claim_token=None
        )
        datafile.delete()
        for other in revived:
            datafile_enqueue(other)
    transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


# --- ingest ---------------------------------------------------------------------------------

def _claim(datafile_id: int) -> uuid.UUID | None:
    """Take the file for this worker: one conditional UPDATE, true for exactly one caller."""
    token, now = uuid.uuid4(), timezone.now()
    claimable = Q(status=DataFile.Status.PENDING) | Q(status=DataFile.Status.PARSING, lease_expires_at__lt=now)
    won = DataFile.objects.filter(claimable, pk=datafile_id).update(
        status=DataFile.Status.PARSING, claim_token=token, lease_expires_at=now + timedelta(seconds=LEASE_S),
        attempts=F("attempts") + 1, started_at=now, progress_percent=0,
    )
    return token if won else None


def _owned(datafile_id, token):
    return DataFile.objects.filter(pk=datafile_id, claim_token=token, status=DataFile.Status.PARSING)


@contextlib.contextmanager
def _heartbeat(datafile_id: int, token: uuid.UUID):
    """Renew the lease while this worker is alive; a killed worker's lease runs out and the sweeper re-sends."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(LEASE_S / 3):
                try:
                    _owned(datafile_id, token).update(lease_expires_at=timezone.now() + timedelta(seconds=LEASE_S))
                except Exception:  # database briefly away: drop the broken connection, the next beat reconnects
                    log.warning("heartbeat of data file %s failed; retrying", datafile_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{datafile_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


class _Progress:
    """Throttled progress writes (every 5 %) mapped into a stage's share of 0-100."""

    def __init__(self, datafile_id, token):
        self.datafile_id, self.token, self.last = datafile_id, token, -1

    def stage(self, lo: int, hi: int):
        def report(fraction: float):
            percent = int(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
            if percent >= self.last + 5 or percent == hi:
                self.last = percent
                _owned(self.datafile_id, self.token).update(progress_percent=percent)
        return report


def datafile_ingest(*, datafile_id: int) -> str:
    """Parse and analyse one data file and swap its results in. Returns the resulting status.

    Raises ClaimHeld when another worker is on it, and lets transient errors (database, storage)
    propagate so the task retries; bad data ends in FAILED with the parser's message.
    """
    token = _claim(datafile_id)
    if token is None:
        state = DataFile.objects.filter(pk=datafile_id).values_list("status", flat=True).first()
        if state == DataFile.Status.PARSING:
            raise ClaimHeld(datafile_id)
        return state or "missing"
    datafile = DataFile.objects.select_related("cell__cathode_material").get(pk=datafile_id)
    progress = _Progress(datafile_id, token)
    try:
        with _heartbeat(datafile_id, token):
            if datafile.kind == DataFile.Kind.EIS:
                from impedance.services import spectrum_ingest

                result = spectrum_ingest(datafile=datafile, token=token, owned=_owned, progress=progress)
            else:
                result = _ingest_cycling(datafile, token, progress)
    except IngestFailed as exc:
        _fail(datafile_id, token, str(exc), traceback.format_exc())
        result = DataFile.Status.FAILED
    except Exception as exc:
        if not _is_bad_data(exc):
            # Transient: give the claim back so the retry (or the sweeper) can take it at once.
            with contextlib.suppress(Exception):
                _owned(datafile_id, token).update(status=DataFile.Status.PENDING, claim_token=None)
            raise
        _fail(datafile_id, token, f"{datafile.original_name}: {exc}", traceback.format_exc())
        result = DataFile.Status.FAILED
    if result in (DataFile.Status.IMPORTED, DataFile.Status.FAILED):
        # The one monitoring hook: re-evaluate the cell's alert rules once this has committed (never raises).
        from monitoring.tasks import after_ingest

        after_ingest(cell_id=datafile.cell_id)
    return result


def _is_bad_data(exc: Exception) -> bool:
    from cycling.parsers import ParseError
    from impedance.parsers import ParseError as EisParseError

    return isinstance(exc, ParseError | EisParseError)


def _fail(datafile_id, token, message, tb):
    _owned(datafile_id, token).update(
        status=DataFile.Status.FAILED, error=message[:4000], traceback=tb[-20000:], claim_token=None,
        finished_at=timezone.now(), progress_percent=100,
    )


def cell_spec(cell: Cell):
    """The build values analysis needs, from the cell's current build sheet (never a default mass)."""
    from cycling.analysis import CellSpec

    first = None if cell.first_half == Cell.FirstHalf.AUTO else cell.first_half
    return CellSpec(
        active_mass_mg=cell.active_mass_mg, area_cm2=cell.electrode_area_cm2,
        theoretical_mah_g=cell.effective_theoretical_mah_g, first_half=first,
    )


def _load_records(datafile: DataFile, progress: _Progress):
    """Records from our own Parquet when this parser version wrote it, else parse the original bytes."""
    from cycling.parsers import PARSER_VERSION, read_land

    prov = datafile.provenance or {}
    if datafile.records_file and prov.get("parser_version") == PARSER_VERSION and default_storage.exists(
        datafile.records_file
    ):
        with default_storage.open(datafile.records_file, "rb") as fh:
            records = pd.read_parquet(fh)
        cycle_table = pd.DataFrame(prov["land_cycle_table"]) if prov.get("land_cycle_table") else None
        return records, cycle_table, datafile.metadata, list(prov.get("parser_warnings", [])), False
    from cycling.parsers import bdf

    with default_storage.open(datafile.file.name, "rb") as fh:
        # Until the reader registry lands: BDF tables go to their reader, everything else to LAND's.
        reader = bdf.read_bdf if bdf.sniff(fh.read(4096), datafile.original_name) else read_land
        fh.seek(0)
        export = reader(fh, name=datafile.original_name, progress=progress.stage(2, 70))
    return export.records, export.cycle_table, export.metadata, list(export.warnings), True


def _ingest_cycling(datafile: DataFile, token, progress: _Progress) -> str:
    from cycling.analysis import ANALYSIS_VERSION, DqdvParams, cross_check, summarize_cycles
    from cycling.checks import cycle_identity_checks, resolve_cycles, sanity_checks
    from cycling.parsers import PARSER_VERSION
    from cycling.timezones import localize_sys_time, start_time_utc

    records, cycle_table, metadata, parser_warnings, parsed = _load_records(datafile, progress)
    progress.stage(70, 70)(1.0)
    cell = datafile.cell
    spec = cell_spec(cell)
    # One documented rule decides what a cycle is (cycling.checks.resolve_cycles); disagreements are flagged.
    findings = cycle_identity_checks(records, spec.first_half)
    cycle_numbers, cycle_source = resolve_cycles(records, spec.first_half)
    analysed = records if cycle_source == "land" else records.assign(cycle=cycle_numbers)
    cycles = summarize_cycles(analysed, spec)
    findings += sanity_checks(
        analysed, cycles, theoretical_mah_g=spec.theoretical_mah_g, active_mass_mg=spec.active_mass_mg,
        voltage_window_v=cell.cell_voltage_window_v, first_half=spec.first_half,
    )
    warnings = list(parser_warnings)
    if cycle_table is not None and len(cycle_table) and cycle_source == "land":
        warnings += cross_check(cycles, cycle_table)
    warnings += [f.message for f in findings]
    metadata = dict(metadata)
    # LAND's SysTime is the cycler PC's naive wall clock: read it in the PC's zone, keep it in UTC.
    lab_zone = datafile.device.timezone if datafile.device_id else settings.TIME_ZONE
    records = records.assign(sys_time=localize_sys_time(records["sys_time"], lab_zone))
    start = start_time_utc(records, lab_zone)
    metadata.update(start_time_utc=start.isoformat() if start else None, sys_time_zone=lab_zone)
    progress.stage(85, 85)(1.0)

    records_name = datafile.records_file
    if parsed:
        records_name = _write_records(datafile, token, records)
    channel_key = _channel_key(metadata, records)
    provenance = {
        "parser_version": PARSER_VERSION, "analysis_version": ANALYSIS_VERSION,
        "active_mass_mg": spec.active_mass_mg, "area_cm2": spec.area_cm2,
        "theoretical_mah_g": spec.theoretical_mah_g, "first_half": spec.first_half or "auto",
        "parser_warnings": parser_warnings,
        "cycle_source": cycle_source, "ce_convention": cycles.attrs.get("ce_convention"),
        "dqdv_params": asdict(DqdvParams()),
        "findings": [f.as_dict() for f in findings],
        "land_cycle_table": None if cycle_table is None else _jsonable_frame(cycle_table),
        "computed_at": timezone.now().isoformat(),
    }
    old_records = datafile.records_file if datafile.records_file != records_name else ""
    superseded = _find_prefix_exports(datafile, channel_key, records)

    rows = _cycle_rows(datafile, cycles)
    with transaction.atomic():
        locked = DataFile.objects.select_for_update().filter(pk=datafile.pk, claim_token=token).first()
        if locked is None:  # lost the claim (lease ran out and another worker took over): leave its result
            transaction.on_commit(lambda: records_name != datafile.records_file and default_storage.delete(records_name))
            return "abandoned"
        CycleSummary.objects.filter(datafile=datafile).delete()
        CycleSummary.objects.bulk_create(rows, batch_size=2000)
        for older in superseded:
            CycleSummary.objects.filter(datafile=older).delete()
            DataFile.objects.filter(pk=older.pk).update(superseded_by=datafile)
            warnings.append(f"Replaces the earlier export {older.original_name} (id {older.pk}) of the same run.")
        DataFile.objects.filter(pk=datafile.pk).update(
            status=DataFile.Status.IMPORTED, progress_percent=100, error="", traceback="", warnings=warnings,
            n_records=len(records), n_cycles=len(cycles), metadata=_jsonable(metadata), provenance=provenance,
            records_file=records_name, channel_key=channel_key, claim_token=None, finished_at=timezone.now(),
        )
        if old_records:
            transaction.on_commit(lambda: default_storage.delete(old_records))
    return DataFile.Status.IMPORTED


def _write_records(datafile: DataFile, token, records: pd.DataFrame) -> str:
    buf = io.BytesIO()
    records.to_parquet(buf, index=False, compression="zstd", row_group_size=100_000)
    buf.seek(0)
    from django.core.files.base import File

    name = f"records/{datafile.uid}-{token.hex[:8]}.parquet"
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


def _cycle_rows(datafile: DataFile, cycles: pd.DataFrame) -> list[CycleSummary]:
    frame = cycles.reindex(columns=CYCLE_FIELDS)
    frame = frame.astype(object).where(pd.notna(frame), None)
    frame["c_rate_label"] = frame["c_rate_label"].fillna("")
    frame["segment"] = frame["segment"].fillna("")
    frame["ce_convention"] = cycles.attrs.get("ce_convention") or ""
    frame["is_partial"] = frame["is_partial"].fillna(False).astype(bool)
    return [CycleSummary(datafile=datafile, cell_id=datafile.cell_id, **row) for row in frame.to_dict("records")]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _jsonable_frame(frame: pd.DataFrame) -> dict:
    clean = frame.astype(object).where(pd.notna(frame), None)
    return {col: [_jsonable(v) for v in clean[col]] for col in clean.columns}


# --- sweeper --------------------------------------------------------------------------------

def sweep_stale(*, pending_after_s: int | None = None) -> list[int]:
    """Re-send files nobody is working on: pending and not sent (or sent long ago), or parsing with a dead lease."""
    pending_after_s = pending_after_s if pending_after_s is not None else getattr(settings, "ASSB_SWEEP_PENDING_AFTER_S", 120)
    now = timezone.now()
    stale = DataFile.objects.filter(
        Q(status=DataFile.Status.PENDING, queued_at__isnull=True)
        | Q(status=DataFile.Status.PENDING, queued_at__lt=now - timedelta(seconds=pending_after_s))
        | Q(status=DataFile.Status.PARSING, lease_expires_at__lt=now)
    )
    ids = list(stale.values_list("pk", flat=True))
    for datafile in DataFile.objects.filter(pk__in=ids):
        with transaction.atomic():
            datafile_enqueue(datafile)
    return ids
