"""Settings for the test suite: the real settings, with plain-HTTP cookies and fast password hashing."""
import os
from pathlib import Path

os.environ.setdefault("ASSB_HTTPS", "0")
# Tests keep their database, media and broker apart from the demo's var/.
# Under pytest-xdist each test process gets a folder of its own (media, broker), as it has a database of its own.
# (Set, not defaulted: the workers inherit the environment of the controlling process, which set it already.)
_TEST_VAR = Path(__file__).resolve().parent.parent / "var" / "test"
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["ASSB_VAR_DIR"] = str(_TEST_VAR / os.environ["PYTEST_XDIST_WORKER"])
else:
    os.environ.setdefault("ASSB_VAR_DIR", str(_TEST_VAR))

from assb_lab.settings import *  # noqa: E402,F403
from assb_lab.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
AXES_VERBOSE = False
# The delivery tests run their webhook receivers on this machine: the one internal host they may reach.
ASSB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]

# Under pytest-xdist each test process has its own database, so it gets its own Celery queue too: a worker
# started by one process's integration test must never take a task queued by another's. The workers those tests
# start inherit PYTEST_XDIST_WORKER with the environment and so listen on the same queue.
if os.environ.get("PYTEST_XDIST_WORKER"):
    CELERY_TASK_DEFAULT_QUEUE = f"assb-test-{os.environ['PYTEST_XDIST_WORKER']}"
