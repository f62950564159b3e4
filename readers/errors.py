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
        return ParseError(self.reason, file=self.file or file, sheet=self.sheet or sheet,
                          row=self.row, column=self.column)


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
