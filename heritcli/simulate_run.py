"""Simulating phenotypes from real genotypes: the ``herit simulate`` pipeline.

Pipeline: select samples and SNPs as ``make-grm`` does (``--keep``/``--remove``, then
``--chr``/``--extract``/``--exclude``, call rate and MAF on the kept samples); for each replicate
choose the causal SNPs and draw their effects; read the genotypes of the causal SNPs only (never
the whole matrix), standardize them exactly as ``make-grm`` does and accumulate the genetic values;
scale the effects to the target h² and add residuals (:mod:`heritcli.core.simulate`); write
``P.pheno`` and ``P.truth.json``.

Randomness: replicate ``r`` draws from its own streams, spawned from ``--seed`` with
:class:`numpy.random.SeedSequence`, so a replicate does not depend on how many others are asked
for (``y1`` of ``--n-reps 10`` equals ``y1`` of ``--n-reps 1``).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import DataError, InputError, UsageError
from heritcli.reporting import Reporter, SilentReporter

#: Causal SNPs read per block when accumulating genetic values.
READ_BLOCK_SNPS = 4096


@dataclass(frozen=True)
class SimulateOptions:
    """Options of ``herit simulate`` (see :func:`simulate`).

    Exactly one of ``causal``, ``pi`` and ``causal_list`` may be given; with none, every SNP
    that passes the filters is causal (the infinitesimal model that ``reml`` fits).
    """

    bfile: str
    h2: float
    causal: int | None = None
    pi: float | None = None
    causal_list: str | None = None
    effect_dist: str = "normal"
    prevalence: float | None = None
    n_reps: int = 1
    seed: int = 1
    same_causal: bool = False
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    maf: float = 0.0
    geno: float | None = None
    chromosomes: tuple[str, ...] | None = None
    autosome: bool = False

    def validate(self) -> None:
        """Raise :class:`UsageError` for out-of-range or conflicting values."""
        from heritcli.core.simulate import EFFECT_DISTRIBUTIONS

        if not (isinstance(self.h2, int | float) and 0.0 <= self.h2 <= 1.0):
            raise UsageError(f"--h2 must be between 0 and 1, got {self.h2}")
        given = [
            name
            for name, value in (
                ("--causal", self.causal),
                ("--pi", self.pi),
                ("--causal-list", self.causal_list),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise UsageError(f"{' and '.join(given)} cannot be used together")
        if self.causal is not None and self.causal < 1:
            raise UsageError(f"--causal must be a positive number of SNPs, got {self.causal}")
        if self.pi is not None and not 0.0 < self.pi <= 1.0:
            raise UsageError(f"--pi must be in (0, 1], got {self.pi}")
        if self.effect_dist not in EFFECT_DISTRIBUTIONS:
            raise UsageError(
                f"--effect-dist must be one of {', '.join(EFFECT_DISTRIBUTIONS)}, "
                f"got {self.effect_dist}"
            )
        if self.prevalence is not None and not 0.0 < self.prevalence < 1.0:
            raise UsageError(
                f"--prevalence must be strictly between 0 and 1, got {self.prevalence}"
            )
        if self.n_reps < 1:
            raise UsageError(f"--n-reps must be at least 1, got {self.n_reps}")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed must be a non-negative integer below 2^63, got {self.seed}")
        self.grm_options().validate()

    @property
    def architecture(self) -> str:
        """``"causal"`` (K SNPs), ``"pi"`` (each SNP causal with probability π), ``"list"``
        (``--causal-list``) or ``"all"``."""
        if self.causal is not None:
            return "causal"
        if self.pi is not None:
            return "pi"
        if self.causal_list is not None:
            return "list"
        return "all"

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
            chromosomes=self.chromosomes,
            autosome=self.autosome,
        )


@dataclass(frozen=True)
class ReplicateTruth:
    """What went into one simulated phenotype.

    Attributes
    ----------
    name : str
        Column name in ``P.pheno`` (``y1``, ``y2``, ...).
    snp_index : ndarray of int
        Causal SNPs as 0-based rows of the ``.bim``, ascending.
    snp_id, chrom, pos, a1, a2 : ndarray
        Their ``.bim`` fields.
    freq : ndarray of float
        A1 frequency of each causal SNP in the kept samples (the standardization's ``p``).
    beta : ndarray of float
        Effect per standardized genotype ``z``, after scaling to the target h².
    var_g, var_e, var_y : float
        Sample variances (divisor n) of the genetic values, residuals and ``g + e``.
    h2_realised : float
        ``var_g / var_y``: the heritability realised in this sample (liability scale for a
        case-control trait).
    threshold : float or None
        Liability threshold ``Φ⁻¹(1 − K)`` of a case-control trait.
    n_cases : int or None
        Cases (coded 1) of a case-control trait.
    """

    name: str
    snp_index: np.ndarray
    snp_id: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    freq: np.ndarray
    beta: np.ndarray
    var_g: float
    var_e: float
    var_y: float
    h2_realised: float
    threshold: float | None = None
    n_cases: int | None = None

    @property
    def n_causal(self) -> int:
        return int(self.snp_index.size)

    @property
    def beta_a1(self) -> np.ndarray:
        """Effect per copy of A1: ``beta / √(2p(1−p))``."""
        return self.beta / np.sqrt(2.0 * self.freq * (1.0 - self.freq))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (causal SNPs as parallel lists)."""
        out: dict[str, Any] = {
            "name": self.name,
            "n_causal": self.n_causal,
            "h2_realised": self.h2_realised,
            "var_g": self.var_g,
            "var_e": self.var_e,
            "var_y": self.var_y,
        }
        if self.threshold is not None:
            out["threshold"] = self.threshold
            out["n_cases"] = self.n_cases
        out["causal"] = {
            "snp": self.snp_id.tolist(),
            "chrom": self.chrom.tolist(),
            "pos": [int(p) for p in self.pos],
            "a1": self.a1.tolist(),
            "a2": self.a2.tolist(),
            "freq": [float(f) for f in self.freq],
            "beta": [float(b) for b in self.beta],
            "beta_a1": [float(b) for b in self.beta_a1],
        }
        return out


@dataclass(frozen=True)
class SimulationResult:
    """Simulated phenotypes and the truth behind them (see :func:`simulate`).

    Attributes
    ----------
    fid, iid : ndarray of str, shape (n,)
        The kept samples, in ``.fam`` order.
    phenotypes : ndarray of float, shape (n, R)
        One column per replicate (0/1 for a case-control trait).
    replicates : tuple of ReplicateTruth
    options : SimulateOptions
    n_snps_candidates : int
        SNPs left after ``--chr``/``--extract``/``--exclude`` (before MAF and call rate, which
        are checked only for the SNPs looked at).
    samples_dropped : dict
        Samples removed by ``--keep``/``--remove``.
    paths : tuple of str
        Files written (empty when no ``out`` was given).
    seconds : float
    """

    fid: np.ndarray
    iid: np.ndarray
    phenotypes: np.ndarray
    replicates: tuple[ReplicateTruth, ...]
    options: SimulateOptions
    n_snps_candidates: int
    samples_dropped: dict[str, int] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def n_samples(self) -> int:
        return int(self.fid.shape[0])

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.replicates]

    @property
    def h2_realised(self) -> np.ndarray:
        """Realised h² of every replicate."""
        return np.array([r.h2_realised for r in self.replicates])

    def to_dict(self) -> dict[str, Any]:
        """The document written to ``P.truth.json``."""
        from heritcli._version import __version__

        opts = self.options
        case_control = opts.prevalence is not None
        doc: dict[str, Any] = {
            "herit_version": __version__,
            "model": (
                "y = g + e, g_i = sum_j z_ij beta_j over the causal SNPs, z standardized as "
                "make-grm (missing z = 0), effects scaled so that var(g) = h2, "
                "e ~ N(0, var(g)(1 - h2)/h2)"
                + (
                    "; case (1) when g + e > threshold = Phi^-1(1 - prevalence), else control (0)"
                    if case_control
                    else ""
                )
            ),
            "trait": "case-control" if case_control else "quantitative",
            "coding": "1 = case, 0 = control" if case_control else None,
            "h2": opts.h2,
            "prevalence": opts.prevalence,
            "architecture": opts.architecture,
            "causal": opts.causal,
            "pi": opts.pi,
            "causal_list": opts.causal_list,
            "same_causal": opts.same_causal,
            "effect_dist": opts.effect_dist,
            "seed": opts.seed,
            "bfile": opts.bfile,
            "n_samples": self.n_samples,
            "n_reps": len(self.replicates),
            "n_snps_candidates": self.n_snps_candidates,
            "samples_dropped": dict(self.samples_dropped),
            "h2_realised": [r.h2_realised for r in self.replicates],
            "replicates": [r.to_dict() for r in self.replicates],
        }
        return _plain(doc)


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


