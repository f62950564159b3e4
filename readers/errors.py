"""ParseError: the only exception any reader lets out, naming file, sheet (or text section), row and column."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class ParseError(ValueError):
    """A file no reader can read as it stands. The message is meant for the person who uploaded it: it names the
    file, the sheet or text section, the row (as a spreadsheet or text editor numbers it) and the column."""

    def __init__(self, reason: str, *, file: str | None = None, sheet: str | None = None,
                 row: int | None = None, column: str | None = None):
        self.reason = reason
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file '{self.file}'")
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}" if "'" in str(self.sheet) else f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            # quoted as Python does: a column named Z'' reads column "Z''"
            where.append(f"column {self.column!r}" if "'" in str(self.column) else f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def located(self, *, file: str | None = None, sheet: str | None = None) -> ParseError:
        """The same error with the file (and sheet) filled in where the raiser did not know them."""
        return type(self)(self.reason, file=self.file or file, sheet=self.sheet or sheet,
                          row=self.row, column=self.column)


# Said by every refusal of a text file whose layout no reader recognises; the pages link it to the profile form.
UNKNOWN_LAYOUT_HINT = "a lab admin can map this layout once as a format profile"


class UnknownLayout(ParseError):
    """A text file no reader recognises: not broken, just a layout this system was never taught. A format
    profile (a lab's own column mapping) reads it without a developer."""

    def __init__(self, reason: str, **where):
        if UNKNOWN_LAYOUT_HINT not in reason:
            reason = f"{reason}. If it is a cycler's export, {UNKNOWN_LAYOUT_HINT}"
        super().__init__(reason, **where)


# What a reader's bug on odd input looks like; never shown to the uploader as a bare traceback.
_UNEXPECTED = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, UnicodeError)


@contextlib.contextmanager
def reading(display: str, *, subject: str = "file", what: str = "",
            also: tuple[type[BaseException], ...] = ()):
    """Every failure inside becomes a ParseError naming the file `display` (a reader's last line of defence).

    `what` says what the content was read as (" as a BDF table"); `also` adds exception types to turn into
    ParseError (e.g. OSError from a library that reads the bytes itself)."""
    try:
        yield
    except ParseError as exc:
        raise exc.located(file=display) from None
    except MemoryError:
        raise ParseError("the file is too large to read in memory", file=display) from None
    except (*_UNEXPECTED, *also) as exc:
        raise ParseError(f"the {subject}'s content could not be understood{what} ({type(exc).__name__}: {exc})",
                         file=display) from None


def display_name(source) -> str:
    """The file name an error shows for a path or a file object (never a directory the caller passed)."""
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return Path(getattr(source, "name", "") or "upload").name


def naming_file(message: str, name: str) -> str:
    """`message` naming the file `name` exactly once: as it is when it names the file already (a ParseError
    does), else with the file in front as ParseError writes it ("file 'X.xlsx': ...")."""
    return message if name and name in message else f"file '{name}': {message}"


def without_file(message: str, name: str) -> str:
    """`message` without its leading "file 'X.xlsx'" where the page shows the file's name beside it already
    ("file 'X.xlsx', sheet 'Record': ..." -> "sheet 'Record': ...")."""
    for head in (f"file '{name}': ", f"file '{name}', "):
        if message.startswith(head):
            return message[len(head):]
    return message
