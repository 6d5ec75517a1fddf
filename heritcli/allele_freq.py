"""Allele frequencies fixed before a GRM is computed: a first pass over the ``.bed``, or a file.

A GRM computed in parts (``make-grm --part I/N``) or on a cluster must
standardize every SNP with the same frequency in every part, and must drop the
same SNPs for ``--maf``/``--max-maf``/``--geno``.  :func:`count_alleles` computes,
in one cheap pass over the packed ``.bed`` bytes (a histogram of the bytes of
each SNP, no decoding when every sample is kept), the A1 frequency and the
called/missing counts of every candidate SNP among the kept samples: the same
integers, hence the same float64 frequencies, as the one-pass ``make-grm``
computes block by block.  :func:`read_freq_file` reads frequencies computed
elsewhere instead:

* herit's own ``.freq`` (written by ``herit freq``), a tab-separated table with
  header ``#CHROM ID A1 A2 A1_FREQ N_CALLED N_MISSING``; frequencies are written
  with Python's shortest round-trip ``repr`` so they read back bit for bit;
* plink1.9 ``--freq`` output (``.frq``: ``CHR SNP A1 A2 MAF NCHROBS``, where
  ``MAF`` is the frequency of that file's ``A1``);
* plink2 ``--freq`` output (``.afreq``: ``#CHROM ID REF ALT ALT_FREQS OBS_CT``,
  ``PROVISIONAL_REF?`` optional).

Rows are matched to the ``.bim`` by variant ID and their alleles checked: a
frequency given for the ``.bim``'s A2 is flipped (``1 − p``); other alleles are
an error naming the line.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import InputError

FREQ_HEADER = ("#CHROM", "ID", "A1", "A2", "A1_FREQ", "N_CALLED", "N_MISSING")
_MISSING_TEXT = {"NA", "nan", "NaN", ".", "-9"}


@dataclass(frozen=True)
class SnpCounts:
    """Frequency and call counts of every ``.bim`` variant (NaN/0 where not computed).

    Attributes
    ----------
    freq : ndarray of float64, shape (M,)
        A1 frequency among the non-missing calls of the kept samples.
    n_called, n_missing : ndarray of int64, shape (M,)
        Calls and missing calls among the kept samples.
    source : str
        Where the frequencies come from (``.bed`` first pass or a file).
    """

    freq: np.ndarray
    n_called: np.ndarray
    n_missing: np.ndarray
    source: str

    def block(self, snps: np.ndarray) -> Any:
        """The :class:`~heritcli.core.standardize.BlockStats` of some SNPs."""
        from heritcli.core.standardize import BlockStats

        return BlockStats(self.freq[snps], self.n_called[snps], self.n_missing[snps])


def count_alleles(
    reader: Any,
    n_fam: int,
    sample_index: np.ndarray | None,
    snps: np.ndarray,
    block: int,
    *,
    n_bim: int,
    progress: Any = None,
) -> SnpCounts:
    """First pass: A1 frequency and call counts of ``snps`` among the kept samples.

    Parameters
    ----------
    reader : PlinkFileset or BedReader
        Gives the packed ``.bed`` rows (``read_packed``/``read_packed_rows``).
    n_fam : int
        Samples in the ``.fam``.
    sample_index : ndarray of int or None
        The kept samples (None: all of them, counted straight from the bytes).
    snps : ndarray of int
        ``.bim`` indices to count, increasing.
    block : int
        SNPs read at a time.
    n_bim : int
        Variants in the ``.bim`` (length of the arrays returned).

    Returns
    -------
    SnpCounts
        ``freq = (2·n_AA + n_Aa) / (2·n_called)`` for the counted SNPs (NaN elsewhere
        and where every call is missing).
    """
    from heritcli.core.bedkernels import kernels_available, scan_rows
    from heritcli.core.packed import code_counts, frequencies_from_codes
    from heritcli.core.standardize import block_stats
    from heritcli.io.plink import decode_packed, missing_positions

    compiled = kernels_available()
    freq = np.full(n_bim, np.nan)
    n_called = np.zeros(n_bim, dtype=np.int64)
    n_missing = np.zeros(n_bim, dtype=np.int64)
    for start in range(0, snps.size, block):
        chunk = snps[start : start + block]
        packed = read_packed_snps(reader, chunk)
        if compiled:
            f, called, missed = frequencies_from_codes(scan_rows(packed, n_fam, sample_index)[0])
        elif sample_index is None:
            f, called, missed = frequencies_from_codes(code_counts(packed, n_fam))
        else:
            counts = decode_packed(packed, n_fam)[:, sample_index]
            rows, _ = missing_positions(packed, n_fam, sample_index)
            stats = block_stats(counts, n_missing=np.bincount(rows, minlength=chunk.size))
            f, called, missed = stats.freq, stats.n_called, stats.n_missing
        freq[chunk] = f
        n_called[chunk] = called
        n_missing[chunk] = missed
        if progress is not None:
            progress.advance(int(chunk.size))
    return SnpCounts(freq, n_called, n_missing, source="first pass over the .bed")


def read_packed_snps(reader: Any, snps: np.ndarray) -> np.ndarray:
    """Packed rows of increasing ``.bim`` indices: one contiguous read when they are a run."""
    if snps[-1] - snps[0] + 1 == snps.size:
        return reader.read_packed(int(snps[0]), int(snps[-1]) + 1)
    return reader.read_packed_rows(snps)


def freq_hash(snp_id: np.ndarray, freq: np.ndarray, used: np.ndarray) -> str:
    """SHA-256 of the used SNPs' IDs and float64 frequencies, in ``.bim`` order."""
    digest = hashlib.sha256()
    index = np.flatnonzero(used)
    digest.update("\n".join(str(s) for s in np.asarray(snp_id)[index]).encode())
    digest.update(np.ascontiguousarray(np.asarray(freq, dtype=np.float64)[index]).tobytes())
    return digest.hexdigest()