# ---------------------------------------------------------------------------------------------
# Causal lists
# ---------------------------------------------------------------------------------------------


def read_causal_list(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray | None]:
    """Read a causal-SNP file: one SNP ID per line, optionally followed by its effect.

    As GCTA's ``--simu-causal-loci``.  A first line starting with ``SNP`` or ``ID`` is a
    header.  Every line must have the same number of columns (1, or 2 with effects).  Effects
    are per standardized genotype and relative: they are scaled together to the target h².

    Returns
    -------
    ids : list of str
    effects : ndarray of float, or None when the file has one column

    Raises
    ------
    InputError
        Unreadable file, duplicate IDs, a non-numeric effect, inconsistent columns, no SNPs.
    """
    label = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError:
        raise InputError(f"causal list {label} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read causal list {label}: {exc.strerror or exc}") from None
    ids: list[str] = []
    effects: list[float] = []
    width: int | None = None
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, start=1):
        tokens = text.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if not ids and width is None and tokens[0].upper() in ("SNP", "ID"):
            width = len(tokens)
            continue
        if width is None:
            width = len(tokens)
        if len(tokens) != width or width > 2:
            raise InputError(
                f"{label} line {number}: expected {min(width, 2)} column(s) "
                f"(SNP ID{' and effect' if width == 2 else ''}), found {len(tokens)}"
            )
        if tokens[0] in seen:
            raise InputError(
                f"{label} line {number}: SNP {tokens[0]} is listed twice "
                f"(first on line {seen[tokens[0]]})"
            )
        seen[tokens[0]] = number
        ids.append(tokens[0])
        if width == 2:
            try:
                value = float(tokens[1])
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise InputError(
                    f"{label} line {number}: effect {tokens[1]!r} of SNP {tokens[0]} is not a "
                    "finite number"
                )
            effects.append(value)
    if not ids:
        raise InputError(f"causal list {label} has no SNP IDs")
    return ids, (np.array(effects) if width == 2 else None)


