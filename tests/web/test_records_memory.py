"""The records API streams a 10^6-record run in bounded memory (batches, never the whole frame)."""
import io
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from cycling.models import DataFile
from tests.conftest import client_for
from tests.landfiles import upload_file

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

N_RECORDS = 1_000_000


def _big_records(n: int) -> pd.DataFrame:
    """A seeded 10^6-record run in the stored layout: 500 cycles of 2000 records, charge then discharge."""
    rng = np.random.default_rng(14)
    i = np.arange(n)
    cycle = i // 2000 + 1
    charging = (i % 2000) < 1000
    return pd.DataFrame({
        "record": i + 1, "test_time_s": i * 10.0, "step_time_s": (i % 1000) * 10.0,
        "current_ma": np.where(charging, 0.1056, -0.1056), "voltage_v": 3.0 + rng.normal(0, 0.01, n),
        "capacity_mah": (i % 1000) * 0.0003, "energy_mwh": (i % 1000) * 0.001,
        "cycle": cycle, "step": i // 1000 + 1, "step_kind": np.where(charging, "charge", "discharge"),
        "step_mode": "CC", "sys_time": pd.Timestamp("2021-03-01", tz="UTC") + pd.to_timedelta(i * 10, unit="s"),
    })


@pytest.mark.parametrize("layout", ["analysed", "legacy"])
def test_it_streams_a_million_records_as_csv_in_bounded_memory(viewer, cell, layout):
    """The analysed record as the ingest stores it, and an old raw Parquet (re-derived batch by batch)."""
    from cycling.analysis.record import RECORDS_FORMAT, analysed_record

    frame = _big_records(N_RECORDS)
    provenance = {}
    if layout == "analysed":
        table = pd.DataFrame({"cycle": np.arange(1, 501), "segment": "long-term", "c_rate_label": "C/3"})
        frame = analysed_record(frame, frame["cycle"].to_numpy(), table)
        provenance = {"records_format": RECORDS_FORMAT}
    whole_bytes = int(frame.memory_usage(deep=True).sum())
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd", row_group_size=100_000)
    name = default_storage.save("records/memory-test.parquet", ContentFile(buf.getvalue()))
    del frame, buf
    datafile = DataFile.objects.create(
        cell=cell, file=upload_file(b"-", "big.xlsx"), original_name="big.xlsx", size_bytes=1, sha256="0" * 64,
        status=DataFile.Status.IMPORTED, records_file=name, n_records=N_RECORDS, provenance=provenance,
    )
    pool = pa.default_memory_pool()
    resp = client_for(viewer).get(f"/api/v1/datafiles/{datafile.pk}/records/")
    assert resp.status_code == 200
    tracemalloc.start()
    rows = chunks = 0
    arrow_peak = 0
    last = b""
    for chunk in resp.streaming_content:
        rows += chunk.count(b"\n")
        chunks += 1
        arrow_peak = max(arrow_peak, pool.bytes_allocated())
        last = chunk[-200:] or last
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == N_RECORDS + 1  # header + every record
    # The 10^6th record, 9,999,990 s in, with what the analysis decided about it.
    ending = b'2021-06-24 17:46:30.000000Z,500,"discharge",' + (b'"long-term","C/3"' if layout == "analysed"
                                                                  else b'"",""')
    assert last.rstrip().endswith(ending), last[-120:]
    assert chunks >= 60  # one chunk per batch, not one string
    # A whole-frame copy is ~105 MB here (the CSV ~120 MB); the stream holds one batch (16k rows) at a time.
    assert whole_bytes > 100e6
    assert python_peak < whole_bytes / 8, (python_peak, whole_bytes)
    assert arrow_peak < whole_bytes / 8, (arrow_peak, whole_bytes)
    print(f"peak python {python_peak / 1e6:.1f} MB, arrow {arrow_peak / 1e6:.1f} MB, frame {whole_bytes / 1e6:.1f} MB")
