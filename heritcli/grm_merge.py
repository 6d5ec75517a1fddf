"""``herit merge-grm``: parts of one GRM into the whole, or GRMs of disjoint SNP sets into one.

**Parts** (``P.part_N_I.h5`` from ``make-grm --part I/N``).  The parts must be
complete (every ``I`` of ``1..N`` once), and consistent: same samples, same
SNPs used, same allele frequencies (hashes recorded by each part), same options
and number of SNPs.  The merged GRM has the bands' values, stored as
the one-shot run stores them, so it equals the one-shot GRM: bit for bit (same
fingerprint) on BLAS kernels that round a band as they round the whole matrix,
else to the rounding of float32 products (see
:func:`heritcli.core.grm.bands_match_whole`).

**Disjoint SNP sets** (e.g. one GRM per chromosome, GCTA's ``--mgrm`` merge).
With ``K_c`` the GRM and ``N_c`` the pair counts of set ``c`` (the number of
SNPs when nothing is missing),

.. math:: K = \\frac{\\sum_c N_c \\circ K_c}{\\sum_c N_c}, \\qquad N = \\sum_c N_c

elementwise: ``N_c ∘ K_c`` is set ``c``'s ``Σ z z``, so ``K`` is the GRM of the
union of the sets (each SNP standardized with its own frequency, as in one run).
The sets must be disjoint (checked on the SNP tables) and the samples identical.

Both merges stream row tiles: memory is a few tiles of ``n`` values per input,
not the ``n × n`` matrix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import ArtifactMismatchError, DataError, InputError, UsageError
from heritcli.reporting import Reporter, SilentReporter

_PART_NAME = re.compile(r"^(?P<prefix>.*)\.part_(?P<count>\d+)_(?P<index>\d+)\.h5$")
#: Fields every part of one GRM must share, with the words used when they differ.
_PART_FIELDS = {
    "sample_hash": "samples",
    "snp_hash": "SNPs used",
    "freq_hash": "allele frequencies",
    "science_params": "options",
    "n_snps": "number of SNPs",
    "dtype": "--dtype",
    "n_samples": "number of samples",
}


@dataclass(frozen=True)
class MergeGrmResult:
    """What :func:`merge_grm` wrote."""

    path: str
    kind: str
    n_inputs: int
    n_samples: int
    n_snps: int
    has_n_pairs: bool
    fingerprint: str
    diag_mean: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_grm(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MergeGrmResult:
    """Merge GRM parts, or GRMs of disjoint SNP sets, into ``OUT.h5``.

    The kind of merge follows from the files: all parts (``make-grm --part``)
    or all whole GRMs; a mixture is an error.
    """
    from heritcli.io.grm_artifact import read_root_attrs

    reporter = reporter or SilentReporter()
    if not paths:
        raise UsageError("merge-grm needs at least one input GRM")
    unique = list(dict.fromkeys(os.fspath(p) for p in paths))
    if len(unique) != len(paths):
        raise UsageError("merge-grm: a file is listed twice")
    target = _target(out)
    kinds = {p: "part" if "grm_part" in read_root_attrs(p) else "grm" for p in unique}
    if len(set(kinds.values())) > 1:
        part = next(p for p, k in kinds.items() if k == "part")
        whole = next(p for p, k in kinds.items() if k == "grm")
        raise UsageError(
            f"merge-grm: {part} is a part of a GRM but {whole} is a whole GRM",
            hint="merge the parts of one GRM first, then merge whole GRMs",
        )
    if next(iter(kinds.values())) == "part":
        return merge_parts(unique, target, command=command, reporter=reporter)
    return merge_snp_sets(unique, target, command=command, reporter=reporter)


def _target(out: str | os.PathLike[str]) -> Path:
    from heritcli.io.atomic import check_writable_dir

    text = os.fspath(out)
    return check_writable_dir(Path(text if text.endswith(".h5") else text + ".h5"))


# -- parts -----------------------------------------------------------------------------------


def check_parts(paths: Sequence[str]) -> list[Any]:
    """Read the parts' headers; check they are complete, disjoint and consistent.

    Returns
    -------
    list of GrmPart
        Sorted by part index.

    Raises
    ------
    ArtifactMismatchError
        Naming the missing part (and the file expected), the duplicated one, or the
        part that differs and in what.
    """
    from heritcli.core.grm import part_bounds
    from heritcli.io.grm_artifact import read_grm_part

    parts = [read_grm_part(p) for p in paths]
    first = parts[0]
    count = first.part_count
    for part in parts[1:]:
        if part.part_count != count:
            raise ArtifactMismatchError(
                f"{part.path} is part {part.part_index}/{part.part_count} but {first.path} is "
                f"part {first.part_index}/{count}: they are not parts of one GRM"
            )
    by_index: dict[int, Any] = {}
    for part in parts:
        if part.part_index in by_index:
            raise ArtifactMismatchError(
                f"part {part.part_index}/{count} is given twice: {by_index[part.part_index].path} "
                f"and {part.path}"
            )
        by_index[part.part_index] = part
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        expected = _expected_name(first.path, missing[0], count)
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ArtifactMismatchError(
            f"part {missing[0]}/{count} is missing{more}: expected {expected}",
            hint=f"run make-grm --part {missing[0]}/{count} with the same options",
        )
    ordered = [by_index[i] for i in range(1, count + 1)]
    reference = ordered[0]
    for part in ordered[1:]:
        for key, words in _PART_FIELDS.items():
            if part.attrs.get(key) != reference.attrs.get(key):
                raise ArtifactMismatchError(
                    f"{part.path} (part {part.part_index}/{count}) differs from {reference.path} "
                    f"in its {words} ({key})",
                    hint="rerun the parts that differ with the same inputs and options (--force)",
                )
    bounds = part_bounds(reference.n_samples, count)
    for part in ordered:
        expected_rows = (bounds[part.part_index - 1], bounds[part.part_index])
        if (part.row_start, part.row_stop) != expected_rows:
            raise ArtifactMismatchError(
                f"{part.path} holds rows {part.row_start}:{part.row_stop}, part "
                f"{part.part_index}/{count} of {reference.n_samples} samples should hold "
                f"{expected_rows[0]}:{expected_rows[1]}"
            )
    any_missing = {p.any_missing for p in ordered}
    if len(any_missing) > 1:
        odd = next(p for p in ordered if p.any_missing != reference.any_missing)
        raise ArtifactMismatchError(f"{odd.path} differs from {reference.path} in its layout")
    return ordered


def _expected_name(example: Path, index: int, count: int) -> str:
    match = _PART_NAME.match(example.name)
    if match is None:
        return f"part {index} of {count}"
    return str(example.with_name(f"{match.group('prefix')}.part_{count}_{index}.h5"))


def assemble_rows(
    bands: Sequence[Any],
    n_samples: int,
    start: int,
    stop: int,
    *,
    with_counts: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows ``start:stop`` of the full symmetric GRM (and counts) from lower-triangle bands.

    Parameters
    ----------
    bands : sequence
        Objects with ``row_start``, ``row_stop``, ``values`` and ``counts`` (numpy
        arrays or h5py datasets of shape ``(r1 − r0, r1)``), covering ``0:n``.

    Notes
    -----
    Entry ``(i, j)`` with ``j ≤ i`` is read from the band holding row ``i``;
    with ``j > i`` it is entry ``(j, i)`` of the band holding row ``j``, read as
    a column slab ``values[:, start:stop]`` of that band and transposed.
    """
    height = stop - start
    # In the bands' own types: the entries are copied, never computed, so nothing is lost
    # and the writer stores them without another conversion.
    values = np.zeros((height, n_samples), dtype=bands[0].values.dtype)
    counts = None
    if with_counts:
        counts = np.zeros((height, n_samples), dtype=bands[0].counts.dtype)
    for band in bands:
        r0, r1 = band.row_start, band.row_stop
        if r1 <= start + 1:
            continue
        width = min(stop, r1) - start
        if width <= 0:
            continue
        # Columns start:start + width of rows r0:r1 = rows start:… of columns r0:r1, transposed.
        # Band rows above `start` hold only zeros there (above the diagonal; in the output,
        # lower entries that the second loop copies), so they are not read.
        first = max(r0, start)
        _transpose_into(
            values[:width, first:r1], np.asarray(band.values[first - r0 :, start : start + width])
        )
        if counts is not None:
            _transpose_into(
                counts[:width, first:r1],
                np.asarray(band.counts[first - r0 :, start : start + width]),
            )
    for band in bands:
        r0, r1 = band.row_start, band.row_stop
        a, b = max(start, r0), min(stop, r1)
        if a >= b:
            continue
        # Rows a:b of the band, read once; row i gives its columns 0:i + 1.
        _copy_lower_rows(values, np.asarray(band.values[a - r0 : b - r0]), a, start)
        if counts is not None:
            _copy_lower_rows(counts, np.asarray(band.counts[a - r0 : b - r0]), a, start)
    return values, counts


