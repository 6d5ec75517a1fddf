#!/usr/bin/env python3
"""Write a synthetic PLINK 1 binary fileset (``.bed``/``.bim``/``.fam``) for benchmarks.

Genotypes are drawn SNP by SNP under Hardy-Weinberg equilibrium: each SNP gets an
A1 allele frequency ``p ~ Uniform(--freq-low, --freq-high)`` and each sample an A1
count of 2, 1 or 0 with probabilities ``p**2``, ``2p(1-p)`` and ``(1-p)**2``.  Every
genotype is then set missing independently with probability ``--missing``
(default 0.1 %), so that tools which count the SNPs typed in both samples of a
pair (GCTA's ``N_jk``) exercise that path.

The ``.bed`` is SNP-major: magic bytes ``6c 1b 01``, then ``ceil(n / 4)`` bytes per
SNP, two bits per sample with the first sample in the lowest bits: ``00`` two
copies of A1, ``01`` missing, ``10`` heterozygous, ``11`` no copy of A1.  The
trailing bits of the last byte of a SNP are zero.

Data are produced and written in chunks of :data:`CHUNK_SNPS` SNPs, each drawn
from its own generator seeded by ``(seed, chunk index)``, so memory use is about
``n * CHUNK_SNPS * 8`` bytes whatever ``M`` is, and the output depends only on
``--seed``, ``n``, ``M``, ``--missing`` and the frequency range.  Files are written
under temporary names and renamed at the end, so an interrupted run never leaves
a fileset that looks complete.

Examples
--------
Write 5,123 samples x 319,147 SNPs (about 410 MB of ``.bed``)::

    python bench/synth_bed.py --n 5123 --m 319147 --out bench/scratch/data/big

Round-trip a tiny fileset through ``plink1.9 --recode A`` and compare counts::

    python bench/synth_bed.py --self-test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: SNPs generated per chunk; part of the seeding scheme, so changing it changes the data.
CHUNK_SNPS = 1024
BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
#: Two-bit code for a missing genotype.
CODE_MISSING = 1
#: A1 count of each two-bit code (index = code); -1 marks missing.
CODE_TO_COUNT = np.array([2, -1, 1, 0], dtype=np.int8)
N_CHROMOSOMES = 22
ALLELE_PAIRS = (("A", "G"), ("C", "T"), ("A", "C"), ("G", "T"))


def bed_size(n_samples: int, n_snps: int) -> int:
    """Exact size in bytes of a SNP-major ``.bed`` with the given shape."""
    return len(BED_MAGIC) + ((n_samples + 3) // 4) * n_snps


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    """Generator for one chunk of SNPs, independent of how chunks are grouped."""
    return np.random.default_rng(np.random.SeedSequence([seed, chunk]))


def draw_codes(
    rng: np.random.Generator,
    n_samples: int,
    n_snps: int,
    missing: float,
    freq_low: float,
    freq_high: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw genotype codes for ``n_snps`` SNPs.

    Returns
    -------
    codes : ndarray of uint8, shape (n_snps, n_samples)
        Two-bit PLINK codes (0 = two A1, 1 = missing, 2 = het, 3 = no A1).
    freq : ndarray of float64, shape (n_snps,)
        The A1 frequency each SNP was drawn with.
    """
    freq = rng.uniform(freq_low, freq_high, size=n_snps)
    p2 = (freq * freq).astype(np.float32)[:, None]
    p2_het = (freq * (2.0 - freq)).astype(np.float32)[:, None]  # p^2 + 2p(1-p)
    u = rng.random((n_snps, n_samples), dtype=np.float32)
    # code = 3 - [u < p^2 + 2pq] - 2 [u < p^2]  ->  0 (u < p^2), 2 (het), 3 (otherwise)
    codes = np.full((n_snps, n_samples), 3, dtype=np.uint8)
    codes -= u < p2_het
    codes -= (u < p2).view(np.uint8) * np.uint8(2)
    del u
    if missing > 0.0:
        total = n_snps * n_samples
        k = int(rng.binomial(total, missing))
        if k:
            flat = codes.reshape(-1)
            flat[rng.integers(0, total, size=k)] = CODE_MISSING
    return codes, freq


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """Pack two-bit codes of shape (snps, n) into SNP-major ``.bed`` bytes.

    Returns an array of uint8 with shape (snps, ceil(n / 4)); sample ``4k + j``
    of a SNP occupies bits ``2j`` and ``2j + 1`` of byte ``k``.
    """
    n_snps, n_samples = codes.shape
    n_bytes = (n_samples + 3) // 4
    pad = 4 * n_bytes - n_samples
    if pad:
        codes = np.concatenate([codes, np.zeros((n_snps, pad), dtype=np.uint8)], axis=1)
    quads = codes.reshape(n_snps, n_bytes, 4)
    packed = quads[:, :, 0].copy()
    packed |= quads[:, :, 1] << 2
    packed |= quads[:, :, 2] << 4
    packed |= quads[:, :, 3] << 6
    return packed


