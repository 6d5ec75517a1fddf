#!/usr/bin/env python3
"""Benchmark ``herit make-grm`` against PLINK 2, PLINK 1.9 and the BLAS ``syrk`` limit.

For every size ``n x M`` (default ``2000x50000`` and ``5123x319147``) the script

1. writes a synthetic ``.bed/.bim/.fam`` once with ``synth_bed.py`` (cached under
   ``bench/scratch/data/``; HWE genotypes, 0.1 % missing) and reads it once so every
   tool starts with a warm page cache;
2. times, round-robin and each in a fresh process,
   ``plink2 --make-rel square bin4``, ``plink1.9 --make-grm-bin``,
   ``herit make-grm`` (float32, the default) and ``herit make-grm --dtype float64``,
   all with ``--threads T``, plus ``syrk_throughput.py`` on the same shape, ``R`` times;
   wall time comes from the parent's clock, peak RSS and CPU time from GNU
   ``/usr/bin/time -v`` (or ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process);
3. checks that the matrices agree: PLINK 1.9's ``.grm.bin`` (GCTA layout: float32
   lower triangle with diagonal, row by row) against herit's ``OUT.h5``
   (``grm/values``, full symmetric matrix) and PLINK 2's square ``.rel.bin``,
   reporting the largest absolute difference off and on the diagonal;
4. prints a Markdown report (best and median wall, peak RSS, CPU use, effective
   GFLOP/s ``= n² · M / wall``, ratios and pass/fail against the targets) and
   appends it, with date, machine, BLAS and the exact command line, to
   ``bench/RESULTS.md``.

Targets checked for herit (float32): wall ≤ PLINK 2's and ≤ half of PLINK 1.9's;
effective throughput ≥ 60 % of the measured float32 ``ssyrk`` throughput; peak
RSS < 1.3 · 8n² bytes + 0.5 GB (GB = 10⁹ bytes).

herit is run as ``herit`` when that is on PATH, else as ``python -m heritcli``
with this checkout on ``PYTHONPATH`` (or as given by ``--herit-cmd``); if neither
answers ``make-grm --help`` the herit rows are skipped with the reason printed.

Examples
--------
::

    python bench/bench_make_grm.py                      # the full benchmark
    python bench/bench_make_grm.py --quick --no-append  # 500 x 5000 smoke test
    python bench/bench_make_grm.py --sizes 2000x50000 --tools plink2,plink1.9,syrk
    python bench/bench_make_grm.py --generate-only      # just write the cached datasets
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import synth_bed  # noqa: E402  (sibling module in bench/)
import syrk_throughput  # noqa: E402

DEFAULT_SIZES = "2000x50000,5123x319147"
QUICK_SIZES = "500x5000"
ALL_TOOLS = ("plink2", "plink1.9", "herit", "herit-f64", "syrk")
#: Sizes with n² · M at most this get 3 repeats by default, larger ones 1.
SMALL_WORK = 2000 * 2000 * 50_000
GB = 1e9
MIB = 2**20

TARGET_VS_PLINK2 = 1.0
TARGET_VS_PLINK19 = 0.5
TARGET_SYRK_FRACTION = 0.6


def memory_target(n: int) -> float:
    """Peak-RSS budget in bytes: 1.3 · 8n² + 0.5 GB."""
    return 1.3 * 8 * n * n + 0.5 * GB


# --------------------------------------------------------------------------- running


@dataclass
class RunResult:
    """One timed execution of one tool."""

    wall: float
    rc: int
    maxrss: int | None = None  # bytes
    cpu: float | None = None  # user + system seconds
    note: str = ""


@dataclass
class ToolRuns:
    """All repetitions of one tool at one size."""

    label: str
    command: str
    runs: list[RunResult] = field(default_factory=list)
    skipped: str = ""

    def ok(self) -> list[RunResult]:
        """Successful runs."""
        return [r for r in self.runs if r.rc == 0]


_RUSAGE_WRAPPER = r"""
import json, resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"maxrss_kb": ru.ru_maxrss, "cpu": ru.ru_utime + ru.ru_stime, "rc": rc}, fh)
sys.exit(rc)
"""


#: "auto" (GNU time if installed), "time" or "rusage"; set from ``--measure``.
MEASURE = "auto"


def gnu_time() -> str | None:
    """Path of GNU time if installed and wanted (``/usr/bin/time -v`` gives the peak RSS)."""
    return None if MEASURE == "rusage" else _find_gnu_time()


@functools.cache
def _find_gnu_time() -> str | None:
    exe = "/usr/bin/time"
    if not os.access(exe, os.X_OK):
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if "GNU" in (out.stdout + out.stderr) else None


def run_measured(
    cmd: list[str], log_prefix: Path, env: dict | None = None, timeout: float | None = None
) -> RunResult:
    """Run ``cmd`` in a fresh process; return wall time, exit status, peak RSS and CPU time.

    stdout and stderr go to ``log_prefix.stdout`` / ``.stderr``.
    """
    time_exe = gnu_time()
    with tempfile.NamedTemporaryFile(prefix="bench_rusage_", delete=False) as tmp:
        stats_path = Path(tmp.name)
    if time_exe:
        full = [time_exe, "-v", "-o", str(stats_path), *cmd]
    else:
        full = [sys.executable, "-c", _RUSAGE_WRAPPER, str(stats_path), *cmd]
    out_path = log_prefix.with_name(log_prefix.name + ".stdout")
    err_path = log_prefix.with_name(log_prefix.name + ".stderr")
    note = ""
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        # own session, so that a timeout can end the tool as well as the time/wrapper process
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc, note = -9, f"timeout after {timeout} s"
        wall = time.perf_counter() - t0
    maxrss = cpu = None
    try:
        text = stats_path.read_text(encoding="utf-8", errors="replace")
        if time_exe:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            maxrss = int(m.group(1)) * 1024 if m else None
            user = re.search(r"User time \(seconds\): ([\d.]+)", text)
            syst = re.search(r"System time \(seconds\): ([\d.]+)", text)
            if user and syst:
                cpu = float(user.group(1)) + float(syst.group(1))
            m = re.search(r"Exit status: (\d+)", text)
            if m and rc == 0:
                rc = int(m.group(1))
        elif text:
            stats = json.loads(text)
            maxrss, cpu = stats["maxrss_kb"] * 1024, stats["cpu"]
    except (OSError, ValueError):
        pass
    finally:
        stats_path.unlink(missing_ok=True)
    return RunResult(wall=wall, rc=rc, maxrss=maxrss, cpu=cpu, note=note)


def tail(path: Path, lines: int = 8) -> str:
    """Last lines of a log file (progress lines with carriage returns collapsed)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    text = "\n".join(seg.split("\r")[-1] for seg in text.splitlines())
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- tools


