"""Memory needed by make-grm, the block size a budget allows, and what would fit when nothing does.

Peak memory of a GRM accumulation over rows ``r0:r1`` of the lower triangle
(the whole matrix: ``r0 = 0``, ``r1 = n``), with ``A = (r1 − r0)·r1`` entries:

========================  =====================================================
float64 sums of Z Zᵀ      ``8·A``
float32 partial sums      ``4·A`` (``--dtype float32``, the default, only)
pair counts S Sᵀ          ``4·A`` when genotypes are missing
BLAS chunk buffer         ``c·r1·s`` (``c`` SNPs per BLAS call, ``s`` bytes per value)
blocks in flight          ``b·(2·s·r1 + n/4 + n)`` (two standardized blocks, the packed
                          bytes, decoded counts when ``--keep``/``--remove`` is used)
per-variant tables        about :data:`BYTES_PER_VARIANT` per ``.bim`` line
interpreter, libraries    :data:`BASELINE_BYTES`
========================  =====================================================

``n`` is the number of samples kept and ``b`` the SNPs per block.  Budgets
are in GiB (2³⁰ bytes), as SLURM's ``--mem=16G`` means.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from heritcli.errors import UsageError

GIB = 2**30
#: Python, numpy, scipy and h5py loaded, measured as the resident size of ``herit --version``.
BASELINE_BYTES = 160 * 2**20
#: Per ``.bim`` variant: IDs, alleles, positions and the per-SNP summary arrays.
BYTES_PER_VARIANT = 240
#: Smallest block make-grm runs with.
MIN_BLOCK_SNPS = 64


def parse_memory(text: str | float | int) -> float:
    """A memory budget in GiB from ``16``, ``16G``, ``16GB``, ``16000M``, ``1.5T``.

    Units are binary (K = 2¹⁰ bytes, M = 2²⁰, G = 2³⁰, T = 2⁴⁰), as in SLURM's
    ``--mem``; a bare number is GiB.
    """
    if isinstance(text, int | float):
        value, unit = float(text), "G"
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)I?B?\s*", text.upper())
        if match is None:
            raise UsageError(
                f"--memory: cannot read '{text}'; give GiB like 16, or 16G, 16000M, 1.5T"
            )
        value, unit = float(match.group(1)), match.group(2) or "G"
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[unit]
    gib = value * scale / GIB
    if not gib > 0:
        raise UsageError(f"--memory must be positive, got {text}")
    return gib


def format_bytes(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n_bytes) < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} TiB"


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of one run, with the terms that make it up."""

    total: int
    parts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        terms = ", ".join(f"{name} {format_bytes(b)}" for name, b in self.parts.items() if b)
        return f"{format_bytes(self.total)} ({terms})"


