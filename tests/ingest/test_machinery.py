"""The neutral ingest machinery: it drives the DataFile model cycling registers, and publishes the end of every
ingest as the cell_data_ingested signal (monitoring's hook) without importing any subscriber."""
import pytest

from cycling.models import DataFile
from ingest import machinery
from ingest.signals import cell_data_ingested
from tests.helpers import ingest
from tests.landfiles import NOT_A_CYCLER, study_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    seen = []

    def receiver(sender, **kwargs):
        seen.append((sender, kwargs["cell_id"], kwargs["datafile_id"], kwargs["status"]))

    cell_data_ingested.connect(receiver, dispatch_uid="test-receiver")
    yield seen
    cell_data_ingested.disconnect(dispatch_uid="test-receiver")


def test_it_drives_the_datafile_model_cycling_registered():
    assert machinery.DataFile.Status.PENDING == DataFile.Status.PENDING == "pending"
    assert machinery.DataFile.objects.model is DataFile


def test_it_publishes_one_signal_per_ingest_imported_or_failed(cell, published):
    good = ingest(cell, study_export("coated", n_cycles=3)[0], "LNTO-01.xlsx")
    bad = ingest(cell, NOT_A_CYCLER, "room_logger.csv")
    assert (good.status, bad.status) == ("imported", "failed")
    assert published == [(DataFile, cell.pk, good.pk, "imported"), (DataFile, cell.pk, bad.pk, "failed")]


def test_it_publishes_nothing_when_the_file_was_already_imported(cell, published):
    datafile = ingest(cell, study_export("coated", n_cycles=3)[0], "LNTO-01.xlsx")
    published.clear()
    assert machinery.datafile_ingest(datafile_id=datafile.pk) == "imported"  # claimed by nobody: no handler ran
    assert published == []


def test_monitoring_subscribes_from_its_app_config():
    from monitoring.tasks import on_cell_data_ingested

    assert on_cell_data_ingested in [entry[1]() for entry in cell_data_ingested.receivers]  # (key, weakref, ...)
