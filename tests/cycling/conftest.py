"""Fixtures of the cycling tests: one study cell as records, as the LAND workbook of them, and imported."""
import pytest

from cycling.simulate import study_cell
from tests.factories import CellFactory
from tests.helpers import ingest
from tests.landfiles import land_bytes


@pytest.fixture(scope="module")
def study_records():
    """A coated study cell over 40 cycles of 20 records a half cycle: two formation cycles, then long-term."""
    return study_cell("coated", n_cycles=40, points_per_half_cycle=20)[0]


@pytest.fixture(scope="module")
def study_workbook(study_records) -> bytes:
    """study_records as LAND's modern xlsx export."""
    return land_bytes(study_records)


@pytest.fixture
def imported_cell(project, study_workbook):
    """A cell of the project with study_workbook imported by the ingest itself (no broker)."""
    cell = CellFactory(project=project, name="STUDY-01")
    datafile = ingest(cell, study_workbook, "study.xlsx")
    assert datafile.status == "imported", datafile.error
    return cell


@pytest.fixture
def web(viewer):
    """The viewer's browser session on the pages."""
    from tests.web.conftest import web_client

    return web_client(viewer)
