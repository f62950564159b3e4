"""The pure part of format profiles: a mapping applied to bytes -> the canonical record frame (units, decimal
comma, header line, encodings, errors naming row and column), and the registry applying a profile."""
import io
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from cycling.analysis import analyse
from cycling.parsers import ParseError, Profile, read_export
from cycling.parsers.profile import (
    guess_layout,
    mapping_from_dict,
    mapping_from_json,
    matches,
    preview_rows,
    read_with_profile,
    records_of,
)
from readers import UNKNOWN_LAYOUT_HINT, UnknownLayout
from tests.fuzz import BYTE_EDITS, mutate
from tests.profilefiles import GERMAN_MAPPING, german_export

SMALL = (
    "instrument X export\n"
    "t [min];I [A];U [mV];Q [Ah];cyc\n"
    "0,5;0,001;3000,0;0,0000083333;1\n"
    "1,0;0,001;3100,0;0,0000166667;1\n"
    "1,5;-0,0005;3050,0;0,0000041667;1\n"
    "2,0;-0,0005;2900,0;0,0000083333;1\n"
)
SMALL_MAPPING = {"columns": {"time": "t [min]", "current": "I [A]", "voltage": "U [mV]", "capacity": "Q [Ah]",
                             "cycle": "cyc"},
                 "units": {"time": "min", "current": "A", "voltage": "mV", "capacity": "Ah"},
                 "delimiter": ";", "decimal": ",", "header_row": 2}


def test_it_converts_every_mapped_unit_to_the_canonical_ones():
    records, meta = records_of(SMALL.encode(), mapping_from_dict(SMALL_MAPPING))
    assert records["test_time_s"].tolist() == pytest.approx([30.0, 60.0, 90.0, 120.0])
    assert records["current_ma"].tolist() == pytest.approx([1.0, 1.0, -0.5, -0.5])
    assert records["voltage_v"].tolist() == pytest.approx([3.0, 3.1, 3.05, 2.9])
    # the file's Ah counter restarts at the reversal: LAND's running totals in mAh
    assert records["capacity_mah"].tolist() == pytest.approx([0.0083333, 0.0166667, 0.0041667, 0.0083333],
                                                               rel=1e-4)
    assert records["step_kind"].tolist() == ["charge", "charge", "discharge", "discharge"]
    assert meta["capacity_source"] == "the file's capacity column"


def test_it_reads_microamps_and_hours_and_a_point_decimal_with_comma_delimiter():
    text = "time,cur,volt\n0.5,100,3.5\n1.0,100,3.6\n1.5,-50,3.4\n"
    mapping = mapping_from_dict({"columns": {"time": "time", "current": "cur", "voltage": "volt"},
                                 "units": {"time": "h", "current": "uA", "voltage": "V"},
                                 "delimiter": "comma", "decimal": "point", "header_row": 1})
    records, meta = records_of(text.encode(), mapping)
    assert mapping.units["current"] == "µA"
    assert records["test_time_s"].tolist() == pytest.approx([1800.0, 3600.0, 5400.0])
    assert records["current_ma"].tolist() == pytest.approx([0.1, 0.1, -0.05])
    # no capacity column: integrated, each record at its own current over the interval before it (0.5 h)
    assert records["capacity_mah"].tolist() == pytest.approx([0.05, 0.10, 0.025])
    assert meta["capacity_source"] == "integrated from the current"


def test_it_takes_the_header_from_the_line_it_is_told_and_skips_the_preamble():
    data, _ = german_export(3, n_cycles=1)
    wrong = mapping_from_dict({**GERMAN_MAPPING, "header_row": 2})
    with pytest.raises(ParseError) as exc:
        records_of(data, wrong)
    assert exc.value.row == 2 and "no column 'Zeit/h' on the header line" in str(exc.value)
    records, meta = records_of(data, mapping_from_dict(GERMAN_MAPPING))
    assert records["test_time_s"].iat[0] == pytest.approx(30.0, abs=1e-3)
    assert meta["encoding"] in ("cp1252", "latin-1")  # 'Gerät' in the preamble, decoded by the one decoder


def test_it_flips_the_current_when_the_file_writes_charge_negative():
    text = "t;i;u\n1;-1;3,5\n2;-1;3,6\n3;1;3,4\n"
    base = {"columns": {"time": "t", "current": "i", "voltage": "u"}, "units": {"time": "s", "current": "mA",
            "voltage": "V"}, "delimiter": ";", "decimal": ","}
    records, _ = records_of(text.encode(), mapping_from_dict({**base, "charge_current": "negative"}))
    assert records["step_kind"].tolist() == ["charge", "charge", "discharge"]


