"""Seeded synthetic EIS spectra from known circuits (the study's cells, series over cycles) and their files.

The generator knows the exact parameters of every spectrum it writes, so fits and the Kramers-Kronig check
can be tested against the truth; the writers produce each text format the app reads (BioLogic .mpt, Gamry
.DTA, ZPlot .z, CH Instruments, Autolab NOVA, CSV) so the same spectra also go through every parser.
"""

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
# Cables and the cell holder add a series inductance: 0.2 uH gives Z'' = +8.8 ohm at 7 MHz, so the
# highest-frequency points of these cells lie below the real axis as in real measurements.
STUDY_INDUCTANCE_H = 2e-7
STUDY_CIRCUIT_WITH_L = "L0-" + STUDY_CIRCUIT
# Interface-resistance growth per 100 cycles of the generated 500-cycle series (illustrative, not from the
# study; the same figures as the demo's spectra).
SERIES_GROWTH_PER_100_CYCLES = {"bare": 0.45, "coated": 0.08}
FORMATS = ("mpt", "dta", "z", "chi", "nova", "csv")


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

    The clock runs in the order of ``freq_hz``, high to low frequency for the study's sweep, as instruments
    measure. It matches the time columns of the real samples in shared/samples/eis: BioLogic 0.24 s per point
    at high frequency and ~1.1 periods at low frequency, Gamry 1-2 s and ~3 periods, ZPlot 0.7 s. So most of
    a sweep's time, and of a drift, falls on its last decade (69 % below 1 Hz for 7 MHz-0.1 Hz).
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


def study_params(kind: str = "bare", *, cycle: int = 0, inductance_h: float | None = None) -> dict[str, float]:
    """Exact parameters of a study cell's spectrum after ``cycle`` cycles (R2 grows linearly with cycling);
    with ``inductance_h`` the circuit is ``STUDY_CIRCUIT_WITH_L`` and L0 is that inductance."""
    if kind not in STUDY_PARAMS:
        raise ValueError(f"kind must be one of {sorted(STUDY_PARAMS)}, got {kind!r}")
    params = dict(STUDY_PARAMS[kind])
    params["R2"] *= 1.0 + SERIES_GROWTH_PER_100_CYCLES[kind] * cycle / 100.0
    if inductance_h is not None:
        params = {"L0": float(inductance_h), **params}
    return params


def study_spectrum(
    kind: str = "bare",
    seed: int = 0,
    *,
    noise: float = 0.005,
    cycle: int = 0,
    inductance_h: float | None = None,
    drift: Mapping[str, float] | None = None,
) -> EisSpectrum:
    """A spectrum like the study's In-Li|LGPS|NMC532 cells after formation: ``"bare"`` (R_int 1400 ohm) or
    ``"coated"`` (LNTO, R_int 248 ohm); ``cycle`` grows R_int as the series does, ``inductance_h`` adds the
    leads' L0, ``drift`` ramps parameters across the sweep (see :func:`simulate_spectrum`)."""
    params = study_params(kind, cycle=cycle, inductance_h=inductance_h)
    circuit = STUDY_CIRCUIT if inductance_h is None else STUDY_CIRCUIT_WITH_L
    return simulate_spectrum(
        circuit, params, STUDY_FREQ_HZ, noise=noise, seed=seed, drift=drift, name=f"study-{kind}-c{cycle}-{seed}"
    )


def study_series(
    kind: str,
    *,
    cycles: Sequence[int] = tuple(range(0, 501, 10)),
    inductance_h: float | None = STUDY_INDUCTANCE_H,
    noise: float = 0.005,
    seed: int = 0,
) -> list[EisSpectrum]:
    """One cell's spectra over a cycling run (default: every 10 cycles to 500, with the leads' inductance),
    each seeded from ``seed`` and its cycle; ``metadata["true_params"]`` holds each one's exact values."""
    offset = {"bare": 0, "coated": 1}[kind] * 1_000_003
    return [
        study_spectrum(kind, seed + offset + 7919 * c, noise=noise, cycle=c, inductance_h=inductance_h)
        for c in cycles
    ]


