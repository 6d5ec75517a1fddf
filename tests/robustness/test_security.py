"""Data are printed literally, and herit reads and writes only what it is told to.

* Sample IDs and column names holding rich markup (``[red]``), shell syntax (``$(…)``,
  backticks) or quotes are printed as they are, in errors, warnings and result tables, and
  nothing is executed.
* A phenotype column name cannot put an output outside ``--out`` (``--all-pheno`` writes
  ``P.<name>.hsq``).
* Within the working files, a command opens only the inputs it is given and its outputs, and
  creates files only under ``--out`` (plus the decomposition cache beside the GRM, which
  ``--no-cache`` turns off).
* The package source uses no ``pickle``, ``eval``, ``exec`` or shell.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from heritcli.io.plink import write_bfile

from .cases import lines_of, write_lines
from .support import MCEM_FAST, REPO, Workspace, assert_one_line_error, child_env, herit

HOSTILE = ["[red]x[/red]", "$(touch_pwned)", "`touch_pwned2`", "a'b\"c", "[bold]"]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_ids_in_errors_are_printed_literally(capsys, ws: Workspace) -> None:
    fam = ws.bfile.with_suffix(".fam")
    lines = lines_of(fam)
    rest = lines[0].split()[2:]
    lines[0] = " ".join([HOSTILE[0], HOSTILE[1], *rest])
    lines[1] = " ".join([HOSTILE[0], HOSTILE[1], *rest])
    write_lines(fam, lines)
    code, _, err = herit(capsys, "make-grm", "--bfile", ws.bfile, "--out", ws.out)
    assert code == 3
    assert_one_line_error(err, [f"duplicate sample ID '{HOSTILE[0]} {HOSTILE[1]}'"])
    assert not list(ws.root.rglob("pwned*"))


def test_hostile_names_in_tables_and_outputs_are_literal(capsys, ws: Workspace, tmp_path) -> None:
    rng_values = [f"{(k * 37 % 11) / 3:.4f}" for k in range(100)]
    fid = [line.split()[0] for line in lines_of(ws.bfile.with_suffix(".fam"))]
    iid = [line.split()[1] for line in lines_of(ws.bfile.with_suffix(".fam"))]
    header = "FID IID [red]trait[/red] ../../escape"
    rows = [f"{f} {i} {v} {v}" for f, i, v in zip(fid, iid, rng_values, strict=True)]
    pheno = ws.write("hostile.pheno", "\n".join([header, *rows]) + "\n")
    code, out, err = herit(
        capsys, "reml", "--grm", ws.grm, "--pheno", pheno, "--all-pheno", "--out", ws.out
    )
    assert code == 0, err
    assert "[red]trait[/red]" in out  # the table shows the markup as text
    written = sorted(p.name for p in ws.out_dir.iterdir())
    assert "res._red_trait__red_.hsq" in written
    assert "res._.._escape.hsq" in written  # '../../escape' cannot leave the output directory
    assert not (ws.root / "escape.hsq").exists() and not (ws.root.parent / "escape.hsq").exists()
    document = json.loads((ws.out_dir / "res.json").read_text())
    assert [p["name"] for p in document["phenotypes"]] == ["[red]trait[/red]", "../../escape"]


def test_hostile_covariate_levels_in_warnings_are_literal(capsys, ws: Workspace) -> None:
    lines = lines_of(ws.covar)
    lines = [lines[0], *(" ".join([*line.split()[:3], HOSTILE[1]]) for line in lines[1:])]
    write_lines(ws.covar, lines)
    code, _, err = herit(
        capsys, "reml", "--grm", ws.grm, "--pheno", ws.pheno, "--covar", ws.covar, "--out", ws.out
    )
    assert code == 0, err
    assert f"single level '{HOSTILE[1]}'" in err
    assert not list(ws.root.rglob("pwned*"))


def _created_files(capsys, ws: Workspace, monkeypatch, args: list[object]) -> set[Path]:
    empty_cwd = ws.root / "cwd"
    empty_cwd.mkdir()
    monkeypatch.chdir(empty_cwd)
    before = _files(ws.root)
    code, _, err = herit(capsys, *args)
    assert code == 0, err
    return _files(ws.root) - before


def test_writes_only_under_out(capsys, ws: Workspace, monkeypatch) -> None:
    runs = [
        ["make-grm", "--bfile", ws.bfile, "--out", ws.out],
        ["eigen", "--grm", ws.grm, "--out", ws.out, "--pcs", 2],
        ["reml", "--grm", ws.grm, "--pheno", ws.pheno, "--no-cache", "--out", ws.out],
        ["export-grm", ws.grm, "--out", ws.out],
        ["mcem", "--bfile", ws.bfile, "--pheno", ws.pheno, "--out", ws.out, *MCEM_FAST],
    ]
    for k, args in enumerate(runs):
        if k:
            monkeypatch.chdir(ws.root)
            (ws.root / "cwd").rmdir()
        created = _created_files(capsys, ws, monkeypatch, args)
        assert created and all(p.parent == ws.out_dir for p in created), (args[0], created)


def test_reml_cache_is_the_only_file_beside_the_grm(capsys, ws: Workspace, monkeypatch) -> None:
    created = _created_files(
        capsys, ws, monkeypatch, ["reml", "--grm", ws.grm, "--pheno", ws.pheno, "--out", ws.out]
    )
    outside = [p for p in created if p.parent != ws.out_dir]
    assert len(outside) == 1
    assert re.fullmatch(r"tiny\.eigen\.[0-9a-f]{16}\.h5", outside[0].name)
    assert outside[0].parent == ws.grm.parent


OPEN_RECORDER = """
import os, sys
root = sys.argv[1]
opened = []
def record(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path.startswith(root):
            opened.append(path)
sys.addaudithook(record)
from heritcli.cli.main import run
code = run(sys.argv[2:])
print("\\n".join(sorted(set(opened))))
sys.exit(code)
"""


def test_opens_only_the_files_it_is_given(ws: Workspace) -> None:
    keep = ws.write(
        "keep.txt", "".join(" ".join(line.split()[:2]) + "\n" for line in lines_of(ws.pheno)[1:60])
    )
    decoy = ws.write("decoy.txt", "not to be read\n")
    args = [
        "reml",
        "--grm",
        ws.grm,
        "--pheno",
        ws.pheno,
        "--covar",
        ws.covar,
        "--keep",
        keep,
        "--no-cache",
        "--out",
        ws.out,
        "-q",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_RECORDER, str(ws.root), *map(str, args)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    opened = {Path(line) for line in proc.stdout.splitlines() if line.startswith(str(ws.root))}
    # HDF5 files are opened by the HDF5 library, which Python's audit events do not see.
    given = {ws.pheno, ws.covar, keep}
    outputs = {p for p in opened if p.parent == ws.out_dir}
    assert given <= opened
    assert opened - outputs - given == set(), opened - outputs - given
    assert decoy not in opened


def test_package_has_no_pickle_eval_or_shell() -> None:
    banned = re.compile(r"\bpickle\b|\beval\(|\bexec\(|shell=True|os\.system|allow_pickle=True")
    hits = []
    for path in (REPO / "heritcli").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if banned.search(code) and "``" not in code:
                hits.append(f"{path.name}:{number}: {line.strip()}")
    assert hits == []


def test_ids_with_markup_survive_the_whole_chain(capsys, tmp_path) -> None:
    """A fileset whose IDs are markup and shell syntax goes through make-grm and inspect."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 12
    fid = np.array([f"[red]f{k}" for k in range(n)])
    iid = np.array([f"$(i{k})" for k in range(n)])
    write_bfile(tmp_path / "m", rng.integers(0, 3, size=(40, n)), fid=fid, iid=iid)
    assert herit(capsys, "make-grm", "--bfile", tmp_path / "m", "--out", tmp_path / "m")[0] == 0
    code, _, _ = herit(capsys, "export-grm", tmp_path / "m.h5", "--out", tmp_path / "m")
    assert code == 0
    assert (tmp_path / "m.grm.id").read_text().splitlines()[0] == "[red]f0\t$(i0)"
