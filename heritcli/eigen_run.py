"""Decomposing a GRM artifact once, caching the result, and finding the right cache later.

A decomposition is only valid for the exact GRM and sample order it came from.
Every eigen artifact records the GRM's fingerprint and a hash of its sample
order; :func:`eigen_for_samples` uses a cached decomposition only when both
match, and otherwise decomposes the (sub-)GRM and caches it under a name keyed
by the sample-set hash.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import ArtifactMismatchError, DataError, HeritError, InputError, UsageError
from heritcli.io.artifact import hash_ids
from heritcli.reporting import Reporter, SilentReporter


@dataclass(frozen=True)
class EigenResult:
    """What :func:`decompose` wrote."""

    path: str
    n_samples: int
    seconds: float
    leading_eigenvalues: list[float]
    pcs_path: str | None = None
    eigenval_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def grm_prefix(grm_path: str | os.PathLike[str]) -> str:
    """The GRM's path without ``.h5``: the default prefix of its derived files."""
    text = os.fspath(grm_path)
    return text[:-3] if text.endswith(".h5") else text


def default_eigen_path(grm_path: str | os.PathLike[str]) -> Path:
    return Path(grm_prefix(grm_path) + ".eigen.h5")


def subset_eigen_path(grm_path: str | os.PathLike[str], sample_hash: str) -> Path:
    """Cache path of a sub-GRM decomposition, keyed by the hash of its sample order."""
    return Path(f"{grm_prefix(grm_path)}.eigen.{sample_hash[:16]}.h5")


def decompose(
    grm: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    pcs: int = 0,
    threads: int | None = None,
    command: str = "",
    reporter: Reporter | None = None,
) -> EigenResult:
    """Eigendecompose a GRM artifact and save ``P.eigen.h5`` (and PCs when asked).

    Parameters
    ----------
    grm : path
        GRM artifact written by ``make-grm`` or ``import-grm``.
    out : path, optional
        Output prefix P (default: the GRM's path without ``.h5``).
    pcs : int
        Also write ``P.pcs.txt`` (``#FID IID PC1 … PCk``, as plink2's
        ``.eigenvec``) and ``P.eigenval`` with the ``pcs`` leading eigenpairs.

    Returns
    -------
    EigenResult
    """
    from heritcli.core.eigen import eigendecompose, top_components
    from heritcli.io.atomic import atomic_files, check_writable_dir
    from heritcli.io.eigen_artifact import eigen_artifact_bytes, write_eigen_file
    from heritcli.io.grm_artifact import read_grm_artifact
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    artifact = read_grm_artifact(grm)
    if pcs < 0 or pcs > artifact.n_samples:
        raise UsageError(f"--pcs must be between 0 and the {artifact.n_samples} samples, got {pcs}")
    prefix = grm_prefix(grm) if out is None else os.fspath(out)
    target = check_writable_dir(prefix + ".eigen.h5")
    started = time.perf_counter()
    reporter.info(f"{artifact.path}: GRM of {artifact.n_samples} samples")
    with limit_threads(threads):
        matrix = load_checked_grm(artifact)
        with reporter.task("eigendecomposition", total=None):
            values, vectors = eigendecompose(matrix, overwrite=True)
        del matrix
    seconds = time.perf_counter() - started
    reporter.info(
        f"eigendecomposition of {artifact.n_samples} x {artifact.n_samples}: {seconds:.1f} s"
    )
    if values[0] < -1e-6 * max(abs(values[-1]), 1.0):
        reporter.warning(
            f"the GRM is not positive semi-definite: smallest eigenvalue {values[0]:.4g} "
            "(expected with pairwise missing-data divisors; REML handles it)"
        )
    pcs_path = eigenval_path = None
    targets = [target]
    if pcs:
        pcs_path = prefix + ".pcs.txt"
        eigenval_path = prefix + ".eigenval"
        targets += [Path(pcs_path), Path(eigenval_path)]
    # All outputs or none: the decomposition, the PCs and the eigenvalues are renamed together.
    reserve = [eigen_artifact_bytes(artifact.n_samples), 0, 0][: len(targets)]
    with atomic_files(targets, reserve=reserve) as temps:
        write_eigen_file(
            temps[0],
            values=values,
            vectors=vectors,
            fid=artifact.fid,
            iid=artifact.iid,
            grm_fingerprint=artifact.fingerprint,
            grm_path=os.fspath(artifact.path),
            subset=False,
            command=command,
            params={"grm": os.fspath(grm), "out": prefix, "pcs": pcs},
        )
        if pcs:
            top_values, top_vectors = top_components(values, vectors, pcs)
            names = "\t".join(f"PC{i + 1}" for i in range(pcs))
            with open(temps[1], "w", encoding="utf-8", newline="\n") as handle:
                handle.write(f"#FID\tIID\t{names}\n")
                for row, (f, i) in enumerate(zip(artifact.fid, artifact.iid, strict=True)):
                    text = "\t".join(f"{v:.8g}" for v in top_vectors[row])
                    handle.write(f"{f}\t{i}\t{text}\n")
            with open(temps[2], "w", encoding="utf-8", newline="\n") as handle:
                for value in top_values:
                    handle.write(f"{value:.8g}\n")
    leading = sorted(values.tolist(), reverse=True)[: min(10, values.size)]
    return EigenResult(
        path=os.fspath(target),
        n_samples=artifact.n_samples,
        seconds=seconds,
        leading_eigenvalues=leading,
        pcs_path=pcs_path,
        eigenval_path=eigenval_path,
    )


