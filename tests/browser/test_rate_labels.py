"""The cell page's C-rate labels on a 500-cycle axis: the rate test (15 of 502 cycles, a few % of the width) gets
ONE label naming its lowest and highest C-rate instead of five crammed ones, and no label hits another, at a wide
and a narrow window. Uses the README screenshots' overlap check (test_docs_screenshots.OVERLAPS_JS)."""
import pytest

from tests.browser.test_docs_screenshots import OVERLAPS_JS
from tests.factories import UserFactory
from tests.helpers import ingest
from tests.landfiles import study_export

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coated_500(live_server):
    from cells.demo import STUDY_PROJECT, load_study_registry
    from cells.models import Project
    from cells.roles import RESEARCHER, ensure_roles
    from lab.demo import demo_peak_aging

    ensure_roles()
    cell = next(c for c in load_study_registry() if c.name == "LNTO-01")  # the demo's coated cell with a rate test
    data = study_export("coated", n_cycles=502, points=6, rate_test=True, **demo_peak_aging("coated"))[0]
    assert ingest(cell, data, "LNTO-01_502cyc_rate.xlsx").status == "imported"
    user = UserFactory(username="alice", roles=[RESEARCHER])
    Project.objects.get(name=STUDY_PROJECT).members.add(user)
    return live_server.url, cell


def labels(page):
    return page.evaluate("() => Array.from(document.querySelectorAll('#plot-cycles g.annotation'))"
                         ".map(n => n.textContent)")


@pytest.mark.parametrize("width", [1440, 900])
def test_a_rate_test_on_a_500_cycle_axis_has_one_label_and_no_label_overlaps(page, coated_500, screenshots, width):
    base, cell = coated_500
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{base}/accounts/login/?next=/cells/{cell.pk}/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_selector("#plot-cycles g.annotation", timeout=60_000)
    page.locator("#plot-cycles").screenshot(path=str(screenshots / f"cell-rate-labels-{width}.png"))
    shown = labels(page)
    # Formation 0.1C (cycles 1-2), the rate test 0.1C, 0.2C, 0.5C, 1C, 0.1C (3 cycles each), then C/3 to 502.
    assert shown.count("rate test 0.1C–1C") == 1, shown
    assert "C/3 · long-term" in shown, shown
    assert not {"0.2C", "0.5C", "1C"} & set(shown), shown  # the steps' own labels would not fit their 3 cycles
    assert page.evaluate(OVERLAPS_JS, "plot-cycles") == []
    assert page.js_errors == []
