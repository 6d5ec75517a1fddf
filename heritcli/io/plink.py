"""Reading PLINK 1 binary filesets (``.bed``/``.bim``/``.fam``) in SNP blocks.

The ``.bed`` is memory-mapped and decoded one block of SNPs at a time through a
256-entry lookup table, so a whole-genome file is never held in memory.  The
format (PLINK 1.9 documentation, "PLINK 1 binary (.bed)"):

* three magic bytes ``6c 1b 01`` (the third byte, 01, marks SNP-major order);
* then, for every SNP, ``ceil(n / 4)`` bytes holding two bits per sample, the
  first sample in the lowest two bits: ``00`` two copies of A1 (``.bim``
  column 5), ``01`` missing, ``10`` heterozygous, ``11`` no copy of A1.

Genotypes are returned as ``int8`` counts of A1 with :data:`MISSING` (-1) for a
missing call, the convention of plink1.9, GCTA and GEMMA.  ``pandas-plink``
counts the other allele by default; the standardized GRM does not depend on the
choice, allele frequencies in outputs do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heritcli.core.bedkernels import split_bim_text
from heritcli.errors import InputError

MISSING: int = -1
BED_MAGIC = b"\x6c\x1b"
BED_SNP_MAJOR = 1

#: ``_LUT[byte]`` gives the four A1 counts packed in that byte, lowest bits first.
_CODE_TO_COUNT = np.array([2, MISSING, 1, 0], dtype=np.int8)
_LUT = np.stack([_CODE_TO_COUNT[(np.arange(256) >> (2 * k)) & 3] for k in range(4)], axis=1)
#: The same table with each row's four int8 packed into one int32: one gather per byte.
_LUT32 = np.ascontiguousarray(_LUT).view(np.int32).ravel()


#: For each byte, a bit mask of which of its four genotypes are missing (code 01).
_MISSING_BITS = np.array(
    [sum(1 << k for k in range(4) if (byte >> (2 * k)) & 3 == 1) for byte in range(256)],
    dtype=np.uint8,
)


def missing_positions(
    packed: np.ndarray, n_samples: int, sample_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the missing calls in packed ``.bed`` rows, found byte by byte.

    Parameters
    ----------
    packed : ndarray of uint8, shape (b, ceil(n/4))
    n_samples : int
        Samples in the ``.fam`` (padding bits beyond it are ignored).
    sample_index : ndarray of int, optional
        The samples kept, in output order; positions refer to this order and
        calls of other samples are left out.

    Returns
    -------
    rows, columns : ndarray of int64
        Row (SNP within the block) and column (sample) of every missing call,
        sorted by row.

    Notes
    -----
    Looking at bytes rather than decoded genotypes touches four times fewer
    elements, and missing calls are rare in real data.
    """
    bits = _MISSING_BITS[packed]
    rows, byte_cols = np.nonzero(bits)
    if rows.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    masks = bits[rows, byte_cols]
    which = (masks[:, None] >> np.arange(4, dtype=np.uint8)) & 1
    hit_row, hit_k = np.nonzero(which)
    out_rows = rows[hit_row].astype(np.int64)
    samples = byte_cols[hit_row].astype(np.int64) * 4 + hit_k
    keep = samples < n_samples
    out_rows, samples = out_rows[keep], samples[keep]
    if sample_index is not None:
        inverse = np.full(n_samples, -1, dtype=np.int64)
        inverse[sample_index] = np.arange(len(sample_index))
        samples = inverse[samples]
        kept = samples >= 0
        out_rows, samples = out_rows[kept], samples[kept]
    return out_rows, samples


def decode_packed(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """Decode packed ``.bed`` rows (SNPs × ceil(n/4) bytes) into int8 A1 counts (SNPs × n)."""
    packed = np.asarray(packed, dtype=np.uint8)
    counts = _LUT32[packed].view(np.int8)
    return counts.reshape(packed.shape[0], 4 * packed.shape[1])[:, :n_samples]


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} file {path} is a directory") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror}") from None


