"""Sample-level text tables: ID lists, SNP lists, phenotypes and covariates.

This module reads the small whitespace-separated text files a GCTA or PLINK user passes
with ``--keep``/``--remove``, ``--extract``/``--exclude``, ``--pheno``, ``--covar`` and
``--qcovar``; reconciles the samples of those files with the samples of a GRM; and builds
the fixed-effect design matrix.

File conventions (DESIGN.md section 4)
--------------------------------------
* Fields are separated by runs of whitespace (spaces or tabs); ``\\r\\n`` line ends are fine.
* The first two columns are FID and IID.  An optional header line is recognised when its
  first token is ``FID``, ``#FID``, ``IID`` or ``#IID`` (any case), as plink2 writes.  A
  header starting with ``IID``/``#IID`` means the file has a single ID column; the FID is
  then taken equal to the IID, as plink2 does.  Without a header, value columns are named
  ``pheno1``, ``pheno2``, ... (phenotypes), ``covar1``, ... (``--covar``) or ``qcovar1``, ...
  (``--qcovar``).
* Lines starting with ``#`` other than the header, and blank lines, are skipped.  (A sample
  whose FID starts with ``#`` therefore cannot be written without a header; PLINK has the
  same restriction.)
* Missing values are ``NA``, ``nan`` (any case), ``.`` and any number equal to ``-9``
  (``-9``, ``-9.0``, ...), as in GCTA and PLINK.  Infinite values are errors.
* Samples are identified by the pair (FID, IID); a pair may appear only once per file.

Every problem with a file is reported as :class:`~heritcli.errors.InputError` naming the file
(as the user wrote it), the 1-based line number and, where there is one, the column name.
Nothing here uses ``pickle`` or ``eval``; files are parsed with plain Python.

The readers cover GCTA ``.phen``/``.qcovar``/``.covar``/``.eigenvec`` files, plink2
``.eigenvec`` and phenotype files (``#FID IID ...`` or ``#IID ...`` headers) and plain
``FID IID`` lists.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

from heritcli.errors import DataError, InputError, OutputError, UsageError

__all__ = [
    "CovariateTable",
    "Design",
    "Reconciliation",
    "SampleSource",
    "SampleTable",
    "SourceSummary",
    "build_design",
    "check_magnitude",
    "read_covariates",
    "read_id_list",
    "read_phenotypes",
    "read_qcovariates",
    "read_snp_list",
    "reconcile",
    "select_phenotype",
]

PathLike: TypeAlias = "str | os.PathLike[str]"
SampleId: TypeAlias = tuple[str, str]

#: Tokens (compared case-insensitively) that mean "missing"; any number equal to -9 too.
MISSING_TOKENS: frozenset[str] = frozenset({"na", "nan", "+nan", "-nan", "."})
MISSING_NUMBER: float = -9.0

_HEADER_TWO_IDS = frozenset({"fid", "#fid"})
_HEADER_ONE_ID = frozenset({"iid", "#iid"})
_MAX_SHOWN = 40  # longest token quoted verbatim in a message


# ---------------------------------------------------------------------------------------------
# Low-level reading
# ---------------------------------------------------------------------------------------------


def _show(token: str) -> str:
    """Quote a token for a message, shortening very long ones."""
    if len(token) > _MAX_SHOWN:
        token = token[: _MAX_SHOWN - 3] + "..."
    return repr(token)


def _read_lines(path: PathLike, what: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line of a UTF-8 text file.

    Parameters
    ----------
    path : str or os.PathLike
        The file, named in messages exactly as given.
    what : str
        What the file is, for messages ("phenotype", "keep list", ...).

    Raises
    ------
    InputError
        The file cannot be opened or read, is binary, or has a line that is not UTF-8.
    """
    label = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot read {what} file {label}: {reason}") from None
    if b"\x00" in data[:65536]:
        raise InputError(
            f"{what} file {label} is not a text file (it contains NUL bytes)",
            hint="pass a whitespace-separated text file with FID and IID columns",
        )
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark written by some editors
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            raise InputError(
                f"{label} line {number}: not valid UTF-8 text "
                f"(byte 0x{bad} at position {exc.start + 1})",
                hint="save the file as UTF-8 (or plain ASCII) text",
            ) from None
        yield number, text


def _records(path: PathLike, what: str) -> Iterator[tuple[int, list[str], bool]]:
    """Yield ``(line_number, tokens, is_header)`` for non-blank, non-comment lines.

    A line before any data line is flagged as a header when its first token is ``FID``,
    ``#FID``, ``IID`` or ``#IID`` (any case).  Other lines starting with ``#`` are comments.
    """
    seen_first = False
    for number, text in _read_lines(path, what):
        tokens = text.split()
        if not tokens:
            continue
        first = tokens[0].lower()
        if not seen_first and (first in _HEADER_TWO_IDS or first in _HEADER_ONE_ID):
            seen_first = True
            yield number, tokens, True
        elif tokens[0].startswith("#"):
            continue  # a comment, also before the header ("## ..." lines)
        else:
            seen_first = True
            yield number, tokens, False


def _parse_number(token: str) -> float | None:
    """Parse one value token.

    Returns
    -------
    float or None
        NaN for a missing value, the number otherwise (possibly infinite), or None when
        the token is not a number.
    """
    if token.lower() in MISSING_TOKENS:
        return math.nan
    try:
        value = float(token)
    except ValueError:
        return None
    # float() also accepts "1_000" and non-ASCII digits; a genetics file never means those.
    if "_" in token or not token.isascii():
        return None
    if math.isnan(value) or value == MISSING_NUMBER:
        return math.nan
    return value


# ---------------------------------------------------------------------------------------------
# ID and SNP lists
# ---------------------------------------------------------------------------------------------


