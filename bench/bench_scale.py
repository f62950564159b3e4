"""Scale benchmark: pages and APIs at 200 and then 2,000 cells x 500 cycles, built straight into the database.

Run:  python bench/bench_scale.py [--sizes 200,2000] [--cycles 500] [--repeat 20] [--json FILE] [--quick]

The lab: 4 projects, 40 groups (10 per project), cells spread evenly over the groups; each cell has one
imported cycling file, `--cycles` CycleSummary rows (seeded fade shaped like the study; one executemany), a
board row (RunState), 1-2 alerts (1.4 per cell on average, a fifth closed) and its stored figures (CellFigures,
computed by cell_figures_refresh as an ingest does), all bulk inserts (no ingest, no rule evaluation: what is
measured is reading, not building), then ANALYZE on PostgreSQL (what autovacuum does after a bulk load). The first size is built, measured,
then the lab is grown to the next size in the same database and measured again.

Timed in process with Django's test Client (p50/p95 wall ms over `--repeat` calls after 2 warm-ups, and
the query count of one call), as a superuser and as a project member (viewer of 1 of the 4 projects): the
cell list (first page, filtered by group, sorted by retention), the cells API search, the board page and
API, a cell page, the cycles API, compare and compare summary for 2 groups of cells (2 x 50 at 2,000), the
alerts API and the effects API (retention at the last cycle, and at cycle N = cycles/5, over project 0).
Targets (issue 29): p95 < 250 ms at the largest size, p95 largest <= 3x p95 smallest, query counts equal at
both sizes.

Database: SQLite in a temporary directory by default. With DATABASE_URL set to a PostgreSQL server, the
run creates database `--pg-db` (default assb_scale_bench) there, works in it and drops it at the end (never
the test database). `--quick` (5 and 25 cells, 20 cycles, 3 repeats) is what the tests run.
"""
import argparse
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 250.0
TARGET_GROWTH = 3.0
N_PROJECTS, N_GROUPS = 4, 40


def percentile(values, q):
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _pg_url(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, parts.fragment))


