"""The cell timeline: how a cell's cycling files follow one another, and the cell cycle number of each file's cycles.

Pure (no Django). Files are ordered by the run's own clock (first SysTime; the upload time only for a file
without one). Each file relates to the one before it:
- *continues*: it starts at or after the previous file ended (a resumed test, another cycler): its cycles
  follow on, cell cycle = offset + file cycle, offset = the previous file's last cell cycle;
- *overlaps*: its time span overlaps the previous file's and neither extends the other (e.g. the same run
  exported twice with other settings): both are kept at the same numbering and both carry a conflict
  warning until a researcher decides (marks one as continuing or as a new run, or deletes one);
- *new run*: a deliberate restart a researcher marked; the numbering continues after the previous file,
  so the cell's cycles stay distinct (the restart is shown on the timeline);
- *first*: the first file of the cell (offset 0).
*Extends* (a growing export whose earlier records are a prefix of this one) is decided before this step:
the earlier file is superseded and leaves the timeline.
Upload order never changes the result: only the files' clocks, ids and the researcher's marks do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

FIRST, CONTINUES, OVERLAPS, NEW_RUN = "first", "continues", "overlaps", "new_run"
RELATIONS = (FIRST, CONTINUES, OVERLAPS, NEW_RUN)
OVERRIDES = ("", CONTINUES, NEW_RUN)  # what a researcher may mark; "" = decided from the clocks


@dataclass(frozen=True)
class FileSpan:
    """One cycling file on the timeline: id, its run's clock (None when it has no SysTime), the upload time,
    its last cycle number (the file's own numbering) and the researcher's mark."""

    id: int
    name: str
    start: datetime | None
    end: datetime | None
    uploaded: datetime
    last_file_cycle: int
    override: str = ""


@dataclass
class Placement:
    """Where a file sits: its relation to the previous file, the offset added to its cycle numbers, warnings."""

    id: int
    position: int
    relation: str
    cycle_offset: int
    previous_id: int | None
    first_cell_cycle: int
    last_cell_cycle: int
    warnings: list[str] = field(default_factory=list)


def _sort_key(span: FileSpan):
    # Files without a clock sort by upload time among the others' start times.
    return (span.start or span.uploaded, span.id)


def _at(moment: datetime, zone: tzinfo | None) -> str:
    """'2026-03-01 06:33 CET': a clock time in the lab's zone, named (UTC when no zone is given)."""
    if zone is None:
        return f"{moment.astimezone(UTC) if moment.tzinfo else moment:%Y-%m-%d %H:%M} UTC"
    local = moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=UTC).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def place(spans: list[FileSpan], zone: tzinfo | None = None) -> tuple[list[Placement], list[str]]:
    """Placements in timeline order, plus the cell's warnings (one per conflict). `zone`: the lab's time zone,
    in which the warnings give clock times (named), as the pages show them."""
    ordered = sorted(spans, key=_sort_key)
    out: list[Placement] = []
    cell_warnings: list[str] = []
    prev: FileSpan | None = None
    prev_place: Placement | None = None
    for i, span in enumerate(ordered):
        if span.override and span.override not in OVERRIDES:
            raise ValueError(f"file {span.name}: unknown timeline mark {span.override!r}")
        warnings: list[str] = []
        if prev is None:
            relation, offset = FIRST, 0
        else:
            follow = prev_place.last_cell_cycle
            if span.override == NEW_RUN:
                relation, offset = NEW_RUN, follow
            elif span.override == CONTINUES:
                relation, offset = CONTINUES, follow
            elif span.start is None or prev.end is None:
                relation, offset = CONTINUES, follow
                warnings.append(f"{span.name}: no cycler clock to compare with {prev.name}; placed after it by "
                                f"upload time and its cycles numbered on from cell cycle {follow + 1}.")
            elif span.start >= prev.end:
                relation, offset = CONTINUES, follow
            else:
                relation, offset = OVERLAPS, prev_place.cycle_offset
                message = (f"Conflict: {span.name} and {prev.name} cover overlapping times "
                           f"({_at(span.start, zone)} starts before {_at(prev.end, zone)}) and neither "
                           f"extends the other, so both are kept and their cycles {offset + 1}-"
                           f"{offset + span.last_file_cycle} are counted twice. Mark one as 'continues' or "
                           f"'new run' on the cell page, or delete the wrong one.")
                warnings.append(message)
                prev_place.warnings.append(message)
                cell_warnings.append(message)
        place_ = Placement(id=span.id, position=i + 1, relation=relation, cycle_offset=offset,
                           previous_id=prev.id if prev else None, first_cell_cycle=offset + 1,
                           last_cell_cycle=offset + span.last_file_cycle, warnings=warnings)
        if relation == OVERLAPS:
            # The next file follows whichever of the two ends later on the cell's numbering.
            place_.last_cell_cycle = max(place_.last_cell_cycle, prev_place.last_cell_cycle)
        out.append(place_)
        if prev is None or relation != OVERLAPS or (span.end and prev.end and span.end > prev.end):
            prev = span
        prev_place = place_
    return out, cell_warnings