def read_id_list(path: PathLike, *, what: str = "keep") -> list[SampleId]:
    """Read a PLINK ``--keep``/``--remove`` file of sample IDs.

    Parameters
    ----------
    path : str or os.PathLike
        Whitespace-separated file with FID and IID as its first two columns (further
        columns are ignored).  An optional header whose first token is ``FID``/``#FID``
        is skipped; a ``#IID``/``IID`` header means one ID column, with FID = IID.
    what : str, default "keep"
        The option the list came from ("keep" or "remove"), used in messages.

    Returns
    -------
    list of (str, str)
        The (FID, IID) pairs in file order, duplicates removed.

    Raises
    ------
    InputError
        Unreadable file, a line with a single token (without an ``#IID`` header), or no
        samples at all.
    """
    label = str(path)
    description = f"{what} list"
    one_id = False
    seen: dict[SampleId, None] = {}
    for number, tokens, is_header in _records(path, description):
        if is_header:
            one_id = tokens[0].lower() in _HEADER_ONE_ID
            continue
        if one_id:
            sample = (tokens[0], tokens[0])
        else:
            if len(tokens) < 2:
                raise InputError(
                    f"{label} line {number}: expected FID and IID, found one column "
                    f"({_show(tokens[0])})",
                    hint="a file with only IIDs needs a '#IID' header line (plink2 style)",
                )
            sample = (tokens[0], tokens[1])
        seen.setdefault(sample, None)
    if not seen:
        raise InputError(f"{description} {label} has no samples")
    return list(seen)


def read_snp_list(path: PathLike, *, what: str = "extract") -> list[str]:
    """Read a PLINK ``--extract``/``--exclude`` file of SNP IDs.

    Parameters
    ----------
    path : str or os.PathLike
        Text file; the first whitespace-separated token of each non-blank line is a SNP ID.
        Lines starting with ``#`` are skipped.
    what : str, default "extract"
        The option the list came from, used in messages.

    Returns
    -------
    list of str
        SNP IDs in file order, duplicates removed.

    Raises
    ------
    InputError
        Unreadable file or no SNP IDs.
    """
    label = str(path)
    description = f"{what} list"
    seen: dict[str, None] = {}
    for _number, text in _read_lines(path, description):
        tokens = text.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        seen.setdefault(tokens[0], None)
    if not seen:
        raise InputError(f"{description} {label} has no SNP IDs")
    return list(seen)


# ---------------------------------------------------------------------------------------------
# Sample tables
# ---------------------------------------------------------------------------------------------


def _frozen_array(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    values.flags.writeable = False
    return values


@dataclass(frozen=True, eq=False)
class SampleTable:
    """Numeric per-sample values read from a phenotype file.

    Attributes
    ----------
    fid, iid : numpy.ndarray of str, shape (n,)
        Sample IDs in file order.
    names : tuple of str
        Column names (from the header, else ``pheno1``, ``pheno2``, ...).
    values : numpy.ndarray of float64, shape (n, k)
        Values, NaN where missing.  Read-only.
    source : str
        The file the table came from, as the user named it.
    lines : numpy.ndarray of int, shape (n,)
        1-based line number of each sample in ``source``.
    """

    fid: np.ndarray
    iid: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    source: str = "<table>"
    lines: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("fid", "iid", "values"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))
        if self.values.ndim != 2 or self.values.shape != (len(self.fid), len(self.names)):
            raise ValueError("values must have shape (n_samples, n_columns)")

    @property
    def n_samples(self) -> int:
        """Number of rows (samples) in the file."""
        return len(self.fid)

    def ids(self) -> list[SampleId]:
        """Return the (FID, IID) pairs in file order."""
        return list(zip(self.fid.tolist(), self.iid.tolist(), strict=True))

    def column(self, key: int | str) -> np.ndarray:
        """Return one column by 0-based index or by name."""
        return self.values[:, self._index(key)]

    def _index(self, key: int | str) -> int:
        if isinstance(key, str):
            if key not in self.names:
                raise KeyError(key)
            return self.names.index(key)
        if not -len(self.names) <= key < len(self.names):
            raise IndexError(key)
        return key % len(self.names)


@dataclass(frozen=True, eq=False)
class CovariateTable:
    """Covariates read from a ``--covar``/``--qcovar`` file, expanded to design columns.

    Quantitative (numeric) columns are copied as they are.  A categorical column with
    levels ``L1 < L2 < ... < Lm`` (sorted as strings) becomes ``m - 1`` indicator columns
    named ``col=L2``, ..., ``col=Lm``; the first level in sorted order is the baseline.
    Sorting (rather than order of appearance) makes the design independent of the order of
    the rows.  There is no intercept column: :func:`build_design` adds it.

    Attributes
    ----------
    fid, iid : numpy.ndarray of str, shape (n,)
        Sample IDs in file order.
    names : tuple of str
        Design column names, e.g. ``("age", "sex=M", "PC1")``.
    values : numpy.ndarray of float64, shape (n, p)
        Design columns; a sample's entries are NaN in every column derived from a covariate
        that is missing for it.  Read-only.
    columns : tuple of str
        For each design column, the file column it came from (``"sex"`` for ``sex=M``).
    levels : dict of str to tuple of str
        For each categorical file column, its sorted levels; the first is the baseline.
        A categorical column with a single level contributes no design column.
    source : str
        The file the table came from, as the user named it.
    lines : numpy.ndarray of int, shape (n,)
        1-based line number of each sample in ``source``.
    """

    fid: np.ndarray
    iid: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    columns: tuple[str, ...] = ()
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "<table>"
    lines: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("fid", "iid", "values"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))
        if not self.columns:
            object.__setattr__(self, "columns", tuple(self.names))
        if self.values.ndim != 2 or self.values.shape != (len(self.fid), len(self.names)):
            raise ValueError("values must have shape (n_samples, n_columns)")
        if len(self.columns) != len(self.names):
            raise ValueError("columns must name the file column of every design column")

    @property
    def n_samples(self) -> int:
        """Number of rows (samples) in the file."""
        return len(self.fid)

    def ids(self) -> list[SampleId]:
        """Return the (FID, IID) pairs in file order."""
        return list(zip(self.fid.tolist(), self.iid.tolist(), strict=True))

    def complete(self) -> np.ndarray:
        """Return a boolean mask of the rows with no missing covariate."""
        return ~np.isnan(self.values).any(axis=1)


