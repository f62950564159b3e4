"""Load the third-party impedance.py library (MIT) under a private name, with the numpy-2 shim applied.

Why not ``import impedance``: this project's own app package is also called ``impedance`` and it wins on
``sys.path`` whenever the project root is importable (manage.py, pytest, Celery), so the library's
``impedance.models.circuits`` can never be reached by its own name. We therefore load the three library
modules we need (``elements``, ``fitting``, ``validation``) straight from the installed distribution's
files into the private package ``_impedancepy``. ``elements`` and ``fitting`` use only relative imports;
``validation`` imports ``impedance.models.circuits...`` absolutely, so those two import lines are rewritten
to the private name before execution. ``circuits.py`` (``CustomCircuit``) is not loaded: it pulls in
matplotlib and altair for plotting, which a worker does not need.

The numpy-2 shim (upstream issue #296, fixed on master in #298, never released): the library turns
parameters into Python source and ``eval()``s it in the ``circuit_elements`` namespace; under numpy 2 the
repr of a numpy scalar is ``np.float64(...)``, so ``np`` must be in that namespace.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
import types
from pathlib import Path

import numpy

_ALIAS = "_impedancepy"
_DIST = importlib.metadata.distribution("impedance")
VERSION: str = _DIST.version


def _package_dir() -> Path:
    init = Path(str(_DIST.locate_file("impedance/__init__.py")))
    if not init.is_file():  # pragma: no cover - broken install
        raise ImportError(f"impedance.py {VERSION} is installed but {init} is missing")
    return init.parent


def _ensure_package(name: str, path: Path) -> None:
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]  # a bare package: the library's own __init__ files are not run
        sys.modules[name] = pkg


def _load(dotted: str, path: Path, *, rewrite_absolute: bool = False) -> types.ModuleType:
    name = f"{_ALIAS}.{dotted}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if rewrite_absolute:
            source = path.read_text(encoding="utf-8")
            source = re.sub(r"^from impedance\.", f"from {_ALIAS}.", source, flags=re.MULTILINE)
            exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - the library's own file
        else:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


_root = _package_dir()
_ensure_package(_ALIAS, _root)
_ensure_package(f"{_ALIAS}.models", _root / "models")
_ensure_package(f"{_ALIAS}.models.circuits", _root / "models" / "circuits")

elements = _load("models.circuits.elements", _root / "models" / "circuits" / "elements.py")
fitting = _load("models.circuits.fitting", _root / "models" / "circuits" / "fitting.py")
validation = _load("validation", _root / "validation.py", rewrite_absolute=True)

circuit_elements: dict = elements.circuit_elements
circuit_elements.setdefault("np", numpy)  # the numpy-2 shim, see the module docstring
