"""Fitting REML/ML heritability for one or many phenotypes against a GRM artifact.

Pipeline: read the GRM's samples, the phenotype and covariate files and the
keep/remove lists; for each phenotype find the analysed samples (the
intersection, in GRM order); phenotypes that share a sample set share one
eigendecomposition and one rotation (a single matrix product for the block of
traits); fit each trait with :func:`heritcli.core.reml.fit_spectral_many`.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heritcli.errors import DataError, UsageError
from heritcli.reporting import Reporter, SilentReporter


@dataclass(frozen=True)
class RemlOptions:
    """Options of ``herit reml`` (see :func:`fit_reml`)."""

    grm: str
    pheno: str
    mpheno: int | None = None
    pheno_name: str | None = None
    all_pheno: bool = False
    covar: str | None = None
    qcovar: str | None = None
    keep: str | None = None
    remove: str | None = None
    method: str = "reml"
    constrain: bool = True
    prevalence: float | None = None
    eigen: str | None = None
    cache_eigen: bool = True
    threads: int | None = None

    def validate(self) -> None:
        if self.method not in ("reml", "ml"):
            raise UsageError(f"--method must be reml or ml, got {self.method}")
        if self.all_pheno and (self.mpheno is not None or self.pheno_name is not None):
            raise UsageError("--all-pheno cannot be combined with --mpheno or --pheno-name")
        if self.prevalence is not None and not 0.0 < self.prevalence < 1.0:
            raise UsageError(
                f"--prevalence must be strictly between 0 and 1, got {self.prevalence}"
            )
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {self.threads}")


@dataclass(frozen=True)
class PhenotypeFit:
    """The fit of one phenotype, with the names and counts needed to report it."""

    name: str
    fit: Any
    covariates: tuple[str, ...]
    n_samples: int
    eigen_source: str
    dropped_covariates: tuple[tuple[str, str], ...] = ()
    liability: dict[str, float] | None = None
    reconciliation: list[str] = field(default_factory=list)
    #: ``logL_GCTA − logL``: +½·df·log 2π − ½·log|XᵀX| for REML, +½·n·log 2π for ML.
    logl_gcta_shift: float = 0.0

    @property
    def se_not_estimable(self) -> str | None:
        """Why the standard errors are not estimable (None when they are)."""
        return se_not_estimable_reason(self.fit)

    def to_dict(self) -> dict[str, Any]:
        fit = self.fit.to_dict()
        out: dict[str, Any] = {"name": self.name, "n": self.n_samples}
        out["se_not_estimable"] = self.se_not_estimable
        out.update(fit)
        out["df"] = fit.pop("df_lrt", 1)
        out.pop("df_lrt", None)
        out["covariates"] = list(self.covariates)
        out["dropped_covariates"] = [list(d) for d in self.dropped_covariates]
        out["logl_gcta"] = fit["logl"] + self.logl_gcta_shift
        out["logl0_gcta"] = fit["logl0"] + self.logl_gcta_shift
        out["eigen_source"] = self.eigen_source
        if self.liability is not None:
            out.update(self.liability)
        return out


@dataclass(frozen=True)
class RemlReport:
    """Results of :func:`fit_reml` for every phenotype analysed."""

    phenotypes: list[PhenotypeFit]
    grm: str
    grm_fingerprint: str
    method: str
    seconds: float
    dropped: list[tuple[str, str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from heritcli._version import __version__

        return {
            "herit_version": __version__,
            "grm": self.grm,
            "grm_fingerprint": self.grm_fingerprint,
            "method": self.method,
            "seconds": self.seconds,
            "phenotypes": [p.to_dict() for p in self.phenotypes],
        }


def fit_reml(options: RemlOptions, *, reporter: Reporter | None = None) -> RemlReport:
    """Fit h² by REML (or ML) for the selected phenotypes.

    Returns
    -------
    RemlReport
    """
    from heritcli.core.reml import fit_spectral_many
    from heritcli.eigen_run import eigen_for_samples
    from heritcli.io.grm_artifact import read_grm_artifact
    from heritcli.io.tables import (
        SampleSource,
        build_design,
        read_covariates,
        read_id_list,
        read_phenotypes,
        read_qcovariates,
        reconcile,
        select_phenotype,
    )
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    started = time.perf_counter()
    grm = read_grm_artifact(options.grm)
    reporter.info(f"{grm.path}: GRM of {grm.n_samples} samples, {grm.n_snps} SNPs")
    table = read_phenotypes(options.pheno)
    if options.all_pheno:
        columns = list(range(len(table.names)))
    else:
        chosen = select_phenotype(table, options.mpheno, options.pheno_name)
        columns = [table.names.index(chosen.names[0])]
    covariate_tables = []
    if options.covar is not None:
        covariate_tables.append(read_covariates(options.covar))
    if options.qcovar is not None:
        covariate_tables.append(read_qcovariates(options.qcovar))
    keep = read_id_list(options.keep, what="keep") if options.keep else None
    remove = read_id_list(options.remove, what="remove") if options.remove else None
    grm_ids = list(zip(grm.fid.tolist(), grm.iid.tolist(), strict=True))

    # Group phenotypes by their analysed sample set: one decomposition and rotation each.
    groups: OrderedDict[tuple[int, ...], list[tuple[int, Any]]] = OrderedDict()
    dropped: list[tuple[str, str, str, str]] = []
    # A phenotype without missing values enters the reconciliation only through its name, in
    # messages about missing values that cannot occur: all such phenotypes share one.
    complete_rec = None
    for j in columns:
        complete = not np.isnan(table.values[:, j]).any()
        rec = complete_rec if complete else None
        if rec is None:
            rec = reconcile(
                grm_ids,
                [SampleSource.from_phenotype(table, j), *covariate_tables],
                keep=keep,
                remove=remove,
                grm_label=os.fspath(grm.path),
            )
            if complete:
                complete_rec = rec
        name = table.names[j]
        for line in rec.summary_lines():
            reporter.detail(f"{name}: {line}")
        dropped.extend((f, i, name, why) for f, i, why in rec.dropped)
        assert rec.grm_index is not None  # a GRM was given, so indices refer to it
        groups.setdefault(tuple(int(k) for k in rec.grm_index), []).append((j, rec))

    fits: dict[int, PhenotypeFit] = {}
    with limit_threads(options.threads):
        for index_key, members in groups.items():
            index = np.array(index_key, dtype=np.int64)
            first_rec = members[0][1]
            if index.size < 3:
                names = ", ".join(table.names[j] for j, _ in members)
                raise DataError(
                    f"phenotype {names} of {options.pheno}: only {index.size} "
                    f"sample{'s' if index.size != 1 else ''} to analyse (REML needs at least 3)",
                    hint="; ".join(first_rec.summary_lines()),
                )
            design = build_design(
                covariate_tables or None,
                [first_rec.rows(k + 1) for k in range(len(covariate_tables))]
                if covariate_tables
                else np.arange(index.size),
            )
            for warning in design.warnings():
                reporter.warning(warning)
            x = np.asarray(design.matrix, dtype=np.float64)
            y = np.column_stack(
                [np.asarray(table.values[rec.rows(0), j], dtype=np.float64) for j, rec in members]
            )
            _check_traits(y, [table.names[j] for j, _ in members], options.pheno, design)
            values, vectors, source = eigen_for_samples(
                grm,
                index,
                eigen_path=options.eigen,
                cache=options.cache_eigen,
                reporter=reporter,
            )
            reporter.info(
                f"{index.size} samples, {x.shape[1]} fixed effects; eigendecomposition: {source}"
            )
            y_rot = vectors.T @ y
            x_rot = vectors.T @ x
            del vectors
            try:
                results = fit_spectral_many(
                    values,
                    y_rot,
                    x_rot,
                    method=options.method,
                    constrain=options.constrain,
                )
            except DataError as exc:
                # The core names columns by position in this block; say which file it is.
                names = ", ".join(table.names[j] for j, _ in members)
                raise DataError(
                    f"{options.pheno} (phenotype {names}): {exc.message}", hint=exc.hint
                ) from None
            shift = _gcta_logl_shift(x, options.method)
            for k, ((j, rec), fit) in enumerate(zip(members, results, strict=True)):
                liability = None
                if options.prevalence is not None:
                    # Imported only when needed: it loads scipy.stats (half a second).
                    from heritcli.core.liability import observed_to_liability

                    liability = _liability(
                        fit, y[:, k], options.prevalence, table.names[j], observed_to_liability
                    )
                fits[j] = PhenotypeFit(
                    name=table.names[j],
                    fit=fit,
                    covariates=tuple(design.names),
                    n_samples=int(index.size),
                    eigen_source=source,
                    dropped_covariates=tuple(design.dropped),
                    liability=liability,
                    reconciliation=rec.summary_lines(),
                    logl_gcta_shift=shift,
                )
    return RemlReport(
        phenotypes=[fits[j] for j in columns],
        grm=os.fspath(grm.path),
        grm_fingerprint=grm.fingerprint,
        method=options.method,
        seconds=time.perf_counter() - started,
        dropped=dropped,
    )


def se_not_estimable_reason(fit: Any) -> str | None:
    """The reason a fit has no standard errors, in words (None when it has them).

    The SEs come from the inverse of the expected information for (V(G), V(e)); when
    that matrix is singular or not positive definite (at an end of the allowed range,
    where V is nearly singular) they are not estimable and the profile-likelihood
    interval is the measure of uncertainty to use.
    """
    if fit.h2_se is not None and math.isfinite(fit.h2_se):
        return None
    where = (
        f"at the {fit.boundary} end of the allowed range (h2 = {fit.h2:.4g})"
        if fit.boundary
        else f"at h2 = {fit.h2:.4g}"
    )
    return (
        f"the information matrix of V(G) and V(e) is singular {where}; use the "
        f"profile-likelihood interval [{fit.h2_ci[0]:.3f}, {fit.h2_ci[1]:.3f}]"
    )


def trait_file_names(names: list[str]) -> list[str]:
    """Names safe to put in output file names (``P.<name>.hsq``), one per trait, distinct.

    A phenotype column name comes from the user's file and may hold ``/``, ``..`` or
    other characters that would write outside ``--out``: every character other than
    letters, digits, ``_``, ``-``, ``+`` and ``.`` becomes ``_``, a leading dot is
    dropped, and a clash gets the column number appended.
    """
    import re

    safe: list[str] = []
    for k, name in enumerate(names, start=1):
        text = re.sub(r"[^A-Za-z0-9_.+-]", "_", name).lstrip(".") or f"pheno{k}"
        if text in safe:
            text = f"{text}_{k}"
        safe.append(text)
    return safe


def _gcta_logl_shift(x: np.ndarray, method: str) -> float:
    """``logL_GCTA − logL``: GCTA leaves out the 2π term and, for REML, log|XᵀX|."""
    n, c = x.shape
    if method == "ml":
        return 0.5 * n * math.log(2 * math.pi)
    _, xtx_logdet = np.linalg.slogdet(x.T @ x)
    return 0.5 * (n - c) * math.log(2 * math.pi) - 0.5 * float(xtx_logdet)


def _check_traits(y: np.ndarray, names: list[str], source: str, design: Any) -> None:
    """Refuse, by name and before any decomposition, traits with nothing left to analyse."""
    basis = np.linalg.qr(np.asarray(design.matrix, dtype=np.float64))[0]
    from heritcli.io.tables import check_magnitude

    for k, name in enumerate(names):
        column = y[:, k]
        if column.size < 3:
            raise DataError(f"phenotype {name} of {source}: only {column.size} samples to analyse")
        check_magnitude(column - column.mean(), f"phenotype {name} of {source}")
        if np.ptp(column) == 0:
            raise DataError(
                f"phenotype {name} of {source} is constant ({column[0]:g}) over the "
                f"{column.size} analysed samples"
            )
        # Same rule as heritcli.core.reml: residual sum of squares ≤ 1e-20·yᵀy (the rotation
        # by the eigenvectors preserves both).
        residual = column - basis @ (basis.T @ column)
        if float(residual @ residual) <= 1e-20 * float(column @ column):
            shown = ", ".join(design.names[:6]) + (", ..." if len(design.names) > 6 else "")
            raise DataError(
                f"phenotype {name} of {source} is a linear combination of the covariates "
                f"({shown}): nothing is left to analyse after removing them"
            )


def _liability(
    fit: Any, y: np.ndarray, prevalence: float, name: str, convert: Any
) -> dict[str, float]:
    levels = np.unique(y)
    if levels.size != 2 or not (np.array_equal(levels, [0, 1]) or np.array_equal(levels, [1, 2])):
        raise DataError(
            f"--prevalence needs a 0/1 (or 1/2) case-control phenotype; {name} has "
            f"{levels.size} distinct values"
        )
    cases = float(np.mean(y == levels[1]))
    h2_l, se_l = convert(fit.h2, fit.h2_se, prevalence, cases)
    return {
        "prevalence": prevalence,
        "sample_prevalence": cases,
        "h2_liability": h2_l,
        "h2_liability_se": se_l,
    }


def format_hsq(result: PhenotypeFit) -> str:
    """The ``.hsq`` text in GCTA's layout (tab-separated ``Source Variance SE`` rows).

    ``logL`` and ``logL0`` are printed as GCTA prints them (without the
    −½·df·log 2π and +½·log|XᵀX| constants, see :mod:`heritcli.core.reml`),
    so that the file can be compared with GCTA's directly; the JSON output
    carries both conventions.
    """
    fit = result.fit

    def number(value: float | None, digits: int = 6) -> str:
        if value is None or not math.isfinite(value):
            return "NA"
        return f"{value:.{digits}f}"

    rows = [
        "Source\tVariance\tSE",
        f"V(G)\t{number(fit.vg)}\t{number(fit.vg_se)}",
        f"V(e)\t{number(fit.ve)}\t{number(fit.ve_se)}",
        f"Vp\t{number(fit.vp)}\t{number(fit.vp_se)}",
        f"V(G)/Vp\t{number(fit.h2)}\t{number(fit.h2_se)}",
    ]
    if result.liability is not None:
        rows.append(
            f"V(G)/Vp_L\t{number(result.liability['h2_liability'])}\t"
            f"{number(result.liability['h2_liability_se'])}"
        )
    rows += [
        f"logL\t{number(fit.logl + result.logl_gcta_shift, 3)}",
        f"logL0\t{number(fit.logl0 + result.logl_gcta_shift, 3)}",
        f"LRT\t{number(fit.lrt, 3)}",
        f"df\t{fit.df_lrt}",
        f"Pval\t{fit.pval:.4g}",
        f"n\t{result.n_samples}",
    ]
    return "\n".join(rows) + "\n"


def to_plain(obj: Any) -> Any:
    """Dataclasses and numpy values as JSON-ready Python objects (NaN/inf → None)."""
    if hasattr(obj, "to_dict"):
        return to_plain(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist())
    if isinstance(obj, np.generic):
        return to_plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


__all__ = [
    "PhenotypeFit",
    "RemlOptions",
    "RemlReport",
    "fit_reml",
    "format_hsq",
    "se_not_estimable_reason",
    "to_plain",
    "trait_file_names",
]
