"""Instrument-file parsers (pure Python: no Django here, so notebooks and scripts can use them).

`from cycling.parsers import X` keeps working for every public name: the names resolve lazily to their
module on first use, so importing a light module of the package (`recordsheets`, `sniff`, `signatures`)
does not import pandas (see recordsheets: why a command loads a workbook's record sheets before it).
"""

from __future__ import annotations

from cycling.lazy import lazy_exports
from readers.errors import ParseError

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "Export": "export", "PARSER_VERSION": "land", "RECORD_COLUMNS": "land", "read_land": "land",
    "Profile": "registry", "pick_run": "registry", "read_export": "registry", "read_runs": "registry",
    "reader_version": "registry", "same_channel": "registry",
    "MAX_UNCOMPRESSED_BYTES": "sniff",
}

__all__ = ["MAX_UNCOMPRESSED_BYTES", "PARSER_VERSION", "RECORD_COLUMNS", "Profile", "Export", "ParseError", "read_export",
           "pick_run", "read_land", "read_runs", "reader_version", "same_channel"]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
