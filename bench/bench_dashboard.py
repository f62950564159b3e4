"""Per-request CPU cost of the dashboard API (the endpoints bench/load.py's users call), cached vs computed.

    python bench/bench_dashboard.py [--cells 20] [--requests 40] [--json out.json]

Builds load.py's world on the embedded stack (SQLite under a temporary folder: `--cells` cells with a
50-cycle run each, 30 user tokens), then calls each endpoint in process through Django's test client with a
user token (middleware, token authentication, permissions and rendering included, no HTTP server) and reports,
measured side by side in one run:
  - CPU ms per request when the answer is computed (the dashboard cache emptied before each request) and
    when it comes from the cache, and their ratio;
  - compare for a new combination of 3 cells whose parts are cached (load.py's users pick random triples);
  - the database queries of one cached and one computed request.
CPU time (time.process_time) rather than wall time: on a shared machine it is what a request costs the
server. Needs only the runtime requirements.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40, help="requests per measurement")
    parser.add_argument("--json")
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="assb-bench-dashboard-")
    env = {"DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": var, "ASSB_HTTPS": "0", "DEBUG": "0",
           "CELERY_BROKER_URL": "filesystem://", "LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    for name in ("DATABASE_URL", "ASSB_CACHE_URL"):
        os.environ.pop(name, None)
    from load import SETUP  # noqa: E402  (the world load.py browses)

    print(f"setting up {args.cells} cells with a 50-cycle run each under {var} ...", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    out = subprocess.run([sys.executable, "-c", SETUP, str(args.cells), "30"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    world = json.loads(out.stdout.strip().splitlines()[-1])

    import django

    django.setup()
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client

    cache = caches["dashboard"]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {world['users'][0]}")
    cells = world["cells"]
    urls = {"cycles": f"/api/v1/cells/{cells[0]}/cycles/",
            "curves": f"/api/v1/cells/{cells[0]}/curves/?cycles=1,2,10,last",
            "compare": f"/api/v1/compare/?cells={','.join(map(str, cells[1:4]))}"}

    def cpu_ms(calls):
        t0 = time.process_time()
        n = 0
        for call in calls:
            call()
            n += 1
        return (time.process_time() - t0) / n * 1000

    def queries(url):
        seen = []

        def record(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            resp = client.get(url)
        assert resp.status_code == 200, resp.content[:300]
        return len(seen), resp["X-Cache"]

    def computed(url):
        cache.clear()
        client.get(url)

    rows = []
    for name, url in urls.items():
        client.get(url)  # imports, first-call costs
        cache.clear()
        n_miss = queries(url)
        n_hit = queries(url)
        assert (n_miss[1], n_hit[1]) == ("miss", "hit"), (n_miss, n_hit)
        miss = cpu_ms([lambda url=url: computed(url)] * args.requests)
        client.get(url)
        hit = cpu_ms([lambda url=url: client.get(url)] * args.requests)
        rows.append({"endpoint": name, "computed_cpu_ms": round(miss, 2), "cached_cpu_ms": round(hit, 2),
                     "ratio": round(miss / hit, 1), "queries_computed": n_miss[0], "queries_cached": n_hit[0]})

    combos = list(itertools.combinations(cells, 3))
    random.Random(0).shuffle(combos)
    warm, fresh = combos[: len(cells) * 2], combos[len(cells) * 2:][: args.requests]
    cache.clear()
    for combo in warm:  # every cell's part is cached, the combinations below are new
        client.get(f"/api/v1/compare/?cells={','.join(map(str, combo))}")
    new_combo = cpu_ms([lambda c=c: client.get(f"/api/v1/compare/?cells={','.join(map(str, c))}") for c in fresh])
    rows.append({"endpoint": "compare, new 3-cell combination (cells cached)", "computed_cpu_ms": round(new_combo, 2),
                 "cached_cpu_ms": None, "ratio": None, "queries_computed": None, "queries_cached": None})

    print(f"\nCPU ms per request, {args.requests} requests each, load average {os.getloadavg()[0]:.2f}")
    header = ["endpoint", "computed", "cached", "ratio", "queries computed/cached"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        q = f"{r['queries_computed']} / {r['queries_cached']}" if r["queries_cached"] is not None else "-"
        print(f"| {r['endpoint']} | {r['computed_cpu_ms']} | {r['cached_cpu_ms'] or '-'} | {r['ratio'] or '-'} | {q} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))
    import shutil

    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