def _pg_admin(url: str, sql: str):
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def setup_django(var_dir: str, pg_db: str | None):
    sys.path.insert(0, str(ROOT))
    os.environ["ASSB_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        if pg_db in ("test_assb", "", None):
            raise SystemExit("--pg-db must name a scratch database, not the test database")
        _pg_admin(base, f'DROP DATABASE IF EXISTS "{pg_db}"')
        _pg_admin(base, f'CREATE DATABASE "{pg_db}"')
        os.environ["DATABASE_URL"] = _pg_url(base, pg_db)
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    logging.getLogger("axes").setLevel(logging.WARNING)  # one line per force_login otherwise
    return base


CYCLE_COLUMNS = ["datafile_id", "cell_id", "cycle", "file_cycle", "discharge_mah_g", "charge_mah_g", "discharge_mah",
                 "charge_mah", "ce_percent", "ce_convention", "start_time_s", "end_time_s", "duration_s", "c_rate",
                 "c_rate_label", "segment", "is_partial"]


def insert_cycles(rows: list) -> None:
    """Insert CycleSummary rows (tuples in CYCLE_COLUMNS order) and empty the list."""
    from django.db import connection

    from cycling.models import CycleSummary

    if not rows:
        return
    sql = (f"INSERT INTO {CycleSummary._meta.db_table} ({', '.join(CYCLE_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(CYCLE_COLUMNS))})")
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    rows.clear()


class Lab:
    """The growing lab: projects, groups, materials, the two users, and how many cells exist so far."""

    def __init__(self, n_cycles: int, seed: int = 29):
        import numpy as np
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from cells.models import CellGroup, Material, Project
        from cells.roles import VIEWER

        self.n_cycles, self.n_cells = n_cycles, 0
        self.rng = np.random.default_rng(seed)
        self.projects = [Project.objects.create(name=f"Scale project {i}") for i in range(N_PROJECTS)]
        self.groups = [CellGroup.objects.create(project=self.projects[g % N_PROJECTS], name=f"group-{g:02d}",
                                                color="#336699") for g in range(N_GROUPS)]
        self.cathode = Material.objects.create(name="SC-NMC532", kind=Material.Kind.CATHODE_ACTIVE,
                                               theoretical_capacity_mah_g=160.0)
        self.electrolyte = Material.objects.create(name="LGPS", kind=Material.Kind.SOLID_ELECTROLYTE)
        self.anode = Material.objects.create(name="In-Li", kind=Material.Kind.ANODE, potential_vs_li_v=0.62)
        User = get_user_model()
        self.superuser = User.objects.create_superuser("scale-admin", "admin@example.org", "x")
        self.member = User.objects.create_user("scale-member", "member@example.org", "x")
        self.member.groups.add(Group.objects.get(name=VIEWER))
        self.projects[0].members.add(self.member)

    def grow(self, n_total: int) -> float:
        """Add cells up to n_total (with files, cycles, board rows, alerts); returns the seconds it took."""
        from django.db import transaction

        started = time.perf_counter()
        with transaction.atomic():
            self._grow(n_total)
        return time.perf_counter() - started

    def _grow(self, n_total: int):
        import numpy as np
        from django.utils import timezone

        from cells.models import Cell
        from cycling.models import DataFile
        from cycling.services import cell_figures_refresh
        from monitoring.models import KIND_CHOICES, Alert, RunState

        first = self.n_cells
        now = timezone.now()
        cells = Cell.objects.bulk_create([
            Cell(name=f"SC-{i:05d}", project_id=self.groups[i % N_GROUPS].project_id,
                 group=self.groups[i % N_GROUPS], cathode_material=self.cathode, electrolyte=self.electrolyte,
                 anode=self.anode, cathode_active_fraction=0.7, composite_loading_mg_cm2=12.0,
                 die_diameter_mm=10.0, theoretical_capacity_mah_g=160.0, voltage_min_v=2.5, voltage_max_v=4.4,
                 stack_pressure_mpa=float(25 + 25 * (i % 3)), replicate_number=i // N_GROUPS + 1,
                 data_version=1)  # as after an ingest: the cell has data, its figures follow that version
            for i in range(first, n_total)
        ])
        if cells[0].pk is None:  # backends without RETURNING ids
            cells = list(Cell.objects.filter(name__in=[c.name for c in cells]).order_by("name"))
        files = DataFile.objects.bulk_create([
            DataFile(cell=c, kind="cycling", original_name=f"{c.name}.xlsx", size_bytes=1,
                     sha256=f"{c.pk:064d}", file=f"datafiles/scale-{c.pk}.bin", status=DataFile.Status.IMPORTED,
                     n_cycles=self.n_cycles, metadata={"channel": str(c.pk % 8 + 1)})
            for c in cells
        ])
        if files[0].pk is None:
            files = list(DataFile.objects.filter(cell__in=cells).order_by("cell__name"))
        n = self.n_cycles
        k = np.arange(1, n + 1)
        cycle_s = 6 * 3600.0
        mass_g = 12.0 * 0.7 * np.pi * 0.5 ** 2 / 1000  # mg/cm2 x active x 0.785 cm2 -> g
        runs, alerts, cycle_rows = [], [], []
        kinds = [kind for kind, _label in KIND_CHOICES]
        for cell, datafile in zip(cells, files, strict=True):
            bare = cell.group_id % 4 == 3
            fade = (0.0009 if not bare else 0.004) * self.rng.normal(1.0, 0.1)
            discharge = np.where(k <= 2, 160.0, 140.0) * np.clip(1 - fade * np.maximum(k - 2, 0), 0.05, 1)
            discharge *= self.rng.normal(1.0, 0.02)
            ce = np.where(k == 1, 85.8, 99.8 - 1.2 * np.exp(-k / 10.0))
            charge = discharge / (ce / 100)
            # 10^6 rows at 2,000 cells: one executemany of plain tuples (what bulk_create sends, without
            # building a model object per row, which alone took minutes on a shared machine).
            cycle_rows.extend(zip(
                [datafile.pk] * n, [cell.pk] * n, k.tolist(), k.tolist(), discharge.tolist(), charge.tolist(),
                (discharge * mass_g).tolist(), (charge * mass_g).tolist(), ce.tolist(),
                ["discharge/charge"] * n, ((k - 1) * cycle_s).tolist(), (k * cycle_s).tolist(), [cycle_s] * n,
                np.where(k <= 2, 0.1, 1 / 3).tolist(), np.where(k <= 2, "0.1C", "C/3").tolist(),
                np.where(k <= 2, "formation", "long-term").tolist(), [False] * n, strict=True))
            if len(cycle_rows) >= 50_000:
                insert_cycles(cycle_rows)
            ref = discharge[2] if n > 2 else discharge[0]
            step = max(1, n // 40)
            spark = [[int(c), round(float(d), 1)] for c, d in zip(k[::step], discharge[::step], strict=True)]
            last_at = now - timezone.timedelta(minutes=int(self.rng.integers(1, 600)))
            runs.append(RunState(
                cell=cell, datafile=datafile, channel=str(cell.pk % 8 + 1), last_record_at=last_at,
                run_started_at=now - timezone.timedelta(seconds=n * cycle_s), stale_at=last_at + timezone.timedelta(hours=6),
                latest_cycle=n, latest_capacity=float(discharge[-1]), capacity_unit="mAh/g",
                reference_cycle=3 if n > 2 else 1, retention_percent=float(discharge[-1] / ref * 100),
                latest_ce_percent=float(ce[-1]), sparkline=spark, state=RunState.State.RUNNING,
            ))
            for j in range((1, 2, 1, 2, 1)[cell.pk % 5]):  # 1.4 alerts per cell
                closed = (cell.pk + j) % 5 == 0
                alerts.append(Alert(cell=cell, kind=kinds[j % len(kinds)], cycle=int(n // 2 + j), title="retention below 80 %",
                                    message=f"{cell.name}: retention below 80 % at cycle {n // 2 + j}",
                                    values={"retention_percent": 79.0},
                                    status=Alert.Status.RESOLVED if closed else Alert.Status.OPEN,
                                    closed_at=now if closed else None))
        insert_cycles(cycle_rows)
        # The stored figures an ingest leaves (cycling.services.cell_figures_refresh), a few hundred cells a time.
        for at in range(0, len(cells), 250):
            cell_figures_refresh(cell_ids=[c.pk for c in cells[at:at + 250]])
        RunState.objects.bulk_create(runs)
        Alert.objects.bulk_create(alerts, batch_size=2000)
        self.n_cells = n_total


def analyze() -> None:
    """PostgreSQL: ANALYZE after the bulk load, as autovacuum does on a running server within a minute or so.
    Without it (a server with autovacuum off, or timing at once) the planner has no row counts and picks
    plans no lab would run with (a nested loop over every file of the lab for one project's cycle N)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def database_bytes() -> int:
    """Bytes the database holds (tables and indexes): pages x page size (SQLite), pg_database_size (PostgreSQL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages * cursor.fetchone()[0])


def endpoints(lab) -> list[tuple[str, str]]:
    """(name, url) of what is timed; ids picked among the member's visible cells (project 0)."""
    from cells.models import Cell

    g_a, g_b = lab.groups[0], lab.groups[4]  # both in project 0, the member's
    cell = Cell.objects.filter(group=g_a).order_by("pk").first()
    return [
        ("cell list", "/"),
        ("cell list filtered", f"/?group={g_a.pk}"),
        ("cell list sorted", "/?sort=-retention"),
        ("cells API search", "/api/v1/cells/?search=SC-001"),
        ("board page", "/board/"),
        ("board API", "/api/v1/board/"),
        ("cell page", f"/cells/{cell.pk}/"),
        ("cycles API", f"/api/v1/cells/{cell.pk}/cycles/"),
        ("compare API", f"/api/v1/compare/?groups={g_a.pk},{g_b.pk}"),
        ("compare summary API", f"/api/v1/compare/summary/?groups={g_a.pk},{g_b.pk}"),
        ("alerts API", "/api/v1/alerts/"),
        ("effects API", f"/api/v1/effects/?outcome=retention_percent&factor=stack_pressure_mpa&project={lab.projects[0].pk}"),
        ("effects API at cycle N", f"/api/v1/effects/?outcome=retention_at_cycle_percent&cycle={max(1, lab.n_cycles // 5)}"
                                   f"&factor=stack_pressure_mpa&project={lab.projects[0].pk}"),
    ]


def measure(client, url: str, repeat: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.content[:300])
    times = []
    for _ in range(repeat):
        cache.clear()  # what is measured is the computed answer, not a cached one
        t0 = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000.0)
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        resp = client.get(url)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
            "queries": len(queries.captured_queries), "bytes": len(resp.content)}


def run(sizes: list[int], n_cycles: int, repeat: int, pg_db: str | None, skip: tuple[str, ...] = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="assb-bench-scale-") as var:
        base = setup_django(var, pg_db)
        try:
            return _run(sizes, n_cycles, repeat, skip)
        finally:
            from django.db import connections

            connections.close_all()
            if base.startswith(("postgres://", "postgresql://")):
                _pg_admin(base, f'DROP DATABASE IF EXISTS "{pg_db}"')


def _run(sizes, n_cycles, repeat, skip=()):
    from django.db import connection
    from django.test import Client

    lab = Lab(n_cycles)
    result = {"engine": connection.vendor, "cycles_per_cell": n_cycles, "repeat": repeat, "sizes": sizes,
              "build_s": {}, "db_bytes": {}, "results": {}}
    for size in sizes:
        result["build_s"][size] = round(lab.grow(size), 1)
        analyze()
        result["db_bytes"][size] = database_bytes()
        gc.collect()
        gc.freeze()  # the build's garbage is not what a web worker carries
        for who, user in (("superuser", lab.superuser), ("member", lab.member)):
            client = Client()
            client.force_login(user)
            for name, url in endpoints(lab):
                if name in skip:
                    continue
                result["results"].setdefault(f"{name} | {who}", {})[size] = measure(client, url, repeat)
        gc.unfreeze()
    lo, hi = sizes[0], sizes[-1]
    misses = []
    for key, by_size in result["results"].items():
        a, b = by_size[lo], by_size[hi]
        if b["p95_ms"] >= TARGET_P95_MS:
            misses.append(f"{key}: p95 {b['p95_ms']} ms at {hi}")
        if a["p95_ms"] > 0 and b["p95_ms"] > TARGET_GROWTH * max(a["p95_ms"], 1.0):
            misses.append(f"{key}: p95 grew {b['p95_ms'] / a['p95_ms']:.1f}x from {lo} to {hi}")
        if b["queries"] != a["queries"]:
            misses.append(f"{key}: queries {a['queries']} -> {b['queries']}")
    result["misses"] = misses
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    return result


def table(result) -> str:
    lo, hi = result["sizes"][0], result["sizes"][-1]
    head = (f"{'endpoint | user':44} {'p50 ' + str(lo):>9} {'p95 ' + str(lo):>9} {'q':>4}   "
            f"{'p50 ' + str(hi):>9} {'p95 ' + str(hi):>9} {'q':>4}  {'p95 x':>6}")
    lines = [f"engine {result['engine']}, {result['cycles_per_cell']} cycles/cell, {result['repeat']} calls each, "
             f"build s {result['build_s']}, database MB "
             f"{ {k: round(v / 1e6, 1) for k, v in result['db_bytes'].items()} }, load {result['load_average_1min']}", head, "-" * len(head)]
    for key, by_size in result["results"].items():
        a, b = by_size[lo], by_size[hi]
        ratio = b["p95_ms"] / a["p95_ms"] if a["p95_ms"] else float("nan")
        lines.append(f"{key:44} {a['p50_ms']:9.1f} {a['p95_ms']:9.1f} {a['queries']:4d}   "
                     f"{b['p50_ms']:9.1f} {b['p95_ms']:9.1f} {b['queries']:4d}  {ratio:6.2f}")
    lines.append("targets missed: " + ("none" if not result["misses"] else "; ".join(result["misses"])))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000", help="cell counts, smallest first")
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--pg-db", default="assb_scale_bench")
    ap.add_argument("--json", help="write the result here too")
    ap.add_argument("--skip", default="", help="endpoint names to leave out, comma-separated (e.g. 'effects API')")
    ap.add_argument("--quick", action="store_true", help="5 and 25 cells, 20 cycles, 3 calls (for tests)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.cycles, args.repeat = [5, 25], 20, 3
    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    result = run(sizes, args.cycles, args.repeat, args.pg_db, skip)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if not result["misses"] else 1


if __name__ == "__main__":
    sys.exit(main())
