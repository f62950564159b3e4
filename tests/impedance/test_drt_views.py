"""The DRT on a cell's impedance page: the DRT of each sweep, the processes over cycles, fit vs DRT."""
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

from impedance.simulate import study_params, study_spectrum, write_mpt
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db
CYCLES = (0, 200, 400)


@pytest.fixture(scope="session", autouse=True)
def vendored_static():
    if not finders.find("vendor/plotly.min.js"):
        call_command("vendor_static", verbosity=0)


@pytest.fixture
def bare_series(api, cell):
    caches["dashboard"].clear()
    for c in CYCLES:
        upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", seed=10 + c, cycle=c)]), f"bare_c{c}.mpt")
    return cell


def _embedded(html, element_id):
    m = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_it_shows_the_drt_the_processes_over_cycles_and_the_fit_beside_it(viewer, bare_series):
    client = Client()
    client.force_login(viewer)
    resp = client.get(f"/cells/{bare_series.pk}/impedance/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="drt-gamma"' in html and 'id="drt-tracks"' in html and "/static/js/drt.js" in html
    drt = _embedded(html, "eis-drt-data")
    assert [d["after_cycle"] for d in drt["spectra"]] == list(CYCLES)
    assert all(d["provenance"]["lambda_method"] == "gcv" for d in drt["spectra"])
    # the interface process: present in every sweep, its resistance follows R2 (1400 -> 2660 -> 3920 ohm)
    r2 = [study_params("bare", cycle=c)["R2"] for c in CYCLES]
    interface = max((t for t in drt["tracks"] if t["n_found"] == len(CYCLES)), key=lambda t: t["resistance_ohm"][0])
    assert interface["cycle"] == list(CYCLES)
    assert interface["resistance_ohm"] == pytest.approx(r2, rel=0.10)
    assert interface["growth_ohm_per_100_cycles"] == pytest.approx(630.0, rel=0.10)
    # the anode process stays near 30 kHz with ~120 ohm
    anode = min(drt["tracks"], key=lambda t: abs(t["f_hz_median"] - 3e4))
    assert 2e4 < anode["f_hz_median"] < 4.5e4 and anode["resistance_ohm"][0] == pytest.approx(120, rel=0.15)
    # the circuit fit's R2 and the DRT's interface peak describe the same arc: side by side, and they agree
    assert [c["after_cycle"] for c in drt["comparisons"]] == list(CYCLES)
    assert all(c["element"] == "R2" and not c["disagree"] for c in drt["comparisons"])
    assert all(c["drt_ohm"] == pytest.approx(c["fit_ohm"], rel=0.10) for c in drt["comparisons"])
    assert 'id="drt-vs-fit"' in html and "disagree" not in html.split('id="drt-vs-fit"')[1].split("</table>")[0]


def test_it_flags_a_fit_that_disagrees_with_the_drt(viewer, bare_series):
    from impedance.models import EisFit

    fit = EisFit.objects.filter(spectrum__cell=bare_series, is_current=True, spectrum__after_cycle=200).get()
    fit.r_int_ohm *= 0.7  # as a fit stuck in a wrong minimum would report
    fit.save(update_fields=["r_int_ohm"])
    client = Client()
    client.force_login(viewer)
    drt = _embedded(client.get(f"/cells/{bare_series.pk}/impedance/").content.decode(), "eis-drt-data")
    flags = {c["after_cycle"]: c["disagree"] for c in drt["comparisons"]}
    assert flags == {0: False, 200: True, 400: False}
