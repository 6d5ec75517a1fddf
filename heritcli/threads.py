"""Thread budgets: how many cores a run may use, and bounding BLAS to it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


def available_cores() -> int:
    """Cores this process may use: ``SLURM_CPUS_PER_TASK`` if set, else the CPU affinity."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads(threads: int | None) -> Iterator[int]:
    """Bound the BLAS/OpenMP thread pools to ``threads`` (default: :func:`available_cores`)."""
    from threadpoolctl import threadpool_limits

    n = threads or available_cores()
    with threadpool_limits(limits=n):
        yield n


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
