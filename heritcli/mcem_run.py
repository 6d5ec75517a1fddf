"""Spike-and-slab heritability from a PLINK fileset: the ``herit mcem`` pipeline.

Pipeline: select samples and SNPs exactly as ``make-grm`` does (``--keep``/``--remove``, then
``--extract``/``--exclude``, call rate and MAF on the kept samples); reconcile the kept samples
with the phenotype and covariates as ``reml`` does; read the ``.bed`` once, keeping the int8
genotypes of the analysed samples and accumulating their GRM from the same standardized
genotypes; fit REML on that GRM for the starting values; run the multi-chain SAEM of
:func:`heritcli.core.mcem.fit_spike_slab`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from heritcli.errors import ConvergenceError, DataError, UsageError
from heritcli.reporting import Reporter, SilentReporter

#: Iteration cap per chain when none is given.
DEFAULT_ITERATIONS = 1500
#: Burn-in iterations (γ_t = 1, accelerated π) when none is given.
DEFAULT_BURN_IN = 200
DEFAULT_CHAINS = 4
DEFAULT_SEED = 1


@dataclass(frozen=True)
class McemOptions:
    """Options of ``herit mcem`` (see :func:`fit_mcem`)."""

    bfile: str
    pheno: str
    mpheno: int | None = None
    pheno_name: str | None = None
    covar: str | None = None
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    maf: float = 0.0
    geno: float | None = None
    chains: int = DEFAULT_CHAINS
    iterations: int = DEFAULT_ITERATIONS
    burn_in: int = DEFAULT_BURN_IN
    seed: int = DEFAULT_SEED
    pi_start: float | None = None
    threads: int | None = None
    allow_no_converge: bool = False
    engine: str = "auto"

    def validate(self) -> None:
        """Raise :class:`UsageError` for out-of-range or conflicting values."""
        if not 0.0 <= self.maf <= 0.5:
            raise UsageError(f"--maf must be between 0 and 0.5, got {self.maf}")
        if self.geno is not None and not 0.0 <= self.geno <= 1.0:
            raise UsageError(f"--geno must be between 0 and 1, got {self.geno}")
        if self.chains < 1:
            raise UsageError(f"--chains must be at least 1, got {self.chains}")
        if self.burn_in < 1:
            raise UsageError(f"--burn-in must be at least 1, got {self.burn_in}")
        if self.iterations < self.burn_in + 20:
            raise UsageError(
                f"--iterations {self.iterations} leaves fewer than 20 iterations after "
                f"--burn-in {self.burn_in}",
                hint="--iterations counts the burn-in too",
            )
        if self.pi_start is not None and not 0.0 < self.pi_start < 1.0:
            raise UsageError(f"--pi-start must be strictly between 0 and 1, got {self.pi_start}")
        if self.seed < 0 or self.seed >= 2**63:
            raise UsageError(f"--seed must be a non-negative integer below 2^63, got {self.seed}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {self.threads}")
        if self.mpheno is not None and self.pheno_name is not None:
            raise UsageError("--mpheno and --pheno-name cannot be used together")
        if self.engine not in ("auto", "numba", "numpy"):
            raise UsageError(f"engine must be auto, numba or numpy, got {self.engine}")

    def pi_starts(self) -> tuple[float, ...]:
        """The starting π of each chain: ``--pi-start`` for all, or dispersed defaults."""
        from heritcli.core.mcem import dispersed_pi_starts

        if self.pi_start is not None:
            return (self.pi_start,) * self.chains
        return dispersed_pi_starts(self.chains)

    def grm_options(self) -> Any:
        """The make-grm options with the same sample and SNP selection."""
        from heritcli.grm_build import MakeGrmOptions

        return MakeGrmOptions(
            bfile=self.bfile,
            maf=self.maf,
            geno=self.geno,
            keep=self.keep,
            remove=self.remove,
            extract=self.extract,
            exclude=self.exclude,
            threads=self.threads,
        )


@dataclass(frozen=True)
class McemReport:
    """Results of :func:`fit_mcem`.

    Attributes
    ----------
    fit : heritcli.core.mcem.McemFit
        Estimates, standard errors, diagnostics, traces and per-SNP results.
    reml : heritcli.core.reml.RemlFit
        The REML fit on the GRM of the same standardized genotypes (the starting values).
    phenotype : str
        Name of the phenotype column analysed.
    n_samples, n_snps : int
        Samples analysed and SNPs in the model (M).
    snp_id, chrom, pos, a1, a2 : ndarray
        The M SNPs in the model, in ``.bim`` order.
    freq : ndarray
        A1 frequency of each SNP (kept samples, as make-grm).
    covariates : tuple of str
        Fixed-effect columns (intercept first).
    dropped : tuple
        ``(FID, IID, reason)`` of every sample not analysed.
    snps_dropped : dict
        Number of SNPs dropped by each filter.
    options : McemOptions
    engine : str
        The sweep implementation that ran (``numba`` or ``numpy``).
    seconds : float
    timings : dict
    """

    fit: Any
    reml: Any
    phenotype: str
    n_samples: int
    n_snps: int
    snp_id: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    freq: np.ndarray
    covariates: tuple[str, ...]
    dropped: tuple[tuple[str, str, str], ...]
    snps_dropped: dict[str, int]
    options: McemOptions
    engine: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    reconciliation: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``P.mcem.json`` (without per-SNP and per-iteration data)."""
        from heritcli._version import __version__

        fit = self.fit
        reml = self.reml
        out: dict[str, Any] = {
            "herit_version": __version__,
            "phenotype": self.phenotype,
            "h2": fit.params.h2,
            "h2_se": fit.h2_se,
            "pi": fit.params.pi,
            "pi_se": fit.pi_se,
            "pi_times_m": fit.params.pi * self.n_snps,
            "pi_identified": fit.pi_identified,
            "pi_range_of_chains": list(fit.pi_range),
            "sigma_g2": fit.params.sigma_g2,
            "sigma_g2_se": fit.sigma_g2_se,
            "sigma_e2": fit.params.sigma_e2,
            "sigma_e2_se": fit.sigma_e2_se,
            "h2_realised": fit.h2_realised,
            "h2_realised_sd": fit.h2_realised_sd,
            "h2_realised_interval": list(fit.h2_realised_interval),
            "n": self.n_samples,
            "n_snps": self.n_snps,
            "n_covariates": len(self.covariates),
            "covariates": list(self.covariates),
            "iterations": fit.iterations,
            "burn_in": fit.burn_in,
            "converged": fit.converged,
            "converged_by": fit.converged_by,
            "convergence_rule": fit.convergence_rule,
            "rhat": {"h2": fit.rhat_h2, "pi": fit.rhat_pi},
            "chains": [c.to_dict() for c in fit.chains],
            "chosen_chains": list(fit.chosen_chains),
            "seed": self.options.seed,
            "engine": self.engine,
            "se_method": "central differences of Fisher's score (common random numbers)",
            "h2_se_chains": list(fit.h2_se_chains),
            "louis": {
                "h2_se": fit.louis_h2_se,
                "pi_se": fit.louis_pi_se,
                "missing_information": fit.missing_information,
            },
            "reml": {
                "h2": reml.h2,
                "h2_se": reml.h2_se,
                "sigma_g2": reml.vg,
                "sigma_e2": reml.ve,
                "logl": reml.logl,
            },
            "n_expected_causal": fit.params.pi * self.n_snps,
            "n_snps_pip_above_0.5": int(np.count_nonzero(fit.pip > 0.5)),
            "sweeps": fit.sweeps,
            "notes": list(fit.notes),
            "not_estimable": self.not_estimable(),
            "seconds": self.seconds,
            "timings": dict(self.timings),
            "snps_dropped": dict(self.snps_dropped),
            "options": asdict(self.options),
        }
        return _plain(out)

    def not_estimable(self) -> dict[str, str]:
        """For each reported quantity without a finite value, the reason in words."""
        fit = self.fit
        reasons: dict[str, str] = {}

        def missing(value: float | None) -> bool:
            return value is None or not math.isfinite(value)

        if missing(fit.h2_se) or missing(fit.sigma_g2_se) or missing(fit.sigma_e2_se):
            text = (
                "the observed information of V(G) and V(e) is not positive definite at the "
                f"estimate (h2 = {fit.params.h2:.4g}): the likelihood is flat there, typically "
                "at a boundary or with too few iterations after the burn-in"
            )
            for key in ("h2_se", "sigma_g2_se", "sigma_e2_se"):
                if missing(getattr(fit, key)):
                    reasons[key] = text
        if missing(fit.pi_se):
            reasons["pi_se"] = (
                "pi is weakly identified: the observed information of pi is not positive "
                "(the likelihood is flat in pi near the estimate)"
            )
        if missing(fit.rhat_h2) or missing(fit.rhat_pi):
            reasons["rhat"] = "too few iterations after the burn-in to compare chains (R-hat)"
        if missing(fit.h2_realised_sd):
            reasons["h2_realised_sd"] = "a single window of iterations after the burn-in"
        return reasons

    def pip_rows(self) -> list[str]:
        """Lines of ``P.mcem.pip.tsv`` (header first)."""
        fit = self.fit
        scale = 1.0 / np.sqrt(2.0 * self.freq * (1.0 - self.freq))
        lines = ["SNP\tCHR\tBP\tA1\tA2\tPIP\tBETA\tBETA_A1"]
        for j in range(self.n_snps):
            lines.append(
                f"{self.snp_id[j]}\t{self.chrom[j]}\t{self.pos[j]}\t{self.a1[j]}\t{self.a2[j]}\t"
                f"{fit.pip[j]:.6g}\t{fit.beta_mean[j]:.6g}\t{fit.beta_mean[j] * scale[j]:.6g}"
            )
        return lines


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class _Genotypes:
    counts: np.ndarray
    freq: np.ndarray
    snps: np.ndarray
    reason: np.ndarray
    grm: np.ndarray


