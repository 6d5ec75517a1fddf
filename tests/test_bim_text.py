"""The compiled ``.bim`` tokenizer against the Python line parser (the oracle).

:func:`heritcli.core.bedkernels.split_bim_text` is the fast path of
:func:`heritcli.io.plink.read_bim`: on text it accepts it must give exactly the table the
Python path gives (same values, same dtypes), and on anything else it must decline (None)
so that the Python path reads the file and names the bad line.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heritcli.core import bedkernels
from heritcli.errors import InputError
from heritcli.io import plink

pytestmark = pytest.mark.skipif(
    not bedkernels.kernels_available(), reason="the compiled kernels are not built here"
)

FIELDS = ("chrom", "snp_id", "cm", "pos", "a1", "a2")

ALPHABET = string.ascii_letters + string.digits + "_-.:;[]()*/"
tokens = st.text(alphabet=ALPHABET, min_size=1, max_size=12)
cms = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300).map(repr),
    st.sampled_from(["0", "-0", "+0.5", ".5", "5.", "1e-5", "1E+3", "-9", "0.000000"]),
)
positions = st.one_of(
    st.integers(-(10**18) + 1, 10**18 - 1).map(str),
    st.sampled_from(["-9", "0", "+17", "-0", "007"]),
)
blanks = st.sampled_from([" ", "\t", "  ", " \t ", "\t\t"])
ends = st.sampled_from(["\n", "\r\n", "\r"])


def _python_table(data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> plink.BimTable:
    path = tmp_path / "python.bim"
    path.write_bytes(data)
    with monkeypatch.context() as patch:
        patch.setattr(plink, "split_bim_text", lambda _data: None)
        return plink.read_bim(path)


def _assert_same(columns: dict[str, np.ndarray], table: plink.BimTable) -> None:
    for name in FIELDS:
        got, want = columns[name], getattr(table, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(tokens, tokens, cms, positions, tokens, tokens), min_size=1, max_size=7
    ),
    blank=blanks,
    end=ends,
    lead=st.sampled_from(["", " ", "\t"]),
    trail=st.sampled_from(["", " ", "\t "]),
    blank_lines=st.booleans(),
    final_end=st.booleans(),
)
def test_split_bim_text__equals_the_python_parser(
    tmp_path, monkeypatch, rows, blank, end, lead, trail, blank_lines, final_end
) -> None:
    lines = [lead + blank.join(row) + trail for row in rows]
    if blank_lines:
        lines = [line for row in lines for line in (row, " ")]
    data = (end.join(lines) + (end if final_end else "")).encode()
    columns = bedkernels.split_bim_text(data)
    assert columns is not None
    _assert_same(columns, _python_table(data, tmp_path, monkeypatch))


def test_split_bim_text__messy_mouse_file_and_read_bim_agree(tmp_path, monkeypatch) -> None:
    """bp = -9 and A1 == A2 rows of the real mouse .bim (example_data/) take the fast path."""
    data = (Path(__file__).parent.parent / "example_data" / "example.bim").read_bytes()
    columns = bedkernels.split_bim_text(data)
    assert columns is not None and len(columns["pos"]) == data.count(b"\n")
    _assert_same(columns, _python_table(data, tmp_path, monkeypatch))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b" \n\t\n",
        b"1 rs1 0 100 A G extra\n",  # seven fields
        b"1 rs1 0 100 A\n",  # five
        b"1 r\xc3\xa9s 0 100 A G\n",  # non-ASCII ID
        b"\xef\xbb\xbf1 rs1 0 100 A G\n",  # byte-order mark
        b"1 rs1 0 100 A\x0bG\n",  # vertical tab: a separator to str.split()
        b"1 rs1 0 100 A G\x00\n",
        b"1 rs1 inf 100 A G\n",
        b"1 rs1 nan 100 A G\n",
        b"1 rs1 0x1p3 100 A G\n",  # strtod reads hex floats, Python's float() does not
        b"1 rs1 1_0 100 A G\n",  # Python reads digit separators: its path decides
        b"1 rs1 1e 100 A G\n",
        b"1 rs1 0 1_000 A G\n",
        b"1 rs1 0 1000000000000000000 A G\n",  # 19 digits
        b"1 rs1 0 - A G\n",
        b"1 rs1 0 1.5 A G\n",
    ],
)
def test_split_bim_text__declines_what_it_does_not_parse(text: bytes) -> None:
    assert bedkernels.split_bim_text(text) is None


@pytest.mark.parametrize(
    ("text", "cm", "pos"),
    [
        (b"1 rs1 1_0 1_000 A G\n", 10.0, 1000),
        (b"1 rs1 0 1000000000000000000 A G\n", 0.0, 10**18),
    ],
)
def test_read_bim__text_the_fast_path_declines_still_parses(tmp_path, text, cm, pos) -> None:
    path = tmp_path / "a.bim"
    path.write_bytes(text)
    table = plink.read_bim(path)
    assert table.cm.tolist() == [cm] and table.pos.tolist() == [pos]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"1 rs1 0 100 A G\n1 rs2 1e400 5 A G\n", "line 2: cM value '1e400' is not a finite"),
        (b"1 rs1 0 100 A G\n\n1 rs2 0 5 A\n", "line 3: expected 6 columns"),
        (b"1 rs1 0 100 A G\n1 rs2 0 9.5 A G\n", "line 2: position '9.5' is not an integer"),
    ],
)
def test_read_bim__bad_lines_are_named(tmp_path, text, message) -> None:
    path = tmp_path / "bad.bim"
    path.write_bytes(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        plink.read_bim(path)
