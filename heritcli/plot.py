"""Figures from herit's artifacts and results (the optional ``herit[plot]`` extra).

Three figures, each written as PNG, SVG or PDF (chosen by the file's extension):

* :func:`plot_profile`: the profile log-likelihood of h² for each phenotype, with ĥ², the 95%
  profile-likelihood interval and the χ²₁ cut-off that defines it;
* :func:`plot_grm`: the histogram of a GRM's off-diagonal entries and, given a PC file, the
  first principal components coloured by a label file (populations, batches, ...);
* :func:`plot_mcem`: the trace of h² and π·M of every MCEM chain.

matplotlib is imported only inside these functions, through its object-oriented API (no pyplot,
no global backend is changed), so ``import heritcli`` and ``herit --help`` stay fast and a
program that uses pyplot itself is left alone.  Without matplotlib, they raise
:class:`~heritcli.errors.UsageError` (exit code 2) saying ``pip install 'herit[plot]'``.

Examples
--------
>>> import tempfile, numpy as np
>>> from heritcli.plot import ProfileCurve, plot_profile_curves
>>> h2 = np.linspace(0, 1, 101)
>>> curve = ProfileCurve(name="toy", h2=h2, logl=-40 * (h2 - 0.4) ** 2, h2_hat=0.4,
...                      logl_hat=0.0, h2_ci=(0.185, 0.615), h2_se=0.11, lrt=12.8, n_samples=300)
>>> with tempfile.TemporaryDirectory() as tmp:
...     result = plot_profile_curves([curve], f"{tmp}/toy.svg")
...     result.format, result.panels
('svg', ['toy'])
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import DataError, InputError, UsageError
from heritcli.reporting import Reporter, SilentReporter

#: Formats a figure can be written in, by file extension.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: Half the 95% quantile of χ²₁: the profile interval is {h² : ℓ(h²) ≥ ℓ(ĥ²) − 1.92}.
HALF_CHI2_95 = 1.920729410347062
#: Lowest relative log-likelihood shown by the profile figure.
PROFILE_FLOOR = -10.0
INSTALL_HINT = "pip install 'herit[plot]'"


@dataclass(frozen=True)
class PlotResult:
    """What a plotting function wrote.

    Attributes
    ----------
    path : str
        The figure file.
    kind : str
        ``"profile"``, ``"grm"`` or ``"mcem"``.
    format : str
        ``"png"``, ``"svg"`` or ``"pdf"``.
    panels : list of str
        Titles of the panels drawn.
    summary : dict
        The numbers shown in the figure (estimates, counts), JSON-ready.
    """

    path: str
    kind: str
    format: str
    panels: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class ProfileCurve:
    """The profile log-likelihood of h² of one phenotype.

    Attributes
    ----------
    name : str
    h2, logl : ndarray
        Grid of h² and ℓ(h²) there (β and σp² profiled out; the constants of
        :func:`heritcli.core.reml.loglik`).
    h2_hat, logl_hat : float
        The estimate and ℓ at the estimate.
    h2_ci : (float, float)
        95% profile-likelihood interval.
    h2_se : float or None
    lrt : float
    n_samples : int
    """

    name: str
    h2: np.ndarray
    logl: np.ndarray
    h2_hat: float
    logl_hat: float
    h2_ci: tuple[float, float]
    h2_se: float | None
    lrt: float
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "h2": [float(v) for v in self.h2],
            "logl": [float(v) for v in self.logl],
            "h2_hat": self.h2_hat,
            "logl_hat": self.logl_hat,
            "h2_ci": list(self.h2_ci),
            "h2_se": self.h2_se,
            "lrt": self.lrt,
            "n_samples": self.n_samples,
        }


# ---------------------------------------------------------------------------------------------
# matplotlib plumbing
# ---------------------------------------------------------------------------------------------


def require_matplotlib() -> Any:
    """Import matplotlib, or raise :class:`UsageError` naming the extra to install."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(f"herit plot needs matplotlib: {INSTALL_HINT}") from None
    _ = matplotlib
    return Figure


