"""EIS ingest through the upload API, in process: study spectra, real samples, refusals, idempotence, refits."""
import io
from pathlib import Path

import pytest

from cycling import services as cycling_services
from impedance import services
from impedance.analysis import DEFAULT_CIRCUIT
from impedance.models import EisFit, EisSpectrum
from impedance.selectors import r_int_finding
from impedance.simulate import (  # noqa: F401 (write_mpt re-exported for other tests)
    STUDY_CIRCUIT_WITH_L,
    STUDY_INDUCTANCE_H,
    aborted_sweep,
    study_spectrum,
    write_mpt,
    write_spectrum,
)
from tests.conftest import client_for
from tests.factories import CellFactory, CoatingFactory, GroupFactory
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "eis"
SAMPLES = sorted(p for p in DATA.iterdir() if p.suffix != ".md")


# --- helpers shared with the API and page tests -----------------------------------------------
def study_cells(project):
    """A bare and an LNTO-coated study cell (10 mm die: 0.785 cm2)."""
    bare = CellFactory(project=project, name="BARE-01", group=GroupFactory(project=project, name="bare"))
    coated = CellFactory(project=project, name="LNTO-01", group=GroupFactory(project=project, name="LNTO-coated"),
                         coating=CoatingFactory())
    return bare, coated


# --- tests --------------------------------------------------------------------------------------
def test_it_reads_the_cycle_from_the_notes_then_the_file_name():
    assert services.after_cycle_of(notes="after_cycle=100", original_name="x_c5.mpt") == (100, "notes")
    assert services.after_cycle_of(notes="Measured after cycle: 7, charged", original_name="x.mpt") == (7, "notes")
    assert services.after_cycle_of(notes="", original_name="LNTO-01_c100.mpt") == (100, "file name")
    assert services.after_cycle_of(notes="", original_name="bare_cycle250_eis.txt") == (250, "file name")
    assert services.after_cycle_of(notes="", original_name="bare_cyc-3.z") == (3, "file name")
    assert services.after_cycle_of(notes="", original_name="LNTO-01_ch3.mpt") == (None, "")
    assert services.after_cycle_of(notes="", original_name="LNTO-01.mpt") == (None, "")


def test_it_imports_the_study_spectra_with_r_int_1400_vs_248_ohm(api, project):
    bare, coated = study_cells(project)
    results = {}
    for cell, kind in ((bare, "bare"), (coated, "coated")):
        datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum(kind)]), f"{cell.name}_c0.mpt",
                                     notes="after formation")
        assert datafile.status == "imported", datafile.error
        spectrum = EisSpectrum.objects.get(datafile=datafile)
        fit = spectrum.fits.get(is_current=True)
        results[kind] = fit
        assert spectrum.n_points == 80 and spectrum.after_cycle == 0
        assert spectrum.freq_max_hz == pytest.approx(7e6) and spectrum.freq_min_hz == pytest.approx(0.1)
        assert spectrum.kk_passes is True and spectrum.kk_max_residual_pct < 2.0
        assert fit.circuit == DEFAULT_CIRCUIT and fit.converged and fit.r_int_elements == ["R2"]
        assert fit.area_cm2 == pytest.approx(cell.electrode_area_cm2) == pytest.approx(0.7853982, rel=1e-6)
        assert fit.r_int_ohm_cm2 == pytest.approx(fit.r_int_ohm * 0.7853982, rel=1e-6)
        assert fit.parameters["R2"]["unit"] == "Ohm" and fit.parameters["R2"]["stderr"] > 0
        assert datafile.n_records == 80 and datafile.provenance["circuit"] == DEFAULT_CIRCUIT
        assert datafile.provenance["library_versions"]["impedance"] == "1.7.1"
        assert datafile.metadata["after_cycle_source"] == "file name"
    assert results["bare"].r_int_ohm == pytest.approx(1400, rel=0.02)
    assert results["coated"].r_int_ohm == pytest.approx(248, rel=0.02)
    assert results["bare"].r_int_ohm_cm2 == pytest.approx(1400 * 0.7854, rel=0.02)  # ~1100 ohm cm2
    assert results["coated"].r_int_ohm_cm2 == pytest.approx(248 * 0.7854, rel=0.02)  # ~195 ohm cm2


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_it_ingests_each_real_sample_flagging_kk_failures_as_warnings(api, cell, path):
    datafile = upload_and_ingest(api, cell, path.read_bytes(), path.name, notes="after_cycle=1")
    assert datafile.status == "imported", datafile.error
    spectrum = EisSpectrum.objects.get(datafile=datafile)
    assert spectrum.n_points == datafile.n_records and spectrum.fits.filter(is_current=True).count() == 1
    kk_warned = any("Kramers-Kronig residuals" in w for w in datafile.warnings)
    assert kk_warned == (spectrum.kk_passes is False)
    assert len(spectrum.kk["residuals_real_pct"]) == spectrum.n_points


