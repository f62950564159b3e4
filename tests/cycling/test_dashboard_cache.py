"""The dashboard API's cache (cycling/cache.py): a hit answers what a fresh computation would, and every
change of a cell's data (import, delete, timeline mark, failed reprocess, build sheet) gives a new answer."""
import io
from unittest import mock

import pandas as pd
import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.cache import caches
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cells.backends import RoleBackend
from cycling import selectors, services
from cycling.models import DataFile
from cycling.simulate import study_cell
from cycling.testing import write_land
from tests.conftest import client_for
from tests.helpers import ingest, resumed_run


@pytest.fixture(scope="module")
def run_in_two_parts():
    """A 12-cycle run exported after cycle 8 and resumed a day later (LAND numbers the second file from 1)."""
    records, _ = study_cell("coated", n_cycles=12, points_per_half_cycle=20)
    first, second = resumed_run(records, 8, pd.Timedelta(days=1))
    out = []
    for part in (first, second, first.iloc[::2]):  # the last: the first part exported again, thinned
        buf = io.BytesIO()
        write_land(part.reset_index(drop=True), buf, variant="modern")
        out.append(buf.getvalue())
    return out


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def get(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, resp.content
    return resp["X-Cache"], resp.json()


def cycles(client, cell):
    state, rows = get(client, f"/api/v1/cells/{cell.pk}/cycles/")
    return state, sorted(r["cycle"] for r in rows)


@pytest.mark.django_db
def test_it_answers_a_new_import_delete_and_mark_with_new_numbers(viewer, cell, run_in_two_parts):
    first, second, thinned = run_in_two_parts
    client = token_client(viewer)
    ingest(cell, first, "part1.xlsx")
    assert cycles(client, cell) == ("miss", list(range(1, 9)))
    assert cycles(client, cell) == ("hit", list(range(1, 9)))
    compare_url = f"/api/v1/compare/?cells={cell.pk}"
    assert get(client, compare_url)[1]["summary"]["cells"][0]["last_cycle"] == 8
    assert get(client, compare_url)[0] == "hit"
    curves_url = f"/api/v1/cells/{cell.pk}/curves/?cycles=1,last"
    assert {t["cycle"] for t in get(client, curves_url)[1]["traces"]} == {1, 8}

    later = ingest(cell, second, "part2.xlsx")  # continues the run: cycles 9-12
    assert cycles(client, cell) == ("miss", list(range(1, 13)))
    state, body = get(client, compare_url)
    assert state == "miss" and body["summary"]["cells"][0]["last_cycle"] == 12
    assert body["cells"][0]["cycle"] == list(range(1, 13))
    state, body = get(client, curves_url)
    assert state == "miss" and {(t["cycle"], t["file_cycle"]) for t in body["traces"]} == {(1, 1), (12, 4)}

    services.datafile_delete(datafile=later)
    assert cycles(client, cell) == ("miss", list(range(1, 9)))

    overlapping = ingest(cell, thinned, "part1-thinned.xlsx")  # the same cycles again: a conflict, both kept
    state, numbers = cycles(client, cell)
    assert state == "miss" and numbers == sorted([*range(1, 9)] * 2)
    services.datafile_mark_timeline(datafile=overlapping, mark="new_run")
    assert cycles(client, cell) == ("miss", list(range(1, 17)))
    assert cycles(client, cell) == ("hit", list(range(1, 17)))


@pytest.mark.django_db
def test_it_hides_a_failed_reprocess_and_follows_a_mass_correction(viewer, cell, run_in_two_parts):
    client = token_client(viewer)
    datafile = ingest(cell, run_in_two_parts[0], "part1.xlsx")
    url = f"/api/v1/cells/{cell.pk}/curves/?cycles=1"
    _, before = get(client, url)
    assert before["capacity_unit"] == "mAh/g"

    # A corrected loading: the curves are per gram of the new mass at once (the reprocess is queued).
    with mock.patch.object(services, "datafile_enqueue"):
        cell.composite_loading_mg_cm2 *= 2
        cell.save()
    state, after = get(client, url)
    assert state == "miss"
    ratio = before["traces"][0]["capacity"][-1] / after["traces"][0]["capacity"][-1]
    assert ratio == pytest.approx(2, rel=1e-3)

    # The reprocess fails: the file's old rows are no longer shown.
    assert cycles(client, cell)[1] == list(range(1, 9))
    DataFile.objects.filter(pk=datafile.pk).update(status=DataFile.Status.PENDING)
    with mock.patch("ingest.machinery.handler_for") as handler_for:
        handler_for.return_value.run.side_effect = ValueError("part1.xlsx: the records are gone")
        handler_for.return_value.bad_data = (ValueError,)
        assert services.datafile_ingest(datafile_id=datafile.pk) == DataFile.Status.FAILED
    assert cycles(client, cell) == ("miss", [])


@pytest.mark.django_db
def test_it_never_answers_a_hidden_cell_from_the_cache(viewer, outsider, cell, run_in_two_parts):
    ingest(cell, run_in_two_parts[0], "part1.xlsx")
    assert cycles(token_client(viewer), cell)[0] == "miss"
    other = token_client(outsider)
    assert other.get(f"/api/v1/cells/{cell.pk}/cycles/").status_code == 404
    assert other.get(f"/api/v1/cells/{cell.pk}/curves/").status_code == 404
    body = other.get(f"/api/v1/compare/?cells={cell.pk}").json()
    assert body["cells"] == [] and body["selection"]["cells"] == []


@pytest.mark.django_db
def test_it_keeps_answering_when_the_cache_is_away(viewer, cell, run_in_two_parts):
    ingest(cell, run_in_two_parts[0], "part1.xlsx")
    client = token_client(viewer)
    cache = caches["dashboard"]
    with mock.patch.object(cache, "get", side_effect=ConnectionError("down")), \
            mock.patch.object(cache, "set", side_effect=ConnectionError("down")):
        assert cycles(client, cell) == ("miss", list(range(1, 9)))
        assert get(client, f"/api/v1/compare/?cells={cell.pk}")[1]["cells"][0]["cycle"] == list(range(1, 9))


@pytest.mark.django_db
def test_it_answers_a_cell_in_three_queries_from_the_cache(
        viewer, cell, run_in_two_parts, django_assert_num_queries):
    ingest(cell, run_in_two_parts[0], "part1.xlsx")
    client = token_client(viewer)
    url = f"/api/v1/cells/{cell.pk}/cycles/"
    # user token (with the user), permission set, the visible cell's stamp (+ the rows on a miss)
    with django_assert_num_queries(4):
        assert client.get(url)["X-Cache"] == "miss"
    with django_assert_num_queries(3):
        assert client.get(url)["X-Cache"] == "hit"
    curves = f"/api/v1/cells/{cell.pk}/curves/?cycles=1"
    with django_assert_num_queries(6):  # + the cell, its files, their cycles' owners
        assert client.get(curves)["X-Cache"] == "miss"
    with django_assert_num_queries(3):
        assert client.get(curves)["X-Cache"] == "hit"


@pytest.mark.django_db
def test_it_gives_the_same_rows_as_the_serializer(viewer, cell, run_in_two_parts):
    from cycling.api.serializers import CycleSummarySerializer
    from cycling.selectors import cycles_of

    ingest(cell, run_in_two_parts[0], "part1.xlsx")
    _, rows = get(client_for(viewer), f"/api/v1/cells/{cell.pk}/cycles/?cycle_min=2&cycle_max=5")
    expected = CycleSummarySerializer(cycles_of([cell]).filter(cycle__gte=2, cycle__lte=5), many=True).data
    assert rows == [dict(r) for r in expected] and len(rows) == 4


@pytest.mark.django_db
def test_role_backend_gives_model_backends_permission_set(viewer, researcher, outsider):
    viewer.user_permissions.add(Permission.objects.get(codename="add_datafile"))
    for user in (viewer, researcher, outsider):
        fresh = type(user).objects.get(pk=user.pk)
        expected = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
        assert RoleBackend().get_all_permissions(fresh) == expected and len(expected) > 3
    assert "cycling.add_datafile" in RoleBackend().get_all_permissions(type(viewer).objects.get(pk=viewer.pk))
    inactive = type(viewer).objects.get(pk=viewer.pk)
    inactive.is_active = False
    assert RoleBackend().get_all_permissions(inactive) == set()


@pytest.mark.django_db
def test_it_keeps_a_files_curve_halves_while_its_records_file_stays(viewer, cell, run_in_two_parts):
    """A reprocess re-analyses the stored Parquet without rewriting it (same name, same records): the cell's
    answer is new (its data version moved) but the file's downsampled halves are reused, and equal a fresh read."""
    client = token_client(viewer)
    datafile = ingest(cell, run_in_two_parts[0], "part1.xlsx")
    url = f"/api/v1/cells/{cell.pk}/curves/?cycles=1,2,last"
    first = get(client, url)[1]
    with mock.patch.object(services, "datafile_enqueue"):
        services.datafile_reprocess(datafile=datafile, reason="test")
    assert services.datafile_ingest(datafile_id=datafile.pk) == DataFile.Status.IMPORTED
    assert DataFile.objects.get(pk=datafile.pk).records_file == datafile.records_file
    with mock.patch.object(selectors, "records_of", wraps=selectors.records_of) as read:
        state, again = get(client, url)
    assert state == "miss" and read.call_count == 0
    caches["dashboard"].clear()
    with mock.patch.object(selectors, "records_of", wraps=selectors.records_of) as read:
        fresh = get(client, url)[1]
    assert read.call_count == 1 and fresh == again == first
