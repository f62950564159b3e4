"""Small shared helpers: JSON-safe copies of values and frames, file digests, id lists from a querystring."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


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


def jsonable_columns(frame: pd.DataFrame) -> dict[str, list]:
    """A frame as {column: [values]} with JSON-safe values (missing -> None)."""
    return {str(col): [jsonable(v) for v in frame[col].to_numpy(dtype=object)] for col in frame.columns}


def jsonable_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as a list of row dicts with JSON-safe values (missing -> None)."""
    return jsonable(frame.astype(object).where(pd.notna(frame), None).to_dict("records"))


def file_sha256(fileobj) -> str:
    """SHA-256 hex digest of an open binary file from its start; leaves it rewound for the next reader."""
    fileobj.seek(0)
    digest = hashlib.file_digest(fileobj, "sha256").hexdigest()
    fileobj.seek(0)
    return digest


def path_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of the file at `path`."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def parse_ids(value: str | None) -> tuple[int, ...]:
    """'1, 2,x,2' -> (1, 2): ids in order, duplicates and non-numbers dropped."""
    out: list[int] = []
    for token in (value or "").split(","):
        token = token.strip()
        if token.isdigit() and int(token) not in out:
            out.append(int(token))
    return tuple(out)
