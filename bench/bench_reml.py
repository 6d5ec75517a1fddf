"""Benchmark ``herit eigen`` and ``herit reml`` against LAPACK, GEMMA and BOLT-REML.

On one synthetic PLINK fileset (``synth_bed.py``; default 5,123 samples × 50,000 SNPs, which gives
an n × n GRM as valid for timing the decomposition and the fits as any other M) this script

1. builds the GRM once with ``herit make-grm`` (not timed) and simulates phenotypes from the
   standardized genotypes of the SNPs that GRM used: trait 1 with h² = 0.5, traits 2–100 with h²
   from 0.1 to 0.9 (seeded; y = Zβ/√M·√h² + √(1 − h²)·e);
2. times, each in a fresh process and round-robin, ``--repeat`` times:

   - ``scipy.linalg.eigh`` of the same matrix (float64, default driver, the time of the call
     alone, in a child process that loaded the matrix first);
   - ``herit eigen --grm G.h5`` (wall time of the whole process: start-up, reading the GRM, the
     decomposition, writing ``G.eigen.h5``);
   - ``herit reml --grm G.h5 --pheno one.txt`` with the decomposition cached (one phenotype);
   - ``herit reml --grm G.h5 --pheno hundred.txt --all-pheno`` (100 phenotypes);
   - ``gemma -bfile ONE_SNP -k K.txt -lmm 1 -n 1`` (GEMMA 0.98.5; the null-model REML is what it
     prints as "REMLE"; a one-SNP fileset keeps the association part negligible, and the kinship
     is the herit GRM written as text);
   - ``bolt --bfile P --phenoFile hundred.txt --phenoCol y1 --reml`` (BOLT-REML, which works from
     the genotypes with its own Monte-Carlo REML; ``--peer-repeat`` times, default 1);

3. checks that the estimates agree: herit's V(G)/Vp against GEMMA's λ/(1 + λ), λ = vg/ve (the
   same model and matrix: GEMMA centres K, to which REML with an intercept is invariant), and
   against BOLT's h2g within its standard error; and herit's 100-trait run against its one-trait
   run for trait 1;
4. prints a Markdown report (machine, BLAS, load averages, command line, the table) and appends
   it to ``bench/RESULTS.md`` unless ``--no-append``.

Targets: ``herit eigen`` within 1.1× of plain eigh; ``herit reml`` under
1 s of wall time for one phenotype and under 5 s for 100 phenotypes at n = 5,123.

Scratch files go to ``bench/scratch/`` (git-ignored). Run from the repository root::

    python bench/bench_reml.py                   # n = 5,123, M = 50,000
    python bench/bench_reml.py --m 319147        # the make-grm benchmark's fileset
    python bench/bench_reml.py --n 500 --m 5000 --no-append   # a quick smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import synth_bed  # noqa: E402  (sibling script)
import syrk_throughput  # noqa: E402  (sibling script: CPU and BLAS description)

N_TRAITS = 100
TARGET_EIGEN_RATIO = 1.1
TARGET_REML_ONE = 1.0
TARGET_REML_MANY = 5.0
GEMMA_VERSION = r"GEMMA \S+ \([^)]*\)"
BOLT_VERSION = r"BOLT-LMM, v\S+"

#: Child process that times scipy.linalg.eigh alone on the GRM stored in an herit artifact.
EIGH_CHILD = r"""
import json, sys, time
import h5py, numpy as np, scipy.linalg
from threadpoolctl import threadpool_limits
with h5py.File(sys.argv[1], "r") as handle:
    matrix = handle["grm/values"][()].astype(np.float64)
with threadpool_limits(int(sys.argv[2])):
    started = time.perf_counter()
    values, vectors = scipy.linalg.eigh(matrix, check_finite=False)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "min": float(values[0]), "max": float(values[-1])}))