def test_it_names_the_row_and_column_of_a_cell_that_is_not_a_number():
    text = SMALL.replace("3100,0", "3l00,0")
    with pytest.raises(ParseError) as exc:
        records_of(text.encode(), mapping_from_dict(SMALL_MAPPING))
    assert (exc.value.row, exc.value.column) == (4, "U [mV]")
    assert "'3l00,0' is not a number" in str(exc.value)


def test_it_names_the_row_and_column_of_an_empty_time_cell():
    text = SMALL.replace("1,5;-0,0005", ";-0,0005")
    with pytest.raises(ParseError) as exc:
        records_of(text.encode(), mapping_from_dict(SMALL_MAPPING))
    assert (exc.value.row, exc.value.column) == (5, "t [min]")


def test_it_reads_a_decimal_comma_file_with_point_decimals_as_an_error_naming_the_cell():
    # told '.', the cells '0,5' are not numbers: the first one is named
    with pytest.raises(ParseError) as exc:
        records_of(SMALL.encode(), mapping_from_dict({**SMALL_MAPPING, "decimal": "."}))
    assert (exc.value.row, exc.value.column) == (3, "t [min]")


@pytest.mark.parametrize(("change", "says"), [
    ({"columns": {"time": "t", "current": "i"}}, "the voltage column is not mapped"),
    ({"units": {"time": "s", "current": "mA", "voltage": "kV"}}, "the unit of the voltage column is kV"),
    ({"units": {"time": "d", "current": "mA", "voltage": "V"}}, "the unit of the time column is d"),
    ({"delimiter": "|"}, "the delimiter '|' is not one of"),
    ({"decimal": ";"}, "neither '.' nor ','"),
    ({"delimiter": ",", "decimal": ","}, "the same character"),
    ({"header_row": 0}, "a line number from 1"),
    ({"encoding": "klingon-8"}, "unknown text encoding 'klingon-8'"),
    ({"columns": {"time": "t", "current": "t", "voltage": "u"}}, "column 't' is mapped to two roles"),
    ({"columns": {"time": "t", "current": "i", "voltage": "u", "temperature": "T"}}, "unknown column role"),
    ({"columns": {"time": ["t"], "current": "i", "voltage": "u"}}, "named by its header text, not ['t']"),
    ({"delimiter": [";"]}, "'delimiter' is a text"),
    ({"decimal": {}}, "'decimal' is a text"),
    ({"header_row": float("nan")}, "the header row nan is not a line number"),
])
def test_it_refuses_a_mapping_with_a_clear_reason(change, says):
    base = {"columns": {"time": "t", "current": "i", "voltage": "u"}, "units": {"time": "s", "current": "mA",
            "voltage": "V"}, "delimiter": ";", "decimal": ","}
    with pytest.raises(ParseError, match=None) as exc:
        mapping_from_dict({**base, **change})
    assert says in str(exc.value)


def test_it_reads_the_german_export_to_the_current_integrated_capacities():
    data, truth = german_export(11, n_cycles=5)
    export = read_with_profile(data, mapping_from_dict(GERMAN_MAPPING), name="run.txt", profile="XT-8",
                               profile_version=3)
    cycles = analyse(export).cycles.set_index("cycle")
    truth = truth.set_index("cycle")
    assert list(cycles.index) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(cycles["charge_mah"], truth["charge_mah"], rtol=0.005)
    np.testing.assert_allclose(cycles["discharge_mah"], truth["discharge_mah"], rtol=0.005)
    assert export.metadata["profile"] == "XT-8" and export.metadata["profile_version"] == 3


def test_the_unknown_layout_is_refused_with_the_hint_and_read_once_a_profile_applies():
    data, truth = german_export(5, n_cycles=3)
    with pytest.raises(UnknownLayout) as exc:
        read_export(io.BytesIO(data), name="XT8-run.txt")
    assert UNKNOWN_LAYOUT_HINT in str(exc.value) and "XT8-run.txt" in str(exc.value)
    profile = Profile("XT-8 tester", 2, mapping_from_dict(GERMAN_MAPPING))
    export = read_export(io.BytesIO(data), name="XT8-run.txt", profiles=[profile])
    assert export.metadata["parser"] == "assb-lab format profile"
    assert (export.instrument, export.metadata["profile_version"]) == ("XT-8 tester", 2)
    assert analyse(export).cycles["discharge_mah"].to_numpy() == pytest.approx(
        truth["discharge_mah"].to_numpy(), rel=0.005)


