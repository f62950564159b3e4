"""Start and stop the app's own processes for benchmarks: the embedded stack or the production stack.

embedded:   SQLite (WAL) + kombu's filesystem broker under a temporary ASSB_VAR_DIR (what quickstart.py runs).
production: the machine's PostgreSQL and Redis, each benchmark on its own database and Redis db number
            (created fresh, dropped / flushed at the end), gunicorn, N Celery worker nodes and ONE beat,
            with the settings docker-compose.yml sets.

Needs only the runtime requirements (requirements.txt): requests, psycopg, redis, gunicorn, celery.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
WORKER_NICE = 10  # docker-compose.yml's worker command: `nice -n 10 celery ... worker`


def require(*modules: str, extra: str = "requirements.txt") -> None:
    """Exit with a clear message (not a traceback) when a module the benchmark needs is missing."""
    import importlib.util

    def absent(module):
        try:
            return importlib.util.find_spec(module) is None
        except ImportError:
            return True

    missing = [m for m in modules if absent(m)]
    if missing:
        sys.exit(f"{Path(sys.argv[0]).name} needs {', '.join(missing)}: install them with "
                 f"`{PY} -m pip install -r {extra}` (see bench/README.md).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} not open after {timeout_s} s")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Stack:
    """One running copy of the app: web, workers, beat; every process in its own group, all stopped by close()."""

    name = "?"

    def __init__(self, *, keep: bool = False):
        self.keep = keep
        self.var = Path(tempfile.mkdtemp(prefix=f"assb-bench-{self.name}-"))
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": str(self.var),
                    "ASSB_HTTPS": "0", "DEBUG": "0", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
        self.procs: list[subprocess.Popen] = []
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.base_url = ""

    # --- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> Stack:
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        return self

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=(self.var / log_name).open("wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_web(self, workers: int = 2, threads: int = 4) -> str:
        port = free_port()
        self._spawn([PY, "-m", "gunicorn", "assb_lab.wsgi:application", "-b", f"127.0.0.1:{port}",
                     "-w", str(workers), "--threads", str(threads), "--timeout", "60"], "gunicorn.log")
        wait_port(port)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def worker_argv(self, node: str, concurrency: int) -> list[str]:
        return [PY, "-m", "celery", "-A", "assb_lab", "worker", "-l", "info", "-c", str(concurrency),
                "--prefetch-multiplier", "1", "-n", f"{node}@%h"]

    def start_workers(self, nodes: int, concurrency: int, *, tag: str = "w", ready_timeout_s: float = 60) -> None:
        """Start `nodes` worker processes of `concurrency` pool processes each; return once all are ready."""
        started = []
        for k in range(nodes):
            log = f"worker-{tag}{k}.log"
            proc = self._spawn(self.worker_argv(f"{tag}{k}", concurrency), log)
            started.append((proc, self.var / log))
        self.workers += started
        deadline = time.monotonic() + ready_timeout_s
        for proc, log in started:
            while " ready." not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a Celery worker did not start; its log:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)

    def stop_workers(self) -> None:
        for proc, _ in self.workers:
            self._stop(proc)
        self.workers = []

    def start_beat(self) -> None:
        self._spawn([PY, "-m", "celery", "-A", "assb_lab", "beat", "-l", "warning",
                     "-s", str(self.var / "celerybeat-schedule")], "beat.log")

    def script(self, code: str, *args: str, timeout_s: float = 600) -> dict:
        """Run Django code in a fresh process of this stack; its last stdout line is JSON."""
        out = subprocess.run([PY, "-c", code, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             timeout=timeout_s)
        if out.returncode:
            raise RuntimeError(f"{self.name}: a setup script failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            self._stop(proc)
        if self.keep:
            print(f"kept {self.var} (logs, media)")
        else:
            shutil.rmtree(self.var, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EmbeddedStack(Stack):
    name = "embedded"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.env["CELERY_BROKER_URL"] = "filesystem://"
        self.env.pop("DATABASE_URL", None)

    def worker_argv(self, node, concurrency):
        # The filesystem transport has no broadcast: mingle/gossip/heartbeat only poll for nothing.
        return [*super().worker_argv(node, concurrency), "--without-mingle", "--without-gossip", "--without-heartbeat"]


class ProductionStack(Stack):
    """PostgreSQL database `db_name` (dropped and made anew) and Redis db `redis_db` (flushed before and after)."""

    name = "production"

    def __init__(self, *, pg_url: str, db_name: str, redis_url: str, redis_db: int, **kw):
        super().__init__(**kw)
        self.pg_admin = urlunsplit(urlsplit(pg_url)._replace(path="/postgres"))
        self.db_name = db_name
        self.redis = urlunsplit(urlsplit(redis_url)._replace(path=f"/{redis_db}"))
        self.env.update({
            "DATABASE_URL": urlunsplit(urlsplit(pg_url)._replace(path=f"/{db_name}")),
            "CELERY_BROKER_URL": self.redis,
            # What docker-compose.yml sets: persistent connections, the default lease and visibility timeout.
            "DB_CONN_MAX_AGE": "60", "CELERY_VISIBILITY_TIMEOUT": "3600", "ASSB_INGEST_LEASE_S": "60",
            "ASSB_SWEEP_EVERY_S": "30",
            # The dashboard cache on Redis as compose has it (there db 1; here the run's own db, flushed with it).
            "ASSB_CACHE_URL": self.redis,
        })
        self.created = False

    def worker_argv(self, node, concurrency):
        # As compose runs them: ingest at nice 10, so the web on the same cores answers first.
        return ["nice", "-n", str(WORKER_NICE), *super().worker_argv(node, concurrency)]

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def _flush(self) -> None:
        import redis

        redis.Redis.from_url(self.redis, socket_connect_timeout=5).flushdb()

    def prepare(self):
        import psycopg
        import redis

        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self.db_name}"')
        except psycopg.OperationalError as exc:
            raise SystemExit(f"production stack: cannot reach PostgreSQL at {self.pg_admin} ({exc}); "
                             "start it or pass --pg-url") from exc
        self.created = True
        try:
            self._flush()
        except redis.RedisError as exc:
            raise SystemExit(f"production stack: cannot reach Redis at {self.redis} ({exc}); "
                             "start it or pass --redis-url") from exc
        return super().prepare()

    def close(self):
        super().close()
        if self.created:
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                self._flush()
            except Exception as exc:  # cleanup must not hide the report
                print(f"warning: could not clean up {self.db_name} / {self.redis}: {exc}")


def add_stack_options(parser, *, redis_db: int, db_name: str) -> None:
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server of the production stack (its own database is made there)")
    parser.add_argument("--db-name", default=db_name, help="database created and dropped by the run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis server of the production stack")
    parser.add_argument("--redis-db", type=int, default=redis_db, help="Redis db number flushed before and after")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, media)")


def make_stack(kind: str, args) -> Stack:
    if kind == "embedded":
        return EmbeddedStack(keep=args.keep)
    return ProductionStack(pg_url=args.pg_url, db_name=args.db_name, redis_url=args.redis_url,
                           redis_db=args.redis_db, keep=args.keep)
