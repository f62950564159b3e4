"""Seeded generators with exact truth for the solid-state analyses, written as real instrument files.

- Pellet EIS over temperature: sigma_total * T = A * exp(-Ea / k_B T) exactly (bulk and grain boundary share Ea,
  so the total is exactly Arrhenius and the truth of the fit is known), the bulk arc R_b || C_b with C_b the
  pellet's geometric capacitance, a grain-boundary arc R_gb || CPE, the blocking electrodes' CPE spike; written
  through impedance.simulate's writers (BioLogic .mpt, Gamry .DTA, ZPlot, CSV...) so the EIS readers read them.
- CCD runs of a symmetric Li | SE | Li cell: stepped current densities, one plating and one stripping half-cycle
  per step, |V| = j * ASR + nucleation, a short at a known step and time (the polarisation collapses to
  j * ASR_short and stays there), or none, or a one-record glitch; written as LAND or BioLogic exports.
- DC polarisation: I(t) = I_e + I_ion * exp(-t / tau) at a constant voltage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .analysis import K_B_EV_K, disc_area_cm2
from .analysis.conductivity import EPS0_F_CM

PELLET_CIRCUIT = "R0-p(R1,C1)-p(R2,CPE1)-CPE2"
PELLET_FREQ_HZ = np.logspace(np.log10(7e6), 0, 69)  # 7 MHz to 1 Hz, 10 points per decade

# Li10GeP2S12 (Kamaya et al. 2011): 12 mS/cm at room temperature, Ea about 0.25 eV; its arcs lie above 7 MHz.
LGPS = {"sigma_25c_s_cm": 0.012, "ea_ev": 0.25}
# A slow electrolyte (glass or oxide near room temperature): its bulk arc lies inside a 7 MHz band at 25 C.
SLOW = {"sigma_25c_s_cm": 5e-6, "ea_ev": 0.40}


@dataclass
class PelletTruth:
    temperature_c: float
    r_total_ohm: float
    r_bulk_ohm: float
    r_gb_ohm: float
    sigma_total_s_cm: float
    sigma_bulk_s_cm: float
    bulk_apex_hz: float  # 1 / (2 pi R_b C_b)
    params: dict = field(default_factory=dict)


def pellet_truth(temperature_c: float, *, sigma_25c_s_cm: float, ea_ev: float, thickness_mm: float = 0.8,
                 diameter_mm: float = 10.0, bulk_fraction: float = 0.7, eps_r: float = 40.0, c_gb_f: float = 2e-9,
                 n_gb: float = 0.9, q_el: float = 2e-6, n_el: float = 0.9, lead_resistance_ohm: float = 0.0,
                 ) -> PelletTruth:
    t, t25 = temperature_c + 273.15, 298.15
    sigma_t = sigma_25c_s_cm * t25 / t * math.exp(-ea_ev / K_B_EV_K * (1 / t - 1 / t25))
    area, length = disc_area_cm2(diameter_mm), thickness_mm / 10
    r_total = length / (sigma_t * area)
    r_b, r_gb = bulk_fraction * r_total, (1 - bulk_fraction) * r_total
    c_b = EPS0_F_CM * eps_r * area / length
    # the grain-boundary CPE's Q chosen so that its apex (1 / (R Q)^(1/n) in rad/s) matches R_gb * C_gb
    q_gb = (r_gb * c_gb_f) ** n_gb / r_gb
    params = {"R0": lead_resistance_ohm, "R1": r_b, "C1": c_b, "R2": r_gb, "CPE1_0": q_gb, "CPE1_1": n_gb,
              "CPE2_0": q_el, "CPE2_1": n_el}
    return PelletTruth(temperature_c, r_total, r_b, r_gb, sigma_t, length / (r_b * area),
                       1 / (2 * math.pi * r_b * c_b), params)


def pellet_spectrum(truth: PelletTruth, *, noise: float = 0.003, seed: int = 0, freq_hz=None):
    from impedance.simulate import simulate_spectrum

    spectrum = simulate_spectrum(PELLET_CIRCUIT, truth.params, PELLET_FREQ_HZ if freq_hz is None else freq_hz,
                                 noise=noise, seed=seed, name=f"pellet-{truth.temperature_c:g}C")
    spectrum.metadata["temperature_c"] = truth.temperature_c
    return spectrum


def pellet_series_files(temperatures_c, *, fmt: str = "mpt", seed: int = 0, noise: float = 0.003,
                        **material) -> list[tuple[bytes, PelletTruth]]:
    """One EIS file per temperature (bytes in ``fmt``, see impedance.simulate.FORMATS) with its exact truth."""
    from impedance.simulate import write_spectrum

    out = []
    for k, tc in enumerate(temperatures_c):
        truth = pellet_truth(tc, **material)
        spectrum = pellet_spectrum(truth, noise=noise, seed=seed + 7919 * k)
        out.append((write_spectrum(spectrum, fmt), truth))
    return out


# --- symmetric cells ----------------------------------------------------------------------------------------

@dataclass
class CcdTruth:
    steps_ma_cm2: list[float]
    ccd_ma_cm2: float | None
    short_time_s: float | None
    glitch_time_s: float | None
    asr_ohm_cm2: float
    area_cm2: float


def ccd_records(*, area_cm2: float = 0.7854, start_ma_cm2: float = 0.05, step_ma_cm2: float = 0.05,
                n_steps: int = 10, half_s: float = 1800.0, dt_s: float = 10.0, rest_s: float = 60.0,
                asr_ohm_cm2: float = 120.0, nucleation_mv: float = 8.0, short_step: int | None = 6,
                short_fraction: float = 0.4, asr_short_ohm_cm2: float = 1.5, glitch_step: int | None = None,
                noise_mv: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame, CcdTruth]:
    """Canonical records (cycling.parsers RECORD_COLUMNS) of a CCD run and its truth.

    ``short_step`` (0-based) shorts ``short_fraction`` into that step's plating half; None never shorts.
    ``glitch_step`` puts one record of |V| = 0.1 mV in the middle of that step's stripping half."""
    rng = np.random.default_rng(seed)
    n_half = int(round(half_s / dt_s))
    n_rest = int(round(rest_s / dt_s))
    rows = []  # one block per step of the program (rest, plating, rest, stripping)
    clock, step_no, short_time, glitch_time = 0.0, 0, None, None
    shorted = False
    steps = [start_ma_cm2 + k * step_ma_cm2 for k in range(n_steps)]
    for k, j in enumerate(steps):
        for half, sign in enumerate((1.0, -1.0)):
            step_no += 1
            t = clock + dt_s * np.arange(1, n_rest + 1)
            rows.append(dict(t=t, st=t - clock, i=np.zeros(n_rest), v=rng.normal(0, 0.05e-3, n_rest),
                             cycle=k + 1, step=step_no, kind="rest", mode=""))
            clock = t[-1]
            step_no += 1
            st = dt_s * np.arange(1, n_half + 1)
            eta = (j * asr_ohm_cm2 + nucleation_mv * np.exp(-st / 120.0)) * 1e-3
            if not shorted and short_step is not None and k == short_step and half == 0:
                at = int(short_fraction * n_half)
                short_time = clock + st[at]
                shorted = True
                eta[at:] = j * asr_short_ohm_cm2 * 1e-3
            elif shorted:
                eta[:] = j * asr_short_ohm_cm2 * 1e-3
            v = sign * (eta + rng.normal(0, noise_mv * 1e-3, n_half))
            if glitch_step is not None and k == glitch_step and half == 1:
                v[n_half // 2] = sign * 0.1e-3
                glitch_time = clock + st[n_half // 2]
            rows.append(dict(t=clock + st, st=st, i=np.full(n_half, sign * j * area_cm2), v=v, cycle=k + 1,
                             step=step_no, kind="charge" if sign > 0 else "discharge", mode="CC"))
            clock += st[-1]
    frame = pd.concat([pd.DataFrame({"test_time_s": r["t"], "step_time_s": r["st"], "current_ma": r["i"],
                                     "voltage_v": r["v"], "cycle": r["cycle"], "step": r["step"],
                                     "step_kind": r["kind"], "step_mode": r["mode"]}) for r in rows],
                      ignore_index=True)
    # LAND's unsigned running capacity: restarts when the direction changes, held through rests
    dq = np.abs(frame["current_ma"].to_numpy()) * dt_s / 3600.0
    direction = frame["step_kind"].where(frame["step_kind"] != "rest").ffill().fillna("rest")
    block = (direction != direction.shift()).cumsum()
    frame["capacity_mah"] = pd.Series(dq).groupby(block.to_numpy()).cumsum().to_numpy()
    frame["energy_mwh"] = pd.Series(dq * np.abs(frame["voltage_v"].to_numpy())).groupby(block.to_numpy()).cumsum()
    frame["record"] = np.arange(1, len(frame) + 1)
    frame["sys_time"] = pd.Timestamp("2026-01-05 09:00:00") + pd.to_timedelta(frame["test_time_s"], unit="s")
    from cycling.parsers import RECORD_COLUMNS

    frame = frame[RECORD_COLUMNS]
    ccd = steps[short_step] if short_step is not None else None
    return frame, CcdTruth(steps, ccd, short_time, glitch_time, asr_ohm_cm2, area_cm2)


def write_records(records: pd.DataFrame, fmt: str = "land") -> bytes:
    """A cycler export of canonical records: "land" (LAND .xlsx), "land-csv" or "biologic" (.mpt)."""
    import io

    buf = io.BytesIO()
    if fmt == "land":
        from cycling.testing import write_land

        write_land(records, buf, precision="full")
    elif fmt == "land-csv":
        from cycling.testing import write_land

        write_land(records, buf, variant="csv", precision="full")
    elif fmt == "biologic":
        from cycling.writers import write_biologic_mpt

        write_biologic_mpt(records, buf)
    else:
        raise ValueError(f"fmt must be land, land-csv or biologic, not {fmt!r}")
    return buf.getvalue()


def dc_polarisation_records(*, voltage_v: float = 0.5, sigma_e_s_cm: float = 5e-9, thickness_mm: float = 0.8,
                            area_cm2: float = 0.7854, ion_ma: float = 0.05, tau_s: float = 900.0,
                            duration_s: float = 5 * 3600.0, dt_s: float = 10.0, noise: float = 0.002,
                            seed: int = 0) -> tuple[pd.DataFrame, float]:
    """Time, current and voltage of a DC polarisation and the true electronic current (mA)."""
    rng = np.random.default_rng(seed)
    t = np.arange(dt_s, duration_s + dt_s / 2, dt_s)
    i_e = sigma_e_s_cm * voltage_v * area_cm2 / (thickness_mm / 10) * 1e3
    i = (i_e + ion_ma * np.exp(-t / tau_s)) * (1 + noise * rng.standard_normal(len(t)))
    return pd.DataFrame({"test_time_s": t, "current_ma": i, "voltage_v": np.full(len(t), voltage_v)}), i_e


def pressure_log(*, registered_mpa: float = 50.0, duration_s: float = 24 * 3600.0, dt_s: float = 60.0,
                 drift_from_s: float | None = None, drift_to_mpa: float = 40.0, noise_mpa: float = 0.3,
                 seed: int = 0) -> pd.DataFrame:
    """A load-cell record (time_s, pressure_mpa): steady at the registered value, or relaxing linearly to
    ``drift_to_mpa`` from ``drift_from_s`` on (a frame whose springs creep)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s + dt_s / 2, dt_s)
    p = np.full(len(t), registered_mpa)
    if drift_from_s is not None:
        ramp = np.clip((t - drift_from_s) / max(duration_s - drift_from_s, 1.0), 0.0, 1.0)
        p = registered_mpa + (drift_to_mpa - registered_mpa) * ramp
    return pd.DataFrame({"time_s": t, "pressure_mpa": p + noise_mpa * rng.standard_normal(len(t))})


def bdf_with_pressure(records: pd.DataFrame, pressure: pd.DataFrame, *, area_cm2: float = 0.7854) -> bytes:
    """A BDF csv (human labels) of ``records`` with an ``Applied Pressure / Pa`` column interpolated from the
    (time_s, pressure_mpa) log."""
    import io

    from cycling.parsers.bdf import write_bdf

    buf = io.BytesIO()
    write_bdf(records, buf, labels=True)
    buf.seek(0)
    frame = pd.read_csv(buf)
    time_col = next(c for c in frame.columns if c.lower().startswith("test time"))
    frame["Applied Pressure / Pa"] = np.interp(frame[time_col].to_numpy(dtype=float), pressure["time_s"],
                                               pressure["pressure_mpa"]) * 1e6
    return frame.to_csv(index=False).encode()


def dc_polarisation_export(**kw) -> tuple[pd.DataFrame, float]:
    """The DC polarisation as canonical cycler records (one potentiostatic step), for the cycler writers."""
    from cycling.parsers import RECORD_COLUMNS

    frame, i_e = dc_polarisation_records(**kw)
    t, i = frame["test_time_s"].to_numpy(), frame["current_ma"].to_numpy()
    dt = np.diff(t, prepend=0.0)
    records = pd.DataFrame({
        "record": np.arange(1, len(t) + 1), "test_time_s": t, "step_time_s": t, "current_ma": i,
        "voltage_v": frame["voltage_v"].to_numpy(), "capacity_mah": np.cumsum(i * dt / 3600.0),
        "energy_mwh": np.cumsum(i * dt / 3600.0 * frame["voltage_v"].to_numpy()), "cycle": 1, "step": 1,
        "step_kind": "charge", "step_mode": "CV",
        "sys_time": pd.Timestamp("2026-01-05 09:00:00") + pd.to_timedelta(t, unit="s")})
    return records[RECORD_COLUMNS], i_e