@dataclass
class _RawTable:
    """Tokens of a FID/IID table before the value columns are interpreted."""

    label: str
    names: list[str]
    fid: list[str]
    iid: list[str]
    lines: list[int]
    cells: list[list[str]]


def _read_raw_table(path: PathLike, what: str, prefix: str) -> _RawTable:
    """Tokenise a ``FID IID v1 v2 ...`` file, checking IDs and column counts."""
    label = str(path)
    names: list[str] | None = None
    n_id = 2
    width: int | None = None
    width_line = 0
    width_origin = "the first row"
    fid: list[str] = []
    iid: list[str] = []
    lines: list[int] = []
    cells: list[list[str]] = []
    first_line: dict[SampleId, int] = {}
    for number, tokens, is_header in _records(path, what):
        if is_header:
            n_id = 1 if tokens[0].lower() in _HEADER_ONE_ID else 2
            if len(tokens) < n_id:
                raise InputError(f"{label} line {number}: header has no IID column")
            names = tokens[n_id:]
            width, width_line, width_origin = len(tokens), number, "the header"
            if not names:
                raise InputError(
                    f"{label} line {number}: header names no {what} columns after the IDs"
                )
            dup = _first_duplicate(names)
            if dup is not None:
                raise InputError(f"{label} line {number}: column name {_show(dup)} appears twice")
            continue
        if width is None:
            width, width_line = len(tokens), number
            if width <= n_id:
                raise InputError(
                    f"{label} line {number}: expected FID, IID and at least one {what} "
                    f"column, found {width} column{'s' if width != 1 else ''}"
                )
            names = [f"{prefix}{j}" for j in range(1, width - n_id + 1)]
        if len(tokens) != width:
            raise InputError(
                f"{label} line {number} has {len(tokens)} columns but {width_origin} "
                f"(line {width_line}) has {width}",
                hint=(
                    "write NA for a missing value; empty fields are not allowed"
                    if len(tokens) < width
                    else "values and IDs cannot contain spaces"
                ),
            )
        sample = (tokens[0], tokens[0]) if n_id == 1 else (tokens[0], tokens[1])
        previous = first_line.get(sample)
        if previous is not None:
            raise InputError(
                f"{label} line {number}: sample FID={_show(sample[0])} IID={_show(sample[1])} "
                f"already appeared on line {previous}",
                hint="each (FID, IID) pair may appear only once",
            )
        first_line[sample] = number
        fid.append(sample[0])
        iid.append(sample[1])
        lines.append(number)
        cells.append(tokens[n_id:])
    if not fid:
        if names is None:
            raise InputError(f"{what} file {label} is empty")
        raise InputError(f"{what} file {label} has a header but no samples")
    assert names is not None
    return _RawTable(label, names, fid, iid, lines, cells)


