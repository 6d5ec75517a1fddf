"""herit's Python API: the functions the command line calls.

Examples
--------
>>> import heritcli
>>> result = heritcli.make_grm("example_data/example", out="example")  # doctest: +SKIP
>>> result.n_snps_used  # doctest: +SKIP
10996
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import InputError
from heritcli.grm_build import MakeGrmOptions, MakeGrmResult, build_grm
from heritcli.reporting import Reporter, SilentReporter


def make_grm(
    bfile: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    command: str = "",
    **options: Any,
) -> MakeGrmResult:
    """Build the standardized GRM of a PLINK fileset and save it as ``OUT.h5``.

    Parameters
    ----------
    bfile : path
        Prefix of the ``.bed``/``.bim``/``.fam`` files.
    out : path, optional
        Output prefix (``OUT.h5``); default: the fileset's basename in the
        working directory.
    reporter : Reporter, optional
        Receives progress and messages (default: silent).
    **options
        Any field of :class:`~heritcli.grm_build.MakeGrmOptions`: ``maf``,
        ``max_maf``, ``geno``, ``keep``, ``remove``, ``extract``, ``exclude``,
        ``chromosomes``, ``autosome``, ``dtype``, ``block_snps``, ``threads``,
        ``part`` (``"I/N"``: compute part I of N and write ``OUT.part_N_I.h5``),
        ``freq`` (a frequency file), ``scheduler`` (a dask scheduler address or
        scheduler file), ``memory`` (budget in GiB, or a string like ``"16G"``),
        ``force``.

    Returns
    -------
    MakeGrmResult, or GrmPartResult with ``part``

    Notes
    -----
    For SNP ``i`` with A1 frequency ``p_i`` (non-missing calls of the kept
    samples), ``z_ij = (x_ij − 2p_i)/√(2p_i(1−p_i))`` and missing ``z = 0``; the
    GRM is ``K_jk = Σ_i z_ij z_ik / N_jk`` with ``N_jk`` the number of SNPs
    non-missing in both samples (Yang et al. 2011, AJHG 88:76), exactly as
    plink1.9 ``--make-grm-bin`` and GCTA compute it.  Monomorphic SNPs are dropped.
    """
    opts = MakeGrmOptions(bfile=os.fspath(bfile), out=None if out is None else os.fspath(out))
    if isinstance(options.get("memory"), str):
        from heritcli.memory_budget import parse_memory

        options["memory"] = parse_memory(options["memory"])
    opts = replace(opts, **options)
    return build_grm(opts, command=command, reporter=reporter or SilentReporter())


def merge_grm(
    grms: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    reporter: Reporter | None = None,
    command: str = "",
) -> Any:
    """Merge GRM parts (``make-grm --part``), or GRMs of disjoint SNP sets, into ``OUT.h5``.

    Parts must be complete and consistent; the result equals the one-shot GRM.
    Whole GRMs of the same samples on disjoint SNP sets are combined as
    ``K = Σ_c N_c ∘ K_c / Σ_c N_c`` (GCTA ``--mgrm``).  See :mod:`heritcli.grm_merge`.

    Returns
    -------
    MergeGrmResult
    """
    from heritcli.grm_merge import merge_grm as _merge

    return _merge(grms, out, command=command, reporter=reporter or SilentReporter())


def allele_frequencies(
    bfile: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    reporter: Reporter | None = None,
    **options: Any,
) -> Any:
    """Count alleles once and write ``OUT.freq`` (for ``make-grm --freq``).

    ``options``: ``keep``, ``remove``, ``extract``, ``exclude``, ``chromosomes``,
    ``autosome``, ``block_snps`` as in :func:`make_grm`.

    Returns
    -------
    FreqResult
    """
    from heritcli.allele_freq import frequency_table

    opts = replace(MakeGrmOptions(bfile=os.fspath(bfile)), **options)
    opts.validate()
    return frequency_table(opts, out, reporter or SilentReporter())


def export_grm(grm: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[Path]:
    """Write an herit GRM artifact as GCTA binary files ``OUT.grm.{bin,N.bin,id}``.

    Without pairwise counts in the artifact (no missing genotypes), every entry
    of ``.grm.N.bin`` is the number of SNPs used, as GCTA writes it.
    """
    from heritcli.io.gcta import write_gcta_grm
    from heritcli.io.grm_artifact import read_grm_artifact

    artifact = read_grm_artifact(grm)
    values = artifact.load_values()
    counts = artifact.load_n_pairs()

    def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        return values[start:stop], None if counts is None else counts[start:stop]

    return write_gcta_grm(
        out, artifact.fid, artifact.iid, rows, artifact.n_samples, n_snps=artifact.n_snps
    )


def import_grm(
    prefix: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    command: str = "",
) -> str:
    """Convert a GCTA binary GRM (from GCTA, plink or LDAK) into an herit artifact.

    Returns
    -------
    str
        The path of the artifact written.
    """
    from heritcli.io.artifact import file_fingerprint
    from heritcli.io.gcta import gcta_paths, read_gcta_grm
    from heritcli.io.grm_artifact import write_grm_artifact

    grm = read_gcta_grm(prefix)
    n = grm.fid.shape[0]
    n_snps = 0
    if grm.n_pairs is not None:
        n_snps = round(float(np.max(grm.n_pairs)))
    counts = grm.n_pairs
    varying = counts is not None and float(np.min(counts)) != float(np.max(counts))
    target = Path(os.fspath(out) if os.fspath(out).endswith(".h5") else os.fspath(out) + ".h5")
    bin_path, n_path, id_path = gcta_paths(prefix)
    inputs = {"grm.bin": file_fingerprint(bin_path), "grm.id": file_fingerprint(id_path)}
    if n_path.exists():
        inputs["grm.N.bin"] = file_fingerprint(n_path)

    def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        pairs = counts[start:stop] if varying and counts is not None else None
        return grm.values[start:stop], pairs

    write_grm_artifact(
        target,
        n_samples=n,
        rows=rows,
        has_n_pairs=varying,
        fid=grm.fid,
        iid=grm.iid,
        n_snps=n_snps,
        dtype=dtype,
        snps=None,
        command=command,
        params={"import_from": os.fspath(prefix), "dtype": dtype},
        inputs=inputs,
        grm_attrs={"source": "GCTA binary GRM"},
    )
    return os.fspath(target)


def load_grm(path: str | os.PathLike[str]) -> Any:
    """Open a GRM given as an herit artifact (``.h5``) or a GCTA binary prefix.

    Returns
    -------
    GrmArtifact
        For a GCTA prefix, the values are imported into a temporary in-memory view.
    """
    from heritcli.io.gcta import is_gcta_prefix
    from heritcli.io.grm_artifact import read_grm_artifact

    text = os.fspath(path)
    if not text.endswith(".h5") and is_gcta_prefix(text):
        raise InputError(
            f"{text} is a GCTA binary GRM; convert it once with: herit import-grm {text} --out NAME"
        )
    return read_grm_artifact(text)


def inspect_artifact(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe an herit artifact: its kind, size, content summary and provenance."""
    import json

    from heritcli.io.artifact import open_artifact

    path = Path(path)
    with open_artifact(path, None) as handle:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in handle.attrs.items()}
        kind = attrs["herit_format"]
        info: dict[str, Any] = {"path": os.fspath(path), "kind": kind}
        for key in ("format_version", "herit_version", "created_utc", "command", "fingerprint"):
            info[key] = _plain(attrs.get(key))
        info["params"] = json.loads(attrs.get("params", "{}"))
        info["inputs"] = json.loads(attrs.get("inputs", "{}"))
        if kind == "grm" and "grm_part" in attrs:
            info["kind"] = "grm part"
            info["part"] = _plain(attrs["grm_part"])
            for key in ("row_start", "row_stop", "n_samples", "n_snps", "dtype", "any_missing"):
                info[key] = _plain(attrs.get(key))
            for key in ("sample_hash", "snp_hash", "freq_hash", "freq_source"):
                info[key] = _plain(attrs.get(key))
        elif kind == "grm":
            values = handle["grm/values"]
            info["n_samples"] = int(values.shape[0])
            info["dtype"] = values.dtype.name
            info.update({k: _plain(v) for k, v in values.attrs.items()})
            info["has_n_pairs"] = "grm/n_pairs" in handle
            if "snps" in handle:
                reason = handle["snps/reason"].asstr()[()]
                unique, counts = np.unique(reason, return_counts=True)
                info["snps_in_bim"] = int(reason.shape[0])
                info["snps_dropped"] = {
                    str(u): int(c) for u, c in zip(unique, counts, strict=True) if u
                }
        else:
            for name in handle:
                info[f"group:{name}"] = list(handle[name].keys())
    return info


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


__all__ = [
    "allele_frequencies",
    "export_grm",
    "import_grm",
    "inspect_artifact",
    "load_grm",
    "make_grm",
    "merge_grm",
]
