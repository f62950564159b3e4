"""Tables on disk read in Arrow batches, each column we use filled straight into one array (files of 10^7 records).

The BDF and Neware csv readers share it: the file's bytes and its unused columns are never held. A batch
that holds anything the reader's whole-file read judges cell by cell raises NotStreamable; the reader then
reads the whole file, so that a file's errors are the same whichever way it is read."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from readers.errors import ParseError

# Bytes per CSV block of a streamed read: a few MB per column at a time.
BLOCK_BYTES = 4 << 20


class NotStreamable(Exception):
    """The batches met something only the whole-file read judges (it then reads the file and says why)."""


@contextmanager
def opened(source, *, max_bytes: int) -> Iterator[tuple | None]:
    """(handle, start offset, bytes from there to the end) of a path or seekable binary file; None for anything
    else (a socket, a pipe: the reader takes its bytes whole). A path's handle is closed afterwards."""
    path = source if isinstance(source, str | os.PathLike) else None
    if path is None and not (hasattr(source, "seekable") and source.seekable()):
        yield None
        return
    if path is not None and os.path.getsize(path) > max_bytes:
        raise ParseError("the file is larger than 4 GiB")
    handle = open(path, "rb") if path is not None else source  # noqa: SIM115 (closed below when ours)
    try:
        start = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(start)
        yield handle, start, max(1, end - start)
    finally:
        if path is not None:
            handle.close()


def read_bytes(source, *, max_bytes: int) -> bytes:
    """The whole file's bytes (the whole-file read, for sources the batches cannot take)."""
    if isinstance(source, str | os.PathLike):
        if os.path.getsize(source) > max_bytes:
            raise ParseError("the file is larger than 4 GiB")
        with open(source, "rb") as handle:
            return handle.read()
    data = source.read()
    if isinstance(data, str):
        raise ParseError("a text stream was given; open the file in binary mode")
    return bytes(data)


def csv_names(handle, *, parse_options) -> list[str]:
    """The column names of the CSV that starts at the handle's position (one small block read; the handle is
    put back)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .values import arrow_pool

    start = handle.tell()
    names = pacsv.open_csv(pa.PythonFile(handle, mode="r"), memory_pool=arrow_pool(), parse_options=parse_options,
                           read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 16)).schema.names
    handle.seek(start)
    return names


def csv_batches(handle, *, parse_options, convert_options, block_bytes: int = BLOCK_BYTES):
    """Arrow record batches of the CSV that starts at the handle's position, one thread, the C allocator
    (values.arrow_pool); only the columns ``convert_options`` includes are converted."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .values import arrow_pool

    return pacsv.open_csv(pa.PythonFile(handle, mode="r"), parse_options=parse_options, memory_pool=arrow_pool(),
                          read_options=pacsv.ReadOptions(use_threads=False, block_size=block_bytes),
                          convert_options=convert_options)


def gather(batches: Iterable, columns: dict[str, tuple[str, Callable]], fraction: Callable[[], float],
           report: Callable[[float], None]) -> dict:
    """Our columns from Arrow batches. ``columns``: our name -> (the batch's column, its conversion). A
    conversion gives numbers (numpy: filled into one array, sized from the share of the file read so far;
    no list of parts joined at the end, which held every column twice and left the heap full of holes) or
    an Arrow array (kept as the chunks of one column: compact text, turned into pandas once at the end)."""
    filled: dict = {}
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        # The whole file's rows as this much of it suggests (a little more: growing copies the column).
        expected = int(rows / max(fraction(), 1e-6) * 1.05) + 1
        for ours, (theirs, convert) in columns.items():
            values = convert(batch.column(theirs))
            if ours not in filled:
                filled[ours] = Filled(values.dtype) if isinstance(values, np.ndarray) else Chunks(values.type)
            filled[ours].add(values, expected)
        report(0.05 + 0.3 * min(1.0, fraction()))
    return {ours: column.values() for ours, column in filled.items()}


class Filled:
    """One column filled batch by batch into one array, grown (copied) only when the estimate fell short."""

    def __init__(self, dtype):
        self.dtype, self.array, self.n = dtype, None, 0

    def add(self, values: np.ndarray, expected: int) -> None:
        end = self.n + len(values)
        if self.array is None or end > len(self.array):
            grown = np.empty(max(expected, end, int(1.25 * end)), dtype=self.dtype)
            if self.array is not None:
                grown[:self.n] = self.array[:self.n]
            self.array = grown
        self.array[self.n:end] = values
        self.n = end

    def values(self) -> np.ndarray:
        if self.array is None:
            return np.empty(0, dtype=self.dtype)
        # Pages past n were never written: the view costs no memory, a copy would cost the column again.
        return self.array[:self.n]


class Chunks:
    """One Arrow column kept as the batches' chunks (no copy)."""

    def __init__(self, kind):
        self.kind, self.chunks = kind, []

    def add(self, values, expected: int) -> None:
        self.chunks.append(values)

    def values(self):
        import pyarrow as pa

        return pa.chunked_array(self.chunks, type=self.kind)
