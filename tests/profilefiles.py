"""Seeded text exports in a layout no reader knows (a German-like cycler export: semicolons, decimal commas, a
two-line preamble, time in hours, current in mA, Windows-1252), with the current-integrated truth per cycle."""
import numpy as np
import pandas as pd

HEADER = ["Zeit/h", "Strom/mA", "Spannung/V", "Zyklus"]


def german_export(seed: int, n_cycles: int = 4, *, step_s: float = 30.0) -> tuple[bytes, pd.DataFrame]:
    """(file bytes, truth): truth has per cycle the charge and discharge capacity in mAh as current x time of
    each constant-current half (every record closes a ``step_s`` interval at its own current)."""
    rng = np.random.default_rng(seed)
    t_s, rows, truth = 0.0, [], []
    for cycle in range(1, n_cycles + 1):
        charge_ma = float(rng.uniform(0.15, 0.25))
        discharge_ma = float(rng.uniform(0.15, 0.25))
        n_charge, n_discharge = int(rng.integers(100, 140)), int(rng.integers(90, 130))
        n_rest = 10
        for kind, current, n in (("charge", charge_ma, n_charge), ("rest", 0.0, n_rest),
                                 ("discharge", -discharge_ma, n_discharge), ("rest", 0.0, n_rest)):
            for k in range(1, n + 1):
                t_s += step_s
                frac = k / n
                volts = {"charge": 3.0 + 1.2 * frac, "discharge": 4.2 - 1.2 * frac}.get(kind, 3.6)
                rows.append((t_s / 3600.0, current, volts + float(rng.normal(0, 0.001)), cycle))
        truth.append({"cycle": cycle, "charge_mah": charge_ma * n_charge * step_s / 3600.0,
                      "discharge_mah": discharge_ma * n_discharge * step_s / 3600.0})
    lines = ["Messprogramm: Zyklisierung Halbzelle;Kanal 3",
             f"Gerät: Prüfstand XT-8 (Seriennr. {seed});Datum: 07.12.2026"]
    lines.append(";".join(HEADER))
    for hours, current, volts, cycle in rows:
        lines.append(f"{hours:.8f};{current:.5f};{volts:.5f};{cycle}".replace(".", ","))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252"), pd.DataFrame(truth)


GERMAN_MAPPING = {
    "columns": {"time": "Zeit/h", "current": "Strom/mA", "voltage": "Spannung/V", "cycle": "Zyklus"},
    "units": {"time": "h", "current": "mA", "voltage": "V"},
    "delimiter": ";", "decimal": ",", "header_row": 3, "encoding": "auto",
}
