"""The eigen artifact (``P.eigen.h5``): a GRM's eigendecomposition with its provenance.

Layout (format version 1)::

    /samples/fid, /samples/iid   (n,) UTF-8, matrix order
    /eigen/values                (n,) float64, ascending
    /eigen/vectors               (n, n) float64, column i belongs to values[i]

Root attributes (besides the common ones): ``grm_fingerprint`` (the GRM it
was computed from), ``grm_path``, ``sample_hash`` (of the sample order),
``n_samples`` and ``subset`` (true when it decomposes a sub-matrix of the GRM).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class EigenArtifact:
    """Header of an eigen artifact; arrays are read with :meth:`load`."""

    path: Path
    fid: np.ndarray
    iid: np.ndarray
    grm_fingerprint: str
    sample_hash: str
    fingerprint: str

    @property
    def n_samples(self) -> int:
        return int(self.fid.shape[0])

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, vectors)`` as float64."""
        import h5py

        try:
            with h5py.File(self.path, "r") as handle:
                values = np.asarray(handle["eigen/values"][()], dtype=np.float64)
                vectors = np.asarray(handle["eigen/vectors"][()], dtype=np.float64)
        except (OSError, KeyError) as exc:
            raise InputError(
                f"{self.path}: cannot read the decomposition ({_first_line(exc)})",
                hint="the file may be damaged; rebuild it with herit eigen",
            ) from None
        n = self.n_samples
        if values.shape != (n,) or vectors.shape != (n, n):
            raise ArtifactMismatchError(
                f"{self.path}: {values.shape[0]} eigenvalues and vectors of shape "
                f"{vectors.shape} for {n} samples",
                hint="rebuild it with herit eigen",
            )
        if not (np.isfinite(values).all() and np.isfinite(vectors).all()):
            raise InputError(
                f"{self.path}: the decomposition contains NaN or infinite values",
                hint="rebuild it with herit eigen",
            )
        return values, vectors


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def eigen_artifact_bytes(n_samples: int) -> int:
    """A generous estimate of the size of an eigen artifact of ``n_samples`` samples."""
    return 8 * n_samples * n_samples + 8 * n_samples + 256 * n_samples + (1 << 16)


def write_eigen_artifact(
    target: str | os.PathLike[str],
    *,
    values: np.ndarray,
    vectors: np.ndarray,
    fid: np.ndarray,
    iid: np.ndarray,
    grm_fingerprint: str,
    grm_path: str,
    subset: bool,
    command: str,
    params: Mapping[str, Any],
) -> str:
    """Write the decomposition atomically (after checking the space); returns its fingerprint."""
    with atomic_path(target, reserve=eigen_artifact_bytes(int(values.shape[0]))) as tmp:
        return write_eigen_file(
            tmp,
            values=values,
            vectors=vectors,
            fid=fid,
            iid=iid,
            grm_fingerprint=grm_fingerprint,
            grm_path=grm_path,
            subset=subset,
            command=command,
            params=params,
        )


def write_eigen_file(
    path: str | os.PathLike[str],
    *,
    values: np.ndarray,
    vectors: np.ndarray,
    fid: np.ndarray,
    iid: np.ndarray,
    grm_fingerprint: str,
    grm_path: str,
    subset: bool,
    command: str,
    params: Mapping[str, Any],
) -> str:
    """Write the eigen layout into ``path`` as it is (the caller makes it atomic).

    Returns
    -------
    str
        The artifact's fingerprint: SHA-256 of the sample-order hash, the
        eigenvalues and the GRM's fingerprint.
    """
    import h5py

    sample_hash = hash_ids(fid, iid)
    digest = hashlib.sha256(sample_hash.encode())
    digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    digest.update(grm_fingerprint.encode())
    fingerprint = digest.hexdigest()
    with h5py.File(path, "w") as handle:
        samples = handle.create_group("samples")
        write_strings(samples, "fid", fid)
        write_strings(samples, "iid", iid)
        group = handle.create_group("eigen")
        group.create_dataset("values", data=np.asarray(values, dtype=np.float64))
        group.create_dataset("vectors", data=np.asarray(vectors, dtype=np.float64))
        write_root_attrs(
            handle,
            "eigen",
            command=command,
            params=params,
            inputs={"grm": grm_path},
            fingerprint=fingerprint,
            extra={
                "grm_fingerprint": grm_fingerprint,
                "grm_path": grm_path,
                "sample_hash": sample_hash,
                "n_samples": int(values.shape[0]),
                "subset": bool(subset),
            },
        )
    return fingerprint


def read_eigen_artifact(path: str | os.PathLike[str]) -> EigenArtifact:
    """Open an eigen artifact and read its header."""
    path = Path(path)
    with open_artifact(path, "eigen") as handle:
        try:
            fid = read_strings(handle["samples/fid"])
            iid = read_strings(handle["samples/iid"])
            shape = handle["eigen/vectors"].shape
            attrs = dict(handle.attrs)
        except KeyError as exc:
            raise ArtifactMismatchError(
                f"{path} is missing part of the eigen layout ({exc.args[0]})",
                hint="rebuild it with herit eigen",
            ) from None
    n = fid.shape[0]
    if shape != (n, n):
        raise ArtifactMismatchError(f"{path}: eigenvectors are {shape} but {n} samples are listed")
    return EigenArtifact(
        path=path,
        fid=fid,
        iid=iid,
        grm_fingerprint=str(attrs.get("grm_fingerprint", "")),
        sample_hash=str(attrs.get("sample_hash", "")),
        fingerprint=str(attrs.get("fingerprint", "")),
    )
