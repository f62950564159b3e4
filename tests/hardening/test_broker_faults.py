"""The broker (a private Redis) is killed and restarted while a worker holds an ingest: the file ends imported
exactly once, the web keeps answering, and an upload made while Redis is down is imported once it is back.

The layout is the production one (docker-compose.yml): gunicorn, a Celery worker without -B, a separate
`celery beat`, Redis with an append-only file. The machine's own Redis is never touched.
"""
import io
import os
import subprocess
import sys
import threading
import time
import uuid

import pandas as pd
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token

from cycling.models import CycleSummary, DataFile
from cycling.simulate import study_cell
from cycling.testing import write_land
from tests.factories import CellFactory
from tests.hardening.procs import ROOT, App, PrivateRedis
from tests.integration.conftest import Worker, _test_database_url, wait_for
from tests.landfiles import study_export

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def long_export():
    """~60,000 records: the ingest takes a few seconds, long enough to pull the broker away under it."""
    records, _ = study_cell("coated", n_cycles=250, points_per_half_cycle=110, replicate=3)
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue(), records


class Supervised:
    """Restart the worker whenever it exits, as docker-compose.yml's `restart: unless-stopped` (or systemd's
    Restart=always) does: Celery 5.7 / kombu 5.7 end the worker's main process with "Unrecoverable error:
    AttributeError" when Redis drops while it holds an acks_late task (its running task still finishes)."""

    def __init__(self, worker: Worker):
        self.worker, self.restarts, self._stop = worker, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(0.5):
            if self.worker.proc.poll() is not None:
                self.restarts += 1
                self.worker.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.worker.stop()


def _one_result(datafile: DataFile, n_records: int, n_cycles: int) -> None:
    datafile.refresh_from_db()
    assert datafile.status == "imported", datafile.error
    assert datafile.n_records == n_records and datafile.n_cycles == n_cycles
    cycles = list(CycleSummary.objects.filter(datafile=datafile).values_list("cycle", flat=True))
    assert len(cycles) == len(set(cycles)) == n_cycles  # one set of cycle rows, no duplicate
    _, names = default_storage.listdir("records")
    assert sum(n.startswith(str(datafile.uid)) for n in names) == 1  # one Parquet file
    with default_storage.open(datafile.records_file) as fh:
        assert len(pd.read_parquet(fh)) == n_records


def test_a_redis_restart_during_an_ingest_leaves_one_import_and_the_web_answers_meanwhile(
        tmp_path, long_export, device, cell, researcher):
    import requests

    data, records = long_export
    redis = PrivateRedis(persist=True).start()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _test_database_url(),
           "ASSB_VAR_DIR": str(settings.VAR_DIR), "CELERY_BROKER_URL": redis.url(), "PYTHONUNBUFFERED": "1",
           # Short, so that Redis hands the unacknowledged task out again while the first run is still going:
           # the worst case of a redelivery after a restart (production: 3600 s, longer than any ingest).
           "CELERY_VISIBILITY_TIMEOUT": "5", "ASSB_INGEST_LEASE_S": "6", "ASSB_SWEEP_EVERY_S": "1",
           "ASSB_SWEEP_PENDING_AFTER_S": "120"}
    user_headers = {"Authorization": f"Token {Token.objects.create(user=researcher).key}"}
    device_headers = {"Authorization": f"Token {device.key}"}
    app = worker = beat = None
    try:
        app = App(env, tmp_path, workers=1, threads=4)
        worker = Supervised(Worker(env, tmp_path, concurrency=2).start())
        resp = requests.post(f"{app.url}/api/v1/datafiles/", headers=device_headers, timeout=30,
                             files={"file": ("long.xlsx", data)}, data={"cell": cell.name})
        assert resp.status_code == 202, resp.text
        first = DataFile.objects.get(pk=resp.json()["id"])
        wait_for(lambda: DataFile.objects.get(pk=first.pk).status == "parsing", 60, "the worker to take the file",
                 interval_s=0.05)

        redis.stop()  # SIGKILL while the worker holds the task unacknowledged
        down_since = time.monotonic()
        status = requests.get(f"{app.url}/api/v1/datafiles/{first.pk}/", headers=user_headers, timeout=10)
        assert status.status_code == 200 and status.json()["status"] in ("parsing", "imported")
        assert requests.get(f"{app.url}/healthz", timeout=10).status_code == 200
        small, small_info = study_export("coated", n_cycles=4, points=20, replicate=7)
        other = CellFactory(project=cell.project, name="LNTO-02")
        t0 = time.monotonic()
        resp = requests.post(f"{app.url}/api/v1/datafiles/", headers=device_headers, timeout=30,
                             files={"file": ("while-down.xlsx", small)}, data={"cell": other.name})
        assert resp.status_code == 202, resp.text
        assert time.monotonic() - t0 < 5  # the upload does not hang on the missing broker
        second = DataFile.objects.get(pk=resp.json()["id"])
        assert second.status == "pending" and second.queued_at is None  # kept for the sweeper
        time.sleep(max(0.0, 3 - (time.monotonic() - down_since)))

        redis.start()  # same port and data directory: the queue and the unacknowledged task come back
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "assb_lab", "beat", "-l", "info",
             "-s", str(tmp_path / f"beat-{uuid.uuid4().hex[:6]}")],
            cwd=ROOT, env=env, stdout=(tmp_path / "beat.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(lambda: DataFile.objects.get(pk=first.pk).status in ("imported", "failed")
                 and DataFile.objects.get(pk=second.pk).status in ("imported", "failed"), 120, "both ingests")
        time.sleep(8)  # past the visibility timeout: a redelivered copy of the task gets its chance to run

        _one_result(first, len(records), 250)
        _one_result(second, len(small_info["records"]), 4)
        assert DataFile.objects.get(pk=second.pk).queued_at is not None  # sent by the sweeper, not the upload
        assert CycleSummary.objects.filter(datafile__cell=cell).count() == 250
        assert CycleSummary.objects.filter(datafile__cell=other).count() == 4
    finally:
        if beat and beat.poll() is None:
            beat.terminate()
            beat.wait(timeout=20)
        if worker:
            worker.stop()
            print(f"worker restarts: {worker.restarts}")
            print(worker.worker.log_text())
        if app:
            app.stop()
        redis.destroy()
