"""`manage.py ingest PATH... --cell NAME`: bulk import of old exports (folders or files) into one cell."""
import fnmatch
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from assb_lab.lib import file_sha256
from cells.models import Cell
from cycling import services
from cycling.models import DataFile
from cycling.sniff import HEAD_BYTES, refuse_reason
from ingest.signals import subscribers_inline

# Excel lock files, temp files and hidden files are never exports.
_IGNORED = ("~$*", ".~*", "*.tmp", "*.part", ".*")
_DONE = {DataFile.Status.IMPORTED, DataFile.Status.FAILED}


def export_paths(paths, *, recursive: bool, include: list[str]) -> list[Path]:
    """The files named or found in the folders, sorted, each once; hidden, lock and temp files left out."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file())
        else:
            raise CommandError(f"{raw}: no such file or folder.")
    out, seen = [], set()
    for path in sorted(found):
        name = path.name.lower()
        if any(fnmatch.fnmatchcase(name, p) for p in _IGNORED):
            continue
        if include and not any(fnmatch.fnmatchcase(name, p.lower()) for p in include):
            continue
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


class Progress:
    """A plain-text progress bar: redrawn in place on a terminal, one line per step otherwise."""

    def __init__(self, stream, total: int, width: int = 30):
        self.stream, self.total, self.width = stream, max(total, 1), width
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def show(self, done: int, label: str = "") -> None:
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {done}/{self.total} {label}"[:120]
        if self.tty:
            self.stream.write("\r" + line.ljust(120))
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = ("Import a folder (or files) of old exports into one cell: one DataFile per file, deduplicated by "
            "SHA-256 per cell; the ingest runs on the worker, or here with --now.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Export files or folders")
        parser.add_argument("--cell", required=True, help="The cell's name (or id) all files belong to")
        parser.add_argument("--kind", choices=DataFile.Kind.values, default=DataFile.Kind.CYCLING)
        parser.add_argument("--recursive", action="store_true", help="Include subfolders")
        parser.add_argument("--include", action="append", default=[],
                            help="Only file names matching this glob (repeat), e.g. --include '*.xlsx'")
        parser.add_argument("--notes", default="", help="Notes stored with every file")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="Wait for the worker to finish every new file")
        mode.add_argument("--now", action="store_true",
                          help="Run each ingest in this process (no worker needed)")
        parser.add_argument("--timeout", type=float, default=3600.0, help="With --wait: give up after seconds")

    def handle(self, *args, **opts):
        cell = self._cell(opts["cell"])
        paths = export_paths(opts["paths"], recursive=opts["recursive"], include=opts["include"])
        if not paths:
            raise CommandError("No files found.")
        self.stdout.write(f"{len(paths)} file(s) -> cell {cell.name} ({opts['kind']})")
        results = {}  # path -> [outcome, datafile id or None, message]
        bar = Progress(self.stdout, len(paths))
        for n, path in enumerate(paths, start=1):
            results[path] = self._create(path, cell, opts["kind"], opts["notes"], enqueue=not opts["now"])
            if opts["now"] and results[path][0] == "new":
                bar.show(n - 1, f"ingesting {path.name}")
                results[path] = self._ingest_here(path, results[path])
            bar.show(n, path.name)
        if opts["wait"]:
            self._wait(results, opts["timeout"])
        elif not opts["now"]:
            for result in results.values():
                if result[0] == "new":
                    result[0] = "queued"
        self._summary(results)

    # -- steps ------------------------------------------------------------------------------
    def _cell(self, ref: str) -> Cell:
        ref = ref.strip()
        cell = Cell.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
        cell = cell or Cell.objects.filter(name=ref).first()
        if cell is None:
            raise CommandError(f"No cell named {ref!r}.")
        return cell

    def _create(self, path: Path, cell: Cell, kind: str, notes: str, enqueue: bool = True) -> list:
        """Store one file like an upload does: the same refusals, the same per-cell SHA-256 dedupe."""
        try:
            size = path.stat().st_size
            if size > settings.ASSB_UPLOAD_MAX_BYTES:
                limit_mb = settings.ASSB_UPLOAD_MAX_BYTES // (1024 * 1024)
                return ["failed", None, f"larger than the upload limit of {limit_mb} MB"]
            with path.open("rb") as fh:
                reason = refuse_reason(fh.read(HEAD_BYTES), kind=kind)
                if reason:
                    return ["failed", None, reason]
                fh.seek(0)
                upload = File(fh, name=path.name)
                upload.sha256 = file_sha256(fh)
                datafile, created = services.datafile_create(
                    cell=cell, upload=upload, kind=kind, notes=notes or f"bulk import of {path}", actor=None,
                    enqueue=enqueue,
                )
        except OSError as exc:
            return ["failed", None, f"cannot read: {exc}"]
        if not created:
            return ["duplicate", datafile.pk, f"same bytes as data file {datafile.pk} ({datafile.original_name})"]
        return ["new", datafile.pk, ""]

    def _ingest_here(self, path: Path, result: list) -> list:
        datafile_id = result[1]
        try:
            # --now promises no worker: the alert rules are evaluated here too, not queued to the broker.
            with subscribers_inline():
                services.datafile_ingest(datafile_id=datafile_id)
        except services.ClaimHeld:
            pass  # a worker took it first; its result is read below
        except Exception as exc:  # transient (database, storage): left pending for the worker/sweeper
            return ["pending", datafile_id, f"not ingested here ({exc.__class__.__name__}: {exc}); left queued"]
        return _outcome(DataFile.objects.get(pk=datafile_id), result)

    def _wait(self, results: dict, timeout_s: float) -> None:
        waiting = {path: r for path, r in results.items() if r[0] == "new"}
        bar = Progress(self.stdout, len(waiting))
        deadline = time.monotonic() + timeout_s
        done = 0
        while waiting and time.monotonic() < deadline:
            finished = {df.pk: df for df in DataFile.objects.filter(pk__in=[r[1] for r in waiting.values()],
                                                                     status__in=_DONE)}
            for path in [p for p, r in waiting.items() if r[1] in finished]:
                results[path] = _outcome(finished[waiting.pop(path)[1]], results[path])
                done += 1
                bar.show(done, path.name)
            if waiting:
                time.sleep(0.5)
        for path, result in waiting.items():
            results[path] = ["pending", result[1], f"not finished after {timeout_s:.0f} s"]

    def _summary(self, results: dict) -> None:
        counts = {}
        for outcome, _, _ in results.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        order = ["imported", "queued", "duplicate", "failed", "pending"]
        parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
        self.stdout.write(f"Summary: {', '.join(parts)} (of {len(results)} files)")
        for path, (outcome, datafile_id, message) in results.items():
            if outcome in ("failed", "pending", "duplicate"):
                ref = f" [data file {datafile_id}]" if datafile_id and outcome != "duplicate" else ""
                self.stdout.write(f"  {outcome:<9} {path}{ref}: {message}")
        sys.stdout.flush()


def _outcome(datafile: DataFile, result: list) -> list:
    if datafile.status == DataFile.Status.IMPORTED:
        return ["imported", datafile.pk, ""]
    if datafile.status == DataFile.Status.FAILED:
        return ["failed", datafile.pk, datafile.error]
    return ["pending", datafile.pk, f"still {datafile.status}"]