def figure_format(out: str | os.PathLike[str]) -> str:
    """The format named by the extension of ``out`` (``.png``, ``.svg`` or ``.pdf``)."""
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"cannot tell the figure format of {os.fspath(out)}: use a .png, .svg or .pdf name"
        )
    return FORMATS[suffix]


def _save(fig: Any, out: str | os.PathLike[str], dpi: int) -> str:
    """Write the figure atomically; SVG and PDF without a creation date (reproducible)."""
    from heritcli.io.atomic import atomic_path

    fmt = figure_format(out)
    metadata: dict[str, Any] = {}
    if fmt == "svg":
        metadata = {"Date": None}
    elif fmt == "pdf":
        metadata = {"CreationDate": None, "ModDate": None}
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata or None)
    return fmt


def _grid_shape(n_panels: int) -> tuple[int, int]:
    cols = min(n_panels, 3)
    return math.ceil(n_panels / cols), cols


# ---------------------------------------------------------------------------------------------
# Profile likelihood
# ---------------------------------------------------------------------------------------------


def profile_curves(
    options: Any, *, points: int = 201, reporter: Reporter | None = None
) -> list[ProfileCurve]:
    """Fit REML as ``herit reml`` does and evaluate ℓ(h²) on a grid for each phenotype.

    Parameters
    ----------
    options : heritcli.reml_run.RemlOptions
        The same options as for :func:`heritcli.fit_reml` (samples, covariates, method).
    points : int
        Grid points over the allowed range of h² (the estimate and the interval ends are
        added).
    reporter : Reporter, optional

    Returns
    -------
    list of ProfileCurve
        One per phenotype, in the order ``fit_reml`` reports them.

    Notes
    -----
    The analysed samples, design and decomposition are found exactly as
    :func:`heritcli.fit_reml` finds them (cached decompositions are reused), and
    ℓ(h²) is :func:`heritcli.core.reml.loglik` on the rotated data, so the curve peaks at the
    reported ĥ² and crosses ℓ(ĥ²) − 1.92 at the ends of the reported interval.
    """
    from heritcli.core.reml import loglik
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
    )
    from heritcli.reml_run import fit_reml

    if points < 3:
        raise UsageError(f"--points must be at least 3, got {points}")
    reporter = reporter or SilentReporter()
    report = fit_reml(options, reporter=reporter)
    grm = read_grm_artifact(options.grm)
    table = read_phenotypes(options.pheno)
    covariate_tables = []
    if options.covar is not None:
        covariate_tables.append(read_covariates(options.covar))
    if options.qcovar is not None:
        covariate_tables.append(read_qcovariates(options.qcovar))
    keep = read_id_list(options.keep, what="keep") if options.keep else None
    remove = read_id_list(options.remove, what="remove") if options.remove else None
    grm_ids = list(zip(grm.fid.tolist(), grm.iid.tolist(), strict=True))
    curves = []
    for phenotype in report.phenotypes:
        j = table.names.index(phenotype.name)
        rec = reconcile(
            grm_ids,
            [SampleSource.from_phenotype(table, j), *covariate_tables],
            keep=keep,
            remove=remove,
            grm_label=os.fspath(grm.path),
        )
        assert rec.grm_index is not None
        design = build_design(
            covariate_tables or None,
            [rec.rows(k + 1) for k in range(len(covariate_tables))]
            if covariate_tables
            else np.arange(rec.grm_index.size),
        )
        x = np.asarray(design.matrix, dtype=np.float64)
        y = np.asarray(table.values[rec.rows(0), j], dtype=np.float64)
        values, vectors, _ = eigen_for_samples(
            grm,
            rec.grm_index,
            eigen_path=options.eigen,
            cache=options.cache_eigen,
            reporter=reporter,
        )
        y_rot, x_rot = vectors.T @ y, vectors.T @ x
        del vectors
        fit = phenotype.fit
        lo, hi = fit.h2_range
        lo, hi = max(lo, -1.0), min(hi, 2.0)
        extra = [v for v in (fit.h2, *fit.h2_ci) if lo <= v <= hi]
        grid = np.unique(np.concatenate([np.linspace(lo, hi, points), extra]))
        logl = np.array(
            [loglik(h, values, y_rot, x_rot, method=options.method) for h in grid.tolist()]
        )
        curves.append(
            ProfileCurve(
                name=phenotype.name,
                h2=grid,
                logl=logl,
                h2_hat=float(fit.h2),
                logl_hat=float(fit.logl),
                h2_ci=(float(fit.h2_ci[0]), float(fit.h2_ci[1])),
                h2_se=None if fit.h2_se is None else float(fit.h2_se),
                lrt=float(fit.lrt),
                n_samples=phenotype.n_samples,
            )
        )
    return curves


