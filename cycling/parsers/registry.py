"""The cycling reader registry: ``read_export`` picks the reader of a cycler file by its content and runs it."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from readers import Registry
from readers.errors import ParseError, display_name, reading

from .export import Export
from .probe import Probe, Reader
from .profile import READER_NAME as PROFILE_READER
from .profile import VERSION as PROFILE_VERSION
from .profile import Mapping, matches, read_with_profile

_MAX_FILE_BYTES = 4 * 1024**3


def _load(registry: Registry) -> None:
    from . import arbin, bdf, biologic, lanhe, maccor, neware
    from .land import PARSER_VERSION, read_land

    for module in (neware, arbin, biologic, maccor, lanhe):
        for reader in module.READERS:
            registry.register(reader)
    registry.register(bdf.READER)
    registry.register(Reader("assb-lab land", "LAND", _land_sniff,
                             lambda probe: read_land(_land_source(probe), name=probe.name, progress=probe.progress),
                             PARSER_VERSION))


def _land_source(probe: Probe):
    """A workbook on disk goes to read_land by its path: fastexcel and calamine read only the parts they need
    from it, and neither the probe nor fastexcel holds a copy of the file's bytes under the record sheet's
    cell grid (the peak memory of the read). Anything else as the bytes already read."""
    if probe.path is not None and probe.fmt == "zip":
        return probe.path
    return io.BytesIO(probe.data)


READERS: Registry[Probe, Export] = Registry(_load)


def register(reader: Reader, *, before: str | None = None) -> Reader:
    """Add a reader (ahead of the one named ``before``: LAND's reader, the catch-all, stays last)."""
    iter(READERS)  # the built-in readers first, so that ``before`` can name them
    return READERS.register(reader, before=before or "assb-lab land")


def reader_version(name: str | None) -> str | None:
    """The current version of the registered reader called ``name``: what a cached record frame was made by
    must equal it for the cache to be used (every reader has its own version)."""
    return READERS.version_of(name)


def _land_sniff(probe: Probe) -> bool:
    """LAND is the catch-all for workbooks and text no other reader claimed: read_land's own refusals say
    best what is wrong with a near-LAND file."""
    return probe.fmt in ("zip", "ole2", "text") and probe.zip_kind != "ndax"


def read_export(
    source: str | os.PathLike | BinaryIO,
    *,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
    channel: str | None = None,
    profiles: Sequence[Profile] = (),
) -> Export:
    """Read any supported cycler export (chosen by content, never by the file name); ParseError otherwise.

    A file of several channels (one run each) needs ``channel``: the refusal lists the channels it holds.
    ``export.metadata['parser']`` and ``['parser_version']`` name the registered reader and its own version
    (the record cache's key); ``reader``/``reader_version`` may name the library underneath (fastnda).
    ``profiles`` are a lab's format profiles that may apply (those of the uploading cycler PC, or the one the
    upload names): see read_runs."""
    runs = read_runs(source, name=name, progress=progress, profiles=profiles)
    return pick_run(runs, channel)


def pick_run(runs: Sequence[Export], channel: str | None) -> Export:
    """The run of ``channel`` (any run of a one-run file when None); a ParseError listing the file's channels
    when there are several and none or no such channel is named."""
    display = runs[0].source_name
    if channel is None and len(runs) == 1:
        return runs[0]
    listing = ", ".join(str(run.metadata.get("channel")) for run in runs)
    if channel is None:
        raise ParseError(f"the file holds {len(runs)} channels ({listing}), one cell each: name the channel "
                         "of this cell when uploading, upload once per channel, or record each cell's cycler "
                         "channel on its build sheet", file=display)
    found = [run for run in runs if same_channel(run.metadata.get("channel"), channel)]
    if not found:
        raise ParseError(f"it holds no channel '{channel}' (its channels: {listing})", file=display)
    return found[0]


def same_channel(a, b) -> bool:
    """Whether two spellings name one cycler channel: 'Channel_1-053', '1-053', '1-53' and 'ch 1-053' do;
    '11' and '1-1' do not (the numbers and letters are compared, leading zeros and separators ignored)."""
    return bool(a is not None and b is not None and _channel_parts(a) and _channel_parts(a) == _channel_parts(b))


def _channel_parts(value) -> tuple:
    text = _CHANNEL_PREFIX.sub("", str(value).strip().lower())
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"\d+|[a-z]+", text))


_CHANNEL_PREFIX = re.compile(r"^(?:channel|chl|ch)(?=[\s_:#.-]*\d)[\s_:#.-]*")


def read_runs(
    source: str | os.PathLike | BinaryIO,
    *,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
    profiles: Sequence[Profile] = (),
) -> list[Export]:
    """Every run of a cycler file: one per channel (one for almost every file), each a checked Export.

    A ``profiles`` entry that is ``forced`` (the upload named it) reads the file; otherwise the first whose
    mapped header is on the file's mapped header line does, ahead of the built-in readers (a profile is made
    for a layout they refuse, and its header is that layout's fingerprint)."""
    display = name or display_name(source)
    streamed = _read_streamed(source, display, progress, profiles)
    if streamed is not None:
        export, reader = streamed
        return _finish([export], reader, display)
    probe = _probe(source, display, progress)
    if probe.blank():
        raise ParseError("the file is empty", file=display)
    signature = probe.signature
    if signature is not None and signature.refusal:
        unread = ", which this system does not read" if signature.native else ""
        raise ParseError(f"it is {signature.what}{unread}: {signature.refusal}", file=display)
    with reading(display, subject="file"):
        reader = _profile_reader(probe, profiles) or READERS.pick(probe)
    if reader is None:
        what = signature.what if signature else "a file of an unknown format"
        raise ParseError(f"it is {what}, which no reader of this system reads", file=display)
    # The last line of defence: whatever a library under a reader raises on a broken file (calamine's
    # XmlError, a construct error in access-parser) reaches the uploader as a ParseError naming the file.
    with reading(display, subject=f"{reader.instrument} file", also=(Exception,)):
        export = reader.read(probe)
    return _finish(export.runs or [export], reader, display)


