"""The one reader framework of instrument files (cycling and impedance): the Reader protocol, a registry that
picks a reader by content, the one ParseError and the one text decoder. Pure Python: no Django here."""

from .errors import ParseError, display_name, reading
from .framework import Reader, Registry
from .text import decode_text

__all__ = ["ParseError", "Reader", "Registry", "decode_text", "display_name", "reading"]