def eigen_for_samples(
    grm: Any,
    index: np.ndarray,
    *,
    eigen_path: str | os.PathLike[str] | None = None,
    cache: bool = True,
    reporter: Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """The decomposition of the GRM restricted to ``index`` (in that order).

    Looks for, in order: the explicit ``eigen_path`` (an error if it does not
    match), the GRM's ``P.eigen.h5`` (when the samples are all of the GRM's, in
    its order), a cached sub-GRM decomposition keyed by the sample-set hash.
    Otherwise decomposes and, when ``cache``, saves the result for next time.

    Returns
    -------
    values, vectors, source
        ``source`` says where the decomposition came from (for the log).
    """
    from heritcli.core.eigen import eigendecompose
    from heritcli.io.eigen_artifact import read_eigen_artifact, write_eigen_artifact

    reporter = reporter or SilentReporter()
    index = np.asarray(index, dtype=np.int64)
    fid, iid = grm.fid[index], grm.iid[index]
    wanted_hash = hash_ids(fid, iid)
    whole = index.size == grm.n_samples and bool(np.all(index == np.arange(grm.n_samples)))

    def matches(candidate: Any) -> bool:
        return candidate.grm_fingerprint == grm.fingerprint and candidate.sample_hash == wanted_hash

    if eigen_path is not None:
        candidate = read_eigen_artifact(eigen_path)
        if candidate.grm_fingerprint != grm.fingerprint:
            raise ArtifactMismatchError(
                f"{eigen_path} was computed from another GRM than {grm.path}",
                hint=f"rebuild it with: herit eigen --grm {grm.path}",
            )
        if candidate.sample_hash != wanted_hash:
            raise ArtifactMismatchError(
                f"{eigen_path} decomposes {candidate.n_samples} samples, but {index.size} "
                "samples are analysed here (missing phenotypes, covariates or --keep "
                "change the set)",
                hint="leave out --eigen: herit then decomposes the sub-GRM and caches it",
            )
        values, vectors = candidate.load()
        return values, vectors, f"{eigen_path}"
    candidates = [default_eigen_path(grm.path)] if whole else []
    candidates.append(subset_eigen_path(grm.path, wanted_hash))
    for path in candidates:
        if not path.exists():
            continue
        try:
            candidate = read_eigen_artifact(path)
        except HeritError as exc:
            reporter.warning(f"ignoring {path}: {exc.message}")
            continue
        if matches(candidate):
            values, vectors = candidate.load()
            return values, vectors, f"cached {path}"
        reporter.warning(
            f"ignoring {path}: it was computed from another GRM or sample order "
            f"(rebuild it with: herit eigen --grm {grm.path})"
        )
    started = time.perf_counter()
    matrix = load_checked_grm(grm, None if whole else index)
    with reporter.task(f"eigendecomposition of {index.size} samples", total=None):
        values, vectors = eigendecompose(matrix, overwrite=True)
    del matrix
    seconds = time.perf_counter() - started
    source = f"decomposed here ({seconds:.1f} s)"
    if cache:
        target = default_eigen_path(grm.path) if whole else subset_eigen_path(grm.path, wanted_hash)
        try:
            write_eigen_artifact(
                target,
                values=values,
                vectors=vectors,
                fid=fid,
                iid=iid,
                grm_fingerprint=grm.fingerprint,
                grm_path=os.fspath(grm.path),
                subset=not whole,
                command="cache written by herit reml",
                params={"n_samples": int(index.size)},
            )
            source += f", cached as {target}"
        except HeritError as exc:
            reporter.warning(f"could not cache the decomposition: {exc.message}")
    return values, vectors, source


def load_checked_grm(grm: Any, index: np.ndarray | None = None) -> np.ndarray:
    """The GRM (or its sub-matrix for ``index``) as float64, refusing NaN and infinity.

    Raises
    ------
    DataError
        A non-finite entry, named by its row, column and the two samples' IDs.
    InputError
        The values cannot be read (a damaged file).
    """
    try:
        matrix = grm.load_values(index)
    except (OSError, KeyError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{grm.path}: cannot read the GRM values ({text})",
            hint="the file may be damaged; rebuild it with herit make-grm",
        ) from None
    finite = np.isfinite(matrix)
    if not finite.all():
        row, col = (int(k) for k in np.argwhere(~finite)[0])
        rows = np.arange(grm.n_samples) if index is None else np.asarray(index)
        a, b = int(rows[row]), int(rows[col])
        raise DataError(
            f"{grm.path}: the GRM has a non-finite value ({matrix[row, col]}) at row {a + 1}, "
            f"column {b + 1} (samples {grm.fid[a]} {grm.iid[a]} and {grm.fid[b]} {grm.iid[b]}); "
            f"{int((~finite).sum())} such entries",
            hint="rebuild it with herit make-grm (or import-grm from a sound GCTA file)",
        )
    return matrix