def snp_list_hash(snp_id: np.ndarray, used: np.ndarray) -> str:
    """SHA-256 of the used SNPs' IDs, in ``.bim`` order."""
    digest = hashlib.sha256()
    digest.update("\n".join(str(s) for s in np.asarray(snp_id)[np.asarray(used)]).encode())
    return digest.hexdigest()


def write_freq_file(
    target: str | os.PathLike[str], bim: Any, counts: SnpCounts, snps: np.ndarray
) -> Path:
    """Write herit's ``.freq`` table for ``snps`` (atomically)."""
    from heritcli.io.atomic import atomic_text

    target = Path(target)
    with atomic_text(target) as handle:
        write = handle.write  # type: ignore[attr-defined]
        write("\t".join(FREQ_HEADER) + "\n")
        for j in snps.tolist():
            p = counts.freq[j]
            text = "NA" if np.isnan(p) else repr(float(p))
            write(
                f"{bim.chrom[j]}\t{bim.snp_id[j]}\t{bim.a1[j]}\t{bim.a2[j]}\t{text}\t"
                f"{int(counts.n_called[j])}\t{int(counts.n_missing[j])}\n"
            )
    return target


def read_freq_file(path: str | os.PathLike[str], bim: Any, snps: np.ndarray) -> np.ndarray:
    """A1 frequencies (of the ``.bim``'s A1) for ``snps`` from a frequency file.

    Parameters
    ----------
    path : path
        herit ``.freq``, plink1.9 ``.frq`` or plink2 ``.afreq`` (detected from the header).
    bim : BimTable
        The ``.bim`` the GRM is built from.
    snps : ndarray of int
        The ``.bim`` indices that need a frequency.

    Returns
    -------
    ndarray of float64, shape (M,)
        NaN outside ``snps`` and where the file says ``NA``.

    Raises
    ------
    InputError
        Unknown layout, a malformed line, alleles that do not match the ``.bim``,
        or a needed variant absent from the file (the first one is named).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read --freq {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"--freq {path} is not a text file") from None
    if not lines:
        raise InputError(f"--freq {path} is empty")
    header = lines[0].split()
    columns = _freq_columns(path, header)
    wanted = {str(bim.snp_id[j]): j for j in snps.tolist()}
    freq = np.full(bim.n_snps, np.nan)
    seen = np.zeros(bim.n_snps, dtype=bool)
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < len(header):
            raise InputError(
                f"{path}, line {number}: {len(fields)} columns, the header has {len(header)}"
            )
        snp = fields[columns["id"]]
        j = wanted.get(snp)
        if j is None or seen[j]:
            continue
        allele, other = fields[columns["allele"]], fields[columns["other"]]
        text = fields[columns["freq"]]
        if text in _MISSING_TEXT:
            value = np.nan
        else:
            try:
                value = float(text)
            except ValueError:
                raise InputError(
                    f"{path}, line {number}: frequency '{text}' of {snp} is not a number"
                ) from None
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{path}, line {number}: frequency {text} of {snp} is not in 0-1")
        a1, a2 = str(bim.a1[j]), str(bim.a2[j])
        if (allele, other) == (a1, a2):
            freq[j] = value
        elif (allele, other) == (a2, a1):
            freq[j] = 1.0 - value
        else:
            raise InputError(
                f"{path}, line {number}: alleles {allele}/{other} of {snp} do not match the "
                f".bim's {a1}/{a2}"
            )
        seen[j] = True
    absent = snps[~seen[snps]]
    if absent.size:
        raise InputError(
            f"--freq {path} has no line for {absent.size} of the {snps.size} variants used "
            f"(first: {bim.snp_id[absent[0]]})",
            hint="compute it on the same .bim with: herit freq --bfile PREFIX --out NAME",
        )
    return freq


def _freq_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Column positions of ID, the allele whose frequency is given, the other allele, freq."""
    names = [h.lstrip("#") for h in header]
    if {"ID", "A1", "A2", "A1_FREQ"} <= set(names):  # herit
        return {
            "id": names.index("ID"),
            "allele": names.index("A1"),
            "other": names.index("A2"),
            "freq": names.index("A1_FREQ"),
        }
    if {"SNP", "A1", "A2", "MAF"} <= set(names):  # plink1.9 .frq
        return {
            "id": names.index("SNP"),
            "allele": names.index("A1"),
            "other": names.index("A2"),
            "freq": names.index("MAF"),
        }
    if {"ID", "REF", "ALT", "ALT_FREQS"} <= set(names):  # plink2 .afreq
        return {
            "id": names.index("ID"),
            "allele": names.index("ALT"),
            "other": names.index("REF"),
            "freq": names.index("ALT_FREQS"),
        }
    raise InputError(
        f"--freq {path}: header '{' '.join(header)}' is not that of herit's .freq, "
        "plink1.9's .frq or plink2's .afreq"
    )


