"""Demo data of the reference study, sent through the real upload API and worker (the quick start uses it).

Each of the six study cells gets a generated LAND export (seeded, cached under var/demo/): formation at
0.1C then C/3; coated cells run 502 cycles, bare cells 200 (they fade to ~0 by then); LNTO-01 also
runs the 0.1C -> 1C rate test. Each cell also gets EIS spectra (BioLogic .mpt text): after formation
with the study's R_int (1400 ohm bare, 248 ohm coated), then after cycles 100 and 200 with an
illustrative growth of the interface resistance (not a published figure).

The demo owns only the cells it created (`Cell.is_demo`, see cells.demo): cells a user added to the study
project, or a user's cell carrying a demo name, get nothing. A file the demo cell already holds (same name,
not failed) is not sent again, so restarting the quick start uploads and queues nothing twice.
"""
import time
from pathlib import Path

from django.conf import settings

from cells.demo import BARE, COATED, DEMO_DEVICE, STUDY_PROJECT, demo_cells
from cells.demo import api_call as _call
from cells.demo import multipart_body as _multipart
from cells.models import Cell, CyclerDevice, Project
from cycling.models import DataFile

POINTS_PER_HALF_CYCLE = 40


def demo_exports(cycles: int = 502, write=None) -> list[tuple[Cell, Path]]:
    """Generate (once) the LAND workbook of every study cell; returns (cell, path) pairs. `write` is told
    once when a workbook has to be generated (the first start), never when all are cached."""
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    out = settings.VAR_DIR / "demo"
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    announced = False
    for cell in demo_cells():
        group = "coated" if cell.group.name == COATED else "bare"
        n = cycles if group == "coated" else min(cycles, 200)
        rate_test = cell.name == "LNTO-01" and n >= 40  # the rate test needs 15 cycles of its own
        path = out / f"{cell.name}_ch{cell.replicate_number}_{n}cyc{'_rate' if rate_test else ''}.xlsx"
        if not path.exists():
            if write is not None and not announced:
                write("Generating the study's LAND exports (first start only)...")
                announced = True
            records, _ = study_cell(group, replicate=cell.replicate_number, n_cycles=n, rate_test=rate_test,
                                    points_per_half_cycle=POINTS_PER_HALF_CYCLE, active_mass_mg=cell.active_mass_mg)
            records = _ending_an_hour_ago(records)
            tmp = path.with_suffix(".tmp")
            write_land(records, tmp, active_mass_mg=cell.active_mass_mg)
            tmp.rename(path)
        pairs.append((cell, path))
    return pairs


def _ending_an_hour_ago(records):
    """Move the run's SysTime (the cycler PC's wall clock) so its last record is an hour old: the demo board
    then shows tests running today (and, once the files are older than the stale limit, stale ones)."""
    import zoneinfo

    import pandas as pd

    now = pd.Timestamp.now(tz=zoneinfo.ZoneInfo(settings.TIME_ZONE)).tz_localize(None)
    return records.assign(sys_time=records["sys_time"] + (now - pd.Timedelta(hours=1) - records["sys_time"].max()))


# Interface-resistance growth per 100 cycles in the demo spectra (illustrative, not from the study).
EIS_GROWTH_PER_100_CYCLES = {"bare": 0.45, "coated": 0.08}
EIS_AFTER_CYCLES = (2, 100, 200)


