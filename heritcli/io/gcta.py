"""GCTA's binary GRM format (``.grm.bin``, ``.grm.N.bin``, ``.grm.id``).

As written by GCTA ``--make-grm``, plink1.9 ``--make-grm-bin`` and LDAK:

* ``P.grm.bin``: float32, little-endian, the lower triangle including the
  diagonal, row by row: K[0,0], K[1,0], K[1,1], K[2,0], ... — n(n+1)/2 values;
* ``P.grm.N.bin``: the same layout, the number of SNPs used for each pair
  (float32; some tools write a single value when it is constant);
* ``P.grm.id``: ``FID IID`` per line, matrix order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heritcli.core.grm import symmetrize_lower
from heritcli.errors import InputError

RowSource = Callable[[int, int], tuple[np.ndarray, np.ndarray | None]]

ROW_TILE = 2048


@dataclass(frozen=True)
class GctaGrm:
    """A GRM read from GCTA's binary files."""

    fid: np.ndarray
    iid: np.ndarray
    values: np.ndarray
    n_pairs: np.ndarray | None


def gcta_paths(prefix: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """``(P.grm.bin, P.grm.N.bin, P.grm.id)``; accepts the prefix with or without ``.grm``."""
    text = os.fspath(prefix)
    for suffix in (".grm.bin", ".grm.N.bin", ".grm.id", ".grm"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    return Path(text + ".grm.bin"), Path(text + ".grm.N.bin"), Path(text + ".grm.id")


def is_gcta_prefix(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a GCTA binary GRM (its ``.grm.bin`` exists)."""
    return gcta_paths(path)[0].exists() and not os.fspath(path).endswith(".h5")


def read_grm_id(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.grm.id`` file (FID IID per line, duplicates not allowed)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    fids: list[str] = []
    iids: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(
                f"{path} line {lineno}: expected 2 columns (FID IID), found {len(fields)}",
                hint="a .grm.id file has exactly FID and IID on each line",
            )
        key = (fields[0], fields[1])
        if key in seen:
            raise InputError(
                f"{path} line {lineno}: duplicate sample ID '{key[0]} {key[1]}' "
                f"(first seen on line {seen[key]})"
            )
        seen[key] = lineno
        fids.append(fields[0])
        iids.append(fields[1])
    if not fids:
        raise InputError(f"{path} lists no samples")
    return np.array(fids, dtype=str), np.array(iids, dtype=str)


def _read_lower_triangle(path: Path, n: int, fid: np.ndarray, iid: np.ndarray) -> np.ndarray:
    """Read a lower-triangle float32 file into a full symmetric float64 matrix.

    Raises
    ------
    InputError
        The file is unreadable, its length is not n(n+1)/2 float32 values, or a
        value is NaN or infinite (named by its row, column and samples).
    """
    expected = n * (n + 1) // 2
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a GCTA binary GRM file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if size != 4 * expected:
        raise InputError(
            f"{path} has {size} bytes; {n} samples need {4 * expected} bytes "
            f"(n(n+1)/2 float32 values)",
            hint="the .grm.id and .grm.bin do not belong together, or the file is truncated",
        )
    try:
        flat = np.fromfile(path, dtype="<f4", count=expected)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        # Flat index k of row i, column j (j <= i) is i(i+1)/2 + j.
        k = int(bad[0])
        i = int((np.sqrt(8 * k + 1) - 1) // 2)
        while i * (i + 1) // 2 > k:
            i -= 1
        while (i + 1) * (i + 2) // 2 <= k:
            i += 1
        j = k - i * (i + 1) // 2
        raise InputError(
            f"{path}: value {flat[k]} at row {i + 1}, column {j + 1} (samples {fid[i]} "
            f"{iid[i]} and {fid[j]} {iid[j]}) is not a finite number; {bad.size} such values",
            hint="the file is damaged or was written by a failed run; rebuild it",
        )
    full = np.empty((n, n), dtype=np.float64)
    offset = 0
    for i in range(n):
        full[i, : i + 1] = flat[offset : offset + i + 1]
        offset += i + 1
    return symmetrize_lower(full)


def read_gcta_grm(prefix: str | os.PathLike[str]) -> GctaGrm:
    """Read a GCTA binary GRM (and its pair counts when present).

    Raises
    ------
    InputError
        Missing files, or a ``.grm.bin`` whose length is not n(n+1)/2 float32
        values for the n samples of the ``.grm.id``.
    """
    bin_path, n_path, id_path = gcta_paths(prefix)
    if not bin_path.exists():
        raise InputError(f"{bin_path} does not exist")
    fid, iid = read_grm_id(id_path)
    n = fid.shape[0]
    values = _read_lower_triangle(bin_path, n, fid, iid)
    n_pairs = None
    if n_path.exists():
        n_size = n_path.stat().st_size if n_path.is_file() else -1
        if n_size == 4:
            constant = float(np.fromfile(n_path, dtype="<f4", count=1)[0])
            if not math.isfinite(constant):
                raise InputError(f"{n_path}: the SNP count {constant} is not a finite number")
            n_pairs = np.full((n, n), constant)
        else:
            n_pairs = _read_lower_triangle(n_path, n, fid, iid)
    return GctaGrm(fid=fid, iid=iid, values=values, n_pairs=n_pairs)


def write_gcta_grm(
    prefix: str | os.PathLike[str],
    fid: np.ndarray,
    iid: np.ndarray,
    rows: RowSource,
    n_samples: int,
    *,
    n_snps: float | None = None,
) -> list[Path]:
    """Write ``P.grm.bin``, ``P.grm.N.bin`` and ``P.grm.id`` atomically.

    Parameters
    ----------
    rows : callable
        ``rows(start, stop)`` gives rows ``start:stop`` of the GRM and of the pair
        counts (None when the count is the constant ``n_snps``).
    """
    from heritcli.io.atomic import atomic_files

    bin_path, n_path, id_path = gcta_paths(prefix)
    # The three files belong together: written in full first, then renamed all at once.
    with atomic_files([bin_path, n_path, id_path]) as (tmp_bin, tmp_n, tmp_id):
        with open(tmp_bin, "wb") as out_bin, open(tmp_n, "wb") as out_n:
            for start in range(0, n_samples, ROW_TILE):
                stop = min(start + ROW_TILE, n_samples)
                values, counts = rows(start, stop)
                for local, i in enumerate(range(start, stop)):
                    out_bin.write(np.asarray(values[local, : i + 1], dtype="<f4").tobytes())
                    if counts is None:
                        row_n = np.full(i + 1, n_snps if n_snps is not None else 0, dtype="<f4")
                    else:
                        row_n = np.asarray(counts[local, : i + 1], dtype="<f4")
                    out_n.write(row_n.tobytes())
        with open(tmp_id, "w", encoding="utf-8", newline="\n") as out_id:
            for f, i in zip(fid, iid, strict=True):
                out_id.write(f"{f}\t{i}\n")
    return [bin_path, n_path, id_path]
