"""The shared helpers of assb_lab.lib."""
import hashlib
import io
import json

import numpy as np
import pandas as pd

from assb_lab.lib import file_sha256, jsonable, jsonable_columns, jsonable_records, parse_ids, path_sha256


def test_it_makes_numpy_and_nan_json_safe():
    value = {"a": np.float64(1.5), "b": float("nan"), 3: [np.int64(2), np.inf, np.bool_(True)], "c": np.array([1, 2])}
    out = jsonable(value)
    assert out == {"a": 1.5, "b": None, "3": [2, None, True], "c": [1, 2]}
    json.dumps(out, allow_nan=False)


def test_it_turns_frames_into_json_safe_columns_and_records():
    frame = pd.DataFrame({"cycle": [1, 2], "charge_mah": [1.25, np.nan]})
    assert jsonable_columns(frame) == {"cycle": [1, 2], "charge_mah": [1.25, None]}
    assert jsonable_records(frame) == [{"cycle": 1, "charge_mah": 1.25}, {"cycle": 2, "charge_mah": None}]


def test_it_digests_a_file_and_rewinds_it(tmp_path):
    data = b"LAND export" * 100_000
    fh = io.BytesIO(data)
    fh.read(10)
    assert file_sha256(fh) == hashlib.sha256(data).hexdigest() and fh.tell() == 0
    (tmp_path / "f.bin").write_bytes(data)
    assert path_sha256(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


def test_it_reads_id_lists_in_order_without_duplicates():
    assert parse_ids("3, 1,x,3,,2") == (3, 1, 2)
    assert parse_ids(None) == ()
