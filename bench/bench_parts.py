#!/usr/bin/env python3
"""Benchmark ``make-grm --part I/N``: N parts run one after another (+ merge) vs the one-shot run.

For one synthetic fileset (default 20,000 × 200,000 from ``synth_bed.py``, cached in
``bench/scratch/data/``) the script runs, each in a fresh process and round-robin
``--repeat`` times:

* ``herit make-grm --bfile P --out one --threads T`` (the one-shot run);
* for each N of ``--parts`` (default 3): ``herit make-grm … --part I/N --force`` for
  I = 1..N one after another, then ``herit merge-grm P.part_N_*.h5 --out merged``;

checks that every merged GRM agrees with the one-shot GRM (the same fingerprint, a
hash of the stored bytes, or else the largest difference of values and pair counts),
and prints a Markdown table: best wall times, the overhead
``(Σ parts + merge) / one-shot − 1`` (target < 10 % at 3 parts; the parts alone are
shown beside it), and the load average before and after.  ``--append`` adds it to
``bench/RESULTS.md``.

The default size is where the overhead target is read: a GRM worth splitting into
array jobs (its one-shot run takes about 3.5 minutes and 6.4 GiB on 2 cores; the
whole benchmark about half an hour).  Smaller sizes show the fixed costs of a part
(see ``bench/README.md``).

Examples::

    python bench/bench_parts.py --append                         # the target, ~30 min
    python bench/bench_parts.py --n 5123 --m 50000 --parts 3,7   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
SCRATCH = BENCH_DIR / "scratch"
TARGET_OVERHEAD = 0.10


def herit_command() -> list[str]:
    found = shutil.which("herit")
    return [found] if found else [sys.executable, "-m", "heritcli"]


def dataset(n: int, m: int) -> Path:
    prefix = SCRATCH / "data" / f"synth_n{n}_m{m}_seed1_miss0p001"
    if not prefix.with_suffix(".synth.json").exists():
        subprocess.run(
            [sys.executable, str(BENCH_DIR / "synth_bed.py"), "--n", str(n), "--m", str(m),
             "--out", str(prefix)],
            check=True,
        )  # fmt: skip
    return prefix


def timed(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def fingerprint(path: Path) -> str:
    with h5py.File(path) as handle:
        return str(handle.attrs["fingerprint"])


def agreement(merged: Path, one_shot: Path) -> str:
    """``yes`` for the same fingerprint, else the largest difference of values and counts."""
    if fingerprint(merged) == fingerprint(one_shot):
        return "yes (same fingerprint)"
    with h5py.File(merged) as a, h5py.File(one_shot) as b:
        values = float(np.abs(a["grm/values"][()] - b["grm/values"][()]).max())
        pairs = "grm/n_pairs" in a and "grm/n_pairs" in b
        counts = float(np.abs(a["grm/n_pairs"][()] - b["grm/n_pairs"][()]).max()) if pairs else 0
    return f"to float32 rounding: max abs diff {values:.1e}, pair counts {counts:g}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--m", type=int, default=200000)
    ap.add_argument("--parts", default="3", help="comma-separated N (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--append", action="store_true", help="append the report to RESULTS.md")
    args = ap.parse_args(argv)
    prefix = dataset(args.n, args.m)
    prefix.with_suffix(".bed").read_bytes()  # warm page cache
    work = SCRATCH / "runs" / f"parts_n{args.n}_m{args.m}"
    work.mkdir(parents=True, exist_ok=True)
    herit = herit_command()
    common = ["--bfile", str(prefix), "--threads", str(args.threads), "-q"]
    counts = [int(x) for x in args.parts.split(",")]
    load_before = load()
    one_shot: list[float] = []
    parts: dict[int, list[float]] = {c: [] for c in counts}
    merges: dict[int, list[float]] = {c: [] for c in counts}
    for _ in range(args.repeat):
        one_shot.append(timed([*herit, "make-grm", *common, "--out", str(work / "one")]))
        for count in counts:
            times = [
                timed([*herit, "make-grm", *common, "--out", str(work / "p"),
                       "--part", f"{i}/{count}", "--force"])
                for i in range(1, count + 1)
            ]  # fmt: skip
            files = [str(work / f"p.part_{count}_{i}.h5") for i in range(1, count + 1)]
            merge = timed([*herit, "merge-grm", *files, "--out", str(work / f"m{count}"), "-q"])
            parts[count].append(sum(times))
            merges[count].append(merge)
    lines = [
        f"## make-grm in parts vs one shot ({dt.date.today().isoformat()})",
        "",
        f"- Command: `python bench/bench_parts.py {shlex.join(argv or sys.argv[1:])}`",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"`--threads {args.threads}`; data `{prefix.name}` (n = {args.n}, M = {args.m})",
        f"- Load average (1/5/15 min): before {load_before}, after {load()}",
        f"- Best of {args.repeat} round-robin repetitions, each command a fresh process "
        "(start-up included), page cache warm",
        "",
        "| run | wall (s) | vs one-shot | merged = one-shot | target |",
        "|---|---:|---:|---|---|",
        f"| one-shot `make-grm` | {min(one_shot):.2f} | 1.00× | | reference |",
    ]
    for count in counts:
        best = min(p + m for p, m in zip(parts[count], merges[count], strict=True))
        same = agreement(work / f"m{count}.h5", work / "one.h5")
        overhead = best / min(one_shot) - 1
        target = (
            f"< {TARGET_OVERHEAD:.0%} overhead: {'PASS' if overhead < TARGET_OVERHEAD else 'FAIL'}"
            if count == 3
            else ""
        )
        alone = min(parts[count])
        lines.append(
            f"| {count} parts one after another + merge (parts alone {alone:.2f} s = "
            f"{alone / min(one_shot):.2f}×, merge {min(merges[count]):.2f} s) | "
            f"{best:.2f} | {best / min(one_shot):.2f}× | {same} | {target} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.append:
        with open(BENCH_DIR / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write("\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
