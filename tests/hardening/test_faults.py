"""Faults with real processes: the database goes away mid-ingest, the broker is down when an upload arrives,
two workers race on one file. (A worker SIGKILLed mid-ingest: tests/integration/test_worker.py.)"""
import hashlib
import io
import os
import subprocess
import sys
import time
from unittest import mock

import pandas as pd
import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from cycling import services
from cycling.models import CycleSummary, DataFile
from cycling.parsers import read_land
from cycling.simulate import study_cell
from cycling.testing import write_land
from tests.hardening.procs import ROOT, App, PrivatePostgres, PrivateRedis, pg_bin
from tests.helpers import post_datafile
from tests.integration.conftest import Worker, _test_database_url, wait_for
from tests.landfiles import study_export, upload_file

pytestmark = [pytest.mark.integration]

COLS = ["record", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "cycle"]


def checksum(records: pd.DataFrame) -> str:
    return hashlib.sha256(records[COLS].to_numpy(dtype=float).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def long_export():
    """~60,000 records: parsing takes a few seconds, long enough to pull the database away under it."""
    records, _ = study_cell("coated", n_cycles=250, points_per_half_cycle=110, replicate=2)
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue(), records


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(env, **kw):
        w = Worker(env, tmp_path, **kw).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
    for w in started:
        print(w.log_text())


# --- database outage --------------------------------------------------------------------------------

SEED = """
import sys, django
django.setup()
from unittest import mock
from cells.roles import ensure_roles
from cycling import services
from tests.factories import CellFactory
from tests.landfiles import upload_file
cell = CellFactory(name="PG-01")
datafile, _ = services.datafile_create(cell=cell, upload=upload_file(open(sys.argv[1], "rb").read()), kind="cycling")
print(datafile.pk)
"""


def test_an_ingest_survives_a_database_outage_and_completes(tmp_path, workers, long_export):
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    import psycopg

    data, records = long_export
    pg = PrivatePostgres().init()
    try:
        pg.createdb()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": pg.url(),
               "ASSB_VAR_DIR": str(tmp_path / "var"), "CELERY_BROKER_URL": "filesystem://",
               "ASSB_INGEST_LEASE_S": "3", "PYTHONUNBUFFERED": "1"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=60)
        (tmp_path / "export.xlsx").write_bytes(data)
        seeded = subprocess.run([sys.executable, "-c", SEED, str(tmp_path / "export.xlsx")], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        datafile_id = int(seeded.stdout.strip().splitlines()[-1])

        def query(sql):
            try:
                with psycopg.connect(pg.url(), connect_timeout=2) as conn:
                    return conn.execute(sql, (datafile_id,)).fetchone()
            except psycopg.OperationalError:
                return None

        def status():
            row = query("SELECT status FROM cycling_datafile WHERE id = %s")
            return row and row[0]

        worker = workers(env)
        wait_for(lambda: status() == "parsing", 30, "the worker to start parsing", interval_s=0.02)
        pg.stop("fast")  # terminates every connection, refuses new ones
        time.sleep(4)
        pg.start()
        wait_for(lambda: status() in ("imported", "failed"), 45, "the ingest after the outage")
        n_records, n_cycles, attempts, error = query(
            "SELECT n_records, n_cycles, attempts, error FROM cycling_datafile WHERE id = %s")
        rows, cycles = query("SELECT count(*), count(DISTINCT cycle) FROM cycling_cyclesummary WHERE datafile_id = %s")
        assert status() == "imported", error
        assert n_records == len(records) and rows == cycles == n_cycles == 250
        assert attempts >= 2
        assert "retry" in worker.log_text().lower()  # the outage was seen and retried, not failed
    finally:
        pg.destroy()


# --- broker down at upload time ---------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_broker_is_down_is_kept_and_imported_once_it_is_back(tmp_path, workers, device, cell):
    import requests

    redis = PrivateRedis().start()
    app = None
    try:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
               "DATABASE_URL": _test_database_url(), "ASSB_VAR_DIR": str(settings.VAR_DIR),
               "CELERY_BROKER_URL": redis.url(), "PYTHONUNBUFFERED": "1"}
        app = App(env, tmp_path, workers=1, threads=2)
        redis.stop()  # the broker dies before the uploads arrive

        def upload(replicate):
            data = study_export("coated", n_cycles=4, points=20, replicate=replicate)[0]
            started = time.monotonic()
            resp = requests.post(f"{app.url}/api/v1/datafiles/", headers={"Authorization": f"Token {device.key}"},
                                 files={"file": (f"pc-{replicate}.xlsx", data)}, data={"cell": cell.name}, timeout=30)
            assert resp.status_code == 202, resp.text
            return data, resp.json()["id"], time.monotonic() - started

        # Two uploads: the first also pays the web process's first-request imports, which on a loaded machine
        # took seconds by themselves; the second shows what the broker outage costs an upload.
        uploads = [upload(5), upload(6)]
        took = uploads[1][2]
        assert took < 5, f"the upload waited {took:.1f} s for the broker"
        for data, pk, _ in uploads:
            datafile = DataFile.objects.get(pk=pk)
            assert datafile.status == "pending" and datafile.queued_at is None
            assert default_storage.open(datafile.file.name).read() == data

        redis.start()  # back on the same port; the worker's beat sweeper finds the pending files
        workers({**env, "ASSB_SWEEP_EVERY_S": "1"}, beat=True)
        ids = [pk for _, pk, _ in uploads]
        wait_for(lambda: all(s in ("imported", "failed") for s in
                             DataFile.objects.filter(pk__in=ids).values_list("status", flat=True)), 45, "the ingests")
        for datafile in DataFile.objects.filter(pk__in=ids):
            assert datafile.status == "imported", datafile.error
            assert CycleSummary.objects.filter(datafile=datafile).count() == 4
    finally:
        if app:
            app.stop()
        redis.destroy()