def _transpose_into(out: np.ndarray, source: np.ndarray, block: int = 256) -> None:
    """``out[...] = source.T``, a square block at a time (both blocks stay in cache; one
    strided pass over a band's tall slab would fetch each cache line many times)."""
    for k in range(0, source.shape[0], block):
        out[:, k : k + block] = source[k : k + block].T


def _copy_lower_rows(out: np.ndarray, band_rows: np.ndarray, first: int, start: int) -> None:
    """``out[i - start, :i + 1] = band_rows[i - first, :i + 1]`` for the rows ``i`` of
    ``band_rows`` (a row at a time: no mask of the lower triangle to build and apply)."""
    for offset in range(band_rows.shape[0]):
        i = first + offset
        out[i - start, : i + 1] = band_rows[offset, : i + 1]


@dataclass
class _H5Band:
    row_start: int
    row_stop: int
    values: Any
    counts: Any


def merge_parts(
    paths: Sequence[str],
    target: Path,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MergeGrmResult:
    """Merge the parts of one GRM (checked by :func:`check_parts`) into ``target``."""
    import h5py

    from heritcli.io.grm_artifact import read_snp_summary, write_grm_artifact

    reporter = reporter or SilentReporter()
    started = time.perf_counter()
    parts = check_parts(paths)
    first = parts[0]
    n = first.n_samples
    count = first.part_count
    reporter.info(
        f"merging {count} parts of a GRM of {n} samples and {first.n_snps} SNPs into {target}"
    )
    science = json.loads(str(first.attrs["science_params"]))
    inputs = json.loads(str(first.attrs.get("inputs", "{}")))
    inputs["parts"] = {
        str(p.path): {"fingerprint": p.fingerprint, "part": f"{p.part_index}/{count}"}
        for p in parts
    }
    with contextlib.ExitStack() as stack:
        bands = []
        for part in parts:
            handle = stack.enter_context(h5py.File(part.path, "r"))
            bands.append(
                _H5Band(
                    part.row_start,
                    part.row_stop,
                    handle["part/values"],
                    handle["part/n_pairs"] if part.any_missing else None,
                )
            )
        fingerprint = write_grm_artifact(
            target,
            n_samples=n,
            rows=lambda a, b: assemble_rows(bands, n, a, b, with_counts=first.any_missing),
            has_n_pairs=first.any_missing,
            fid=first.fid,
            iid=first.iid,
            n_snps=first.n_snps,
            dtype=first.dtype,
            snps=read_snp_summary(first.path),
            command=command,
            params={**science, "merged_parts": count},
            inputs=inputs,
            grm_attrs={
                "maf_min": science.get("maf", 0.0),
                "max_maf": science.get("max_maf", 0.5),
                "merged_from": f"{count} parts",
            },
        ).fingerprint
    return _result(target, "parts", count, fingerprint, started)


def _result(
    target: Path, kind: str, n_inputs: int, fingerprint: str, started: float
) -> MergeGrmResult:
    from heritcli.io.grm_artifact import read_grm_artifact

    written = read_grm_artifact(target)
    return MergeGrmResult(
        path=os.fspath(target),
        kind=kind,
        n_inputs=n_inputs,
        n_samples=written.n_samples,
        n_snps=written.n_snps,
        has_n_pairs=written.has_n_pairs,
        fingerprint=fingerprint,
        diag_mean=float(written.grm_attrs["diag_mean"]),
        seconds=time.perf_counter() - started,
    )


# -- disjoint SNP sets -----------------------------------------------------------------------


def combine_snp_sets(
    values: Sequence[np.ndarray], counts: Sequence[np.ndarray | float]
) -> tuple[np.ndarray, np.ndarray]:
    """``K = Σ N_c ∘ K_c / Σ N_c`` and ``N = Σ N_c`` for tiles of several GRMs.

    ``counts[c]`` is an array of pair counts or a scalar (the number of SNPs when
    nothing was missing).  Pairs with no SNP in common in any set get 0.
    """
    total = np.zeros(values[0].shape)
    weight = np.zeros(values[0].shape)
    for k, n in zip(values, counts, strict=True):
        total += np.asarray(n, dtype=np.float64) * np.asarray(k, dtype=np.float64)
        weight += n
    with np.errstate(invalid="ignore", divide="ignore"):
        merged = np.where(weight > 0, total / weight, 0.0)
    return merged, weight


def merge_snp_sets(
    paths: Sequence[str],
    target: Path,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MergeGrmResult:
    """Merge GRMs of the same samples built on disjoint SNP sets (GCTA ``--mgrm``)."""
    import h5py

    from heritcli.io.artifact import file_fingerprint
    from heritcli.io.grm_artifact import read_grm_artifact, write_grm_artifact

    reporter = reporter or SilentReporter()
    started = time.perf_counter()
    if len(paths) < 2:
        raise UsageError("merge-grm of whole GRMs needs at least two of them")
    grms = [read_grm_artifact(p) for p in paths]
    first = grms[0]
    for grm in grms[1:]:
        _check_same_samples(first, grm)
    snps = _merged_snp_summary(grms, reporter)
    n = first.n_samples
    has_pairs = any(g.has_n_pairs for g in grms)
    n_snps = sum(g.n_snps for g in grms)
    dtype = "float64" if any(g.dtype == "float64" for g in grms) else "float32"
    reporter.info(
        f"merging {len(grms)} GRMs of {n} samples built on disjoint SNP sets "
        f"({' + '.join(str(g.n_snps) for g in grms)} = {n_snps} SNPs), weighted by their "
        "pairwise SNP counts"
    )
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(h5py.File(g.path, "r")) for g in grms]

        def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
            values = [h["grm/values"][start:stop] for h in handles]
            counts: list[np.ndarray | float] = [
                h["grm/n_pairs"][start:stop] if g.has_n_pairs else float(g.n_snps)
                for h, g in zip(handles, grms, strict=True)
            ]
            merged, weight = combine_snp_sets(values, counts)
            return merged, weight if has_pairs else None

        fingerprint = write_grm_artifact(
            target,
            n_samples=n,
            rows=rows,
            has_n_pairs=has_pairs,
            fid=first.fid,
            iid=first.iid,
            n_snps=n_snps,
            dtype=dtype,
            snps=snps,
            command=command,
            params={"merge": "disjoint SNP sets", "grms": [os.fspath(g.path) for g in grms]},
            inputs={
                os.fspath(g.path): {
                    **file_fingerprint(g.path, full_hash=False),
                    "fingerprint": g.fingerprint,
                }
                for g in grms
            },
            grm_attrs={"merged_from": f"{len(grms)} GRMs of disjoint SNP sets"},
        ).fingerprint
    return _result(target, "snp-sets", len(grms), fingerprint, started)


def _check_same_samples(first: Any, other: Any) -> None:
    if other.n_samples != first.n_samples:
        raise DataError(
            f"{other.path} has {other.n_samples} samples, {first.path} {first.n_samples}: "
            "GRMs merged over SNP sets need the same samples",
            hint="build them with the same --keep/--remove",
        )
    differs = np.flatnonzero((other.fid != first.fid) | (other.iid != first.iid))
    if differs.size:
        i = int(differs[0])
        raise DataError(
            f"{other.path} differs from {first.path} in its samples: row {i + 1} is "
            f"'{other.fid[i]} {other.iid[i]}', not '{first.fid[i]} {first.iid[i]}'",
            hint="GRMs merged over SNP sets need the same samples in the same order",
        )


def _merged_snp_summary(grms: Sequence[Any], reporter: Reporter) -> Any:
    """The union of the SNP tables; raise if two GRMs used the same SNP."""
    from heritcli.io.grm_artifact import SnpSummary, read_snp_summary

    tables = [read_snp_summary(g.path) for g in grms]
    without = [str(g.path) for g, t in zip(grms, tables, strict=True) if t is None]
    if without:
        reporter.warning(
            f"{', '.join(without)} has no SNP table (imported GRM): cannot check that the SNP "
            "sets are disjoint"
        )
    seen: dict[str, str] = {}
    for grm, table in zip(grms, tables, strict=True):
        if table is None:
            continue
        for snp in table.snp_id[table.used].tolist():
            if snp in seen:
                overlap = int(np.isin(table.snp_id[table.used], list(seen)).sum())
                raise DataError(
                    f"{grm.path} and {seen[snp]} share {overlap} SNP(s) (first: {snp}); "
                    "merging adds SNP sets, which must be disjoint",
                    hint="build them on disjoint --chr or --extract lists",
                )
        seen.update(dict.fromkeys(table.snp_id[table.used].tolist(), str(grm.path)))
    present = [t for t in tables if t is not None]
    if not present or without:
        return None
    same_bim = all(np.array_equal(t.snp_id, present[0].snp_id) for t in present[1:])
    if same_bim:
        used = np.logical_or.reduce([t.used for t in present])
        freq = np.full(used.shape, np.nan)
        reason = np.array(present[0].reason, dtype=object)
        static = ["chr", "extract", "exclude"]
        for table in present:
            freq[table.used] = table.freq[table.used]
            reason[table.used] = ""
        for table in present:
            # A SNP dropped everywhere: report the set that read it (e.g. "monomorphic").
            read = ~np.isin(table.reason, static) & np.isin(reason, static)
            reason[read] = table.reason[read]
            counted = np.isnan(freq) & ~np.isnan(table.freq)
            freq[counted] = table.freq[counted]
        base = present[0]
        return SnpSummary(
            base.snp_id, base.chrom, base.pos, base.a1, base.a2, freq, used,
            np.array([str(r) for r in reason], dtype=str),
        )  # fmt: skip
    keep = [np.asarray(t.used) for t in present]

    def stack(name: str) -> np.ndarray:
        return np.concatenate(
            [np.asarray(getattr(t, name))[k] for t, k in zip(present, keep, strict=True)]
        )

    n_used = sum(int(k.sum()) for k in keep)
    return SnpSummary(
        stack("snp_id"), stack("chrom"), stack("pos"), stack("a1"), stack("a2"), stack("freq"),
        np.ones(n_used, dtype=bool), np.array([""] * n_used, dtype=str),
    )  # fmt: skip


def read_grm_list(path: str | os.PathLike[str]) -> list[str]:
    """The GRMs listed in a GCTA ``--mgrm`` file: one per line (``.h5`` path or prefix)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read --mgrm {path}: {exc.strerror or exc}") from None
    entries = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
    if not entries:
        raise InputError(f"--mgrm {path} lists no GRM")
    resolved = []
    for number, entry in enumerate(entries, start=1):
        candidate = Path(entry if entry.endswith(".h5") else entry + ".h5")
        if not candidate.is_absolute():
            candidate = path.parent / candidate if not candidate.exists() else candidate
        if not candidate.exists():
            raise InputError(f"--mgrm {path}, line {number}: {candidate} does not exist")
        resolved.append(os.fspath(candidate))
    return resolved


__all__ = [
    "MergeGrmResult",
    "assemble_rows",
    "check_parts",
    "combine_snp_sets",
    "merge_grm",
    "merge_parts",
    "merge_snp_sets",
    "read_grm_list",
]
