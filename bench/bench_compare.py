"""Benchmark of the compare API and page: 12 study cells x 500 cycles in a fresh SQLite DB under a temp dir.

Run:  python bench/bench_compare.py [--repeat 60] [--cells-per-group 6] [--cycles 500]
Each cell's records come from the study simulator (cycling.simulate.study_cell, seeded replicates) and go
through the real analysis pipeline (cycling.analysis.analyse) into CycleSummary rows and a Parquet records file, like an
ingest without the LAND parsing; each cell also gets an after-formation study EIS spectrum through the real
EIS ingest (fit included). Then Django's test Client times GET /api/v1/compare/ (p50/p95, bytes) and adds
up the compare page's transfer: HTML + CSS + JS (gzipped) + the API JSON, the profile/dQ/dV requests and
the impedance row's requests (R_int vs cycle, one spectrum per cell) the page makes. Targets: p95 < 300 ms, page total < 3 MB. Writes bench/out/bench_compare.json.
"""
import argparse
import gzip
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 300.0
TARGET_PAGE_BYTES = 3 * 1024 * 1024


def setup_django(var_dir: str):
    sys.path.insert(0, str(ROOT))
    os.environ["ASSB_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # 'testserver' host for the test Client
    call_command("migrate", verbosity=0)
    call_command("vendor_static", verbosity=0)


def build_study(cells_per_group: int, n_cycles: int):
    """12 cells (6 LNTO-coated + 6 bare by default) with n_cycles of analysed cycles each; returns (user, groups)."""
    from types import SimpleNamespace

    import pandas as pd
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from cells.demo import BARE, COATED, load_study_registry
    from cells.models import Cell, CellGroup
    from cells.roles import VIEWER
    from cycling.analysis import analyse
    from cycling.models import CYCLE_FIELDS, CycleSummary, DataFile
    from cycling.services import cell_spec
    from cycling.simulate import study_cell
    from tests.factories import UserFactory

    cells = load_study_registry()
    template = {c.group.name: c for c in cells}
    for name, group in ((COATED, "LNTO"), (BARE, "BARE")):
        base = template[name]
        for rep in range(4, cells_per_group + 1):
            base.pk = None
            base.name, base.replicate_number = f"{group}-{rep:02d}", rep
            base.save()
    cells = list(Cell.objects.select_related("group", "cathode_material"))
    for cell in cells:
        group = "coated" if cell.group.name == COATED else "bare"
        records, _ = study_cell(group, n_cycles=n_cycles, replicate=cell.replicate_number, points_per_half_cycle=60)
        cycles = analyse(SimpleNamespace(records=records, cycle_table=None, warnings=[]), cell_spec(cell)).cycles
        datafile = DataFile.objects.create(
            cell=cell, original_name=f"{cell.name}.xlsx", size_bytes=0, sha256=f"{cell.pk:064x}",
            file=f"datafiles/bench-{cell.pk}.bin", status=DataFile.Status.IMPORTED, n_records=len(records),
            finished_at=timezone.now(),
            n_cycles=len(cycles),
        )
        buf = io.BytesIO()
        records.to_parquet(buf, index=False, compression="zstd")
        datafile.records_file = default_storage.save(f"records/bench-{cell.pk}.parquet", ContentFile(buf.getvalue()))
        datafile.save(update_fields=["records_file"])
        frame = cycles.reindex(columns=CYCLE_FIELDS)
        frame = frame.astype(object).where(pd.notna(frame), None)
        frame["c_rate_label"] = frame["c_rate_label"].fillna("")
        frame["segment"] = frame["segment"].fillna("")
        if "ce_convention" in frame:  # a per-cycle column since the cycle-identity checks; set as the ingest does
            frame["ce_convention"] = cycles.attrs.get("ce_convention") or ""
        frame["is_partial"] = frame["is_partial"].fillna(False).astype(bool)
        frame["file_cycle"] = frame["cycle"]  # one file per cell: the cell's cycle is the file's
        CycleSummary.objects.bulk_create(
            [CycleSummary(datafile=datafile, cell=cell, **row) for row in frame.to_dict("records")], batch_size=2000)
    ingest_eis(cells)
    user = UserFactory(username="bench-viewer", roles=[VIEWER])
    cells[0].project.members.add(user)
    groups = list(CellGroup.objects.order_by("-name").values_list("pk", flat=True))  # LNTO-coated, bare
    return user, groups, len(cells), CycleSummary.objects.count()


def ingest_eis(cells):
    """One after-formation study spectrum per cell (after cycle 2) through the upload + EIS ingest."""
    from unittest import mock

    from cells.demo import COATED
    from cycling import services
    from impedance.simulate import study_spectrum
    from tests.impedance.test_services import write_mpt
    from tests.landfiles import upload_file

    for cell in cells:
        kind = "coated" if cell.group.name == COATED else "bare"
        data = write_mpt([study_spectrum(kind, seed=cell.pk)])
        with mock.patch.object(services, "datafile_enqueue"):
            datafile, _ = services.datafile_create(cell=cell, upload=upload_file(data, f"{cell.name}_c2.mpt"),
                                                   kind="eis")
        services.datafile_ingest(datafile_id=datafile.pk)


def percentile(values, q):
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(client, url, repeat):
    for _ in range(3):  # warm-up: imports, permission cache, SQLite page cache
        client.get(url)
    times, body = [], b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000.0)
        assert resp.status_code == 200, (url, resp.status_code)
        body = resp.content
    return {
        "url": url, "n": repeat, "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
        "max_ms": round(max(times), 1), "bytes": len(body), "gzip_bytes": len(gzip.compress(body, 6)),
    }