def test_it_fails_a_biologic_file_without_a_frequency_column_with_no_rows(api, cell):
    data = write_mpt([study_spectrum("bare")], with_freq=False)
    datafile = upload_and_ingest(api, cell, data, "missing_freq.mpt")
    assert datafile.status == "failed"
    assert datafile.error.startswith("file 'missing_freq.mpt', row 6: no frequency column")
    assert "missing_freq.mpt: missing_freq.mpt" not in datafile.error
    assert not EisSpectrum.objects.filter(datafile=datafile).exists()


def test_it_is_idempotent_when_the_ingest_runs_again(api, cell):
    datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum("coated")]), "LNTO-01_c0.mpt")
    first = EisFit.objects.get(spectrum__datafile=datafile).r_int_ohm
    assert cycling_services.datafile_ingest(datafile_id=datafile.pk) == "imported"  # nothing to claim
    cycling_services.datafile_reprocess(datafile=datafile, reason="test")
    assert cycling_services.datafile_ingest(datafile_id=datafile.pk) == "imported"
    assert EisSpectrum.objects.filter(datafile=datafile).count() == 1
    assert EisFit.objects.filter(spectrum__datafile=datafile).count() == 1
    assert EisFit.objects.get(spectrum__datafile=datafile).r_int_ohm == pytest.approx(first, rel=1e-9)


def test_it_splits_a_looped_file_into_sweeps_and_seeds_each_fit_from_the_previous(api, cell):
    sweeps = [study_spectrum("coated", seed=1), study_spectrum("coated", seed=2), study_spectrum("bare", seed=3)]
    datafile = upload_and_ingest(api, cell, write_mpt(sweeps, decimal_comma=True), "LNTO-01_looped_c10.mpt")
    assert datafile.status == "imported", datafile.error
    spectra = list(EisSpectrum.objects.filter(datafile=datafile).order_by("sweep"))
    assert [s.sweep for s in spectra] == [1, 2, 3] and {s.after_cycle for s in spectra} == {10}
    fits = [s.fits.get(is_current=True) for s in spectra]
    assert [f.r_int_ohm for f in fits] == pytest.approx([248, 248, 1400], rel=0.02)
    assert fits[0].seeded_from is None and fits[1].seeded_from == fits[0]


def test_it_seeds_a_later_cycle_from_the_same_cells_earlier_fit(api, cell):
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=4)]), "LNTO-01_c1.mpt")
    later = upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=5)]), "LNTO-01_c100.mpt")
    earlier_fit = EisFit.objects.get(spectrum__after_cycle=1)
    later_fit = EisFit.objects.get(spectrum__datafile=later)
    assert later.provenance["seeded_from_fit"] == earlier_fit.pk and later_fit.seeded_from == earlier_fit
    assert later_fit.r_int_ohm == pytest.approx(248, rel=0.02)


def test_it_refits_with_another_circuit_and_keeps_one_current_fit(researcher, api, cell):
    datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum("bare")]), "BARE_c0.mpt")
    spectrum = EisSpectrum.objects.get(datafile=datafile)
    fit = services.spectrum_refit(spectrum=spectrum, circuit="R0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
                                  r_int_elements=["R2"], actor=researcher)
    assert fit.is_current and fit.created_by == researcher and fit.r_int_ohm == pytest.approx(1400, rel=0.05)
    assert spectrum.fits.count() == 2 and spectrum.fits.filter(is_current=True).get() == fit
    with pytest.raises(services.RefitError) as err:
        services.spectrum_refit(spectrum=spectrum, circuit="R0-__import__('os')")
    assert err.value.field == "circuit" and "'__import__('" in str(err.value)
    with pytest.raises(services.RefitError, match="'CPE1' is not a resistor"):
        services.spectrum_refit(spectrum=spectrum, circuit=DEFAULT_CIRCUIT, r_int_elements=["CPE1"])