@dataclass(frozen=True)
class FreqResult:
    """What :func:`frequency_table` wrote."""

    path: str
    n_samples: int
    n_snps: int
    seconds: float


def frequency_table(options: Any, out: str | os.PathLike[str], reporter: Any) -> FreqResult:
    """Count alleles of the samples and SNPs selected by ``options`` and write ``OUT.freq``.

    ``options`` is a :class:`heritcli.grm_build.MakeGrmOptions`; the genotype
    filters (``--maf``, ``--geno``) are not applied here: the table lists every
    candidate SNP, and make-grm applies its filters to the frequencies it reads.
    """
    import time

    from heritcli.grm_build import auto_block_snps, prepare_inputs
    from heritcli.io.atomic import check_writable_dir

    started = time.perf_counter()
    text = os.fspath(out)
    target = check_writable_dir(Path(text if text.endswith(".freq") else text + ".freq"))
    inputs = prepare_inputs(options, reporter)
    fileset = inputs.fileset
    with reporter.task("allele counts", total=int(inputs.candidates.size), unit="SNPs") as task:
        counts = count_alleles(
            fileset,
            fileset.n_samples,
            inputs.column_index,
            inputs.candidates,
            options.block_snps or auto_block_snps(inputs.n_samples),
            n_bim=fileset.n_snps,
            progress=task,
        )
    write_freq_file(target, fileset.bim, counts, inputs.candidates)
    return FreqResult(
        os.fspath(target), inputs.n_samples, int(inputs.candidates.size),
        time.perf_counter() - started,
    )  # fmt: skip


__all__ = [
    "FreqResult",
    "SnpCounts",
    "count_alleles",
    "freq_hash",
    "frequency_table",
    "read_freq_file",
    "snp_list_hash",
    "write_freq_file",
]