# ---------------------------------------------------------------------------------------------
# Reading only what is needed
# ---------------------------------------------------------------------------------------------


class _SnpStats:
    """Frequencies and make-grm filter results of the SNPs looked at so far."""

    def __init__(self, fileset: Any, kept: np.ndarray, grm_options: Any) -> None:
        self.fileset = fileset
        self.index = None if kept.size == fileset.n_samples else kept
        self.grm_options = grm_options
        m = fileset.n_snps
        self.freq = np.full(m, np.nan)
        self.reason = np.full(m, "", dtype=object)
        self.seen = np.zeros(m, dtype=bool)
        self.n_read = 0

    def passes(self, snps: np.ndarray) -> np.ndarray:
        """Whether each SNP passes call rate and MAF filters (reading those not seen yet)."""
        from heritcli.core.standardize import block_stats
        from heritcli.grm_build import dynamic_snp_filter

        snps = np.asarray(snps, dtype=np.int64)
        todo = np.unique(snps[~self.seen[snps]])
        for start in range(0, todo.size, READ_BLOCK_SNPS):
            block = todo[start : start + READ_BLOCK_SNPS]
            counts = self.fileset.read_snps(block, self.index)
            stats = block_stats(counts)
            self.freq[block] = stats.freq
            self.reason[block] = dynamic_snp_filter(stats, self.grm_options)
            self.seen[block] = True
            self.n_read += int(block.size)
        return self.reason[snps] == ""


