#!/usr/bin/env python3
"""Watch a LAND export folder on a cycler PC and upload new or grown exports to assb-lab.

    python assb_uploader.py --server https://assb.example.org --token KEY --watch D:\\LAND\\export
                            [--mapping mapping.csv] [--state state.json] [--interval 30] [--once]

One file, Python 3.9+, only `requests` needed. See README.md next to it for installation on Windows and
for the rule that names the cell of a file.
"""
import argparse
import csv
import fnmatch
import hashlib
import json
import logging
import logging.handlers
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import requests

__version__ = "1.0"

log = logging.getLogger("assb_uploader")

API_PATH = "/api/v1/datafiles/"
# The extensions cyclers give their exports: LAND/Neware/Arbin workbooks and csv, Neware .nda/.ndax, BioLogic
# .mpt, Maccor text (its extension is the test's number, .001 ... .999), BDF csv/parquet. Not *.txt: that is
# where notes and logs live too (a lab whose cycler writes .txt exports adds --pattern '*.txt'; the server
# refuses a text no reader recognises with 415 either way). The server decides by content.
DEFAULT_PATTERNS = ("*.xlsx", "*.xls", "*.csv", "*.mpt", "*.nda", "*.ndax", "*.[0-9][0-9][0-9]", "*.parquet")
# Excel's lock files, editor temp files and our own bookkeeping are never exports.
IGNORED = ("~$*", ".~*", "*.tmp", "*.part", ".*")
FINAL_STATUSES = ("imported", "failed")


class AuthError(Exception):
    """The server refused the token (401): nothing will work until it is fixed, so the uploader stops."""


class Unreachable(Exception):
    """The server stayed unreachable (or answered 5xx/429) through all retries; try again at the next poll."""


# --- naming the cell ------------------------------------------------------------------------

def load_mapping(path: Optional[Path]) -> List[Tuple[str, str]]:
    """Rows `pattern,cell` of a mapping CSV (header row, blank lines and `#` comments allowed), in order."""
    if path is None:
        return []
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if len(cells) < 2 or not cells[1]:
                raise ValueError(f"{path}: row {row!r} needs two columns: pattern,cell")
            if cells[0].lower() == "pattern" and cells[1].lower() == "cell":
                continue
            rows.append((cells[0], cells[1]))
    return rows


def cell_for(relpath: str, mapping: List[Tuple[str, str]]) -> Optional[str]:
    """The cell a file belongs to: the first mapping row whose glob matches, else the name's prefix before `_`.

    Patterns are matched case-insensitively against the path relative to the watched folder (with `/`)
    and against the bare file name, so `LNTO-01_*` and `batch3/*.xlsx` both work.
    """
    relpath = relpath.replace("\\", "/")
    name = relpath.rsplit("/", 1)[-1]
    for pattern, cell in mapping:
        pattern = pattern.replace("\\", "/").lower()
        if fnmatch.fnmatchcase(relpath.lower(), pattern) or fnmatch.fnmatchcase(name.lower(), pattern):
            return cell
    prefix, sep, _ = name.partition("_")
    return prefix.strip() if sep and prefix.strip() else None


# --- state ----------------------------------------------------------------------------------

class State:
    """What was seen and sent, kept in a JSON file that is replaced atomically (never half-written)."""

    def __init__(self, path: Path):
        self.path = path
        self.files: Dict[str, dict] = {}  # key: absolute path as text
        self.seen: Dict[str, List[float]] = {}  # key -> [size, mtime] at the last poll (stability check)
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
            self.files = data.get("files", {})
            self.seen = data.get("seen", {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"version": 1, "files": self.files, "seen": self.seen}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=str(self.path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            for attempt in range(10):
                try:
                    os.replace(tmp, str(self.path))
                    break
                except PermissionError:  # Windows: a virus scanner or an editor holds the old file open
                    if attempt == 9:
                        raise
                    time.sleep(0.2)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


# --- HTTP -----------------------------------------------------------------------------------

class MultipartFile:
    """A multipart/form-data body that streams the file from disk (a 500 MB export is never held in memory)."""

    def __init__(self, path: Path, fields: Dict[str, str], filename: str):
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n").encode()
        self._parts = [head, None, f"\r\n--{self.boundary}--\r\n".encode()]
        self._size = os.path.getsize(path)
        self._fh = open(path, "rb")
        self.len = len(head) + self._size + len(self._parts[2])
        self._index, self._offset = 0, 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self):
        return self.len

    def __iter__(self):  # requests treats an iterable with a length as a streamed body
        while True:
            chunk = self.read(1 << 16)
            if not chunk:
                return
            yield chunk

    def read(self, n: int = -1) -> bytes:
        out = b""
        while self._index < 3 and (n < 0 or len(out) < n):
            want = -1 if n < 0 else n - len(out)
            part = self._parts[self._index]
            if part is None:
                chunk = self._fh.read(want)
            else:
                chunk = part[self._offset:] if want < 0 else part[self._offset:self._offset + want]
                self._offset += len(chunk)
            if not chunk or (part is not None and self._offset >= len(part)):
                self._index, self._offset = self._index + 1, 0
            out += chunk
        return out

    def close(self):
        self._fh.close()


def server_message(resp: requests.Response) -> str:
    """The server's reason in one line (DRF answers {"field": ["message"]} or {"detail": "..."})."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "").strip()[:500]
    if isinstance(body, dict):
        parts = []
        for key, value in body.items():
            text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(text if key in ("detail", "file", "non_field_errors") else f"{key}: {text}")
        return " | ".join(parts)[:500]
    return str(body)[:500]


def without_name(message: str, name: str) -> str:
    """The server's text without its leading file name where the log line names the file already ("X.xlsx: ..."
    of a refusal, "file 'X.xlsx', sheet ...: ..." of a failed import); the server's readers.without_file, copied
    because this script runs on a cycler PC without the server's code."""
    for head in (f"{name}: ", f"file '{name}': ", f"file '{name}', "):
        if message.startswith(head):
            return message[len(head):]
    return message


