"""The demo's solid-state specimens: one LGPS batch (the study's separator), a pellet measured at 25-80 C and a
Li | LGPS | Li symmetric cell stepped to its short; the study's six cells point to the batch.

Numbers: LGPS 12 mS/cm at 25 C with Ea 0.25 eV (Kamaya et al., Nat. Mater. 10, 682, 2011); the generated spectra
and CCD run carry exact truth (solidstate.simulate). Like the rest of the demo it only adds to what it created."""
from __future__ import annotations

import datetime

from django.db import transaction

from cells.demo import DEMO_DEVICE, STUDY_PROJECT, api_call, demo_cells, multipart_body
from cells.models import Cell, CellGroup, CyclerDevice, ElectrolyteBatch, Material, Project
from cycling.models import DataFile

from .simulate import LGPS, ccd_records, dc_polarisation_export, pellet_series_files, write_records

BATCH = "LGPS-2021-A"
PELLET = "LGPS-PELLET-01"
SYMMETRIC = "LGPS-SYM-01"
GROUP = "LGPS electrolyte"
PELLET_TEMPERATURES_C = (25, 35, 45, 55, 65, 80)
PELLET_THICKNESS_MM = 0.8
DEMO_SIGMA_E_S_CM = 5e-9  # sulfides: 1e-9 to 1e-8 S/cm
CCD_SHORT_STEP = 9  # 0.05 mA/cm2 more per step from 0.05: shorts at 0.50 mA/cm2 (sulfides vs Li: 0.2-1.5)


@transaction.atomic
def load_solid_registry(*, stdout=None) -> list[Cell]:
    """The LGPS batch, the pellet and the symmetric cell (created once; is_demo), and the study cells linked to
    the batch where they have none. Returns the two specimens."""
    write = stdout.write if stdout else (lambda _msg: None)
    lgps = Material.objects.get(name="LGPS")
    li, _ = Material.objects.get_or_create(name="Li", defaults={"kind": Material.Kind.ANODE, "formula": "Li metal",
                                                                "potential_vs_li_v": 0.0})
    batch, _ = ElectrolyteBatch.objects.get_or_create(name=BATCH, defaults={
        "material": lgps, "supplier": "demo (NEI Corporation lot, as in the study)", "made_on": datetime.date(2021, 2, 1),
        "notes": "Separator electrolyte of the reference study's cells."})
    for cell in demo_cells().filter(electrolyte_batch__isnull=True):
        Cell.objects.filter(pk=cell.pk).update(electrolyte_batch=batch)
    project = Project.objects.get(name=STUDY_PROJECT)
    group, _ = CellGroup.objects.get_or_create(project=project, name=GROUP, defaults={"color": "#7a5af8"})
    specimens = []
    common = {"project": project, "group": group, "builder": "demo", "electrolyte": lgps, "electrolyte_batch": batch,
              "die_diameter_mm": 10.0, "is_demo": True, "build_date": datetime.date(2021, 2, 3)}
    for name, fields in (
        (PELLET, {"cell_type": Cell.CellType.PELLET, "electrode_metal": "SS", "pellet_thickness_mm": PELLET_THICKNESS_MM,
                  "pressing_pressure_mpa": 375.0, "pressing_time_s": 300.0, "stack_pressure_mpa": 50.0,
                  "notes": "SS | LGPS | SS pellet, EIS 7 MHz-1 Hz at 25-80 C."}),
        (SYMMETRIC, {"cell_type": Cell.CellType.SYMMETRIC, "electrode_metal": "Li", "anode": li,
                     "pellet_thickness_mm": PELLET_THICKNESS_MM, "stack_pressure_mpa": 50.0, "temperature_c": 25.0,
                     "notes": "Li | LGPS | Li, current density stepped by 0.05 mA/cm2, 0.5 h per half-cycle."}),
    ):
        cell = Cell.objects.filter(name=name).first()
        if cell is not None and not cell.is_demo:
            write(f"  {name} exists and was not made by the demo: left alone.")
            continue
        if cell is None:
            cell = Cell.objects.create(name=name, **common, **fields)
        specimens.append(cell)
    return specimens


def solid_demo_files() -> list[tuple[str, str, str, str, bytes]]:
    """(cell name, kind, file name, upload notes, bytes) of the specimens' files."""
    out = []
    for (data, truth) in pellet_series_files(PELLET_TEMPERATURES_C, fmt="mpt", seed=2021, thickness_mm=PELLET_THICKNESS_MM,
                                             **LGPS):
        t = int(truth.temperature_c)
        out.append((PELLET, "eis", f"{PELLET}_PEIS_{t}C.mpt", f"demo temperature_c={t}", data))
    dc, _ = dc_polarisation_export(sigma_e_s_cm=DEMO_SIGMA_E_S_CM, thickness_mm=PELLET_THICKNESS_MM, seed=2021)
    out.append((PELLET, "cycling", f"{PELLET}_DC_0.5V.mpt", "demo", write_records(dc, "biologic")))
    records, _ = ccd_records(short_step=CCD_SHORT_STEP, n_steps=12, glitch_step=3, seed=2021)
    out.append((SYMMETRIC, "cycling", f"{SYMMETRIC}_CCD.xlsx", "demo", write_records(records, "land")))
    return out


def upload_solid_demo(*, base_url: str, stdout=None) -> list[dict]:
    """Send the specimens' files through the API as the demo cycler PC (cells.demo's client); skips a file the
    cell holds already. The worker imports them like any other upload."""
    write = stdout.write if stdout else print
    device = CyclerDevice.objects.get(name=DEMO_DEVICE)
    held = set(DataFile.objects.filter(cell__name__in=[PELLET, SYMMETRIC], cell__is_demo=True)
               .exclude(status=DataFile.Status.FAILED).values_list("cell__name", "original_name"))
    answers = []
    for cell, kind, name, notes, data in solid_demo_files():
        if (cell, name) in held:
            continue
        body, ctype = multipart_body({"cell": cell, "kind": kind, "notes": notes}, name, data)
        answers.append(api_call(f"{base_url}/api/v1/datafiles/", device.key, body, ctype))
    write(f"  solid-state demo: {len(answers)} file(s) sent (pellet spectra at "
          f"{', '.join(map(str, PELLET_TEMPERATURES_C))} C, a DC polarisation, one CCD run)")
    return answers
