"""Settings for the test suite: the real settings, with plain-HTTP cookies and fast password hashing."""
import os

os.environ.setdefault("ASSB_HTTPS", "0")

from assb_lab.settings import *  # noqa: E402,F403
from assb_lab.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
AXES_VERBOSE = False
