"""Per-format locators: find the column header, the data rows and the metadata of each EIS text export."""

from __future__ import annotations

import re

from readers.errors import ParseError

from ._core import Table, is_number, normalise_header, split_header


def _float(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except (ValueError, AttributeError):
        return None


_SI_PREFIX = {"": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "µ": 1e-6, "u": 1e-6}


# --- BioLogic EC-Lab .mpt ---------------------------------------------------------------------------------
def biologic(lines: list[str], name: str) -> Table:
    m = re.match(r"\s*Nb header lines\s*:\s*(\d+)", lines[1]) if len(lines) > 1 else None
    if not m:
        raise ParseError("expected 'Nb header lines : N' after 'EC-Lab ASCII FILE'", file=name, row=2)
    n_header = int(m.group(1))
    if n_header < 3 or n_header > len(lines):
        raise ParseError(f"header length {n_header} does not fit a file of {len(lines)} lines", file=name, row=2)
    header_index = n_header - 1
    meta: dict = {"format": "biologic-mpt", "header_lines": n_header}
    if len(lines) > 3 and lines[3].strip():
        meta["technique"] = lines[3].strip()
    block: dict[str, str] = {}
    for line in lines[2:header_index]:
        kv = re.match(r"\s*([^:]+?)\s+:\s*(.*?)\s*$", line)
        if kv:
            key, value = kv.groups()
            if key == "Acquisition started on":
                meta["start_time"] = value
            elif key == "Device":
                meta["instrument"] = "BioLogic " + value
            elif key == "Electrode surface area":
                area = re.match(r"([\d.,eE+-]+)\s*cm", value)
                if area and _float(area.group(1)):
                    meta["area_cm2"] = _float(area.group(1))
            elif key.startswith("EC-Lab for windows") or key.startswith("EC-Lab"):
                meta["software"] = key
            continue
        tech = re.match(r"(\S.*?)\s{2,}(\S.*?)\s*$", line)
        if tech:
            block.setdefault(tech.group(1), tech.group(2))
        soft = re.match(r"(EC-Lab .*?)\s*\(software\)", line)
        if soft:
            meta["software"] = soft.group(1)

    def scaled(key: str, unit_key: str, base: str) -> float | None:
        value, unit = _float(block.get(key, "")), block.get(unit_key, base).strip()
        prefix = unit[: -len(base)] if unit.endswith(base) else None
        return value * _SI_PREFIX[prefix] if value is not None and prefix in _SI_PREFIX else None

    for key, target in (
        ("Va (mV)", "amplitude_mv"),
        ("E (V)", "dc_potential_v"),
        ("Nd", "points_per_decade"),
    ):
        if _float(block.get(key, "")) is not None:
            meta[target] = _float(block[key])
    for key, target in (("fi", "freq_initial_hz"), ("ff", "freq_final_hz")):
        value = scaled(key, f"unit {key}", "Hz")
        if value is not None:
            meta[target] = value
    header = split_header(lines[header_index], "\t")
    return Table(
        lines, header, header_index, list(range(header_index + 1, len(lines))), "\t", "biologic-mpt", meta
    )


# --- Gamry .DTA -------------------------------------------------------------------------------------------
_GAMRY_KEYS = {
    "AREA": "area_cm2",
    "VDC": "dc_potential_v",
    "VAC": "amplitude_mv",
    "FREQINIT": "freq_initial_hz",
    "FREQFINAL": "freq_final_hz",
    "PTSPERDEC": "points_per_decade",
    "EOC": "open_circuit_v",
}


def gamry(lines: list[str], name: str) -> Table:
    meta: dict = {"format": "gamry-dta"}
    warnings: list[str] = []
    z_index = None
    fields: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        parts = line.rstrip("\r\n").split("\t")
        if parts[0] == "ZCURVE" and len(parts) > 1 and parts[1].strip() == "TABLE":
            z_index = i
            if len(parts) > 2 and parts[2].strip().isdigit():
                meta["declared_points"] = int(parts[2])
            break
        if parts[0] and len(parts) >= 2:
            fields.setdefault(parts[0], parts[1:])
    if z_index is None:
        raise ParseError("Gamry file without a 'ZCURVE<TAB>TABLE' impedance table", file=name)
    if "TAG" in fields:
        meta["technique"] = fields["TAG"][0]
    for key, target in _GAMRY_KEYS.items():
        if key in fields and len(fields[key]) > 1:
            value = _float(fields[key][1] if fields[key][0] != "POTEN" else fields[key][1])
            if value is not None:
                meta[target] = value
    if "DATE" in fields and "TIME" in fields:
        meta["start_time"] = f"{fields['DATE'][1]} {fields['TIME'][1]}"
    if "PSTAT" in fields and len(fields["PSTAT"]) > 1:
        meta["instrument"] = "Gamry " + fields["PSTAT"][1]
    if "TITLE" in fields and len(fields["TITLE"]) > 1:
        meta["title"] = fields["TITLE"][1]
    if "FRAMEWORKVERSION" in fields and len(fields["FRAMEWORKVERSION"]) > 1:
        meta["software"] = "Gamry Framework " + fields["FRAMEWORKVERSION"][1]
    header_index = z_index + 1
    if header_index >= len(lines):
        raise ParseError("ZCURVE table has no column header", file=name, row=z_index + 1)
    header = split_header(lines[header_index], "\t")
    data = []
    for i in range(header_index + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if not line[0].isspace():  # the table's rows are tab-indented; anything else ends it
            if line.startswith("EXPERIMENTABORTED"):
                meta["aborted"] = True
                warnings.append(f"line {i + 1}: EXPERIMENTABORTED: the sweep ended early")
            break
        data.append(i)
    return Table(lines, header, header_index, data, "\t", "gamry-dta", meta, warnings)


# --- Scribner ZPlot / ZView .z ----------------------------------------------------------------------------
def zplot(lines: list[str], name: str) -> Table:
    meta: dict = {"format": "zplot-z"}
    warnings: list[str] = []
    header_index = end_comments = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if (
            header_index is None
            and normalise_header(split_header(stripped, None)[0] if stripped else "")[0] == "freq_hz"
        ):
            header_index = i
        if stripped.startswith("End Comments"):
            end_comments = i
            break
        kv = re.match(r"\s*([^:]+?)\s*:\s*(.*?)\s*$", line)
        if kv:
            key, value = kv.groups()
            targets = {
                "Date": "date",
                "Time": "time",
                "Potential-AC": "amplitude_mv",
                "Potential-DC": "dc_potential_v",
                "Surface Area": "area_cm2",
                "Data Points": "declared_points",
                "vs Freq-Initial": "freq_initial_hz",
                "vs Freq-Final": "freq_final_hz",
            }
            if key in targets and key not in meta:
                meta[targets[key]] = _float(value) if targets[key] not in ("date", "time") else value
            elif key.startswith("Measured Data"):
                meta["software"] = key.split(",", 1)[-1].strip() + " " + value
    if header_index is None:
        raise ParseError("ZPlot file without a 'Freq(Hz) ...' column header line", file=name)
    if "date" in meta:
        meta["start_time"] = f"{meta.pop('date')} {meta.pop('time', '')}".strip()
    meta.pop("time", None)
    sep = "\t" if "\t" in lines[header_index] else (";" if ";" in lines[header_index] else None)
    if sep is None and "," in lines[header_index]:
        sep = ","
    header = split_header(lines[header_index], sep)
    start = (end_comments if end_comments is not None and end_comments > header_index else header_index) + 1
    data = [i for i in range(start, len(lines)) if lines[i].strip()]
    declared = meta.get("declared_points")
    if isinstance(declared, float) and declared.is_integer():
        meta["declared_points"] = declared = int(declared)
    if declared is not None and declared != len(data):
        warnings.append(
            f"header declares {declared} data points but the file holds {len(data)} rows (truncated?)"
        )
    return Table(lines, header, header_index, data, sep, "zplot-z", meta, warnings)


# --- delimited text: CH Instruments, Autolab NOVA, generic CSV/TXT ----------------------------------------
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def _choose_sep(sample: list[str]) -> str | None:
    """Delimiter that splits every sampled line into the same number (>= 2) of fields."""
    stripped = [s.strip() for s in sample if s.strip()]
    if not stripped:
        return ","

    def consistent(sep: str | None) -> int:
        counts = {len(s.split(sep)) for s in stripped}
        return counts.pop() if len(counts) == 1 else 0

    for sep in ("\t", ";"):
        if consistent(sep) >= 2:
            return sep
    blank_fields = [t for s in stripped for t in s.split()]
    if consistent(None) >= 2 and all(_NUMBER.match(t) for t in blank_fields) and "." not in "".join(stripped):
        return None  # blank-separated numbers written with decimal commas
    if consistent(",") >= 2:
        return ","
    if consistent(None) >= 2:
        return None
    return ","


def delimited(lines: list[str], name: str) -> Table:
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    sample = [lines[i] for i in nonblank[-10:]]
    sep = _choose_sep(sample)
    meta: dict = {}
    header_index = None
    for i in nonblank:
        tokens = split_header(lines[i], sep)
        canon = [normalise_header(t)[0] for t in tokens]
        if "freq_hz" in canon:
            header_index = i
            break
        if len(tokens) >= 2 and all(
            _NUMBER.match(t) or t.lower() in ("nan", "inf", "-inf") for t in tokens if t
        ):
            break  # numbers come first: a headerless file
        if sum(c is not None for c in canon) >= 2:
            raise ParseError(
            f"no frequency column among {tokens!r} "
                "(expected e.g. 'freq/Hz', 'Frequency (Hz)', 'f')", file=name, row=i + 1
            )
    head = "\n".join(lines[:30])
    if "A.C. Impedance" in head:
        fmt = "chi-txt"
        meta["technique"] = "A.C. Impedance"
        for line in lines[: header_index or 0]:
            kv = re.match(r"\s*(.+?)\s*[=:]\s*(.*?)\s*$", line)
            if not kv:
                continue
            key, value = kv.groups()
            if key == "Instrument Model":
                meta["instrument"] = "CH Instruments " + value
            elif key == "Init E (V)":
                meta["dc_potential_v"] = _float(value)
            elif key == "Amplitude (V)" and _float(value) is not None:
                meta["amplitude_mv"] = _float(value) * 1000
            elif key == "High Frequency (Hz)":
                meta["freq_initial_hz"] = _float(value)
            elif key == "Low Frequency (Hz)":
                meta["freq_final_hz"] = _float(value)
        first = lines[nonblank[0]].strip() if nonblank else ""
        if re.match(r"[A-Z][a-z]{2}\.? \d{1,2}, \d{4}", first):
            meta["start_time"] = re.sub(r"\s+", " ", first)
    elif sep == ";" and header_index is not None and "index" in lines[header_index].lower():
        fmt = "autolab-nova"
        meta["instrument"] = "Metrohm Autolab (NOVA export)"
    elif header_index is not None and lines[header_index].startswith("freq/Hz"):
        fmt = "biologic-mpt"  # EC-Lab export without its header block
    else:
        fmt = "csv" if sep in (",", ";") else "text"
    meta["format"] = fmt
    meta["delimiter"] = {"\t": "tab", None: "blank", ",": ",", ";": ";"}[sep]
    if header_index is None:
        data = nonblank
        header = None
    else:
        data = [i for i in nonblank if i > header_index]
        header = split_header(lines[header_index], sep)
    return Table(lines, header, header_index, data, sep, fmt, meta)


__all__ = ["biologic", "gamry", "zplot", "delimited", "is_number"]