def plot_profile_curves(
    curves: list[ProfileCurve], out: str | os.PathLike[str], *, dpi: int = 150
) -> PlotResult:
    """Draw profile log-likelihood curves (one panel per phenotype) and write the figure.

    Each panel shows ℓ(h²) − ℓ(ĥ²) (cut at −10), the line −1.92 = −χ²₁(0.95)/2 whose crossings
    are the ends of the 95% interval, the interval shaded, and ĥ².
    """
    figure_class = require_matplotlib()
    figure_format(out)
    if not curves:
        raise DataError("no phenotype to plot")
    rows, cols = _grid_shape(len(curves))
    fig = figure_class(figsize=(4.6 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, curve in zip(axes, curves, strict=False):
        relative = curve.logl - curve.logl_hat
        shown = np.where(relative >= PROFILE_FLOOR, relative, np.nan)
        lo, hi = curve.h2_ci
        ax.axvspan(lo, hi, color="tab:blue", alpha=0.15, lw=0, label="95% interval")
        ax.plot(curve.h2, shown, color="tab:blue", lw=1.8, label="profile log-likelihood")
        ax.axhline(-HALF_CHI2_95, color="0.35", ls="--", lw=1, label="−χ²₁(0.95)/2 = −1.92")
        ax.axvline(curve.h2_hat, color="tab:red", lw=1.2, label="estimate")
        ax.set_ylim(PROFILE_FLOOR, 0.8)
        ax.set_xlim(float(curve.h2[0]), float(curve.h2[-1]))
        ax.set_xlabel("h² = V(G)/Vp")
        ax.set_ylabel("log-likelihood − maximum")
        se = "NA" if curve.h2_se is None else f"{curve.h2_se:.3f}"
        ax.set_title(
            f"{curve.name} (n = {curve.n_samples}): ĥ² = {curve.h2_hat:.3f} (SE {se})\n"
            f"95% CI [{lo:.3f}, {hi:.3f}], LRT {curve.lrt:.1f}",
            fontsize=9,
        )
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    axes[0].legend(loc="lower left", fontsize=7, frameon=False)
    fmt = _save(fig, out, dpi)
    return PlotResult(
        path=os.fspath(out),
        kind="profile",
        format=fmt,
        panels=[c.name for c in curves],
        summary={
            c.name: {"h2": c.h2_hat, "h2_ci": list(c.h2_ci), "h2_se": c.h2_se, "lrt": c.lrt}
            for c in curves
        },
    )


def plot_profile(
    options: Any,
    out: str | os.PathLike[str],
    *,
    points: int = 201,
    dpi: int = 150,
    reporter: Reporter | None = None,
) -> PlotResult:
    """Fit REML with ``options`` and draw the profile log-likelihood of h² with its interval.

    Parameters
    ----------
    options : heritcli.reml_run.RemlOptions
    out : path
        ``.png``, ``.svg`` or ``.pdf``.
    points : int
        Grid points for the curve.
    dpi : int
        Resolution of a PNG.
    reporter : Reporter, optional

    Returns
    -------
    PlotResult
    """
    require_matplotlib()
    figure_format(out)
    curves = profile_curves(options, points=points, reporter=reporter)
    return plot_profile_curves(curves, out, dpi=dpi)


# ---------------------------------------------------------------------------------------------
# GRM and principal components
# ---------------------------------------------------------------------------------------------


def read_labels(
    path: str | os.PathLike[str], column: str | None = None
) -> tuple[dict[tuple[str, str], str], str]:
    """Read sample labels: ``FID IID ... LABEL`` (whitespace-separated).

    Parameters
    ----------
    path : path
        A header line starting with ``FID`` or ``#FID`` names the columns (HapMap's
        ``relationships_w_pops`` file works as it is).
    column : str, optional
        The column holding the label: a name from the header or a 1-based number counted
        after IID [default: the last column].

    Returns
    -------
    labels : dict
        (FID, IID) → label.
    name : str
        The name of the label column.

    Raises
    ------
    InputError
        Unreadable file, too few columns, an unknown column.
    """
    label = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"cannot read label file {label}: {reason}") from None
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, text in enumerate(lines, start=1):
        tokens = text.split()
        if not tokens:
            continue
        if header is None and not rows and tokens[0].lower() in ("fid", "#fid"):
            header = tokens
            continue
        if tokens[0].startswith("#"):
            continue
        rows.append((number, tokens))
    if not rows:
        raise InputError(f"label file {label} has no samples")
    width = len(rows[0][1])
    if width < 3:
        raise InputError(
            f"{label} line {rows[0][0]}: expected FID, IID and a label, found {width} column(s)"
        )
    names = header[2:] if header is not None else [f"column{k}" for k in range(1, width - 1)]
    if column is None:
        index = width - 3
    elif column.isdigit() and 1 <= int(column) <= width - 2:
        index = int(column) - 1
    elif column in names:
        index = names.index(column)
    else:
        raise InputError(
            f"label file {label} has no column {column!r}",
            hint=f"its columns after FID IID are: {', '.join(names)}",
        )
    labels: dict[tuple[str, str], str] = {}
    for number, tokens in rows:
        if len(tokens) <= index + 2:
            raise InputError(
                f"{label} line {number}: expected at least {index + 3} columns, found {len(tokens)}"
            )
        labels[(tokens[0], tokens[1])] = tokens[index + 2]
    name = names[index] if index < len(names) else f"column{index + 1}"
    return labels, name


def offdiagonal_histogram(
    grm: str | os.PathLike[str], bins: int = 120, rows_per_read: int = 512
) -> dict[str, Any]:
    """Histogram of the off-diagonal entries of a GRM artifact, read a few rows at a time.

    Returns
    -------
    dict
        ``edges``, ``counts`` (entries j < k), ``diagonal`` (the n diagonal entries),
        ``n_samples``, ``mean``, ``var`` (of the off-diagonal entries).

    Notes
    -----
    Two passes over the matrix (range, then counts), each holding ``rows_per_read`` rows: the
    memory stays O(n) rows whatever the size of the GRM.
    """
    import h5py

    from heritcli.io.grm_artifact import read_grm_artifact

    artifact = read_grm_artifact(grm)
    n = artifact.n_samples
    if n < 2:
        raise DataError(f"{os.fspath(grm)} has fewer than 2 samples: no off-diagonal entries")
    low, high = math.inf, -math.inf
    total = total_sq = 0.0
    diagonal = np.empty(n)
    with h5py.File(artifact.path, "r") as handle:
        values = handle["grm/values"]
        for start in range(0, n, rows_per_read):
            block = np.asarray(values[start : start + rows_per_read], dtype=np.float64)
            rows = np.arange(start, start + block.shape[0])
            diagonal[rows] = block[np.arange(block.shape[0]), rows]
            lower = block[np.arange(n)[None, :] < rows[:, None]]
            if lower.size:
                low, high = min(low, float(lower.min())), max(high, float(lower.max()))
                total += float(lower.sum())
                total_sq += float(lower @ lower)
        if high <= low:
            high = low + 1e-6
        edges = np.linspace(low, high, bins + 1)
        counts = np.zeros(bins, dtype=np.int64)
        for start in range(0, n, rows_per_read):
            block = np.asarray(values[start : start + rows_per_read], dtype=np.float64)
            rows = np.arange(start, start + block.shape[0])
            lower = block[np.arange(n)[None, :] < rows[:, None]]
            counts += np.histogram(lower, bins=edges)[0]
    n_pairs = n * (n - 1) // 2
    mean = total / n_pairs
    return {
        "edges": edges,
        "counts": counts,
        "diagonal": diagonal,
        "n_samples": n,
        "mean": mean,
        "var": total_sq / n_pairs - mean * mean,
    }


def plot_grm(
    grm: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    pcs: str | os.PathLike[str] | None = None,
    labels: str | os.PathLike[str] | None = None,
    label_column: str | None = None,
    bins: int = 120,
    dpi: int = 150,
    reporter: Reporter | None = None,
) -> PlotResult:
    """Draw the off-diagonal histogram of a GRM and, with ``pcs``, its first PCs.

    Parameters
    ----------
    grm : path
        GRM artifact (``make-grm``).
    out : path
        ``.png``, ``.svg`` or ``.pdf``.
    pcs : path, optional
        ``P.pcs.txt`` of ``herit eigen --pcs K`` (any ``FID IID PC1 PC2 …`` file): PC1 against
        PC2, and PC3 against PC4 when there are four.
    labels : path, optional
        Sample labels (see :func:`read_labels`) colouring the PCs.
    label_column : str, optional
        Which column of ``labels`` to use.
    bins : int
        Histogram bins.
    dpi : int
    reporter : Reporter, optional

    Returns
    -------
    PlotResult
    """
    figure_class = require_matplotlib()
    figure_format(out)
    reporter = reporter or SilentReporter()
    if bins < 2:
        raise UsageError(f"--bins must be at least 2, got {bins}")
    if labels is not None and pcs is None:
        raise UsageError("--labels colours the principal components: give --pcs too")
    hist = offdiagonal_histogram(grm, bins=bins)
    pc_table = None
    if pcs is not None:
        from heritcli.io.tables import read_qcovariates

        pc_table = read_qcovariates(pcs)
        if pc_table.values.shape[1] < 2:
            raise InputError(f"{os.fspath(pcs)} has fewer than two principal components")
    pairs = (
        [] if pc_table is None else [(0, 1)] + ([(2, 3)] if pc_table.values.shape[1] >= 4 else [])
    )
    n_panels = 1 + len(pairs)
    fig = figure_class(figsize=(4.8 * n_panels + (1.6 if labels else 0), 4.0), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False).ravel()
    ax = axes[0]
    edges, counts = hist["edges"], hist["counts"]
    ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("GRM off-diagonal entry (genetic relatedness)")
    ax.set_ylabel("pairs of samples")
    ax.set_title(
        f"{Path(grm).name}: n = {hist['n_samples']}\n"
        f"off-diagonal mean {hist['mean']:.2g}, variance {hist['var']:.3g}; "
        f"diagonal mean {float(np.mean(hist['diagonal'])):.3f}",
        fontsize=9,
    )
    summary: dict[str, Any] = {
        "n_samples": hist["n_samples"],
        "offdiag_mean": hist["mean"],
        "offdiag_var": hist["var"],
        "diag_mean": float(np.mean(hist["diagonal"])),
    }
    panels = ["off-diagonal histogram"]
    if pc_table is not None:
        ids = list(zip(pc_table.fid.tolist(), pc_table.iid.tolist(), strict=True))
        if labels is not None:
            mapping, label_name = read_labels(labels, label_column)
            group = np.array([mapping.get(pair, "unlabelled") for pair in ids], dtype=object)
            unmatched = int(np.sum(group == "unlabelled"))
            if unmatched == len(ids):
                raise DataError(
                    f"no sample of {os.fspath(pcs)} is in the label file {os.fspath(labels)}"
                )
            if unmatched:
                reporter.warning(f"{unmatched} samples of {pcs} have no label in {labels}")
        else:
            group, label_name = np.full(len(ids), "all", dtype=object), ""
        levels = sorted(set(group.tolist()) - {"unlabelled"}) + (
            ["unlabelled"] if "unlabelled" in set(group.tolist()) else []
        )
        colours = _colours(len(levels))
        summary["groups"] = {lvl: int(np.sum(group == lvl)) for lvl in levels}
        for ax, (a, b) in zip(axes[1:], pairs, strict=True):
            for level, colour in zip(levels, colours, strict=True):
                mask = group == level
                ax.scatter(
                    pc_table.values[mask, a],
                    pc_table.values[mask, b],
                    s=6,
                    alpha=0.75,
                    color="0.6" if level == "unlabelled" else colour,
                    label=f"{level} ({int(mask.sum())})",
                    linewidths=0,
                )
            names = pc_table.names
            ax.set_xlabel(names[a])
            ax.set_ylabel(names[b])
            ax.set_title(f"{names[a]} and {names[b]}", fontsize=9)
            panels.append(f"{names[a]} vs {names[b]}")
        if labels is not None:
            axes[-1].legend(
                title=label_name,
                fontsize=7,
                title_fontsize=8,
                markerscale=2,
                frameon=False,
                loc="center left",
                bbox_to_anchor=(1.02, 0.5),
            )
    fmt = _save(fig, out, dpi)
    return PlotResult(path=os.fspath(out), kind="grm", format=fmt, panels=panels, summary=summary)


def _colours(k: int) -> list[Any]:
    from matplotlib import colormaps

    if k <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(k)]
    # tab20 holds ten dark/light pairs: all the dark ones first keeps neighbours distinct.
    cmap = colormaps["tab20"]
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return [cmap(order[i % 20]) for i in range(k)]