# --- two workers on one file ------------------------------------------------------------------------

RACER = """
import sys, time, django
django.setup()
from cycling import services
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    print(services.datafile_ingest(datafile_id=int(sys.argv[1])))
except services.ClaimHeld:
    print("held")
"""


def _assert_one_result(datafile_id, data):
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "imported" and datafile.attempts == 1, (datafile.status, datafile.attempts)
    cycles = list(CycleSummary.objects.filter(datafile=datafile).values_list("cycle", flat=True))
    assert len(cycles) == len(set(cycles)) == datafile.n_cycles
    with default_storage.open(datafile.records_file) as fh:
        stored = pd.read_parquet(fh)
    assert len(stored) == datafile.n_records and checksum(stored) == checksum(read_land(io.BytesIO(data)).records)
    _, names = default_storage.listdir("records")
    assert sum(n.startswith(str(datafile.uid)) for n in names) == 1


@pytest.mark.django_db(transaction=True)
def test_two_processes_ingesting_the_same_file_at_once_leave_exactly_one_result(cell, long_export):
    data = long_export[0]
    with mock.patch.object(services, "datafile_enqueue"):
        datafile, _ = services.datafile_create(cell=cell, upload=upload_file(data), kind="cycling")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": _test_database_url(), "ASSB_VAR_DIR": str(settings.VAR_DIR)}
    go = time.time() + 4  # both start their ingest at the same instant, after Django is up
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(datafile.pk), str(go)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted(p.communicate(timeout=50)[0].strip().splitlines()[-1] for p in racers)
    assert outcomes in (["held", "imported"], ["imported", "imported"]), outcomes
    _assert_one_result(datafile.pk, data)


@pytest.mark.django_db(transaction=True)
def test_two_workers_given_the_task_twice_leave_exactly_one_result(workers, device_api, cell, tmp_path):
    from cycling.tasks import ingest_datafile

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": _test_database_url(), "ASSB_VAR_DIR": str(settings.VAR_DIR),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "PYTHONUNBUFFERED": "1"}
    first, second = workers(env), workers(env)
    data = study_export("coated", n_cycles=30, points=60, replicate=6)[0]
    resp = post_datafile(device_api, cell, data)
    datafile_id = resp.json()["id"]
    ingest_datafile.delay(datafile_id)  # a duplicate message, as after a broker redelivery
    wait_for(lambda: DataFile.objects.get(pk=datafile_id).status in ("imported", "failed"), 45, "the ingest")

    def settled():
        logs = first.log_text() + second.log_text()
        return logs.count("succeeded") >= 2 or logs.count("ingest_datafile") >= 4

    wait_for(settled, 20, "both messages to be handled")
    time.sleep(1)
    _assert_one_result(datafile_id, data)
