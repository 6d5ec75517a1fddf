/*
 * Compiled kernels for packed PLINK 1 .bed rows (optional; heritcli.core.bedkernels loads them).
 *
 * A .bed row holds four genotypes per byte, two bits each, the first sample in the
 * lowest bits: 00 two copies of A1, 01 missing, 10 one copy, 11 none.
 *
 * Two passes per block of SNP rows, each a single sweep over the packed bytes:
 *
 *   scan         counts the four codes of every row (popcounts of 64-bit words) and lists
 *                the positions of the missing calls;
 *   standardize  writes z = values[row][code] for each genotype, from a table of the four
 *                standardized values of each row computed by the caller (so every value is
 *                the one numpy computes, bit for bit; nothing is computed here).
 *
 * and two for the sums: missing_pairs adds the pairs of missing calls of each SNP to S S^T
 * (what a sparse product would give), flush_lower adds float32 partial sums into float64;
 * and grm_rows and band_values turn the lower triangles of the sums into the finished GRM.
 * The .bim tokenizer of the same extension is in _bimtext.c.
 *
 * The functions take plain pointers and are called through ctypes, which releases the GIL.
 * The module object itself is empty: it exists so that setuptools can build this file as a
 * Python extension and the package can locate it next to its own modules.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define POPCOUNT64(x) __builtin_popcountll(x)
#define CTZ64(x) __builtin_ctzll(x)
#else
static int popcount64_portable(uint64_t x)
{
    int n = 0;
    while (x) {
        x &= x - 1;
        n++;
    }
    return n;
}
static int ctz64_portable(uint64_t x)
{
    int n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
}
#define POPCOUNT64(x) popcount64_portable(x)
#define CTZ64(x) ctz64_portable(x)
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HERIT_LITTLE_ENDIAN 1
#else
#define HERIT_LITTLE_ENDIAN 0
#endif

#define LOW_BITS 0x5555555555555555ULL

/* Interface version, checked by the Python loader. */
int64_t herit_bed_kernels_version(void) { return 4; }

static inline void record_missing(int64_t row, int64_t col, int64_t *found, int64_t *rows,
                                  int64_t *cols, int64_t capacity)
{
    if (*found < capacity) {
        rows[*found] = row;
        cols[*found] = col;
    }
    (*found)++;
}

/*
 * Code counts and missing calls of b rows, every sample of the .fam.
 *
 * counts: (b, 4) int64, columns = codes 00, 01, 10, 11.
 * miss_rows, miss_cols: room for `capacity` positions (row within the block, sample), in row
 * order then sample order.  Returns the number of missing calls; when it exceeds `capacity`
 * only the first `capacity` positions were written (the caller retries with more room).
 */
int64_t herit_scan_rows(const uint8_t *packed, int64_t b, int64_t row_bytes, int64_t n_samples,
                        int64_t *counts, int64_t *miss_rows, int64_t *miss_cols,
                        int64_t capacity)
{
    const int64_t full_bytes = n_samples / 4;
    const int rest = (int)(n_samples % 4);
    int64_t found = 0;
    for (int64_t j = 0; j < b; j++) {
        const uint8_t *p = packed + j * row_bytes;
        int64_t n01 = 0, n10 = 0, n11 = 0;
        int64_t i = 0;
        if (HERIT_LITTLE_ENDIAN) {
            for (; i + 8 <= full_bytes; i += 8) {
                uint64_t word;
                memcpy(&word, p + i, 8);
                const uint64_t lo = word & LOW_BITS;
                const uint64_t hi = (word >> 1) & LOW_BITS;
                uint64_t miss = lo & ~hi;
                n11 += POPCOUNT64(lo & hi);
                n10 += POPCOUNT64(hi & ~lo);
                if (miss) {
                    n01 += POPCOUNT64(miss);
                    do {
                        const int bit = CTZ64(miss);
                        record_missing(j, 4 * i + bit / 2, &found, miss_rows, miss_cols,
                                       capacity);
                        miss &= miss - 1;
                    } while (miss);
                }
            }
        }
        for (; i < full_bytes; i++) {
            const unsigned byte = p[i];
            for (int k = 0; k < 4; k++) {
                const unsigned code = (byte >> (2 * k)) & 3u;
                if (code == 1u) {
                    n01++;
                    record_missing(j, 4 * i + k, &found, miss_rows, miss_cols, capacity);
                } else if (code == 2u) {
                    n10++;
                } else if (code == 3u) {
                    n11++;
                }
            }
        }
        for (int k = 0; k < rest; k++) {
            const unsigned code = (p[full_bytes] >> (2 * k)) & 3u;
            if (code == 1u) {
                n01++;
                record_missing(j, 4 * full_bytes + k, &found, miss_rows, miss_cols, capacity);
            } else if (code == 2u) {
                n10++;
            } else if (code == 3u) {
                n11++;
            }
        }
        counts[4 * j + 0] = n_samples - n01 - n10 - n11;
        counts[4 * j + 1] = n01;
        counts[4 * j + 2] = n10;
        counts[4 * j + 3] = n11;
    }
    return found;
}

