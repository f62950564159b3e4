"""The lab's reference study (DOMAIN.md: Wang et al., Adv. Energy Mater. 2021) as registry records.

3 bare + 3 LNTO-coated SC-NMC532 | LGPS | In-Li cells, marked `is_demo`. Loaded by the quick start and used in
tests; the demo adds data to its own cells only (see lab/demo.py). The demo cycler PC (its device name and
how it calls the upload API) is here too, so every app's demo can send files the way a lab PC does.
"""
import datetime
import io
import json
import urllib.request
import uuid

from django.db import transaction

from .models import Cell, CellGroup, Coating, Material, PressingStep, Project

STUDY_PROJECT = "LNTO coating study"
COATED, BARE = "LNTO-coated", "bare"
REPLICATES = 3
# Small replicate spread in composite loading (mg/cm2); replicate 1 is the study's nominal 12.0.
LOADING_SPREAD_MG_CM2 = (12.0, 11.8, 12.2)
DEMO_DEVICE = "demo-cycler-pc"
DEMO_CELL_NAMES = tuple(f"{prefix}-{rep:02d}" for prefix in ("LNTO", "BARE") for rep in range(1, REPLICATES + 1))


@transaction.atomic
def load_study_registry(*, stdout=None) -> list[Cell]:
    """The study's six demo cells, created once (with their materials, coating, project and groups).

    Idempotent and polite: what exists already is left as it is (a researcher may have corrected a
    demo cell's build sheet or a material's value), and a cell the demo did not create (`is_demo` False)
    is never touched, even when it carries a demo cell's name; that demo cell is then skipped with a
    message. Returns the demo cells only.
    """
    write = stdout.write if stdout else (lambda _msg: None)
    m = {}
    for name, kind, formula, extra in [
        ("SC-NMC532", Material.Kind.CATHODE_ACTIVE, "LiNi0.5Mn0.3Co0.2O2", {"theoretical_capacity_mah_g": 160.0}),
        ("LGPS", Material.Kind.SOLID_ELECTROLYTE, "Li10GeP2S12", {}),
        ("In-Li", Material.Kind.ANODE, "In-Li alloy", {"potential_vs_li_v": 0.62}),
        ("LNTO", Material.Kind.COATING, "LiNb0.5Ta0.5O3", {}),
    ]:
        m[name], _ = Material.objects.get_or_create(name=name, defaults={"kind": kind, "formula": formula, **extra})
    coating, _ = Coating.objects.get_or_create(
        material=m["LNTO"], thickness_nm=10.0,
        defaults={"wt_percent": 1.0, "method": "sol-gel", "anneal_temperature_c": 400.0, "anneal_time_h": 1.0},
    )
    project, _ = Project.objects.get_or_create(
        name=STUDY_PROJECT, defaults={"description": "Bare vs 10 nm LNTO-coated SC-NMC532 with LGPS and In-Li."}
    )
    groups = {
        COATED: CellGroup.objects.get_or_create(project=project, name=COATED, defaults={"color": "#2459c5"})[0],
        BARE: CellGroup.objects.get_or_create(project=project, name=BARE, defaults={"color": "#d92d20"})[0],
    }
    existing = {c.name: c for c in Cell.objects.filter(name__in=DEMO_CELL_NAMES)}
    cells = []
    for group_name, prefix in ((COATED, "LNTO"), (BARE, "BARE")):
        for rep in range(1, REPLICATES + 1):
            name = f"{prefix}-{rep:02d}"
            cell = existing.get(name)
            if cell is not None and not cell.is_demo:
                write(f"  {name} exists and was not made by the demo: left alone (no demo data for it).")
                continue
            if cell is None:
                cell = Cell.objects.create(
                    name=name, is_demo=True,
                    project=project, group=groups[group_name], replicate_number=rep, builder="demo",
                    build_date=datetime.date(2021, 3, rep), cathode_material=m["SC-NMC532"],
                    coating=coating if group_name == COATED else None, catholyte=m["LGPS"],
                    cathode_active_fraction=0.70, composite_loading_mg_cm2=LOADING_SPREAD_MG_CM2[rep - 1],
                    electrolyte=m["LGPS"], separator_mass_mg=80.0, anode=m["In-Li"], die_diameter_mm=10.0,
                    stack_pressure_mpa=50.0, theoretical_capacity_mah_g=160.0, voltage_min_v=2.5, voltage_max_v=4.4,
                    voltage_reference=Cell.VoltageReference.LI, temperature_c=25.0, rest_before_test_h=3.0,
                    test_electrode=Cell.TestElectrode.CATHODE, first_half=Cell.FirstHalf.CHARGE,
                    notes="Reference study demo cell.",
                )
                PressingStep.objects.bulk_create([
                    PressingStep(cell=cell, order=1, layer=PressingStep.Layer.SEPARATOR, force_t=1.0,
                                 die_diameter_mm=10.0),
                    PressingStep(cell=cell, order=2, layer=PressingStep.Layer.CATHODE, force_t=3.5,
                                 die_diameter_mm=10.0),
                    PressingStep(cell=cell, order=3, layer=PressingStep.Layer.ANODE, force_t=0.5,
                                 die_diameter_mm=10.0),
                ])
            cells.append(cell)
    return cells


def demo_cells():
    """The cells the demo created (and only those): the demo's data loaders iterate over these."""
    return Cell.objects.filter(is_demo=True, name__in=DEMO_CELL_NAMES).select_related("group").order_by("name")


def multipart_body(fields: dict, file_name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with `fields` and one file part named "file", and its content type."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for key, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n".encode())
    body.write(data)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def api_call(url: str, token: str, data: bytes | None = None, content_type: str | None = None) -> dict:
    """GET (no data) or POST to the running app's API as the device whose token is `token`; the JSON answer."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Authorization", f"Token {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.load(resp)
