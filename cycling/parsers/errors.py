"""ParseError: the only exception the LAND parser lets out, with file, sheet, row and column in its message."""

from __future__ import annotations


class ParseError(ValueError):
    """A file that is not a readable LAND export. The message is meant for the person who uploaded it."""

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
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def located(self, *, file: str | None = None, sheet: str | None = None) -> ParseError:
        """The same error with the file (and sheet) filled in where the raiser did not know them."""
        return ParseError(self.reason, file=self.file or file, sheet=self.sheet or sheet,
                          row=self.row, column=self.column)