class Uploader:
    """One polling loop over a folder: find stable new/grown files, upload them, follow their status."""

    def __init__(self, server: str, token: str, watch: Path, state: State, mapping_path: Optional[Path] = None,
                 kind: str = "cycling", patterns=DEFAULT_PATTERNS, recursive: bool = True,
                 max_retries: int = 8, backoff_base_s: float = 2.0, backoff_cap_s: float = 300.0,
                 timeout_s: float = 600.0, sleep: Callable[[float], None] = time.sleep):
        self.server = server.rstrip("/")
        self.watch, self.state, self.kind = watch, state, kind
        self.mapping_path = mapping_path
        self.patterns, self.recursive = tuple(patterns), recursive
        self.max_retries, self.backoff_base_s, self.backoff_cap_s = max_retries, backoff_base_s, backoff_cap_s
        self.timeout_s, self.sleep = timeout_s, sleep
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}",
                                     "User-Agent": f"assb-uploader/{__version__}"})
        self._warned_unnamed = set()

    # -- one poll --------------------------------------------------------------------------
    def poll(self) -> dict:
        """Look at the folder once; upload what has been stable since the last poll. Returns counts."""
        mapping = load_mapping(self.mapping_path)
        counts = {"uploaded": 0, "duplicate": 0, "refused": 0, "waiting": 0, "unreachable": 0}
        seen_now = {}
        for path in self.candidates():
            key = str(path)
            try:
                st = path.stat()
            except OSError:
                continue
            sig = [st.st_size, st.st_mtime]
            seen_now[key] = sig
            known = self.state.files.get(key)
            if known and [known.get("size"), known.get("mtime")] == sig:
                continue  # sent (or refused) exactly as it is now
            if self.state.seen.get(key) != sig or not _readable(path):
                counts["waiting"] += 1  # new or still changing: wait until it holds still for a poll
                continue
            outcome = self.handle(path, sig, mapping)
            if outcome:
                counts[outcome] += 1
        self.state.seen = seen_now
        self.state.save()
        self.refresh_statuses()
        return counts

    def candidates(self) -> List[Path]:
        walker = self.watch.rglob("*") if self.recursive else self.watch.glob("*")
        out = []
        for path in walker:
            name = path.name.lower()
            if any(fnmatch.fnmatchcase(name, p) for p in IGNORED):
                continue
            if not any(fnmatch.fnmatchcase(name, p.lower()) for p in self.patterns):
                continue
            if path.is_file():
                out.append(path)
        return sorted(out, key=lambda p: (_mtime(p), str(p)))

    def handle(self, path: Path, sig: list, mapping) -> Optional[str]:
        key = str(path)
        relpath = path.relative_to(self.watch).as_posix()
        cell = cell_for(relpath, mapping)
        if cell is None:
            if key not in self._warned_unnamed:
                log.warning("%s: no cell (no mapping row matches and the name has no CELL_ prefix); skipped",
                            relpath)
                self._warned_unnamed.add(key)
            return None
        sha = sha256_of(path)
        known = self.state.files.get(key)
        if known and known.get("sha256") == sha and known.get("cell") == cell:
            # Touched but not changed (or refused before): the same bytes are not sent again.
            known.update(size=sig[0], mtime=sig[1])
            return None
        try:
            resp = self.upload(path, relpath, cell)
        except Unreachable as exc:
            log.warning("%s: not sent, server unreachable (%s); will try again at the next poll", relpath, exc)
            return "unreachable"
        if _stat_sig(path) != sig:
            log.info("%s changed while it was being sent; it will be sent again once stable", relpath)
        record = {"path": key, "relpath": relpath, "size": sig[0], "mtime": sig[1], "sha256": sha, "cell": cell,
                  "http_status": resp.status_code, "sent_at": _now()}
        if resp.status_code in (200, 201, 202):
            body = resp.json()
            record.update(datafile_id=body.get("id"), status=body.get("status"),
                          progress_percent=body.get("progress_percent"), error=body.get("error") or "",
                          message="already on the server" if resp.status_code == 200 else "")
            self.state.files[key] = record
            self.state.save()
            if resp.status_code == 200:
                log.info("%s -> cell %s: same bytes already uploaded (data file %s, %s)", relpath, cell,
                         record["datafile_id"], record["status"])
                return "duplicate"
            log.info("%s -> cell %s: uploaded as data file %s (%s)", relpath, cell, record["datafile_id"],
                     record["status"])
            return "uploaded"
        message = server_message(resp)
        record.update(status="refused", message=message, datafile_id=None)
        self.state.files[key] = record
        self.state.save()
        # The server's reason is a sentence already: ending it again read "... that you may upload to.."
        log.error("%s -> cell %s: refused by the server (%s): %s. Not resent until the file changes.",
                  relpath, cell, resp.status_code, without_name(message, Path(relpath).name).rstrip(". "))
        return "refused"

    # -- HTTP with retries -----------------------------------------------------------------
    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with a cap and jitter (half to full of the step), so PCs do not retry in step."""
        step = min(self.backoff_cap_s, self.backoff_base_s * (2 ** attempt))
        return step * random.uniform(0.5, 1.0)

    def request(self, method: str, url_path: str, make_kwargs: Callable[[], dict]) -> requests.Response:
        """Send with retries on network errors, 5xx and 429; 401 raises AuthError; other answers are returned."""
        last = ""
        for attempt in range(self.max_retries + 1):
            kwargs = make_kwargs()
            body = kwargs.get("data")
            try:
                resp = self.session.request(method, self.server + url_path, timeout=self.timeout_s, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                resp, last = None, f"{exc.__class__.__name__}: {str(exc)[:200]}"
            finally:
                if isinstance(body, MultipartFile):
                    body.close()
            if resp is not None:
                if resp.status_code == 401:
                    raise AuthError(
                        f"The server {self.server} refused the token (401: {server_message(resp)}). Check --token: "
                        "it must be this PC's device key (manage.py create_device NAME on the server) and the "
                        "device must be active."
                    )
                if resp.status_code != 429 and resp.status_code < 500:  # 5xx (incl. 507 disk full), 429: retry
                    return resp
                last = f"HTTP {resp.status_code}: {server_message(resp)[:200]}"
            if attempt == self.max_retries:
                break
            delay = self.backoff_s(attempt)
            retry_after = resp.headers.get("Retry-After", "") if resp is not None else ""
            if retry_after.isdigit():
                delay = max(delay, min(float(retry_after), self.backoff_cap_s))
            log.warning("%s %s failed (%s); retry %d/%d in %.1f s", method, url_path, last, attempt + 1,
                        self.max_retries, delay)
            self.sleep(delay)
        raise Unreachable(last)

    def upload(self, path: Path, relpath: str, cell: str) -> requests.Response:
        fields = {"cell": cell, "kind": self.kind, "notes": f"uploaded by assb_uploader from {relpath}"}

        def make():
            body = MultipartFile(path, fields, path.name)
            return {"data": body, "headers": {"Content-Type": body.content_type, "Content-Length": str(body.len)}}

        return self.request("POST", API_PATH, make)

    def refresh_statuses(self) -> None:
        """Ask the server about files it has not finished yet; log when they are imported or failed."""
        changed = False
        for record in self.state.files.values():
            if not record.get("datafile_id") or record.get("status") in FINAL_STATUSES + ("refused", "gone"):
                continue
            try:
                resp = self.request("GET", f"{API_PATH}{record['datafile_id']}/", lambda: {})
            except Unreachable:
                return
            if resp.status_code == 404:  # deleted on the server (or moved out of this PC's projects)
                record.update(status="gone", checked_at=_now())
                changed = True
                log.warning("%s: data file %s is no longer on the server", record["relpath"], record["datafile_id"])
                continue
            if resp.status_code != 200:
                continue
            body = resp.json()
            if body.get("status") != record.get("status"):
                changed = True
                record.update(status=body.get("status"), progress_percent=body.get("progress_percent"),
                              error=body.get("error") or "", checked_at=_now())
                if record["status"] == "failed":
                    log.error("%s: import failed on the server: %s", record["relpath"],
                              without_name(record["error"], Path(record["relpath"]).name))
                else:
                    log.info("%s: %s (data file %s)", record["relpath"], record["status"], record["datafile_id"])
        if changed:
            self.state.save()

    def report(self) -> str:
        """One line per file the state knows, for the end of a --once run."""
        lines = []
        for record in sorted(self.state.files.values(), key=lambda r: r.get("relpath", "")):
            extra = record.get("error") or record.get("message") or ""
            lines.append(f"  {record.get('status', '?'):<9} {record.get('relpath')} -> {record.get('cell')}"
                         f" (id {record.get('datafile_id') or '-'}){': ' + extra if extra else ''}")
        return "\n".join(lines)


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _readable(path: Path) -> bool:
    # On Windows the cycler software keeps an export it is still writing locked.
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _stat_sig(path: Path) -> Optional[list]:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- command line ---------------------------------------------------------------------------

def default_state_path() -> Path:
    base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "assb_uploader" / "state.json"


def setup_logging(log_file: Path, verbose: bool = False) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    log.handlers.clear()
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(fmt)
    rotating = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    rotating.setFormatter(fmt)
    log.addHandler(console)
    log.addHandler(rotating)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Upload LAND exports from a folder to assb-lab.")
    parser.add_argument("--server", required=True, help="Base URL, e.g. https://assb.example.org")
    parser.add_argument("--token", default=os.environ.get("ASSB_TOKEN"),
                        help="This PC's device token (or set ASSB_TOKEN, which keeps it off the command line)")
    parser.add_argument("--watch", required=True, type=Path, help="The export folder (searched recursively)")
    parser.add_argument("--mapping", type=Path, help="CSV with rows pattern,cell (glob patterns), checked first")
    parser.add_argument("--state", type=Path, default=None, help=f"State file (default {default_state_path()})")
    parser.add_argument("--log", type=Path, default=None, help="Log file (default: next to the state file)")
    parser.add_argument("--interval", type=float, default=30.0, help="Seconds between polls (default 30)")
    parser.add_argument("--once", action="store_true",
                        help="Poll twice, --settle seconds apart, upload what held still, report and exit")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="With --once: seconds a file must stay unchanged before it is sent (default 5)")
    parser.add_argument("--kind", choices=("cycling", "eis"), default="cycling")
    parser.add_argument("--pattern", action="append", default=None,
                        help="File name glob to upload (repeat; default: " + ", ".join(DEFAULT_PATTERNS) + ")")
    parser.add_argument("--no-recursive", action="store_true", help="Only the folder itself, not subfolders")
    parser.add_argument("--max-retries", type=int, default=8, help="Retries per request when unreachable")
    parser.add_argument("--retry-refused", action="store_true",
                        help="Send files the server refused before once more (e.g. after creating the cell)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or the ASSB_TOKEN environment variable) is required")
    if not args.watch.is_dir():
        parser.error(f"--watch {args.watch} is not a folder")
    args.state = args.state or default_state_path()
    args.log = args.log or args.state.with_name("assb_uploader.log")
    return args


def main(argv=None, sleep: Callable[[float], None] = time.sleep) -> int:
    args = parse_args(argv)
    setup_logging(args.log, args.verbose)
    state = State(args.state)
    if args.retry_refused:
        state.files = {k: v for k, v in state.files.items() if v.get("status") != "refused"}
    uploader = Uploader(args.server, args.token, args.watch.resolve(), state, args.mapping, kind=args.kind,
                        patterns=args.pattern or DEFAULT_PATTERNS, recursive=not args.no_recursive,
                        max_retries=args.max_retries, sleep=sleep)
    log.info("watching %s -> %s (state %s)", uploader.watch, uploader.server, args.state)
    try:
        if args.once:
            uploader.poll()  # first look: remembers sizes
            sleep(args.settle)
            counts = uploader.poll()
            log.info("done: %s", ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "nothing to send")
            report = uploader.report()
            if report:
                log.info("files:\n%s", report)
            return 0
        while True:
            counts = uploader.poll()
            if any(counts[k] for k in ("uploaded", "duplicate", "refused", "unreachable")):
                log.info("poll: %s", ", ".join(f"{v} {k}" for k, v in counts.items() if v))
            sleep(args.interval)
    except AuthError as exc:
        log.error("%s Stopping.", exc)
        return 2
    except KeyboardInterrupt:
        log.info("stopped")
        return 0


if __name__ == "__main__":
    sys.exit(main())
