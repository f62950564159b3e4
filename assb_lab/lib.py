"""Small shared helpers: JSON-safe copies of values and frames, file digests, id lists, resumable file downloads."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from readers.jsonsafe import jsonable  # the one definition lives in the pure core (no Django needed)


def jsonable_columns(frame: pd.DataFrame) -> dict[str, list]:
    """A frame as {column: [values]} with JSON-safe values (missing -> None)."""
    return {str(col): [jsonable(v) for v in frame[col].to_numpy(dtype=object)] for col in frame.columns}


def jsonable_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as a list of row dicts with JSON-safe values (missing -> None)."""
    return jsonable(frame.astype(object).where(pd.notna(frame), None).to_dict("records"))


def file_sha256(fileobj) -> str:
    """SHA-256 hex digest of an open binary file from its start; leaves it rewound for the next reader."""
    fileobj.seek(0)
    digest = hashlib.file_digest(fileobj, "sha256").hexdigest()
    fileobj.seek(0)
    return digest


def path_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of the file at `path`."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def parse_ids(value: str | None) -> tuple[int, ...]:
    """'1, 2,x,2' -> (1, 2): ids in order, duplicates and non-numbers dropped."""
    out: list[int] = []
    for token in (value or "").split(","):
        token = token.strip()
        if token.isdigit() and int(token) not in out:
            out.append(int(token))
    return tuple(out)


RANGE_CHUNK_BYTES = 1 << 20


def ranged_file_response(request, storage_name: str, *, etag: str, content_type: str, filename: str):
    """A stored file as a download that a broken transfer can resume (HTTP Range, RFC 9110).

    `Range: bytes=N-`, `bytes=N-M` or `bytes=-N` gives 206 with Content-Range; `If-Range` with another
    ETag (the data changed since the first part) gives the whole file again as 200; a range past the end
    416; a multi-range or malformed header is ignored (200, allowed by the RFC). Read in 1 MiB chunks."""
    from django.core.files.storage import default_storage
    from django.http import HttpResponse, StreamingHttpResponse

    size = default_storage.size(storage_name)
    quoted = f'"{etag}"'
    start, end, partial = 0, size - 1, False
    asked = request.headers.get("Range", "").strip()
    if_range = request.headers.get("If-Range", "").strip()
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", asked)
    if match and (match[1] or match[2]) and (not if_range or if_range == quoted):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
        else:
            start = max(size - int(match[2]), 0)
        if start >= size or start > end:
            resp = HttpResponse(status=416)
            resp["Content-Range"] = f"bytes */{size}"
            resp["Accept-Ranges"], resp["ETag"] = "bytes", quoted
            return resp
        partial = True
    resp = StreamingHttpResponse(_file_bytes(storage_name, start, end + 1), content_type=content_type,
                                 status=206 if partial else 200)
    resp["Content-Length"] = str(end + 1 - start)
    if partial:
        resp["Content-Range"] = f"bytes {start}-{end}/{size}"
    resp["Accept-Ranges"], resp["ETag"] = "bytes", quoted
    resp["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def _file_bytes(storage_name: str, start: int, stop: int):
    from django.core.files.storage import default_storage

    with default_storage.open(storage_name, "rb") as fh:
        fh.seek(start)
        left = stop - start
        while left > 0 and (chunk := fh.read(min(RANGE_CHUNK_BYTES, left))):
            left -= len(chunk)
            yield chunk


class ChunkSink:
    """A write-only, unseekable file (for zipfile and pyarrow writers) whose take() hands back what was written
    since the last call, so a streaming response can send each piece as soon as it is made."""

    closed = False

    def __init__(self):
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out
