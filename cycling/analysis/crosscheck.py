"""LAND's own numbers: compare capacities from the records with the cycler's Cycle-Tab."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cross_check(cycles: pd.DataFrame, land_cycle_table: pd.DataFrame | None, *,
                tolerance_percent: float = 0.5) -> list[str]:
    """Warnings where charge/discharge capacity from the records differs from LAND's Cycle-Tab by more
    than tolerance_percent (relative to LAND's value)."""
    if land_cycle_table is None or len(land_cycle_table) == 0:
        return []
    land = land_cycle_table[["cycle", "charge_mah", "discharge_mah"]].copy()
    land["cycle"] = land["cycle"].astype(np.int64)
    merged = cycles[["cycle", "charge_mah", "discharge_mah"]].merge(land, on="cycle", how="inner",
                                                                    suffixes=("", "_land"))
    warnings: list[str] = []
    for name in ("charge", "discharge"):
        ours = merged[f"{name}_mah"].to_numpy(dtype=float)
        theirs = merged[f"{name}_mah_land"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.abs(ours - theirs) / np.abs(theirs) * 100.0
        diff = np.where((theirs == 0) & (ours == 0), 0.0, diff)
        # A half with no records is 'nothing flowed' on our side: it agrees with a 0 in the instrument's table.
        missing = np.isfinite(theirs) & (theirs != 0) & ~np.isfinite(ours)
        diff = np.where(~np.isfinite(ours) & (theirs == 0), 0.0, diff)
        bad = np.flatnonzero(missing | (np.isfinite(diff) & (diff > tolerance_percent))
                             | (np.isinf(diff)))
        for i in bad:
            warnings.append(
                f"cycle {int(merged['cycle'].iloc[i])}: {name} capacity {ours[i]:.5g} mAh from the records vs "
                f"{theirs[i]:.5g} mAh in LAND's Cycle-Tab ({diff[i]:.2f} % apart, tolerance {tolerance_percent} %)"
            )
    only_land = sorted(set(land["cycle"]) - set(cycles["cycle"]))
    if only_land:
        warnings.append(f"LAND's Cycle-Tab lists cycle(s) absent from the records: {only_land[:10]}")
    return warnings
