"""An upload carries exactly one file: a second file part is refused with 400, never silently dropped."""
import pytest

from cycling.models import DataFile
from tests.landfiles import study_export, upload_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def two_exports():
    return study_export("coated", n_cycles=3)[0], study_export("bare", n_cycles=3)[0]


def test_it_refuses_two_file_parts_named_file(device_api, cell, two_exports):
    first, second = two_exports
    resp = device_api.post("/api/v1/datafiles/", {"file": [upload_file(first, "a.xlsx"), upload_file(second, "b.xlsx")],
                                                  "cell": cell.name}, format="multipart")
    assert resp.status_code == 400
    assert resp.json() == {"file": [
        "The upload holds 2 file parts (file: a.xlsx, file: b.xlsx); send one file per request "
        "(the folder uploader sends each file in its own request)."]}
    assert not DataFile.objects.exists()


def test_it_refuses_a_second_file_under_another_name(device_api, cell, two_exports):
    first, second = two_exports
    resp = device_api.post("/api/v1/datafiles/", {"file": upload_file(first, "a.xlsx"),
                                                  "extra": upload_file(second, "b.xlsx"), "cell": cell.name},
                           format="multipart")
    assert resp.status_code == 400
    assert "2 file parts (file: a.xlsx, extra: b.xlsx)" in resp.json()["file"][0]
    assert not DataFile.objects.exists()


def test_it_still_takes_one_file(device_api, cell, two_exports):
    resp = device_api.post("/api/v1/datafiles/", {"file": upload_file(two_exports[0], "a.xlsx"), "cell": cell.name},
                           format="multipart")
    assert resp.status_code == 202
    assert DataFile.objects.get().original_name == "a.xlsx"
