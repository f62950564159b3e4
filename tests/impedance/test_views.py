"""The impedance page of a cell: plots' data embedded, R_int table, refit form for researchers, scoping; admin."""
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

from impedance.analysis import DEFAULT_CIRCUIT
from impedance.models import EisFit, EisSpectrum
from impedance.simulate import study_spectrum, write_mpt
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session", autouse=True)
def vendored_static():
    if not finders.find("vendor/plotly.min.js"):
        call_command("vendor_static", verbosity=0)


def web(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def measured(api, cell):
    """The coated study spectrum after cycle 0 and after cycle 100 (notes), on the `cell` fixture."""
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=1)]), "LNTO-01_c0.mpt")
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=2)]), "later.mpt", notes="after_cycle=100")
    return cell


def _embedded(resp, element_id):
    m = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', resp.content.decode(), re.S)
    return json.loads(m.group(1))


def test_it_renders_the_impedance_page_for_a_member_with_plot_data(viewer, measured):
    resp = web(viewer).get(f"/cells/{measured.pk}/impedance/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="eis-nyquist"' in html and 'id="eis-bode"' in html and 'id="eis-rint"' in html
    assert "/static/vendor/plotly.min.js" in html and "/static/js/impedance.js" in html
    assert 'id="refit-form"' not in html  # viewers read only
    spectra = _embedded(resp, "eis-spectra-data")
    assert [s["after_cycle"] for s in spectra] == [0, 100]
    assert all(s["r_int_ohm"] == pytest.approx(248, rel=0.02) for s in spectra)
    assert len(spectra[0]["data"]["freq_hz"]) == 80 and len(spectra[0]["fits"][0]["curve"]["freq_hz"]) == 200
    rint = _embedded(resp, "eis-rint-data")
    assert rint["cycle"] == [0, 100] and rint["r_int_ohm"] == pytest.approx([248, 248], rel=0.02)
    assert "248." in html  # R_int in the table


def test_it_shows_an_empty_state_without_spectra(viewer, cell):
    resp = web(viewer).get(f"/cells/{cell.pk}/impedance/")
    assert resp.status_code == 200 and "No imported EIS spectra" in resp.content.decode()


def test_it_hides_the_page_from_outsiders_and_anonymous_visitors(outsider, measured):
    assert web(outsider).get(f"/cells/{measured.pk}/impedance/").status_code == 404
    resp = web(None).get(f"/cells/{measured.pk}/impedance/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_it_refits_from_the_form_for_a_researcher(researcher, measured):
    spectrum = EisSpectrum.objects.get(cell=measured, after_cycle=100)
    client = web(researcher)
    page = client.get(f"/cells/{measured.pk}/impedance/")
    assert 'id="refit-form"' in page.content.decode()
    resp = client.post(f"/cells/{measured.pk}/impedance/", {
        "spectrum": spectrum.pk, "circuit": "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", "r_int_elements": "R2"})
    assert resp.status_code == 302 and resp["Location"].endswith(f"?spectrum={spectrum.pk}")
    current = EisFit.objects.get(spectrum=spectrum, is_current=True)
    assert current.circuit == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3" and current.r_int_ohm == pytest.approx(248, rel=0.05)
    followed = client.get(resp["Location"])
    assert "Refitted with R0-p(R1,CPE1)-p(R2,CPE2)-CPE3" in followed.content.decode()


def test_it_shows_the_grammar_error_and_keeps_the_fit_on_an_injection_attempt(researcher, viewer, measured):
    spectrum = EisSpectrum.objects.get(cell=measured, after_cycle=0)
    resp = web(researcher).post(f"/cells/{measured.pk}/impedance/", {
        "spectrum": spectrum.pk, "circuit": "R0-__import__('os')", "r_int_elements": "R2"})
    assert resp.status_code == 400
    assert "unexpected token &#x27;__import__(&#x27;" in resp.content.decode()
    assert EisFit.objects.get(spectrum=spectrum).circuit == DEFAULT_CIRCUIT
    forbidden = web(viewer).post(f"/cells/{measured.pk}/impedance/", {"spectrum": spectrum.pk, "circuit": DEFAULT_CIRCUIT})
    assert forbidden.status_code == 403


def test_it_shows_both_models_read_only_in_the_admin(lab_admin, measured):
    client = web(lab_admin)
    spectrum = EisSpectrum.objects.filter(cell=measured).first()
    assert client.get("/admin/impedance/eisspectrum/").status_code == 200
    assert client.get(f"/admin/impedance/eisspectrum/{spectrum.pk}/change/").status_code == 200
    assert client.get("/admin/impedance/eisfit/").status_code == 200
    assert client.get("/admin/impedance/eisfit/add/").status_code == 403


def test_the_cell_page_shows_eis_provenance_for_eis_files_not_cyclings(viewer, measured):
    html = web(viewer).get(f"/cells/{measured.pk}/").content.decode()
    panels = re.findall(r'<dl class="sheet provenance eis-provenance">(.*?)</dl>', html, re.S)
    assert len(panels) == 2  # two EIS files, each with its own panel
    assert 'class="sheet provenance">' not in html  # no cycling panel (active mass, CE, dQ/dV) for them
    for panel in panels:
        dd = {k: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", v)).strip()
              for k, v in re.findall(r'<dd data-key="([\w-]+)">(.*?)</dd>', panel, re.S)}
        assert dd["circuit"] == f"{DEFAULT_CIRCUIT} (R_int = R2)"
        spectrum = EisSpectrum.objects.get(cell=measured, datafile__original_name__in=["LNTO-01_c0.mpt", "later.mpt"],
                                           after_cycle=0 if "after cycle 0" in dd["sweep-1"] else 100)
        fit = EisFit.objects.get(spectrum=spectrum, is_current=True)
        assert dd["sweep-1"].startswith("7 MHz – 0.1 Hz, 80 points")  # the study's 7 MHz to 0.1 Hz
        assert (spectrum.freq_max_hz, spectrum.freq_min_hz) == pytest.approx((7e6, 0.1))
        assert dd["fit-1"].startswith(f"{DEFAULT_CIRCUIT}: R_int {fit.r_int_ohm:.1f} ± {fit.r_int_stderr_ohm:.1f} Ω")
        assert 230 < fit.r_int_ohm < 270  # the coated cell's 248 ohm
        assert dd["kk-1"].startswith("passes (max residual")
        assert "Active mass" not in panel and "CE convention" not in panel


def test_the_page_and_the_api_filter_spectra_with_the_same_filterset(viewer, measured):
    client = web(viewer)
    page = client.get(f"/cells/{measured.pk}/impedance/?after_cycle_min=50")
    shown = _embedded(page, "eis-spectra-data")
    api = client.get(f"/api/v1/eis/spectra/?cell={measured.pk}&after_cycle_min=50").json()
    rows = api["results"] if isinstance(api, dict) else api
    assert [r["after_cycle"] for r in rows] == [100]
    html = page.content.decode()
    assert "later.mpt" in html and "LNTO-01_c0.mpt" not in html
    assert [s["after_cycle"] for s in shown] == [100]
    nothing = client.get(f"/cells/{measured.pk}/impedance/?after_cycle_min=500").content.decode()
    assert "No spectra of this cell match the filter." in nothing


def test_the_cell_list_and_the_cells_api_share_the_has_eis_filter(viewer, measured):
    from tests.factories import CellFactory

    CellFactory(project=measured.project, name="LNTO-NO-EIS")
    client = web(viewer)
    for value, expected in (("yes", [measured.name]), ("no", ["LNTO-NO-EIS"])):
        api = client.get(f"/api/v1/cells/?has_eis={value}").json()
        rows = api["results"] if isinstance(api, dict) else api
        assert [r["name"] for r in rows] == expected
        page = client.get(f"/?has_eis={value}&format=csv").content.decode()
        assert [line.split(",")[0] for line in page.strip().splitlines()[1:]] == expected


def test_the_admin_labels_eis_fields_with_their_units(lab_admin, measured):
    spectrum = EisSpectrum.objects.filter(cell=measured).first()
    page = web(lab_admin).get(f"/admin/impedance/eisspectrum/{spectrum.pk}/change/").content.decode()
    for label in ("Lowest frequency (Hz)", "Highest frequency (Hz)", "Kramers-Kronig max residual (%)"):
        assert label in page, label
    assert "Freq min hz" not in page
