"""`manage.py land_summary FILE [build facts]`: `summarize` for LAND exports only (the older name, kept)."""

from __future__ import annotations

from .summarize import JSON_CYCLE_FIELDS
from .summarize import Command as SummarizeCommand


class Command(SummarizeCommand):
    help = "LAND exports only: " + SummarizeCommand.help

    def read(self, path):
        from cycling.parsers import read_land

        return [read_land(path)]


__all__ = ["Command", "JSON_CYCLE_FIELDS"]
