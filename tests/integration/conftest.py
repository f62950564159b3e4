"""Real processes for integration tests: a Celery worker on the configured broker and the test database."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    """URL of the database pytest-django created, for processes outside this one."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    original = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(original._replace(path="/" + db["NAME"]))


class Worker:
    """A `celery worker` process group that can be started, killed with SIGKILL and restarted."""

    def __init__(self, env: dict, log_dir: Path, concurrency: int = 1, beat: bool = False):
        self.env, self.log_dir, self.concurrency, self.beat = env, log_dir, concurrency, beat
        self.proc = None
        self.logs = []

    def start(self):
        log = self.log_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.logs.append(log)
        cmd = [sys.executable, "-m", "celery", "-A", "assb_lab", "worker", "-l", "info", "-P", "prefork",
               "-c", str(self.concurrency), "--without-mingle", "--without-gossip", "--without-heartbeat",
               "-n", f"test-{uuid.uuid4().hex[:8]}@%h"]
        if self.beat:
            cmd += ["-B", "-s", str(self.log_dir / f"beat-{uuid.uuid4().hex[:6]}")]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def kill(self):
        """SIGKILL the whole process group: no cleanup, no ack, like a power cut of the worker."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in self.logs if p.exists())


@pytest.fixture
def worker_env(transactional_db, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _test_database_url(),
        "ASSB_VAR_DIR": str(settings.VAR_DIR),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "ASSB_INGEST_LEASE_S": str(settings.ASSB_INGEST_LEASE_S),
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    """Start real worker processes; all are stopped (and their logs shown on failure) at teardown."""
    workers = []

    def start(**kwargs):
        w = Worker({**worker_env, **kwargs.pop("env", {})}, tmp_path, **kwargs).start()
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()
    for w in workers:
        print(w.log_text())


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
