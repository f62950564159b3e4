"""The architecture holds: apps depend one way, the import contracts of pyproject.toml are kept."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL_PACKAGES = ("ingest",)  # first-party packages that are not Django apps but sit between them


def app_imports(top: Path) -> dict[str, dict[str, set[str]]]:
    """{app: {other app: files}} for every absolute import (module level or in a function), migrations aside."""
    apps = sorted({p.parent.name for p in top.glob("*/apps.py")} | {n for n in NEUTRAL_PACKAGES if (top / n).is_dir()})
    deps: dict[str, dict[str, set[str]]] = {a: {} for a in apps}
    for app in apps:
        for path in (top / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for other in {n.split(".")[0] for n in names} & set(apps) - {app}:
                    deps[app].setdefault(other, set()).add(str(path.relative_to(top)))
    return deps


def mutual_pairs(deps) -> list[tuple[str, str]]:
    return sorted((a, b) for a in deps for b in deps[a] if a < b and a in deps.get(b, {}))


def test_it_finds_no_two_apps_importing_each_other():
    deps = app_imports(ROOT)
    assert {"cells", "cycling", "impedance", "monitoring", "lab", "ingest"} <= set(deps)
    assert mutual_pairs(deps) == [], {pair: (deps[pair[0]][pair[1]], deps[pair[1]][pair[0]])
                                      for pair in mutual_pairs(deps)}
    assert deps["cells"] == {}  # the registry is the base: it imports no other app
    assert "lab" not in {other for app in deps for other in deps[app]}  # nothing imports the faces


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    for app, body in (("alpha", "from beta.models import X\n"), ("beta", "def f():\n    import alpha.views\n")):
        (tmp_path / app).mkdir()
        (tmp_path / app / "apps.py").write_text("")
        (tmp_path / app / "code.py").write_text(body)
    (tmp_path / "alpha" / "migrations").mkdir()
    (tmp_path / "alpha" / "migrations" / "0001_initial.py").write_text("import gamma\n")
    deps = app_imports(tmp_path)
    assert mutual_pairs(deps) == [("alpha", "beta")]
    assert deps["alpha"] == {"beta": {"alpha/code.py"}}  # migrations do not count


def test_it_keeps_the_import_contracts_of_pyproject():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken." in result.stdout and "BROKEN" not in result.stdout