def first_line(cmd: list[str], env: dict | None = None) -> str:
    """First output line of a version command, or '' if it fails."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, env=env)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""


def system_blas() -> str:
    """The library behind the system's ``libblas.so.3`` (what Debian's plink builds call).

    Debian's ``plink2`` and ``plink1.9`` link ``libblas.so.3``: the reference BLAS of
    ``libblas3`` unless an optimized one (``libopenblas0-pthread``) provides it.
    """
    try:
        out = subprocess.run(
            ["ldconfig", "-p"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in out.splitlines():
        name, _, path = line.partition("=>")
        if name.strip().startswith("libblas.so.3 ") and path.strip():
            return os.path.realpath(path.strip())
    return "none found"


@dataclass
class Herit:
    """How to launch herit, or why it cannot be."""

    prefix: list[str] | None
    env: dict | None
    reason: str = ""
    has_dtype: bool = False
    version: str = ""


def resolve_shim(exe: str) -> str:
    """Real path behind a pyenv shim (a bash script that would add its start-up to the wall)."""
    if "/shims/" not in exe or not shutil.which("pyenv"):
        return exe
    real = first_line(["pyenv", "which", Path(exe).name])
    return real if real and os.access(real, os.X_OK) else exe


def find_herit(override: str | None) -> Herit:
    """Locate a working ``herit make-grm`` (override, ``herit`` on PATH, ``python -m heritcli``)."""
    env_tree = dict(os.environ)
    env_tree["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    candidates: list[tuple[list[str], dict | None]] = []
    if override:
        candidates.append((shlex.split(override), None))
    else:
        exe = shutil.which("herit")
        if exe:
            candidates.append(([resolve_shim(exe)], None))
        candidates.append(([sys.executable, "-m", "heritcli"], env_tree))
    reasons = []
    for prefix, env in candidates:
        try:
            proc = subprocess.run(
                [*prefix, "make-grm", "--help"],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            reasons.append(f"`{shlex.join(prefix)}`: {exc}")
            continue
        if proc.returncode == 0:
            help_text = proc.stdout + proc.stderr
            version = first_line([*prefix, "--version"], env=env)
            return Herit(prefix, env, has_dtype="--dtype" in help_text, version=version)
        last = (proc.stderr or proc.stdout).strip().splitlines()
        reasons.append(
            f"`{shlex.join(prefix)} make-grm --help` exited {proc.returncode}: "
            f"{last[-1] if last else ''}"
        )
    return Herit(None, None, reason="; ".join(reasons) or "no herit command found")


@dataclass
class Size:
    """One benchmark shape."""

    n: int
    m: int

    @property
    def tag(self) -> str:
        """Directory-friendly name."""
        return f"n{self.n}_m{self.m}"

    @property
    def work(self) -> float:
        """Flops under the n² · M convention."""
        return float(self.n) * self.n * self.m


def parse_sizes(text: str) -> list[Size]:
    """Parse ``"2000x50000,5123x319147"``."""
    sizes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        m = re.fullmatch(r"(\d+)[xX×](\d+)", item.replace("_", ""))
        if not m:
            raise argparse.ArgumentTypeError(f"bad size {item!r}; expected NxM, e.g. 2000x50000")
        sizes.append(Size(int(m.group(1)), int(m.group(2))))
    return sizes


def dataset_prefix(args: argparse.Namespace, size: Size) -> Path:
    """Cache prefix of the synthetic fileset for ``size``."""
    miss = f"{args.missing:g}".replace(".", "p")  # no dots: PLINK prefixes stay plain
    return args.workdir / "data" / f"synth_{size.tag}_seed{args.seed}_miss{miss}"


def ensure_dataset(args: argparse.Namespace, size: Size) -> Path:
    """Write the synthetic fileset unless an identical complete one is cached."""
    prefix = dataset_prefix(args, size)
    params = {"n_samples": size.n, "n_snps": size.m, "seed": args.seed, "missing": args.missing}
    if synth_bed.is_complete(prefix, **params):
        log(f"dataset {prefix} (cached)")
        return prefix
    mb = synth_bed.bed_size(size.n, size.m) / 1e6
    log(f"writing dataset {prefix} ({mb:,.0f} MB .bed) ...")
    meta = synth_bed.write_bfile(
        prefix, size.n, size.m, seed=args.seed, missing=args.missing, progress=True
    )
    log(f"  written in {meta['seconds']:.1f} s")
    return prefix


def warm_cache(prefix: Path) -> None:
    """Read the ``.bed`` once so every tool sees it in the page cache."""
    with open(prefix.with_name(prefix.name + ".bed"), "rb") as fh:
        while fh.read(1 << 24):
            pass


def tool_commands(
    args: argparse.Namespace, size: Size, bfile: Path, out_dir: Path, herit: Herit
) -> dict[str, tuple[list[str] | None, dict | None, str]]:
    """Command, environment and skip reason for each requested tool."""
    t = str(args.threads)
    cmds: dict[str, tuple[list[str] | None, dict | None, str]] = {}
    for tool in args.tools:
        if tool == "plink2":
            exe = shutil.which(args.plink2)
            cmd = [exe or args.plink2, "--bfile", str(bfile), "--make-rel", "square", "bin4",
                   "--threads", t, "--out", str(out_dir / "plink2")]  # fmt: skip
            cmds[tool] = (cmd, None, "" if exe else f"{args.plink2} not on PATH")
        elif tool == "plink1.9":
            exe = shutil.which(args.plink19)
            cmd = [exe or args.plink19, "--bfile", str(bfile), "--make-grm-bin",
                   "--threads", t, "--out", str(out_dir / "plink19")]  # fmt: skip
            cmds[tool] = (cmd, None, "" if exe else f"{args.plink19} not on PATH")
        elif tool in ("herit", "herit-f64"):
            out = out_dir / ("herit_f64" if tool == "herit-f64" else "herit_f32")
            if herit.prefix is None:
                cmds[tool] = (None, None, f"herit not runnable: {herit.reason}")
                continue
            cmd = [*herit.prefix, "make-grm", "--bfile", str(bfile), "--out", str(out),
                   "--threads", t]  # fmt: skip
            reason = ""
            if tool == "herit-f64":
                cmd += ["--dtype", "float64"]
                if not herit.has_dtype:
                    reason = "herit make-grm --help does not mention --dtype"
            cmds[tool] = (cmd, herit.env, reason)
        elif tool == "syrk":
            cmd = [sys.executable, str(BENCH_DIR / "syrk_throughput.py"), "--json",
                   "--n", str(size.n), "--m", str(size.m), "--block", str(args.block),
                   "--dtypes", "float32,float64", "--threads", t]  # fmt: skip
            cmds[tool] = (cmd, None, "")
    return cmds


def output_files(out_dir: Path) -> dict[str, Path]:
    """Where each tool writes its matrix."""
    return {
        "plink2": out_dir / "plink2.rel.bin",
        "plink1.9": out_dir / "plink19.grm.bin",
        "herit": out_dir / "herit_f32.h5",
        "herit-f64": out_dir / "herit_f64.h5",
    }


def clear_outputs(out_dir: Path, files: dict[str, Path], tools: list[str]) -> None:
    """Delete the matrices (and PLINK side files) that ``tools`` write in ``out_dir``."""
    for tool in tools:
        if tool in files:
            stem = files[tool].name.split(".")[0]
            for p in out_dir.glob(stem + ".*"):
                p.unlink()


# --------------------------------------------------------------------------- checks


def plink19_rows(path: Path, n: int):
    """Yield ``(i, row)`` with ``row`` = lower-triangle entries ``A[i, :i+1]`` of a .grm.bin."""
    tri = np.memmap(path, dtype=np.float32, mode="r", shape=(n * (n + 1) // 2,))
    for i in range(n):
        start = i * (i + 1) // 2
        yield i, np.asarray(tri[start : start + i + 1], dtype=np.float64)


def load_square(tool: str, path: Path, n: int) -> tuple[np.ndarray | None, str]:
    """Load an n x n matrix written by ``tool``; returns (matrix, problem)."""
    if not path.is_file():
        return None, f"{path.name} not written"
    if tool == "plink2":
        if path.stat().st_size != 4 * n * n:
            return None, f"{path.name} has {path.stat().st_size} bytes, expected {4 * n * n}"
        return np.fromfile(path, dtype=np.float32).reshape(n, n).astype(np.float64), ""
    try:
        import h5py
    except ImportError:
        return None, "h5py not importable"
    with h5py.File(path, "r") as h5:
        if "grm/values" not in h5:
            return None, f"{path.name} has no dataset grm/values"
        ds = h5["grm/values"]
        if ds.shape != (n, n):
            return None, f"grm/values has shape {ds.shape}, expected ({n}, {n})"
        return np.asarray(ds[...], dtype=np.float64), ""


def herit_sample_order(path: Path, fam_path: Path) -> str:
    """Compare herit's ``samples/iid`` (if stored) with the ``.fam`` order."""
    try:
        import h5py

        with h5py.File(path, "r") as h5:
            if "samples/iid" not in h5:
                return "no samples/iid"
            iid = [x.decode() if isinstance(x, bytes) else str(x) for x in h5["samples/iid"][...]]
    except (ImportError, OSError) as exc:
        return f"unreadable ({exc})"
    fam = [line.split()[1] for line in fam_path.read_text().splitlines() if line.strip()]
    return "same as .fam" if iid == fam else "DIFFERS from .fam"


