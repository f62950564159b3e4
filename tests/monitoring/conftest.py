"""Fixtures for monitoring: Celery tasks run in process, exports of generated runs, the bare study cell."""
import io
import zoneinfo
from datetime import datetime, timedelta

import pandas as pd
import pytest
from django.conf import settings
from django.utils import timezone

from cycling.testing import write_land
from tests.factories import CellFactory, GroupFactory
from tests.monitoring.runs import bare_run, fading_run


@pytest.fixture
def eager_celery():
    """Tasks sent with .delay() run right here (the on-commit sends of the ingest hook included)."""
    from assb_lab.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = before


def ending_at(records: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """The same run with its SysTime moved so the last record is at `end` (lab wall clock, like LAND writes)."""
    local_end = end.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None)
    shift = pd.Timestamp(local_end) - records["sys_time"].max()
    return records.assign(sys_time=records["sys_time"] + shift)


def land_bytes(records: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue()


@pytest.fixture(scope="session")
def bare_records():
    return bare_run(200)


@pytest.fixture(scope="session")
def fading_records():
    return fading_run(80)


@pytest.fixture
def bare_cell(project):
    return CellFactory(project=project, name="BARE-01", group=GroupFactory(project=project, name="bare"))


def recent(hours_ago: float = 1.0) -> datetime:
    return timezone.now() - timedelta(hours=hours_ago)
