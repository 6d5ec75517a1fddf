"""The GRM artifact (``OUT.h5``): layout, writing and reading.

Layout (format version 1)::

    /samples/fid, /samples/iid     (n,) UTF-8 strings, matrix order
    /grm/values                    (n, n) float32 or float64, full symmetric matrix
        attrs: n_snps, standardization, missing, diag_mean, offdiag_mean, offdiag_var
    /grm/n_pairs                   (n, n) float32 counts of SNPs non-missing in both
                                   samples (present only when a genotype was missing)
    /snps/id, chrom, pos, a1, a2, freq, used, reason     one row per .bim variant

Root attributes: see :mod:`heritcli.io.artifact`.  ``fingerprint`` is the
SHA-256 of the sample order and the matrix bytes as stored.

A *part* of a GRM (``make-grm --part I/N``, file ``P.part_N_I.h5``) is a GRM
artifact whose root attribute ``grm_part`` is ``"I/N"`` and which holds, instead
of ``/grm``, a row band of the lower triangle::

    /part/values      (r1 - r0, r1) in the GRM's dtype: rows r0:r1, columns 0:r1 (0 above
                      the diagonal; chunks wholly above it are not stored)
    /part/n_pairs     (r1 - r0, r1) pair counts (only when a genotype was missing)
    /samples, /snps   as in a GRM

with root attributes ``part_index``, ``part_count``, ``row_start``, ``row_stop``,
``n_snps``, ``any_missing``, ``dtype`` (of the merged GRM) and the hashes that
``herit merge-grm`` compares: ``sample_hash``, ``snp_hash`` (SNPs used) and
``freq_hash`` (their frequencies).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import ArtifactMismatchError, InputError
from heritcli.io.artifact import (
    hash_ids,
    open_artifact,
    read_strings,
    write_root_attrs,
    write_strings,
)
from heritcli.io.atomic import atomic_path

ROW_TILE = 256


@dataclass(frozen=True)
class SnpSummary:
    """What happened to every variant of the ``.bim``.

    ``reason`` is empty for a used SNP, otherwise the filter that removed it
    (``chr``, ``extract``, ``exclude``, ``all-missing``, ``monomorphic``, ``maf``,
    ``max-maf``, ``geno``).
    """

    snp_id: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    freq: np.ndarray
    used: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True)
class GrmArtifact:
    """A GRM on disk, with its samples and provenance; values are read on demand."""

    path: Path
    fid: np.ndarray
    iid: np.ndarray
    n_snps: int
    dtype: str
    fingerprint: str
    has_n_pairs: bool
    attrs: Mapping[str, Any] = field(default_factory=dict)
    grm_attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.fid.shape[0])

    @property
    def sample_hash(self) -> str:
        return hash_ids(self.fid, self.iid)

    def load_values(self, index: np.ndarray | None = None) -> np.ndarray:
        """The GRM as float64, optionally restricted to ``index`` (rows and columns)."""
        return _load_square(self.path, "grm/values", index)

    def load_n_pairs(self, index: np.ndarray | None = None) -> np.ndarray | None:
        if not self.has_n_pairs:
            return None
        return _load_square(self.path, "grm/n_pairs", index)


def _load_square(path: Path, name: str, index: np.ndarray | None) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as handle:
        dataset = handle[name]
        if index is None:
            return np.asarray(dataset[()], dtype=np.float64)
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index)
        sorted_index = index[order]
        if np.any(np.diff(sorted_index) == 0):
            raise ValueError("duplicate indices")
        rows = np.asarray(dataset[sorted_index, :], dtype=np.float64)[:, sorted_index]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return rows[np.ix_(inverse, inverse)]


@dataclass(frozen=True)
class GrmWritten:
    """What :func:`write_grm_artifact` wrote: the fingerprint and the ``grm/values`` summary
    attributes (``n_snps``, ``diag_mean``, ``offdiag_mean``, ``offdiag_var``, …)."""

    fingerprint: str
    summary: dict[str, Any]


def _tile_moments(stored: np.ndarray, start: int) -> tuple[float, float, float]:
    """Sum of the diagonal, of the off-diagonal entries and of their squares, of rows
    ``start:`` of a GRM given as the row tile ``stored`` (float64 sums)."""
    local = np.arange(stored.shape[0])
    diagonal = stored[local, start + local].astype(np.float64)
    diag_sum = float(diagonal.sum())
    off_sum = float(stored.sum(dtype=np.float64)) - diag_sum
    off_sq = float(np.square(stored, dtype=np.float64).sum()) - float(np.square(diagonal).sum())
    return diag_sum, off_sum, off_sq


def write_grm_artifact(
    target: str | os.PathLike[str],
    *,
    n_samples: int,
    rows: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]],
    has_n_pairs: bool,
    fid: np.ndarray,
    iid: np.ndarray,
    n_snps: int,
    dtype: str,
    snps: SnpSummary | None,
    command: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    grm_attrs: Mapping[str, Any] | None = None,
) -> GrmWritten:
    """Write a GRM artifact atomically, row tile by row tile.

    Parameters
    ----------
    rows : callable
        ``rows(start, stop)`` returns rows ``start:stop`` of the GRM (float64)
        and of the pair counts (or None); the full matrix is never copied.

    Returns
    -------
    GrmWritten
        The artifact's fingerprint and summary.

    Notes
    -----
    Each tile's hash update and moments (for the summary) run in a worker thread
    while this one writes the tile and computes the next (hashlib and numpy's
    reductions release the GIL); the tiles are hashed, and their moments added,
    in row order, so the result does not depend on the timing.
    """
    import h5py

    out_dtype = np.dtype(dtype)
    digest = hashlib.sha256(hash_ids(fid, iid).encode())

    def digest_tile(stored: np.ndarray, start: int) -> tuple[float, float, float]:
        digest.update(memoryview(stored).cast("B"))
        return _tile_moments(stored, start)

    chunk = (min(n_samples, 256), min(n_samples, 256))
    # Reserve the file's size first: HDF5 cannot recover from a write that fails on a full
    # disk, so the shortage must show up before it starts (as an exit-7 error).
    per_entry = out_dtype.itemsize + (4 if has_n_pairs else 0)
    n_rows = 0 if snps is None else len(snps.snp_id)
    reserve = n_samples * n_samples * per_entry + 512 * n_samples + 64 * n_rows + (1 << 16)
    with (
        atomic_path(target, reserve=reserve) as tmp,
        h5py.File(tmp, "w") as handle,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="herit-digest") as digester,
    ):
        samples = handle.create_group("samples")
        write_strings(samples, "fid", fid)
        write_strings(samples, "iid", iid)
        grm = handle.create_group("grm")
        values_ds = grm.create_dataset(
            "values", shape=(n_samples, n_samples), dtype=out_dtype, chunks=chunk
        )
        pairs_ds = None
        if has_n_pairs:
            pairs_ds = grm.create_dataset(
                "n_pairs", shape=(n_samples, n_samples), dtype=np.float32, chunks=chunk
            )
        tiles: list[Future[tuple[float, float, float]]] = []
        for start in range(0, n_samples, ROW_TILE):
            stop = min(start + ROW_TILE, n_samples)
            values, counts = rows(start, stop)
            stored = np.ascontiguousarray(values, dtype=out_dtype)
            tiles.append(digester.submit(digest_tile, stored, start))
            values_ds[start:stop] = stored
            if pairs_ds is not None and counts is not None:
                pairs_ds[start:stop] = np.asarray(counts, dtype=np.float32)
        diag_sum = off_sum = off_sq = 0.0
        for tile in tiles:
            diag, off, sq = tile.result()
            diag_sum += diag
            off_sum += off
            off_sq += sq
        n_off = max(n_samples * (n_samples - 1), 1)
        off_mean = off_sum / n_off
        summary = {
            "n_snps": int(n_snps),
            "standardization": "z = (x - 2p) / sqrt(2p(1-p)), missing z = 0",
            "missing": "pairwise",
            "divisor": "SNPs non-missing in both samples",
            "diag_mean": diag_sum / n_samples,
            "offdiag_mean": off_mean,
            "offdiag_var": off_sq / n_off - off_mean**2,
        }
        summary.update(grm_attrs or {})
        for key, value in summary.items():
            values_ds.attrs[key] = value
        if snps is not None:
            _write_snp_summary(handle.create_group("snps"), snps)
        fingerprint = digest.hexdigest()
        write_root_attrs(
            handle,
            "grm",
            command=command,
            params=params,
            inputs=inputs,
            fingerprint=fingerprint,
            extra={"n_samples": n_samples, "n_snps": int(n_snps), "dtype": out_dtype.name},
        )
    return GrmWritten(fingerprint, summary)


def _write_snp_summary(group: Any, snps: SnpSummary) -> None:
    write_strings(group, "id", snps.snp_id)
    write_strings(group, "chrom", snps.chrom)
    group.create_dataset("pos", data=np.asarray(snps.pos, dtype=np.int64))
    write_strings(group, "a1", snps.a1)
    write_strings(group, "a2", snps.a2)
    group.create_dataset("freq", data=np.asarray(snps.freq, dtype=np.float64))
    group.create_dataset("used", data=np.asarray(snps.used, dtype=bool))
    write_strings(group, "reason", snps.reason)
    group.attrs["freq_allele"] = "a1"


def read_grm_artifact(path: str | os.PathLike[str]) -> GrmArtifact:
    """Open a GRM artifact and read its samples and provenance (not its values)."""
    path = Path(path)
    with open_artifact(path, "grm") as handle:
        part = handle.attrs.get("grm_part")
        if part is not None:
            raise ArtifactMismatchError(
                f"{path} is part {_plain(part)} of a GRM, not a whole GRM",
                hint="merge the parts first: herit merge-grm P.part_N_*.h5 --out NAME",
            )
        try:
            fid = read_strings(handle["samples/fid"])
            iid = read_strings(handle["samples/iid"])
            values = handle["grm/values"]
            shape = values.shape
            dtype = values.dtype.name
            grm_attrs = dict(values.attrs)
            has_pairs = "grm/n_pairs" in handle
            attrs = {k: _plain(v) for k, v in handle.attrs.items()}
        except KeyError as exc:
            raise ArtifactMismatchError(
                f"{path} is missing part of the GRM layout ({exc.args[0]})",
                hint="rebuild it with herit make-grm",
            ) from None
    n = fid.shape[0]
    if shape != (n, n) or iid.shape[0] != n:
        raise InputError(f"{path}: GRM is {shape} but lists {n} samples")
    return GrmArtifact(
        path=path,
        fid=fid,
        iid=iid,
        n_snps=int(grm_attrs.get("n_snps", attrs.get("n_snps", 0))),
        dtype=dtype,
        fingerprint=str(attrs.get("fingerprint", "")),
        has_n_pairs=has_pairs,
        attrs=attrs,
        grm_attrs={k: _plain(v) for k, v in grm_attrs.items()},
    )


def read_snp_summary(path: str | os.PathLike[str]) -> SnpSummary | None:
    """The per-SNP table of a GRM artifact, or None if it has none (imported GRMs)."""
    with open_artifact(path, "grm") as handle:
        if "snps" not in handle:
            return None
        group = handle["snps"]
        return SnpSummary(
            snp_id=read_strings(group["id"]),
            chrom=read_strings(group["chrom"]),
            pos=group["pos"][()],
            a1=read_strings(group["a1"]),
            a2=read_strings(group["a2"]),
            freq=group["freq"][()],
            used=group["used"][()],
            reason=read_strings(group["reason"]),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class GrmPart:
    """A part of a GRM on disk (see the module docstring); the band is read on demand."""

    path: Path
    fid: np.ndarray
    iid: np.ndarray
    part_index: int
    part_count: int
    row_start: int
    row_stop: int
    n_snps: int
    dtype: str
    any_missing: bool
    fingerprint: str
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.fid.shape[0])


def write_grm_part(
    target: str | os.PathLike[str],
    *,
    rows: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]],
    shape: tuple[int, int],
    has_counts: bool,
    fid: np.ndarray,
    iid: np.ndarray,
    part_index: int,
    part_count: int,
    row_start: int,
    n_snps: int,
    dtype: str,
    snps: SnpSummary | None,
    command: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> str:
    """Write one part (a row band of the lower triangle) atomically; return its fingerprint.

    Parameters
    ----------
    rows : callable
        ``rows(lo, hi)`` returns band rows ``lo:hi`` (0-based within the band): the GRM
        entries of rows ``row_start + lo : row_start + hi`` and columns
        ``0:row_start + r``, 0 above the diagonal, and the pair counts (or None).  The
        values are stored in ``dtype``, as the merged GRM stores them.  The band is asked
        for a tile of :data:`ROW_TILE` rows at a time, in order, so it never needs to
        exist whole.
    shape : (int, int)
        ``(r, row_start + r)``.
    has_counts : bool
        Whether ``rows`` returns pair counts (stored as ``part/n_pairs``).

    Notes
    -----
    Only the HDF5 chunks that reach the lower triangle are written; the others are
    not allocated and read back as the fill value, 0.  The fingerprint is the SHA-256
    of the samples, the part's place and the stored values row by row (zeros above the
    diagonal included), hashed in a worker thread while the next tile is computed.
    """
    import h5py

    height, width = shape
    if width != row_start + height:
        raise ValueError(f"band of shape {shape} does not end on the diagonal")
    digest = hashlib.sha256(hash_ids(fid, iid).encode())
    digest.update(f"{part_index}/{part_count}:{row_start}".encode())
    chunk = (min(height, ROW_TILE), min(width, ROW_TILE))
    value_dtype = np.dtype(dtype)
    # Counts up to the number of SNPs: float32 holds them exactly below 2**24.
    count_dtype = np.dtype(np.float32 if n_snps < 2**24 else np.float64)
    per_entry = value_dtype.itemsize + (count_dtype.itemsize if has_counts else 0)
    reserve = height * width * per_entry + 512 * width + (1 << 16)
    with (
        atomic_path(target, reserve=reserve) as tmp,
        h5py.File(tmp, "w") as handle,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="herit-digest") as digester,
    ):
        samples = handle.create_group("samples")
        write_strings(samples, "fid", fid)
        write_strings(samples, "iid", iid)
        group = handle.create_group("part")
        values_ds = group.create_dataset(
            "values", shape=shape, dtype=value_dtype, chunks=chunk, fillvalue=0
        )
        counts_ds = None
        if has_counts:
            counts_ds = group.create_dataset(
                "n_pairs", shape=shape, dtype=count_dtype, chunks=chunk, fillvalue=0
            )
        hashed: list[Future[None]] = []
        for lo in range(0, height, ROW_TILE):
            hi = min(lo + ROW_TILE, height)
            values, counts = rows(lo, hi)
            stored = np.ascontiguousarray(values, dtype=value_dtype)
            hashed.append(digester.submit(digest.update, memoryview(stored).cast("B")))
            # Row row_start + i has entries in columns 0..row_start + i: the tile's last
            # row reaches column row_start + hi - 1, and the chunks right of it stay unwritten.
            reach = min(width, row_start + hi)
            values_ds[lo:hi, :reach] = stored[:, :reach]
            if counts_ds is not None:
                if counts is None:
                    raise ValueError("the band's rows came without the pair counts announced")
                counts_ds[lo:hi, :reach] = np.asarray(counts[:, :reach], dtype=count_dtype)
            if len(hashed) > 2:
                hashed.pop(0).result()  # at most two tiles held for the digest
        for future in hashed:
            future.result()
        if snps is not None:
            _write_snp_summary(handle.create_group("snps"), snps)
        fingerprint = digest.hexdigest()
        write_root_attrs(
            handle,
            "grm",
            command=command,
            params=params,
            inputs=inputs,
            fingerprint=fingerprint,
            extra={
                "grm_part": f"{part_index}/{part_count}",
                "part_index": part_index,
                "part_count": part_count,
                "row_start": row_start,
                "row_stop": row_start + height,
                "n_samples": int(np.asarray(fid).shape[0]),
                "n_snps": int(n_snps),
                "dtype": dtype,
                "any_missing": has_counts,
                **extra,
            },
        )
    return fingerprint


def read_grm_part(path: str | os.PathLike[str]) -> GrmPart:
    """Open a part written by :func:`write_grm_part` and read its header (not its band)."""
    path = Path(path)
    with open_artifact(path, "grm") as handle:
        attrs = {k: _plain(v) for k, v in handle.attrs.items()}
        if "grm_part" not in attrs:
            raise ArtifactMismatchError(
                f"{path} is a whole GRM, not a part written by make-grm --part"
            )
        try:
            fid = read_strings(handle["samples/fid"])
            iid = read_strings(handle["samples/iid"])
            shape = handle["part/values"].shape
            has_pairs = "part/n_pairs" in handle
        except KeyError as exc:
            raise ArtifactMismatchError(
                f"{path} is missing part of the GRM part layout ({exc.args[0]})",
                hint="rerun its make-grm --part command with --force",
            ) from None
    r0, r1 = int(attrs["row_start"]), int(attrs["row_stop"])
    if shape != (r1 - r0, r1) or r1 > fid.shape[0]:
        raise InputError(f"{path}: band of shape {shape} for rows {r0}:{r1}")
    return GrmPart(
        path=path,
        fid=fid,
        iid=iid,
        part_index=int(attrs["part_index"]),
        part_count=int(attrs["part_count"]),
        row_start=r0,
        row_stop=r1,
        n_snps=int(attrs["n_snps"]),
        dtype=str(attrs["dtype"]),
        any_missing=bool(has_pairs),
        fingerprint=str(attrs.get("fingerprint", "")),
        attrs=attrs,
    )


def read_root_attrs(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The root attributes of an herit GRM artifact or part, as plain Python values."""
    with open_artifact(path, "grm") as handle:
        return {k: _plain(v) for k, v in handle.attrs.items()}
