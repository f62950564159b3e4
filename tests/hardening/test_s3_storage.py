"""Real S3-compatible storage: moto's standalone server (a separate process on a free port) behind django-storages.

Upload -> ingest -> curves -> download -> delete runs against it with the settings production reads
(STORAGE_BACKEND=s3 and AWS_*), and a big upload goes to the bucket in multipart chunks, not whole in memory.
"""
import os
import subprocess
import sys
import tempfile
import tracemalloc

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import override_settings

from assb_lab import settings as app_settings
from cycling import services
from cycling.models import CycleSummary, DataFile
from tests.hardening.procs import free_port, wait_port
from tests.landfiles import study_export, upload_file

pytestmark = pytest.mark.django_db

BUCKET = "assb-lab-test"


@pytest.fixture(scope="module")
def s3_server():
    pytest.importorskip("moto.server", reason="moto[server] is a test requirement (requirements-dev.txt)")
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The app's default storage on a fresh bucket of the server, configured through the environment."""
    import boto3

    for name, value in {"STORAGE_BACKEND": "s3", "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": s3_server,
                        "AWS_S3_REGION_NAME": "us-east-1", "AWS_S3_ADDRESSING_STYLE": "path",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    with override_settings(STORAGES={**app_settings.STORAGES, "default": app_settings.s3_storage()}):
        from django.core.files.storage import storages

        assert type(storages["default"]).__name__ == "S3Storage"
        yield client
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    if keys:
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_it_runs_upload_ingest_curves_download_and_delete_on_s3(
        s3, device_api, api, cell, django_capture_on_commit_callbacks):
    data, _ = study_export("coated", n_cycles=12, points=40)
    resp = device_api.post("/api/v1/datafiles/", {"file": upload_file(data, "pc.xlsx"), "cell": cell.name}, format="multipart")
    assert resp.status_code == 202, resp.content
    datafile = DataFile.objects.get(pk=resp.json()["id"])
    assert _keys(s3) == {datafile.file.name}  # the original bytes are in the bucket, nowhere else
    assert s3.get_object(Bucket=BUCKET, Key=datafile.file.name)["Body"].read() == data

    assert services.datafile_ingest(datafile_id=datafile.pk) == "imported"
    datafile.refresh_from_db()
    assert _keys(s3) == {datafile.file.name, datafile.records_file}  # + the Parquet records
    assert CycleSummary.objects.filter(datafile=datafile).count() == 12

    curves = api.get(f"/api/v1/cells/{cell.pk}/curves/?cycles=1,last&points=50").json()  # reads the Parquet back
    charge1 = next(t for t in curves["traces"] if t["cycle"] == 1 and t["half"] == "charge")
    assert max(charge1["capacity"]) == pytest.approx(188.2, rel=0.01)  # the study's 1st charge, mAh/g

    download = api.get(f"/api/v1/datafiles/{datafile.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == data

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datafiles/{datafile.pk}/").status_code == 204
    assert not DataFile.objects.filter(pk=datafile.pk).exists()
    assert _keys(s3) == set()  # neither the upload nor its records are left in the bucket


def test_it_streams_a_big_upload_to_s3_in_parts_without_holding_it_in_memory(s3, cell):
    size = 96 * 1024 * 1024
    upload = TemporaryUploadedFile("big.xlsx", "application/octet-stream", size, None)
    rng_block = os.urandom(1 << 20)
    for k in range(size >> 20):  # 96 different MiB blocks, written the way the upload handler spools to disk
        upload.write(bytes([k]) + rng_block[1:])
    upload.seek(0)
    from django.core.files.storage import default_storage

    # botocore loads its S3 service model (~20 MB of JSON) and the transfer machinery on first use: once per
    # process, not per upload, so a small upload goes first.
    default_storage.delete(default_storage.save("warm-up.bin", ContentFile(b"warm-up")))
    tracemalloc.start()
    try:
        datafile, created = services.datafile_create(cell=cell, upload=upload, kind="cycling", enqueue=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    assert created
    head = s3.head_object(Bucket=BUCKET, Key=datafile.file.name)
    assert head["ContentLength"] == size
    assert "-" in head["ETag"]  # an S3 multipart upload's ETag is "<md5 of part md5s>-<number of parts>"
    assert int(head["ETag"].strip('"').rsplit("-", 1)[1]) >= 2
    # Bounded by the transfer settings (two 8 MB parts and their buffers, ~30 MB), not by the file's size.
    assert peak < 0.4 * size, f"peak Python memory {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB upload"