def _select(
    options: SimulateOptions,
    candidates: np.ndarray,
    listed: np.ndarray | None,
    stats: _SnpStats,
    rng: np.random.Generator,
) -> np.ndarray:
    """Causal SNPs (ascending ``.bim`` rows) of one replicate."""
    from heritcli.core.simulate import first_passing

    if options.architecture == "list":
        assert listed is not None
        return listed
    if options.architecture == "all":
        chosen = candidates
    elif options.architecture == "pi":
        assert options.pi is not None
        chosen = candidates[rng.random(candidates.size) < options.pi]
    else:
        assert options.causal is not None
        k = options.causal
        order = rng.permutation(candidates)
        picked: list[np.ndarray] = []
        n_picked = 0
        position = 0
        while n_picked < k and position < order.size:
            # Look at a few more than needed: some will fail the MAF or call-rate filters.
            step = max(16, int(1.2 * (k - n_picked)) + 16)
            batch = order[position : position + step]
            position += batch.size
            chosen_batch = first_passing(batch, stats.passes(batch), k - n_picked)
            picked.append(chosen_batch)
            n_picked += chosen_batch.size
        if n_picked < k:
            raise DataError(
                f"--causal {k} but only {n_picked} SNPs of {options.bfile} pass the filters",
                hint="lower --causal, or relax --maf/--geno/--extract",
            )
        return np.sort(np.concatenate(picked))
    return chosen[stats.passes(chosen)]


