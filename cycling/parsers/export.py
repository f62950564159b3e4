"""The contract every cycler reader fulfils: one parsed export in the canonical record frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Export:
    """One cycler export read into the lab's canonical tables.

    ``records`` has exactly RECORD_COLUMNS (see cycling.parsers.land): current > 0 while charging, capacity
    and energy as unsigned running totals that restart when the current changes direction (LAND's own
    semantics), cycle numbers from 1. ``cycle_table`` is the instrument's own per-cycle summary in canonical
    columns (cycle, charge_mah, discharge_mah, ...) when the file carries one, else None. ``metadata`` names
    the instrument, software version, channel, start time and the units found in the file.
    """

    records: pd.DataFrame
    cycle_table: pd.DataFrame | None
    step_table: pd.DataFrame | None
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source_name: str = ""
    instrument: str = "LAND"
    reader: str = "assb-lab land"
    reader_version: str = ""
    # A file of several channels (an Arbin workbook with one sheet per channel): one Export per channel, this
    # one first; [] for the usual one-run file. read_export picks one (by channel), read_runs gives all.
    runs: list[Export] = field(default_factory=list)
