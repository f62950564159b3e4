"""The cell timeline: files of one cell in run order, their relation and the cell's cycle numbers."""
import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pandas as pd
import pytest

from cycling import services
from cycling.analysis.timeline import CONTINUES, FIRST, NEW_RUN, OVERLAPS, FileSpan, place
from cycling.models import CycleSummary, DataFile
from cycling.simulate import study_cell
from cycling.testing import write_land
from lab.compare import Selection, compare
from tests.conftest import client_for
from tests.helpers import resumed_run
from tests.landfiles import upload_file

T0 = datetime(2021, 3, 1, 9, 0)


# --- pure ------------------------------------------------------------------------------------------


def span(id_, start_h, end_h, last, override="", uploaded_h=0.0):
    def at(hours):
        return None if hours is None else T0 + timedelta(hours=hours)

    return FileSpan(id=id_, name=f"f{id_}", start=at(start_h), end=at(end_h), uploaded=at(uploaded_h),
                    last_file_cycle=last, override=override)


def test_it_numbers_a_resumed_test_on_from_the_first_file():
    placements, warnings = place([span(2, 100, 140, 12), span(1, 0, 90, 22)])
    assert [(p.id, p.relation, p.cycle_offset, p.first_cell_cycle, p.last_cell_cycle) for p in placements] == [
        (1, FIRST, 0, 1, 22), (2, CONTINUES, 22, 23, 34)]
    assert warnings == []


def test_it_flags_overlapping_files_on_both_and_the_cell():
    placements, warnings = place([span(1, 0, 90, 22), span(2, 0, 90, 22)])
    assert [p.relation for p in placements] == [FIRST, OVERLAPS]
    assert [p.cycle_offset for p in placements] == [0, 0]
    assert len(warnings) == 1 and warnings[0].startswith("Conflict: f2 and f1 cover overlapping times")
    assert all(p.warnings == warnings for p in placements)


def test_it_follows_a_researchers_mark():
    placements, warnings = place([span(1, 0, 90, 22), span(2, 50, 140, 12, override=NEW_RUN)])
    assert [(p.relation, p.cycle_offset) for p in placements] == [(FIRST, 0), (NEW_RUN, 22)] and warnings == []
    placements, _ = place([span(1, 0, 90, 22), span(2, 50, 140, 12, override=CONTINUES)])
    assert placements[1].relation == CONTINUES and placements[1].first_cell_cycle == 23


def test_it_orders_files_without_a_clock_by_upload_time_and_says_so():
    placements, _ = place([span(2, None, None, 5, uploaded_h=200), span(1, 0, 90, 22)])
    assert [(p.id, p.relation, p.cycle_offset) for p in placements] == [(1, FIRST, 0), (2, CONTINUES, 22)]
    assert "no cycler clock" in placements[1].warnings[0]


def test_it_refuses_an_unknown_mark():
    with pytest.raises(ValueError, match="f1: unknown timeline mark 'merge'"):
        place([span(1, 0, 90, 22, override="merge")])


# --- through the services, the API, the pages and the exports -----------------------------------


@pytest.fixture(scope="module")
def two_part_run():
    """One 34-cycle run stopped after cycle 22 and resumed three days later: LAND numbers the second
    export's records, test time and cycles from 1 again."""
    records, info = study_cell("coated", n_cycles=34, points_per_half_cycle=30)
    first, second = resumed_run(records, 22, pd.Timedelta(days=3))
    files = []
    for name, part in (("LNTO-01_part1.xlsx", first), ("LNTO-01_part2.xlsx", second)):
        buf = io.BytesIO()
        write_land(part.reset_index(drop=True), buf, variant="modern")
        files.append((name, buf.getvalue()))
    # The same first 22 cycles exported again with every other record: the same run, not a byte prefix.
    thinned = first.iloc[::2].copy()
    buf = io.BytesIO()
    write_land(thinned.reset_index(drop=True), buf, variant="modern")
    return files, ("LNTO-01_part1_thinned.xlsx", buf.getvalue()), info


def _upload_and_ingest(api, cell, name, data):
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(data, name), "cell": cell.name}, format="multipart")
    assert resp.status_code == 202, resp.content
    assert services.datafile_ingest(datafile_id=resp.json()["id"]) == "imported"
    return resp.json()["id"]


