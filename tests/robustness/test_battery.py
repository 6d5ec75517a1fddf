"""Every subcommand on broken inputs: exit code, one clear line, outputs left as they were.

Each case copies the tiny cohort (see ``conftest.py``), breaks one thing, seeds the command's
output files with the bytes of an "earlier run", runs the real CLI entry point
(:func:`heritcli.cli.main.run`) and checks:

* the documented exit code (``docs/errors.md``);
* exactly one ``herit: error:`` line naming the file, line, column or value involved, and no
  traceback;
* the earlier outputs are byte-for-byte intact, no temporary file is left, and nothing new was
  written next to them except the run log.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import cases as c
from .cases import Case
from .support import (
    MCEM_FAST,
    Workspace,
    assert_one_line_error,
    assert_outputs_untouched,
    herit,
    leftovers,
    seed_outputs,
)

#: Output files of each command for the prefix ``out/res``.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "make-grm": (".h5",),
    "export-grm": (".grm.bin", ".grm.N.bin", ".grm.id"),
    "import-grm": (".h5",),
    "inspect": (),
    "eigen": (".eigen.h5", ".pcs.txt", ".eigenval"),
    "reml": (".hsq", ".json", ".dropped.tsv"),
    "mcem": (".mcem.json", ".mcem.trace.tsv", ".mcem.pip.tsv", ".dropped.tsv"),
}


def base_args(command: str, ws: Workspace) -> dict[str, object]:
    """The working command line of each subcommand, as option → value."""
    out = ws.out
    return {
        "make-grm": {"--bfile": ws.bfile, "--out": out},
        "export-grm": {"ARG": ws.grm, "--out": out},
        "import-grm": {"ARG": ws.gcta, "--out": out},
        "inspect": {"ARG": ws.grm},
        "eigen": {"--grm": ws.grm, "--out": out, "--pcs": 2},
        "reml": {"--grm": ws.grm, "--pheno": ws.pheno, "--out": out},
        "mcem": {"--bfile": ws.bfile, "--pheno": ws.pheno, "--out": out},
    }[command]


def command_line(command: str, ws: Workspace, changes: dict[str, object], more: list) -> list:
    """The base command line with ``changes`` applied and ``more`` appended.

    The positional argument (``"ARG"``) and ``--grm`` replace what the command has and are
    ignored by commands without them (an artifact case gives both); other options are set.
    """
    args = base_args(command, ws)
    for key, value in changes.items():
        if key in ("ARG", "--grm") and key not in args:
            continue
        args[key] = value
    args = {k: v for k, v in args.items() if v is not None}
    line: list[object] = [command]
    if "ARG" in args:
        line.append(args.pop("ARG"))
    for key, value in args.items():
        line += [key, value]
    if command == "mcem":
        line += MCEM_FAST
    return [*line, *more]


def _not_root() -> bool:
    return os.geteuid() != 0


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

BED_CASES = [
    (
        "bed-wrong-magic",
        c._bed_bytes(lambda b: b"\x00\x00" + b[2:]),
        3,
        ("tiny.bed", "not a PLINK 1 .bed", "6c 1b 01"),
    ),
    (
        "bed-wrong-mode-byte",
        c._bed_bytes(lambda b: b[:2] + b"\x00" + b[3:]),
        3,
        ("tiny.bed", "individual-major", "third byte 00"),
    ),
    ("bed-truncated", c._bed_bytes(lambda b: b[:-7]), 3, ("tiny.bed", "looks truncated")),
    (
        "bed-trailing-bytes",
        c._bed_bytes(lambda b: b + b"\x00\x00\x00"),
        3,
        ("tiny.bed", "trailing bytes"),
    ),
    ("bed-empty", c._empty(c.bed), 3, ("tiny.bed", "first bytes none")),
    ("bed-missing", c._remove(c.bed), 3, ("missing PLINK file", "tiny.bed")),
    ("bed-is-directory", c._directory(c.bed), 3, ("tiny.bed", "directory")),
    (
        "bim-one-line-short",
        c._drop_last_line(c.bim),
        3,
        ("tiny.bed", "the .bim 499 variants", "fits 500 variants"),
    ),
    ("fam-one-line-long", c._fam_extra_sample, 3, ("tiny.bed", "the .fam has 101 samples")),
    ("bim-missing", c._remove(c.bim), 3, ("missing PLINK file", "tiny.bim")),
    ("fam-missing", c._remove(c.fam), 3, ("missing PLINK file", "tiny.fam")),
    ("bim-empty", c._empty(c.bim), 3, ("tiny.bim", "has no variants")),
    ("fam-empty", c._empty(c.fam), 3, ("tiny.fam", "has no samples")),
    (
        "fam-duplicate-sample",
        c._fam_duplicate,
        3,
        ("tiny.fam", "line 2", "duplicate sample ID", "first seen on line 1"),
    ),
    ("fam-row-too-short", c._fam_short_row, 3, ("tiny.fam", "line 5", "found 3")),
    ("fam-not-utf8", c._fam_not_utf8, 3, ("tiny.fam", "line 4", "UTF-8")),
    ("bim-row-too-short", c._bim_short_row, 3, ("tiny.bim", "line 7", "found 5")),
    (
        "bim-position-not-a-number",
        c._bim_bad_position,
        3,
        ("tiny.bim", "line 9", "'abc'", "not an integer"),
    ),
]
BED_UNREADABLE = ("fam-unreadable", c._unreadable(c.fam), 3, ("tiny.fam", "ermission denied"))

PHENO_CASES = [
    (
        "pheno-missing",
        lambda ws: ({"--pheno": ws.inputs / "absent.pheno"}, []),
        3,
        ("absent.pheno", "No such file"),
    ),
    ("pheno-is-directory", lambda ws: ({"--pheno": ws.inputs}, []), 3, ("inputs", "directory")),
    ("pheno-empty", c._pheno_text(""), 3, ("case.pheno", "is empty")),
    (
        "pheno-header-only",
        c._pheno_text("FID IID y\n"),
        3,
        ("case.pheno", "has a header but no samples"),
    ),
    (
        "pheno-binary",
        c._pheno_text(b"\x89HDF\r\n\x1a\n\x00\x00\x00"),
        3,
        ("case.pheno", "not a text file"),
    ),
    (
        "pheno-not-a-number",
        c._pheno_edit(5, 2, "abc"),
        3,
        ("tiny.pheno line 5", "column CD8", "'abc'", "not a number"),
    ),
    (
        "pheno-infinite",
        c._pheno_edit(6, 2, "inf"),
        3,
        ("tiny.pheno line 6", "column CD8", "'inf'", "not a finite number"),
    ),
    (
        "pheno-overflowing-number",
        c._pheno_edit(7, 3, "1e999"),
        3,
        ("tiny.pheno line 7", "column MCH", "not a finite number"),
    ),
    (
        "pheno-row-too-short",
        c._pheno_short_row,
        3,
        ("tiny.pheno line 8 has 3 columns", "the header (line 1) has 4"),
    ),
    (
        "pheno-duplicate-sample",
        c._pheno_duplicate,
        3,
        ("tiny.pheno line 10", "already appeared on line 9"),
    ),
    (
        "pheno-no-overlapping-samples",
        c._pheno_rows(lambda k, r: ["x" + r[0], *r[1:]]),
        4,
        ("no samples in common", "tiny.pheno 100"),
    ),
    (
        "pheno-single-sample",
        c._pheno_rows(c._single_sample),
        4,
        ("phenotype CD8", "tiny.pheno", "only 1 sample"),
    ),
    (
        "pheno-constant",
        c._pheno_rows(lambda k, r: [*r[:2], "2.5", r[3]]),
        4,
        ("phenotype CD8", "tiny.pheno", "constant (2.5)"),
    ),
    (
        "pheno-all-missing",
        c._pheno_rows(lambda k, r: [*r[:2], "NA", r[3]]),
        4,
        ("no samples left", "missing phenotype CD8"),
    ),
    (
        "pheno-huge-values",
        c._pheno_rows(lambda k, r: [*r[:2], f"{k}e200", r[3]]),
        4,
        ("phenotype CD8 of", "tiny.pheno", "magnitude"),
    ),
]

COVAR_CASES = [
    (
        "covar-infinite",
        c._covar_edit(4, 2, "-inf"),
        3,
        ("tiny.covar line 4", "column sex", "not a finite number"),
    ),
    ("covar-row-too-short", c._covar_short_row, 3, ("tiny.covar line 6 has 3 columns",)),
    (
        "covar-more-columns-than-samples",
        c._covar_wider_than_samples,
        4,
        ("wide.covar", "61 columns", "54 samples"),
    ),
    ("covar-all-missing", c._covar_all_missing, 4, ("no samples left", "missing covariate")),
    (
        "covar-missing-file",
        lambda ws: ({"--covar": ws.inputs / "absent.covar"}, []),
        3,
        ("absent.covar",),
    ),
]

KEEP_CASES = [
    ("keep-no-overlap", c._keep_text("nobody nobody\n"), 4, ("no samples",)),
    ("keep-one-column", c._keep_text("onlyone\n"), 3, ("case.keep line 1", "expected FID and IID")),
    ("keep-empty", c._keep_text(""), 3, ("case.keep", "has no samples")),
]

ARTIFACT_CASES = [
    ("grm-missing", c._grm_missing, 3, ("absent.h5", "does not exist")),
    ("grm-is-directory", c._grm_directory, 3, ("folder.h5", "directory")),
    ("grm-empty-file", c._grm_empty, 3, ("empty.h5", "not a readable HDF5 file")),
    ("grm-truncated", c._grm_truncated, 3, ("cut.h5", "not a readable HDF5 file")),
    ("grm-not-hdf5", c._grm_text, 3, ("text.h5", "not a readable HDF5 file")),
    ("grm-foreign-hdf5", c._grm_foreign, 6, ("foreign.h5", "not an herit artifact")),
    (
        "grm-older-format-version",
        c._grm_attr("format_version", 0),
        6,
        ("edited.h5", "format version 0", "reads version 1"),
    ),
    (
        "grm-unknown-kind",
        c._grm_attr("herit_format", "matrix"),
        6,
        ("edited.h5", "'matrix' artifact"),
    ),
]
WRONG_KIND = (
    "grm-is-an-eigen-artifact",
    c._grm_eigen_given,
    6,
    ("tiny.eigen.h5", "'eigen' artifact, expected 'grm'"),
)
PARTIAL = (
    "grm-layout-incomplete",
    c._grm_without("samples/iid"),
    6,
    ("partial.h5", "missing part of the GRM layout", "'iid'"),
)
GRM_NAN = ("grm-with-nan", c._grm_nan, 4, ("nan.h5", "non-finite value (nan)", "row 2, column 3"))

EIGEN_CASES = [
    ("eigen-of-other-snps", c._eigen_of_other_grm, 6, ("other.eigen.h5", "another GRM")),
    (
        "eigen-of-other-samples",
        lambda ws: ({"--eigen": ws.eigen}, []),
        6,
        ("tiny.eigen.h5", "decomposes 100 samples", "54 samples are analysed"),
    ),
    ("eigen-truncated", c._eigen_truncated, 3, ("cut.eigen.h5", "not a readable HDF5")),
    (
        "eigen-is-a-grm",
        lambda ws: ({"--eigen": ws.grm}, []),
        6,
        ("tiny.h5", "'grm' artifact, expected 'eigen'"),
    ),
    (
        "eigen-older-format-version",
        c._eigen_edit("format_version", 0),
        6,
        ("edited.eigen.h5", "format version 0"),
    ),
]

GCTA_CASES = [
    (
        "grm-bin-missing",
        c._remove(lambda ws: c.gcta(ws, "bin")),
        3,
        ("tiny.grm.bin", "does not exist"),
    ),
    (
        "grm-id-missing",
        c._remove(lambda ws: c.gcta(ws, "id")),
        3,
        ("tiny.grm.id", "does not exist"),
    ),
    (
        "grm-bin-truncated",
        c._gcta_bytes("bin", lambda b: b[:-4]),
        3,
        ("tiny.grm.bin has 20196 bytes", "100 samples need 20200"),
    ),
    (
        "grm-bin-trailing-bytes",
        c._gcta_bytes("bin", lambda b: b + b"\x00" * 8),
        3,
        ("tiny.grm.bin has 20208 bytes",),
    ),
    (
        "grm-N-bin-wrong-size",
        c._gcta_bytes("N.bin", lambda b: b[:100]),
        3,
        ("tiny.grm.N.bin has 100 bytes",),
    ),
    (
        "grm-bin-with-nan",
        c._gcta_nan,
        3,
        ("tiny.grm.bin", "row 3, column 2", "not a finite number"),
    ),
    (
        "grm-id-duplicate",
        c._gcta_id_edit(c._id_duplicate),
        3,
        ("tiny.grm.id line 2", "duplicate sample ID"),
    ),
    (
        "grm-id-three-columns",
        c._gcta_id_edit(c._id_three_columns),
        3,
        ("tiny.grm.id line 3", "expected 2 columns", "found 3"),
    ),
    ("grm-id-empty", c._empty(lambda ws: c.gcta(ws, "id")), 3, ("tiny.grm.id", "no samples")),
]


def _out_missing(ws: Workspace) -> c.Change:
    return {"--out": ws.out_dir / "no" / "such" / "res"}, []


def _out_is_directory(command: str) -> c.Maker:
    def make(ws: Workspace) -> c.Change:
        (ws.out_dir / ("res" + OUTPUTS[command][0])).mkdir()
        return {}, []

    return make


def _out_not_writable(ws: Workspace) -> c.Change:
    os.chmod(ws.out_dir, 0o500)
    return {}, []


def options(**values: object) -> c.Maker:
    def make(ws: Workspace) -> c.Change:
        return dict(values), []

    return make


OPTION_CASES: dict[str, list[tuple]] = {
    "make-grm": [
        ("maf-above-half", c.extra("--maf", "0.7"), 2, ("--maf", "0.7")),
        ("geno-above-one", c.extra("--geno", "2"), 2, ("--geno",)),
        ("threads-zero", c.extra("--threads", "0"), 2, ("--threads",)),
        ("block-snps-zero", c.extra("--block-snps", "0"), 2, ("--block-snps",)),
        ("dtype-unknown", c.extra("--dtype", "float16"), 2, ("--dtype",)),
        ("chr-range-reversed", c.extra("--chr", "5-2"), 2, ("--chr", "5-2")),
        (
            "extract-matches-nothing",
            lambda ws: ({}, ["--extract", ws.write("none.snps", "rsNothing\n")]),
            4,
            ("no variants left",),
        ),
        (
            "every-snp-filtered",
            c.extra("--max-maf", "0.0001"),
            4,
            ("no variants passed the filters",),
        ),
        (
            "keep-single-sample",
            lambda ws: ({}, ["--keep", c._keep_one_sample(ws)[0]["--keep"]]),
            4,
            ("only 1 sample",),
        ),
    ],
    "export-grm": [("out-not-given", options(**{"--out": None}), 2, ("--out",))],
    "import-grm": [("dtype-unknown", c.extra("--dtype", "int8"), 2, ("--dtype",))],
    "inspect": [("no-file-given", options(ARG=None), 2, ("FILE.h5",))],
    "eigen": [
        ("pcs-above-n", options(**{"--pcs": 101}), 2, ("--pcs", "100 samples", "101")),
        ("pcs-negative", options(**{"--pcs": -1}), 2, ("--pcs",)),
        ("threads-zero", c.extra("--threads", "0"), 2, ("--threads",)),
    ],
    "reml": [
        ("mpheno-beyond-last", c.extra("--mpheno", "3"), 2, ("--mpheno 3", "2 phenotype")),
        ("pheno-name-unknown", c.extra("--pheno-name", "BMI"), 2, ("BMI", "tiny.pheno")),
        ("prevalence-above-one", c.extra("--prevalence", "1.5"), 2, ("--prevalence", "1.5")),
        (
            "prevalence-of-quantitative-trait",
            c.extra("--prevalence", "0.1"),
            4,
            ("--prevalence", "CD8"),
        ),
        ("method-unknown", c.extra("--method", "bayes"), 2, ("--method",)),
        ("all-pheno-with-mpheno", c.extra("--all-pheno", "--mpheno", "1"), 2, ("--all-pheno",)),
        (
            "qcovar-text-column",
            lambda ws: ({}, ["--qcovar", ws.covar]),
            3,
            ("tiny.covar line 2", "column batch", "not a number"),
        ),
    ],
    "mcem": [
        ("chains-zero", c.extra("--chains", "0"), 2, ("--chains",)),
        ("pi-start-above-one", c.extra("--pi-start", "1.5"), 2, ("--pi-start", "1.5")),
        ("maf-above-half", c.extra("--maf", "0.7"), 2, ("--maf", "0.7")),
        (
            "iterations-within-burn-in",
            c.extra("--iterations", "30", "--burn-in", "20"),
            2,
            ("--iterations 30", "--burn-in 20"),
        ),
        ("seed-negative", c.extra("--seed", "-1"), 2, ("--seed",)),
        (
            "extract-matches-nothing",
            lambda ws: ({}, ["--extract", ws.write("none.snps", "rsNothing\n")]),
            4,
            ("no variants left",),
        ),
    ],
}


def build_table() -> list[Case]:
    table: list[Case] = []

    def add(commands: list[str], rows: list[tuple], when: str = "always") -> None:
        for command in commands:
            for name, make, code, fragments in rows:
                table.append(Case(command, name, make, code, tuple(fragments), when))

    add(["make-grm", "mcem"], BED_CASES)
    add(["make-grm", "mcem"], [BED_UNREADABLE], when="not-root")
    add(["reml", "mcem"], PHENO_CASES + COVAR_CASES + KEEP_CASES)
    add(["make-grm"], KEEP_CASES)
    add(["export-grm", "inspect", "eigen", "reml"], ARTIFACT_CASES)
    add(["export-grm", "eigen", "reml"], [WRONG_KIND, PARTIAL])
    add(["eigen", "reml"], [GRM_NAN])
    add(["reml"], EIGEN_CASES)
    add(["import-grm"], GCTA_CASES)
    for command, outputs in OUTPUTS.items():
        if not outputs:
            continue
        add([command], [("out-directory-missing", _out_missing, 7, ("does not exist",))])
        add([command], [("out-is-a-directory", _out_is_directory(command), 7, ("is a directory",))])
        add(
            [command],
            [("out-directory-not-writable", _out_not_writable, 7, ("not writable",))],
            when="not-root",
        )
    for command, rows in OPTION_CASES.items():
        add([command], rows)
    return table


TABLE = build_table()


@pytest.mark.parametrize("case", TABLE, ids=[case.id for case in TABLE])
def test_broken_input(capsys, ws: Workspace, case: Case) -> None:
    if case.when == "not-root" and not _not_root():
        pytest.skip("permission bits do not stop root (see test_atomic_outputs for read-only)")
    changes, more = case.make(ws)
    args = command_line(case.command, ws, changes, more)
    seeded = [Path(f"{ws.out}{suffix}") for suffix in OUTPUTS[case.command]]
    if os.access(ws.out_dir, os.W_OK) and not any(p.exists() for p in seeded):
        seed_outputs(seeded)
    code, out, err = herit(capsys, *args)
    os.chmod(ws.out_dir, 0o700)
    assert code == case.code, err
    assert_one_line_error(err, case.fragments)
    assert out == ""
    assert_outputs_untouched(ws.out_dir, [p for p in seeded if p.is_file()])
    assert leftovers(ws.root) == []


def test_table_covers_every_subcommand() -> None:
    from heritcli.cli.main import cli

    assert set(OUTPUTS) == {
        "make-grm",
        "export-grm",
        "import-grm",
        "inspect",
        "eigen",
        "reml",
        "mcem",
    }
    covered = {case.command for case in TABLE}
    assert set(OUTPUTS) <= covered
    assert set(OUTPUTS) <= set(cli.commands)
    for command in OUTPUTS:
        codes = {case.code for case in TABLE if case.command == command}
        assert (2 in codes and 3 in codes) or command == "inspect", (command, codes)