def _listed_snps(
    options: SimulateOptions,
    bim: Any,
    reason: np.ndarray,
    stats: _SnpStats,
    reporter: Reporter,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``.bim`` rows (ascending) and effects of the SNPs of ``--causal-list`` that can be used."""
    assert options.causal_list is not None
    ids, effects = read_causal_list(options.causal_list)
    row_of: dict[str, int] = {}
    for j, snp in enumerate(bim.snp_id.tolist()):
        row_of.setdefault(snp, j)
    unknown = [snp for snp in ids if snp not in row_of]
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise InputError(
            f"{len(unknown)} SNP(s) of causal list {options.causal_list} are not in the .bim "
            f"of {options.bfile}: {shown}"
        )
    rows = np.array([row_of[snp] for snp in ids], dtype=np.int64)
    usable = reason[rows] == ""
    usable[usable] = stats.passes(rows[usable])
    if not usable.all():
        dropped = [ids[k] for k in np.flatnonzero(~usable)]
        why = sorted(
            {str(reason[rows[k]] or stats.reason[rows[k]]) for k in np.flatnonzero(~usable)}
        )
        reporter.warning(
            f"{len(dropped)} SNP(s) of {options.causal_list} are left out by the filters "
            f"({', '.join(why)}): {', '.join(dropped[:5])}{', ...' if len(dropped) > 5 else ''}"
        )
    if not usable.any():
        raise DataError(f"no SNP of causal list {options.causal_list} passes the filters")
    rows = rows[usable]
    order = np.argsort(rows)
    kept_effects = None if effects is None else effects[usable][order]
    return rows[order], kept_effects


def _genetic_values(
    fileset: Any,
    stats: _SnpStats,
    causal: list[np.ndarray],
    effects: list[np.ndarray],
    n_samples: int,
    reporter: Reporter,
) -> np.ndarray:
    """``G[:, r] = Z[:, causal_r] @ effects_r`` with make-grm's standardization, streamed.

    Only the union of the causal SNPs is read, in blocks of :data:`READ_BLOCK_SNPS`.
    """
    from heritcli.core.standardize import standardize

    union = np.unique(np.concatenate(causal)) if causal else np.empty(0, dtype=np.int64)
    n_reps = len(causal)
    g_raw = np.zeros((n_samples, n_reps))
    with reporter.task("reading causal SNPs", total=int(union.size), unit="SNPs") as progress:
        for start in range(0, union.size, READ_BLOCK_SNPS):
            block = union[start : start + READ_BLOCK_SNPS]
            weights = np.zeros((block.size, n_reps))
            lo, hi = block[0], block[-1]
            for r in range(n_reps):
                a, b = np.searchsorted(causal[r], [lo, hi + 1])
                if b > a:
                    weights[np.searchsorted(block, causal[r][a:b]), r] = effects[r][a:b]
            counts = fileset.read_snps(block, stats.index)
            z = standardize(counts, stats.freq[block], dtype=np.float64)
            g_raw += z.T @ weights
            progress.advance(int(block.size))
    return g_raw


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


def simulate(
    bfile: str | os.PathLike[str],
    *,
    h2: float,
    causal: int | None = None,
    pi: float | None = None,
    causal_list: str | os.PathLike[str] | None = None,
    effect_dist: str = "normal",
    prevalence: float | None = None,
    n_reps: int = 1,
    seed: int = 1,
    same_causal: bool = False,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    command: str = "",
    **filters: Any,
) -> SimulationResult:
    """Simulate phenotypes with SNP-heritability ``h2`` from the genotypes of a PLINK fileset.

    Parameters
    ----------
    bfile : path
        Prefix of the ``.bed``/``.bim``/``.fam`` files.
    h2 : float
        Target heritability in [0, 1]: the genetic values have sample variance exactly ``h2``.
    causal : int, optional
        Number of causal SNPs per replicate, drawn uniformly among the SNPs that pass the
        filters.
    pi : float, optional
        Instead: each SNP is causal with probability ``pi`` (the spike-and-slab of ``mcem``).
    causal_list : path, optional
        Instead: a file of causal SNP IDs, optionally with effects (GCTA
        ``--simu-causal-loci``); see :func:`read_causal_list`.
    effect_dist : {"normal", "laplace", "equal"}
        Distribution of the raw effects (ignored for a list with effects).
    prevalence : float, optional
        Simulate a case-control trait (1 = case, 0 = control) with this population prevalence.
    n_reps : int
        Number of replicates (phenotype columns ``y1 … yR``).
    seed : int
        Random seed; the same seed and inputs give the same phenotypes.
    same_causal : bool
        Use the causal SNPs and effects of the first replicate for all (GCTA ``--simu-rep``:
        replicates differ only by their residuals).
    out : path, optional
        Write ``OUT.pheno`` (``FID IID y1 … yR``, header included) and ``OUT.truth.json``.
    reporter : Reporter, optional
        Receives progress and messages (default: silent).
    **filters
        ``keep``, ``remove``, ``extract``, ``exclude``, ``maf``, ``geno``, ``chromosomes``,
        ``autosome``, as for :func:`heritcli.make_grm`.

    Returns
    -------
    SimulationResult

    Raises
    ------
    heritcli.errors.HeritError
        :class:`~heritcli.errors.UsageError` for bad options, ``InputError`` for unreadable
        inputs, ``DataError`` when not enough SNPs pass the filters, ``OutputError`` when the
        outputs cannot be written (nothing is then left behind).

    Notes
    -----
    The model is GCTA's ``--simu-qt``/``--simu-cc`` (Yang et al. 2011, AJHG 88:76), with the
    standardization of ``make-grm``: ``g_i = Σ_j z_ij β_j``, ``z_ij = (x_ij − 2p_j)/√(2p_j(1−p_j))``
    (``p_j`` over the non-missing calls of the kept samples, missing ``z = 0``), effects scaled
    so that ``var(g) = h²`` in the sample, ``e ~ N(0, var(g)(1−h²)/h²)``.  Case-control traits
    threshold the liability ``g + e`` at ``Φ⁻¹(1 − K)``.  Unlike GCTA (one set of causal SNPs
    and effects, new residuals per replicate), each replicate draws new causal SNPs and effects
    unless ``same_causal`` is set.

    Examples
    --------
    >>> import tempfile, numpy as np, heritcli
    >>> from heritcli.io.plink import write_bfile
    >>> rng = np.random.default_rng(0)
    >>> workdir = tempfile.TemporaryDirectory()
    >>> tmp = workdir.name
    >>> write_bfile(f"{tmp}/toy", rng.binomial(2, 0.3, size=(200, 500)))
    >>> sim = heritcli.simulate(f"{tmp}/toy", h2=0.6, causal=20, n_reps=3, seed=4,
    ...                         out=f"{tmp}/sim")
    >>> sim.phenotypes.shape, [r.n_causal for r in sim.replicates]
    ((500, 3), [20, 20, 20])
    >>> [round(r.var_g, 12) for r in sim.replicates]
    [0.6, 0.6, 0.6]
    >>> open(f"{tmp}/sim.pheno").readline().split()
    ['FID', 'IID', 'y1', 'y2', 'y3']
    >>> workdir.cleanup()
    """
    options = SimulateOptions(
        bfile=os.fspath(bfile),
        h2=h2,
        causal=causal,
        pi=pi,
        causal_list=None if causal_list is None else os.fspath(causal_list),
        effect_dist=effect_dist,
        prevalence=prevalence,
        n_reps=n_reps,
        seed=seed,
        same_causal=same_causal,
        **filters,
    )
    return run_simulation(options, out=out, reporter=reporter, command=command)


def output_paths(out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``OUT.pheno`` and ``OUT.truth.json``."""
    text = os.fspath(out)
    return Path(text + ".pheno"), Path(text + ".truth.json")


def run_simulation(
    options: SimulateOptions,
    *,
    out: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    command: str = "",
) -> SimulationResult:
    """Run a simulation described by ``options`` (see :func:`simulate`)."""
    from heritcli.core.simulate import add_residuals, draw_effects, effect_scale
    from heritcli.grm_build import select_samples, static_snp_filter
    from heritcli.io.atomic import check_writable_dir
    from heritcli.io.plink import open_bfile

    reporter = reporter or SilentReporter()
    options.validate()
    started = time.perf_counter()
    if out is not None:
        for path in output_paths(out):
            check_writable_dir(path)
    fileset = open_bfile(options.bfile)
    reporter.info(
        f"{fileset.bed}: {fileset.n_samples} samples (.fam), {fileset.n_snps} variants (.bim)"
    )
    grm_options = options.grm_options()
    kept, samples_dropped = select_samples(fileset.fam, grm_options, reporter)
    reason = static_snp_filter(fileset.bim, grm_options, reporter)
    candidates = np.flatnonzero(reason == "")
    if candidates.size == 0:
        raise DataError(f"no variants of {fileset.bim_path} left after --chr/--extract/--exclude")
    stats = _SnpStats(fileset, kept, grm_options)

    listed = listed_effects = None
    if options.architecture == "list":
        listed, listed_effects = _listed_snps(options, fileset.bim, reason, stats, reporter)

    root = np.random.SeedSequence(options.seed)
    streams = [
        [np.random.default_rng(s) for s in child.spawn(3)] for child in root.spawn(options.n_reps)
    ]
    causal: list[np.ndarray] = []
    effects: list[np.ndarray] = []
    for r in range(options.n_reps):
        if options.same_causal and r > 0:
            causal.append(causal[0])
            effects.append(effects[0])
            continue
        select_rng, effect_rng, _ = streams[r]
        snps = _select(options, candidates, listed, stats, select_rng)
        if snps.size == 0:
            raise DataError(
                f"replicate {r + 1}: no causal SNP was drawn (--pi {options.pi} of "
                f"{candidates.size} candidate SNPs)",
                hint="raise --pi, or use --causal K",
            )
        if listed_effects is not None:
            u = listed_effects
        else:
            u = draw_effects(effect_rng, int(snps.size), options.effect_dist)
        causal.append(snps)
        effects.append(u)
    sizes = [c.size for c in causal]
    reporter.info(
        f"{kept.size} samples; causal SNPs per replicate: "
        + (f"{sizes[0]}" if min(sizes) == max(sizes) else f"{min(sizes)} to {max(sizes)}")
        + f" ({options.architecture}); looked at {stats.n_read} of {candidates.size} SNPs"
    )

    g_raw = _genetic_values(fileset, stats, causal, effects, int(kept.size), reporter)
    bim = fileset.bim
    replicates: list[ReplicateTruth] = []
    phenotypes = np.empty((kept.size, options.n_reps))
    for r in range(options.n_reps):
        try:
            scale = effect_scale(g_raw[:, r], options.h2)
        except ValueError:
            raise DataError(
                f"replicate {r + 1}: the {causal[r].size} causal SNPs give all {kept.size} "
                "samples the same genetic value; no effect size can reach the target h2",
                hint="use more causal SNPs (--causal) or more samples",
            ) from None
        trait = add_residuals(
            g_raw[:, r] * scale, options.h2, streams[r][2], prevalence=options.prevalence
        )
        snps = causal[r]
        n_cases = None if trait.threshold is None else int(trait.y.sum())
        if n_cases is not None and n_cases in (0, kept.size):
            reporter.warning(
                f"replicate {r + 1}: all {kept.size} samples are "
                f"{'controls' if n_cases == 0 else 'cases'} (prevalence {options.prevalence})"
            )
        phenotypes[:, r] = trait.y
        replicates.append(
            ReplicateTruth(
                name=f"y{r + 1}",
                snp_index=snps,
                snp_id=bim.snp_id[snps],
                chrom=bim.chrom[snps],
                pos=bim.pos[snps],
                a1=bim.a1[snps],
                a2=bim.a2[snps],
                freq=stats.freq[snps],
                beta=effects[r] * scale,
                var_g=float(np.var(trait.g)),
                var_e=float(np.var(trait.e)),
                var_y=float(np.var(trait.liability)),
                h2_realised=trait.h2_realised,
                threshold=trait.threshold,
                n_cases=n_cases,
            )
        )
    realised = np.array([r.h2_realised for r in replicates])
    reporter.info(
        f"realised h2 over {options.n_reps} replicate(s): mean {realised.mean():.4f}, "
        f"range {realised.min():.4f} to {realised.max():.4f} (target {options.h2})"
    )
    result = SimulationResult(
        fid=fileset.fam.fid[kept],
        iid=fileset.fam.iid[kept],
        phenotypes=phenotypes,
        replicates=tuple(replicates),
        options=options,
        n_snps_candidates=int(candidates.size),
        samples_dropped=samples_dropped,
        seconds=time.perf_counter() - started,
    )
    if out is not None:
        paths = write_simulation(result, out, command=command)
        result = SimulationResult(
            **{**result.__dict__, "paths": tuple(paths), "seconds": time.perf_counter() - started}
        )
    return result


def format_pheno(result: SimulationResult) -> str:
    """``P.pheno``: a ``FID IID y1 … yR`` header, then one line per sample (``.fam`` order)."""
    case_control = result.options.prevalence is not None
    lines = ["FID IID " + " ".join(result.names)]
    for k in range(result.n_samples):
        row = result.phenotypes[k]
        cells = [str(int(v)) for v in row] if case_control else [f"{v:.10g}" for v in row]
        lines.append(f"{result.fid[k]} {result.iid[k]} " + " ".join(cells))
    return "\n".join(lines) + "\n"


def write_simulation(
    result: SimulationResult, out: str | os.PathLike[str], *, command: str = ""
) -> list[str]:
    """Write ``OUT.pheno`` and ``OUT.truth.json``; both appear or neither does."""
    from heritcli.io.atomic import write_texts_atomically

    pheno_path, truth_path = output_paths(out)
    document = result.to_dict()
    if command:
        document["command"] = command
    return write_texts_atomically(
        {
            os.fspath(pheno_path): format_pheno(result),
            os.fspath(truth_path): json.dumps(document, indent=1) + "\n",
        }
    )


__all__ = [
    "ReplicateTruth",
    "SimulateOptions",
    "SimulationResult",
    "format_pheno",
    "read_causal_list",
    "run_simulation",
    "simulate",
    "write_simulation",
]
