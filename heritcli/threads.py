"""Thread budgets: how many cores a run may use, and bounding BLAS to it."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

#: An idle OpenBLAS thread spins for 2**this many cycles before it sleeps (about 0.4 ms);
#: OpenBLAS's own default, 2**28 cycles, is about 0.1 s.
BLAS_SPIN_EXPONENT = 20


def calm_idle_blas_threads() -> None:
    """Have idle OpenBLAS threads sleep after about 0.4 ms instead of spinning for 0.1 s.

    After every product OpenBLAS keeps its worker threads spinning, by default for
    2²⁸ cycles.  Single-threaded work right after a product (adding partial sums,
    decoding the next block, writing the result) then shares the machine with those
    spinning threads, and its page faults cost several times as much (measured:
    ~0.1 s more for a 2,000-sample GRM, 6 % of the run).  OpenBLAS reads
    ``OPENBLAS_THREAD_TIMEOUT`` when it is loaded, so this must run before numpy is
    imported; a value already in the environment is kept.  The command line calls it
    first thing; Python callers may set the variable themselves.
    """
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(BLAS_SPIN_EXPONENT))


def available_cores() -> int:
    """Cores this process may use: the smallest of its CPU affinity, ``SLURM_CPUS_PER_TASK``
    and the cgroup CPU quota (containers, ``systemd-run -p CPUQuota``).

    SLURM sets the affinity of a task to its allocation; ``SLURM_CPUS_PER_TASK``
    also bounds the count where affinity is not enforced (``TaskPlugin=task/none``).
    """
    counts = [_affinity_cores()]
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        counts.append(int(slurm))
    quota = cgroup_cpu_quota()
    if quota is not None:
        counts.append(quota)
    return max(1, min(counts))


def _affinity_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> int | None:
    """Whole cores allowed by a cgroup v2 ``cpu.max`` quota (rounded up), or None."""
    try:
        with open(os.path.join(root, "cpu.max"), encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


@contextlib.contextmanager
def limit_threads(threads: int | None) -> Iterator[int]:
    """Bound every thread pool of the process to ``threads`` (default :func:`available_cores`).

    BLAS and OpenMP pools through threadpoolctl (numpy's and scipy's OpenBLAS,
    which are two libraries), and numba's pool when numba is already loaded
    (importing it here would slow every command down).  The previous limits are
    restored on exit.
    """
    # threadpoolctl limits only the libraries loaded when the limit is set: load scipy's
    # BLAS (a second OpenBLAS beside numpy's, used by every syrk/gemm) before setting it.
    from threadpoolctl import threadpool_limits

    from heritcli.core.blas import load_blas

    load_blas()

    n = threads or available_cores()
    numba = sys.modules.get("numba")
    previous_numba = None
    if numba is not None:
        try:
            previous_numba = numba.get_num_threads()
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        except Exception:  # pragma: no cover - numba without a threading layer
            previous_numba = None
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        if numba is not None and previous_numba is not None:
            numba.set_num_threads(previous_numba)


def blas_threads() -> int:
    """The largest thread count of the BLAS libraries loaded (what the log reports)."""
    counts = [int(info["threads"] or 1) for info in blas_info()]
    return max(counts, default=1)


def blas_info() -> list[dict[str, Any]]:
    """What threadpoolctl reports about the loaded BLAS libraries."""
    import numpy  # noqa: F401  (loads the BLAS so that it is reported)
    from threadpoolctl import threadpool_info

    return [
        {
            "library": info.get("internal_api"),
            "version": info.get("version"),
            "architecture": info.get("architecture"),
            "threads": info.get("num_threads"),
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def describe_blas() -> str:
    """One line naming the BLAS in use, its kernel architecture and thread count."""
    parts = [
        f"{i['library']} {i['version']} ({i['architecture']}, {i['threads']} threads)"
        for i in blas_info()
    ]
    return "; ".join(parts) or "unknown"