# --- a series you can trust: one circuit, refusals visible, the demo without false warnings ---------------
def test_it_keeps_the_cells_series_circuit_until_a_user_refits(researcher, api, cell):
    first = upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", 1)]), "LNTO-01_c0.mpt")
    assert EisFit.objects.get(spectrum__datafile=first).circuit == DEFAULT_CIRCUIT  # no inductive tail: no L0
    inductive = study_spectrum("coated", 2, cycle=100, inductance_h=STUDY_INDUCTANCE_H)
    later = upload_and_ingest(api, cell, write_mpt([inductive]), "LNTO-01_c100.mpt")
    fit = EisFit.objects.get(spectrum__datafile=later)
    assert fit.circuit == DEFAULT_CIRCUIT and later.provenance["circuit"] == DEFAULT_CIRCUIT
    assert fit.provenance["chosen_by"] == "given" and "kept the circuit of this cell's R_int series" in (
        fit.provenance["reason"])
    refit = services.spectrum_refit(spectrum=fit.spectrum, circuit=STUDY_CIRCUIT_WITH_L, actor=researcher)
    assert refit.provenance["reason"].startswith("refit by a user")
    assert refit.r_int_ohm == pytest.approx(248 * 1.08, rel=0.015)
    third = upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", 3, cycle=200, inductance_h=2e-7)]),
                              "LNTO-01_c200.mpt")
    fit3 = EisFit.objects.get(spectrum__datafile=third)
    assert fit3.circuit == STUDY_CIRCUIT_WITH_L and fit3.seeded_from == refit
    assert fit3.r_int_ohm == pytest.approx(248 * 1.16, rel=0.015)


def test_it_chooses_the_inductor_circuit_for_a_new_cell_and_records_why(api, cell):
    spectrum = study_spectrum("bare", 4, inductance_h=STUDY_INDUCTANCE_H)
    datafile = upload_and_ingest(api, cell, write_spectrum(spectrum, "dta"), "BARE-01_c0.DTA")
    fit = EisFit.objects.get(spectrum__datafile=datafile)
    assert fit.circuit == STUDY_CIRCUIT_WITH_L == datafile.provenance["circuit"]
    assert fit.provenance["chosen_by"] == "AIC" and len(fit.provenance["candidates"]) == 2
    assert fit.provenance["inductive_tail"]["detected"] is True and fit.provenance["refused"] == ""
    assert fit.r_int_ohm == pytest.approx(1400, rel=0.015) and fit.parameters["L0"]["unit"] == "H"
    assert datafile.warnings == [] and fit.warnings == []


def test_it_stores_no_r_int_for_an_aborted_sweep_and_the_series_shows_the_gap(api, viewer, cell):
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", 5)]), "LNTO-01_c0.mpt")
    aborted = aborted_sweep(study_spectrum("coated", 6, cycle=100))
    datafile = upload_and_ingest(api, cell, write_spectrum(aborted, "dta", aborted=True), "LNTO-01_c100.DTA")
    assert datafile.status == "imported", datafile.error
    fit = EisFit.objects.get(spectrum__datafile=datafile)
    assert fit.r_int_ohm is None and fit.r_int_stderr_ohm is None and not fit.converged
    assert fit.provenance["refused"].startswith("only 5 points for the 9 free parameters")
    assert any(w.startswith("Fit: Only 5 points") for w in datafile.warnings)
    assert any("EXPERIMENTABORTED" in w for w in datafile.warnings)
    series = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/rint/").json()
    assert series["cycle"] == [0, 100]
    assert series["r_int_ohm"][0] == pytest.approx(248, rel=0.015) and series["r_int_ohm"][1] is None
    assert series["marked"] == [False, True]
    assert series["finding"][0] == "" and series["finding"][1].startswith("no R_int: only 5 points")