def _read_genotypes(
    fileset: Any,
    kept: np.ndarray,
    analysed: np.ndarray,
    grm_options: Any,
    reporter: Reporter,
    threads: int,
) -> _Genotypes:
    """Read the ``.bed`` once: int8 genotypes of the analysed samples and their GRM.

    Frequencies and filters use the kept samples (as make-grm); the GRM is that of the
    analysed samples, with make-grm's standardization and pair counts.
    """
    from heritcli.core.grm import GrmAccumulator, grm_rows, symmetrize_lower
    from heritcli.core.standardize import block_stats, standardize
    from heritcli.grm_build import _runs, auto_block_snps, dynamic_snp_filter, static_snp_filter

    reason = static_snp_filter(fileset.bim, grm_options, reporter)
    candidates = np.flatnonzero(reason == "")
    if candidates.size == 0:
        raise DataError(f"no variants left in {fileset.bim_path} after --extract/--exclude")
    n = analysed.size
    all_kept = kept.size == fileset.n_samples
    block = auto_block_snps(kept.size)
    counts_out = np.empty((candidates.size, n), dtype=np.int8)
    freq = np.full(fileset.n_snps, np.nan)
    used_rows = 0
    # float64 products: the REML starting values must not depend on the BLAS thread count
    # beyond the last bits (they are rounded before the chains start, see fit_mcem).
    acc = GrmAccumulator(n, precision="float64", max_snps=int(candidates.size))
    with reporter.task("reading genotypes", total=int(candidates.size), unit="SNPs") as progress:
        for snps in _runs(candidates, block):
            contiguous = snps[-1] - snps[0] + 1 == snps.size
            index = None if all_kept else kept
            if contiguous:
                counts = fileset.read_counts(int(snps[0]), int(snps[-1]) + 1, index)
            else:
                counts = fileset.read_snps(snps, index)
            stats = block_stats(counts)
            freq[snps] = stats.freq
            why = dynamic_snp_filter(stats, grm_options)
            reason[snps] = why
            used = why == ""
            if used.any():
                sub = counts[used][:, analysed]
                counts_out[used_rows : used_rows + sub.shape[0]] = sub
                used_rows += sub.shape[0]
                z = standardize(sub, stats.freq[used], dtype=np.float64)
                missing = (sub < 0) if (sub < 0).any() else None
                acc.add(z, missing)
            progress.advance(int(snps.size))
    if used_rows == 0:
        raise DataError("no variants passed the filters")
    sums = acc.finish()
    symmetrize_lower(sums.zz)
    if sums.ss is not None:
        symmetrize_lower(sums.ss)
    grm, _ = grm_rows(sums, 0, n)
    snps = np.flatnonzero(reason == "")
    return _Genotypes(
        counts=counts_out[:used_rows],
        freq=freq[snps],
        snps=snps,
        reason=reason,
        grm=np.array(grm, dtype=np.float64),
    )


