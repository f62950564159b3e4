"""The readers' fast paths (Arrow's CSV reader, split-and-cast clock times) give what the careful paths give,
and step aside (None) for anything they do not read exactly alike."""

import numpy as np
import pandas as pd
import pytest

from cycling.parsers.tables import _arrow_table, _clock_seconds, read_delimited
from readers.errors import ParseError


def both(text: str, *, header_line: int = 0, sep: str = ",", decimal: str = "."):
    """(Arrow table or None, pandas table) of the same text."""
    data = text.encode()
    fast = _arrow_table(data, header_line=header_line, sep=sep, decimal=decimal, sheet="text")
    careful = read_delimited(text, header_line=header_line, sep=sep, decimal=decimal, sheet="text")
    return fast, careful


def assert_same_table(fast, careful):
    assert fast is not None
    assert list(fast.frame.columns) == list(careful.frame.columns)
    assert (fast.rows == careful.rows).all()
    for column in careful.frame.columns:
        a, b = fast.frame[column], careful.frame[column]
        assert (a.isna().to_numpy() == b.isna().to_numpy()).all(), column
        keep = b.notna().to_numpy()
        assert (a[keep].astype(str).to_numpy() == b[keep].astype(str).to_numpy()).all(), column


def test_it_reads_a_plain_table_like_pandas():
    assert_same_table(*both("Data_Point,Test_Time(s),Current(A),Date_Time\n1,0,0.001,2024-01-01 00:00:00\n"
                            "2,1.5,-0.002,2024-01-01 00:00:01\n3,3,,2024-01-01 00:00:03\n"))


def test_it_keeps_the_row_numbers_of_blank_and_separator_only_lines():
    fast, careful = both("preamble\nTime,Current\n1,2\n\n3,4\n,\n5,6\n", header_line=1)
    assert_same_table(fast, careful)
    assert careful.rows.tolist() == [3, 5, 7]


def test_it_drops_the_empty_column_of_a_trailing_tab_and_reads_decimal_commas():
    text = "mode\ttime/s\tI/mA\t\n1\t0,5\t-1,25\t\n3\t1,0\t0\t\n"
    fast, careful = both(text, sep="\t", decimal=",")
    assert_same_table(fast, careful)
    assert list(fast.frame.columns) == ["mode", "time/s", "I/mA"]
    assert fast.frame["I/mA"].tolist() == [-1.25, 0.0]


def test_it_reads_pandas_gap_spellings_as_gaps():
    fast, careful = both("a,b\n1,NaN\n2,n/a\n3,None\n4,x\n")
    assert_same_table(fast, careful)
    assert fast.frame["b"].isna().sum() == 3


@pytest.mark.parametrize("text", [
    "a,b\n1,2\n3,4,5\n",  # ragged: pandas' own error message
    "a,a\n1,2\n",  # duplicate names: pandas renames them
])
def test_it_steps_aside_for_what_pandas_reads_its_own_way(text):
    assert _arrow_table(text.encode(), header_line=0, sep=",", decimal=".", sheet="text") is None


def test_a_ragged_row_is_still_refused_with_pandas_message():
    with pytest.raises(ParseError, match="cannot be split into columns"):
        read_delimited(None, header_line=0, sep=",", sheet="text", data=b"a,b\n1,2\n3,4,5\n", encoding="utf-8")


def test_text_in_a_number_column_far_down_is_refused_with_its_row():
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(400_000))  # past Arrow's 4 MiB first block
    data = f"a,b\n{rows}\n7,junk\n".encode()
    fast = _arrow_table(data, header_line=0, sep=",", decimal=".", sheet="text")
    assert_same_table(fast, read_delimited(data.decode(), header_line=0, sep=",", sheet="text"))
    with pytest.raises(ParseError, match="'junk' is not a number") as caught:
        fast.numbers(fast.require("b", "b"))
    assert caught.value.row == 400_002


@pytest.mark.parametrize("cells, seconds", [
    (["0:00:00", "1:02:03.5", "25:00:01.25"], [0.0, 3723.5, 90001.25]),
    (["0d 0:00:00.000", "1d 02:03:04.000", "2d 00:00:01.5"], [0.0, 93784.0, 172801.5]),
    (["0-00:00:00", "1-02:03:04"], [0.0, 93784.0]),
])
def test_clock_text_is_split_and_cast_to_the_regex_answer(cells, seconds):
    values = pd.Series(cells, dtype="str")
    assert np.allclose(_clock_seconds(values), seconds)


def test_odd_clock_text_takes_the_regex_path_and_junk_is_refused():
    # a gap and a blank cell: the split path declines, the regex path reads the rest
    mixed = pd.Series(["0:00:01", None, "0:01:00"], dtype="str")
    out = _clock_seconds(mixed)
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == 60.0
    assert _clock_seconds(pd.Series(["0:00:01", "1:234:00"], dtype="str")) is None  # 3-digit minutes
    assert _clock_seconds(pd.Series(["0:00:01", "1.5:00:00"], dtype="str")) is None  # a fraction of hours
