"""The pure solid-state analyses against seeded generators with exact truth (pellet EIS, CCD, DC polarisation),
read back through the instruments' own file formats and the app's readers."""
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cycling.parsers import read_export
from impedance.parsers import read_eis
from solidstate.analysis import (
    AnalysisError,
    arrhenius_fit,
    critical_current_density,
    disc_area_cm2,
    electronic_conductivity,
    pellet_conductivity,
)
from solidstate.simulate import (
    LGPS,
    SLOW,
    ccd_records,
    dc_polarisation_records,
    pellet_series_files,
    write_records,
)

REPO = Path(__file__).resolve().parents[2]
AREA = disc_area_cm2(10.0)
TEMPS = [25, 40, 55, 70, 80]


def test_it_keeps_the_pure_core_free_of_django():
    code = ("import solidstate.analysis, solidstate.analysis.pressure, solidstate.analysis.reports, "
            "solidstate.simulate; import sys; "
            "assert 'django' not in sys.modules, 'django imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def _series(preset, fmt="mpt", seed=0, **kw):
    out = []
    for k, (data, truth) in enumerate(pellet_series_files(TEMPS, fmt=fmt, seed=seed, **preset, **kw)):
        spectrum = read_eis(io.BytesIO(data), name=f"pellet-{k}.{fmt}")
        out.append((pellet_conductivity(spectrum.freq_hz, spectrum.z_ohm, thickness_mm=0.8, area_cm2=AREA), truth))
    return out


@pytest.mark.parametrize("fmt", ["mpt", "dta", "csv"])
def test_it_gives_lgps_total_conductivity_within_3_percent_and_ea_within_0_01_ev(fmt):
    series = _series(LGPS, fmt=fmt, seed=11)
    for result, truth in series:
        assert result.sigma_total_s_cm == pytest.approx(truth.sigma_total_s_cm, rel=0.03)
        assert result.sigma_total_se_s_cm < 0.03 * result.sigma_total_s_cm
        # LGPS's bulk arc lies near 1e9 Hz: far above a 7 MHz band, so no bulk value is given
        assert truth.bulk_apex_hz > 1e8 and result.r_bulk_ohm is None and result.sigma_bulk_s_cm is None
        assert result.measured == "total only" and "no bulk value" in result.statement
    fit = arrhenius_fit([t.temperature_c for _, t in series], [r.sigma_total_s_cm for r, _ in series],
                        [r.sigma_total_se_s_cm for r, _ in series])
    assert abs(fit.ea_ev - LGPS["ea_ev"]) < 0.01
    assert fit.sigma_25c_s_cm == pytest.approx(0.012, rel=0.03)
    assert fit.form == "sigma_T" and fit.n_points == 5 and fit.off_line == []


def test_it_gives_bulk_only_where_the_bulk_arc_is_inside_the_band():
    series = _series(SLOW, seed=3)
    seen = {"bulk": 0, "none": 0}
    for result, truth in series:
        assert result.sigma_total_s_cm == pytest.approx(truth.sigma_total_s_cm, rel=0.03)
        if truth.bulk_apex_hz < 7e6 / 10 ** 0.5:  # apex half a decade inside the band: resolvable
            assert result.sigma_bulk_s_cm == pytest.approx(truth.sigma_bulk_s_cm, rel=0.03)
            assert result.measured == "bulk and total"
            seen["bulk"] += 1
        elif truth.bulk_apex_hz > 7e6 / 10 ** 0.4:  # less than MIN_DECADES_ABOVE_APEX (0.3) inside
            assert result.r_bulk_ohm is None
            seen["none"] += 1
    assert seen["bulk"] >= 3 and seen["none"] >= 1  # the 80 C spectrum's apex is at 3.1 MHz
    fit = arrhenius_fit([t.temperature_c for _, t in series], [r.sigma_total_s_cm for r, _ in series])
    assert abs(fit.ea_ev - SLOW["ea_ev"]) < 0.01


def test_it_subtracts_a_given_lead_resistance_and_says_so():
    data, truth = pellet_series_files([25], seed=5, lead_resistance_ohm=0.5, **LGPS)[0]
    s = read_eis(io.BytesIO(data), name="p.mpt")
    with_leads = pellet_conductivity(s.freq_hz, s.z_ohm, thickness_mm=0.8, area_cm2=AREA)
    corrected = pellet_conductivity(s.freq_hz, s.z_ohm, thickness_mm=0.8, area_cm2=AREA, lead_resistance_ohm=0.5)
    assert with_leads.r_total_ohm == pytest.approx(truth.r_total_ohm + 0.5, rel=0.03)
    assert corrected.r_total_ohm == pytest.approx(truth.r_total_ohm, rel=0.03)
    assert "minus 0.5 ohm of leads" in corrected.statement and "included" in with_leads.statement


def test_it_refuses_a_spectrum_without_a_blocking_spike():
    from impedance.simulate import simulate_spectrum

    # a non-blocking cell: the arc closes on the real axis at low frequency, no spike
    s = simulate_spectrum("R0-p(R1,CPE1)", {"R0": 5.0, "R1": 100.0, "CPE1_0": 1e-6, "CPE1_1": 0.9})
    with pytest.raises(AnalysisError, match="spike"):
        pellet_conductivity(s.freq_hz, s.z_ohm, thickness_mm=0.8, area_cm2=AREA, name="cell.mpt")
    data, _ = pellet_series_files([25], **LGPS)[0]
    s = read_eis(io.BytesIO(data), name="p.mpt")
    high = s.freq_hz > 1e6  # a sweep stopped above the spike
    with pytest.raises(AnalysisError, match="p.mpt: no blocking-electrode spike"):
        pellet_conductivity(s.freq_hz[high], s.z_ohm[high], thickness_mm=0.8, area_cm2=AREA, name="p.mpt")


def test_it_flags_a_point_off_the_arrhenius_line():
    t = np.array(TEMPS, dtype=float)
    tk = t + 273.15
    sigma = 0.012 * 298.15 / tk * np.exp(-0.25 / 8.617333262e-5 * (1 / tk - 1 / 298.15))
    sigma[2] *= 1.25
    fit = arrhenius_fit(t, sigma)
    assert fit.off_line == [2]
    assert arrhenius_fit(t, np.delete(sigma, 2).tolist() + [sigma[2] / 1.25])  # the clean values fit
    with pytest.raises(AnalysisError, match="at least 3"):
        arrhenius_fit([25, 40], [0.01, 0.02])


@pytest.mark.parametrize("fmt", ["land", "biologic"])
def test_it_finds_the_ccd_at_the_true_step(fmt):
    records, truth = ccd_records(short_step=6, seed=2)
    export = read_export(io.BytesIO(write_records(records, fmt)), name=f"ccd.{fmt}")
    r = export.records
    result = critical_current_density(r.test_time_s, r.current_ma, r.voltage_v, area_cm2=truth.area_cm2)
    assert result.ccd_ma_cm2 == pytest.approx(truth.ccd_ma_cm2, rel=1e-3)
    assert abs(result.short_time_s - truth.short_time_s) <= 10.0  # one record
    assert [round(s.current_density_ma_cm2, 4) for s in result.steps] == [round(j, 4) for j in truth.steps_ma_cm2[:7]]
    # overpotential of each step = j * ASR (120 ohm cm2): 6 mV at 0.05 mA/cm2
    assert result.steps[0].overpotential_mv == pytest.approx(6.0, abs=0.3)
    assert result.steps[5].overpotential_mv == pytest.approx(0.30 * 120, abs=0.5)
    assert result.steps[-1].shorted and "step in which the cell shorts" in result.definition


def test_it_says_not_reached_when_the_cell_never_shorts_and_ignores_a_glitch():
    for kw in ({"short_step": None}, {"short_step": None, "glitch_step": 3}):
        records, truth = ccd_records(seed=4, **kw)
        export = read_export(io.BytesIO(write_records(records, "land-csv")), name="ccd.csv")
        r = export.records
        result = critical_current_density(r.test_time_s, r.current_ma, r.voltage_v, area_cm2=truth.area_cm2)
        assert result.ccd_ma_cm2 is None and result.short_time_s is None and not result.reached
        assert len(result.steps) == 10
    assert truth.glitch_time_s is not None


def test_it_finds_the_short_after_an_earlier_glitch():
    records, truth = ccd_records(short_step=4, glitch_step=2, seed=9)
    result = critical_current_density(records.test_time_s, records.current_ma, records.voltage_v,
                                      area_cm2=truth.area_cm2)
    assert result.ccd_ma_cm2 == pytest.approx(0.25) and result.short_time_s == truth.short_time_s


def test_it_refuses_a_full_cell_or_an_unstepped_record():
    from cycling.simulate import simple_spec, simulate_cell

    full = simulate_cell(simple_spec(3))
    with pytest.raises(AnalysisError, match="full cell"):
        critical_current_density(full.test_time_s, full.current_ma, full.voltage_v, area_cm2=0.785)
    records, _ = ccd_records(n_steps=1, short_step=None)
    with pytest.raises(AnalysisError, match="no steps"):
        critical_current_density(records.test_time_s, records.current_ma, records.voltage_v, area_cm2=0.785)


def test_it_gives_the_electronic_conductivity_at_steady_state_and_refuses_before():
    frame, i_e = dc_polarisation_records(sigma_e_s_cm=5e-9, seed=1)
    result = electronic_conductivity(frame.test_time_s, frame.current_ma, frame.voltage_v, thickness_mm=0.8,
                                     area_cm2=0.7854)
    assert result.sigma_e_s_cm == pytest.approx(5e-9, rel=0.02) and result.current_ss_ma == pytest.approx(i_e, rel=0.02)
    assert "steady state" in result.steady_state
    short, _ = dc_polarisation_records(duration_s=3600.0, tau_s=1800.0)
    with pytest.raises(AnalysisError, match="no steady state"):
        electronic_conductivity(short.test_time_s, short.current_ma, short.voltage_v, thickness_mm=0.8,
                                area_cm2=0.7854)
