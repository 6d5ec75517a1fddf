#!/usr/bin/env python3
"""Measure BLAS ``syrk`` throughput for the GRM-shaped product ``C += A Aᵀ``.

A GRM of ``n`` samples over ``M`` SNPs is, up to scaling, ``Z Zᵀ`` for the
``n x M`` standardized genotype matrix ``Z``.  A streamed implementation adds one
``n x block`` slab at a time into ``C``, so the speed limit of any such tool is the
BLAS rank-k update ``?syrk`` on that shape.  This script times exactly that:
``ceil(M / block)`` calls of ``scipy.linalg.blas.ssyrk`` (float32) or ``dsyrk``
(float64) accumulating into one Fortran-ordered ``n x n`` lower triangle, with a
random block that is drawn once and reused (the cost of decoding genotypes is
deliberately left out).

Throughput is reported as GFLOP/s with ``flops = n² · M``: a multiply-add counts
as 2 flops and only the ``n(n+1)/2`` triangle is computed, so
``2 · M · n(n+1)/2 ≈ n² · M``.  The same convention is used by
``bench_make_grm.py`` for a tool's effective throughput ``n² · M / wall``.

Besides the numbers, the script reports which OpenBLAS library and kernel core
(``threadpoolctl`` ``architecture``, e.g. Haswell, SkylakeX, Cooperlake) is
in use, the AVX-512 flags of the CPU, and, with ``--coretypes``, re-runs itself in
subprocesses with ``OPENBLAS_CORETYPE`` set to show whether forcing a kernel
changes the detected core and the speed.  Note that numpy and scipy wheels each
bundle their own OpenBLAS; ``--backend numpy`` times ``numpy.matmul(Aᵀ-view, A)``
(which numpy dispatches to ``syrk``) plus the accumulation, using numpy's copy.

Examples
--------
::

    python bench/syrk_throughput.py --n 2000 --m 50000
    python bench/syrk_throughput.py --n 2000,5123 --m 319147 --coretypes default,SkylakeX
    python bench/syrk_throughput.py --n 5123 --m 319147 --json      # one JSON object per line
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg.blas as scipy_blas
from threadpoolctl import threadpool_info, threadpool_limits

#: Default number of SNPs per syrk call.
DEFAULT_BLOCK = 4096
_AVX_FLAGS = ("avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16")


def cpu_info() -> dict:
    """CPU model, logical CPU count and SIMD flags from ``/proc/cpuinfo``."""
    model, flags = "", set()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "model": model or platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "simd": [f for f in _AVX_FLAGS if f in flags],
        "avx512": any(f.startswith("avx512") for f in flags),
    }


def blas_libraries() -> list[dict]:
    """The BLAS libraries loaded in this process, as reported by threadpoolctl."""
    keep = ("internal_api", "prefix", "version", "architecture", "num_threads", "filepath")
    return [
        {k: lib.get(k) for k in keep} for lib in threadpool_info() if lib.get("user_api") == "blas"
    ]


def library_for(backend: str, libs: list[dict]) -> dict | None:
    """The threadpoolctl entry of the BLAS that ``backend`` calls into."""
    want = "scipy" if backend == "scipy" else "numpy"
    for lib in libs:
        if want in (lib.get("filepath") or "").lower():
            return lib
    return libs[0] if libs else None


def gflops(n: int, m: int, seconds: float) -> float:
    """Throughput in GFLOP/s under the ``n² · M`` convention."""
    return n * n * m / seconds / 1e9


def time_syrk(
    n: int, m: int, block: int, dtype: str, backend: str = "scipy", seed: int = 0
) -> dict:
    """Time ``ceil(m / block)`` rank-``block`` updates of an ``n x n`` matrix.

    One untimed warm-up call (thread start-up, page faults on ``C``) precedes the
    timed loop.  Returns seconds, GFLOP/s and per-call statistics.
    """
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    # SNP-major slab (block x n, C order); its transpose is the n x block Fortran matrix A.
    slab = rng.standard_normal((block, n), dtype=dt)
    a_full = slab.T
    c = np.zeros((n, n), dtype=dt, order="F")
    calls = [block] * (m // block) + ([m % block] if m % block else [])

    if backend == "scipy":
        syrk = scipy_blas.ssyrk if dt == np.float32 else scipy_blas.dsyrk

        def update(k: int) -> None:
            out = syrk(1.0, a_full[:, :k], beta=1.0, c=c, trans=0, lower=1, overwrite_c=1)
            if not np.shares_memory(out, c):  # would mean a hidden copy of C per call
                raise RuntimeError("scipy syrk did not update C in place")

    elif backend == "numpy":
        tmp = np.empty((n, n), dtype=dt)

        def update(k: int) -> None:
            a = a_full[:, :k]
            np.matmul(a, a.T, out=tmp)
            np.add(c, tmp, out=c)

    else:
        raise ValueError(f"unknown backend {backend!r}")

    update(min(block, m))  # warm-up, not timed
    c[...] = 0
    per_call = []
    t_start = time.perf_counter()
    for k in calls:
        t0 = time.perf_counter()
        update(k)
        per_call.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - t_start
    return {
        "n": n,
        "m": m,
        "block": block,
        "dtype": dt.name,
        "backend": backend,
        "calls": len(calls),
        "seconds": seconds,
        "gflops": gflops(n, m, seconds),
        "best_call_gflops": gflops(n, block, min(per_call[: m // block] or per_call)),
        "median_call_s": statistics.median(per_call),
    }


def measure(
    ns: list[int],
    m: int,
    block: int,
    dtypes: list[str],
    threads: int,
    backend: str,
    repeat: int,
) -> list[dict]:
    """Run :func:`time_syrk` for every (n, dtype) with the BLAS limited to ``threads``."""
    results = []
    with threadpool_limits(limits=threads, user_api="blas"):
        libs = blas_libraries()
        lib = library_for(backend, libs)
        for n in ns:
            for dtype in dtypes:
                runs = [time_syrk(n, m, block, dtype, backend) for _ in range(repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                res = dict(best)
                res["repeat"] = repeat
                res["all_seconds"] = [r["seconds"] for r in runs]
                res["median_seconds"] = statistics.median(res["all_seconds"])
                res["threads"] = lib["num_threads"] if lib else threads
                res["blas"] = lib
                res["openblas_coretype_env"] = os.environ.get("OPENBLAS_CORETYPE")
                results.append(res)
    return results


def run_with_coretype(coretype: str, args: argparse.Namespace) -> list[dict]:
    """Re-run this script in a subprocess with ``OPENBLAS_CORETYPE`` set (or unset)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype != "default":
        env["OPENBLAS_CORETYPE"] = coretype
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--json",
        "--n", ",".join(map(str, args.n)), "--m", str(args.m), "--block", str(args.block),
        "--dtypes", ",".join(args.dtypes), "--threads", str(args.threads),
        "--backend", args.backend, "--repeat", str(args.repeat),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess with OPENBLAS_CORETYPE={coretype} failed:\n{proc.stderr}")
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for r in out:
        r["coretype_request"] = coretype
    return out


