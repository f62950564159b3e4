"""Instrument-file parsers (pure Python: no Django here, so notebooks and scripts can use them)."""

from .errors import ParseError
from .land import PARSER_VERSION, RECORD_COLUMNS, LandExport, read_land
from .sniff import MAX_UNCOMPRESSED_BYTES

__all__ = ["MAX_UNCOMPRESSED_BYTES", "PARSER_VERSION", "RECORD_COLUMNS", "LandExport", "ParseError", "read_land"]