def test_it_marks_r_int_whose_standard_error_is_above_20_percent():
    assert r_int_finding(248.0, 2.5, True, "") == (False, "")
    assert r_int_finding(248.0, 60.0, True, "") == (True, "standard error 24 % of R_int (> 20 %)")
    assert r_int_finding(248.0, 2.5, False, "") == (True, "the fit did not converge")
    assert r_int_finding(None, None, False, "no arc") == (True, "no R_int: no arc")


def test_it_imports_the_demo_spectra_without_a_single_warning(api, db):
    from cells.demo import load_study_registry
    from lab.demo import demo_spectra

    load_study_registry()
    spectra = demo_spectra()
    assert len(spectra) == 18
    for cell, name, data in spectra:
        datafile = upload_and_ingest(api, cell, data, name, notes=f"demo after_cycle={name.rsplit('_c', 1)[1][:-4]}")
        assert datafile.status == "imported" and datafile.warnings == [], (name, datafile.warnings)
        fit = EisFit.objects.get(spectrum__datafile=datafile)
        assert fit.warnings == [] and fit.spectrum.kk_passes, (name, fit.warnings, fit.spectrum.kk_max_residual_pct)
        kk = fit.spectrum.kk  # with margin: the run statistic well below its limit, no residual near 6 sigma
        assert kk["structure"] < kk["structure_limit"] - 0.5 and kk["amplitude"] < kk["amplitude_limit"] - 0.5
        assert fit.circuit == STUDY_CIRCUIT_WITH_L and fit.r_int_ohm is not None


def test_it_rechecks_stored_kk_results_of_the_old_rule_without_touching_the_fits(api, cell):
    """Migration 0004 / `manage.py recheck_kk`: results stored by the 2 %-of-|Z| rule are recomputed from the
    stored points; a drifted sweep gets the new finding, the file's KK lines follow, the fits stay."""
    from django.core.management import call_command

    from impedance.analysis import KK_RULE, KK_VERSION

    drifted = study_spectrum("bare", 4003, inductance_h=STUDY_INDUCTANCE_H, drift={"R2": 0.3})
    datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", 3), drifted]), "loop_c10.mpt")
    first, second = EisSpectrum.objects.filter(datafile=datafile).order_by("sweep")
    assert first.kk_passes is True and second.kk_passes is False
    fits = sorted(EisFit.objects.filter(spectrum__datafile=datafile).values_list("pk", "r_int_ohm"))
    # what the old rule stored: no version, a fixed 2 % limit, its own wording
    old_line = "Kramers-Kronig residuals up to 1.9 % (> 2 %): the cell may have drifted during the sweep"
    for spectrum, passes in ((first, False), (second, True)):
        EisSpectrum.objects.filter(pk=spectrum.pk).update(
            kk={**{k: v for k, v in spectrum.kk.items() if k != "version"}, "threshold_pct": 2.0},
            kk_passes=passes, warnings=[old_line] if not passes else [])
    datafile.warnings = ["Sweep 1: " + old_line, "Cell BARE has no electrode area"]
    datafile.provenance = {**datafile.provenance, "kk_threshold_pct": 2.0}
    datafile.save(update_fields=["warnings", "provenance"])

    call_command("recheck_kk", stdout=io.StringIO())
    first.refresh_from_db(), second.refresh_from_db(), datafile.refresh_from_db()
    assert first.kk_passes is True and first.warnings == [] and first.kk["version"] == KK_VERSION
    assert second.kk_passes is False and second.kk["structure"] >= second.kk["structure_limit"]
    assert second.warnings == [services.kk_warnings(services._kk(services.as_parsed(second)))[0]]
    assert datafile.warnings == ["Cell BARE has no electrode area", "Sweep 2: " + second.warnings[0]]
    assert "kk_threshold_pct" not in datafile.provenance and datafile.provenance["kk_rule"] == KK_RULE
    assert sorted(EisFit.objects.filter(spectrum__datafile=datafile).values_list("pk", "r_int_ohm")) == fits
    assert services.kk_recheck() == 0  # nothing is outdated any more
