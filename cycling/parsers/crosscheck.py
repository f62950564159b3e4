"""Compare per-cycle capacities from the records with the instrument's own cycle summary (any format)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TOLERANCE = 0.01  # 1 %: instruments round their summaries; more than that is a real disagreement
FLOOR_MAH = 1e-6  # below this both sides are "nothing flowed"


def cycle_capacities(records: pd.DataFrame) -> pd.DataFrame:
    """Per cycle: the largest running charge and discharge capacity (mAh) over its records."""
    moving = records[records["step_kind"].isin(["charge", "discharge"])]
    table = moving.pivot_table(index="cycle", columns="step_kind", values="capacity_mah", aggfunc="max")
    return pd.DataFrame({"charge_mah": table.get("charge"), "discharge_mah": table.get("discharge")},
                        index=table.index).fillna(0.0)


def compare_with_instrument(records: pd.DataFrame, cycle_table: pd.DataFrame | None) -> pd.DataFrame:
    """One row per cycle both sides have: ours, theirs and the relative difference, charge and discharge."""
    if cycle_table is None or "cycle" not in cycle_table or cycle_table.empty:
        return pd.DataFrame()
    ours = cycle_capacities(records)
    theirs = cycle_table.drop_duplicates("cycle").set_index("cycle")
    out = {}
    for column in ("charge_mah", "discharge_mah"):
        if column not in theirs or column not in ours:
            continue
        both = pd.concat([ours[column].rename("ours"), theirs[column].rename("theirs")], axis=1, join="inner")
        out[f"{column}_ours"] = both["ours"]
        out[f"{column}_instrument"] = both["theirs"]
        scale = np.maximum(both["theirs"].abs(), FLOOR_MAH)
        out[f"{column}_rel_diff"] = (both["ours"] - both["theirs"]).abs() / scale
    frame = pd.DataFrame(out)
    frame.index.name = "cycle"
    return frame


def cross_check(records: pd.DataFrame, cycle_table: pd.DataFrame | None, *, instrument: str,
                tolerance: float = TOLERANCE) -> list[str]:
    """Warnings, one per direction, naming the cycles where our capacity differs from the instrument's
    summary by more than ``tolerance`` (relative); [] when they agree or the file has no summary."""
    table = compare_with_instrument(records, cycle_table)
    warnings = []
    for kind in ("charge", "discharge"):
        column = f"{kind}_mah_rel_diff"
        if column not in table:
            continue
        both_tiny = (table[f"{kind}_mah_ours"].abs() < FLOOR_MAH) & (table[f"{kind}_mah_instrument"].abs() < FLOOR_MAH)
        bad = table.index[(table[column] > tolerance) & ~both_tiny]
        if len(bad):
            worst = table.loc[bad, column].max() * 100
            cycles = ", ".join(str(int(c)) for c in bad[:10]) + (" ..." if len(bad) > 10 else "")
            warnings.append(f"{kind} capacity from the records differs from the {instrument} cycle summary by more "
                            f"than {tolerance * 100:g} % (up to {worst:.1f} %) in cycle(s) {cycles}")
    return warnings