def _first_duplicate(names: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _numeric_column(raw: _RawTable, j: int, hint: str | None) -> np.ndarray:
    """Parse value column ``j`` of ``raw`` as numbers, raising on text or infinity."""
    out = np.empty(len(raw.cells), dtype=np.float64)
    for i, row in enumerate(raw.cells):
        token = row[j]
        value = _parse_number(token)
        if value is None:
            raise InputError(
                f"{raw.label} line {raw.lines[i]}, column {raw.names[j]}: "
                f"{_show(token)} is not a number",
                hint=hint,
            )
        if math.isinf(value):
            raise InputError(
                f"{raw.label} line {raw.lines[i]}, column {raw.names[j]}: "
                f"{_show(token)} is not a finite number"
            )
        out[i] = value
    return out


def read_phenotypes(path: PathLike) -> SampleTable:
    """Read a phenotype file (``--pheno``).

    Parameters
    ----------
    path : str or os.PathLike
        ``FID IID y1 y2 ...`` with an optional header (see the module notes).  GCTA
        ``.phen`` files and plink2 phenotype files are accepted.

    Returns
    -------
    SampleTable
        One column per phenotype, NaN where missing.

    Raises
    ------
    InputError
        Unreadable or empty file, a row with the wrong number of columns, a duplicated
        (FID, IID), a value that is not a number, or an infinite value.
    """
    raw = _read_raw_table(path, "phenotype", "pheno")
    hint = "missing values must be written NA, nan, -9 or ."
    columns = [_numeric_column(raw, j, hint) for j in range(len(raw.names))]
    return SampleTable(
        fid=np.array(raw.fid, dtype=str),
        iid=np.array(raw.iid, dtype=str),
        names=tuple(raw.names),
        values=np.column_stack(columns),
        source=raw.label,
        lines=np.array(raw.lines, dtype=np.int64),
    )


def read_qcovariates(path: PathLike) -> CovariateTable:
    """Read a quantitative covariate file (GCTA ``--qcovar``); every column must be numeric.

    Parameters
    ----------
    path : str or os.PathLike
        ``FID IID c1 c2 ...`` with an optional header; GCTA and plink2 ``.eigenvec`` files
        work as they are.  Columns are named ``qcovar1``, ... without a header.

    Returns
    -------
    CovariateTable
        One design column per file column, NaN where missing.

    Raises
    ------
    InputError
        As :func:`read_phenotypes`; a text value names its line and column.
    """
    raw = _read_raw_table(path, "covariate", "qcovar")
    hint = "categorical covariates belong in --covar; missing values are NA, nan, -9 or ."
    columns = [_numeric_column(raw, j, hint) for j in range(len(raw.names))]
    return CovariateTable(
        fid=np.array(raw.fid, dtype=str),
        iid=np.array(raw.iid, dtype=str),
        names=tuple(raw.names),
        values=np.column_stack(columns),
        columns=tuple(raw.names),
        levels={},
        source=raw.label,
        lines=np.array(raw.lines, dtype=np.int64),
    )


def read_covariates(path: PathLike, *, categorical: Iterable[str] = ()) -> CovariateTable:
    """Read a covariate file (``--covar``) with quantitative and categorical columns.

    A column whose non-missing values are all numbers is quantitative; any other column is
    categorical and is one-hot encoded against its first level in sorted string order (see
    :class:`CovariateTable`).  Note that GCTA's ``--covar`` treats *every* column as
    categorical: a batch coded ``1``/``2``/``3`` is quantitative here unless it is named in
    ``categorical``.

    Parameters
    ----------
    path : str or os.PathLike
        ``FID IID c1 c2 ...`` with an optional header.  Columns are named ``covar1``, ...
        without a header.
    categorical : iterable of str, optional
        Names of columns to treat as categorical even though they are numeric.

    Returns
    -------
    CovariateTable

    Raises
    ------
    InputError
        As :func:`read_phenotypes`, or an infinite value in a numeric column.
    UsageError
        A name in ``categorical`` is not a column of the file.
    """
    raw = _read_raw_table(path, "covariate", "covar")
    forced = list(categorical)
    for name in forced:
        if name not in raw.names:
            raise UsageError(
                f"categorical covariate {_show(name)} is not a column of {raw.label}",
                hint=f"columns are: {_name_list(raw.names)}",
            )
    names: list[str] = []
    sources: list[str] = []
    blocks: list[np.ndarray] = []
    levels: dict[str, tuple[str, ...]] = {}
    n = len(raw.cells)
    for j, column_name in enumerate(raw.names):
        tokens = [row[j] for row in raw.cells]
        parsed = [_parse_number(token) for token in tokens]
        if column_name not in forced and all(value is not None for value in parsed):
            values = np.array(parsed, dtype=np.float64)
            bad = np.flatnonzero(np.isinf(values))
            if bad.size:
                i = int(bad[0])
                raise InputError(
                    f"{raw.label} line {raw.lines[i]}, column {column_name}: "
                    f"{_show(tokens[i])} is not a finite number"
                )
            names.append(column_name)
            sources.append(column_name)
            blocks.append(values[:, None])
            continue
        # Categorical: missing tokens stay missing; everything else is a level.
        present = [
            token
            for token, value in zip(tokens, parsed, strict=True)
            if not (value is not None and math.isnan(value))
        ]
        column_levels = tuple(sorted(set(present)))
        levels[column_name] = column_levels
        code = {level: k for k, level in enumerate(column_levels)}
        onehot = np.zeros((n, max(len(column_levels) - 1, 0)), dtype=np.float64)
        for i, (token, value) in enumerate(zip(tokens, parsed, strict=True)):
            if value is not None and math.isnan(value):
                onehot[i, :] = np.nan
            elif (k := code[token]) > 0:
                onehot[i, k - 1] = 1.0
        for level in column_levels[1:]:
            names.append(f"{column_name}={level}")
            sources.append(column_name)
        blocks.append(onehot)
    values = np.concatenate(blocks, axis=1) if blocks else np.empty((n, 0))
    return CovariateTable(
        fid=np.array(raw.fid, dtype=str),
        iid=np.array(raw.iid, dtype=str),
        names=tuple(names),
        values=values,
        columns=tuple(sources),
        levels=levels,
        source=raw.label,
        lines=np.array(raw.lines, dtype=np.int64),
    )


def _name_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def select_phenotype(
    table: SampleTable, mpheno: int | None = None, name: str | None = None
) -> SampleTable:
    """Pick the phenotype to analyse.

    Parameters
    ----------
    table : SampleTable
        All phenotypes of the file.
    mpheno : int, optional
        1-based column number among the phenotype columns (GCTA/PLINK ``--mpheno``).
    name : str, optional
        Column name (plink2 ``--pheno-name``).  Mutually exclusive with ``mpheno``.
        With neither, the first phenotype column is used, as GCTA and PLINK do.

    Returns
    -------
    SampleTable
        A one-column table with the same samples.

    Raises
    ------
    UsageError
        ``mpheno`` out of range, unknown ``name``, or both given.
    """
    k = len(table.names)
    plural = "column" if k == 1 else "columns"
    if mpheno is not None and name is not None:
        raise UsageError("--mpheno and --pheno-name cannot be used together")
    if name is not None:
        if name not in table.names:
            raise UsageError(
                f"--pheno-name {name} but {table.source} has no phenotype column {name!r}",
                hint=f"phenotype columns are: {_name_list(table.names)}",
            )
        j = table.names.index(name)
    elif mpheno is not None:
        if isinstance(mpheno, bool) or not isinstance(mpheno, (int, np.integer)) or mpheno < 1:
            raise UsageError(f"--mpheno must be a positive whole number, not {mpheno!r}")
        if mpheno > k:
            raise UsageError(
                f"--mpheno {mpheno} but {table.source} has {k} phenotype {plural}",
                hint=f"phenotype columns are: {_name_list(table.names)}",
            )
        j = int(mpheno) - 1
    else:
        j = 0
    return SampleTable(
        fid=table.fid,
        iid=table.iid,
        names=(table.names[j],),
        values=table.values[:, j : j + 1],
        source=table.source,
        lines=table.lines,
    )


# ---------------------------------------------------------------------------------------------
# Sample reconciliation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SampleSource:
    """One input that restricts the analysed samples (a phenotype or covariate file).

    Attributes
    ----------
    label : str
        How the input is named in messages, normally its path.
    fid, iid : numpy.ndarray of str
        The samples of the input.
    usable : numpy.ndarray of bool, optional
        Rows with complete data; None means every row is usable.
    missing_reason : str
        Why an unusable row is dropped, e.g. ``"missing phenotype CD8"``.
    usable_text : str
        Describes usable rows in the log, e.g. ``"with phenotype CD8"``.
    missing_detail : tuple of str, optional
        A per-row reason (used in the file of dropped IDs) where ``missing_reason`` is
        too coarse, e.g. ``"missing covariate age, sex"``.
    """

    label: str
    fid: np.ndarray
    iid: np.ndarray
    usable: np.ndarray | None = None
    missing_reason: str = "missing value"
    usable_text: str = "with complete data"
    missing_detail: tuple[str, ...] | None = None

    @classmethod
    def from_phenotype(cls, table: SampleTable, column: int | str = 0) -> SampleSource:
        """Samples of a phenotype file with a non-missing value in one column."""
        j = table._index(column)
        name = table.names[j]
        return cls(
            label=table.source,
            fid=table.fid,
            iid=table.iid,
            usable=~np.isnan(table.values[:, j]),
            missing_reason=f"missing phenotype {name}",
            usable_text=f"with phenotype {name}",
        )

    @classmethod
    def from_covariates(cls, table: CovariateTable) -> SampleSource:
        """Samples of a covariate file with every covariate present."""
        missing = np.isnan(table.values)
        detail: list[str] = []
        for row in missing:
            if row.any():
                columns = dict.fromkeys(c for c, m in zip(table.columns, row, strict=True) if m)
                detail.append("missing covariate " + ", ".join(columns))
            else:
                detail.append("")
        return cls(
            label=table.source,
            fid=table.fid,
            iid=table.iid,
            usable=~missing.any(axis=1),
            missing_reason="missing covariate",
            usable_text="with all covariates",
            missing_detail=tuple(detail),
        )


@dataclass(frozen=True)
class SourceSummary:
    """Counts for one input in a :class:`Reconciliation`."""

    label: str
    n_samples: int
    n_usable: int
    usable_text: str = ""


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The samples to analyse and an account of every sample left out.

    Attributes
    ----------
    fid, iid : numpy.ndarray of str, shape (n,)
        Analysed samples, in GRM order (or in the order of the first source without a GRM).
    grm_index : numpy.ndarray of int64, shape (n,) or None
        Index of each analysed sample in the GRM's sample list (increasing).
    source_rows : tuple of numpy.ndarray of int64
        For each source, in the order given, the row of each analysed sample in it, so
        ``table.values[source_rows[k]]`` lines up with ``fid``/``iid``.
    sources : tuple of SourceSummary
        Per-source counts, in the order given.
    grm_label : str
        How the GRM is named in messages.
    n_grm : int or None
        Number of samples in the GRM.
    n_keep, n_remove : int or None
        Sizes of the keep and remove lists, when given.
    n_common : int
        Samples present in the GRM and in every source (before missing values, keep and
        remove are applied).
    dropped : tuple of (str, str, str)
        ``(FID, IID, reasons)`` for every sample of the GRM or a source that is not
        analysed; ``reasons`` joins all reasons that apply with ``"; "``.
    drop_counts : dict of str to int
        Dropped samples counted by their first reason, in the order: not in the GRM, not
        in a source, missing values, not in the keep list, in the remove list.  The counts
        add up to ``len(dropped)``.
    """

    fid: np.ndarray
    iid: np.ndarray
    grm_index: np.ndarray | None
    source_rows: tuple[np.ndarray, ...]
    sources: tuple[SourceSummary, ...]
    grm_label: str
    n_grm: int | None
    n_keep: int | None
    n_remove: int | None
    keep_label: str
    remove_label: str
    n_common: int
    dropped: tuple[tuple[str, str, str], ...]
    drop_counts: dict[str, int]

    @property
    def n_samples(self) -> int:
        """Number of analysed samples."""
        return len(self.fid)

    def ids(self) -> list[SampleId]:
        """Return the analysed (FID, IID) pairs in analysis order."""
        return list(zip(self.fid.tolist(), self.iid.tolist(), strict=True))

    def rows(self, source: int | str) -> np.ndarray:
        """Row indices into a source (by position or label) for the analysed samples."""
        if isinstance(source, str):
            labels = [s.label for s in self.sources]
            if labels.count(source) != 1:
                raise KeyError(source)
            source = labels.index(source)
        return self.source_rows[source]

    def summary_lines(self) -> list[str]:
        """Lines for the log: what each input holds, what is in common, what was dropped."""
        lines: list[str] = []
        if self.n_grm is not None:
            lines.append(f"{self.grm_label}: {_count(self.n_grm, 'sample')}")
        for s in self.sources:
            text = f"{s.label}: {_count(s.n_samples, 'sample')}"
            if s.n_usable != s.n_samples:
                text += f", {s.n_usable} {s.usable_text}"
            lines.append(text)
        if self.n_keep is not None:
            lines.append(f"{self.keep_label}: {_count(self.n_keep, 'ID')}")
        if self.n_remove is not None:
            lines.append(f"{self.remove_label}: {_count(self.n_remove, 'ID')}")
        inputs = (1 if self.n_grm is not None else 0) + len(self.sources)
        where = "in common to all inputs" if inputs > 1 else "in the input"
        lines.append(f"{_count(self.n_common, 'sample')} {where}; {self.n_samples} analysed")
        if self.dropped:
            parts = ", ".join(f"{n} {reason}" for reason, n in self.drop_counts.items())
            lines.append(f"dropped {_count(len(self.dropped), 'sample')}: {parts}")
        return lines

    def write_dropped(self, path: PathLike) -> None:
        """Write the dropped samples as ``FID IID reason`` lines (tab-separated, header).

        Raises
        ------
        OutputError
            The file cannot be written.
        """
        text = "#FID\tIID\treason\n" + "".join(
            f"{fid}\t{iid}\t{reason}\n" for fid, iid, reason in self.dropped
        )
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _as_source(item: SampleSource | SampleTable | CovariateTable) -> SampleSource:
    if isinstance(item, SampleSource):
        return item
    if isinstance(item, CovariateTable):
        return SampleSource.from_covariates(item)
    if isinstance(item, SampleTable):
        if len(item.names) == 1:
            return SampleSource.from_phenotype(item, 0)
        usable = ~np.isnan(item.values).any(axis=1)
        return SampleSource(
            item.source,
            item.fid,
            item.iid,
            usable,
            missing_reason="missing phenotype",
            usable_text="with all phenotypes",
        )
    raise TypeError(f"cannot reconcile samples of {type(item).__name__}")


def _index_of(ids: Iterable[SampleId], label: str) -> dict[SampleId, int]:
    index: dict[SampleId, int] = {}
    for k, sample in enumerate(ids):
        if sample in index:
            raise InputError(
                f"{label} lists sample FID={_show(sample[0])} IID={_show(sample[1])} twice"
            )
        index[sample] = k
    return index


def reconcile(
    grm_ids: Sequence[SampleId] | None,
    sources: Sequence[SampleSource | SampleTable | CovariateTable] = (),
    *,
    keep: Iterable[SampleId] | None = None,
    remove: Iterable[SampleId] | None = None,
    grm_label: str = "GRM",
    keep_label: str = "keep list",
    remove_label: str = "remove list",
) -> Reconciliation:
    """Find the samples to analyse: in the GRM, in every source with complete data, kept.

    Parameters
    ----------
    grm_ids : sequence of (str, str) or None
        The GRM's samples (FID, IID) in matrix order; the analysed samples keep this order.
        None when there is no GRM: the order of the first source is used and no sample is
        dropped for being absent from a GRM.  Any reference sample list (e.g. a ``.fam``)
        can be passed, with ``grm_label`` naming it.
    sources : sequence of SampleSource, SampleTable or CovariateTable
        The inputs.  A one-column :class:`SampleTable` (see :func:`select_phenotype`)
        requires that phenotype to be present; a wider one requires all of its columns.  A
        :class:`CovariateTable` requires every covariate.  Use :class:`SampleSource` for
        anything else.
    keep, remove : iterable of (str, str), optional
        ``--keep`` and ``--remove`` lists.
    grm_label, keep_label, remove_label : str
        Names used in the log and in messages.

    Returns
    -------
    Reconciliation

    Raises
    ------
    DataError
        No sample is left to analyse; the message gives each input's count.
    InputError
        The GRM sample list contains a duplicate.
    """
    items = [_as_source(item) for item in sources]
    if grm_ids is None and not items:
        raise UsageError("nothing to reconcile: no GRM and no sample files")
    grm_list = [(str(f), str(i)) for f, i in grm_ids] if grm_ids is not None else None
    grm_index = _index_of(grm_list, grm_label) if grm_list is not None else None
    source_index = [
        dict(zip(zip(s.fid.tolist(), s.iid.tolist(), strict=True), range(len(s.fid)), strict=True))
        for s in items
    ]
    keep_set = {(str(f), str(i)) for f, i in keep} if keep is not None else None
    remove_set = {(str(f), str(i)) for f, i in remove} if remove is not None else None

    # Universe: the GRM's samples in order, then samples only found in the sources.
    universe: dict[SampleId, None] = dict.fromkeys(grm_list) if grm_list is not None else {}
    for s in items:
        universe.update(dict.fromkeys(zip(s.fid.tolist(), s.iid.tolist(), strict=True)))

    analysed: list[SampleId] = []
    dropped: list[tuple[str, str, str]] = []
    drop_counts: dict[str, int] = {}
    n_common = 0
    absent_reason = [f"not in {s.label}" for s in items]
    missing_reason = [f"{s.missing_reason} in {s.label}" for s in items]
    for sample in universe:
        reasons: list[str] = []
        primary: list[str] = []
        if grm_index is not None and sample not in grm_index:
            reasons.append(f"not in {grm_label}")
            primary.append(reasons[-1])
        rows = [index.get(sample) for index in source_index]
        missing: list[str] = []
        for k, row in enumerate(rows):
            if row is None:
                reasons.append(absent_reason[k])
                primary.append(reasons[-1])
        if not reasons:
            n_common += 1
        for k, row in enumerate(rows):
            s = items[k]
            if row is not None and s.usable is not None and not s.usable[row]:
                detail = s.missing_detail[row] if s.missing_detail is not None else ""
                missing.append(f"{detail or s.missing_reason} in {s.label}")
                primary.append(missing_reason[k])
        reasons.extend(missing)
        if keep_set is not None and sample not in keep_set:
            reasons.append(f"not in {keep_label}")
            primary.append(reasons[-1])
        if remove_set is not None and sample in remove_set:
            reasons.append(f"in {remove_label}")
            primary.append(reasons[-1])
        if reasons:
            dropped.append((sample[0], sample[1], "; ".join(reasons)))
            drop_counts[primary[0]] = drop_counts.get(primary[0], 0) + 1
        else:
            analysed.append(sample)

    summaries = tuple(
        SourceSummary(
            s.label,
            len(s.fid),
            int(np.count_nonzero(s.usable)) if s.usable is not None else len(s.fid),
            s.usable_text,
        )
        for s in items
    )
    n_keep = len(keep_set) if keep_set is not None else None
    n_remove = len(remove_set) if remove_set is not None else None
    if not analysed:
        raise _no_samples_error(
            grm_list, grm_label, items, summaries, n_keep, keep_label, n_common, drop_counts
        )
    fid = np.array([f for f, _ in analysed], dtype=str)
    iid = np.array([i for _, i in analysed], dtype=str)
    return Reconciliation(
        fid=_frozen_array(fid),
        iid=_frozen_array(iid),
        grm_index=(
            _frozen_array(np.array([grm_index[s] for s in analysed], dtype=np.int64))
            if grm_index is not None
            else None
        ),
        source_rows=tuple(
            _frozen_array(np.array([index[s] for s in analysed], dtype=np.int64))
            for index in source_index
        ),
        sources=summaries,
        grm_label=grm_label,
        n_grm=len(grm_list) if grm_list is not None else None,
        n_keep=n_keep,
        n_remove=n_remove,
        keep_label=keep_label,
        remove_label=remove_label,
        n_common=n_common,
        dropped=tuple(dropped),
        drop_counts=drop_counts,
    )


def _no_samples_error(
    grm_list: list[SampleId] | None,
    grm_label: str,
    items: list[SampleSource],
    summaries: tuple[SourceSummary, ...],
    n_keep: int | None,
    keep_label: str,
    n_common: int,
    drop_counts: dict[str, int],
) -> DataError:
    counts: list[str] = []
    if grm_list is not None:
        counts.append(f"{grm_label} has {len(grm_list)}")
    for s in summaries:
        text = f"{s.label} {s.n_samples}"
        if s.n_usable != s.n_samples:
            text += f" ({s.n_usable} {s.usable_text})"
        counts.append(text)
    if n_keep is not None:
        counts.append(f"{keep_label} {n_keep}")
    if n_common == 0:
        return DataError(
            "no samples in common: " + ", ".join(counts), hint=_id_mismatch_hint(grm_list, items)
        )
    reasons = ", ".join(f"{n} {reason}" for reason, n in drop_counts.items())
    return DataError(
        f"no samples left to analyse: {n_common} in common ({', '.join(counts)}), "
        f"dropped: {reasons}"
    )


def _id_mismatch_hint(grm_list: list[SampleId] | None, items: list[SampleSource]) -> str:
    """Explain a zero overlap caused by FID conventions or swapped columns, if it is that."""
    generic = "samples are matched on both FID and IID"
    reference: tuple[str, list[SampleId]] | None = None
    if grm_list is not None:
        reference = ("the GRM", grm_list)
    elif items:
        s0 = items[0]
        reference = (s0.label, list(zip(s0.fid.tolist(), s0.iid.tolist(), strict=True)))
        items = items[1:]
    if reference is None:
        return generic
    ref_label, ref_ids = reference
    ref_iids = {i for _, i in ref_ids}
    ref_pairs = set(ref_ids)
    for s in items:
        pairs = list(zip(s.fid.tolist(), s.iid.tolist(), strict=True))
        if ref_pairs.intersection(pairs):
            continue
        shared_iid = len(ref_iids.intersection(s.iid.tolist()))
        if shared_iid:
            return (
                f"{s.label} and {ref_label} share {shared_iid} IIDs but no (FID, IID) pair: "
                f"check the FID column ({generic}; a '#IID' header means FID = IID)"
            )
        swapped = len(ref_pairs.intersection((i, f) for f, i in pairs))
        if swapped:
            return f"{s.label} seems to have IID before FID ({swapped} swapped pairs match)"
    return generic


# ---------------------------------------------------------------------------------------------
# Design matrix
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Design:
    """Fixed-effect design matrix with an intercept and independent covariate columns.

    Attributes
    ----------
    matrix : numpy.ndarray of float64, shape (n, p)
        Column 0 is the intercept (all ones).
    names : tuple of str
        Column names, ``"intercept"`` first.
    dropped : tuple of (str, str)
        ``(name, reason)`` for every covariate column left out.
    """

    matrix: np.ndarray
    names: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "matrix", _frozen_array(self.matrix))

    @property
    def n_columns(self) -> int:
        """Number of columns, intercept included."""
        return self.matrix.shape[1]

    def warnings(self) -> list[str]:
        """One warning line per dropped covariate column."""
        return [f"covariate {name} {reason}; dropped" for name, reason in self.dropped]


def build_design(
    covariates: CovariateTable | Sequence[CovariateTable] | None,
    rows: np.ndarray | Sequence[np.ndarray],
    *,
    rtol: float = 1e-8,
) -> Design:
    """Assemble the design matrix for the analysed samples.

    Parameters
    ----------
    covariates : CovariateTable, sequence of CovariateTable, or None
        Covariates (e.g. from ``--covar`` and ``--qcovar``); None for an intercept only.
    rows : numpy.ndarray of int, or a sequence of them
        For each table, the row of each analysed sample (``Reconciliation.rows``).  With
        ``covariates=None`` only its length (the number of samples) is used.
    rtol : float, default 1e-8
        A column is dropped as collinear when the norm of its residual after projection on
        the columns already kept is at most ``rtol`` times its own norm.

    Returns
    -------
    Design
        Intercept first, then covariate columns in file order, less those dropped.

    Raises
    ------
    DataError
        No samples, a missing covariate value among ``rows``, or at least as many columns as
        samples (no residual degrees of freedom).

    Notes
    -----
    Columns are examined left to right.  A column whose values are all equal is dropped as
    constant (this includes a categorical level absent from the analysed samples); a column
    in the span of the columns kept before it is dropped as collinear.  The test uses
    Gram-Schmidt with re-orthogonalisation rather than pivoted QR so that it is always the
    *later* column of a dependent set that goes, which keeps the user's ordering meaningful.
    A categorical covariate with a single level contributes no column and is reported too.
    """
    tables: list[CovariateTable]
    row_sets: list[np.ndarray]
    if isinstance(covariates, CovariateTable):
        tables = [covariates]
        row_sets = [np.asarray(rows, dtype=np.int64)]
    elif covariates:
        tables = list(covariates)
        row_sets = [np.asarray(r, dtype=np.int64) for r in rows]
        if len(row_sets) != len(tables):
            raise ValueError("need one row index array per covariate table")
    else:
        tables, row_sets = [], []
    n = len(row_sets[0]) if row_sets else len(rows)
    if any(len(r) != n for r in row_sets):
        raise ValueError("row index arrays differ in length")
    if n == 0:
        raise DataError("no samples to build the design matrix for")

    columns: list[np.ndarray] = [np.ones(n)]
    names: list[str] = ["intercept"]
    used: set[str] = {"intercept"}
    dropped: list[tuple[str, str]] = []
    categorical_sizes: dict[str, int] = {}
    for table, r in zip(tables, row_sets, strict=True):
        values = table.values[r]
        for column, column_levels in table.levels.items():
            if len(column_levels) == 1:
                dropped.append((column, f"has a single level {column_levels[0]!r}"))
            categorical_sizes[column] = len(column_levels)
        for j, name in enumerate(table.names):
            col = values[:, j]
            bad = np.isnan(col)
            if bad.any():
                raise DataError(
                    f"covariate {name} in {table.source} is missing for "
                    f"{_count(int(bad.sum()), 'analysed sample')}",
                    hint="reconcile the samples (which drops incomplete rows) before "
                    "building the design",
                )
            unique = name if name not in used else f"{table.source}:{name}"
            used.add(unique)
            check_magnitude(col, f"covariate {name} in {table.source}")
            if np.all(col == col[0]):
                dropped.append(
                    (unique, f"is constant ({col[0]:g}) in the {_count(n, 'analysed sample')}")
                )
                continue
            columns.append(col.astype(np.float64, copy=True))
            names.append(unique)

    p = len(columns)
    if p >= n:
        detail = ""
        if categorical_sizes:
            biggest = max(categorical_sizes, key=lambda c: categorical_sizes[c])
            if categorical_sizes[biggest] - 1 > (p - 1) / 2:  # it explains the problem
                detail = (
                    f"; categorical covariate {biggest} alone has "
                    f"{categorical_sizes[biggest]} levels"
                )
        raise DataError(
            f"the design has {p} columns (intercept and {_count(p - 1, 'covariate column')} "
            f"from {_sources(tables)}) but only {_count(n, 'sample')}{detail}",
            hint="REML needs more samples than fixed-effect columns; use fewer covariates",
        )

    matrix = np.column_stack(columns)
    keep, dependent = _independent_columns(matrix, rtol)
    for j in dependent:
        partners = _collinear_partners(matrix, keep, j, names)
        dropped.append((names[j], f"is collinear with earlier columns ({partners})"))
    matrix = matrix[:, keep]
    names = [names[j] for j in keep]
    if matrix.shape[1] >= n:
        raise DataError(
            f"the design has {matrix.shape[1]} independent columns (intercept and covariates "
            f"from {_sources(tables)}) but only {_count(n, 'sample')}",
            hint="REML needs more samples than fixed-effect columns; use fewer covariates",
        )
    # Report drops in column order: easier to read next to the covariate file.
    order = {name: k for k, name in enumerate(c for t in tables for c in (*t.levels, *t.names))}
    dropped.sort(key=lambda item: order.get(item[0], len(order)))
    return Design(matrix=matrix, names=tuple(names), dropped=tuple(dropped))


#: Values beyond these magnitudes overflow or underflow the sums of squares of a fit.
MAX_MAGNITUDE = 1e100
MIN_MAGNITUDE = 1e-100


def check_magnitude(values: np.ndarray, what: str) -> None:
    """Refuse values whose squares and cross-products would overflow or underflow float64.

    Raises
    ------
    DataError
        Naming ``what`` and the largest absolute value.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return
    largest = float(np.max(np.abs(finite)))
    if largest > MAX_MAGNITUDE or 0.0 < largest < MIN_MAGNITUDE:
        raise DataError(
            f"{what}: values of magnitude {largest:.3g} cannot be analysed in double precision "
            f"(allowed {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g})",
            hint="rescale the column (heritability does not depend on its units)",
        )


def _sources(tables: Sequence[CovariateTable]) -> str:
    return ", ".join(dict.fromkeys(t.source for t in tables)) or "no covariate file"


def _independent_columns(matrix: np.ndarray, rtol: float) -> tuple[list[int], list[int]]:
    """Split column indices into kept (independent of earlier kept) and dependent ones."""
    n, p = matrix.shape
    basis = np.empty((n, p))
    k = 0
    keep: list[int] = []
    dependent: list[int] = []
    for j in range(p):
        v = matrix[:, j].copy()
        norm = np.linalg.norm(v)
        if norm == 0.0:
            dependent.append(j)
            continue
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            if k:
                q = basis[:, :k]
                v -= q @ (q.T @ v)
        residual = np.linalg.norm(v)
        if residual <= rtol * norm:
            dependent.append(j)
            continue
        basis[:, k] = v / residual
        k += 1
        keep.append(j)
    return keep, dependent


def _collinear_partners(matrix: np.ndarray, keep: list[int], j: int, names: list[str]) -> str:
    """Name the earlier kept columns that a dependent column is a combination of."""
    earlier = [c for c in keep if c < j]
    if not earlier:
        return "none"
    coef, *_ = np.linalg.lstsq(matrix[:, earlier], matrix[:, j], rcond=None)
    scale = np.linalg.norm(matrix[:, j])
    weight = np.abs(coef) * np.linalg.norm(matrix[:, earlier], axis=0)
    involved = [names[c] for c, w in zip(earlier, weight, strict=True) if w > 1e-6 * scale]
    return _name_list(involved or [names[c] for c in earlier], limit=5)
