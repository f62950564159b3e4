"""JSON-safe copies of values (numpy to Python, NaN/inf to None): pure, so a script's output and the stored
JSON follow one rule without loading Django."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, NaN/inf to None, anything else odd to text.

    JSON has no NaN; PostgreSQL's jsonb refuses it, so a missing number is stored as null everywhere.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)
