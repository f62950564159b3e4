"""The one reader framework of instrument files (cycling and impedance): the Reader protocol, a registry that
picks a reader by content, the one ParseError and the one text decoder. Pure Python: no Django here."""

from .errors import (
           UNKNOWN_LAYOUT_HINT,
           ParseError,
           UnknownLayout,
           display_name,
           naming_file,
           reading,
           without_file,
)
from .framework import Reader, Registry
from .text import decode_text

__all__ = ["UNKNOWN_LAYOUT_HINT", "ParseError", "Reader", "Registry", "UnknownLayout", "decode_text", "display_name",
           "naming_file", "reading", "without_file"]