def compare(reference: str, ref_path: Path, other: np.ndarray, n: int) -> tuple[float, float]:
    """Max |difference| off and on the diagonal between a reference and a full matrix."""
    off = diag = 0.0
    if reference == "plink1.9":
        for i, row in plink19_rows(ref_path, n):
            d = np.abs(other[i, : i + 1] - row)
            diag = max(diag, float(d[i]))
            if i:
                off = max(off, float(d[:i].max()))
        return off, diag
    ref = np.fromfile(ref_path, dtype=np.float32).reshape(n, n).astype(np.float64)
    d = np.abs(other - ref)
    np.fill_diagonal(d, 0.0)
    off = float(d.max()) if n > 1 else 0.0
    return off, float(np.abs(np.diag(other) - np.diag(ref)).max())


def agreement(
    ran: list[str], size: Size, out_dir: Path, bfile: Path, args: argparse.Namespace
) -> list[dict]:
    """Compare the matrices of the tools in ``ran`` (whose last run succeeded) with PLINK's.

    PLINK 1.9's ``.grm.bin`` is the reference, PLINK 2's ``.rel.bin`` if 1.9 did not run.
    """
    files = output_files(out_dir)
    reference = next((t for t in ("plink1.9", "plink2") if t in ran and files[t].is_file()), None)
    rows: list[dict] = []
    if reference is None:
        return [{"what": "no PLINK output to compare with", "problem": "skipped"}]
    for tool in ("plink2", "herit", "herit-f64"):
        if tool == reference or tool not in ran:
            continue
        mat, problem = load_square(tool, files[tool], size.n)
        row = {"what": f"{tool} vs {reference}", "problem": problem}
        if mat is not None:
            row["off"], row["diag"] = compare(reference, files[reference], mat, size.n)
            row["asym"] = float(np.abs(mat - mat.T).max())
            tol = args.tol_f64 if tool == "herit-f64" else args.tol_f32
            row["tol"] = tol
            row["pass"] = max(row["off"], row["diag"]) <= tol
            if tool.startswith("herit"):
                row["samples"] = herit_sample_order(
                    files[tool], bfile.with_name(bfile.name + ".fam")
                )
                if reference == "plink1.9":
                    row["npairs"] = npairs_diff(files[tool], out_dir / "plink19.grm.N.bin", size.n)
        rows.append(row)
        del mat
    if not rows:
        rows.append({"what": f"only {reference} ran; nothing to compare", "problem": "–"})
    return rows


