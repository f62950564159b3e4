"""Equivalent-circuit strings: a strict grammar, and evaluation of a parsed circuit without eval().

impedance.py turns circuit strings into Python source and ``eval()``s it, checking only element names, so
every circuit string that may come from a user goes through :func:`validate_circuit` first. Evaluation
here walks the parsed tree and calls impedance.py's element functions directly.

Grammar (whitespace-free after removing blanks)::

    circuit  := series
    series   := term ('-' term)*
    term     := ELEMENT | 'p(' series (',' series)+ ')'
    ELEMENT  := NAME DIGITS        NAME in ALLOWED_ELEMENTS, DIGITS 1-3 digits, each element name unique
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._impedancepy import circuit_elements

MAX_LENGTH = 200
MAX_ELEMENTS = 12
MAX_DEPTH = 4

# Elements of impedance.py that are closed-form numpy (T loops in Python, K is lin-KK's internal RC).
ALLOWED_ELEMENTS: tuple[str, ...] = ("R", "C", "L", "CPE", "W", "Wo", "Ws", "La", "G", "Gs", "Zarc", "TLMQ")

# Which parameters are exponents in [0, 1] (fitted linearly); every other parameter is a positive scale.
EXPONENT_PARAMS: dict[str, tuple[int, ...]] = {"CPE": (1,), "La": (1,), "Zarc": (2,), "TLMQ": (2,)}

_TOKEN = re.compile(r"p\(|(?P<name>[A-Za-z]+)(?P<num>\d{1,3})(?![\d])|[-,)]")
_BAD = re.compile(r"[A-Za-z_][\w.]*\(?|\d+|.", re.DOTALL)


@dataclass(frozen=True)
class Element:
    name: str  # e.g. "CPE1"
    kind: str  # e.g. "CPE"
    n_params: int


@dataclass(frozen=True)
class Node:
    op: str  # "s", "p" or "e"
    children: tuple = ()
    element: Element | None = None


def validate_circuit(circuit: str) -> str:
    """Return the canonical (blank-free) circuit string, or raise ValueError naming the offending token."""
    return _parse(circuit)[0]


@dataclass(frozen=True)
class Circuit:
    """A parsed, validated circuit that can be evaluated: ``circuit(params, freq_hz) -> complex Z``."""

    text: str
    tree: Node
    elements: tuple[Element, ...]

    @property
    def parameter_names(self) -> list[str]:
        """impedance.py's naming: ``R0`` for one-parameter elements, ``CPE1_0``, ``CPE1_1`` otherwise."""
        names = []
        for el in self.elements:
            names += [el.name] if el.n_params == 1 else [f"{el.name}_{i}" for i in range(el.n_params)]
        return names

    @property
    def parameter_units(self) -> list[str]:
        return [u for el in self.elements for u in circuit_elements[el.kind].units]

    @property
    def exponent_mask(self) -> np.ndarray:
        mask = []
        for el in self.elements:
            mask += [i in EXPONENT_PARAMS.get(el.kind, ()) for i in range(el.n_params)]
        return np.array(mask, dtype=bool)

    def element_kind(self, element_name: str) -> str | None:
        return next((el.kind for el in self.elements if el.name == element_name), None)

    def __call__(self, params, freq_hz) -> np.ndarray:
        values = [float(v) for v in params]
        if len(values) != len(self.parameter_names):
            raise ValueError(f"{self.text} takes {len(self.parameter_names)} parameters, got {len(values)}")
        f = np.asarray(freq_hz, dtype=float)
        offsets = {}
        k = 0
        for el in self.elements:
            offsets[el.name] = k
            k += el.n_params
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _evaluate(self.tree, values, offsets, f)


@lru_cache(maxsize=256)
def compile_circuit(circuit: str) -> Circuit:
    text, tree, elements = _parse(circuit)
    return Circuit(text, tree, elements)


