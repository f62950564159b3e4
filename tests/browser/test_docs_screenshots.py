"""The README's screenshots, taken against the demo study in chromium, with a check that no text overlaps.

12 cells (the demo's six plus six more replicates), LNTO-01 with a rate test, bare cells that die, EIS spectra
of the demo cells. Pictures go to test-artifacts/screenshots/docs/; with ASSB_DOCS_SCREENSHOTS=1 (docs/screenshots.sh)
they replace docs/*.png. The overlap check compares the bounding boxes of each plot's legend, axis titles,
title and labels (the C-rate bands' names), so a layout that breaks with 12 cells fails here, not only in a
human's eye.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SCREENSHOTS
from tests.factories import UserFactory
from tests.helpers import ingest
from tests.landfiles import study_export
from tests.monitoring.conftest import eager_celery  # noqa: F401 (fixture: the board's evaluation runs in process)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs"
N_CYCLES = 60


@pytest.fixture
def demo_site(live_server, eager_celery):  # noqa: F811
    from cells.demo import COATED, STUDY_PROJECT, load_study_registry
    from cells.models import Cell, Project
    from cells.roles import RESEARCHER, ensure_roles
    from lab.demo import demo_peak_aging, demo_spectra

    ensure_roles()
    cells = load_study_registry()
    extra = []
    for cell in cells:  # three more replicates per group: 12 cells
        twin = Cell.objects.get(pk=cell.pk)
        twin.pk, twin.id = None, None
        twin.name = cell.name.replace("-0", "-1")  # LNTO-11 .. BARE-13
        twin.replicate_number = cell.replicate_number + 3
        twin.is_demo = False
        twin.save()
        extra.append(twin)
    for cell in cells + extra:
        group = "coated" if cell.group.name == COATED else "bare"
        data = study_export(group, n_cycles=N_CYCLES, points=16, replicate=cell.replicate_number,
                            rate_test=cell.name == "LNTO-01", cv_points=3, **demo_peak_aging(group))[0]
        ingest(cell, data, f"{cell.name}.xlsx")
    for cell, name, data in demo_spectra():
        ingest(cell, data, name, kind="eis")
    user = UserFactory(username="alice", roles=[RESEARCHER])
    Project.objects.get(name=STUDY_PROJECT).members.add(user)
    groups = sorted({c.group_id for c in cells})
    return {"url": live_server.url, "cells": cells, "groups": groups}


OVERLAPS_JS = """(id) => {
  const el = document.getElementById(id); if (!el) return ['no ' + id];
  const box = (sel) => Array.from(el.querySelectorAll(sel)).map(n => n.getBoundingClientRect())
      .filter(r => r.width > 0 && r.height > 0);
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const legend = box('g.legend > rect.bg'), xt = box('.g-xtitle text, .g-x2title text'), yt = box('.g-ytitle text, .g-y2title text');
  const title = box('.g-gtitle text'), outer = el.getBoundingClientRect(), out = [];
  legend.forEach(l => xt.concat(yt).forEach(t => { if (hit(l, t)) out.push(id + ': legend hits an axis title'); }));
  legend.forEach(l => title.forEach(t => { if (hit(l, t)) out.push(id + ': legend hits the title'); }));
  title.forEach(t => { if (t.left < outer.left - 1 || t.right > outer.right + 1) out.push(id + ': title clipped'); });
  // Labels on the plot (the C-rate bands' names): never one over another, the legend or a title; never clipped.
  const notes = Array.from(el.querySelectorAll('g.annotation')).map(n => [n.textContent, n.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && r.height > 0);
  notes.forEach(([a, ra], i) => notes.slice(i + 1).forEach(([b, rb]) => {
    if (hit(ra, rb)) out.push(id + ': label "' + a + '" hits label "' + b + '"'); }));
  notes.forEach(([a, r]) => legend.concat(title, xt, yt).forEach(t => {
    if (hit(r, t)) out.push(id + ': label "' + a + '" hits the legend or a title'); }));
  notes.forEach(([a, r]) => { if (r.left < outer.left - 1 || r.right > outer.right + 1) out.push(id + ': label "' + a + '" clipped'); });
  return out;
}"""


def _login(page, base):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _shoot(page, name):
    target = SCREENSHOTS / "docs"
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("ASSB_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / name)


def _overlaps(page, ids):
    return [msg for i in ids for msg in page.evaluate(OVERLAPS_JS, i)]


def test_it_takes_the_readme_screenshots_without_overlapping_text(page, demo_site):
    base = demo_site["url"]
    _login(page, base)
    groups = ",".join(map(str, demo_site["groups"]))
    for show in ("mean", "both"):
        page.goto(f"{base}/compare/?groups={groups}&show={show}")
        page.wait_for_selector("body[data-compare-ready='1']", timeout=60_000)
        ids = ["plot-capacity", "plot-ce", "plot-retention", "plot-rate", "plot-profiles", "plot-dqdv",
               "plot-rint", "plot-nyquist"]
        _shoot(page, "compare.png" if show == "mean" else "compare-both.png")
        assert _overlaps(page, ids) == []
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width  # the summary table scrolls inside its card, the page does not
    cell = next(c for c in demo_site["cells"] if c.name == "LNTO-01")
    page.goto(f"{base}/cells/{cell.pk}/")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=60_000)
    # the peak track is drawn when it scrolls into view (it reads every record): scroll to it, wait, come back
    page.locator("#plot-peaks").scroll_into_view_if_needed()
    page.wait_for_selector("#plot-peaks.js-plotly-plot, #plot-peaks p.empty:not(:has-text('Finding'))",
                           timeout=60_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    _shoot(page, "cell.png")
    assert _overlaps(page, ["plot-cycles", "plot-voltage", "plot-dqdv", "plot-peaks"]) == []
    page.goto(f"{base}/cells/{cell.pk}/impedance/")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    page.wait_for_timeout(1500)
    ids = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(e => e.id).filter(Boolean)")
    _shoot(page, "eis.png")
    assert _overlaps(page, ids) == []
    page.goto(f"{base}/board/")
    page.wait_for_selector("body[data-board-ready='1']", timeout=30_000)
    assert page.locator("table.board tbody tr").count() == 12
    _shoot(page, "board.png")
    assert page.js_errors == []