def page_payload(client, query):
    """What a browser fetches to show the compare page (default options: mean mode, default profile cycles)."""
    from django.contrib.staticfiles import finders

    from lab.views import DEFAULT_PROFILE_CYCLES

    parts = []
    html = client.get(f"/compare/?{query}").content
    parts.append(("compare page HTML", len(html), len(gzip.compress(html, 6))))
    for name in ("css/app.css", "vendor/plotly.min.js", "js/plots.js", "js/impedance.js", "js/compare.js"):
        data = Path(finders.find(name)).read_bytes()
        parts.append((name, len(data), len(gzip.compress(data, 6))))
    api = client.get(f"/api/v1/compare/?{query}")
    parts.append(("/api/v1/compare/", len(api.content), len(gzip.compress(api.content, 6))))
    body = api.json()
    seen, profile_bytes, profile_gzip = set(), 0, 0
    for cell in body["cells"]:  # one replicate per group, as compare.js does in mean mode
        if cell["group_id"] in seen:
            continue
        seen.add(cell["group_id"])
        for url in (f"/api/v1/cells/{cell['id']}/curves/?points=250&cycles={DEFAULT_PROFILE_CYCLES}",
                    f"/api/v1/cells/{cell['id']}/dqdv/?cycles={DEFAULT_PROFILE_CYCLES}"):
            content = client.get(url).content
            profile_bytes += len(content)
            profile_gzip += len(gzip.compress(content, 6))
    parts.append((f"profiles + dQ/dV ({2 * len(seen)} requests)", profile_bytes, profile_gzip))
    # Impedance row: R_int vs cycle in one request, then the after-formation spectrum of each cell (max 12).
    urls = [f"/api/v1/eis/rint/?{query}"] + [f"/api/v1/eis/spectra/{r['r_int_spectrum_id']}/"
                                              for r in body["summary"]["cells"] if r["r_int_spectrum_id"]][:13]
    contents = [client.get(url).content for url in urls]
    parts.append((f"EIS: R_int + spectra ({len(urls)} requests)", sum(map(len, contents)),
                  sum(len(gzip.compress(c, 6)) for c in contents)))
    return parts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--cells-per-group", type=int, default=6)
    parser.add_argument("--cycles", type=int, default=500)
    args = parser.parse_args(argv)
    import importlib.util

    # The data is built with the test suite's helpers (factories, the EIS file writer): dev requirements.
    def absent(module):
        try:
            return importlib.util.find_spec(module) is None
        except ImportError:
            return True

    missing = [m for m in ("factory", "pytest") if absent(m)]
    if missing:
        sys.exit(f"bench_compare.py needs the dev requirements ({', '.join(missing)} missing): "
                 f"`{sys.executable} -m pip install -r requirements-dev.txt` (see bench/README.md).")

    with tempfile.TemporaryDirectory(prefix="assb-bench-") as var_dir:
        setup_django(var_dir)
        from django.db import connection
        from django.test import Client

        t0 = time.perf_counter()
        user, groups, n_cells, n_rows = build_study(args.cells_per_group, args.cycles)
        build_s = time.perf_counter() - t0
        client = Client()
        client.force_login(user)
        query = "groups=" + ",".join(map(str, groups))
        api = timed(client, f"/api/v1/compare/?{query}", args.repeat)
        api_ref = timed(client, f"/api/v1/compare/?{query}&reference_cycle=3", args.repeat)
        page_html = timed(client, f"/compare/?{query}", max(10, args.repeat // 3))
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(f"/api/v1/compare/?{query}")
        parts = page_payload(client, query)

    total_raw = sum(p[1] for p in parts)
    total_gzip = sum(p[2] for p in parts)
    result = {
        "cells": n_cells, "cycles_per_cell": args.cycles, "cycle_rows": n_rows, "build_s": round(build_s, 1),
        "compare_api": api, "compare_api_reference_cycle": api_ref, "compare_page_html": page_html,
        "compare_api_queries": len(queries),  # incl. session and user lookups
        "page_payload": [{"part": p[0], "bytes": p[1], "gzip_bytes": p[2]} for p in parts],
        "page_total_bytes": total_raw, "page_total_gzip_bytes": total_gzip,
        "targets": {"p95_ms": TARGET_P95_MS, "page_total_gzip_bytes": TARGET_PAGE_BYTES},
        "pass": api["p95_ms"] < TARGET_P95_MS and total_gzip < TARGET_PAGE_BYTES,
        "python": sys.version.split()[0],
    }
    print(f"\n{n_cells} cells x {args.cycles} cycles = {n_rows} CycleSummary rows (built in {build_s:.1f} s)\n")
    print(f"{'request':48} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'bytes':>10} {'gzip':>9}")
    for name, r in (("GET /api/v1/compare/ (2 groups)", api), ("  ... &reference_cycle=3", api_ref),
                    ("GET /compare/ (HTML)", page_html)):
        print(f"{name:48} {r['n']:>4} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} {r['bytes']:>10} {r['gzip_bytes']:>9}")
    print(f"compare API queries per request: {len(queries)}\n")
    print(f"{'compare page part':48} {'bytes':>12} {'gzip':>12}")
    for name, raw, gz in parts:
        print(f"{name:48} {raw:>12} {gz:>12}")
    print(f"{'TOTAL':48} {total_raw:>12} {total_gzip:>12}")
    print(f"\np95 {api['p95_ms']} ms (target < {TARGET_P95_MS:.0f}), page {total_gzip / 1e6:.2f} MB gzipped "
          f"(target < {TARGET_PAGE_BYTES / 1024 / 1024:.0f} MiB): {'PASS' if result['pass'] else 'FAIL'}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_compare.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {out / 'bench_compare.json'}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
