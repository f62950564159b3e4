"""The parser layer stays pure: importing it must not pull in Django."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_imports_the_parsers_and_writers_without_django():
    code = (
        "import sys, cycling.parsers, cycling.parsers.bdf, cycling.figures, cycling.testing; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_it_shares_the_cycle_rule_without_importing_analysis_or_scipy():
    code = (
        "import sys, cycling.parsers; "
        "print(sorted(m for m in sys.modules if m in ('cycling.analysis', 'cycling.checks', 'scipy')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert result.stdout.strip() == "[]"
