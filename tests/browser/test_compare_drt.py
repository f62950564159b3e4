"""The Compare page's DRT plots in chromium: the groups' DRTs at their first and last measured cycle and the
processes' resistance vs cycle (group mean with the replicate band)."""
import pytest

from tests.browser.test_compare_eis import plot
from tests.browser.test_pages import login, study_site, traces  # noqa: F401 - fixture
from tests.web.test_compare_eis import with_eis

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_overlays_the_groups_drts_and_their_processes_vs_cycle(page, study_site):  # noqa: F811
    with_eis(study_site)
    base, coated, bare = study_site["url"], study_site["coated"].pk, study_site["bare"].pk
    login(page, base)
    page.goto(f"{base}/compare/?groups={coated}&groups={bare}")
    page.wait_for_selector("body[data-compare-ready='1']", timeout=60_000)
    page.wait_for_function("document.getElementById('plot-drt').data !== undefined", timeout=60_000)
    ids = {p["id"] for p in traces(page)}
    assert {"plot-drt", "plot-drt-processes"} <= ids
    drt = plot(page, "plot-drt")
    assert drt["xtitle"] == "τ (s)" and drt["ytitle"] == "γ (Ω)"
    assert any(n.startswith("BARE-01 · cycle 2") for n in drt["names"])
    assert any(n.startswith("LNTO-01 · cycle 100") for n in drt["names"])  # LNTO-01 was measured again
    procs = plot(page, "plot-drt-processes")
    named = [n for n in procs["names"] if n]
    bare_interface = [n for n in named if n.startswith("bare ~") and 40 < float(n.split("~")[1].split()[0]) < 160]
    coated_interface = [n for n in named if n.startswith("LNTO-coated ~")
                        and 300 < float(n.split("~")[1].split()[0]) < 1500]
    assert bare_interface and coated_interface, named
    y = procs["y"][procs["names"].index(bare_interface[0])]
    assert y[0] == pytest.approx(1400, rel=0.10)
