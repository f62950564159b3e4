"""Shared parts of the EIS readers: the spectrum type, the EIS header-alias table and the table-to-spectrum step
that every format ends in (the error type is the reader framework's one ParseError)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from readers.errors import ParseError

MIN_POINTS = 5


@dataclass
class EisSpectrum:
    """One impedance measurement as read from a file.

    ``data`` columns: ``freq_hz`` (> 0), ``z_real_ohm``, ``z_imag_ohm`` (signed: Z = Z' + jZ'', a capacitive
    arc has Z'' < 0), optional ``time_s`` and, for looped files only, ``sweep`` (1, 2, ...). Rows keep the
    file's order.
    """

    data: pd.DataFrame
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source_name: str = ""

    @property
    def freq_hz(self) -> np.ndarray:
        return self.data["freq_hz"].to_numpy(dtype=float)

    @property
    def z_ohm(self) -> np.ndarray:
        return self.data["z_real_ohm"].to_numpy(dtype=float) + 1j * self.data["z_imag_ohm"].to_numpy(
            dtype=float
        )

    @property
    def n_sweeps(self) -> int:
        return int(self.data["sweep"].nunique()) if "sweep" in self.data else 1

    def sweeps(self) -> list[EisSpectrum]:
        """One spectrum per sweep of a looped file (the spectrum itself when there is only one)."""
        if "sweep" not in self.data:
            return [self]
        out = []
        for number, part in self.data.groupby("sweep", sort=True):
            out.append(
                replace(
                    self,
                    data=part.drop(columns="sweep").reset_index(drop=True),
                    metadata={**self.metadata, "sweep": int(number)},
                    warnings=list(self.warnings),
                )
            )
        return out


# THE alias table: normalised header (lower case, blanks removed, unit after the first '/' dropped, a
# trailing "(unit)"/"[unit]" dropped on a second try, a leading '-' meaning "negated") -> canonical column.
ALIASES: dict[str, str] = {
    **dict.fromkeys(["f", "freq", "frequency", "freq.", "frequencies", "fr"], "freq_hz"),
    **dict.fromkeys(
        ["z'", "z’", "zre", "z_re", "zreal", "z_real", "re(z)", "real(z)", "real", "re", "zr", "z1", "rez"],
        "z_real_ohm",
    ),
    **dict.fromkeys(
        [
            'z"',
            "z''",
            "z’’",
            "zim",
            "z_im",
            "zimag",
            "z_imag",
            "im(z)",
            "imag(z)",
            "imag",
            "im",
            "zi",
            "z2",
            "imz",
        ],
        "z_imag_ohm",
    ),
    **dict.fromkeys(
        ["|z|", "z", "zmod", "z_mod", "mod(z)", "modulus", "abs(z)", "|z|(ohm)", "impedance"], "z_mod_ohm"
    ),
    **dict.fromkeys(
        ["phase", "phase(z)", "zphz", "phz", "theta", "phi", "phaseangle", "zphase"], "phase_deg"
    ),
    **dict.fromkeys(["time", "t", "time(s)", "elapsedtime"], "time_s"),
    **dict.fromkeys(["cyclenumber", "cycle", "loop"], "cycle"),
}

_TRAILING_UNIT = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]$")


def normalise_header(name: str) -> tuple[str | None, int, str]:
    """Header text -> (canonical column or None, sign, unit text)."""
    text = name.strip().strip("\ufeff")
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    text = re.sub(r"\s+", "", text.lower()).replace("ω", "ohm").replace("Ω", "ohm")
    unit = ""
    if "/" in text:
        text, unit = text.split("/", 1)
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    if text in ALIASES:
        return ALIASES[text], sign, unit
    m = _TRAILING_UNIT.search(text)
    if m and m.start() > 0:
        stripped = text[: m.start()]
        if stripped in ALIASES:
            return ALIASES[stripped], sign, unit or m.group(0)[1:-1]
    return None, sign, unit


def split_header(line: str, sep: str | None) -> list[str]:
    parts = line.strip().split(sep) if sep else line.split()
    return [p.strip() for p in parts]


def is_number(token: str) -> bool:
    try:
        float(token.strip().replace(",", "."))
    except ValueError:
        return False
    return True


@dataclass
class Table:
    """Where a format found its column header and data rows (0-based line indices into ``lines``)."""

    lines: list[str]
    header: list[str] | None  # None: headerless, columns are f, Z', Z''
    header_index: int | None
    data_indices: list[int]
    sep: str | None  # None: runs of blanks
    fmt: str
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def to_spectrum(table: Table, name: str) -> EisSpectrum:
    """Turn located header + rows into a validated EisSpectrum, or raise ParseError naming line and column."""
    lines, sep = table.lines, table.sep
    data_idx = [i for i in table.data_indices if lines[i].strip()]
    if table.header is not None and data_idx:
        first = split_header(lines[data_idx[0]], sep)
        if first and not any(is_number(t) for t in first if t):
            table.metadata.setdefault("units", first)  # a units row (Gamry)
            data_idx = data_idx[1:]
    if not data_idx:
        where = f"after line {table.header_index + 1}" if table.header_index is not None else "in the file"
        raise ParseError(f"no data rows {where}", file=name)
    line_no = np.asarray(data_idx) + 1
    block = "\n".join(lines[i].strip() for i in data_idx)
    decimal_comma = sep != "," and "," in block and "." not in block
    if decimal_comma:
        block = block.replace(",", ".")
        table.metadata["decimal_comma"] = True
    try:
        raw = pd.read_csv(
            io.StringIO(block),
            sep=sep if sep else r"\s+",
            header=None,
            dtype=str,
            skipinitialspace=True,
            skip_blank_lines=False,
            keep_default_na=False,
            na_filter=False,
            engine="c",
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, ValueError, csv.Error, IndexError, OverflowError) as exc:
        m = re.search(r"line (\d+)", str(exc))
        where = f"line {line_no[int(m.group(1)) - 1]}: " if m and int(m.group(1)) <= len(line_no) else ""
        raise ParseError(f"{where}rows do not split into the header's columns ({exc})", file=name) from None
    if len(raw) != len(line_no):
        raise ParseError("data rows could not be split consistently (quotes or embedded line breaks?)", file=name)

    roles: dict[str, tuple[int, int, str]] = {}
    if table.header is None:
        if raw.shape[1] < 3:
            raise ParseError(
            f"no header and only {raw.shape[1]} column(s); "
                "a headerless file needs frequency, Z', Z'' columns", file=name, row=line_no[0]
            )
        roles = {"freq_hz": (0, 1, ""), "z_real_ohm": (1, 1, ""), "z_imag_ohm": (2, 1, "")}
        names = ["column 1 (frequency)", "column 2 (Z')", "column 3 (Z'')"] + [
            f"column {k + 1}" for k in range(3, raw.shape[1])
        ]
    else:
        names = table.header
        for k, h in enumerate(names):
            canon, sign, unit = normalise_header(h)
            if canon and canon not in roles:
                roles[canon] = (k, sign, unit)
        if "freq_hz" not in roles:
            raise ParseError(
            f"no frequency column among {names!r} "
                "(expected e.g. 'freq/Hz', 'Frequency (Hz)', 'f')", file=name, row=table.header_index + 1
            )

    def label_of(canon: str) -> str:
        k = roles[canon][0]
        return names[k] if k < len(names) else f"column {k + 1}"

    def raw_column(canon: str) -> tuple[pd.Series, np.ndarray]:
        k, sign, _ = roles[canon]
        if k >= raw.shape[1]:
            raise ParseError(f"column {label_of(canon)!r} is missing from the data rows", file=name, row=line_no[0])
        text = raw[k]
        return text, sign * pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)

    def why(token) -> str:
        if token is None or (isinstance(token, float) and np.isnan(token)) or str(token).strip() == "":
            return "value is missing"
        if is_number(str(token)):
            return f"value {str(token)!r} is NaN or infinite"
        return f"value {str(token)[:40]!r} is not a number"

    def optional(canon: str) -> np.ndarray | None:
        _, values = raw_column(canon)
        if not np.all(np.isfinite(values)):
            table.warnings.append(f"column {label_of(canon)!r} has non-numeric values; it was ignored")
            return None
        return values

    if "z_real_ohm" in roles and "z_imag_ohm" in roles:
        required = ["freq_hz", "z_real_ohm", "z_imag_ohm"]
    elif "z_mod_ohm" in roles and "phase_deg" in roles:
        required = ["freq_hz", "z_mod_ohm", "phase_deg"]
    else:
        raise ParseError(f"no Z'/Z'' (or |Z| and phase) columns among {names!r}", file=name, row=table.header_index + 1)
    # Every required column is read before any is judged, so the message names the FIRST bad cell of the
    # file (lowest line, then leftmost column), and a column that is bad everywhere is called so.
    texts, values, bad = {}, {}, {}
    for canon in required:
        texts[canon], values[canon] = raw_column(canon)
        bad[canon] = ~np.isfinite(values[canon])
    for canon in sorted(required, key=lambda c: roles[c][0]):
        label, v = label_of(canon), values[canon]
        if bad[canon].all():
            blank = texts[canon].isna().all() or texts[canon].astype(str).str.strip().eq("").all()
            what = "empty" if blank else "not a number"
            raise ParseError(f"column {label!r} is {what} in every data row (lines {line_no[0]}-{line_no[-1]})", file=name)
        if np.all(v[~bad[canon]] == 0) and canon != "phase_deg" and not bad[canon].any():
            raise ParseError(
            f"column {label!r} is 0 in every data row (lines {line_no[0]}-{line_no[-1]}): "
                "the instrument did not record it, or the wrong column is named", file=name
            )
    bad["freq_hz"] = bad["freq_hz"] | (values["freq_hz"] <= 0)
    order = sorted(required, key=lambda c: roles[c][0])
    first = np.array([np.argmax(bad[c]) if bad[c].any() else len(line_no) for c in order])
    if (first < len(line_no)).any():
        row = int(first.min())
        canon = order[int(np.argmin(first))]  # leftmost column among those bad on that row
        token = texts[canon].iloc[row]
        if np.isfinite(values[canon][row]):
            reason = f"frequency must be > 0, got {values[canon][row]:g}"
        else:
            reason = why(token)
        raise ParseError(f"{reason}", file=name, row=line_no[row], column=label_of(canon))

    freq = values["freq_hz"]
    if required[1] == "z_real_ohm":
        z_re, z_im = values["z_real_ohm"], values["z_imag_ohm"]
        negated = roles["z_imag_ohm"][1] < 0
    else:
        mod, phase = values["z_mod_ohm"], values["phase_deg"]
        unit = roles["phase_deg"][2]
        rad = phase if "rad" in unit else np.deg2rad(phase)
        z_re, z_im = mod * np.cos(rad), mod * np.sin(rad)
        negated = roles["phase_deg"][1] < 0
        table.metadata["z_from"] = "modulus and phase"

    if len(freq) < MIN_POINTS:
        raise ParseError(f"only {len(freq)} data point(s); at least {MIN_POINTS} are needed", file=name)

    data = pd.DataFrame({"freq_hz": freq, "z_real_ohm": z_re, "z_imag_ohm": z_im})
    if "time_s" in roles:
        t = optional("time_s")
        if t is not None:
            data["time_s"] = t
    sweep = _sweep_numbers(freq, optional("cycle") if "cycle" in roles else None)
    if sweep is not None:
        data["sweep"] = sweep
        counts = np.bincount(sweep)[1:]
        short = [k + 1 for k, c in enumerate(counts) if c < MIN_POINTS]
        if short:
            table.warnings.append(f"sweep(s) {short} have fewer than {MIN_POINTS} points (interrupted?)")
    # Inductive points at the highest frequencies are physical (leads, holder; an aborted sweep may hold
    # nothing else); positive Z'' down to the lowest frequency points to a column that holds -Z''.
    if not negated and np.mean(z_im > 0) > 0.5 and z_im[int(np.argmin(freq))] > 0:
        table.warnings.append(
            "most Z'' values are positive (inductive); if the column holds -Z'', name it with a leading '-'"
        )
    table.metadata.setdefault("format", table.fmt)
    table.metadata["columns"] = list(names) if table.header is not None else None
    table.metadata["n_points"] = len(data)
    table.metadata["n_sweeps"] = int(sweep.max()) if sweep is not None else 1
    return EisSpectrum(data=data, metadata=table.metadata, warnings=table.warnings, source_name=name)


def _sweep_numbers(freq: np.ndarray, cycle: np.ndarray | None) -> np.ndarray | None:
    """Sweep index 1..n for looped files, None for a single sweep.

    A ``cycle number`` column decides when present; otherwise a new sweep starts where the frequency jumps
    back against the sweep direction by more than half of the measured span (small repeats do not count).
    """
    if cycle is not None and len(np.unique(cycle)) > 1:
        change = np.r_[False, np.diff(cycle) != 0]
        return np.cumsum(change).astype(int) + 1
    logf = np.log10(freq)
    steps = np.diff(logf)
    if len(steps) < 2:
        return None
    direction = np.sign(np.median(steps)) or 1.0
    span = logf.max() - logf.min()
    jumps = (steps * direction < 0) & (np.abs(steps) > max(0.5 * span, 1e-9))
    if not jumps.any():
        return None
    return np.cumsum(np.r_[False, jumps]).astype(int) + 1