def _evaluate(node: Node, values: list[float], offsets: dict[str, int], f: np.ndarray) -> np.ndarray:
    if node.op == "e":
        el = node.element
        start = offsets[el.name]
        return np.asarray(_element(el.kind, values[start : start + el.n_params], f), dtype=complex)
    parts = [_evaluate(child, values, offsets, f) for child in node.children]
    if node.op == "s":
        return np.sum(parts, axis=0)
    return 1.0 / np.sum([1.0 / z for z in parts], axis=0)


def _element(kind: str, p: list[float], f: np.ndarray) -> np.ndarray:
    # The library's own element function, so its definitions (Wo = coth form, CPE = 1/(Q (jw)^a)) apply;
    # R is broadcast here because the library builds it through a Python list per call.
    if kind == "R":
        return np.full(f.shape, p[0], dtype=complex)
    return circuit_elements[kind](p, f)


def _parse(circuit: str) -> tuple[str, Node, tuple[Element, ...]]:
    if not isinstance(circuit, str):
        raise ValueError(f"circuit must be a string, got {type(circuit).__name__}")
    if len(circuit) > MAX_LENGTH:
        raise ValueError(f"circuit is {len(circuit)} characters long; the limit is {MAX_LENGTH}")
    text = circuit.replace(" ", "")
    if not text:
        raise ValueError("circuit is empty")
    tokens: list[tuple[int, str, re.Match]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or (m.group("name") and m.group("name") not in ALLOWED_ELEMENTS):
            bad = _BAD.match(text, pos).group(0)
            raise ValueError(
                f"circuit {text[:60]!r}: unexpected token {bad!r} at position {pos} "
                f"(allowed: elements {', '.join(ALLOWED_ELEMENTS)} followed by a number, '-', 'p(', ',', ')')"
            )
        tokens.append((pos, m.group(0), m))
        pos = m.end()

    elements: list[Element] = []
    index = 0

    def expect_end(what: str):
        where = tokens[index][0] if index < len(tokens) else len(text)
        got = repr(tokens[index][1]) if index < len(tokens) else "end of string"
        raise ValueError(f"circuit {text[:60]!r}: expected {what} at position {where}, got {got}")

    def series(depth: int) -> Node:
        nonlocal index
        terms = [term(depth)]
        while index < len(tokens) and tokens[index][1] == "-":
            index += 1
            terms.append(term(depth))
        return terms[0] if len(terms) == 1 else Node("s", tuple(terms))

    def term(depth: int) -> Node:
        nonlocal index
        if index >= len(tokens):
            expect_end("an element or 'p('")
        pos, tok, m = tokens[index]
        if tok == "p(":
            if depth >= MAX_DEPTH:
                raise ValueError(f"circuit {text[:60]!r}: parallel blocks nested deeper than {MAX_DEPTH}")
            index += 1
            branches = [series(depth + 1)]
            while index < len(tokens) and tokens[index][1] == ",":
                index += 1
                branches.append(series(depth + 1))
            if index >= len(tokens) or tokens[index][1] != ")":
                expect_end("',' or ')'")
            index += 1
            if len(branches) < 2:
                raise ValueError(f"circuit {text[:60]!r}: 'p(' at position {pos} needs at least two branches")
            return Node("p", tuple(branches))
        if m.group("name"):
            index += 1
            name = m.group("name") + m.group("num")
            if any(el.name == name for el in elements):
                raise ValueError(f"circuit {text[:60]!r}: element {name!r} appears twice")
            el = Element(name, m.group("name"), circuit_elements[m.group("name")].num_params)
            elements.append(el)
            if len(elements) > MAX_ELEMENTS:
                raise ValueError(f"circuit has more than {MAX_ELEMENTS} elements")
            return Node("e", element=el)
        expect_end("an element or 'p('")

    tree = series(0)
    if index != len(tokens):
        expect_end("'-' or the end")
    return text, tree, tuple(elements)