def chromosome_of(snp_index: np.ndarray, n_snps: int) -> np.ndarray:
    """Spread ``n_snps`` SNPs over autosomes 1..22 in contiguous, near-equal runs."""
    return 1 + (snp_index * N_CHROMOSOMES) // max(n_snps, 1)


def bim_lines(start: int, stop: int, n_snps: int, rng: np.random.Generator) -> str:
    """``.bim`` text for SNPs ``start..stop-1`` (chrom, ID, cM, bp, A1, A2)."""
    idx = np.arange(start, stop)
    chrom = chromosome_of(idx, n_snps)
    per_chrom = max(n_snps // N_CHROMOSOMES, 1)
    first = -((-(chrom - 1) * n_snps) // N_CHROMOSOMES)  # first SNP index on chromosome
    pos = 10_000 + (idx - first) * (250_000_000 // (per_chrom + 1))
    pairs = rng.integers(0, len(ALLELE_PAIRS), size=idx.size)
    return "".join(
        f"{c}\tsnp{i + 1}\t0\t{b}\t{ALLELE_PAIRS[k][0]}\t{ALLELE_PAIRS[k][1]}\n"
        for i, c, b, k in zip(
            idx.tolist(), chrom.tolist(), pos.tolist(), pairs.tolist(), strict=True
        )
    )


def write_fam(path: Path, n_samples: int) -> None:
    """Write a ``.fam`` of unrelated founders FAMi/INDi with alternating sex, no phenotype."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(f"FAM{j + 1} IND{j + 1} 0 0 {1 + j % 2} -9\n" for j in range(n_samples))


def write_bfile(
    prefix: str | os.PathLike[str],
    n_samples: int,
    n_snps: int,
    seed: int = 1,
    missing: float = 0.001,
    freq_low: float = 0.05,
    freq_high: float = 0.5,
    progress: bool = False,
) -> dict:
    """Write ``prefix.bed/.bim/.fam`` and a ``prefix.synth.json`` describing them.

    Returns the metadata dictionary stored in the JSON file.
    """
    if n_samples < 1 or n_snps < 1:
        raise ValueError("need at least one sample and one SNP")
    if not 0.0 <= missing < 1.0:
        raise ValueError("missing rate must be in [0, 1)")
    if not 0.0 < freq_low <= freq_high <= 0.5:
        raise ValueError("need 0 < freq-low <= freq-high <= 0.5")
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    final = {ext: prefix.with_name(prefix.name + ext) for ext in (".bed", ".bim", ".fam")}
    tmp = {ext: p.with_name(p.name + ".tmp") for ext, p in final.items()}
    meta_path = prefix.with_name(prefix.name + ".synth.json")
    meta_path.unlink(missing_ok=True)

    t0 = time.perf_counter()
    n_chunks = (n_snps + CHUNK_SNPS - 1) // CHUNK_SNPS
    n_missing_target = 0.0
    with open(tmp[".bed"], "wb") as bed, open(tmp[".bim"], "w", encoding="utf-8") as bim:
        bed.write(BED_MAGIC)
        for chunk in range(n_chunks):
            start = chunk * CHUNK_SNPS
            stop = min(start + CHUNK_SNPS, n_snps)
            rng = chunk_rng(seed, chunk)
            codes, _ = draw_codes(rng, n_samples, stop - start, missing, freq_low, freq_high)
            bed.write(pack_codes(codes).tobytes())
            bim.write(bim_lines(start, stop, n_snps, rng))
            n_missing_target += missing * codes.size
            if progress and (chunk % 32 == 31 or chunk == n_chunks - 1):
                done = stop / n_snps
                el = time.perf_counter() - t0
                print(
                    f"  {stop:>9,}/{n_snps:,} SNPs ({100 * done:5.1f}%)  {el:6.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    write_fam(tmp[".fam"], n_samples)
    if tmp[".bed"].stat().st_size != bed_size(n_samples, n_snps):
        raise RuntimeError(f"{tmp['.bed']} has the wrong size")
    for ext in (".fam", ".bim", ".bed"):
        os.replace(tmp[ext], final[ext])
    meta = {
        "generator": "bench/synth_bed.py",
        "chunk_snps": CHUNK_SNPS,
        "n_samples": n_samples,
        "n_snps": n_snps,
        "seed": seed,
        "missing": missing,
        "freq_low": freq_low,
        "freq_high": freq_high,
        "bed_bytes": bed_size(n_samples, n_snps),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def is_complete(prefix: str | os.PathLike[str], **expected: object) -> bool:
    """True if ``prefix`` was fully written by :func:`write_bfile` with these parameters."""
    prefix = Path(prefix)
    meta_path = prefix.with_name(prefix.name + ".synth.json")
    bed = prefix.with_name(prefix.name + ".bed")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("chunk_snps") != CHUNK_SNPS:
        return False
    if any(meta.get(k) != v for k, v in expected.items()):
        return False
    return bed.is_file() and bed.stat().st_size == meta["bed_bytes"]


def expected_counts(
    n_samples: int, n_snps: int, seed: int, missing: float, freq_low: float, freq_high: float
) -> np.ndarray:
    """Regenerate the A1 counts (SNPs x samples, int8, -1 = missing) of a small fileset."""
    out = []
    for chunk in range((n_snps + CHUNK_SNPS - 1) // CHUNK_SNPS):
        start = chunk * CHUNK_SNPS
        stop = min(start + CHUNK_SNPS, n_snps)
        codes, _ = draw_codes(
            chunk_rng(seed, chunk), n_samples, stop - start, missing, freq_low, freq_high
        )
        out.append(CODE_TO_COUNT[codes])
    return np.concatenate(out, axis=0)


def read_raw_counts(path: Path) -> np.ndarray:
    """Read a ``plink --recode A`` ``.raw`` file into SNPs x samples int8 counts (-1 = NA)."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().split()
        if header[:6] != ["FID", "IID", "PAT", "MAT", "SEX", "PHENOTYPE"]:
            raise ValueError(f"{path}: unexpected header {header[:6]}")
        rows = [
            [-1 if v == "NA" else int(v) for v in line.split()[6:]] for line in fh if line.strip()
        ]
    return np.array(rows, dtype=np.int8).T


def self_test(plink: str = "plink1.9") -> int:
    """Round-trip small filesets through ``plink --recode A`` and compare every count.

    Sample counts that are not multiples of 4 check the padding of the last byte;
    a two-chunk case checks the chunk seeding.  Returns a process exit status.
    """
    exe = shutil.which(plink)
    if exe is None:
        print(f"self-test: {plink} not found on PATH", file=sys.stderr)
        return 2
    cases = [(37, 200, 0.05), (8, 50, 0.0), (203, CHUNK_SNPS + 77, 0.01)]
    status = 0
    with tempfile.TemporaryDirectory(prefix="synth_bed_") as tmpdir:
        for n, m, miss in cases:
            prefix = Path(tmpdir) / f"t{n}x{m}"
            write_bfile(prefix, n, m, seed=7, missing=miss)
            cmd = [
                exe, "--bfile", str(prefix), "--recode", "A", "--keep-allele-order",
                "--allow-no-sex", "--out", str(prefix) + "_raw",
            ]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
                print(f"self-test {n}x{m}: plink failed", file=sys.stderr)
                status = 1
                continue
            got = read_raw_counts(Path(str(prefix) + "_raw.raw"))
            want = expected_counts(n, m, 7, miss, 0.05, 0.5)
            same = got.shape == want.shape and np.array_equal(got, want)
            tally = {c: (int((got == c).sum()), int((want == c).sum())) for c in (-1, 0, 1, 2)}
            print(
                f"self-test n={n} M={m} missing={miss}: "
                + ", ".join(f"{c}: plink {a} / expected {b}" for c, (a, b) in tally.items())
                + f" -> {'OK' if same else 'MISMATCH'}"
            )
            if not same:
                status = 1
    print("self-test passed" if status == 0 else "self-test FAILED")
    return status


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, help="number of samples")
    ap.add_argument("--m", type=int, help="number of SNPs")
    ap.add_argument("--out", help="output prefix (writes PREFIX.bed/.bim/.fam/.synth.json)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument(
        "--missing", type=float, default=0.001, help="per-genotype missing rate (default 0.001)"
    )
    ap.add_argument("--freq-low", type=float, default=0.05, help="lowest A1 frequency")
    ap.add_argument("--freq-high", type=float, default=0.5, help="highest A1 frequency")
    ap.add_argument(
        "--force", action="store_true", help="rewrite even if an identical fileset exists"
    )
    ap.add_argument(
        "--self-test", action="store_true", help="round-trip tiny filesets through plink1.9"
    )
    ap.add_argument("--plink", default="plink1.9", help="plink 1.9 executable for --self-test")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test(args.plink)
    if args.n is None or args.m is None or args.out is None:
        ap.error("--n, --m and --out are required (or use --self-test)")
    params = {
        "n_samples": args.n,
        "n_snps": args.m,
        "seed": args.seed,
        "missing": args.missing,
        "freq_low": args.freq_low,
        "freq_high": args.freq_high,
    }
    if not args.force and is_complete(args.out, **params):
        print(f"{args.out}.bed already complete with these parameters; use --force to rewrite")
        return 0
    size_mb = bed_size(args.n, args.m) / 1e6
    print(f"writing {args.out}.bed: {args.n:,} samples x {args.m:,} SNPs ({size_mb:,.1f} MB)")
    meta = write_bfile(
        args.out,
        args.n,
        args.m,
        seed=args.seed,
        missing=args.missing,
        freq_low=args.freq_low,
        freq_high=args.freq_high,
        progress=True,
    )
    print(f"done in {meta['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
