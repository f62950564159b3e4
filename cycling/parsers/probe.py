"""What a cycling reader's content sniff sees of a file (Probe); a reader is the framework's Reader."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cached_property

from readers import Reader, decode_text
from readers.errors import ParseError

from .signatures import Signature, identify, text_kind, zip_kind, zip_members

_TEXT_PROBE_BYTES = 64 * 1024


class Probe:
    """What a reader's sniff may look at: the bytes, their signature, the first text lines, sheet names.

    Made from the bytes, or from the ``path`` of a regular file: then the sniffs read only its head (and a
    workbook's sheet names), and ``data`` reads the whole file the first time a reader asks for it, so that a
    reader opening the file itself (LAND's xlsx reader: fastexcel from the path) never holds its bytes.
    """

    def __init__(self, data: bytes | None = None, name: str = "",
                 progress: Callable[[float], None] | None = None, *, path: str | None = None):
        if (data is None) == (path is None):
            raise TypeError("Probe takes either the bytes or the path of a file")
        self.name = name
        self.progress = progress or (lambda fraction: None)
        self.path = path
        if data is not None:
            self.__dict__["data"] = data  # what the cached property would hold

    @cached_property
    def data(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()

    @property
    def holds_bytes(self) -> bool:
        """True once the whole file is in memory (given, or read for a reader that asked for it)."""
        return "data" in self.__dict__

    @cached_property
    def head(self) -> bytes:
        """The first 64 KiB (the whole of a smaller file): all a sniff needs."""
        if self.holds_bytes:
            return self.data[:_TEXT_PROBE_BYTES]
        with open(self.path, "rb") as handle:
            return handle.read(_TEXT_PROBE_BYTES)

    def blank(self) -> bool:
        """Empty or only whitespace; past the head only when the head is all whitespace."""
        head = self.head
        if head and not head.isspace():
            return False
        return not head or len(head) < _TEXT_PROBE_BYTES or self.data.isspace()

    @cached_property
    def signature(self) -> Signature | None:
        return identify(self.head[:64])

    @property
    def fmt(self) -> str:
        return self.signature.fmt if self.signature else "text"

    @cached_property
    def zip_names(self) -> list[str]:
        if self.fmt != "zip":
            return []
        import zipfile

        try:  # from the path, zipfile reads only the central directory
            with zipfile.ZipFile(io.BytesIO(self.data) if self.holds_bytes else self.path) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            return zip_members(self.head[:65536])

    @cached_property
    def zip_kind(self) -> str | None:
        return zip_kind(self.zip_names) if self.fmt == "zip" else None

    @cached_property
    def sheet_names(self) -> list[str]:
        """Sheet names of a workbook ([] for anything else or a workbook calamine cannot open)."""
        if self.fmt not in ("zip", "ole2") or self.zip_kind == "ndax":
            return []
        try:
            import python_calamine

            return list(self._workbook(python_calamine).sheet_names)
        except BaseException as exc:  # calamine raises its own errors, pyo3 panics on broken input
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return []

    def _workbook(self, python_calamine):
        if self.holds_bytes:
            return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.data))
        # from_path picks the format by the extension: only where it agrees with the content. It reads only
        # the workbook's index; from_filelike copies the whole file into calamine first.
        if self.path.lower().endswith((".xlsx", ".xlsm") if self.fmt == "zip" else (".xls",)):
            return python_calamine.CalamineWorkbook.from_path(self.path)
        with open(self.path, "rb") as handle:
            return python_calamine.CalamineWorkbook.from_filelike(handle)

    @cached_property
    def text(self) -> str:
        """The first 64 KiB as text ('' for binary formats), decoded by the one text decoder."""
        if self.signature is not None:
            return ""
        head = self.head
        try:
            return decode_text(head)[0]
        except ParseError:
            try:  # a cut in the middle of a multibyte character
                return decode_text(head[:-3])[0]
            except ParseError:
                return ""

    @cached_property
    def text_kind(self) -> tuple[str, str] | None:
        return text_kind(self.text[:8192]) if self.text else None


__all__ = ["Probe", "Reader"]
