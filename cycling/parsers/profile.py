"""Format profiles: a lab's own mapping of a text layout no reader knows (which column is time, current, voltage,
capacity, cycle, step; their units; separators; header line; encoding) applied to bytes -> the canonical records.

Pure: the mapping is a plain dict (as a profile stores it, exports it as JSON and imports it back); the Django
model that keeps it for an instrument or a cycler PC lives in cycling.models.FormatProfile.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from readers import decode_text
from readers.errors import ParseError

from .canonical import Counter, build_records, summarise, unit_factor
from .export import Export
from .tables import Table, read_delimited

# 1: the first mapping (columns by header name, units from a fixed list, capacity integrated when not mapped).
VERSION = "1"
READER_NAME = "assb-lab format profile"

ROLES = ("time", "current", "voltage", "capacity", "cycle", "step")
REQUIRED_ROLES = ("time", "current", "voltage")
# The units a profile may name per role: the canonical unit table (columns.UNITS) converts them.
UNIT_CHOICES: dict[str, tuple[str, ...]] = {
    "time": ("s", "min", "h"),
    "current": ("A", "mA", "µA"),
    "voltage": ("V", "mV"),
    "capacity": ("Ah", "mAh"),
}
_DIMENSION = {"time": "time", "current": "current", "voltage": "voltage", "capacity": "capacity"}
DELIMITERS = {";": "semicolon", ",": "comma", "\t": "tab", " ": "space"}
DECIMALS = {".": "point", ",": "comma"}
_MAX_HEADER_ROW = 200


@dataclass(frozen=True)
class Mapping:
    """One layout: ``header_row`` is the header's line number as a text editor counts it (1 = first line);
    ``columns`` maps a role to the header text of its column (capacity, cycle and step may be absent);
    ``units`` the unit of each mapped physical column; ``encoding`` 'auto' or a codec name."""

    columns: dict
    units: dict
    delimiter: str = ","
    decimal: str = "."
    header_row: int = 1
    encoding: str = "auto"
    charge_current: str = "positive"  # the sign of the current while charging, as the file writes it

    def to_dict(self) -> dict:
        return {"columns": {r: self.columns[r] for r in ROLES if self.columns.get(r)},
                "units": {r: self.units[r] for r in UNIT_CHOICES if self.columns.get(r) and self.units.get(r)},
                "delimiter": self.delimiter, "decimal": self.decimal, "header_row": self.header_row,
                "encoding": self.encoding, "charge_current": self.charge_current}


def mapping_from_dict(raw: object) -> Mapping:
    """A checked Mapping from a stored or imported dict; ParseError naming the first field that is wrong."""
    if not isinstance(raw, dict):
        raise ParseError("a format profile's mapping is an object of columns, units, delimiter, decimal, "
                         "header_row and encoding")
    columns = raw.get("columns") or {}
    units = raw.get("units") or {}
    if not isinstance(columns, dict) or not isinstance(units, dict):
        raise ParseError("'columns' and 'units' are objects keyed by role (time, current, voltage, ...)")
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        raise ParseError(f"unknown column role(s) {', '.join(unknown)} (roles: {', '.join(ROLES)})")
    for role in ROLES:
        if columns.get(role) is not None and not isinstance(columns[role], str):
            raise ParseError(f"the {role} column is named by its header text, not {columns[role]!r}", column=role)
    for key in ("delimiter", "decimal", "encoding", "charge_current"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ParseError(f"'{key}' is a text, not {raw[key]!r}")
    columns = {role: columns[role].strip() for role in ROLES if (columns.get(role) or "").strip()}
    for role in REQUIRED_ROLES:
        if role not in columns:
            raise ParseError(f"the {role} column is not mapped", column=role)
    picked = list(columns.values())
    doubled = sorted({c for c in picked if picked.count(c) > 1})
    if doubled:
        raise ParseError(f"column '{doubled[0]}' is mapped to two roles")
    clean_units = {}
    for role, choices in UNIT_CHOICES.items():
        if role not in columns:
            continue
        unit = str(units.get(role) or "").strip()
        unit = {"uA": "µA", "μA": "µA"}.get(unit, unit)  # ASCII u and Greek mu spell the micro sign too
        if unit not in choices:
            raise ParseError(f"the unit of the {role} column is {unit or 'not given'}; one of {', '.join(choices)}",
                             column=columns[role])
        clean_units[role] = unit
    delimiter = raw.get("delimiter", ",")
    delimiter = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "space": " "}.get(delimiter, delimiter)
    if delimiter not in DELIMITERS:
        raise ParseError(f"the delimiter {delimiter!r} is not one of ; , tab or space")
    decimal = raw.get("decimal", ".")
    decimal = {"point": ".", "comma": ","}.get(decimal, decimal)
    if decimal not in DECIMALS:
        raise ParseError(f"the decimal separator {decimal!r} is neither '.' nor ','")
    if decimal == delimiter:
        raise ParseError("the decimal separator and the delimiter are the same character")
    try:
        header_row = int(raw.get("header_row", 1))
    except (TypeError, ValueError):
        raise ParseError(f"the header row {raw.get('header_row')!r} is not a line number") from None
    if not 1 <= header_row <= _MAX_HEADER_ROW:
        raise ParseError(f"the header row is a line number from 1 to {_MAX_HEADER_ROW}, not {header_row}")
    encoding = str(raw.get("encoding") or "auto").strip()
    if encoding != "auto":
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise ParseError(f"unknown text encoding '{encoding}'") from None
    charge = raw.get("charge_current", "positive")
    if charge not in ("positive", "negative"):
        raise ParseError("charge_current is 'positive' or 'negative'")
    return Mapping(columns=columns, units=clean_units, delimiter=delimiter, decimal=decimal,
                   header_row=header_row, encoding=encoding, charge_current=charge)


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """(text, encoding): the one text decoder for 'auto', else the named codec (an error names the byte)."""
    if encoding == "auto":
        return decode_text(data, binary_message="it is binary data, not text: a format profile maps text only")
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        raise ParseError(f"the text cannot be decoded as {encoding} (byte {exc.start}: {exc.reason})") from None


def guess_layout(data: bytes) -> dict:
    """A first guess for the mapping form: delimiter, decimal separator, header row and encoding (the person
    mapping the file corrects it; nothing is saved from a guess alone)."""
    text, encoding = decode(data[:65536])
    lines = text.splitlines()[:60]
    best = max(DELIMITERS, key=lambda d: _steady_fields(lines, d))
    counts = [line.count(best) for line in lines]
    width = max(counts) if counts else 0
    header = next((i for i, n in enumerate(counts) if n == width and width > 0), 0)
    body = " ".join(lines[header + 1:header + 20])
    decimal = "," if best != "," and re.search(r"\d,\d", body) and not re.search(r"\d\.\d", body) else "."
    return {"delimiter": best, "decimal": decimal, "header_row": header + 1, "encoding": "auto",
            "detected_encoding": encoding}


def _steady_fields(lines: list[str], delimiter: str) -> int:
    """How many of the last lines split into the same (more than one) number of fields."""
    counts = [line.count(delimiter) for line in lines[-30:] if line.strip()]
    if not counts:
        return 0
    common = max(set(counts), key=counts.count)
    return counts.count(common) if common > 0 else 0


def head_lines(data: bytes, mapping_or_encoding: Mapping | str = "auto", n: int = 12) -> list[str]:
    """The file's first ``n`` lines as text (what the person mapping it sees first)."""
    encoding = mapping_or_encoding.encoding if isinstance(mapping_or_encoding, Mapping) else mapping_or_encoding
    text, _ = decode(data[:65536], encoding)
    return text.splitlines()[:n]