def aborted_sweep(spectrum: EisSpectrum, n_points: int = 5) -> EisSpectrum:
    """The first ``n_points`` (highest frequencies) of a sweep, as when the measurement was stopped early."""
    data = spectrum.data.iloc[:n_points].reset_index(drop=True)
    return EisSpectrum(
        data=data, metadata={**spectrum.metadata, "n_points": len(data), "aborted": True},
        warnings=[], source_name=spectrum.source_name + "-aborted",
    )


def write_spectrum(spectrum: EisSpectrum, fmt: str, *, area_cm2: float = 0.785, aborted: bool = False) -> bytes:
    """One sweep as the bytes of an instrument export: ``fmt`` in ``FORMATS``.

    ``aborted`` ends a Gamry file with ``EXPERIMENTABORTED`` (the other formats have no such marker).
    Values are written with 7 significant digits, far below the generator's noise.
    """
    if fmt == "mpt":
        return write_mpt([spectrum], area_cm2=area_cm2)
    d = spectrum.data
    f, z = d.freq_hz.to_numpy(), spectrum.z_ohm
    t = d.time_s.to_numpy() if "time_s" in d else np.cumsum(np.maximum(2.0 / f, 0.5))
    mod, phase = np.abs(z), np.degrees(np.angle(z))
    n = len(f)

    def rows(columns, sep="\t", prefix=""):
        table = np.column_stack(columns)
        return [prefix + sep.join(f"{v:.7E}" for v in row) for row in table]

    if fmt == "dta":
        head = [
            "EXPLAIN", "TAG\tEISPOT", "TITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier",
            f"AREA\tQUANT\t{area_cm2:.5E}\t&Area (cm^2)",
            f"FREQINIT\tQUANT\t{f.max():.5E}\tInitial Fre&q. (Hz)",
            f"FREQFINAL\tQUANT\t{f.min():.5E}\tFinal Fre&q. (Hz)",
            f"ZCURVE\tTABLE\t{n}",
            "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange",
            "\t#\ts\tHz\tohm\tohm\tV\tohm\t°\tA\tV\t#",
        ]
        body = [
            f"\t{k}\t" + "\t".join(f"{v:.7E}" for v in (t[k], f[k], z.real[k], z.imag[k], 1.0, mod[k], phase[k],
                                                          0.0, 0.0)) + "\t9"
            for k in range(n)
        ]
        tail = ["EXPERIMENTABORTED"] if aborted else []
        return ("\n".join([*head, *body, *tail]) + "\n").encode("latin-1")
    if fmt == "z":
        head = [
            "ZPLOT2 ASCII", "  Measured Data, ZPlot:       3.2c", f"    vs Freq-Initial:          {f.max():g}",
            f"    vs Freq-Final:            {f.min():g}", f"    Surface Area:             {area_cm2:g}",
            f"  Data Points:                {n}", "  Freq(Hz)\tAmpl\tBias\tTime(Sec)\tZ'(a)\tZ''(b)\tGD\tErr\tRange",
            "End Comments",
        ]
        body = rows([f, np.full(n, 0.01), np.zeros(n), t, z.real, z.imag, np.zeros(n), np.zeros(n), np.full(n, 3)])
        return ("\n".join([*head, *body]) + "\n").encode("latin-1")
    if fmt == "chi":
        head = [
            "Dec. 1, 2026   10:00:00", "A.C. Impedance", "Instrument Model:  CHI660E", "",
            f"High Frequency (Hz) = {f.max():g}", f"Low Frequency (Hz) = {f.min():g}", "",
            'Freq/Hz, Z\'/ohm, Z"/ohm, Z/ohm, Phase/deg', "",
        ]
        return ("\n".join([*head, *rows([f, z.real, z.imag, mod, phase], sep=", ")]) + "\n").encode("latin-1")
    if fmt == "nova":
        head = ["Index;Frequency (Hz);Z' (\u03a9);-Z'' (\u03a9);Z (\u03a9);-Phase (\u00b0);Time (s)"]
        body = [f"{k + 1};" + ";".join(f"{v:.7E}" for v in (f[k], z.real[k], -z.imag[k], mod[k], -phase[k], t[k]))
                for k in range(n)]
        return ("\n".join([*head, *body]) + "\n").encode("utf-8")
    if fmt == "csv":
        head = ["Frequency (Hz),Z' (ohm),Z'' (ohm)"]
        return ("\n".join([*head, *rows([f, z.real, z.imag], sep=",")]) + "\n").encode("utf-8")
    raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


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
