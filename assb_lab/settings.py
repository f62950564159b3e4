"""Django settings for assb-lab, read from the environment with safe embedded defaults.

Embedded default (no env): SQLite in WAL mode under var/, Celery on kombu's filesystem transport
under var/broker/, uploads under var/media/. Production: set DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY, ALLOWED_HOSTS, DEBUG=0 (see README and docker-compose.yml).
"""
import os
from pathlib import Path

import dj_database_url

from .env import env_bool, env_int, env_list, env_str, secret_key_from

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ASSB_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = secret_key_from(VAR_DIR / "secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "cells",
    "cycling",
    "impedance",
    "monitoring",
    "solidstate",  # electrolyte conductivity, CCD, stack pressure; only the lab faces import it (docs/solid_state.md)
    "lab",  # the faces composing the apps above; nothing imports it (docs/architecture.md)
    "effects",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "assb_lab.middleware.SecurityHeadersMiddleware",  # outermost but one: also covers lockout/error pages
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "assb_lab.middleware.BadQueryParameterMiddleware",  # a bad ?number= on a page: 400, not 500
]

ROOT_URLCONF = "assb_lab.urls"
WSGI_APPLICATION = "assb_lab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "monitoring.context_processors.alert_badge",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids
    # "database is locked" upgrades from read to write inside transactions.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not :memory:) so worker processes in integration tests share it; one per test run.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "cells.backends.RoleBackend",  # ModelBackend, its permission set in one query
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# No 'AXES: BEGIN ...' banner on every manage.py command; lockouts are still logged as warnings.
AXES_VERBOSE = False

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("LAB_TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never routed: uploads are served only through permission-checked views

# Uploads: stream to disk above 2.5 MB; the data-file API refuses anything above the limit.
ASSB_UPLOAD_MAX_BYTES = env_int("ASSB_UPLOAD_MAX_MB", 512) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640


def s3_storage() -> dict:
    """django-storages' S3 backend from AWS_* variables (keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by boto3)."""
    from boto3.s3.transfer import TransferConfig

    # boto3's default keeps up to 10 parts of 8 MB in memory per upload (80 MB per request thread); two parts
    # of 8 MB bound an upload's memory at ~16 MB whatever the file size (tests/hardening/test_s3_storage.py).
    transfer = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=2)
    transfer.max_in_memory_upload_chunks = 2
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            # "path" for servers without per-bucket host names (MinIO, moto, an IP address).
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "default_acl": None,
            "file_overwrite": False,
            # Reads of big objects spool to a temporary file instead of staying in memory (0 = never spool).
            "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
            "transfer_config": transfer,
        },
    }


if env_str("STORAGE_BACKEND", "filesystem") == "s3":
    _default_storage = s3_storage()
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Caches -------------------------------------------------------------------------------
# "dashboard": the dashboard API's JSON answers (cycling/cache.py), keyed by the cells' data versions, so
# an entry is never stale and any backend is correct. With ASSB_CACHE_URL (redis://...; compose sets it) all
# web processes share one cache; without (embedded) each process keeps its own in memory. "default" stays
# per process (dQ/dV peak tracks).
_CACHE_URL = env_str("ASSB_CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "dashboard": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL, "KEY_PREFIX": "assb",
        # A cache that does not answer within a second is skipped (the answer is computed), never waited on.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    } if _CACHE_URL.startswith(("redis://", "rediss://", "unix://")) else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dashboard",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
}