def grm_memory(
    n_samples: int,
    block_snps: int,
    *,
    any_missing: bool,
    precision: str = "float32",
    rows: tuple[int, int] | None = None,
    n_variants: int = 0,
    subset: bool = False,
) -> MemoryEstimate:
    """Estimate the peak memory of accumulating rows ``rows`` of an ``n``-sample GRM.

    Parameters
    ----------
    n_samples : int
        Samples kept.
    block_snps : int
        SNPs per streamed block.
    any_missing : bool
        Whether pair counts ``S Sᵀ`` are kept (unknown before reading: pass True).
    precision : {"float32", "float64"}
    rows : (r0, r1), optional
        A band of the lower triangle (a part); default the whole matrix.
    n_variants : int
        Lines of the ``.bim``.
    subset : bool
        Whether samples are subset (``--keep``/``--remove``): blocks are then decoded.
    """
    from heritcli.core.grm import blas_chunk_snps

    r0, r1 = (0, n_samples) if rows is None else rows
    area = (r1 - r0) * r1
    item = 4 if precision == "float32" else 8
    terms = {
        "sums": 8 * area,
        "float32 partial sums": 4 * area if precision == "float32" else 0,
        "pair counts": 4 * area if any_missing else 0,
        "BLAS buffer": blas_chunk_snps(n_samples) * r1 * item,
        "blocks": block_snps * (2 * item * r1 + (n_samples + 3) // 4 + subset * n_samples),
        "SNP tables": BYTES_PER_VARIANT * n_variants,
        "baseline": BASELINE_BYTES,
    }
    return MemoryEstimate(int(sum(terms.values())), terms)


def block_for_budget(
    budget_gib: float | None,
    default_block: int,
    n_samples: int,
    **kwargs: object,
) -> int:
    """The largest block (≤ ``default_block``, a multiple of 64) that fits the budget.

    Returns ``default_block`` without a budget, and :data:`MIN_BLOCK_SNPS` or more;
    the caller checks the estimate against the budget with :func:`check_budget`.
    """
    if budget_gib is None:
        return default_block
    budget = budget_gib * GIB
    fixed = grm_memory(n_samples, 0, **kwargs).total  # type: ignore[arg-type]
    per_snp = grm_memory(n_samples, 1, **kwargs).total - fixed  # type: ignore[arg-type]
    room = budget - fixed
    if room <= 0:
        return default_block
    fitting = int(room // max(per_snp, 1)) // 64 * 64
    return max(MIN_BLOCK_SNPS, min(default_block, fitting))


def part_rows(n_samples: int, n_parts: int) -> list[tuple[int, int]]:
    """Row ranges of the parts (see :func:`heritcli.core.grm.part_bounds`)."""
    from heritcli.core.grm import part_bounds

    bounds = part_bounds(n_samples, n_parts)
    return list(itertools.pairwise(bounds))


def largest_part_memory(
    n_samples: int, n_parts: int, block_snps: int, **kwargs: object
) -> MemoryEstimate:
    """The estimate of the part that needs the most memory."""
    estimates = [
        grm_memory(n_samples, block_snps, rows=rows, **kwargs)  # type: ignore[arg-type]
        for rows in part_rows(n_samples, n_parts)
    ]
    return max(estimates, key=lambda e: e.total)


def check_budget(
    budget_gib: float | None,
    estimate: MemoryEstimate,
    *,
    n_samples: int,
    block_snps: int,
    what: str,
    **kwargs: object,
) -> None:
    """Raise :class:`UsageError` naming what would fit when ``estimate`` exceeds the budget.

    The suggestions are computed, not guessed: the fewest parts whose largest
    part fits, the other ``--dtype`` if it fits, and the most samples that fit.
    """
    if budget_gib is None or estimate.total <= budget_gib * GIB:
        return
    budget = budget_gib * GIB
    options: list[str] = []
    kwargs_no_rows = {k: v for k, v in kwargs.items() if k != "rows"}
    small_block = MIN_BLOCK_SNPS
    for n_parts in _part_counts(n_samples):
        need = largest_part_memory(n_samples, n_parts, small_block, **kwargs_no_rows)
        if need.total <= budget:
            options.append(
                f"--part I/{n_parts} (each of {n_parts} parts needs at most "
                f"{format_bytes(need.total)})"
            )
            break
    precision = str(kwargs.get("precision", "float32"))
    other = "float64" if precision == "float32" else "float32"
    other_need = grm_memory(
        n_samples,
        small_block,
        **{**kwargs, "precision": other},  # type: ignore[arg-type]
    )
    if other_need.total <= budget:
        options.append(f"--dtype {other} ({format_bytes(other_need.total)})")
    fitting = _most_samples(budget, small_block, **kwargs_no_rows)
    if 2 <= fitting < n_samples:
        options.append(f"at most {fitting} samples (--keep)")
    hint = "what would fit: " + "; ".join(options) if options else None
    raise UsageError(
        f"{what} needs about {estimate.describe()}, more than --memory {format_bytes(budget)}",
        hint=hint,
    )


def _part_counts(n_samples: int) -> list[int]:
    counts = [2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 50, 64, 100, 128, 250, 500, 1000]
    return [c for c in counts if c <= n_samples]


def _most_samples(budget: float, block: int, **kwargs: object) -> int:
    lo, hi = 0, 1
    while grm_memory(hi, block, **kwargs).total <= budget and hi < 10**9:  # type: ignore[arg-type]
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if grm_memory(mid, block, **kwargs).total <= budget:  # type: ignore[arg-type]
            lo = mid
        else:
            hi = mid
    return lo


__all__ = [
    "GIB",
    "MemoryEstimate",
    "block_for_budget",
    "check_budget",
    "format_bytes",
    "grm_memory",
    "largest_part_memory",
    "parse_memory",
]