def fit_mcem(options: McemOptions, reporter: Reporter | None = None) -> McemReport:
    """Fit h² and π of the spike-and-slab model to one phenotype.

    Parameters
    ----------
    options : McemOptions
    reporter : Reporter, optional
        Receives progress (with the current ĥ², π̂ and R̂) and messages.

    Returns
    -------
    McemReport

    Raises
    ------
    UsageError, InputError, DataError
        Bad options or inputs (as ``make-grm`` and ``reml``).
    ConvergenceError
        The chains did not meet the convergence rule within ``iterations`` and
        ``allow_no_converge`` is False.

    Notes
    -----
    See :mod:`heritcli.core.mcem` for the model, the sampler, the schedule and the standard
    errors.
    """
    from heritcli.core.eigen import eigendecompose
    from heritcli.core.mcem import McemSettings, fit_spike_slab, prepare_sweep_data, resolve_engine
    from heritcli.core.reml import fit_spectral
    from heritcli.grm_build import _reason_counts, select_samples
    from heritcli.io.plink import open_bfile
    from heritcli.io.tables import (
        SampleSource,
        build_design,
        read_covariates,
        read_id_list,
        read_phenotypes,
        reconcile,
        select_phenotype,
    )
    from heritcli.threads import available_cores, limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    engine, engine_warning = resolve_engine(options.engine)
    if engine_warning:
        reporter.warning(engine_warning)
    grm_options = options.grm_options()
    fileset = open_bfile(options.bfile)
    reporter.info(
        f"{fileset.bed}: {fileset.n_samples} samples (.fam), {fileset.n_snps} variants (.bim)"
    )
    kept, _ = select_samples(fileset.fam, grm_options, reporter)
    table = read_phenotypes(options.pheno)
    chosen = select_phenotype(table, options.mpheno, options.pheno_name)
    name = chosen.names[0]
    covariate_tables = [read_covariates(options.covar)] if options.covar is not None else []
    keep = read_id_list(options.keep, what="keep") if options.keep else None
    remove = read_id_list(options.remove, what="remove") if options.remove else None
    fam_ids = list(zip(fileset.fam.fid.tolist(), fileset.fam.iid.tolist(), strict=True))
    rec = reconcile(
        fam_ids,
        [SampleSource.from_phenotype(chosen, 0), *covariate_tables],
        keep=keep,
        remove=remove,
        grm_label=os.fspath(fileset.fam_path),
    )
    for line in rec.summary_lines():
        reporter.info(line)
    assert rec.grm_index is not None
    # Positions of the analysed samples among the kept ones (both in .fam order).
    position = {int(k): i for i, k in enumerate(kept.tolist())}
    analysed = np.array([position[int(k)] for k in rec.grm_index], dtype=np.int64)
    y = np.asarray(chosen.values[rec.rows(0), 0], dtype=np.float64)
    if y.size < 3:
        raise DataError(
            f"phenotype {name} of {options.pheno}: only {y.size} "
            f"sample{'s' if y.size != 1 else ''} to analyse (at least 3 are needed)",
            hint="; ".join(rec.summary_lines()),
        )
    from heritcli.io.tables import check_magnitude

    check_magnitude(y - y.mean(), f"phenotype {name} of {options.pheno}")
    if np.ptp(y) == 0:
        raise DataError(
            f"phenotype {name} of {options.pheno} is constant ({y[0]:g}) over the "
            f"{y.size} analysed samples"
        )
    design = build_design(
        covariate_tables or None,
        [rec.rows(k + 1) for k in range(len(covariate_tables))]
        if covariate_tables
        else np.arange(y.size),
    )
    for warning in design.warnings():
        reporter.warning(warning)
    x = np.asarray(design.matrix, dtype=np.float64)
    threads = options.threads or available_cores()
    with limit_threads(threads):
        t0 = time.perf_counter()
        geno = _read_genotypes(fileset, kept, analysed, grm_options, reporter, threads)
        timings["read"] = time.perf_counter() - t0
        m = geno.counts.shape[0]
        reporter.info(
            f"{y.size} samples, {m} SNPs, {x.shape[1]} fixed effects; genotypes held as int8 "
            f"({geno.counts.nbytes / 2**20:.1f} MiB)"
        )
        t0 = time.perf_counter()
        values, vectors = eigendecompose(geno.grm, overwrite=True)
        del geno.grm
        reml = fit_spectral(values, vectors.T @ y, vectors.T @ x)
        del vectors
        timings["reml"] = time.perf_counter() - t0
        reporter.info(
            f"REML starting values: h2 = {reml.h2:.4f} (SE {_fmt(reml.h2_se)}), "
            f"V(G) = {reml.vg:.4g}, V(e) = {reml.ve:.4g}"
        )
    # From here on one BLAS thread: the chains run in parallel threads of their own, and
    # single-threaded BLAS makes every number after this point independent of --threads.
    with limit_threads(1):
        t0 = time.perf_counter()
        data = prepare_sweep_data(geno.counts, geno.freq, x)
        timings["prepare"] = time.perf_counter() - t0
        y_projected = y - data.q @ (data.q.T @ y)
    settings = McemSettings(
        pi_starts=options.pi_starts(),
        max_iterations=options.iterations,
        burn_in=options.burn_in,
        seed=options.seed,
        threads=min(threads, len(options.pi_starts())),
        engine=engine,
    )
    t0 = time.perf_counter()
    total = options.iterations * options.chains
    with (
        limit_threads(1),
        reporter.task(f"mcem ({options.chains} chains)", total=total, unit="sweeps") as progress,
    ):
        status = getattr(progress, "status", None)

        def on_progress(done: int, info: dict[str, float]) -> None:
            progress.advance(done)
            if status is not None:
                status(_status_text(info))

        fit = fit_spike_slab(
            data,
            y_projected,
            sigma_e2=_round(max(reml.ve, 1e-6 * float(np.var(y)))),
            sigma_g2=_round(max(reml.vg, 1e-3 * float(np.var(y)))),
            settings=settings,
            progress=on_progress,
        )
        progress.advance(max(0, total - fit.iterations * options.chains))
    timings["mcem"] = time.perf_counter() - t0
    for note in fit.notes:
        reporter.info(note)
    if fit.converged_by == "likelihood":
        low, high = fit.pi_range
        reporter.info(
            f"converged: the chains agree in h2 and, for pi, in likelihood (their pi*M from "
            f"{low * m:.4g} to {high * m:.4g} are equally supported; the R-hat of pi, "
            f"{_fmt(fit.rhat_pi, 2)}, measures Monte-Carlo spread, not statistical uncertainty)"
        )
    bim = fileset.bim
    snps = geno.snps
    report = McemReport(
        fit=fit,
        reml=reml,
        phenotype=name,
        n_samples=int(y.size),
        n_snps=m,
        snp_id=bim.snp_id[snps],
        chrom=bim.chrom[snps],
        pos=bim.pos[snps],
        a1=bim.a1[snps],
        a2=bim.a2[snps],
        freq=geno.freq,
        covariates=tuple(design.names),
        dropped=tuple(rec.dropped),
        snps_dropped=_reason_counts(geno.reason),
        options=options,
        engine=engine,
        seconds=time.perf_counter() - started,
        timings=timings,
        reconciliation=rec.summary_lines(),
    )
    if not fit.converged:
        message = (
            f"the {options.chains} chains did not converge within {options.iterations} "
            f"iterations (R-hat of h2 {_fmt(fit.rhat_h2, 3)}, of pi {_fmt(fit.rhat_pi, 3)})"
        )
        if not options.allow_no_converge:
            raise ConvergenceError(
                message,
                hint="raise --iterations, or pass --allow-no-converge to write the results "
                "of the chain with the highest likelihood anyway",
            )
        reporter.warning(message + "; results are from the chain(s) with the highest likelihood")
    return report


