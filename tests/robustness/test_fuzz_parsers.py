"""Property-based fuzzing of every text parser: the right answer or the documented error.

Two kinds of properties for each parser (``.fam``, ``.bim``, phenotype, ``--covar``,
``--qcovar``, ``--keep``/``--remove``, ``--extract``/``--exclude``, GCTA ``.grm.id``):

* **valid files**, generated from a model (IDs, values, optional header, comments, blank
  lines, tabs or runs of spaces, CRLF line ends) parse to exactly the model;
* **any bytes** either parse or raise :class:`~heritcli.errors.InputError` (or, for options
  that name columns, :class:`~heritcli.errors.UsageError`) whose one-line message names the
  file — never another exception.

The example budget is small in the default run; ``--hypothesis-profile slow`` (registered in
``conftest.py``) runs 2,000 examples per property.
"""

from __future__ import annotations

import math
import string
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heritcli.errors import DataError, HeritError, InputError, UsageError
from heritcli.io.gcta import read_grm_id
from heritcli.io.plink import read_bim, read_fam
from heritcli.io.tables import (
    read_covariates,
    read_id_list,
    read_phenotypes,
    read_qcovariates,
    read_snp_list,
)

SLOW = settings.get_current_profile_name() == "slow"
FUZZ = settings(
    max_examples=2000 if SLOW else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Examples run per property, for the report (see the module docstring).
EXAMPLES_PER_PROPERTY = FUZZ.max_examples

_HEADER_WORDS = {"fid", "#fid", "iid", "#iid"}
ids = st.text(
    alphabet=string.ascii_letters + string.digits + "_-.:[]$()'\"`;|&<>/\\*?!",
    min_size=1,
    max_size=8,
).filter(lambda t: not t.startswith("#") and t.lower() not in _HEADER_WORDS)
separators = st.sampled_from([" ", "\t", "  ", " \t "])
line_ends = st.sampled_from(["\n", "\r\n"])
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
missing_tokens = st.sampled_from(["NA", "nan", "NaN", ".", "-9", "-9.0"])


def _join(rows: list[list[str]], sep: str, end: str) -> str:
    return "".join(sep.join(row) + end for row in rows)


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_bytes(data.encode("utf-8"))
    return path


def unique_pairs(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy:
    return st.lists(st.tuples(ids, ids), min_size=min_size, max_size=max_size, unique=True)


# ---------------------------------------------------------------------------------------------
# Valid files parse to the model
# ---------------------------------------------------------------------------------------------


@FUZZ
@given(pairs=unique_pairs(), sep=separators, end=line_ends, extra=st.integers(0, 3))
def test_read_fam__valid_files(tmp_path, pairs, sep, end, extra) -> None:
    rows = [[f, i, "0", "0", "1", "-9", *(["x"] * extra)] for f, i in pairs]
    fam = read_fam(_write(tmp_path, "f.fam", _join(rows, sep, end) + end))
    assert list(zip(fam.fid.tolist(), fam.iid.tolist(), strict=True)) == pairs


@FUZZ
@given(
    snps=st.lists(
        st.tuples(ids, numbers, st.integers(-(2**62), 2**62), ids, ids), min_size=1, max_size=10
    ),
    sep=separators,
    end=line_ends,
)
def test_read_bim__valid_files(tmp_path, snps, sep, end) -> None:
    rows = [["1", s, repr(cm), str(pos), a1, a2] for s, cm, pos, a1, a2 in snps]
    bim = read_bim(_write(tmp_path, "f.bim", _join(rows, sep, end)))
    assert bim.snp_id.tolist() == [s[0] for s in snps]
    assert bim.cm.tolist() == [s[1] for s in snps]
    assert bim.pos.tolist() == [s[2] for s in snps]
    assert bim.a2.tolist() == [s[4] for s in snps]


def _value_cells(k: int) -> st.SearchStrategy:
    return st.lists(st.one_of(numbers.map(repr), missing_tokens), min_size=k, max_size=k)


def _expected(token: str) -> float:
    if token.lower() in ("na", "nan", "."):
        return math.nan
    value = float(token)
    return math.nan if value == -9.0 else value


@FUZZ
@given(
    data=st.data(),
    pairs=unique_pairs(),
    k=st.integers(1, 4),
    header=st.sampled_from([None, "FID", "#FID"]),
    comment=st.booleans(),
    sep=separators,
    end=line_ends,
)
def test_read_phenotypes__valid_files(tmp_path, data, pairs, k, header, comment, sep, end):
    cells = [data.draw(_value_cells(k)) for _ in pairs]
    names = [f"t{j}" for j in range(k)]
    text = "## written by a test" + end if comment else ""
    if header:
        text += sep.join([header, "IID", *names]) + end
    text += end.join(sep.join([f, i, *row]) for (f, i), row in zip(pairs, cells, strict=True))
    table = read_phenotypes(_write(tmp_path, "p.txt", text + end + end))
    assert table.ids() == pairs
    assert table.names == (tuple(names) if header else tuple(f"pheno{j + 1}" for j in range(k)))
    expected = np.array([[_expected(t) for t in row] for row in cells])
    np.testing.assert_array_equal(table.values, expected)


@FUZZ
@given(
    data=st.data(),
    pairs=unique_pairs(min_size=2),
    levels=st.lists(st.sampled_from(["M", "F", "batch1", "x[red]"]), min_size=1, max_size=3),
    sep=separators,
)
def test_read_covariates__valid_files(tmp_path, data, pairs, levels, sep) -> None:
    ages = data.draw(st.lists(numbers, min_size=len(pairs), max_size=len(pairs)))
    groups = data.draw(st.lists(st.sampled_from(levels), min_size=len(pairs), max_size=len(pairs)))
    rows = [[f, i, repr(a), g] for (f, i), a, g in zip(pairs, ages, groups, strict=True)]
    path = _write(tmp_path, "c.txt", "FID IID age group\n" + _join(rows, sep, "\n"))
    table = read_covariates(path)
    present = sorted(set(groups))
    assert table.names == ("age", *(f"group={lv}" for lv in present[1:]))
    expected_age = [math.nan if a == -9.0 else a for a in ages]
    np.testing.assert_array_equal(table.values[:, 0], expected_age)
    for j, level in enumerate(present[1:], start=1):
        np.testing.assert_array_equal(table.values[:, j], [g == level for g in groups])
    assert table.levels == {"group": tuple(present)}


@FUZZ
@given(pairs=unique_pairs(), repeat=st.booleans(), extra=st.booleans(), sep=separators)
def test_read_id_list__valid_files(tmp_path, pairs, repeat, extra, sep) -> None:
    rows = [[f, i, *(["more"] if extra else [])] for f, i in pairs]
    if repeat:
        rows = rows + rows[:1]
    assert read_id_list(_write(tmp_path, "k.txt", _join(rows, sep, "\n"))) == pairs


@FUZZ
@given(snps=st.lists(ids, min_size=1, max_size=12), sep=separators)
def test_read_snp_list__valid_files(tmp_path, snps, sep) -> None:
    text = "".join(f"{s}{sep}ignored\n" for s in snps)
    assert read_snp_list(_write(tmp_path, "e.txt", text)) == list(dict.fromkeys(snps))


@FUZZ
@given(pairs=unique_pairs(), end=line_ends)
def test_read_grm_id__valid_files(tmp_path, pairs, end) -> None:
    fid, iid = read_grm_id(_write(tmp_path, "g.grm.id", _join([list(p) for p in pairs], "\t", end)))
    assert list(zip(fid.tolist(), iid.tolist(), strict=True)) == pairs


# ---------------------------------------------------------------------------------------------
# Any bytes: a result or the documented error, never another exception
# ---------------------------------------------------------------------------------------------

_tokens = st.sampled_from(
    [
        "FID",
        "#FID",
        "IID",
        "#",
        "F1",
        "I1",
        "F1",
        "I2",
        "1",
        "-9",
        "NA",
        "nan",
        "inf",
        "-inf",
        "1e999",
        ".",
        "abc",
        "0",
        "2.5",
        "\t",
        " ",
        "\n",
        "\r\n",
        "\x00",
        "\u00e9",
        "1_0",
        "[red]",
        "$(x)",
        "'",
        '"',
        "9" * 30,
    ]
)
_documents = st.one_of(
    st.text(max_size=300),
    st.lists(_tokens, max_size=60).map(" ".join),
    st.binary(max_size=120),
)

PARSERS = {
    "fam": read_fam,
    "bim": read_bim,
    "pheno": read_phenotypes,
    "covar": read_covariates,
    "qcovar": read_qcovariates,
    "keep": read_id_list,
    "extract": read_snp_list,
    "grm.id": read_grm_id,
}


@FUZZ
@given(document=_documents)
def test_every_parser__any_input_gives_result_or_documented_error(tmp_path, document) -> None:
    path = _write(tmp_path, "random.txt", document)
    for name, parse in PARSERS.items():
        try:
            parse(path)
        except (InputError, UsageError, DataError) as exc:
            message = str(exc)
            assert str(path) in message, (name, message)
            assert "\n" not in message, (name, message)
        except HeritError as exc:  # pragma: no cover - a class no parser may raise
            raise AssertionError(f"{name}: undocumented {type(exc).__name__}: {exc}") from exc
