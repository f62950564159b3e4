"""The Reader protocol and the registry that picks a reader by a file's content (never its name)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

P = TypeVar("P")  # what a reader's sniff sees of a file (cycling's Probe, impedance's decoded lines)
R = TypeVar("R")  # what a reader returns (cycling's Export, impedance's EisSpectrum)


@dataclass(frozen=True)
class Reader(Generic[P, R]):
    """One reader: its name and version (as provenance shows them, and as the record cache is keyed), the
    instrument it reads, a cheap content sniff and the read itself. A reader lets out ParseError only."""

    name: str
    instrument: str
    sniff: Callable[[P], bool]
    read: Callable[[P], R]
    version: str = "1"


class Registry(Generic[P, R]):
    """Readers in the order they are asked; the first whose sniff says yes reads the file. A catch-all reader
    (one whose refusals say best what is wrong with a near-miss) is registered last."""

    def __init__(self, load: Callable[[Registry], Any] | None = None):
        self._readers: list[Reader[P, R]] = []
        self._load = load
        self._loaded = load is None

    def register(self, reader: Reader[P, R], *, before: str | None = None) -> Reader[P, R]:
        """Add a reader (ahead of the one named ``before``); a second reader of the same name is ignored."""
        if any(r.name == reader.name for r in self._readers):
            return reader
        at = next((i for i, r in enumerate(self._readers) if r.name == before), len(self._readers))
        self._readers.insert(at, reader)
        return reader

    def __iter__(self) -> Iterator[Reader[P, R]]:
        if not self._loaded:
            self._loaded = True
            self._load(self)
        return iter(list(self._readers))

    def pick(self, probe: P) -> Reader[P, R] | None:
        """The first reader whose sniff recognises ``probe``, or None."""
        return next((reader for reader in self if reader.sniff(probe)), None)

    def get(self, name: str) -> Reader[P, R] | None:
        return next((reader for reader in self if reader.name == name), None)

    def version_of(self, name: str | None) -> str | None:
        """The current version of the reader called ``name`` (None for a reader no longer registered)."""
        reader = self.get(name) if name else None
        return reader.version if reader else None
