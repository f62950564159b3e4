"""Numeric query parameters, checked in one place: a bad one is a 400 naming it and its accepted range.

API views let the exception through (DRF answers 400 with {name: [message]}); pages get the same message as a
plain-text 400 from assb_lab.middleware.BadQueryParameterMiddleware.
"""
from __future__ import annotations

import math

from rest_framework.exceptions import ValidationError


class BadQueryParameter(ValidationError):
    """A query parameter that is not a number, or is outside its range: 400 {name: [message]}."""

    def __init__(self, name: str, message: str):
        self.name, self.message = name, message
        super().__init__({name: [message]})


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def accepted_range(kind: type, min_value=None, max_value=None) -> str:
    """'a whole number from 50 to 5000', 'a number of at least 0.5' ...: the words used in every message."""
    what = "a whole number" if kind is int else "a number"
    if min_value is not None and max_value is not None:
        return f"{what} from {_fmt(min_value)} to {_fmt(max_value)}"
    if min_value is not None:
        return f"{what} of at least {_fmt(min_value)}"
    if max_value is not None:
        return f"{what} of at most {_fmt(max_value)}"
    return what


def query_number(params, name: str, *, kind: type = int, default=None, min_value=None, max_value=None):
    """The parameter `name` of a querystring (a QueryDict or dict) as `kind` (int or float), within
    [min_value, max_value]; `default` when it is absent or empty. Raises BadQueryParameter otherwise:
    no silent clamping, no guessing (2.5 is not a whole number, nan and inf are not numbers)."""
    raw = params.get(name)
    raw = "" if raw is None else str(raw).strip()
    if raw == "":
        return default
    try:
        value = int(raw) if kind is int else float(raw)
        ok = math.isfinite(value)
    except ValueError:
        ok = False
    if ok:
        ok = (min_value is None or value >= min_value) and (max_value is None or value <= max_value)
    if not ok:
        raise BadQueryParameter(name, f"{name} must be {accepted_range(kind, min_value, max_value)}, not {raw!r}")
    return value