def _round(value: float, digits: int = 8) -> float:
    """``value`` to ``digits`` significant digits (insulates the chains from BLAS rounding)."""
    return float(f"{value:.{digits - 1}e}")


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "NA"
    return f"{value:.{digits}f}"


def _status_text(info: dict[str, float]) -> str:
    parts = [f"h2 {info['h2']:.3f}", f"pi*M {info['pi_m']:.3g}"]
    if math.isfinite(info.get("rhat_h2", math.nan)):
        parts.append(f"R-hat h2 {info['rhat_h2']:.3f}, pi {info['rhat_pi']:.3f}")
    return ", ".join(parts)


def format_trace(fit: Any) -> str:
    """``P.mcem.trace.tsv``: one line per iteration and chain."""
    columns = fit.trace_columns
    lines = ["\t".join(columns)]
    for row in fit.trace:
        lines.append("\t".join(_trace_cell(c, v) for c, v in zip(columns, row, strict=True)))
    return "\n".join(lines) + "\n"


def _trace_cell(column: str, value: Any) -> str:
    if column in ("chain", "iteration", "k"):
        return str(int(value))
    if column == "phase":
        return str(value)
    return f"{float(value):.6g}"


__all__ = ["McemOptions", "McemReport", "fit_mcem", "format_trace"]