def _finish(runs: list[Export], reader: Reader, display: str) -> list[Export]:
    """The runs as read_runs hands them out: their warnings, provenance and the registered reader that read them."""
    channels = [str(run.metadata.get("channel")) for run in runs]
    for run in runs:
        run.runs = []
        if len(runs) > 1:  # every run knows the file's other channels (the ingest gives each its cell)
            run.metadata.update(channels_in_file=len(runs), file_channels=channels)
        run.warnings.extend(run.metadata.pop("reader_warnings", []))
        run.reader_version = run.reader_version or reader.version
        run.source_name = display
        run.metadata.setdefault("instrument", run.instrument)
        run.metadata.setdefault("reader", run.reader)
        run.metadata.setdefault("reader_version", run.reader_version)
        run.metadata["parser"] = reader.name
        run.metadata["parser_version"] = reader.version
    return runs


# The head a streamed read is chosen by: more than any reader's sniff (and a profile's header line) looks at.
_HEAD_BYTES = 1 << 20


def _streamers() -> dict[str, Callable]:
    """Reader name -> a read of the file itself (path or seekable file) in bounded memory, for the formats
    whose files reach 10^7 records: the bytes are then never held whole (cycling.parsers.batches)."""
    from . import bdf, neware

    return {bdf.READER.name: bdf.read_bdf, neware.CSV_READER.name: neware.read_csv_file}


def _read_streamed(source, display: str, progress, profiles: Sequence[Profile]) -> tuple[Export, Reader] | None:
    """The export of a file on disk (path, or a seekable binary file) that a streaming reader takes, judged
    by its head as read_runs would judge the whole file; None: read_runs reads the bytes."""
    is_path = isinstance(source, str | os.PathLike)
    if not is_path and not (hasattr(source, "seekable") and source.seekable()):
        return None
    try:
        if is_path:
            if os.path.getsize(source) > _MAX_FILE_BYTES:
                return None  # read_runs refuses it
            with open(source, "rb") as handle:
                head = handle.read(_HEAD_BYTES)
        else:
            at = source.tell()
            head = source.read(_HEAD_BYTES)
            source.seek(at)
    except (OSError, ValueError):
        return None
    if not isinstance(head, bytes) or not head or head.isspace():
        return None
    probe = Probe(data=head, name=display, progress=progress or (lambda fraction: None))
    if (probe.signature is not None and probe.signature.refusal) or _profile_reader(probe, profiles):
        return None
    reader = READERS.pick(probe)
    read = _streamers().get(reader.name) if reader is not None else None
    if read is None:
        return None
    with reading(display, subject=f"{reader.instrument} file", also=(Exception,)):
        return read(source, name=display, progress=probe.progress), reader


@dataclass(frozen=True)
class Profile:
    """A lab's format profile as the registry sees it: its name, version and key (provenance: the key, its
    database id, survives a rename), its mapping, and whether the upload named it (``forced``: read with it
    whatever the header says)."""

    name: str
    version: int
    mapping: Mapping
    forced: bool = False
    key: int | None = None


def _profile_reader(probe: Probe, profiles: Sequence[Profile]) -> Reader | None:
    if not profiles or probe.signature is not None:
        return None
    chosen = next((p for p in profiles if p.forced), None) or next(
        (p for p in profiles if matches(probe.data, p.mapping)), None)
    if chosen is None:
        return None
    return Reader(PROFILE_READER, chosen.name, lambda probe: True,
                  lambda probe: read_with_profile(probe.data, chosen.mapping, name=probe.name, profile=chosen.name,
                                                  profile_version=chosen.version, profile_id=chosen.key),
                  PROFILE_VERSION)


def _probe(source, display: str, progress: Callable[[float], None] | None) -> Probe:
    """The Probe of a file object (its bytes read once) or of a path: a regular file is read only as far as
    the sniffs and the chosen reader need (LAND's xlsx reader opens it itself and never holds its bytes)."""
    try:
        if isinstance(source, str | os.PathLike):
            if os.path.getsize(source) > _MAX_FILE_BYTES:
                raise ParseError("the file is larger than 4 GiB", file=display)
            if os.path.isfile(source):
                probe = Probe(path=os.fspath(source), name=display, progress=progress)
                probe.head  # noqa: B018 (an unreadable file is refused here, as when the bytes were read)
                return probe
            with open(source, "rb") as handle:
                return Probe(data=handle.read(), name=display, progress=progress)
        data = source.read()
    except OSError as exc:
        raise ParseError(f"the file cannot be read ({exc.strerror or exc})", file=display) from None
    if isinstance(data, str):
        raise ParseError("a text stream was given; open the file in binary mode", file=display)
    return Probe(data=bytes(data), name=display, progress=progress)