/*
 * The same for a subset of samples: `index` (n_index .fam positions, in output order).
 * Missing positions refer to the output order.
 */
int64_t herit_scan_rows_subset(const uint8_t *packed, int64_t b, int64_t row_bytes,
                               const int64_t *index, int64_t n_index, int64_t *counts,
                               int64_t *miss_rows, int64_t *miss_cols, int64_t capacity)
{
    int64_t found = 0;
    for (int64_t j = 0; j < b; j++) {
        const uint8_t *p = packed + j * row_bytes;
        int64_t tally[4] = {0, 0, 0, 0};
        for (int64_t c = 0; c < n_index; c++) {
            const int64_t s = index[c];
            const unsigned code = (p[s >> 2] >> ((s & 3) << 1)) & 3u;
            tally[code]++;
            if (code == 1u) {
                record_missing(j, c, &found, miss_rows, miss_cols, capacity);
            }
        }
        for (int k = 0; k < 4; k++) {
            counts[4 * j + k] = tally[k];
        }
    }
    return found;
}

/*
 * z of the first `width` samples of b rows: out[j * width + c] = values[4 * j + code].
 * A table of the 16 pairs of values per row maps each half byte to two outputs.
 */
#define DEFINE_STANDARDIZE(NAME, REAL)                                                        \
    void NAME(const uint8_t *packed, int64_t b, int64_t row_bytes, const REAL *values,       \
              int64_t width, REAL *out)                                                      \
    {                                                                                        \
        const int64_t full_bytes = width / 4;                                                \
        const int rest = (int)(width % 4);                                                   \
        REAL pairs[16][2];                                                                   \
        for (int64_t j = 0; j < b; j++) {                                                    \
            const uint8_t *p = packed + j * row_bytes;                                       \
            const REAL *v = values + 4 * j;                                                  \
            REAL *o = out + j * width;                                                       \
            for (int nibble = 0; nibble < 16; nibble++) {                                    \
                pairs[nibble][0] = v[nibble & 3];                                            \
                pairs[nibble][1] = v[nibble >> 2];                                           \
            }                                                                                \
            for (int64_t i = 0; i < full_bytes; i++) {                                       \
                const unsigned byte = p[i];                                                  \
                memcpy(o + 4 * i, pairs[byte & 15u], 2 * sizeof(REAL));                      \
                memcpy(o + 4 * i + 2, pairs[byte >> 4], 2 * sizeof(REAL));                   \
            }                                                                                \
            for (int k = 0; k < rest; k++) {                                                 \
                o[4 * full_bytes + k] = v[(p[full_bytes] >> (2 * k)) & 3u];                  \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_STANDARDIZE(herit_standardize_f32, float)
DEFINE_STANDARDIZE(herit_standardize_f64, double)

/* z of the samples `index` (width of them, in output order) of b rows. */
#define DEFINE_STANDARDIZE_SUBSET(NAME, REAL)                                                 \
    void NAME(const uint8_t *packed, int64_t b, int64_t row_bytes, const REAL *values,       \
              const int64_t *index, int64_t width, REAL *out)                                \
    {                                                                                        \
        for (int64_t j = 0; j < b; j++) {                                                    \
            const uint8_t *p = packed + j * row_bytes;                                       \
            const REAL *v = values + 4 * j;                                                  \
            REAL *o = out + j * width;                                                       \
            for (int64_t c = 0; c < width; c++) {                                            \
                const int64_t s = index[c];                                                  \
                o[c] = v[(p[s >> 2] >> ((s & 3) << 1)) & 3u];                                \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_STANDARDIZE_SUBSET(herit_standardize_subset_f32, float)
DEFINE_STANDARDIZE_SUBSET(herit_standardize_subset_f64, double)

/*
 * Pair counts of missing calls: for each SNP, add 1 to S S^T at every pair of its missing
 * samples (a, b) with a >= b, a >= row_start (the lower triangle of a row band).
 *
 * snp, sample: `count` missing calls grouped by SNP (all calls of one SNP adjacent; their
 * samples in any order).  ss: Fortran-ordered, leading dimension ld, entry (a, b) of the
 * band at ss[(a - row_start) + b * ld].  Counts are integers, exact in float32 below 2^24,
 * so the order of the additions does not matter.
 */
#define DEFINE_MISSING_PAIRS(NAME, REAL)                                                      \
    void NAME(const int64_t *snp, const int64_t *sample, int64_t count, int64_t row_start,   \
              REAL *ss, int64_t ld)                                                          \
    {                                                                                        \
        int64_t g0 = 0;                                                                      \
        while (g0 < count) {                                                                 \
            int64_t g1 = g0 + 1;                                                             \
            while (g1 < count && snp[g1] == snp[g0]) {                                       \
                g1++;                                                                        \
            }                                                                                \
            for (int64_t x = g0; x < g1; x++) {                                              \
                const int64_t a = sample[x];                                                 \
                if (a < row_start) {                                                         \
                    continue;                                                                \
                }                                                                            \
                REAL *column_base = ss + (a - row_start);                                    \
                for (int64_t y = g0; y < g1; y++) {                                          \
                    const int64_t b = sample[y];                                             \
                    if (b <= a) {                                                            \
                        column_base[b * ld] += (REAL)1;                                      \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
            g0 = g1;                                                                         \
        }                                                                                    \
    }

DEFINE_MISSING_PAIRS(herit_missing_pairs_f32, float)
DEFINE_MISSING_PAIRS(herit_missing_pairs_f64, double)

/*
 * total += partial on the lower triangle of a row band, then partial = 0 there.
 *
 * Both matrices are Fortran-ordered (rows x cols, leading dimension rows); entry (i, j) of
 * the band is row row_start + i of the whole matrix and is in the lower triangle when
 * j <= row_start + i.  Entries above the diagonal are neither read nor written: only the
 * lower triangle is accumulated, so this moves half the memory of a whole-matrix add.
 */
void herit_flush_lower(float *partial, double *total, int64_t rows, int64_t cols,
                       int64_t row_start)
{
    for (int64_t j = 0; j < cols; j++) {
        const int64_t first = j > row_start ? j - row_start : 0;
        float *p = partial + j * rows;
        double *t = total + j * rows;
        for (int64_t i = first; i < rows; i++) {
            t[i] += (double)p[i];
            p[i] = 0.0f;
        }
    }
}

/*
 * Rows start:stop of the finished, symmetric GRM from the lower triangles of the sums.
 *
 * zz: Z Z^T (float64), ss: S S^T (float32 or float64, NULL when nothing is missing), both
 * n x n Fortran-ordered with only the lower triangle (i >= j at i + j * n) read.  miss: the
 * missing calls per sample.  Writes values (rows x n, row-major) and, with ss, the pair counts
 * N = n_snps - m_a - m_b + ss (float32, exact integers) and values zz / N (0 where N = 0);
 * without ss, zz / max(n_snps, 1).  Each value is the float64 quotient rounded once to the
 * output type: what numpy computes from symmetrized matrices.  NAME##_entry computes one entry;
 * the band kernels below call it too, so a band and the whole matrix share the formula.
 */
#define DEFINE_GRM_ROWS(NAME, SSREAL, OUTREAL)                                                 \
    static inline void NAME##_entry(const double *zz, const SSREAL *ss, const int64_t *miss, \
                                    int64_t n, double n_snps, int64_t a, int64_t b,          \
                                    int64_t lower, OUTREAL *value, float *count)             \
    {                                                                                        \
        const double sum = zz[lower];                                                        \
        if (ss) {                                                                            \
            const double pairs =                                                             \
                n_snps - (double)miss[a] - (double)miss[b] + (double)ss[lower];              \
            *count = (float)pairs;                                                           \
            *value = pairs > 0 ? (OUTREAL)(sum / pairs) : (OUTREAL)0;                        \
        } else {                                                                             \
            *value = (OUTREAL)(sum / (n_snps > 1 ? n_snps : 1.0));                           \
        }                                                                                    \
        (void)n;                                                                             \
    }                                                                                        \
    void NAME(const double *zz, const SSREAL *ss, const int64_t *miss, int64_t n,            \
              int64_t n_snps, int64_t start, int64_t stop, OUTREAL *values, float *counts)   \
    {                                                                                        \
        const double total = (double)n_snps;                                                 \
        float unused = 0.0f;                                                                 \
        /* On and right of the diagonal: entry (a, b), b >= a, is lower entry (b, a). */     \
        for (int64_t a = start; a < stop; a++) {                                             \
            OUTREAL *v = values + (a - start) * n;                                           \
            float *c = ss ? counts + (a - start) * n : NULL;                                 \
            for (int64_t b = a; b < n; b++) {                                                \
                NAME##_entry(zz, ss, miss, n, total, a, b, b + a * n, v + b,                 \
                             c ? c + b : &unused);                                           \
            }                                                                                \
        }                                                                                    \
        /* Left of the diagonal, column by column so that the reads are contiguous. */      \
        for (int64_t b = 0; b < stop; b++) {                                                 \
            const int64_t first = b + 1 > start ? b + 1 : start;                             \
            for (int64_t a = first; a < stop; a++) {                                         \
                const int64_t row = (a - start) * n;                                         \
                NAME##_entry(zz, ss, miss, n, total, a, b, a + b * n, values + row + b,      \
                             ss ? counts + row + b : &unused);                               \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_GRM_ROWS(herit_grm_rows_f32_ss32, float, float)
DEFINE_GRM_ROWS(herit_grm_rows_f32_ss64, double, float)
DEFINE_GRM_ROWS(herit_grm_rows_f64_ss32, float, double)
DEFINE_GRM_ROWS(herit_grm_rows_f64_ss64, double, double)

/*
 * The finished values (and pair counts) of a row band of the lower triangle.
 *
 * zz, ss: the band's sums, rows x width Fortran-ordered (entry (i, j) is row row_start + i,
 * column j, in the lower triangle when j <= row_start + i); ss NULL when nothing is missing.
 * Only the band's rows row_lo:row_hi are finished (callers write a band a tile at a time).
 * values, counts: (row_hi - row_lo) x width, row-major (the layout of the stored HDF5
 * dataset, so that a tile is written without another copy); entries above the diagonal are
 * set to 0.  Each value is
 * zz / N (0 where N = 0), N = n_snps - m_a - m_b + ss, or zz / max(n_snps, 1) without ss:
 * the float64 quotient rounded once to the output type (by ENTRY, the entry function of
 * the matching grm_rows kernel).  Only columns col_start:col_stop are written (callers
 * split the columns between threads); they are taken 64 at a time so that both the
 * column-major reads and the row-major writes stay in cache.
 */
#define BAND_COLUMNS 64
#define DEFINE_BAND_VALUES(NAME, SSREAL, OUTREAL, ENTRY)                                     \
    void NAME(const double *zz, const SSREAL *ss, const int64_t *miss, int64_t rows,         \
              int64_t width, int64_t row_start, int64_t n_snps, int64_t row_lo,              \
              int64_t row_hi, int64_t col_start, int64_t col_stop, OUTREAL *values,          \
              float *counts)                                                                 \
    {                                                                                        \
        const double total = (double)n_snps;                                                 \
        float unused;                                                                        \
        for (int64_t j0 = col_start; j0 < col_stop; j0 += BAND_COLUMNS) {                    \
            const int64_t j1 = j0 + BAND_COLUMNS < col_stop ? j0 + BAND_COLUMNS : col_stop;  \
            for (int64_t i = row_lo; i < row_hi; i++) {                                      \
                const int64_t a = row_start + i;                                             \
                OUTREAL *v = values + (i - row_lo) * width;                                  \
                float *c = ss ? counts + (i - row_lo) * width : NULL;                        \
                for (int64_t j = j0; j < j1; j++) {                                          \
                    if (j > a) {                                                             \
                        v[j] = (OUTREAL)0;                                                   \
                        if (c) {                                                             \
                            c[j] = 0.0f;                                                     \
                        }                                                                    \
                        continue;                                                            \
                    }                                                                        \
                    ENTRY(zz, ss, miss, rows, total, a, j, i + j * rows, v + j,              \
                          c ? c + j : &unused);                                              \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_BAND_VALUES(herit_band_values_f32_ss32, float, float, herit_grm_rows_f32_ss32_entry)
DEFINE_BAND_VALUES(herit_band_values_f32_ss64, double, float, herit_grm_rows_f32_ss64_entry)
DEFINE_BAND_VALUES(herit_band_values_f64_ss32, float, double, herit_grm_rows_f64_ss32_entry)
DEFINE_BAND_VALUES(herit_band_values_f64_ss64, double, double, herit_grm_rows_f64_ss64_entry)

static struct PyModuleDef bedkernels_module = {
    PyModuleDef_HEAD_INIT,
    "_bedkernels",
    "Compiled .bed kernels, called through ctypes (see heritcli.core.bedkernels).",
    -1,
    NULL,
};

PyMODINIT_FUNC PyInit__bedkernels(void) { return PyModule_Create(&bedkernels_module); }
