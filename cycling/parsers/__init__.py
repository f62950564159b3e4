"""Instrument-file parsers (pure Python: no Django here, so notebooks and scripts can use them)."""

from readers.errors import ParseError

from .export import Export
from .land import PARSER_VERSION, RECORD_COLUMNS, read_land
from .registry import Profile, pick_run, read_export, read_runs, reader_version, same_channel
from .sniff import MAX_UNCOMPRESSED_BYTES

__all__ = ["MAX_UNCOMPRESSED_BYTES", "PARSER_VERSION", "RECORD_COLUMNS", "Profile", "Export", "ParseError", "read_export",
           "pick_run", "read_land", "read_runs", "reader_version", "same_channel"]
