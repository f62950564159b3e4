"""Study data for page and API tests: the demo registry's six cells with LAND exports ingested in process."""
from functools import lru_cache

from cells.demo import BARE, COATED, load_study_registry
from tests.helpers import ingest  # noqa: F401  (page tests import it from here too)
from tests.landfiles import study_export


@lru_cache(maxsize=32)
def export_bytes(group: str, replicate: int, n_cycles: int) -> bytes:
    return study_export(group, n_cycles=n_cycles, replicate=replicate)[0]


def load_study(*, n_cycles: int = 12, with_data: bool = True) -> dict:
    """Registry of the study (3 LNTO-coated + 3 bare cells); each cell's export imported when with_data."""
    cells = load_study_registry()
    if with_data:
        for cell in cells:
            group = "coated" if cell.group.name == COATED else "bare"
            ingest(cell, export_bytes(group, cell.replicate_number, n_cycles), f"{cell.name}.xlsx")
    groups = {c.group.name: c.group for c in cells}
    return {"cells": cells, "coated": groups[COATED], "bare": groups[BARE]}
