"""Generated LAND exports for tests (seeded, made at run time; nothing big is committed)."""
import io
from pathlib import Path

from cycling.simulate import study_cell
from cycling.testing import write_land


def study_export(group="coated", *, n_cycles=12, points=40, variant="modern", replicate=1, **kw) -> tuple[bytes, dict]:
    """A LAND workbook of a reference-study cell, as bytes, with the simulator's expectations."""
    records, info = study_cell(group, n_cycles=n_cycles, points_per_half_cycle=points, replicate=replicate, **kw)
    buf = io.BytesIO()
    write_land(records, buf, variant=variant)
    return buf.getvalue(), {**info, "records": records}


def upload_file(data: bytes, name: str = "export.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# Samples copied into the repo (sources in tests/data/*/SOURCES.md); tests never read ../shared directly.
DATA = Path(__file__).resolve().parent / "data"
NEWARE = DATA / "negative" / "neware_custom_data_003.xls"
