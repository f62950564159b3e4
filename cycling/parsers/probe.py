"""What a cycling reader's content sniff sees of a file (Probe); a reader is the framework's Reader."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from readers import Reader, decode_text
from readers.errors import ParseError

from .signatures import Signature, identify, text_kind, zip_kind, zip_members

_TEXT_PROBE_BYTES = 64 * 1024


@dataclass
class Probe:
    """What a reader's sniff may look at: the bytes, their signature, the first text lines, sheet names."""

    data: bytes
    name: str
    progress: Callable[[float], None] = field(default=lambda fraction: None)

    @cached_property
    def signature(self) -> Signature | None:
        return identify(self.data[:64])

    @property
    def fmt(self) -> str:
        return self.signature.fmt if self.signature else "text"

    @cached_property
    def zip_names(self) -> list[str]:
        if self.fmt != "zip":
            return []
        import zipfile

        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            return zip_members(self.data[:65536])

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

            return list(python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.data)).sheet_names)
        except BaseException as exc:  # calamine raises its own errors, pyo3 panics on broken input
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return []

    @cached_property
    def text(self) -> str:
        """The first 64 KiB as text ('' for binary formats), decoded by the one text decoder."""
        if self.signature is not None:
            return ""
        head = self.data[:_TEXT_PROBE_BYTES]
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