def npairs_diff(h5_path: Path, n_path: Path, n: int) -> str:
    """Max |herit ``grm/n_pairs`` − PLINK 1.9 ``.grm.N.bin``| (SNPs typed in both samples)."""
    try:
        import h5py

        with h5py.File(h5_path, "r") as h5:
            if "grm/n_pairs" not in h5:
                return "not stored"
            pairs = np.asarray(h5["grm/n_pairs"][...], dtype=np.float64)
    except (ImportError, OSError) as exc:
        return f"unreadable ({exc})"
    if not n_path.is_file() or pairs.shape != (n, n):
        return "n/a"
    worst = max(float(np.abs(pairs[i, : i + 1] - row).max()) for i, row in plink19_rows(n_path, n))
    return f"{worst:g}"


# --------------------------------------------------------------------------- report


def fmt_s(x: float | None) -> str:
    """Seconds with sensible precision."""
    if x is None:
        return "–"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_mib(x: float | None) -> str:
    """Bytes as MiB."""
    return "–" if x is None else f"{x / MIB:,.0f}"


def summarise(tr: ToolRuns, size: Size, syrk: dict) -> dict:
    """Best/median wall, peak RSS, CPU use and GFLOP/s of one tool at one size."""
    ok = tr.ok()
    if not ok:
        return {}
    walls = [r.wall for r in ok]
    best = min(ok, key=lambda r: r.wall)
    rss = [r.maxrss for r in ok if r.maxrss is not None]
    eff = size.work / best.wall / 1e9
    return {
        "best": best.wall,
        "median": statistics.median(walls),
        "rss": max(rss) if rss else None,
        "cpu_pct": 100 * best.cpu / best.wall if best.cpu is not None else None,
        "gflops": eff,
        "frac_f32": eff / syrk["float32"] if syrk.get("float32") else None,
        "frac_f64": eff / syrk["float64"] if syrk.get("float64") else None,
    }