# --- Celery ---------------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu looks into the folder once a second by default: with two pool processes that let at most ~2
        # small files a second start, fewer than 20 cycler PCs send (bench/load.py --stack embedded). A look
        # is one directory listing: an idle worker then uses ~0.3 % of a core.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous API call is answered 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cells.auth.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cells.permissions.LabModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "cells.api.query.StrictQueryParamsFilter",  # first: an unknown parameter is a 400, never ignored
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "assb_lab.pagination.CheckedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# Who may read the API schema and its docs (/api/schema/, /api/docs/, /api/redoc/): anyone when true, signed-in
# users (a session or a token) otherwise. Default: public only in development (DEBUG on), behind login in production.
ASSB_API_DOCS_PUBLIC = env_bool("ASSB_API_DOCS_PUBLIC", DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "assb-lab API",
    "DESCRIPTION": "Cell builds, LAND cycling data and EIS spectra of a solid-state battery lab.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["assb_lab.views.ApiDocsVisible"],  # reads ASSB_API_DOCS_PUBLIC on each request
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MaterialKindEnum": "cells.models.Material.Kind",
        "DataFileKindEnum": "cycling.models.DataFile.Kind",
        "DataFileStatusEnum": "cycling.models.DataFile.Status",
        "AlertRuleKindEnum": "monitoring.models.KIND_CHOICES",
    },
}

# --- Security -------------------------------------------------------------------------------
_https = env_bool("ASSB_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy sent by assb_lab.middleware.SecurityHeadersMiddleware. Inline styles stay allowed
# for Plotly (it sets style attributes) and the group colour dots; scripts only from our own origin.
ASSB_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
# Pages whose own inline <script> (rendered from settings, no user data) is allowed by its SHA-256.
ASSB_CSP_HASH_INLINE_PATHS = ["/api/docs/", "/api/redoc/"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Ingest ---------------------------------------------------------------------------------
ASSB_INGEST_LEASE_S = env_int("ASSB_INGEST_LEASE_S", 60)  # a claim's lease, renewed by a heartbeat
ASSB_SWEEP_PENDING_AFTER_S = env_int("ASSB_SWEEP_PENDING_AFTER_S", 120)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-datafiles": {
        "task": "cycling.tasks.sweep_stale_datafiles",
        "schedule": float(env_int("ASSB_SWEEP_EVERY_S", 30)),
    },
    # Time-based alert rules (no new data for N hours) and retries of e-mails/webhooks that failed.
    "evaluate-quiet-runs": {
        "task": "monitoring.tasks.evaluate_due_cells",
        "schedule": float(env_int("ASSB_ALERT_EVALUATE_EVERY_S", 300)),
    },
    "prune-dataset-zips": {
        "task": "lab.tasks.prune_dataset_zips",
        "schedule": 24 * 3600.0,
    },
    "retry-alert-deliveries": {
        "task": "monitoring.tasks.retry_deliveries",
        "schedule": float(env_int("ASSB_ALERT_RETRY_EVERY_S", 60)),
    },
}
# Built dataset-export zips are caches kept this long (lab.tasks.prune_dataset_zips).
ASSB_DATASET_KEEP_DAYS = float(env_int("ASSB_DATASET_KEEP_DAYS", 7))
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Alerts: e-mail and links ---------------------------------------------------------------
# With EMAIL_HOST set, alerts go out over SMTP; the embedded default writes each e-mail as a file under
# var/mail/ so the demo works offline (open them with any text editor).
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_S", 20)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "assb-lab <alerts@localhost>")
# Absolute links in e-mails and webhooks point here.
ASSB_SITE_URL = env_str("ASSB_SITE_URL", "http://127.0.0.1:8000")
# Webhooks may only POST to public addresses (monitoring/webhook_safety.py); a lab whose receiver runs inside its
# network names that host here, exactly as written in the URL (comma-separated, e.g. mattermost.lab.internal).
ASSB_WEBHOOK_ALLOWED_HOSTS = env_list("ASSB_WEBHOOK_ALLOWED_HOSTS", [])
ASSB_ALERT_DELIVERY_MAX_ATTEMPTS = env_int("ASSB_ALERT_DELIVERY_MAX_ATTEMPTS", 8)
ASSB_BOARD_FINISHED_DAYS = env_int("ASSB_BOARD_FINISHED_DAYS", 14)  # finished runs stay on the board this long