def _text_lines(data: bytes, path: Path) -> list[str]:
    """The lines of UTF-8 text (``\\n``, ``\\r\\n`` or ``\\r`` ends, as in text mode)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path} line {line}: not UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").splitlines()


def _read_text_lines(path: Path, what: str) -> list[str]:
    return _text_lines(_read_bytes(path, what), path)


@dataclass(frozen=True)
class FamTable:
    """Samples of a ``.fam`` file, in file order."""

    fid: np.ndarray
    iid: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.fid.shape[0])


@dataclass(frozen=True)
class BimTable:
    """Variants of a ``.bim`` file, in file order."""

    chrom: np.ndarray
    snp_id: np.ndarray
    cm: np.ndarray
    pos: np.ndarray
    a1: np.ndarray
    a2: np.ndarray

    @property
    def n_snps(self) -> int:
        return int(self.snp_id.shape[0])


def read_fam(path: str | os.PathLike[str]) -> FamTable:
    """Read a PLINK ``.fam`` file.

    Each line needs at least six whitespace-separated columns (FID IID father
    mother sex phenotype); further columns (extra phenotypes, as in GEMMA's
    examples) are allowed and ignored.  Duplicate (FID, IID) pairs are an error
    because samples are matched across files by that pair.

    Raises
    ------
    InputError
        Missing, unreadable or malformed file, or duplicate sample IDs.
    """
    path = Path(path)
    fids: list[str] = []
    iids: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(_read_text_lines(path, ".fam"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 6:
            raise InputError(
                f"{path} line {lineno}: expected at least 6 columns "
                f"(FID IID PAT MAT SEX PHENO), found {len(fields)}"
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
        raise InputError(f"{path} has no samples")
    return FamTable(fid=np.array(fids, dtype=str), iid=np.array(iids, dtype=str))


def read_bim(path: str | os.PathLike[str]) -> BimTable:
    """Read a PLINK ``.bim`` file (chrom, ID, cM, bp, A1, A2).

    Base-pair positions of ``-9`` or ``0`` and A1 == A2 (as in some real files)
    are kept as they are.

    Raises
    ------
    InputError
        Missing, unreadable or malformed file.
    """
    path = Path(path)
    data = _read_bytes(path, ".bim")
    columns = split_bim_text(data)
    if columns is not None and np.isfinite(columns["cm"]).all():
        return BimTable(**columns)
    lines = _text_lines(data, path)
    table = _read_bim_fast(lines)
    if table is not None:
        return table
    rows: list[list[str]] = []
    line_of: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise InputError(
                f"{path} line {lineno}: expected 6 columns (CHR ID CM BP A1 A2), "
                f"found {len(fields)}"
            )
        rows.append(fields)
        line_of.append(lineno)
    if not rows:
        raise InputError(f"{path} has no variants")
    cols = list(zip(*rows, strict=True))
    try:
        cm = np.array(cols[2], dtype=np.float64)
    except ValueError:
        cm = np.zeros(0)
    if cm.shape[0] != len(rows) or not np.isfinite(cm).all():
        bad = next(i for i, v in enumerate(cols[2]) if not _is_finite_float(v))
        raise InputError(
            f"{path} line {line_of[bad]}: cM value {cols[2][bad]!r} is not a finite number"
        )
    try:
        pos = np.array([int(v) for v in cols[3]], dtype=np.int64)
    except (ValueError, OverflowError):
        bad = next(i for i, v in enumerate(cols[3]) if not _is_int(v))
        raise InputError(
            f"{path} line {line_of[bad]}: position {cols[3][bad]!r} is not an integer"
        ) from None
    return BimTable(
        chrom=np.array(cols[0], dtype=str),
        snp_id=np.array(cols[1], dtype=str),
        cm=cm,
        pos=pos,
        a1=np.array(cols[4], dtype=str),
        a2=np.array(cols[5], dtype=str),
    )


def _read_bim_fast(lines: list[str]) -> BimTable | None:
    """The table of a well-formed ``.bim`` in a few vectorised steps, or None.

    Splits all the text at once and checks that every line gave exactly six
    fields and that cM and bp parse; anything else (blank lines, a short or long
    line, a bad number) returns None, and :func:`read_bim` reads the file line by
    line to say what is wrong and where.
    """
    if not lines:
        return None
    fields = " ".join(lines).split()
    if len(fields) != 6 * len(lines):
        return None
    # Same total, but is every line six fields?  True when every line has five single
    # blanks between fields: Python's split() then gives at least six fields per line,
    # and the total leaves exactly six.
    if not _six_blank_separated_fields(lines):
        return None
    table = np.array(fields, dtype=object).reshape(len(lines), 6)
    try:
        cm = table[:, 2].astype(np.float64)
        pos = np.array([int(v) for v in table[:, 3]], dtype=np.int64)
    except (ValueError, OverflowError):
        return None
    if not np.isfinite(cm).all():
        return None
    return BimTable(
        chrom=table[:, 0].astype(str),
        snp_id=table[:, 1].astype(str),
        cm=cm,
        pos=pos,
        a1=table[:, 4].astype(str),
        a2=table[:, 5].astype(str),
    )


def _six_blank_separated_fields(lines: list[str]) -> bool:
    """Whether every line is six fields separated by single spaces or tabs (no blanks
    at either end), checked on the bytes of the whole text at once."""
    data = np.frombuffer("\n".join(lines).encode("utf-8"), dtype=np.uint8)
    blank = (data == 32) | (data == 9)
    newline = data == 10
    if blank[0] or blank[-1] or (blank[1:] & (blank[:-1] | newline[:-1])).any():
        return False
    if (blank[:-1] & newline[1:]).any():
        return False
    ends = np.append(np.flatnonzero(newline), data.size)
    blanks_before = np.concatenate([[0], np.cumsum(blank)])[ends]
    return bool((np.diff(blanks_before, prepend=0) == 5).all())


def _is_finite_float(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return np.isfinite(value)


def _is_int(text: str) -> bool:
    try:
        value = int(text)
    except ValueError:
        return False
    return -(2**63) <= value < 2**63


def bed_size(n_samples: int, n_snps: int) -> int:
    """Exact size in bytes of a SNP-major ``.bed`` of the given shape."""
    return 3 + ((n_samples + 3) // 4) * n_snps


@dataclass(frozen=True)
class PlinkFileset:
    """A validated ``.bed``/``.bim``/``.fam`` triple.

    Use :func:`open_bfile` to build one; :meth:`reader` streams genotypes.
    """

    prefix: str
    bed: Path
    bim_path: Path
    fam_path: Path
    fam: FamTable
    bim: BimTable

    @property
    def n_samples(self) -> int:
        return self.fam.n_samples

    @property
    def n_snps(self) -> int:
        return self.bim.n_snps

    @property
    def bytes_per_snp(self) -> int:
        return (self.n_samples + 3) // 4

    def read_counts(
        self, start: int, stop: int, sample_index: np.ndarray | None = None
    ) -> np.ndarray:
        """Decode SNPs ``start:stop`` as A1 counts.

        Parameters
        ----------
        start, stop : int
            SNP range in ``.bim`` order.
        sample_index : ndarray of int, optional
            Samples to return, in the order wanted (default: all, in ``.fam`` order).

        Returns
        -------
        ndarray of int8, shape (stop - start, n_kept)
            Counts of A1 (0, 1, 2) with :data:`MISSING` for a missing call.
        """
        counts = decode_packed(self.read_packed(start, stop), self.n_samples)
        return counts if sample_index is None else counts[:, sample_index]

    def read_packed(self, start: int, stop: int) -> np.ndarray:
        """The raw ``.bed`` bytes of SNPs ``start:stop``, shape (stop - start, ceil(n/4)).

        Read with plain positioned reads rather than a memory map, so that the
        pages of a large ``.bed`` do not count against the process's memory.
        """
        width = self.bytes_per_snp
        n_bytes = (stop - start) * width
        buffer = bytearray(n_bytes)
        with open(self.bed, "rb", buffering=0) as handle:
            handle.seek(3 + start * width)
            got = handle.readinto(buffer)
        if got != n_bytes:
            raise InputError(f"{self.bed} ended early (was it changed while herit read it?)")
        return np.frombuffer(buffer, dtype=np.uint8).reshape(stop - start, width)

    def read_packed_rows(self, snp_index: np.ndarray) -> np.ndarray:
        """The raw ``.bed`` bytes of an arbitrary set of SNPs, in the order given."""
        snp_index = np.asarray(snp_index, dtype=np.int64)
        if snp_index.size == 0:
            return np.empty((0, self.bytes_per_snp), dtype=np.uint8)
        lo, hi = int(snp_index.min()), int(snp_index.max()) + 1
        if hi - lo <= 8 * snp_index.size:
            return self.read_packed(lo, hi)[snp_index - lo]
        return np.concatenate([self.read_packed(int(j), int(j) + 1) for j in snp_index])

    def read_snps(
        self, snp_index: np.ndarray, sample_index: np.ndarray | None = None
    ) -> np.ndarray:
        """Decode an arbitrary set of SNPs (in the order given) as A1 counts."""
        counts = decode_packed(self.read_packed_rows(snp_index), self.n_samples)
        return counts if sample_index is None else counts[:, sample_index]


def bfile_paths(prefix: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """The ``.bed``, ``.bim`` and ``.fam`` paths of a fileset prefix.

    A prefix given with one of the three extensions is accepted (a common slip).
    """
    text = os.fspath(prefix)
    for ext in (".bed", ".bim", ".fam"):
        if text.endswith(ext):
            text = text[: -len(ext)]
            break
    return Path(text + ".bed"), Path(text + ".bim"), Path(text + ".fam")


def open_bfile(prefix: str | os.PathLike[str]) -> PlinkFileset:
    """Open and validate a PLINK binary fileset.

    Checks that all three files exist, the ``.bed`` starts with the magic bytes
    and is SNP-major, and its length is exactly ``3 + ceil(n/4)·M`` for the
    ``n`` samples of the ``.fam`` and the ``M`` variants of the ``.bim``.

    Raises
    ------
    InputError
        With the file and the discrepancy named.
    """
    bed, bim_path, fam_path = bfile_paths(prefix)
    missing = [str(p) for p in (bed, bim_path, fam_path) if not p.exists()]
    if missing:
        raise InputError(
            f"missing PLINK file{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            hint="--bfile takes the prefix shared by the .bed, .bim and .fam files",
        )
    try:
        with open(bed, "rb") as handle:
            head = handle.read(3)
        size = bed.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {bed}: {exc.strerror}") from None
    if len(head) < 3 or head[:2] != BED_MAGIC:
        raise InputError(
            f"{bed} is not a PLINK 1 .bed file (first bytes {head.hex(' ') or 'none'}, "
            "expected 6c 1b 01)"
        )
    if head[2] != BED_SNP_MAJOR:
        raise InputError(
            f"{bed} is in individual-major mode (third byte {head[2]:02x}); herit reads "
            "SNP-major .bed files",
            hint="convert it with: plink1.9 --bfile PREFIX --make-bed --out NEW",
        )
    fam = read_fam(fam_path)
    bim = read_bim(bim_path)
    expected = bed_size(fam.n_samples, bim.n_snps)
    if size != expected:
        raise InputError(_size_mismatch_message(bed, size, fam.n_samples, bim.n_snps))
    return PlinkFileset(
        prefix=os.fspath(prefix),
        bed=bed,
        bim_path=bim_path,
        fam_path=fam_path,
        fam=fam,
        bim=bim,
    )


def _size_mismatch_message(bed: Path, size: int, n: int, m: int) -> str:
    """Explain a .bed length mismatch with the readings of the size that fit."""
    expected = bed_size(n, m)
    message = (
        f"{bed} has {size} bytes but the .fam has {n} samples and the .bim {m} variants, "
        f"which need {expected} bytes"
    )
    body = size - 3
    per_snp = (n + 3) // 4
    readings = []
    if body > 0 and body % per_snp == 0:
        readings.append(f"{body // per_snp} variants of {n} samples")
    if body > 0 and m > 0 and body % m == 0:
        width = body // m
        readings.append(f"{m} variants of {4 * width - 3} to {4 * width} samples")
    if readings:
        message += " (the size fits " + " or ".join(readings) + ")"
    elif body < expected - 3:
        message += " (the .bed looks truncated)"
    else:
        message += " (the .bed has trailing bytes)"
    return message


_COUNT_TO_CODE = {2: 0b00, MISSING: 0b01, 1: 0b10, 0: 0b11}


def encode_counts(counts: np.ndarray) -> np.ndarray:
    """Pack A1 counts (SNPs × samples, -1 missing) into ``.bed`` bytes (SNPs × ceil(n/4))."""
    counts = np.asarray(counts, dtype=np.int8)
    m, n = counts.shape
    codes = np.full((m, 4 * ((n + 3) // 4)), 0, dtype=np.uint8)
    lookup = np.zeros(256, dtype=np.uint8)
    for count, code in _COUNT_TO_CODE.items():
        lookup[count & 0xFF] = code
    codes[:, :n] = lookup[counts.view(np.uint8)]
    codes = codes.reshape(m, -1, 4)
    return (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).astype(
        np.uint8
    )


def write_bfile(
    prefix: str | os.PathLike[str],
    counts: np.ndarray,
    *,
    fid: np.ndarray | None = None,
    iid: np.ndarray | None = None,
    bim: BimTable | None = None,
) -> None:
    """Write a PLINK 1 binary fileset from A1 counts of shape (SNPs, samples).

    Default sample IDs are ``fam{i} ind{i}``, default variants ``snp{j}`` on
    chromosome 1 at position ``j + 1`` with alleles A/G.
    """
    counts = np.asarray(counts)
    m, n = counts.shape
    fid = np.array([f"fam{i}" for i in range(n)]) if fid is None else np.asarray(fid)
    iid = np.array([f"ind{i}" for i in range(n)]) if iid is None else np.asarray(iid)
    bed, bim_path, fam_path = bfile_paths(prefix)
    with open(bed, "wb") as handle:
        handle.write(BED_MAGIC + bytes([BED_SNP_MAJOR]))
        handle.write(encode_counts(counts).tobytes())
    with open(fam_path, "w", encoding="utf-8") as handle:
        for f, i in zip(fid, iid, strict=True):
            handle.write(f"{f} {i} 0 0 0 -9\n")
    with open(bim_path, "w", encoding="utf-8") as handle:
        for j in range(m):
            if bim is None:
                handle.write(f"1\tsnp{j}\t0\t{j + 1}\tA\tG\n")
            else:
                handle.write(
                    f"{bim.chrom[j]}\t{bim.snp_id[j]}\t{bim.cm[j]:g}\t{bim.pos[j]}\t"
                    f"{bim.a1[j]}\t{bim.a2[j]}\n"
                )
