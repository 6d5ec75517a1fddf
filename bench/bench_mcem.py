#!/usr/bin/env python3
"""Benchmark ``herit mcem`` against the memory-bandwidth bound and GEMMA's BSLMM.

For each dataset (the HS mice of ``example_data/`` and a synthetic n × M fileset written by
``synth_bed.py``) the script

1. simulates sparse traits on the real genotypes (``--traits`` replicates, ``--causal`` causal
   SNPs with standard normal effects, h² = ``--h2``; seeded), and for the mice also takes the
   real CD8 trait;
2. times the compiled Gibbs sweep alone (one chain, after JIT warm-up) at a sparse (π = 0.001)
   and a dense (π = 0.5) parameter, and the plain numpy sweep for comparison;
3. measures the machine's read bandwidth on an int8 array as large as the genotypes
   (a vectorised reduction, best of 5), giving the bound "read the genotypes once per sweep";
4. runs ``herit mcem`` (default options, ``--threads T``) on every trait in a fresh process and
   records the wall time, ĥ² ± SE, π̂·M, R̂ and whether it converged;
5. runs ``gemma -bslmm 1 -w 1000 -s 10000 -seed 1`` on the same genotypes and phenotype and
   records its wall time, the posterior means of pve, π and n_gamma (from ``.hyp.txt``);
6. prints a Markdown report and appends it to ``bench/RESULTS.md`` with the command line.

Examples
--------
::

    python bench/bench_mcem.py                        # mice + 5,123 x 100,000, 3 traits each
    python bench/bench_mcem.py --datasets mice --traits 5
    python bench/bench_mcem.py --quick --no-append    # smoke test on the mice, no GEMMA
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
MICE = ROOT / "example_data" / "example"
MICE_PHENO = ROOT / "example_data" / "example.pheno"


def log(message: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def ensure_synthetic(n: int, m: int, seed: int, workdir: Path) -> Path:
    prefix = workdir / "data" / f"synth_n{n}_m{m}_seed{seed}_miss0p001"
    if not Path(str(prefix) + ".synth.json").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        log(f"writing {prefix} with synth_bed.py")
        subprocess.run(
            [
                sys.executable,
                str(BENCH_DIR / "synth_bed.py"),
                "--n",
                str(n),
                "--m",
                str(m),
                "--seed",
                str(seed),
                "--out",
                str(prefix),
            ],
            check=True,
        )
    return prefix


def load_standardized(prefix: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """int8 counts (SNPs × samples) of the polymorphic SNPs, their frequencies, FID, IID."""
    from heritcli.core.standardize import block_stats
    from heritcli.io.plink import open_bfile

    fileset = open_bfile(prefix)
    blocks = []
    freqs = []
    for start in range(0, fileset.n_snps, 8192):
        counts = fileset.read_counts(start, min(start + 8192, fileset.n_snps))
        stats = block_stats(counts)
        used = stats.maf > 0
        blocks.append(counts[used])
        freqs.append(stats.freq[used])
    return np.concatenate(blocks), np.concatenate(freqs), fileset.fam.fid, fileset.fam.iid


def simulate_traits(
    counts: np.ndarray, freq: np.ndarray, n_traits: int, n_causal: int, h2: float, seed: int
) -> list[dict]:
    """Sparse traits: y = Zb + e with n_causal N(0,1) effects, scaled to h² exactly in-sample."""
    rng = np.random.default_rng(seed)
    traits = []
    for r in range(n_traits):
        causal = np.sort(rng.choice(counts.shape[0], n_causal, replace=False))
        g = counts[causal].astype(np.float64)
        p = freq[causal, None]
        z = np.where(g >= 0, (g - 2 * p) / np.sqrt(2 * p * (1 - p)), 0.0)
        genetic = z.T @ rng.standard_normal(n_causal)
        genetic = (genetic - genetic.mean()) / genetic.std() * math.sqrt(h2)
        noise = rng.standard_normal(genetic.size) * math.sqrt(1 - h2)
        y = genetic + noise
        realised = genetic.var() / (genetic.var() + noise.var())
        traits.append(
            {"name": f"sparse{r + 1}", "y": y, "realised_h2": realised, "n_causal": n_causal}
        )
    return traits


def write_pheno(path: Path, fid: np.ndarray, iid: np.ndarray, y: np.ndarray) -> None:
    with open(path, "w") as handle:
        handle.write("FID IID y\n")
        for f, i, v in zip(fid, iid, y, strict=True):
            handle.write(f"{f} {i} {'NA' if not np.isfinite(v) else f'{v:.8g}'}\n")


def write_gemma_pheno(path: Path, y: np.ndarray) -> None:
    path.write_text("".join(("NA" if not np.isfinite(v) else f"{v:.8g}") + "\n" for v in y))


def read_bandwidth(n_bytes: int, repeats: int = 5) -> float:
    """Bytes per second of a vectorised reduction over an int8 array of ``n_bytes``."""
    size = max(n_bytes // 8 * 8, 8 << 20)
    buffer = np.ones(size, dtype=np.int8)
    words = buffer.view(np.uint64)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.bitwise_xor.reduce(words)
        best = min(best, time.perf_counter() - t0)
    return size / best


def time_sweeps(
    counts: np.ndarray, freq: np.ndarray, y: np.ndarray, engine: str, sweeps: int
) -> dict[str, float]:
    """Seconds per sweep of one chain at a sparse and a dense parameter."""
    from heritcli.core import mcem

    keep = np.isfinite(y)
    data = mcem.prepare_sweep_data(
        np.ascontiguousarray(counts[:, keep]), freq, np.ones((int(keep.sum()), 1))
    )
    yp = y[keep] - y[keep].mean()
    out = {}
    for label, pi in (("sparse", 0.001), ("dense", 0.5)):
        params = mcem.Params(0.5 * yp.var(), pi, 0.5 * yp.var())
        state = mcem.SweepState.empty(data, yp)
        rng = np.random.default_rng(1)
        buf = (np.zeros(data.n_snps), np.zeros(data.n_snps))
        order = np.arange(data.n_snps)
        for _ in range(2):  # warm-up (JIT, equilibrate k)
            mcem.gibbs_sweep(
                data,
                state,
                params,
                mcem.SweepDraws.draw(rng, data.n_snps, order),
                *buf,
                engine=engine,
            )
        t0 = time.perf_counter()
        included = 0.0
        for _ in range(sweeps):
            res = mcem.gibbs_sweep(
                data,
                state,
                params,
                mcem.SweepDraws.draw(rng, data.n_snps, order),
                *buf,
                engine=engine,
            )
            included += res.sampled[1]
        out[label] = (time.perf_counter() - t0) / sweeps
        out[f"{label}_k"] = included / sweeps
    out["bytes"] = float(data.x.nbytes)
    return out


def run_herit(bfile: Path, pheno: Path, out: Path, threads: int, timeout: float) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "heritcli",
        "mcem",
        "--bfile",
        str(bfile),
        "--pheno",
        str(pheno),
        "--out",
        str(out),
        "--threads",
        str(threads),
        "-q",
        "--allow-no-converge",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"], "wall": wall}
    result = json.loads(Path(str(out) + ".mcem.json").read_text())
    result["wall"] = wall
    result["command"] = " ".join(cmd[2:])
    return result


def run_gemma(
    bfile: Path, pheno_file: Path | None, name: str, workdir: Path, timeout: float
) -> dict:
    gemma = shutil.which("gemma")
    if gemma is None:
        return {"error": "gemma not found"}
    cmd = [
        gemma,
        "-bfile",
        str(bfile),
        "-bslmm",
        "1",
        "-w",
        "1000",
        "-s",
        "10000",
        "-seed",
        "1",
        "-o",
        name,
    ]
    if pheno_file is None:
        cmd[3:3] = ["-n", "1"]
    else:
        cmd[3:3] = ["-p", str(pheno_file)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:], "wall": wall}
    hyp = np.genfromtxt(workdir / "output" / f"{name}.hyp.txt", names=True)
    return {
        "wall": wall,
        "pve": float(hyp["pve"].mean()),
        "pve_lo": float(np.quantile(hyp["pve"], 0.025)),
        "pve_hi": float(np.quantile(hyp["pve"], 0.975)),
        "pi": float(hyp["pi"].mean()),
        "n_gamma": float(hyp["n_gamma"].mean()),
        "pge": float(hyp["pge"].mean()),
        "command": " ".join(["gemma", *cmd[1:]]),
    }


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "NA"
    return f"{value:.{digits}f}"


def bench_dataset(label: str, bfile: Path, args: argparse.Namespace) -> list[str]:
    work = args.workdir / "mcem" / label
    work.mkdir(parents=True, exist_ok=True)
    log(f"{label}: loading {bfile}")
    counts, freq, fid, iid = load_standardized(bfile)
    n, m = counts.shape[1], counts.shape[0]
    n_traits = args.traits if label == "mice" else args.synth_traits
    traits = simulate_traits(counts, freq, n_traits, args.causal, args.h2, args.seed)
    if label == "mice":
        from heritcli.io.tables import read_phenotypes

        table = read_phenotypes(MICE_PHENO)
        traits.insert(
            0, {"name": "CD8", "y": table.values[:, 0], "realised_h2": None, "n_causal": None}
        )
    bandwidth = read_bandwidth(counts.nbytes)
    log(f"{label}: read bandwidth {bandwidth / 1e9:.1f} GB/s; timing sweeps")
    sweep = time_sweeps(counts, freq, traits[0]["y"], "numba", args.sweeps)
    sweep_np = time_sweeps(counts, freq, traits[0]["y"], "numpy", 2 if m > 20000 else 3)
    bound = sweep["bytes"] / bandwidth
    lines = [
        f"### {label}: {n:,} samples in the .fam, M = {m:,} polymorphic SNPs",
        "",
        f"Genotypes held as int8: {sweep['bytes'] / 2**20:.1f} MiB. Read bandwidth "
        f"(np.bitwise_xor.reduce over {sweep['bytes'] / 2**20:.0f} MiB, best of 5): "
        f"{bandwidth / 1e9:.1f} GB/s, so reading the genotypes once costs {bound * 1e3:.2f} ms.",
        "",
        "| sweep (one chain, analysed samples of the first trait) | s/sweep | × bound | SNPs in |",
        "|---|---:|---:|---:|",
    ]
    for key in ("sparse", "dense"):
        lines.append(
            f"| numba, π = {'0.001' if key == 'sparse' else '0.5'} | "
            f"{sweep[key]:.4f} | {sweep[key] / bound:.1f} | {sweep[key + '_k']:.0f} |"
        )
        lines.append(
            f"| numpy reference, π = {'0.001' if key == 'sparse' else '0.5'} | "
            f"{sweep_np[key]:.3f} | {sweep_np[key] / bound:.0f} | "
            f"{sweep_np[key + '_k']:.0f} |"
        )
    lines += [
        "",
        "| trait | truth h² (realised) | truth causal | herit wall s (MCEM s) | sweeps | ĥ² ± SE "
        "| π̂·M | R̂ h²/π | conv. | GEMMA wall s | GEMMA pve [95%] | GEMMA π·M | GEMMA n_γ |",
        "|---|---:|---:|---:|---:|---|---:|---|---|---:|---|---:|---:|",
    ]
    for trait in traits:
        name = trait["name"]
        pheno = work / f"{name}.pheno"
        write_pheno(pheno, fid, iid, trait["y"])
        log(f"{label}/{name}: herit mcem")
        h = run_herit(bfile, pheno, work / f"herit_{name}", args.threads, args.timeout)
        if args.no_gemma:
            g: dict = {"error": "skipped"}
        else:
            log(f"{label}/{name}: gemma -bslmm")
            gp = None
            if name != "CD8" or label != "mice":
                gp = work / f"{name}.gemma.txt"
                write_gemma_pheno(gp, trait["y"])
            g = run_gemma(bfile, gp, f"{label}_{name}", work, args.timeout)
        truth_h2 = fmt(trait["realised_h2"]) if trait["realised_h2"] is not None else "–"
        truth_k = str(trait["n_causal"]) if trait["n_causal"] is not None else "–"
        if "error" in h:
            herit_cells = [fmt(h.get("wall"), 1), "–", f"failed: {h['error']}", "", "", ""]
        else:
            herit_cells = [
                f"{fmt(h['wall'], 1)} ({fmt(h['timings']['mcem'], 1)})",
                str(h["sweeps"]),
                f"{fmt(h['h2'])} ± {fmt(h['h2_se'])}",
                f"{h['pi_times_m']:.1f}",
                f"{fmt(h['rhat']['h2'], 2)}/{fmt(h['rhat']['pi'], 2)}",
                "yes" if h["converged"] else "no",
            ]
        if "error" in g:
            gemma_cells = [fmt(g.get("wall"), 1), f"{g['error']}", "", ""]
        else:
            gemma_cells = [
                fmt(g["wall"], 1),
                f"{fmt(g['pve'])} [{fmt(g['pve_lo'])}, {fmt(g['pve_hi'])}]",
                f"{g['pi'] * m:.1f}",
                f"{g['n_gamma']:.1f}",
            ]
        lines.append(
            "| " + " | ".join([name, truth_h2, truth_k, *herit_cells, *gemma_cells]) + " |"
        )
        log(f"{label}/{name}: herit {herit_cells}, gemma {gemma_cells}")
    lines += [
        "",
        "herit: `python -m heritcli mcem --bfile B --pheno P --out O --threads "
        f"{args.threads} -q --allow-no-converge` (default chains, iterations, burn-in, seed). "
        "GEMMA: `gemma -bfile B -p P.gemma.txt -bslmm 1 -w 1000 -s 10000 -seed 1` (`-n 1` for "
        "the real CD8 column of the mice .fam); its pve is the posterior mean over the sampled "
        "iterations, π·M = posterior mean of π times herit's M, n_γ the posterior mean number of "
        "SNPs in its sparse part. GEMMA filters MAF < 1% and call rate < 95% by default.",
        "",
    ]
    return lines


def machine_lines(args: argparse.Namespace) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = "not installed"
    from heritcli._version import __version__

    return [
        f"- date: {dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; load average at start {loadavg()}",
        f"- herit {__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba_version}",
        f"- command: `python bench/bench_mcem.py {' '.join(args.argv)}`".rstrip(),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", default="mice,synth", help="comma-separated: mice, synth")
    ap.add_argument("--synth-size", default="5123x100000", help="NxM of the synthetic fileset")
    ap.add_argument("--traits", type=int, default=3, help="simulated sparse traits on the mice")
    ap.add_argument(
        "--synth-traits", type=int, default=2, help="simulated sparse traits on the synthetic set"
    )
    ap.add_argument("--causal", type=int, default=20, help="causal SNPs per simulated trait")
    ap.add_argument("--h2", type=float, default=0.5, help="heritability of the simulated traits")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulations and data")
    ap.add_argument("--threads", type=int, default=2, help="--threads for herit")
    ap.add_argument("--sweeps", type=int, default=20, help="sweeps timed per setting")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds allowed per run")
    ap.add_argument("--workdir", type=Path, default=BENCH_DIR / "scratch", help="scratch directory")
    ap.add_argument("--no-gemma", action="store_true", help="skip GEMMA")
    ap.add_argument("--quick", action="store_true", help="mice only, 1 trait, no GEMMA")
    ap.add_argument("--no-append", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.datasets, args.traits, args.no_gemma = "mice", 1, True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    report = ["", "## herit mcem", "", *machine_lines(args), ""]
    for label in args.datasets.split(","):
        if label == "mice":
            report += bench_dataset("mice", MICE, args)
        elif label == "synth":
            n, m = (int(v) for v in args.synth_size.lower().split("x"))
            report += bench_dataset("synth", ensure_synthetic(n, m, args.seed, args.workdir), args)
        else:
            raise SystemExit(f"unknown dataset {label}")
    report.append(f"Load average at the end: {loadavg()}.")
    text = "\n".join(report) + "\n"
    print(text)
    if not args.no_append:
        with open(BENCH_DIR / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
