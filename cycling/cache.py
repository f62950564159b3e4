"""The dashboard API's answers (and the compare page's per-cell parts) cached, keyed by what they come from.

A key holds the endpoint, its parameters and the *stamp* of every cell in the answer: its id,
`Cell.data_version` (bumped in the transaction of every swap-in, delete, timeline mark, failed ingest and EIS
fit: cells.services.cell_data_changed) and `Cell.updated_at` (the build sheet: masses, name, group). A new
import therefore changes the key and the answer is recomputed; an old entry is never read again and ages out.
Who may see a cell is checked on every request before the key is made, so entries are shared between users.
A cache that fails (Redis away) only costs the recomputation: the API keeps answering.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

from django.core.cache import caches
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

log = logging.getLogger(__name__)

# Bump when an endpoint's output changes: entries written by older code are then never read.
FORMAT = 1
TIMEOUT_S = 3600
_renderer = JSONRenderer()


STAMP_FIELDS = ("pk", "data_version", "updated_at")


def stamp(pk: int, data_version: int, updated_at) -> str:
    """A cell's id, data version and build-sheet time (STAMP_FIELDS) as one key part."""
    return f"{pk}.{data_version}.{updated_at.timestamp():.6f}"


def cell_stamp(cell) -> str:
    return stamp(cell.pk, cell.data_version, cell.updated_at)


def key_for(endpoint: str, parts: Iterable) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=20).hexdigest()
    return f"dash:{FORMAT}:{endpoint}:{digest}"


def read_guarded(keys: list[str], *, what: str = "dashboard") -> dict:
    """{key: value} of the entries of the shared "dashboard" cache found (one round trip); {} when the cache does
    not answer (logged, naming `what`). Every face that caches there (this module, impedance's DRTs) reads
    through it, so a cache outage never fails a request."""
    try:
        return caches["dashboard"].get_many(keys)
    except Exception as exc:  # noqa: BLE001 (a cache outage must not fail the request)
        log.warning("%s cache unreadable (%s)", what, exc)
        return {}


def write_guarded(values: dict, *, timeout_s: int = TIMEOUT_S, what: str = "dashboard") -> None:
    """Store {key: value} in the shared "dashboard" cache for `timeout_s`; a cache that does not answer is
    skipped (logged, naming `what`)."""
    try:
        caches["dashboard"].set_many(values, timeout_s)
    except Exception as exc:  # noqa: BLE001
        log.warning("%s cache unwritable (%s)", what, exc)


def get_many(names: list[tuple[str, Iterable]]) -> dict:
    """{(kind, parts): value} of the entries found (one round trip); {} when the cache does not answer."""
    keys = {key_for(kind, parts): (kind, parts) for kind, parts in names}
    return {keys[k]: v for k, v in read_guarded(list(keys)).items()}


def set_many(values: dict) -> None:
    """Store {(kind, parts): value}; a cache that does not answer is skipped."""
    write_guarded({key_for(kind, parts): v for (kind, parts), v in values.items()})


def json_response(endpoint: str, parts: Iterable, compute: Callable[[], object]) -> HttpResponse:
    """The cached JSON body for (endpoint, parts), else compute() rendered as DRF renders it, stored."""
    key = key_for(endpoint, parts)
    body = read_guarded([key]).get(key)
    hit = body is not None
    if not hit:
        body = _renderer.render(compute())
        write_guarded({key: body})
    response = HttpResponse(body, content_type="application/json")
    response["X-Cache"] = "hit" if hit else "miss"  # for load tests and operators; says nothing about data
    return response
