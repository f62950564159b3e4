"""The Celery application: broker and queues come from Django settings (CELERY_*)."""
import importlib
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assb_lab.settings")

app = Celery("assb_lab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# What an ingest and the rule evaluation it triggers import lazily (the readers, the Excel engines, the
# analysis, Parquet, the selectors). Imported once in the worker's main process before the pool forks, the
# pool processes inherit them: the first file a fresh worker takes then costs what every other file does
# (otherwise ~0.4 s of CPU more), which matters after every deploy and when workers are scaled up. Imports
# only: nothing here starts a thread before the fork.
PRELOAD = (
    "cycling.parsers.registry", "cycling.parsers.land", "cycling.parsers.arbin", "cycling.parsers.bdf",
    "cycling.parsers.biologic", "cycling.parsers.lanhe", "cycling.parsers.maccor", "cycling.parsers.neware",
    "fastexcel", "python_calamine", "pyarrow.parquet", "pyarrow.compute", "pyarrow.dataset", "pyarrow.pandas_compat",
    "pandas.core.arrays.arrow",
    "cycling.analysis", "cycling.analysis.pipeline", "cycling.analysis.timeline", "cycling.timezones",
    "cycling.selectors", "monitoring.services", "monitoring.selectors", "impedance.selectors",
)


@worker_init.connect
def preload_ingest_modules(**_kwargs) -> None:
    for name in PRELOAD:
        importlib.import_module(name)
