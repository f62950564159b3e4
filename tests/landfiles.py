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
# A file no cycler reader reads (a room logger's csv): the failing upload of ingest tests. Its refusal names
# what is missing.
NOT_A_CYCLER = b"timestamp,temperature_C,humidity_percent\n2024-01-01T00:00:00,21.5,40\n2024-01-01T00:01:00,21.6,41\n"
NOT_A_CYCLER_REASON = "no record table"
# A cut cycler table (voltage and current, no time or capacity): the upload's pre-check lets it through (it looks
# like an export; NOT_A_CYCLER does not and is refused with 415), the ingest then fails it with this reason.
CUT_EXPORT = b"Record,Voltage/V,Current/mA\n1,3.1,0.1\n2,3.2,0.1\n"
CUT_EXPORT_REASON = "no test time, capacity column"


def land_bytes(records) -> bytes:
    """Records (the simulator's or a reader's) as LAND's modern xlsx export, as bytes."""
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue()