def verdict(ok: bool | None) -> str:
    """PASS/FAIL/n/a marker."""
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def size_report(
    args: argparse.Namespace,
    size: Size,
    repeat: int,
    results: dict[str, ToolRuns],
    syrk_runs: list[dict],
    checks: list[dict],
    load: tuple[str, str],
) -> str:
    """Markdown section for one size."""
    syrk_best: dict[str, float] = {}
    syrk_all: dict[str, list[float]] = {}
    for r in syrk_runs:
        syrk_all.setdefault(r["dtype"], []).append(r["seconds"])
    for dtype, secs in syrk_all.items():
        syrk_best[dtype] = size.work / min(secs) / 1e9
    lines = [
        f"### n = {size.n:,} samples × M = {size.m:,} SNPs",
        "",
        f"missing {args.missing:g} per genotype, seed {args.seed}, threads {args.threads}, "
        f"repeat {repeat}; load average before {load[0]}, after {load[1]}; "
        f"flops = n²·M = {size.work / 1e9:,.1f} GFLOP",
        "",
        "| run | best wall s | median wall s | peak RSS MiB | CPU % | GFLOP/s (n²M/wall) "
        "| % of f32 syrk | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    summ: dict[str, dict] = {}
    for tool, tr in results.items():
        if tool == "syrk":
            continue
        if tr.skipped:
            lines.append(f"| {tr.label} | – | – | – | – | – | – | skipped: {tr.skipped} |")
            continue
        s = summarise(tr, size, syrk_best)
        summ[tool] = s
        failed = [r for r in tr.runs if r.rc != 0]
        status = "ok" if not failed else f"{len(failed)}/{len(tr.runs)} failed (rc {failed[0].rc})"
        if not s:
            lines.append(f"| {tr.label} | – | – | – | – | – | – | {status} |")
            continue
        frac = f"{100 * s['frac_f32']:.0f} %" if s["frac_f32"] is not None else "–"
        cpu = f"{s['cpu_pct']:.0f}" if s["cpu_pct"] is not None else "–"
        lines.append(
            f"| {tr.label} | {fmt_s(s['best'])} | {fmt_s(s['median'])} | {fmt_mib(s['rss'])} "
            f"| {cpu} | {s['gflops']:.1f} | {frac} | {status} |"
        )
    for dtype, secs in syrk_all.items():
        routine = "ssyrk" if dtype == "float32" else "dsyrk"
        frac = (
            f"{100 * syrk_best[dtype] / syrk_best['float32']:.0f} %"
            if "float32" in syrk_best
            else "–"
        )
        lines.append(
            f"| syrk {dtype} (scipy {routine}, block {args.block}) | {fmt_s(min(secs))} "
            f"| {fmt_s(statistics.median(secs))} | – | – | {syrk_best[dtype]:.1f} | {frac} | ok |"
        )
    if "syrk" in results and results["syrk"].skipped:
        lines.append(f"| syrk | – | – | – | – | – | – | skipped: {results['syrk'].skipped} |")
    elif "syrk" in results and not syrk_all:
        lines.append("| syrk | – | – | – | – | – | – | failed (see below) |")
    if syrk_runs:
        lib = syrk_runs[0].get("blas") or {}
        lines += [
            "",
            f"syrk BLAS: {lib.get('prefix')} {lib.get('version')} core {lib.get('architecture')},"
            f" {syrk_runs[0].get('threads')} threads",
        ]

    # targets
    h, p2, p19 = summ.get("herit") or {}, summ.get("plink2") or {}, summ.get("plink1.9") or {}
    lines += ["", "| target (herit float32) | value | goal | result |", "|---|---:|---:|---|"]
    if h and p2:
        r = h["best"] / p2["best"]
        lines.append(
            f"| wall herit / plink2 | {r:.2f} | ≤ {TARGET_VS_PLINK2:g} "
            f"| {verdict(r <= TARGET_VS_PLINK2)} |"
        )
    else:
        lines.append("| wall herit / plink2 | – | ≤ 1 | n/a |")
    if h and p19:
        r = h["best"] / p19["best"]
        lines.append(
            f"| wall herit / plink1.9 | {r:.2f} | ≤ {TARGET_VS_PLINK19:g} "
            f"| {verdict(r <= TARGET_VS_PLINK19)} |"
        )
    else:
        lines.append("| wall herit / plink1.9 | – | ≤ 0.5 | n/a |")
    if h and h.get("frac_f32") is not None:
        f = h["frac_f32"]
        lines.append(
            f"| herit GFLOP/s / f32 syrk GFLOP/s | {100 * f:.0f} % "
            f"| ≥ {100 * TARGET_SYRK_FRACTION:.0f} % "
            f"| {verdict(f >= TARGET_SYRK_FRACTION)} |"
        )
    else:
        lines.append("| herit GFLOP/s / f32 syrk GFLOP/s | – | ≥ 60 % | n/a |")
    budget = memory_target(size.n)
    if h and h.get("rss") is not None:
        lines.append(
            f"| herit peak RSS (MiB) | {h['rss'] / MIB:,.0f} "
            f"| < {budget / MIB:,.0f} | {verdict(h['rss'] < budget)} |"
        )
    else:
        lines.append(f"| herit peak RSS (MiB) | – | < {budget / MIB:,.0f} | n/a |")
    h64 = summ.get("herit-f64") or {}
    if h64:
        extra = []
        if p2:
            extra.append(f"herit-f64 / plink2 = {h64['best'] / p2['best']:.2f}")
        if p19:
            extra.append(f"herit-f64 / plink1.9 = {h64['best'] / p19['best']:.2f}")
        if h64.get("frac_f64") is not None:
            extra.append(f"herit-f64 = {100 * h64['frac_f64']:.0f} % of f64 syrk")
        if h64.get("rss") is not None:
            extra.append(f"herit-f64 peak RSS {h64['rss'] / MIB:,.0f} MiB")
        lines += ["", "float64: " + "; ".join(extra) + " (informational)."]

    # agreement
    lines += [
        "",
        "| agreement | max abs diff off-diagonal | max abs diff diagonal | asymmetry "
        "| tolerance | sample order | N_jk max diff | result |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for c in checks:
        if "off" not in c:
            lines.append(f"| {c['what']} | – | – | – | – | – | – | {c.get('problem', '')} |")
            continue
        lines.append(
            f"| {c['what']} | {c['off']:.2e} | {c['diag']:.2e} | {c['asym']:.1e} "
            f"| {c['tol']:.0e} | {c.get('samples', '–')} | {c.get('npairs', '–')} "
            f"| {verdict(c['pass'])} |"
        )
    failures = [(tr.label, r) for tr in results.values() for r in tr.runs if r.rc != 0]
    if failures:
        lines += ["", "Failures:"]
        seen = set()
        for label, r in failures:
            if label in seen:
                continue
            seen.add(label)
            lines.append(f"- {label}: exit {r.rc} {r.note}".rstrip())
    return "\n".join(lines)


def machine_info(herit: Herit, args: argparse.Namespace) -> list[str]:
    """Markdown bullet lines describing the machine, BLAS and tool versions."""
    import scipy  # scipy's BLAS is already loaded through syrk_throughput

    cpu = syrk_throughput.cpu_info()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    blas = "; ".join(
        f"{lib['prefix']} {lib['version']} core {lib['architecture']}"
        f" ({'scipy' if 'scipy' in (lib['filepath'] or '') else 'numpy'})"
        for lib in syrk_throughput.blas_libraries()
    )
    herit_desc = (
        f"`{' '.join(Path(part).name for part in herit.prefix)}` {herit.version}".strip()
        if herit.prefix
        else herit.reason
        if herit.reason.startswith("not requested")
        else f"not runnable ({herit.reason})"
    )
    return [
        f"- CPU: {cpu['model']}; {cpu['logical_cpus']} logical CPUs ({cpu['usable_cpus']} usable);"
        f" SIMD {' '.join(cpu['simd'])}; {mem}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()},"
        f" numpy {np.__version__}, scipy {scipy.__version__}",
        f"- BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}",
        f"- plink2: {first_line([args.plink2, '--version']) or 'n/a'}; plink1.9: "
        f"{first_line([args.plink19, '--version']) or 'n/a'}; their BLAS (libblas.so.3): "
        f"{system_blas()}",
        f"- herit: {herit_desc}",
        f"- memory measured with: {'GNU time -v' if gnu_time() else 'getrusage wrapper'};"
        " wall from the parent's monotonic clock; page cache warm",
    ]


def log(msg: str) -> None:
    """Progress message on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    """1/5/15-minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- main


def bench_size(args: argparse.Namespace, size: Size, herit: Herit) -> str:
    """Generate, time and check one size; return its Markdown section."""
    bfile = ensure_dataset(args, size)
    warm_cache(bfile)
    out_dir = args.workdir / "runs" / size.tag
    out_dir.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat or (3 if size.work <= SMALL_WORK else 1)
    cmds = tool_commands(args, size, bfile, out_dir, herit)
    labels = {
        "plink2": "plink2 --make-rel square bin4",
        "plink1.9": "plink1.9 --make-grm-bin",
        "herit": "herit make-grm (float32)",
        "herit-f64": "herit make-grm --dtype float64",
        "syrk": "syrk",
    }
    results = {
        t: ToolRuns(labels[t], shlex.join(c) if c else "", skipped=why)
        for t, (c, _, why) in cmds.items()
    }
    for tool, tr in results.items():
        if tr.skipped:
            log(f"{size.tag}: skipping {tool}: {tr.skipped}")
    files = output_files(out_dir)
    clear_outputs(out_dir, files, list(files))
    syrk_runs: list[dict] = []
    load_before = loadavg()
    for rep in range(repeat):
        for tool, (cmd, env, why) in cmds.items():
            if why or cmd is None:
                continue
            clear_outputs(out_dir, files, [tool])  # never check a stale matrix
            log(f"{size.tag} rep {rep + 1}/{repeat}: {tool} ...")
            res = run_measured(cmd, out_dir / f"{tool}.log", env=env, timeout=args.timeout)
            results[tool].runs.append(res)
            if res.rc != 0:
                log(
                    f"  {tool} FAILED (exit {res.rc}) {res.note}\n"
                    + tail(out_dir / f"{tool}.log.stderr")
                )
                continue
            if tool == "syrk":
                text = (out_dir / "syrk.log.stdout").read_text()
                got = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
                syrk_runs.extend(got)
                log("  " + ", ".join(f"{g['dtype']} {g['gflops']:.1f} GFLOP/s" for g in got))
            else:
                rss = f"{res.maxrss / MIB:,.0f} MiB" if res.maxrss else "?"
                log(f"  {res.wall:.2f} s, peak RSS {rss}")
    load_after = loadavg()
    ran = [t for t, tr in results.items() if tr.runs and tr.runs[-1].rc == 0]
    checks = [] if args.no_check else agreement(ran, size, out_dir, bfile, args)
    return size_report(args, size, repeat, results, syrk_runs, checks, (load_before, load_after))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated NxM sizes")
    ap.add_argument("--quick", action="store_true", help=f"smoke test at {QUICK_SIZES}")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help=f"subset of {','.join(ALL_TOOLS)}")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timings per tool (default: 3 if n²M ≤ 2000²·50000, else 1)",
    )
    ap.add_argument("--threads", type=int, default=2, help="--threads for every tool")
    ap.add_argument("--seed", type=int, default=1, help="synthetic data seed")
    ap.add_argument("--missing", type=float, default=0.001, help="per-genotype missing rate")
    ap.add_argument(
        "--block",
        type=int,
        default=syrk_throughput.DEFAULT_BLOCK,
        help="SNPs per syrk call in the syrk reference",
    )
    ap.add_argument("--workdir", type=Path, default=BENCH_DIR / "scratch", help="scratch directory")
    ap.add_argument(
        "--herit-cmd", default=None, help="command prefix for herit, e.g. 'python -m heritcli'"
    )
    ap.add_argument("--plink2", default="plink2", help="plink2 executable")
    ap.add_argument("--plink19", default="plink1.9", help="plink 1.9 executable")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds allowed per run")
    ap.add_argument(
        "--tol-f32",
        type=float,
        default=1e-4,
        help="max abs difference allowed for herit float32 (and plink2)",
    )
    ap.add_argument(
        "--tol-f64",
        type=float,
        default=1e-6,
        help="max abs difference allowed for herit --dtype float64",
    )
    ap.add_argument(
        "--measure",
        choices=("auto", "time", "rusage"),
        default="auto",
        help="peak-RSS source: GNU /usr/bin/time -v, or getrusage(RUSAGE_CHILDREN) in a wrapper",
    )
    ap.add_argument("--no-check", action="store_true", help="skip the agreement check")
    ap.add_argument("--generate-only", action="store_true", help="only write the datasets")
    ap.add_argument(
        "--results",
        type=Path,
        default=BENCH_DIR / "RESULTS.md",
        help="Markdown file the report is appended to",
    )
    ap.add_argument("--no-append", action="store_true", help="print only; leave RESULTS.md")
    ap.add_argument(
        "--preliminary",
        action="store_true",
        help="label the appended section PRELIMINARY (noisy machine)",
    )
    ap.add_argument("--note", default="", help="free text added to the report header")
    args = ap.parse_args(argv)
    args.sizes = parse_sizes(QUICK_SIZES if args.quick else args.sizes)
    args.tools = [t for t in args.tools.split(",") if t]
    unknown = set(args.tools) - set(ALL_TOOLS)
    if unknown:
        ap.error(f"unknown tools {sorted(unknown)}; choose from {ALL_TOOLS}")
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print / append the report."""
    global MEASURE
    args = parse_args(argv)
    MEASURE = args.measure
    if MEASURE == "time" and gnu_time() is None:
        log("GNU time not found (apt-get install time); using the getrusage wrapper")
    command = shlex.join(["python", *(sys.argv if argv is None else ["bench_make_grm.py", *argv])])
    if args.generate_only:
        for size in args.sizes:
            ensure_dataset(args, size)
        return 0
    herit = (
        find_herit(args.herit_cmd)
        if {"herit", "herit-f64"} & set(args.tools)
        else Herit(None, None, "not requested (--tools)")
    )
    if herit.prefix is None and {"herit", "herit-f64"} & set(args.tools):
        log(f"herit will be SKIPPED: {herit.reason}")
    peers = {"plink2", "plink1.9"} & set(args.tools)
    if peers and "/blas/libblas.so" in system_blas():
        log(
            "warning: libblas.so.3 is the reference BLAS: plink runs an order of magnitude slower"
            " than with OpenBLAS (apt-get install libopenblas0-pthread; see bench/README.md)"
        )
    if load := loadavg():
        if float(load.split()[0]) > 0.5:
            log(f"warning: load average {load} — other work on the machine will distort timings")
    started = dt.datetime.now(dt.timezone.utc)
    sections = [bench_size(args, size, herit) for size in args.sizes]
    title = f"## {started:%Y-%m-%d %H:%M} UTC"
    if args.preliminary:
        title += " — PRELIMINARY (noisy shared machine; not for comparison)"
    header = [
        title,
        "",
        f"Command: `{command}` (from the repository root)",
        "",
        *machine_info(herit, args),
    ]
    if args.note:
        header += [f"- note: {args.note}"]
    report = "\n".join(header) + "\n\n" + "\n\n".join(sections) + "\n"
    print(report)
    if not args.no_append:
        new = not args.results.exists()
        with open(args.results, "a", encoding="utf-8") as fh:
            if new:
                fh.write(
                    "# herit make-grm benchmark results\n\n"
                    "Appended by `bench/bench_make_grm.py`; see bench/README.md.\n\n"
                )
            fh.write(report + "\n")
        log(f"appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