def test_a_profile_of_another_layout_does_not_take_a_file_the_readers_know():
    from tests.landfiles import study_export

    land = study_export("coated", n_cycles=2, replicate=1)[0]
    profile = Profile("XT-8 tester", 1, mapping_from_dict(GERMAN_MAPPING))
    assert read_export(io.BytesIO(land), name="land.xlsx", profiles=[profile]).metadata["parser"] == "assb-lab land"
    data, _ = german_export(1, n_cycles=1)
    assert matches(data, profile.mapping)
    assert not matches(SMALL.encode(), profile.mapping)


def test_it_guesses_the_layout_for_the_form():
    data, _ = german_export(2, n_cycles=1)
    guess = guess_layout(data)
    assert (guess["delimiter"], guess["decimal"], guess["header_row"]) == (";", ",", 3)


def test_the_preview_shows_the_first_records_as_read():
    data, _ = german_export(2, n_cycles=2)
    rows = preview_rows(data, mapping_from_dict(GERMAN_MAPPING), n=5)
    assert len(rows) == 5
    assert rows["test_time_s"].tolist() == pytest.approx([30.0, 60.0, 90.0, 120.0, 150.0], abs=1e-3)


def test_the_mapping_survives_its_json_export():
    import json

    mapping = mapping_from_dict(SMALL_MAPPING)
    doc, again = mapping_from_json(json.dumps({"name": "X", "mapping": mapping.to_dict()}))
    assert again == mapping and doc["name"] == "X"
    with pytest.raises(ParseError, match="not JSON"):
        mapping_from_json(b"{no")


@fuzz_settings(max_examples=150, deadline=10000, suppress_health_check=[HealthCheck.too_slow])
@given(edits=BYTE_EDITS)
def test_a_mutated_file_read_with_a_profile_gives_records_or_a_parse_error(edits):
    data, _ = _fuzz_seed()
    profile = Profile("XT-8 tester", 1, mapping_from_dict(GERMAN_MAPPING), forced=True)
    try:
        export = read_export(io.BytesIO(mutate(data, edits)), name="fuzz-xt8.txt", profiles=[profile])
    except ParseError as exc:
        assert "fuzz-xt8.txt" in str(exc)
        return
    assert len(export.records) > 0 and export.records["test_time_s"].is_monotonic_increasing


_KEYS = st.sampled_from(["columns", "units", "delimiter", "decimal", "header_row", "encoding", "charge_current",
                         "time", "current", "voltage", "cycle"])
_LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
           | st.sampled_from([";", ",", "tab", "h", "mA", "µA", "V", "Zeit/h", "auto", "negative"]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
                       max_leaves=10)


@fuzz_settings(max_examples=300, deadline=2000)
@given(raw=st.dictionaries(_KEYS, _VALUES, max_size=8) | _VALUES, over_valid=st.booleans())
def test_any_mapping_document_is_a_mapping_or_a_parse_error(raw, over_valid):
    if over_valid and isinstance(raw, dict):  # odd values on top of a valid mapping reach the later checks
        raw = {**GERMAN_MAPPING, **raw}
    try:
        mapping = mapping_from_dict(raw)
    except ParseError:
        return
    assert mapping_from_dict(mapping.to_dict()) == mapping


@cache
def _fuzz_seed():
    return german_export(31, n_cycles=2, step_s=120.0)


def test_a_mapped_step_column_tells_where_the_files_capacity_counter_restarts():
    # two charge steps in a row; the counter restarts at the second one but not below half its last value
    text = "t;i;u;q;st\n10;1;3,5;0,01;1\n20;1;3,6;0,02;1\n30;2;3,7;0,015;2\n40;2;3,8;0,03;2\n"
    base = {"columns": {"time": "t", "current": "i", "voltage": "u", "capacity": "q"},
            "units": {"time": "s", "current": "mA", "voltage": "V", "capacity": "mAh"}, "delimiter": ";",
            "decimal": ","}
    with_step = mapping_from_dict({**base, "columns": {**base["columns"], "step": "st"}})
    records, _ = records_of(text.encode(), with_step)
    assert records["capacity_mah"].tolist() == pytest.approx([0.01, 0.02, 0.035, 0.05])
    assert records["step"].tolist() == [1, 1, 2, 2]
    without, _ = records_of(text.encode(), mapping_from_dict(base))
    assert without["capacity_mah"].iat[-1] != pytest.approx(0.05)