def markdown_table(results: list[dict]) -> str:
    """Format results as a Markdown table."""
    head = (
        "| OPENBLAS_CORETYPE | backend | BLAS (version, core) | threads | n | M | block | dtype "
        "| best s | median s | GFLOP/s (best) | best call GFLOP/s |\n"
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n"
    )
    rows = []
    for r in results:
        lib = r.get("blas") or {}
        rows.append(
            f"| {r.get('coretype_request', r.get('openblas_coretype_env') or 'default')} "
            f"| {r['backend']} | {lib.get('prefix')} {lib.get('version')}, "
            f"{lib.get('architecture')} | {r['threads']} | {r['n']} | {r['m']} | {r['block']} "
            f"| {r['dtype']} | {r['seconds']:.2f} | {r['median_seconds']:.2f} "
            f"| {r['gflops']:.1f} | {r['best_call_gflops']:.1f} |"
        )
    return head + "\n".join(rows)


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--n", type=_int_list, default=[2000, 5123], help="sample counts, comma-separated"
    )
    ap.add_argument("--m", type=int, default=50_000, help="SNPs to cover (default 50000)")
    ap.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="SNPs per syrk call")
    ap.add_argument("--dtypes", default="float32,float64", help="comma-separated dtypes")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    ap.add_argument("--backend", choices=("scipy", "numpy"), default="scipy")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions; best and median shown")
    ap.add_argument(
        "--coretypes",
        default=None,
        help="comma-separated OPENBLAS_CORETYPE values to compare in subprocesses, "
        "'default' meaning unset (e.g. default,SkylakeX,Haswell)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object per result")
    args = ap.parse_args(argv)
    args.dtypes = [d for d in args.dtypes.split(",") if d]

    if args.coretypes:
        results = []
        for ct in [c for c in args.coretypes.split(",") if c]:
            results.extend(run_with_coretype(ct, args))
    else:
        results = measure(
            args.n, args.m, args.block, args.dtypes, args.threads, args.backend, args.repeat
        )
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    cpu = cpu_info()
    print(
        f"CPU: {cpu['model']} | logical CPUs {cpu['logical_cpus']}, usable {cpu['usable_cpus']}"
        f" | SIMD: {' '.join(cpu['simd']) or 'none'}"
    )
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for lib in blas_libraries():
        print(
            f"BLAS loaded here: {lib['prefix']} {lib['version']} core={lib['architecture']} "
            f"threads={lib['num_threads']} ({lib['filepath']})"
        )
    print()
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
