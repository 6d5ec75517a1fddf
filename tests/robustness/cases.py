"""Broken inputs, made from a fresh copy of the tiny cohort, for the robustness battery.

Every maker takes a :class:`~.support.Workspace`, breaks something in it and returns the
command-line options to change (``{"--pheno": path}``; the key ``"ARG"`` is the positional
argument; a value of None drops the option) and extra arguments to append.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .support import Workspace

Change = tuple[dict[str, object], list[object]]
Maker = Callable[[Workspace], Change]


@dataclass(frozen=True)
class Case:
    """One broken input for one subcommand, with what herit must answer."""

    command: str
    name: str
    make: Maker
    code: int
    fragments: tuple[str, ...]
    when: str = "always"  # "always" or "not-root" (permission bits do not stop root)
    marks: tuple[object, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.command}:{self.name}"


def nothing(ws: Workspace) -> Change:
    return {}, []


def extra(*args: object) -> Maker:
    def make(ws: Workspace) -> Change:
        return {}, list(args)

    return make


# ---------------------------------------------------------------------------------------------
# Text and byte edits
# ---------------------------------------------------------------------------------------------


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_field(path: Path, line: int, column: int, value: str) -> None:
    """Set field ``column`` (0-based) of 1-based ``line``."""
    lines = lines_of(path)
    fields = lines[line - 1].split()
    fields[column] = value
    lines[line - 1] = " ".join(fields)
    write_lines(path, lines)


def bed(ws: Workspace) -> Path:
    return ws.bfile.with_suffix(".bed")


def bim(ws: Workspace) -> Path:
    return ws.bfile.with_suffix(".bim")


def fam(ws: Workspace) -> Path:
    return ws.bfile.with_suffix(".fam")


def _bed_bytes(transform: Callable[[bytes], bytes]) -> Maker:
    def make(ws: Workspace) -> Change:
        bed(ws).write_bytes(transform(bed(ws).read_bytes()))
        return {}, []

    return make


def _remove(which: Callable[[Workspace], Path]) -> Maker:
    def make(ws: Workspace) -> Change:
        which(ws).unlink()
        return {}, []

    return make


def _empty(which: Callable[[Workspace], Path]) -> Maker:
    def make(ws: Workspace) -> Change:
        which(ws).write_bytes(b"")
        return {}, []

    return make


def _directory(which: Callable[[Workspace], Path]) -> Maker:
    def make(ws: Workspace) -> Change:
        path = which(ws)
        path.unlink()
        path.mkdir()
        return {}, []

    return make


def _unreadable(which: Callable[[Workspace], Path]) -> Maker:
    def make(ws: Workspace) -> Change:
        os.chmod(which(ws), 0)
        return {}, []

    return make


def _drop_last_line(which: Callable[[Workspace], Path]) -> Maker:
    def make(ws: Workspace) -> Change:
        write_lines(which(ws), lines_of(which(ws))[:-1])
        return {}, []

    return make


def _fam_extra_sample(ws: Workspace) -> Change:
    write_lines(fam(ws), [*lines_of(fam(ws)), "extra1 extra1 0 0 1 -9"])
    return {}, []


def _fam_duplicate(ws: Workspace) -> Change:
    lines = lines_of(fam(ws))
    first = lines[0].split()
    second = lines[1].split()
    lines[1] = " ".join([first[0], first[1], *second[2:]])
    write_lines(fam(ws), lines)
    return {}, []


def _fam_short_row(ws: Workspace) -> Change:
    lines = lines_of(fam(ws))
    lines[4] = " ".join(lines[4].split()[:3])
    write_lines(fam(ws), lines)
    return {}, []


def _fam_not_utf8(ws: Workspace) -> Change:
    data = fam(ws).read_bytes().split(b"\n")
    data[3] = b"\xff\xfe" + data[3]
    fam(ws).write_bytes(b"\n".join(data))
    return {}, []


def _bim_short_row(ws: Workspace) -> Change:
    lines = lines_of(bim(ws))
    lines[6] = " ".join(lines[6].split()[:5])
    write_lines(bim(ws), lines)
    return {}, []


def _bim_bad_position(ws: Workspace) -> Change:
    edit_field(bim(ws), 9, 3, "abc")
    return {}, []


# ---------------------------------------------------------------------------------------------
# Phenotypes, covariates, sample lists
# ---------------------------------------------------------------------------------------------


def _pheno_edit(line: int, column: int, value: str) -> Maker:
    def make(ws: Workspace) -> Change:
        edit_field(ws.pheno, line, column, value)
        return {}, []

    return make


def _pheno_text(text: str | bytes) -> Maker:
    def make(ws: Workspace) -> Change:
        return {"--pheno": ws.write("case.pheno", text)}, []

    return make


def _pheno_rows(make_row: Callable[[int, list[str]], list[str]]) -> Maker:
    """Rewrite every sample row of the phenotype file (header kept)."""

    def make(ws: Workspace) -> Change:
        lines = lines_of(ws.pheno)
        rows = [" ".join(make_row(k, line.split())) for k, line in enumerate(lines[1:])]
        write_lines(ws.pheno, [lines[0], *rows])
        return {}, []

    return make


def _pheno_short_row(ws: Workspace) -> Change:
    lines = lines_of(ws.pheno)
    lines[7] = " ".join(lines[7].split()[:3])
    write_lines(ws.pheno, lines)
    return {}, []


def _pheno_duplicate(ws: Workspace) -> Change:
    lines = lines_of(ws.pheno)
    ids = lines[8].split()[:2]
    lines[9] = " ".join(ids + lines[9].split()[2:])
    write_lines(ws.pheno, lines)
    return {}, []


def _single_sample(k: int, row: list[str]) -> list[str]:
    return [*row[:2], "1.5" if k == 0 else "NA", row[3]]


def _covar_edit(line: int, column: int, value: str) -> Maker:
    def make(ws: Workspace) -> Change:
        edit_field(ws.covar, line, column, value)
        return {"--covar": ws.covar}, []

    return make


def _covar_short_row(ws: Workspace) -> Change:
    lines = lines_of(ws.covar)
    lines[5] = " ".join(lines[5].split()[:3])
    write_lines(ws.covar, lines)
    return {"--covar": ws.covar}, []


def _covar_all_missing(ws: Workspace) -> Change:
    lines = lines_of(ws.covar)
    rows = [" ".join([*line.split()[:2], "NA", line.split()[3]]) for line in lines[1:]]
    write_lines(ws.covar, [lines[0], *rows])
    return {"--covar": ws.covar}, []


def _covar_wider_than_samples(ws: Workspace) -> Change:
    """60 quantitative covariates for the 54 samples with CD8: more columns than samples."""
    rng = np.random.default_rng(7)
    lines = lines_of(ws.covar)
    header = "FID IID " + " ".join(f"c{j}" for j in range(60))
    rows = [
        " ".join([*line.split()[:2], *(f"{v:.4f}" for v in rng.standard_normal(60))])
        for line in lines[1:]
    ]
    return {"--covar": ws.write("wide.covar", "\n".join([header, *rows]) + "\n")}, []


def _keep_text(text: str) -> Maker:
    def make(ws: Workspace) -> Change:
        return {"--keep": ws.write("case.keep", text)}, []

    return make


def _keep_one_sample(ws: Workspace) -> Change:
    first = lines_of(fam(ws))[0].split()[:2]
    return {"--keep": ws.write("one.keep", " ".join(first) + "\n")}, []


# ---------------------------------------------------------------------------------------------
# Artifacts
# ---------------------------------------------------------------------------------------------


def _grm_copy(ws: Workspace, name: str) -> Path:
    path = ws.inputs / name
    shutil.copy(ws.grm, path)
    return path


def _grm_truncated(ws: Workspace) -> Change:
    path = ws.write("cut.h5", ws.grm.read_bytes()[:4000])
    return {"--grm": path, "ARG": path}, []


def _grm_text(ws: Workspace) -> Change:
    path = ws.write("text.h5", "FID IID\n1 1\n")
    return {"--grm": path, "ARG": path}, []


def _grm_empty(ws: Workspace) -> Change:
    path = ws.write("empty.h5", b"")
    return {"--grm": path, "ARG": path}, []


def _grm_missing(ws: Workspace) -> Change:
    path = ws.inputs / "absent.h5"
    return {"--grm": path, "ARG": path}, []


def _grm_directory(ws: Workspace) -> Change:
    path = ws.inputs / "folder.h5"
    path.mkdir()
    return {"--grm": path, "ARG": path}, []


def _grm_attr(name: str, value: object) -> Maker:
    def make(ws: Workspace) -> Change:
        path = _grm_copy(ws, "edited.h5")
        with h5py.File(path, "r+") as handle:
            handle.attrs[name] = value
        return {"--grm": path, "ARG": path}, []

    return make


def _grm_foreign(ws: Workspace) -> Change:
    path = ws.inputs / "foreign.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("x", data=np.arange(3))
    return {"--grm": path, "ARG": path}, []


def _grm_eigen_given(ws: Workspace) -> Change:
    return {"--grm": ws.eigen, "ARG": ws.eigen}, []


def _grm_without(dataset: str) -> Maker:
    def make(ws: Workspace) -> Change:
        path = _grm_copy(ws, "partial.h5")
        with h5py.File(path, "r+") as handle:
            del handle[dataset]
        return {"--grm": path, "ARG": path}, []

    return make


def _grm_nan(ws: Workspace) -> Change:
    """NaN at (2, 3) and (3, 2): samples 2 and 3 both have CD8."""
    path = _grm_copy(ws, "nan.h5")
    with h5py.File(path, "r+") as handle:
        values = handle["grm/values"][()]
        values[1, 2] = values[2, 1] = np.nan
        handle["grm/values"][...] = values
    return {"--grm": path, "ARG": path}, []


def _eigen_of_other_grm(ws: Workspace) -> Change:
    """--eigen decomposing a GRM made from other SNPs (--extract: the first 300)."""
    from heritcli.cli.main import run

    snps = [line.split()[1] for line in lines_of(bim(ws))[:300]]
    extract = ws.write("first300.snps", "\n".join(snps) + "\n")
    other = ws.inputs / "other.h5"
    assert (
        run(
            [
                "make-grm",
                "--bfile",
                str(ws.bfile),
                "--extract",
                str(extract),
                "--out",
                str(other),
                "-q",
            ]
        )
        == 0
    )
    assert run(["eigen", "--grm", str(other), "-q"]) == 0
    return {"--eigen": ws.inputs / "other.eigen.h5"}, []


def _eigen_edit(name: str, value: object) -> Maker:
    def make(ws: Workspace) -> Change:
        path = ws.inputs / "edited.eigen.h5"
        shutil.copy(ws.eigen, path)
        with h5py.File(path, "r+") as handle:
            handle.attrs[name] = value
        return {"--eigen": path}, []

    return make


def _eigen_truncated(ws: Workspace) -> Change:
    return {"--eigen": ws.write("cut.eigen.h5", ws.eigen.read_bytes()[:3000])}, []


# ---------------------------------------------------------------------------------------------
# GCTA binary GRM
# ---------------------------------------------------------------------------------------------


def gcta(ws: Workspace, suffix: str) -> Path:
    return ws.inputs / f"tiny.grm.{suffix}"


def _gcta_bytes(suffix: str, transform: Callable[[bytes], bytes]) -> Maker:
    def make(ws: Workspace) -> Change:
        path = gcta(ws, suffix)
        path.write_bytes(transform(path.read_bytes()))
        return {}, []

    return make


def _gcta_nan(ws: Workspace) -> Change:
    path = gcta(ws, "bin")
    values = np.fromfile(path, dtype="<f4")
    values[4] = np.nan  # row 3, column 2 (flat index i(i+1)/2 + j)
    values.tofile(path)
    return {}, []


def _gcta_id_edit(transform: Callable[[list[str]], list[str]]) -> Maker:
    def make(ws: Workspace) -> Change:
        path = gcta(ws, "id")
        write_lines(path, transform(lines_of(path)))
        return {}, []

    return make


def _id_duplicate(lines: list[str]) -> list[str]:
    return [lines[0], lines[0], *lines[2:]]


def _id_three_columns(lines: list[str]) -> list[str]:
    return [*lines[:2], lines[2] + "\textra", *lines[3:]]