def demo_spectra() -> list[tuple[Cell, str, bytes]]:
    """(cell, file name, .mpt bytes) of the demo EIS spectra of every study cell."""
    from impedance.simulate import (
        STUDY_CIRCUIT_WITH_L,
        STUDY_FREQ_HZ,
        STUDY_INDUCTANCE_H,
        STUDY_PARAMS,
        simulate_spectrum,
        write_mpt,
    )

    out = []
    for cell in demo_cells():
        group = "coated" if cell.group.name == COATED else "bare"
        for after in EIS_AFTER_CYCLES:
            params = {"L0": STUDY_INDUCTANCE_H, **STUDY_PARAMS[group]}  # leads and holder add an inductance
            spread = 1.0 + 0.03 * (cell.replicate_number - 2)
            params["R2"] *= spread * (1.0 + EIS_GROWTH_PER_100_CYCLES[group] * (after - 2) / 100.0)
            spectrum = simulate_spectrum(STUDY_CIRCUIT_WITH_L, params, STUDY_FREQ_HZ, seed=cell.replicate_number * 1000 + after)
            out.append((cell, f"{cell.name}_PEIS_c{after}.mpt", write_mpt([spectrum], area_cm2=cell.electrode_area_cm2)))
    return out


def _files_held(base_url: str) -> dict[tuple[int, str], dict]:
    """(cell id, file name) -> status answer of the files the demo cells hold already (failed ones excepted:
    those are sent again). Regenerated demo files differ in their bytes (the workbook's timestamps), so the
    API's same-bytes check alone would import them twice."""
    rows = (DataFile.objects.filter(cell__in=demo_cells()).exclude(status=DataFile.Status.FAILED)
            .values("pk", "cell_id", "original_name", "status", "kind"))
    return {(r["cell_id"], r["original_name"]): {
        "id": r["pk"], "status": r["status"], "kind": r["kind"], "original_name": r["original_name"],
        "status_url": f"{base_url}/api/v1/datafiles/{r['pk']}/"} for r in rows}


def upload_demo_data(*, base_url: str, cycles: int = 502, stdout=None, timeout_s: float = 900) -> list[dict]:
    """Upload every demo export as the demo cycler PC would, then wait until the worker has imported them."""
    write = stdout.write if stdout else print
    device, _ = CyclerDevice.objects.get_or_create(name=DEMO_DEVICE, defaults={"timezone": settings.TIME_ZONE})
    device.projects.add(Project.objects.get(name=STUDY_PROJECT))
    statuses = []
    sent = 0
    held = _files_held(base_url)
    for cell, path in demo_exports(cycles, write=write):
        answer = held.get((cell.pk, path.name))
        if answer is None:
            body, ctype = _multipart({"cell": cell.name, "kind": "cycling", "notes": "demo"}, path.name,
                                     path.read_bytes())
            answer = _call(f"{base_url}/api/v1/datafiles/", device.key, body, ctype)
            sent += 1
            write(f"  {path.name}: {answer['status']} ({answer['status_url']})")
        else:
            write(f"  {path.name}: held already ({answer['status']})")
        statuses.append(answer)
    for cell, name, data in demo_spectra():
        answer = held.get((cell.pk, name))
        if answer is None:
            after = name.rsplit("_c", 1)[1].split(".")[0]
            body, ctype = _multipart({"cell": cell.name, "kind": "eis", "notes": f"demo after_cycle={after}"},
                                     name, data)
            answer = _call(f"{base_url}/api/v1/datafiles/", device.key, body, ctype)
            sent += 1
        statuses.append(answer)
    if sent:
        write(f"  {sent} files sent ({len(statuses) - sent} held already); waiting for the worker...")
    else:
        write(f"  nothing to send: the demo cells hold all {len(statuses)} files already.")
    deadline = time.monotonic() + timeout_s
    pending = {a["id"]: a["status_url"] for a in statuses if a["status"] not in ("imported", "failed")}
    while pending and time.monotonic() < deadline:
        for datafile_id, url in list(pending.items()):
            answer = _call(url, device.key)
            if answer["status"] in ("imported", "failed"):
                if answer["status"] == "failed" or answer["kind"] == "cycling":
                    write(f"  {answer['original_name']}: {answer['status']} {answer.get('error') or ''}".rstrip())
                pending.pop(datafile_id)
        time.sleep(1)
    if pending:
        write(f"  still processing: {sorted(pending)} (the worker keeps going in the background)")
    return statuses


__all__ = ["BARE", "COATED", "demo_exports", "demo_spectra", "upload_demo_data"]