def header_of(data: bytes, *, delimiter: str, header_row: int, encoding: str = "auto") -> list[str]:
    """The column names on line ``header_row`` split by ``delimiter`` (what the column choices offer)."""
    lines = head_lines(data, encoding, n=header_row)
    if len(lines) < header_row:
        raise ParseError(f"the file has only {len(lines)} line(s); no header on line {header_row}", row=header_row)
    return [cell.strip().strip('"') for cell in lines[header_row - 1].split(delimiter)]


def matches(data: bytes, mapping: Mapping) -> bool:
    """Content sniff: the mapped header names are all on the mapped header line (a later file of the same
    layout, whatever its name)."""
    try:
        names = header_of(data, delimiter=mapping.delimiter, header_row=mapping.header_row,
                          encoding=mapping.encoding)
    except ParseError:
        return False
    return all(column in names for column in mapping.columns.values())


def _table(data: bytes, mapping: Mapping, *, nrows: int | None = None) -> tuple[Table, str]:
    if nrows is not None:  # a preview: only the head of the file is split
        cut = data[:1 << 20]
        data = cut[:cut.rfind(b"\n") + 1] if b"\n" in cut and len(cut) < len(data) else cut
    text, encoding = decode(data, mapping.encoding)
    names = header_of(data, delimiter=mapping.delimiter, header_row=mapping.header_row, encoding=mapping.encoding)
    missing = [c for c in mapping.columns.values() if c not in names]
    if missing:
        raise ParseError(f"no column '{missing[0]}' on the header line (it holds: {', '.join(names[:30])})",
                         row=mapping.header_row)
    if nrows is not None:
        text = "\n".join(text.splitlines()[:mapping.header_row + nrows])
    table = read_delimited(text, header_line=mapping.header_row - 1, sep=mapping.delimiter,
                           decimal=mapping.decimal, sheet="text")
    # pandas strips nothing: the header as written (quotes and blanks around names off) is what is mapped
    table = Table(frame=table.frame.rename(columns=lambda c: str(c).strip().strip('"')), rows=table.rows,
                  sheet=table.sheet)
    return table, encoding