# ---------------------------------------------------------------------------------------------
# MCEM trace
# ---------------------------------------------------------------------------------------------


def read_trace(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read ``P.mcem.trace.tsv`` into columns (``chain``, ``iteration``, ``phase``, ``h2``, …).

    Raises
    ------
    InputError
        Unreadable file, missing columns, a non-numeric value.
    """
    label = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"cannot read MCEM trace {label}: {reason}") from None
    if len(lines) < 2:
        raise InputError(f"MCEM trace {label} has no iterations")
    header = lines[0]
    needed = ("chain", "iteration", "phase", "h2", "pi_m")
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(
            f"{label} is not an MCEM trace (herit mcem's P.mcem.trace.tsv): no column "
            + ", ".join(missing)
        )
    columns: dict[str, np.ndarray] = {}
    for name in needed:
        k = header.index(name)
        cells = []
        for number, row in enumerate(lines[1:], start=2):
            if len(row) != len(header):
                raise InputError(
                    f"{label} line {number}: expected {len(header)} columns, found {len(row)}"
                )
            cells.append(row[k])
        if name == "phase":
            columns[name] = np.array(cells, dtype=object)
            continue
        try:
            columns[name] = np.array(cells, dtype=np.float64)
        except ValueError:
            bad = next(i for i, c in enumerate(cells) if not _is_number(c))
            raise InputError(
                f"{label} line {bad + 2}: {name} value {cells[bad]!r} is not a number"
            ) from None
    return columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plot_mcem(
    trace: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    dpi: int = 150,
    reporter: Reporter | None = None,
) -> PlotResult:
    """Draw the trace of h² and π·M of every chain of ``herit mcem``.

    Parameters
    ----------
    trace : path
        ``P.mcem.trace.tsv``.  When ``P.mcem.json`` is beside it, the final estimates and the
        REML starting value are drawn as horizontal lines.
    out : path
        ``.png``, ``.svg`` or ``.pdf``.
    dpi : int
    reporter : Reporter, optional

    Returns
    -------
    PlotResult
    """
    figure_class = require_matplotlib()
    figure_format(out)
    columns = read_trace(trace)
    text = os.fspath(trace)
    summary_path = (
        Path(text[: -len(".trace.tsv")] + ".json") if text.endswith(".trace.tsv") else None
    )
    final: dict[str, Any] = {}
    if summary_path is not None and summary_path.exists():
        try:
            final = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            (reporter or SilentReporter()).warning(f"ignoring {summary_path}: not readable JSON")
            final = {}
    chains = np.unique(columns["chain"]).astype(int)
    burn = columns["iteration"][columns["phase"] == "burn-in"]
    fig = figure_class(figsize=(10.0, 3.8), layout="constrained")
    ax_h2, ax_pi = fig.subplots(1, 2)
    colours = _colours(len(chains))
    for chain, colour in zip(chains, colours, strict=True):
        mask = columns["chain"] == chain
        it = columns["iteration"][mask]
        ax_h2.plot(it, columns["h2"][mask], lw=0.9, color=colour, label=f"chain {chain}")
        ax_pi.plot(it, columns["pi_m"][mask], lw=0.9, color=colour, label=f"chain {chain}")
    for ax in (ax_h2, ax_pi):
        if burn.size:
            ax.axvspan(0, float(burn.max()), color="0.9", lw=0, zorder=0, label="burn-in")
        ax.set_xlabel("iteration")
    ax_pi.set_yscale("log")
    summary: dict[str, Any] = {
        "chains": [int(c) for c in chains],
        "iterations": int(columns["iteration"].max()),
        "burn_in": int(burn.max()) if burn.size else 0,
    }
    if final.get("h2") is not None:
        ax_h2.axhline(final["h2"], color="k", ls="--", lw=1, label=f"estimate {final['h2']:.3f}")
        summary["h2"] = final["h2"]
    reml_h2 = (final.get("reml") or {}).get("h2")
    if reml_h2 is not None:
        ax_h2.axhline(reml_h2, color="tab:red", ls=":", lw=1, label=f"REML {reml_h2:.3f}")
        summary["reml_h2"] = reml_h2
    if final.get("pi_times_m") is not None:
        ax_pi.axhline(
            final["pi_times_m"],
            color="k",
            ls="--",
            lw=1,
            label=f"estimate {final['pi_times_m']:.3g}",
        )
        summary["pi_times_m"] = final["pi_times_m"]
    name = final.get("phenotype", Path(text).name)
    ax_h2.set_ylabel("h²")
    ax_h2.set_title(f"{name}: h² per chain", fontsize=9)
    ax_pi.set_ylabel("π·M (expected number of causal SNPs)")
    ax_pi.set_title(f"{name}: π·M per chain", fontsize=9)
    ax_h2.legend(fontsize=7, frameon=False)
    ax_pi.legend(fontsize=7, frameon=False)
    fmt = _save(fig, out, dpi)
    return PlotResult(
        path=os.fspath(out),
        kind="mcem",
        format=fmt,
        panels=["h2 per chain", "pi*M per chain"],
        summary=summary,
    )


__all__ = [
    "FORMATS",
    "PlotResult",
    "ProfileCurve",
    "figure_format",
    "offdiagonal_histogram",
    "plot_grm",
    "plot_mcem",
    "plot_profile",
    "plot_profile_curves",
    "profile_curves",
    "read_labels",
    "read_trace",
    "require_matplotlib",
]
