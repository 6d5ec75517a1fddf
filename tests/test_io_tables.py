"""Tests for heritcli.io.tables: ID lists, phenotype/covariate files, reconciliation, design."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heritcli.errors import DataError, HeritError, InputError, UsageError
from heritcli.io.tables import (
    CovariateTable,
    SampleSource,
    SampleTable,
    build_design,
    read_covariates,
    read_id_list,
    read_phenotypes,
    read_qcovariates,
    read_snp_list,
    reconcile,
    select_phenotype,
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def grm_ids(n: int) -> list[tuple[str, str]]:
    return [(f"F{k}", f"I{k}") for k in range(n)]


# ---------------------------------------------------------------------------------------------
# read_id_list / read_snp_list
# ---------------------------------------------------------------------------------------------


def test_read_id_list__plain_with_extra_columns_and_duplicates(tmp_path):
    path = write(tmp_path, "keep.txt", "F1 I1 extra\n\nF2 I2\n# comment\nF1 I1\n")
    assert read_id_list(path) == [("F1", "I1"), ("F2", "I2")]


@pytest.mark.parametrize("header", ["FID IID", "#FID IID", "fid iid"])
def test_read_id_list__header_skipped(tmp_path, header):
    path = write(tmp_path, "keep.txt", f"{header}\nF1 I1\r\nF2 I2\r\n")
    assert read_id_list(path) == [("F1", "I1"), ("F2", "I2")]


def test_read_id_list__iid_only_header(tmp_path):
    path = write(tmp_path, "keep.txt", "#IID\nA\nB\n")
    assert read_id_list(path) == [("A", "A"), ("B", "B")]


def test_read_id_list__one_token_names_line(tmp_path):
    path = write(tmp_path, "keep.txt", "F1 I1\nF2\n")
    with pytest.raises(InputError, match=r"keep\.txt line 2: expected FID and IID") as info:
        read_id_list(path)
    assert info.value.hint and "#IID" in info.value.hint


def test_read_id_list__empty_is_error(tmp_path):
    path = write(tmp_path, "k.txt", "#FID IID\n\n")
    with pytest.raises(InputError, match=r"keep list .*k\.txt has no samples"):
        read_id_list(path)
    with pytest.raises(InputError, match=r"remove list .*k\.txt has no samples"):
        read_id_list(path, what="remove")


def test_read_id_list__missing_file_gives_reason(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(
        InputError, match=r"cannot read keep list file .*nope\.txt: No such file or directory"
    ):
        read_id_list(path)


def test_read_id_list__directory(tmp_path):
    with pytest.raises(InputError, match="Is a directory"):
        read_id_list(tmp_path)


def test_read_snp_list__first_token(tmp_path):
    path = write(tmp_path, "snps.txt", "rs1 1 100\n\nrs2\nrs1\n")
    assert read_snp_list(path) == ["rs1", "rs2"]


def test_read_snp_list__empty_is_error(tmp_path):
    path = write(tmp_path, "snps.txt", "\n  \n")
    with pytest.raises(InputError, match=r"snps\.txt has no SNP IDs"):
        read_snp_list(path)


# ---------------------------------------------------------------------------------------------
# read_phenotypes
# ---------------------------------------------------------------------------------------------


def test_read_phenotypes__no_header(tmp_path):
    path = write(tmp_path, "y.phen", "F1 I1 1.5 2\nF2 I2 -0.5 3e2\n")
    table = read_phenotypes(path)
    assert table.names == ("pheno1", "pheno2")
    assert table.fid.tolist() == ["F1", "F2"]
    assert table.iid.tolist() == ["I1", "I2"]
    np.testing.assert_array_equal(table.values, [[1.5, 2.0], [-0.5, 300.0]])
    assert table.source == str(path)
    assert table.lines.tolist() == [1, 2]


@pytest.mark.parametrize("first", ["FID", "#FID"])
def test_read_phenotypes__header(tmp_path, first):
    path = write(tmp_path, "y.txt", f"{first}\tIID\tCD4\tCD8\nF1\tI1\t1\t2\n")
    table = read_phenotypes(path)
    assert table.names == ("CD4", "CD8")
    np.testing.assert_array_equal(table.column("CD8"), [2.0])


def test_read_phenotypes__iid_only_header_sets_fid_to_iid(tmp_path):
    path = write(tmp_path, "y.txt", "#IID y\nA 1\nB 2\n")
    table = read_phenotypes(path)
    assert table.fid.tolist() == ["A", "B"]
    assert table.iid.tolist() == ["A", "B"]
    assert table.names == ("y",)


def test_read_phenotypes__comment_before_header(tmp_path):
    path = write(tmp_path, "y.txt", "## made by hand\n#FID IID y\nF1 I1 1\n# note\nF2 I2 2\n")
    table = read_phenotypes(path)
    assert table.names == ("y",)
    assert table.lines.tolist() == [3, 5]


def test_read_phenotypes__plink2_eigenvec(tmp_path):
    path = write(tmp_path, "x.eigenvec", "#FID\tIID\tPC1\tPC2\nF1\tI1\t0.1\t-0.2\n")
    assert read_phenotypes(path).names == ("PC1", "PC2")


@pytest.mark.parametrize("token", ["NA", "-9", "-9.0", "nan", "NaN", "NAN", "."])
def test_read_phenotypes__missing_tokens(tmp_path, token):
    path = write(tmp_path, "y.txt", f"F1 I1 {token}\nF2 I2 4\n")
    values = read_phenotypes(path).values[:, 0]
    assert np.isnan(values[0])
    assert values[1] == 4.0


def test_read_phenotypes__text_names_line_and_column(tmp_path):
    path = write(tmp_path, "y.txt", "FID IID CD4 CD8\nF1 I1 1 2\nF2 I2 3 abc\n")
    with pytest.raises(InputError) as info:
        read_phenotypes(path)
    assert str(info.value) == f"{path} line 3, column CD8: 'abc' is not a number"


@pytest.mark.parametrize("token", ["inf", "-Infinity", "1e999"])
def test_read_phenotypes__infinite_is_error(tmp_path, token):
    path = write(tmp_path, "y.txt", f"F1 I1 {token}\n")
    with pytest.raises(InputError, match=r"line 1, column pheno1: .* is not a finite number"):
        read_phenotypes(path)


@pytest.mark.parametrize("token", ["1_000", "\u0661\u0662", "0x10"])
def test_read_phenotypes__odd_numbers_rejected(tmp_path, token):
    path = write(tmp_path, "y.txt", f"F1 I1 {token}\n")
    with pytest.raises(InputError, match="is not a number"):
        read_phenotypes(path)


def test_read_phenotypes__wrong_column_count_vs_header(tmp_path):
    path = write(tmp_path, "y.txt", "FID IID a b\nF1 I1 1 2\n\nF2 I2 3\n")
    with pytest.raises(InputError) as info:
        read_phenotypes(path)
    assert str(info.value) == f"{path} line 4 has 3 columns but the header (line 1) has 4"


def test_read_phenotypes__wrong_column_count_vs_first_row(tmp_path):
    path = write(tmp_path, "y.txt", "F1 I1 1 2\nF2 I2 3 4 5\n")
    with pytest.raises(
        InputError, match=r"line 2 has 5 columns but the first row \(line 1\) has 4"
    ):
        read_phenotypes(path)


def test_read_phenotypes__duplicate_id_names_both_lines(tmp_path):
    path = write(tmp_path, "y.txt", "F1 I1 1\nF2 I2 2\nF1 I1 3\n")
    with pytest.raises(InputError, match=r"line 3: sample FID='F1' IID='I1' already .*line 1"):
        read_phenotypes(path)


def test_read_phenotypes__same_iid_other_fid_is_fine(tmp_path):
    path = write(tmp_path, "y.txt", "F1 I1 1\nF2 I1 2\n")
    assert read_phenotypes(path).n_samples == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("\n\n# nothing\n", "is empty"),
        ("FID IID y\n", "has a header but no samples"),
        ("F1 I1\nF2 I2\n", "expected FID, IID and at least one phenotype column"),
        ("FID IID\nF1 I1\n", "header names no phenotype columns"),
        ("FID IID y y\nF1 I1 1 2\n", "column name 'y' appears twice"),
    ],
)
def test_read_phenotypes__degenerate_files(tmp_path, text, message):
    path = write(tmp_path, "y.txt", text)
    with pytest.raises(InputError, match=message):
        read_phenotypes(path)


def test_read_phenotypes__non_utf8_names_line(tmp_path):
    path = write(tmp_path, "y.txt", b"F1 I1 1\nF2 I\xff 2\n")
    with pytest.raises(InputError, match=r"y\.txt line 2: not valid UTF-8"):
        read_phenotypes(path)


def test_read_phenotypes__binary_file(tmp_path):
    path = write(tmp_path, "x.bed", b"\x6c\x1b\x01\x00\xff")
    with pytest.raises(InputError, match="not a text file"):
        read_phenotypes(path)


def test_read_phenotypes__utf8_bom_and_crlf(tmp_path):
    path = write(tmp_path, "y.txt", "\ufeffFID IID y\r\nF1 I1 2\r\n")
    table = read_phenotypes(path)
    assert table.names == ("y",)
    assert table.values[0, 0] == 2.0


def test_read_phenotypes__unreadable(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    path = write(tmp_path, "y.txt", "F1 I1 1\n")
    path.chmod(0)
    with pytest.raises(InputError, match="Permission denied"):
        read_phenotypes(path)


# ---------------------------------------------------------------------------------------------
# select_phenotype
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def six_phenotypes(tmp_path) -> SampleTable:
    header = "FID IID " + " ".join(f"t{k}" for k in range(1, 7))
    path = write(tmp_path, "y.txt", f"{header}\nF1 I1 1 2 3 4 5 6\n")
    return read_phenotypes(path)


def test_select_phenotype__mpheno_is_one_based(six_phenotypes):
    chosen = select_phenotype(six_phenotypes, mpheno=3)
    assert chosen.names == ("t3",)
    assert chosen.values.tolist() == [[3.0]]


def test_select_phenotype__default_first_and_by_name(six_phenotypes):
    assert select_phenotype(six_phenotypes).names == ("t1",)
    assert select_phenotype(six_phenotypes, name="t5").values.tolist() == [[5.0]]


def test_select_phenotype__mpheno_out_of_range(six_phenotypes):
    with pytest.raises(UsageError) as info:
        select_phenotype(six_phenotypes, mpheno=7)
    assert str(info.value) == f"--mpheno 7 but {six_phenotypes.source} has 6 phenotype columns"


@pytest.mark.parametrize("bad", [0, -1])
def test_select_phenotype__mpheno_not_positive(six_phenotypes, bad):
    with pytest.raises(UsageError):
        select_phenotype(six_phenotypes, mpheno=bad)


def test_select_phenotype__unknown_name_and_both(six_phenotypes):
    with pytest.raises(UsageError, match="no phenotype column 'CD8'"):
        select_phenotype(six_phenotypes, name="CD8")
    with pytest.raises(UsageError, match="cannot be used together"):
        select_phenotype(six_phenotypes, mpheno=1, name="t1")


# ---------------------------------------------------------------------------------------------
# read_covariates / read_qcovariates
# ---------------------------------------------------------------------------------------------


def test_read_covariates__categorical_one_hot_sorted_baseline(tmp_path):
    text = "FID IID age batch sex\nF1 I1 30 b2 M\nF2 I2 40 b1 F\nF3 I3 50 b3 NA\nF4 I4 -9 b2 M\n"
    table = read_covariates(write(tmp_path, "c.txt", text))
    assert table.names == ("age", "batch=b2", "batch=b3", "sex=M")
    assert table.columns == ("age", "batch", "batch", "sex")
    assert table.levels == {"batch": ("b1", "b2", "b3"), "sex": ("F", "M")}
    expected = [
        [30, 1, 0, 1],
        [40, 0, 0, 0],
        [50, 0, 1, np.nan],
        [np.nan, 1, 0, 1],
    ]
    np.testing.assert_array_equal(table.values, np.array(expected, dtype=float))
    assert table.complete().tolist() == [True, True, False, False]


def test_read_covariates__no_header_names(tmp_path):
    table = read_covariates(write(tmp_path, "c.txt", "F1 I1 1 x\nF2 I2 2 y\n"))
    assert table.names == ("covar1", "covar2=y")


def test_read_covariates__forced_categorical(tmp_path):
    path = write(tmp_path, "c.txt", "FID IID batch\nF1 I1 1\nF2 I2 2\nF3 I3 3\n")
    table = read_covariates(path, categorical=["batch"])
    assert table.names == ("batch=2", "batch=3")
    with pytest.raises(UsageError, match="'nope' is not a column"):
        read_covariates(path, categorical=["nope"])


def test_read_covariates__infinite_numeric(tmp_path):
    path = write(tmp_path, "c.txt", "FID IID age\nF1 I1 1\nF2 I2 inf\n")
    with pytest.raises(InputError, match=r"line 3, column age: 'inf' is not a finite number"):
        read_covariates(path)


def test_read_qcovariates__gcta_eigenvec(tmp_path):
    table = read_qcovariates(write(tmp_path, "x.eigenvec", "F1 I1 0.1 0.2\nF2 I2 0.3 NA\n"))
    assert table.names == ("qcovar1", "qcovar2")
    assert np.isnan(table.values[1, 1])
    assert table.levels == {}


def test_read_qcovariates__text_is_error(tmp_path):
    path = write(tmp_path, "q.txt", "FID IID age sex\nF1 I1 30 M\n")
    with pytest.raises(InputError, match=r"q\.txt line 2, column sex: 'M' is not a number") as info:
        read_qcovariates(path)
    assert "--covar" in (info.value.hint or "")


# ---------------------------------------------------------------------------------------------
# reconcile
# ---------------------------------------------------------------------------------------------


def make_pheno(ids, values, source="y.txt") -> SampleTable:
    return SampleTable(
        fid=np.array([f for f, _ in ids]),
        iid=np.array([i for _, i in ids]),
        names=("y",),
        values=np.array(values, dtype=float)[:, None],
        source=source,
    )


def make_covar(ids, values, source="c.txt", names=("age",)) -> CovariateTable:
    return CovariateTable(
        fid=np.array([f for f, _ in ids]),
        iid=np.array([i for _, i in ids]),
        names=tuple(names),
        values=np.array(values, dtype=float).reshape(len(ids), len(names)),
        source=source,
    )


def test_reconcile__grm_order_counts_and_reasons():
    grm = grm_ids(6)  # F0..F5
    # phenotype file in another order, missing F1, extra sample X, F3 has no phenotype
    pheno_ids = [("F5", "I5"), ("F3", "I3"), ("X", "X"), ("F0", "I0"), ("F2", "I2"), ("F4", "I4")]
    pheno = make_pheno(pheno_ids, [5, np.nan, 9, 0, 2, 4])
    covar_ids = [("F4", "I4"), ("F2", "I2"), ("F0", "I0"), ("F5", "I5"), ("F3", "I3")]
    covar = make_covar(covar_ids, [40, np.nan, 0, 50, 30])
    rec = reconcile(
        grm,
        [pheno, covar],
        keep=[(f, i) for f, i in grm if f != "F4"] + [("X", "X"), ("ghost", "ghost")],
        remove=[("F5", "I5")],
        keep_label="keep list k.txt",
    )
    assert rec.ids() == [("F0", "I0")]
    assert rec.grm_index.tolist() == [0]
    assert rec.rows(0).tolist() == [3]
    assert rec.rows("c.txt").tolist() == [2]
    assert rec.n_grm == 6
    assert rec.n_common == 5  # all but F1 (and X, not in the GRM) are in GRM, y.txt and c.txt
    reasons = {(f, i): r for f, i, r in rec.dropped}
    assert [(f, i) for f, i, _ in rec.dropped] == [
        ("F1", "I1"),
        ("F2", "I2"),
        ("F3", "I3"),
        ("F4", "I4"),
        ("F5", "I5"),
        ("X", "X"),
    ]
    assert reasons[("F1", "I1")] == "not in y.txt; not in c.txt"
    assert reasons[("F2", "I2")] == "missing covariate age in c.txt"
    assert reasons[("F3", "I3")] == "missing phenotype y in y.txt"
    assert reasons[("F4", "I4")] == "not in keep list k.txt"
    assert reasons[("F5", "I5")] == "in remove list"
    assert reasons[("X", "X")] == "not in GRM; not in c.txt"
    assert rec.drop_counts == {
        "not in y.txt": 1,
        "missing covariate in c.txt": 1,
        "missing phenotype y in y.txt": 1,
        "not in keep list k.txt": 1,
        "in remove list": 1,
        "not in GRM": 1,
    }
    assert sum(rec.drop_counts.values()) == len(rec.dropped)
    lines = rec.summary_lines()
    assert lines[0] == "GRM: 6 samples"
    assert lines[1] == "y.txt: 6 samples, 5 with phenotype y"
    assert lines[2] == "c.txt: 5 samples, 4 with all covariates"
    assert "keep list k.txt: 7 IDs" in lines
    assert "5 samples in common to all inputs; 1 analysed" in lines
    assert lines[-1].startswith("dropped 6 samples: 1 not in y.txt")


def test_reconcile__aligned_rows_reorder_data():
    grm = grm_ids(5)
    rng = np.random.default_rng(1)
    order = rng.permutation(5)
    ids = [grm[k] for k in order]
    pheno = make_pheno(ids, [float(k) for k in order])
    rec = reconcile(grm, [pheno])
    assert rec.ids() == grm
    np.testing.assert_array_equal(pheno.values[rec.rows(0), 0], np.arange(5.0))
    assert rec.dropped == ()
    assert rec.summary_lines()[-1] == "5 samples in common to all inputs; 5 analysed"


def test_reconcile__without_grm_uses_first_source_order():
    ids = [("B", "B"), ("A", "A"), ("C", "C")]
    rec = reconcile(None, [make_pheno(ids, [1, 2, np.nan])])
    assert rec.ids() == [("B", "B"), ("A", "A")]
    assert rec.grm_index is None
    assert rec.dropped == (("C", "C", "missing phenotype y in y.txt"),)


def test_reconcile__multi_column_table_and_custom_source():
    ids = grm_ids(3)
    wide = SampleTable(
        fid=np.array([f for f, _ in ids]),
        iid=np.array([i for _, i in ids]),
        names=("a", "b"),
        values=np.array([[1, 2], [np.nan, 1], [3, 4]], dtype=float),
        source="y.txt",
    )
    mask = SampleSource("mask.txt", wide.fid, wide.iid, np.array([True, True, False]))
    rec = reconcile(ids, [wide, mask])
    assert rec.ids() == [("F0", "I0")]


def test_reconcile__no_overlap_names_every_count():
    grm = grm_ids(4)
    pheno = make_pheno([("Z1", "Z1"), ("Z2", "Z2")], [1, 2])
    covar = make_covar(grm[:3], [1, 2, 3])
    with pytest.raises(DataError) as info:
        reconcile(grm, [pheno, covar], keep=grm[:2])
    assert str(info.value) == ("no samples in common: GRM has 4, y.txt 2, c.txt 3, keep list 2")


def test_reconcile__fid_mismatch_hint():
    grm = grm_ids(3)
    pheno = make_pheno([(i, i) for _, i in grm], [1, 2, 3])
    with pytest.raises(DataError) as info:
        reconcile(grm, [pheno])
    assert "share 3 IIDs" in (info.value.hint or "")


def test_reconcile__overlap_but_all_missing():
    grm = grm_ids(2)
    pheno = make_pheno(grm, [np.nan, np.nan])
    with pytest.raises(DataError, match="no samples left to analyse: 2 in common"):
        reconcile(grm, [pheno])


def test_reconcile__duplicate_grm_id():
    with pytest.raises(InputError, match="twice"):
        reconcile([("a", "b"), ("a", "b")], [])


def test_reconcile__write_dropped(tmp_path):
    grm = grm_ids(3)
    rec = reconcile(grm, [make_pheno(grm, [1, np.nan, 2])])
    out = tmp_path / "dropped.txt"
    rec.write_dropped(out)
    assert out.read_text() == "#FID\tIID\treason\nF1\tI1\tmissing phenotype y in y.txt\n"


def test_reconcile__end_to_end_files(tmp_path):
    pheno = read_phenotypes(write(tmp_path, "y.txt", "#IID y\nI0 1\nI1 2\nI2 NA\nI3 4\nI4 5\n"))
    covar = read_covariates(
        write(tmp_path, "c.txt", "FID IID sex\nI0 I0 M\nI1 I1 F\nI2 I2 F\nI3 I3 F\nI4 I4 M\n")
    )
    keep = read_id_list(write(tmp_path, "k.txt", "I1 I1\nI0 I0\nI2 I2\nI4 I4\n"))
    grm = [("I4", "I4"), ("I2", "I2"), ("I1", "I1"), ("I0", "I0"), ("I3", "I3")]
    rec = reconcile(grm, [select_phenotype(pheno, mpheno=1), covar], keep=keep)
    assert rec.ids() == [("I4", "I4"), ("I1", "I1"), ("I0", "I0")]
    np.testing.assert_array_equal(pheno.values[rec.rows(0), 0], [5, 2, 1])
    design = build_design(covar, rec.rows(1))
    assert design.names == ("intercept", "sex=M")
    np.testing.assert_array_equal(design.matrix, [[1, 1], [1, 0], [1, 1]])


# ---------------------------------------------------------------------------------------------
# build_design
# ---------------------------------------------------------------------------------------------


def test_build_design__intercept_only():
    design = build_design(None, np.arange(4))
    assert design.names == ("intercept",)
    np.testing.assert_array_equal(design.matrix, np.ones((4, 1)))
    assert design.dropped == ()


def test_build_design__constant_and_collinear_dropped_with_names():
    rng = np.random.default_rng(0)
    n = 50
    pc1, pc2 = rng.standard_normal(n), rng.standard_normal(n)
    values = np.column_stack([pc1, np.full(n, 2.0), pc2, 2 * pc1 - pc2, 3 + 0 * pc1 + 1e-20])
    ids = grm_ids(n)
    covar = make_covar(ids, values, names=("PC1", "const", "PC2", "PC3", "shifted"))
    rows = np.arange(n)[::-1]
    design = build_design(covar, rows)
    assert design.names == ("intercept", "PC1", "PC2")
    np.testing.assert_array_equal(design.matrix[:, 1], pc1[::-1])
    dropped = dict(design.dropped)
    assert set(dropped) == {"const", "PC3", "shifted"}
    assert dropped["const"].startswith("is constant (2)")
    assert dropped["PC3"] == "is collinear with earlier columns (PC1, PC2)"
    warnings = design.warnings()
    assert "covariate PC3 is collinear with earlier columns (PC1, PC2); dropped" in warnings
    assert [name for name, _ in design.dropped] == ["const", "PC3", "shifted"]


def test_build_design__categorical_collinear_with_intercept():
    # 'batch' levels a/b/c; among analysed rows, level a (baseline) is absent, so
    # batch=b + batch=c == intercept and batch=c must go.
    ids = grm_ids(6)
    covar = make_covar(
        ids,
        [[0, 0], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0]],
        names=("batch=b", "batch=c"),
    )
    design = build_design(covar, np.arange(1, 6))
    assert design.names == ("intercept", "batch=b")
    assert design.dropped == (
        ("batch=c", "is collinear with earlier columns (intercept, batch=b)"),
    )


def test_build_design__single_level_categorical_reported(tmp_path):
    covar = read_covariates(
        write(tmp_path, "c.txt", "FID IID sex age\nA A M 1\nB B M 2\nC C M 4\n")
    )
    design = build_design(covar, np.arange(3))
    assert design.names == ("intercept", "age")
    assert design.dropped == (("sex", "has a single level 'M'"),)


def test_build_design__more_columns_than_samples():
    ids = grm_ids(3)
    rng = np.random.default_rng(2)
    covar = make_covar(ids, rng.standard_normal((3, 3)), names=("a", "b", "c"))
    with pytest.raises(DataError, match=r"4 columns .* but only 3 samples"):
        build_design(covar, np.arange(3))


def test_build_design__missing_value_in_rows():
    covar = make_covar(grm_ids(3), [1.0, np.nan, 3.0])
    with pytest.raises(
        DataError, match=r"covariate age in c\.txt is missing for 1 analysed sample"
    ):
        build_design(covar, np.arange(3))
    assert build_design(covar, np.array([0, 2, 2, 0])).names == ("intercept", "age")


def test_build_design__two_tables_name_clash():
    ids = grm_ids(5)
    a = make_covar(ids, [1, 2, 3, 4, 6], source="c.txt")
    b = make_covar(ids, [5, 1, 2, 2, 0], source="q.txt")
    design = build_design([a, b], [np.arange(5), np.arange(5)])
    assert design.names == ("intercept", "age", "q.txt:age")


def test_build_design__no_rows():
    with pytest.raises(DataError):
        build_design(None, np.arange(0))


# ---------------------------------------------------------------------------------------------
# Property: arbitrary text never escapes as anything but a HeritError
# ---------------------------------------------------------------------------------------------

_tokens = st.sampled_from(
    [
        "FID",
        "#FID",
        "IID",
        "#IID",
        "#",
        "F1",
        "I1",
        "F2",
        "I2",
        "1",
        "-9",
        "NA",
        "nan",
        "inf",
        "1e999",
        ".",
        "abc",
        "M",
        "F",
        "0",
        "2.5",
        "\t",
        " ",
        "\n",
        "\r\n",
        "\u00e9",
        "1_0",
    ]
)
_lines = st.lists(_tokens, max_size=30).map(" ".join)
_texts = st.one_of(st.text(max_size=200), _lines)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_texts, raw=st.binary(max_size=40), use_raw=st.booleans())
def test_parsers__random_text_raises_only_herit_errors(tmp_path, text, raw, use_raw):
    path = tmp_path / "random.txt"
    if use_raw:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    for parse in (
        read_phenotypes,
        read_covariates,
        read_qcovariates,
        read_id_list,
        read_snp_list,
    ):
        try:
            result = parse(path)
        except HeritError as exc:
            assert isinstance(exc, (InputError, UsageError, DataError))
            assert str(path) in str(exc)
            assert "\n" not in str(exc)
            continue
        if parse is read_phenotypes:
            table = result
            assert table.values.shape == (len(table.fid), len(table.names))
            assert not np.isinf(table.values).any()
            try:
                select_phenotype(table, mpheno=len(table.names) + 1)
            except UsageError:
                pass
            else:  # pragma: no cover - must not happen
                raise AssertionError("out-of-range --mpheno accepted")
            try:
                rec = reconcile(None, [select_phenotype(table)])
            except DataError:
                continue
            assert rec.n_samples + len(rec.dropped) == table.n_samples
