"""Effects page and its exports (Django test client): the nav link, the controls, the figure for papers with n and
CI in its caption, the CSV tables."""
import csv
import io

import pytest
from django.test import Client

from effects.figures import caption
from effects.selectors import effect, query_from

pytestmark = pytest.mark.django_db


def web(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_nav_links_the_effects_page_and_it_offers_outcomes_and_facts(viewer, study):
    html = web(viewer).get("/").content.decode()
    assert 'href="/effects/"' in html
    page = web(viewer).get("/effects/").content.decode()
    assert 'value="initial_ce_percent"' in page and 'value="stack_pressure_mpa"' in page
    assert "Which build choices matter?" in page and "plotly.min.js" not in page  # nothing chosen: no plots fetched


def test_the_page_with_a_query_loads_its_script_and_shows_a_bad_query(viewer, study):
    pid = study["coated"].project_id
    page = web(viewer).get(f"/effects/?outcome=initial_ce_percent&factor=coating&project={pid}").content.decode()
    assert "plotly.min.js" in page and 'id="effect-plot"' in page and 'id="screen-table"' in page
    assert f"/effects/figure/?outcome=initial_ce_percent&amp;factor=coating&amp;project={pid}&amp;output=svg" in page
    bad = web(viewer).get(f"/effects/?outcome=initial_ce_percent&factor=coating&scale=log-log&project={pid}")
    assert "needs a numeric factor" in bad.content.decode() and "plotly.min.js" not in bad.content.decode()


def test_the_svg_figure_carries_n_and_the_intervals_in_its_caption(viewer, study):
    pid = study["coated"].project_id
    resp = web(viewer).get(f"/effects/figure/?outcome=initial_ce_percent&factor=coating&project={pid}&output=svg")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/svg+xml"
    assert 'filename="effect-initial_ce_percent-coating.svg"' in resp["Content-Disposition"]
    svg = resp.content.decode()
    report = effect(viewer, query_from({"outcome": "initial_ce_percent", "factor": "coating", "project": str(pid)}))
    text = caption(report)
    assert "none: n = 3" in text and "LNTO: n = 3" in text and "Welch's t-test: p = " in text
    assert "Hedges' g = " in text and "95 % CI [" in text
    diff = report["difference"]
    assert f"{diff['estimate']:+.3g}" == "+31.7" and "+31.7 %" in text
    for word in ("none: n = 3", "Welch", "Hedges"):  # the caption is text in the SVG (svg.fonttype none)
        assert word in svg
    pdf = web(viewer).get(f"/effects/figure/?outcome=initial_ce_percent&factor=coating&project={pid}&output=pdf")
    assert pdf.content[:5] == b"%PDF-"
    assert web(viewer).get(f"/effects/figure/?outcome=initial_ce_percent&project={pid}").status_code == 400


def test_the_csv_exports_give_cells_levels_and_the_screen(viewer, study):
    pid = study["coated"].project_id
    base = f"/effects/export/?outcome=initial_ce_percent&factor=coating&project={pid}&format=csv"
    cells = list(csv.reader(io.StringIO(web(viewer).get(base + "&table=cells").content.decode("utf-8-sig"))))
    assert cells[0] == ["Cell", "Coating", "ICE (%)"] and len(cells) == 7
    levels = list(csv.DictReader(io.StringIO(web(viewer).get(base + "&table=levels").content.decode("utf-8-sig"))))
    assert [r["Level"] for r in levels] == ["none", "LNTO"] and levels[1]["n"] == "3"
    assert float(levels[1]["Mean (%)"]) - float(levels[0]["Mean (%)"]) == pytest.approx(31.7, abs=0.05)
    screen = list(csv.DictReader(io.StringIO(web(viewer).get(base + "&table=screen").content.decode("utf-8-sig"))))
    assert screen[0]["Build fact"] == "Coating" and screen[0]["Rank"] == "1"


def test_the_compare_page_links_the_effects_of_its_selection(viewer, study):
    coated, bare = study["coated"].pk, study["bare"].pk
    html = web(viewer).get(f"/compare/?groups={coated}&groups={bare}&reference_cycle=3").content.decode()
    link = f"/effects/?outcome=initial_ce_percent&amp;groups={coated}&amp;groups={bare}"
    assert f'href="{link}"' in html
    page = web(viewer).get(link.replace("&amp;", "&")).content.decode()
    assert "plotly.min.js" in page and 'id="screen-table"' in page and "effects-error" not in page