"""


@dataclass
class Timing:
    """Wall times of one timed step over its repetitions."""

    label: str
    command: list[str]
    walls: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: 1-minute load average when each run started.
    loads: list[str] = field(default_factory=list)

    @property
    def best(self) -> float | None:
        return min(self.walls) if self.walls else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench-reml {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def herit_prefix() -> tuple[list[str], dict[str, str] | None]:
    """How to start herit: the installed script (behind a pyenv shim, the real one) or -m."""
    exe = shutil.which("herit")
    if exe and "/shims/" in exe and shutil.which("pyenv"):
        real = subprocess.run(
            ["pyenv", "which", "herit"], capture_output=True, text=True, check=False
        ).stdout.strip()
        exe = real if real and os.access(real, os.X_OK) else None
    if exe:
        return [exe], None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return [sys.executable, "-m", "heritcli"], env


def display_command(command: list[str]) -> list[str]:
    """The command as a reader would type it: executables by name, not by installed path."""
    return [Path(command[0]).name, *command[1:]] if command else command


def first_line(command: list[str]) -> str:
    """First non-empty output line of a command (for versions), or ''."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip().strip("#").strip():
            return line.strip()
    return ""


def run_timed(
    command: list[str], log_path: Path, env: dict[str, str] | None = None, timeout: float = 7200
) -> tuple[float, int]:
    """Run a command in a fresh process; return (wall seconds, exit code)."""
    with (
        open(log_path.with_name(log_path.name + ".stdout"), "wb") as out,
        open(log_path.with_name(log_path.name + ".stderr"), "wb") as err,
    ):
        started = time.perf_counter()
        try:
            code = subprocess.run(
                command, stdout=out, stderr=err, env=env, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = -9
        return time.perf_counter() - started, code


def run_checked(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run an untimed preparation step; stop with its output if it fails."""
    log("  $ " + shlex.join(command))
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {shlex.join(command)}\n{proc.stderr[-2000:]}")


# ------------------------------------------------------------------------------ preparation


def ensure_dataset(args: argparse.Namespace) -> Path:
    """The synthetic fileset (shared with the make-grm benchmark's naming and cache)."""
    miss = f"{args.missing:g}".replace(".", "p")
    prefix = args.workdir / "data" / f"synth_n{args.n}_m{args.m}_seed{args.seed}_miss{miss}"
    params = {"n_samples": args.n, "n_snps": args.m, "seed": args.seed, "missing": args.missing}
    if synth_bed.is_complete(prefix, **params):
        log(f"dataset {prefix} (cached)")
        return prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    log(f"writing dataset {prefix} ...")
    synth_bed.write_bfile(prefix, args.n, args.m, seed=args.seed, missing=args.missing)
    return prefix


def simulate_phenotypes(bfile: Path, grm: Path, seed: int) -> tuple[list[str], list[str], dict]:
    """Traits from the standardized genotypes of the SNPs the GRM used; returns IDs and traits."""
    import h5py

    from heritcli.core.standardize import standardize
    from heritcli.io.plink import open_bfile

    with h5py.File(grm, "r") as handle:
        used = np.flatnonzero(handle["snps/used"][()])
        freq = handle["snps/freq"][()]
    fileset = open_bfile(bfile)
    n, m = fileset.n_samples, used.size
    rng = np.random.default_rng(seed)
    genetic = np.zeros((n, N_TRAITS))
    for start in range(0, m, 4096):
        block = used[start : start + 4096]
        z = standardize(fileset.read_snps(block), freq[block])  # (b, n) float32
        beta = rng.standard_normal((block.size, N_TRAITS), dtype=np.float32)
        genetic += (z.T @ beta).astype(np.float64)
    genetic /= math.sqrt(m)
    h2 = true_h2()
    traits = genetic * np.sqrt(h2) + rng.standard_normal((n, N_TRAITS)) * np.sqrt(1.0 - h2)
    return fileset.fam.fid.tolist(), fileset.fam.iid.tolist(), {"h2": h2, "y": traits}


def true_h2() -> np.ndarray:
    """The simulated h² of the traits: 0.5 for trait 1, then 0.1 to 0.9."""
    return np.concatenate([[0.5], np.linspace(0.1, 0.9, N_TRAITS - 1)])


def write_inputs(work: Path, bfile: Path, grm: Path, seed: int) -> dict[str, Path]:
    """Phenotype files, a one-SNP fileset and the kinship text for GEMMA (cached in ``work``)."""
    import h5py

    paths = {
        "one": work / "pheno_one.txt",
        "hundred": work / "pheno_hundred.txt",
        "snp1": work / "one_snp",
        "kinship": work / "kinship.txt",
    }
    stamp = work / "inputs.json"
    wanted = {"grm_mtime": grm.stat().st_mtime, "seed": seed, "n_traits": N_TRAITS}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        log("phenotypes, one-SNP fileset and kinship text (cached)")
        return paths
    log("simulating phenotypes from the genotypes ...")
    fid, iid, sim = simulate_phenotypes(bfile, grm, seed)
    y = sim["y"]
    names = [f"y{k + 1}" for k in range(N_TRAITS)]
    with open(paths["hundred"], "w") as handle:
        handle.write("FID IID " + " ".join(names) + "\n")
        for k, (f, i) in enumerate(zip(fid, iid, strict=True)):
            handle.write(f"{f} {i} " + " ".join(f"{v:.8g}" for v in y[k]) + "\n")
    with open(paths["one"], "w") as handle:
        handle.write("FID IID y1\n")
        for k, (f, i) in enumerate(zip(fid, iid, strict=True)):
            handle.write(f"{f} {i} {y[k, 0]:.8g}\n")
    # One-SNP fileset for GEMMA: the first SNP of the .bed, trait 1 in the .fam.
    n = len(fid)
    width = (n + 3) // 4
    with open(bfile.with_name(bfile.name + ".bed"), "rb") as handle:
        head = handle.read(3 + width)
    paths["snp1"].with_suffix(".bed").write_bytes(head)
    bim_line = bfile.with_name(bfile.name + ".bim").open().readline()
    paths["snp1"].with_suffix(".bim").write_text(bim_line)
    fam_rows = [line.split() for line in bfile.with_name(bfile.name + ".fam").open()]
    with open(paths["snp1"].with_suffix(".fam"), "w") as handle:
        for row, value in zip(fam_rows, y[:, 0], strict=True):
            handle.write(" ".join([*row[:5], f"{value:.8g}"]) + "\n")
    log("writing the GRM as a kinship text file for GEMMA ...")
    with h5py.File(grm, "r") as source, open(paths["kinship"], "w") as handle:
        values = source["grm/values"]
        for start in range(0, values.shape[0], 256):
            block = values[start : start + 256].astype(np.float64)
            handle.write(
                "\n".join(" ".join(f"{v:.9g}" for v in row) for row in block.tolist()) + "\n"
            )
    stamp.write_text(json.dumps(wanted))
    return paths


# ------------------------------------------------------------------------------ parsing


def parse_gemma(log_path: Path) -> dict[str, float]:
    """Null-model estimates from GEMMA's ``.log.txt``."""
    text = log_path.read_text() if log_path.exists() else ""
    keys = {
        "remle": "REMLE log-likelihood",
        "pve": "pve estimate",
        "pve_se": "se(pve)",
        "vg": "vg estimate",
        "ve": "ve estimate",
    }
    found = {}
    for key, label in keys.items():
        # Anchored to the line start: "ve estimate" is also the end of "pve estimate".
        pattern = rf"^## {re.escape(label)} in the null model = (\S+)"
        match = re.search(pattern, text, flags=re.MULTILINE)
        if match:
            found[key] = float(match.group(1))
    if "vg" in found and "ve" in found:
        lam = found["vg"] / found["ve"]
        found["h2"] = lam / (1.0 + lam)
    return found


def parse_bolt(stdout_path: Path) -> dict[str, float]:
    """BOLT-REML's h2g estimate and SE from its standard output."""
    text = stdout_path.read_text(errors="replace") if stdout_path.exists() else ""
    matches = re.findall(r"h2g \(1,1\): ([-\d.eE+]+) \(([-\d.eE+]+)\)", text)
    if not matches:
        return {}
    h2, se = matches[-1]
    return {"h2": float(h2), "se": float(se)}


# ------------------------------------------------------------------------------ report


def fmt(seconds: float | None) -> str:
    return "failed" if seconds is None else f"{seconds:.2f}"


def machine_lines(herit: list[str], threads: int) -> list[str]:
    import scipy

    cpu = syrk_throughput.cpu_info()
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    import scipy.linalg  # loads scipy's BLAS, so that threadpoolctl reports it

    blas = "; ".join(
        f"{lib['internal_api']} {lib['version']} ({lib['architecture']}, "
        f"{'scipy' if 'scipy' in (lib['filepath'] or '') else 'numpy'})"
        for lib in syrk_throughput.blas_libraries()
    )
    return [
        f"- CPU: {cpu['model']}; {cpu['logical_cpus']} logical CPUs "
        f"({cpu['usable_cpus']} usable){memory}; threads used: {threads}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}",
        f"- BLAS (threadpoolctl): {blas}",
        f"- herit: `{shlex.join(display_command(herit))}` "
        f"({first_line([*herit, '--version'])}); "
        f"GEMMA: {version_of(['gemma'], GEMMA_VERSION)}; "
        f"BOLT: {version_of(['bolt', '--help'], BOLT_VERSION)}",
    ]


def version_of(command: list[str], pattern: str) -> str:
    """The first match of ``pattern`` in a command's output, or 'n/a'."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return "n/a"
    match = re.search(pattern, proc.stdout + proc.stderr)
    return match.group(0) if match else "n/a"


def build_report(
    args: argparse.Namespace,
    bfile: Path,
    timings: dict[str, Timing],
    eigh_inner: list[float],
    estimates: dict[str, dict[str, float]],
    loads: tuple[str, str],
    herit: list[str],
    herit_eigen_inner: list[float],
    eigh_loads: list[str],
) -> str:
    t = timings
    eigh_best = min(eigh_inner) if eigh_inner else None
    lines = [
        f"## herit eigen + reml, n = {args.n:,} (M = {args.m:,}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `{shlex.join(['python', f'bench/{Path(__file__).name}', *args.argv])}`",
        "",
        *machine_lines(herit, args.threads),
        f"- Data: `{bfile.name}` (synth_bed.py, seed {args.seed}, {args.missing:g} missing); "
        f"GRM from `herit make-grm` (float32 on disk); 100 phenotypes simulated from the same "
        "standardized genotypes (trait 1: h² = 0.5)",
        f"- Load average (1/5/15 min): before {loads[0]}, after {loads[1]}",
        f"- Repetitions: {args.repeat} (herit, eigh), {args.peer_repeat} (GEMMA, BOLT); "
        "best and median wall time, each run a fresh process, page cache warm",
        "",
        "| step | command | best (s) | median (s) | vs reference | target | 1-min load at start |",
        "|---|---|---:|---:|---:|---|---|",
    ]

    def row(key: str, reference: float | None, target: str) -> None:
        timing = t.get(key)
        if timing is None:
            return
        ratio = ""
        if timing.best is not None and reference:
            ratio = f"{timing.best / reference:.2f}×"
        failures = f" ({'; '.join(timing.failures)})" if timing.failures else ""
        command = shlex.join(display_command(timing.command)).replace(str(REPO_ROOT) + "/", "")
        command = command.replace("|", "\\|")
        lines.append(
            f"| {timing.label}{failures} | `{command}` | {fmt(timing.best)} | "
            f"{fmt(timing.median)} | {ratio} | {target} | {', '.join(timing.loads)} |"
        )

    if eigh_best is not None:
        lines.append(
            f"| scipy.linalg.eigh (call only, float64, default driver) | in a child process | "
            f"{eigh_best:.2f} | {statistics.median(eigh_inner):.2f} | 1.00× | reference | "
            f"{', '.join(eigh_loads)} |"
        )
    eigen_best = t["eigen"].best if "eigen" in t else None
    verdict = ""
    if eigen_best is not None and eigh_best:
        ok = eigen_best <= TARGET_EIGEN_RATIO * eigh_best
        verdict = f"≤ {TARGET_EIGEN_RATIO}× eigh: {'PASS' if ok else 'FAIL'}"
    row("eigen", eigh_best, verdict)
    if herit_eigen_inner and eigh_best:
        lines.append(
            f"| herit eigen, reading the GRM + decomposition (from its log) | | "
            f"{min(herit_eigen_inner):.1f} | {statistics.median(herit_eigen_inner):.1f} | "
            f"{min(herit_eigen_inner) / eigh_best:.2f}× | | |"
        )
    gemma = t.get("gemma")
    bolt = t.get("bolt")
    one = t.get("reml1")
    if one is not None:
        ok = one.best is not None and one.best < TARGET_REML_ONE
        row("reml1", None, f"< {TARGET_REML_ONE:g} s: {'PASS' if ok else 'FAIL'}")
    many = t.get("reml100")
    if many is not None:
        ok = many.best is not None and many.best < TARGET_REML_MANY
        row("reml100", None, f"< {TARGET_REML_MANY:g} s: {'PASS' if ok else 'FAIL'}")
    row("gemma", one.best if one else None, "peer (ratio = GEMMA / herit, 1 trait)")
    row("bolt", one.best if one else None, "peer (ratio = BOLT / herit, 1 trait)")
    lines.append("")
    if one is not None and one.best:
        extras = []
        if gemma is not None and gemma.best:
            many_best = fmt(many.best if many else None)
            extras.append(
                f"GEMMA {gemma.best / one.best:.1f}× herit for one trait; 100 traits would take "
                f"100 GEMMA runs ≈ {100 * gemma.best:.0f} s vs herit's {many_best} s"
            )
        if bolt is not None and bolt.best:
            extras.append(
                f"BOLT-REML {bolt.best / one.best:.1f}× herit for one trait "
                f"(≈ {100 * bolt.best:.0f} s for 100 separate runs)"
            )
        if extras:
            lines += ["Ratios: " + "; ".join(extras) + ".", ""]

    lines += ["Estimates for trait 1 (simulated h² = 0.5):", ""]
    lines += ["| tool | h² | SE | note |", "|---|---:|---:|---|"]
    h = estimates.get("herit", {})
    if h:
        lines.append(
            f"| herit reml | {h['h2']:.5f} | {h['h2_se']:.5f} | V(G)/Vp; logL (GEMMA's convention) "
            f"{h['logl']:.2f} |"
        )
    h100 = estimates.get("herit100", {})
    if h100:
        lines.append(
            f"| herit reml --all-pheno (trait 1) | {h100['h2']:.5f} | {h100['h2_se']:.5f} | "
            f"same fit as above: difference {abs(h100['h2'] - h.get('h2', math.nan)):.1e} |"
        )
    g = estimates.get("gemma", {})
    if g:
        note = f"λ/(1+λ), λ = vg/ve; REMLE {g.get('remle', math.nan):.2f}"
        if h:
            note += f"; difference from herit {abs(g['h2'] - h['h2']):.1e}"
        lines.append(
            f"| GEMMA -lmm 1 (null) | {g['h2']:.5f} | {g.get('pve_se', math.nan):.5f} | "
            f"{note}; its pve {g.get('pve', math.nan):.5f} is h² rescaled by tr(PKP)/n "
            "(the SE column is its se(pve)) |"
        )
    b = estimates.get("bolt", {})
    if b:
        note = "Monte-Carlo REML on the genotypes (its own GRM: mean-imputed missing calls)"
        if h:
            note += f"; (BOLT − herit)/SE = {(b['h2'] - h['h2']) / b['se']:+.2f}"
        lines.append(f"| BOLT-REML | {b['h2']:.5f} | {b['se']:.5f} | {note} |")
    cal = estimates.get("calibration", {})
    if cal:
        lines += [
            "",
            f"All {cal['n']:.0f} traits of the --all-pheno run against their simulated h² "
            f"(0.1–0.9): z = (ĥ² − h²)/SE has mean {cal['mean_z']:+.2f} and SD "
            f"{cal['sd_z']:.2f}; ĥ² ± 1.96·SE covers h² for {cal['cover']:.0%}.",
        ]
    if args.note:
        lines += ["", f"Note: {args.note}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=5123, help="samples (default 5123)")
    ap.add_argument("--m", type=int, default=50_000, help="SNPs (default 50000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic genotypes")
    ap.add_argument("--missing", type=float, default=0.001, help="missing-call rate")
    ap.add_argument("--pheno-seed", type=int, default=7, help="seed of the phenotypes")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads per tool")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of herit and eigh")
    ap.add_argument("--peer-repeat", type=int, default=1, help="repetitions of GEMMA and BOLT")
    ap.add_argument(
        "--tools",
        default="eigh,eigen,reml,gemma,bolt",
        help="any of eigh,eigen,reml,gemma,bolt (default: all)",
    )
    ap.add_argument("--workdir", type=Path, default=BENCH_DIR / "scratch")
    ap.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md")
    ap.add_argument("--no-append", action="store_true", help="print the report only")
    ap.add_argument(
        "--prepare-only",
        action="store_true",
        help="write the dataset, GRM, phenotypes and peers' inputs, then stop",
    )
    ap.add_argument("--note", default="", help="a remark added to the report")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = set(args.tools.split(","))
    herit, env = herit_prefix()
    threads = str(args.threads)
    bfile = ensure_dataset(args)
    work = args.workdir / "reml" / f"n{args.n}_m{args.m}"
    work.mkdir(parents=True, exist_ok=True)
    grm = work / "grm.h5"
    if not grm.exists():
        run_checked(
            [
                *herit,
                "make-grm",
                "--bfile",
                str(bfile),
                "--out",
                str(work / "grm"),
                "--threads",
                threads,
                "-q",
            ],
            env,
        )
    inputs = write_inputs(work, bfile, grm, args.pheno_seed)
    if not (work / "grm.eigen.h5").exists():
        run_checked([*herit, "eigen", "--grm", str(grm), "--threads", threads, "-q"], env)
    if args.prepare_only:
        log(f"inputs ready in {work}")
        return 0
    for path in (grm, work / "grm.eigen.h5", bfile.with_name(bfile.name + ".bed")):
        with open(path, "rb") as handle:  # warm the page cache for every tool alike
            while handle.read(1 << 24):
                pass

    gemma_dir = work / "gemma"
    gemma_dir.mkdir(exist_ok=True)
    steps: dict[str, Timing] = {}
    if "eigen" in tools:
        steps["eigen"] = Timing(
            "herit eigen (whole process)",
            [*herit, "eigen", "--grm", str(grm), "--threads", threads, "-q"],
        )
    if "reml" in tools:
        steps["reml1"] = Timing(
            "herit reml, 1 phenotype, cache in place",
            [
                *herit,
                "reml",
                "--grm",
                str(grm),
                "--pheno",
                str(inputs["one"]),
                "--out",
                str(work / "reml_one"),
                "--threads",
                threads,
                "-q",
            ],
        )
        steps["reml100"] = Timing(
            "herit reml, 100 phenotypes (--all-pheno)",
            [
                *herit,
                "reml",
                "--grm",
                str(grm),
                "--pheno",
                str(inputs["hundred"]),
                "--all-pheno",
                "--out",
                str(work / "reml_hundred"),
                "--threads",
                threads,
                "-q",
            ],
        )
    if "gemma" in tools and shutil.which("gemma"):
        steps["gemma"] = Timing(
            "GEMMA -lmm 1 (null model + 1 SNP)",
            [
                "gemma",
                "-bfile",
                str(inputs["snp1"]),
                "-k",
                str(inputs["kinship"]),
                "-lmm",
                "1",
                "-n",
                "1",
                "-outdir",
                str(gemma_dir),
                "-o",
                "null",
            ],
        )
    if "bolt" in tools and shutil.which("bolt"):
        steps["bolt"] = Timing(
            "BOLT-REML (--reml)",
            [
                "bolt",
                "--bfile",
                str(bfile),
                "--phenoFile",
                str(inputs["hundred"]),
                "--phenoCol",
                "y1",
                "--reml",
                "--numThreads",
                threads,
            ],
        )
    peers = {"gemma", "bolt"}
    load_before = loadavg()
    log(f"load average before timing: {load_before}")
    eigh_inner: list[float] = []
    eigh_loads: list[str] = []
    herit_eigen_inner: list[float] = []
    peer_env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    # herit and eigh first, round-robin, so that their comparison shares one stretch of time;
    # then the peers (BOLT alone takes minutes).
    schedule = [(rep, key) for rep in range(args.repeat) for key in ["eigh", *steps]]
    schedule = [(rep, key) for rep, key in schedule if key not in peers]
    schedule += [(rep, key) for rep in range(args.peer_repeat) for key in steps if key in peers]
    for rep, key in schedule:
        if key == "eigh":
            if "eigh" not in tools:
                continue
            eigh_loads.append(loadavg().split()[0])
            proc = subprocess.run(
                [sys.executable, "-c", EIGH_CHILD, str(grm), threads],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                eigh_inner.append(json.loads(proc.stdout)["seconds"])
                log(f"scipy.linalg.eigh: {eigh_inner[-1]:.2f} s")
            else:
                log(f"eigh child failed: {proc.stderr[-500:]}")
            continue
        step = steps[key]
        step.loads.append(loadavg().split()[0])
        wall, code = run_timed(
            step.command, work / f"{key}.{rep}", env if key not in peers else peer_env
        )
        log(f"{step.label}: {wall:.2f} s (exit {code}, load {step.loads[-1]})")
        if code == 0:
            step.walls.append(wall)
        else:
            step.failures.append(f"exit {code}, see {work.name}/{key}.{rep}.stderr")
        if key == "eigen" and code == 0:
            text = (work / "grm.eigen.log").read_text()
            match = re.search(r"eigendecomposition of \d+ x \d+: ([\d.]+) s", text)
            if match:
                herit_eigen_inner.append(float(match.group(1)))
    load_after = loadavg()

    estimates: dict[str, dict[str, float]] = {}
    for key, name in (("reml1", "reml_one"), ("reml100", "reml_hundred")):
        path = work / f"{name}.json"
        if key in steps and steps[key].walls and path.exists():
            first = json.loads(path.read_text())["phenotypes"][0]
            estimates["herit" if key == "reml1" else "herit100"] = {
                "h2": first["h2"],
                "h2_se": first["h2_se"],
                "logl": first["logl"],
            }
    hundred = work / "reml_hundred.json"
    if "reml100" in steps and steps["reml100"].walls and hundred.exists():
        fits = json.loads(hundred.read_text())["phenotypes"]
        z = np.array([(p["h2"] - h) / p["h2_se"] for p, h in zip(fits, true_h2(), strict=True)])
        estimates["calibration"] = {
            "n": float(z.size),
            "mean_z": float(z.mean()),
            "sd_z": float(z.std(ddof=1)),
            "cover": float(np.mean(np.abs(z) < 1.96)),
        }
    if "gemma" in steps:
        estimates["gemma"] = parse_gemma(gemma_dir / "null.log.txt")
    if "bolt" in steps and steps["bolt"].walls:
        estimates["bolt"] = parse_bolt(work / "bolt.0.stdout")
    estimates = {k: v for k, v in estimates.items() if v}

    report = build_report(
        args,
        bfile,
        steps,
        eigh_inner,
        estimates,
        (load_before, load_after),
        herit,
        herit_eigen_inner,
        eigh_loads,
    )
    print(report)
    if not args.no_append:
        with open(args.results, "a", encoding="utf-8") as handle:
            handle.write("\n" + report)
        log(f"appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