def _export_cycles(web, cell, fmt):
    body = web.get(f"/cells/{cell.pk}/cycles/export/?format={fmt}").content
    if fmt == "csv":
        return [int(r["Cycle (cell)"]) for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))]
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return [int(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.mark.django_db
@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["in-order", "reversed"])
def test_it_gives_a_two_part_run_34_distinct_cell_cycles_everywhere(api, researcher, cell, two_part_run, order):
    files, _, _ = two_part_run
    ids = {files[i][0]: _upload_and_ingest(api, cell, *files[i]) for i in order}
    web = client_for(researcher)
    web.force_login(researcher)

    rows = api.get(f"/api/v1/cells/{cell.pk}/cycles/").json()
    assert sorted(r["cycle"] for r in rows) == list(range(1, 35))
    second = [r for r in rows if r["datafile"] == ids["LNTO-01_part2.xlsx"]]
    assert [(r["cycle"], r["file_cycle"]) for r in second[:2]] == [(23, 1), (24, 2)]
    part2 = api.get(f"/api/v1/datafiles/{ids['LNTO-01_part2.xlsx']}/").json()
    assert part2["timeline_relation"] == "continues" and part2["cycle_offset"] == 22 and part2["timeline_position"] == 2

    assert _export_cycles(web, cell, "csv") == list(range(1, 35))
    assert _export_cycles(web, cell, "xlsx") == list(range(1, 35))

    body = compare(researcher, Selection((), (cell.pk,)))
    assert body["cells"][0]["cycle"] == list(range(1, 35))
    assert body["summary"]["cells"][0]["last_cycle"] == 34

    curves = api.get(f"/api/v1/cells/{cell.pk}/curves/?cycles=22,23,last").json()["traces"]
    assert sorted({(t["cycle"], t["file_cycle"]) for t in curves}) == [(22, 22), (23, 1), (34, 12)]
    dqdv = api.get(f"/api/v1/cells/{cell.pk}/dqdv/?cycles=23").json()["traces"]
    assert {(t["cycle"], t["file_cycle"], t["datafile"]) for t in dqdv} == {(23, 1, ids["LNTO-01_part2.xlsx"])}

    html = web.get(f"/cells/{cell.pk}/").content.decode()
    assert "cell cycles 23–34" in html and "continues" in html


@pytest.mark.django_db
@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["full-first", "thinned-first"])
def test_it_keeps_an_overlapping_pair_and_shows_the_conflict(api, researcher, cell, two_part_run, order):
    files, thinned, _ = two_part_run
    pair = [files[0], thinned]
    ids = [_upload_and_ingest(api, cell, *pair[i]) for i in order]
    rows = api.get(f"/api/v1/cells/{cell.pk}/cycles/").json()
    assert len(rows) == 44 and sorted({r["cycle"] for r in rows}) == list(range(1, 23))
    for datafile_id in ids:
        body = api.get(f"/api/v1/datafiles/{datafile_id}/").json()
        assert any(w.startswith("Conflict: ") for w in body["timeline_warnings"]), body["timeline_warnings"]
    web = client_for(researcher)
    web.force_login(researcher)
    assert "Conflict: " in web.get(f"/cells/{cell.pk}/").content.decode()

    # A researcher decides the later one is a new run: numbering goes on, the conflict is gone.
    later = DataFile.objects.get(pk=ids[1])
    services.datafile_mark_timeline(datafile=later, mark="new_run", actor=researcher)
    rows = api.get(f"/api/v1/cells/{cell.pk}/cycles/").json()
    assert sorted({r["cycle"] for r in rows}) == list(range(1, 45))
    assert not any(DataFile.objects.filter(pk__in=ids).values_list("timeline_warnings", flat=True))
    assert CycleSummary.objects.filter(datafile=later, cycle=23, file_cycle=1).exists()


@pytest.mark.django_db
def test_it_renumbers_when_a_file_is_deleted(api, cell, two_part_run):
    files, _, _ = two_part_run
    first_id = _upload_and_ingest(api, cell, *files[0])
    second_id = _upload_and_ingest(api, cell, *files[1])
    services.datafile_delete(datafile=DataFile.objects.get(pk=first_id))
    rows = api.get(f"/api/v1/cells/{cell.pk}/cycles/").json()
    assert sorted(r["cycle"] for r in rows) == list(range(1, 13))
    assert DataFile.objects.get(pk=second_id).timeline_relation == "first"


@pytest.mark.django_db
def test_it_lets_a_researcher_mark_a_file_on_the_cell_page_and_logs_it(api, researcher, viewer, cell, two_part_run):
    from cells.models import AuditEvent

    files, thinned, _ = two_part_run
    _upload_and_ingest(api, cell, *files[0])
    later = _upload_and_ingest(api, cell, *thinned)
    url = f"/cells/{cell.pk}/timeline/"
    reader = client_for(viewer)
    reader.force_login(viewer)
    assert reader.post(url, {"datafile": later, "mark": "new_run"}).status_code == 403
    web = client_for(researcher)
    web.force_login(researcher)
    assert 'name="mark"' in web.get(f"/cells/{cell.pk}/").content.decode()
    assert web.post(url, {"datafile": later, "mark": "merge"}).status_code == 400
    resp = web.post(url, {"datafile": later, "mark": "new_run"})
    assert resp.status_code == 302 and resp["Location"].endswith("#timeline")
    assert DataFile.objects.get(pk=later).timeline_relation == "new_run"
    event = AuditEvent.objects.filter(action="timeline_mark").get()
    assert event.user == researcher


@pytest.mark.django_db
def test_it_recomputes_the_cell_when_the_admin_marks_a_file(admin_client, api, cell, two_part_run):
    files, thinned, _ = two_part_run
    _upload_and_ingest(api, cell, *files[0])
    later = _upload_and_ingest(api, cell, *thinned)
    resp = admin_client.post(f"/admin/cycling/datafile/{later}/change/", {"timeline_mark": "continues"})
    assert resp.status_code == 302, resp.content[:2000]
    assert DataFile.objects.get(pk=later).cycle_offset == 22
