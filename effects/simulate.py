"""Seeded campaigns of cells for tests and demos of the effects statistics: pure, no Django.

Each returns the table report.effect_report reads: one row per cell with `cell`, `value`, `why`, `protocol` and
build-fact columns.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def pressure_campaign(*, pressures_mpa=(10.0, 25.0, 50.0, 100.0), per_pressure: int = 3, exponent: float = -0.5,
                      r_int_at_10_mpa_ohm: float = 1400.0, noise_relative: float = 0.08,
                      seed: int = 0) -> pd.DataFrame:
    """R_int after formation of cells built at several stack pressures: R = R10 (P / 10 MPa)^exponent times a
    log-normal scatter of `noise_relative` (replicate spread of a real campaign)."""
    rng = np.random.default_rng(seed)
    p = np.repeat(np.asarray(pressures_mpa, dtype=float), per_pressure)
    r = r_int_at_10_mpa_ohm * (p / 10.0) ** exponent * np.exp(rng.normal(0.0, noise_relative, p.size))
    return pd.DataFrame({
        "cell": [f"SP-{i + 1:02d}" for i in range(p.size)], "value": r, "why": "",
        "protocol": "EIS after cycle 2, 25 °C", "stack_pressure_mpa": p, "coating": "none",
        "electrolyte_batch": "A",
    }, index=pd.RangeIndex(1, p.size + 1))


def confounded_campaign(*, per_level: int = 3, seed: int = 1) -> pd.DataFrame:
    """Coated cells all built with electrolyte batch B, bare ones with batch A (ICE, %): coating and batch vary
    together, so their effects cannot be told apart."""
    rng = np.random.default_rng(seed)
    coated = 86.0 + rng.normal(0, 0.6, per_level)
    bare = 54.5 + rng.normal(0, 0.6, per_level)
    n = 2 * per_level
    return pd.DataFrame({
        "cell": [f"CF-{i + 1:02d}" for i in range(n)], "value": np.concatenate([coated, bare]), "why": "",
        "protocol": "cycle 1 at 0.1C; 2.5–4.4 V, 25 °C", "coating": ["LNTO"] * per_level + ["none"] * per_level,
        "electrolyte_batch": ["B"] * per_level + ["A"] * per_level, "stack_pressure_mpa": 50.0,
    }, index=pd.RangeIndex(1, n + 1))