def _column(table: Table, mapping: Mapping, role: str) -> np.ndarray | None:
    name = mapping.columns.get(role)
    if not name:
        return None
    values = _numbers(table, name, mapping.decimal)
    if role in UNIT_CHOICES:
        unit = mapping.units[role].replace("µ", "u")
        values = values * unit_factor(unit, _DIMENSION[role], column=name)
    return values


def _numbers(table: Table, name: str, decimal: str = ".") -> np.ndarray:
    values = table.frame[name]
    if values.dtype.kind in "fiub":
        return values.to_numpy(dtype=np.float64)
    # One bad cell leaves the whole column as text: the good cells still read with the file's decimal mark.
    text = values.astype("str").str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers) & values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParseError(f"'{str(values.iat[i])[:40]}' is not a number", sheet=None, row=int(table.rows[i]),
                         column=name)
    return numbers


def records_of(data: bytes, mapping: Mapping, *, nrows: int | None = None) -> tuple[pd.DataFrame, dict]:
    """(canonical records, metadata) of ``data`` read with ``mapping``; ParseError naming row and column."""
    table, encoding = _table(data, mapping, nrows=nrows)
    for role in REQUIRED_ROLES:
        gaps = np.isnan(_numbers(table, mapping.columns[role], mapping.decimal))
        if gaps.any():
            i = int(np.flatnonzero(gaps)[0])
            raise ParseError(f"the {role} cell is empty", row=int(table.rows[i]), column=mapping.columns[role])
    time_s = _column(table, mapping, "time")
    current_ma = _column(table, mapping, "current")
    if mapping.charge_current == "negative":
        current_ma = -current_ma
    voltage_v = _column(table, mapping, "voltage")
    cycle = _column(table, mapping, "cycle")
    step = _column(table, mapping, "step")
    capacity = _column(table, mapping, "capacity")
    meta = {"format": "format-profile", "encoding": encoding,
            "units": {mapping.columns[r]: mapping.units[r] for r in mapping.units}}
    if capacity is None:
        # Charge that flowed between each record and the one before, at the record's own current (a cycler
        # logs the state over the interval that ends at the record).
        dt_s = np.diff(time_s, prepend=time_s[0])
        if len(time_s) > 1 and time_s[0] > 0:
            # the first record closes the interval since the test's start (its clock's 0), at most one of the
            # file's sampling intervals: a file that starts late (a continued run) adds no phantom charge
            dt_s[0] = min(time_s[0], time_s[1] - time_s[0])
        counter = Counter(np.cumsum(current_ma * np.clip(dt_s, 0.0, None) / 3600.0), signed=True)
        meta["capacity_source"] = "integrated from the current"
    else:
        counter = Counter(capacity, step)
        meta["capacity_source"] = "the file's capacity column"
    records = build_records(sheet=None, rows=table.rows, test_time_s=time_s, current_ma=current_ma,
                            voltage_v=voltage_v, capacity=[counter], cycle=cycle, step=step, metadata=meta)
    return records, meta


def read_with_profile(data: bytes, mapping: Mapping, *, name: str = "upload", profile: str = "",
                      profile_version: int | None = None, profile_id: int | None = None) -> Export:
    """An Export of ``data`` read with ``mapping`` (the file's provenance names the profile, its key and the
    version applied)."""
    try:
        records, meta = records_of(data, mapping)
    except ParseError as exc:
        raise exc.located(file=name) from None
    meta.update(profile=profile, profile_id=profile_id, profile_version=profile_version, parser_version=VERSION)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, source_name=name,
                  instrument=profile or "format profile", reader=READER_NAME, reader_version=VERSION)


def preview_rows(data: bytes, mapping: Mapping, n: int = 10) -> pd.DataFrame:
    """The first ``n`` records as the mapping reads them (canonical columns and units)."""
    records, _ = records_of(data, mapping, nrows=max(n, 2))
    return records.head(n)[["test_time_s", "current_ma", "voltage_v", "capacity_mah", "cycle", "step",
                            "step_kind"]]


def mapping_from_json(text: str | bytes) -> tuple[dict, Mapping]:
    """(the exported document, its checked mapping) from a profile exported as JSON."""
    import json

    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"the profile is not JSON ({exc})") from None
    if not isinstance(doc, dict) or "mapping" not in doc:
        raise ParseError("a profile export is an object with 'name' and 'mapping'")
    return doc, mapping_from_dict(doc["mapping"])


__all__ = ["DECIMALS", "DELIMITERS", "Mapping", "READER_NAME", "ROLES", "UNIT_CHOICES", "VERSION", "guess_layout",
           "head_lines", "header_of", "mapping_from_dict", "mapping_from_json", "matches", "preview_rows",
           "read_with_profile", "records_of"]
