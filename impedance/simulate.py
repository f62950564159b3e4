"""Seeded synthetic EIS spectra from known circuits, including look-alikes of the reference study's cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .circuits import compile_circuit, validate_circuit
from .parsers import EisSpectrum

STUDY_CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)-Wo1"
STUDY_FREQ_HZ = np.logspace(np.log10(7e6), -1, 80)  # 7 MHz to 0.1 Hz, ~10 points per decade

# In-Li | LGPS | NMC532 after formation (Wang et al. 2021): R_int 1400 ohm bare vs 248 ohm LNTO-coated.
# Same cathode-interface CPE for both, so the bare arc peaks near 80 Hz and the coated one near 700 Hz,
# 1.6 decades from the anode arc (~30 kHz) as EIS_NOTES describes.
_STUDY_COMMON = {
    "R0": 45.0,  # LGPS bulk: its arc lies near 1e8 Hz, so only the intercept shows
    "R1": 120.0,  # In-Li | LGPS interphase / grain boundaries
    "CPE1_0": 2.7e-7,  # apex near 30 kHz
    "CPE1_1": 0.85,
    "CPE2_0": 4.93e-6,
    "CPE2_1": 0.80,
    "Wo1_0": 400.0,  # diffusion tail
    "Wo1_1": 5.0,
}
STUDY_PARAMS: dict[str, dict[str, float]] = {
    "bare": {**_STUDY_COMMON, "R2": 1400.0},
    "coated": {**_STUDY_COMMON, "R2": 248.0},
}


def simulate_spectrum(
    circuit: str,
    params: Mapping[str, float] | Sequence[float],
    freq_hz: np.ndarray | Sequence[float] | None = None,
    *,
    noise: float = 0.005,
    seed: int = 0,
    drift: Mapping[str, float] | None = None,
    name: str = "synthetic",
) -> EisSpectrum:
    """Z of ``circuit`` at ``freq_hz`` (default 7 MHz to 0.1 Hz, 80 points) plus proportional noise.

    Noise: Z' and Z'' each get ``noise * |Z| * N(0, 1)``, seeded. ``drift`` ({param: relative change over
    the sweep}) lets a parameter change linearly in time from the first to the last point (each point lasts
    two periods, at least 0.5 s; ``time_s`` holds the clock), as a cell that is not stationary would, which a
    Kramers-Kronig test should catch.
    """
    circ = compile_circuit(validate_circuit(circuit))
    names = circ.parameter_names
    if isinstance(params, Mapping):
        missing = set(names) - set(params)
        if missing:
            raise ValueError(f"missing parameter(s) {sorted(missing)} for {circ.text}")
        values = np.array([float(params[n]) for n in names])
    else:
        values = np.asarray(params, dtype=float)
    f = np.asarray(STUDY_FREQ_HZ if freq_hz is None else freq_hz, dtype=float)
    # a point takes two periods but at least 0.5 s (settling, integration): low frequencies dominate the clock
    time_s = np.cumsum(np.maximum(2.0 / f, 0.5))
    if drift:
        progress = (time_s - time_s[0]) / max(time_s[-1] - time_s[0], 1e-12)
        z = np.empty(len(f), dtype=complex)
        for k in range(len(f)):  # one circuit per point: each point sees the parameters of its moment
            v = values.copy()
            for pname, rel in drift.items():
                v[names.index(pname)] *= 1 + rel * progress[k]
            z[k] = circ(v, f[k : k + 1])[0]
    else:
        z = circ(values, f)
    rng = np.random.default_rng(seed)
    z = z + noise * np.abs(z) * (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)))
    data = pd.DataFrame({"freq_hz": f, "z_real_ohm": z.real, "z_imag_ohm": z.imag, "time_s": time_s})
    metadata = {
        "format": "synthetic",
        "circuit": circ.text,
        "true_params": dict(zip(names, values.tolist(), strict=True)),
        "noise": noise,
        "seed": seed,
        "n_points": len(f),
        "n_sweeps": 1,
    }
    if drift:
        metadata["drift"] = dict(drift)
    return EisSpectrum(data=data, metadata=metadata, warnings=[], source_name=name)


def study_spectrum(kind: str = "bare", seed: int = 0, *, noise: float = 0.005) -> EisSpectrum:
    """A spectrum like the study's In-Li|LGPS|NMC532 cells after formation: ``"bare"`` (R_int 1400 ohm) or
    ``"coated"`` (LNTO, R_int 248 ohm)."""
    if kind not in STUDY_PARAMS:
        raise ValueError(f"kind must be one of {sorted(STUDY_PARAMS)}, got {kind!r}")
    return simulate_spectrum(
        STUDY_CIRCUIT, STUDY_PARAMS[kind], STUDY_FREQ_HZ, noise=noise, seed=seed, name=f"study-{kind}-{seed}"
    )


def write_mpt(spectra, *, decimal_comma: bool = False, with_freq: bool = True, area_cm2: float = 0.785) -> bytes:
    """A minimal EC-Lab (BioLogic) .mpt text export of one or more sweeps (looped: `cycle number`).

    Used by tests and the demo to send spectra through the same upload path as real files.
    """
    columns = ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg", "time/s", "cycle number"]
    if not with_freq:
        columns = columns[1:]
    header = [
        "EC-Lab ASCII FILE", "Nb header lines : 6", "", "Potentio Electrochemical Impedance Spectroscopy",
        f"Electrode surface area : {area_cm2:.3f} cm\u00b2",
    ]
    rows = []
    for number, spectrum in enumerate(spectra, start=1):
        d = spectrum.data
        z = spectrum.z_ohm
        table = np.column_stack([d.freq_hz.to_numpy(), z.real, -z.imag, np.abs(z), np.degrees(np.angle(z)),
                                 d.time_s.to_numpy(), np.full(len(d), number)])
        if not with_freq:
            table = table[:, 1:]
        for values in table:
            text = "\t".join(f"{v:.7E}" for v in values)
            rows.append(text.replace(".", ",") if decimal_comma else text)
    return ("\n".join([*header, "\t".join(columns), *rows]) + "\n").encode("latin-1")
