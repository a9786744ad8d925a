#include "clv_kernel.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Plain IEEE arithmetic, as Swift does it: no fused multiply-adds, so the bits do not depend on how the
// compiler schedules the expressions.
#pragma clang fp contract(off)

// ---- exp and log over arrays ---------------------------------------------------------------------------------
//
// The kernel's libm calls (per distinct time, per x, and two per row with x > 0) run in passes of their own over
// contiguous arrays. On x86-64 Linux with AVX2 they go four at a time through glibc's libmvec (_ZGVdN4v_exp,
// _ZGVdN4v_log; at most 4 ulp from the exact value). The last, partial group of four is padded and goes
// through the same vector function, so every value gets the same bits whatever its position. Without AVX2 (or
// elsewhere) libm's scalar exp and log are used. Either way the result depends only on the machine's
// capabilities, never on the thread count or on the run.

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define CLV_LIBMVEC 1
__attribute__((target("avx2"))) __m256d _ZGVdN4v_exp(__m256d);
__attribute__((target("avx2"))) __m256d _ZGVdN4v_log(__m256d);

/// `f` applied in place to v[0..n), four at a time; the tail is padded with `pad` (a value `f`
/// takes without a floating-point exception) and only its first n % 4 results are kept.
__attribute__((target("avx2"))) static void apply_avx2(double *v, long n, __m256d (*f)(__m256d), double pad) {
    long i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(v + i, f(_mm256_loadu_pd(v + i)));
    if (i < n) {
        double t[4] = {pad, pad, pad, pad};
        memcpy(t, v + i, (size_t)(n - i) * sizeof(double));
        _mm256_storeu_pd(t, f(_mm256_loadu_pd(t)));
        memcpy(v + i, t, (size_t)(n - i) * sizeof(double));
    }
}

__attribute__((target("avx2"))) static void exp_avx2(double *v, long n) { apply_avx2(v, n, _ZGVdN4v_exp, 0); }
__attribute__((target("avx2"))) static void log_avx2(double *v, long n) { apply_avx2(v, n, _ZGVdN4v_log, 1); }

static int vector_math(void) { return __builtin_cpu_supports("avx2"); }
#else
static int vector_math(void) { return 0; }
#endif

int clv_vector_math(void) { return vector_math(); }

/// v[i] = exp(v[i]) for i < n.
static void exp_array(double *v, long n, int vec) {
#ifdef CLV_LIBMVEC
    if (vec) { exp_avx2(v, n); return; }
#endif
    (void)vec;
    for (long i = 0; i < n; i++) v[i] = exp(v[i]);
}

/// v[i] = log(v[i]) for i < n.
static void log_array(double *v, long n, int vec) {
#ifdef CLV_LIBMVEC
    if (vec) { log_avx2(v, n); return; }
#endif
    (void)vec;
    for (long i = 0; i < n; i++) v[i] = log(v[i]);
}

// ---- BG/NBD -------------------------------------------------------------------------------------------------

struct clv_bgnbd_kernel {
    long n, n0, nt, max_x;  // n0: the number of leading rows with x = 0
    int vec;
    int32_t *x, *itx, *iT;
    double *w, *times;
    double *log_at, *inv_at;                    // per distinct time: ln(alpha + t), 1 / (alpha + t)
    double *S, *D, *B, *Ba, *Bb, *Lb, *Ib;      // per x = 0...max_x (see the Swift kernel)
    double *lr, *lab;                           // per x: ln(r + x - 1), ln(a + b + x - 1) before the prefix sums
    double *E, *M, *L;                          // per row with x > 0: exp(min - max), max, ln(1 + E)
    double *P3, *P4;                            // per row with x > 0: the weights of e3's and e4's terms
    unsigned char *first;                       // per row: whether e3 was the max
};

void clv_bgnbd_destroy(clv_bgnbd_kernel *k) {
    if (!k) return;
    void *blocks[] = {k->x, k->itx, k->iT, k->w, k->times, k->log_at, k->inv_at, k->S, k->D, k->B, k->Ba, k->Bb,
                      k->Lb, k->Ib, k->lr, k->lab, k->E, k->M, k->L, k->P3, k->P4, k->first};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) free(blocks[i]);
    free(k);
}

clv_bgnbd_kernel *clv_bgnbd_create(long n, const int32_t *x, const int32_t *tx_index, const int32_t *T_index,
                                   const double *weight, long nt, const double *times, long max_x) {
    clv_bgnbd_kernel *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->n = n; k->nt = nt; k->max_x = max_x; k->vec = vector_math();
    size_t rn = (size_t)(n > 0 ? n : 1), tn = (size_t)(nt > 0 ? nt : 1), xn = (size_t)max_x + 1;
    k->x = malloc(rn * sizeof(int32_t)); k->itx = malloc(rn * sizeof(int32_t)); k->iT = malloc(rn * sizeof(int32_t));
    k->w = malloc(rn * sizeof(double)); k->times = malloc(tn * sizeof(double));
    k->log_at = calloc(tn, sizeof(double)); k->inv_at = calloc(tn, sizeof(double));
    double **tables[] = {&k->S, &k->D, &k->B, &k->Ba, &k->Bb, &k->Lb, &k->Ib, &k->lr, &k->lab};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) *tables[i] = calloc(xn, sizeof(double));
    k->E = calloc(rn, sizeof(double)); k->M = calloc(rn, sizeof(double)); k->L = calloc(rn, sizeof(double));
    k->P3 = calloc(rn, sizeof(double)); k->P4 = calloc(rn, sizeof(double));
    k->first = calloc(rn, 1);
    int ok = k->x && k->itx && k->iT && k->w && k->times && k->log_at && k->inv_at && k->E && k->M && k->L && k->P3 && k->P4 && k->first;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) ok = ok && *tables[i];
    if (!ok) { clv_bgnbd_destroy(k); return NULL; }
    memcpy(k->x, x, (size_t)n * sizeof(int32_t));
    memcpy(k->itx, tx_index, (size_t)n * sizeof(int32_t));
    memcpy(k->iT, T_index, (size_t)n * sizeof(int32_t));
    memcpy(k->w, weight, (size_t)n * sizeof(double));
    memcpy(k->times, times, (size_t)nt * sizeof(double));
    long n0 = 0;
    while (n0 < n && x[n0] == 0) n0++;
    for (long i = n0; i < n; i++) {
        if (x[i] == 0) { clv_bgnbd_destroy(k); return NULL; }  // rows must come sorted by x
    }
    k->n0 = n0;
    return k;
}

static inline __attribute__((always_inline)) double bgnbd_log_likelihood(clv_bgnbd_kernel *k, double r, double alpha,
                                                                         double a, double b, double *gradient) {
    const long n = k->n, n0 = k->n0, nt = k->nt, max_x = k->max_x;
    const int vec = k->vec;
    const int32_t *restrict xs = k->x, *restrict itx = k->itx, *restrict iT = k->iT;
    const double *restrict w = k->w;
    double *restrict lt = k->log_at, *restrict it = k->inv_at;
    for (long j = 0; j < nt; j++) {
        double v = alpha + k->times[j];
        lt[j] = v;
        it[j] = 1 / v;
    }
    log_array(lt, nt, vec);

    double *restrict S = k->S, *restrict D = k->D, *restrict B = k->B, *restrict Ba = k->Ba, *restrict Bb = k->Bb;
    double *restrict Lb = k->Lb, *restrict Ib = k->Ib, *restrict lr = k->lr, *restrict lab = k->lab;
    const double ab = a + b;
    if (max_x > 0) {
        for (long x = 1; x <= max_x; x++) {
            double kk = (double)(x - 1);
            Lb[x] = b + kk; lr[x] = r + kk; lab[x] = ab + kk;
        }
        log_array(Lb + 1, max_x, vec);
        log_array(lr + 1, max_x, vec);
        log_array(lab + 1, max_x, vec);
        double s = 0, dr = 0, lb = 0, lba = 0, lbb = 0;
        for (long x = 1; x <= max_x; x++) {
            double kk = (double)(x - 1);
            s += lr[x];
            dr += 1 / (r + kk);
            lb += Lb[x] - lab[x];
            double iab = 1 / (ab + kk), ib = 1 / (b + kk);
            lba -= iab;
            lbb += ib - iab;
            S[x] = s; D[x] = dr; B[x] = lb; Ba[x] = lba; Bb[x] = lbb; Ib[x] = ib;
        }
    }
    const double lalpha = log(alpha), la = log(a), ia = 1 / a;
    double *restrict E = k->E, *restrict M = k->M, *restrict L = k->L, *restrict P3 = k->P3, *restrict P4 = k->P4;
    unsigned char *restrict first = k->first;
    // Rows with x > 0: the exponents e3 = -(r+x) ln(alpha+T) and e4 = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x),
    // then e = exp(min - max) in (0, 1] and ln(1 + e), each pass on its own (log(e^e3 + e^e4) = max + ln(1 + e);
    // ln(1 + e) rather than log1p(e): its absolute error, what matters in a sum, is still ~1e-16).
    for (long i = n0; i < n; i++) {
        int x = xs[i];
        double rx = r + (double)x;
        double e3 = -rx * lt[iT[i]];
        double e4 = la - Lb[x] - rx * lt[itx[i]];
        // Selections, not branches (which way a row goes is data, unpredictable); e3 - e4 = -(e4 - e3) exactly,
        // and when e3 = e4 the first is taken, so these are the bits of `e3 >= e4 ? e4 - e3 : e3 - e4`.
        int f = e3 >= e4;
        double d = e4 - e3;
        E[i] = f ? d : -d;
        M[i] = f ? e3 : e4;
        first[i] = (unsigned char)f;
    }
    exp_array(E + n0, n - n0, vec);
    for (long i = n0; i < n; i++) L[i] = 1 + E[i];
    if (gradient) {
        // The weights of the two terms in d log(e^e3 + e^e4): p3 = e^e3 / (e^e3 + e^e4) and p4 = 1 - p3, as
        // 1 / (1 + e) and e / (1 + e) by which term was the max; a pass of its own, without branches.
        for (long i = n0; i < n; i++) {
            double e = E[i], q = 1 / L[i], eq = e * q;
            P3[i] = first[i] ? q : eq;
            P4[i] = first[i] ? eq : q;
        }
    }
    log_array(L + n0, n - n0, vec);

    // Every row's terms, added in row order.
    double total = 0, wsum = 0, gr = 0, gal = 0, ga = 0, gb = 0;
    const int want = gradient != NULL;
    for (long i = 0; i < n0; i++) {
        double wi = w[i];
        int jT = iT[i];
        wsum += wi;
        total -= wi * r * lt[jT];
        if (want) {
            gr -= wi * lt[jT];
            gal -= wi * r * it[jT];
        }
    }
    for (long i = n0; i < n; i++) {
        int x = xs[i];
        double wi = w[i];
        int jT = iT[i];
        wsum += wi;
        total += wi * (S[x] + B[x] + M[i] + L[i]);
        if (want) {
            int jx = itx[i];
            double rx = r + (double)x;
            double p3 = P3[i], p4 = P4[i];
            gr += wi * (D[x] - p3 * lt[jT] - p4 * lt[jx]);
            gal -= wi * rx * (p3 * it[jT] + p4 * it[jx]);
            ga += wi * (Ba[x] + p4 * ia);
            gb += wi * (Bb[x] - p4 * Ib[x]);
        }
    }
    // Terms common to every customer: r ln alpha (gradient ln alpha and r / alpha).
    total += wsum * r * lalpha;
    if (gradient) {
        gradient[0] = gr + wsum * lalpha; gradient[1] = gal + wsum * r / alpha; gradient[2] = ga; gradient[3] = gb;
    }
    return total;
}

// The same code compiled twice: for AVX2 (the element-wise passes run four lanes wide; the same IEEE operations
// on each value, no fused multiply-adds, so the same bits) and for any x86-64 / other CPU.
#ifdef CLV_LIBMVEC
__attribute__((target("avx2"))) static double bgnbd_log_likelihood_avx2(clv_bgnbd_kernel *k, double r, double alpha,
                                                                        double a, double b, double *gradient) {
    return bgnbd_log_likelihood(k, r, alpha, a, b, gradient);
}
#endif

double clv_bgnbd_log_likelihood(clv_bgnbd_kernel *k, double r, double alpha, double a, double b, double *gradient) {
#ifdef CLV_LIBMVEC
    if (k->vec) return bgnbd_log_likelihood_avx2(k, r, alpha, a, b, gradient);
#endif
    return bgnbd_log_likelihood(k, r, alpha, a, b, gradient);
}

// ---- compressing the summaries ------------------------------------------------------------------------------
//
// Sorting by LSD radix passes (stable counting sorts), not comparisons: a few passes over the data, where a
// comparison sort of the ~2n times and then of the n rows took as long as a third of a BG/NBD fit.

/// Sorts `key` (with `pos` alongside) ascending, stably, in passes of 11 bits; a pass whose digit is the same for
/// every key is skipped. `tk`, `tp`: scratch of m values each. The sorted data ends in `key`, `pos`.
static void radix_sort_u64(uint64_t *key, int32_t *pos, uint64_t *tk, int32_t *tp, long m) {
    enum { BITS = 11, BUCKETS = 1 << BITS };
    static const int passes = (64 + BITS - 1) / BITS;
    long count[BUCKETS];
    for (int p = 0; p < passes; p++) {
        int shift = p * BITS;
        memset(count, 0, sizeof count);
        for (long i = 0; i < m; i++) count[(key[i] >> shift) & (BUCKETS - 1)]++;
        if (m == 0 || count[(key[0] >> shift) & (BUCKETS - 1)] == m) continue;
        long sum = 0;
        for (int d = 0; d < BUCKETS; d++) { long c = count[d]; count[d] = sum; sum += c; }
        for (long i = 0; i < m; i++) {
            long j = count[(key[i] >> shift) & (BUCKETS - 1)]++;
            tk[j] = key[i]; tp[j] = pos[i];
        }
        memcpy(key, tk, (size_t)m * sizeof(uint64_t));
        memcpy(pos, tp, (size_t)m * sizeof(int32_t));
    }
}

/// Stably reorders the row numbers `order` (n of them) by digit(row) in 0..<range; `tmp`: scratch of n values,
/// `count`: scratch of range + 1 values.
static void counting_pass(int32_t *order, int32_t *tmp, long n, const int32_t *digit, int32_t mask, int shift,
                          long range, long *count) {
    memset(count, 0, (size_t)(range + 1) * sizeof(long));
    for (long i = 0; i < n; i++) count[((digit[order[i]] >> shift) & mask) + 1]++;
    for (long d = 0; d < range; d++) count[d + 1] += count[d];
    for (long i = 0; i < n; i++) tmp[count[(digit[order[i]] >> shift) & mask]++] = order[i];
    memcpy(order, tmp, (size_t)n * sizeof(int32_t));
}

long clv_compress(long n, const double *frequency, const double *recency, const double *age, double *times, long *nt,
                  int32_t *x, int32_t *tx_index, int32_t *T_index, double *weight) {
    long m = 2 * n + 1;
    uint64_t *key = malloc((size_t)m * sizeof(uint64_t)), *tk = malloc((size_t)m * sizeof(uint64_t));
    int32_t *pos = malloc((size_t)m * sizeof(int32_t)), *tp = malloc((size_t)m * sizeof(int32_t));
    int32_t *rank = malloc((size_t)m * sizeof(int32_t));
    int32_t *xs = malloc((size_t)(n + 1) * sizeof(int32_t)), *itx = malloc((size_t)(n + 1) * sizeof(int32_t));
    int32_t *iT = malloc((size_t)(n + 1) * sizeof(int32_t)), *order = malloc((size_t)(n + 1) * sizeof(int32_t));
    int32_t *tmp = malloc((size_t)(n + 1) * sizeof(int32_t));
    long count_size = (m > 65536 ? m : 65536) + 1;
    long *count = malloc((size_t)count_size * sizeof(long));
    long rows = -1;
    if (!key || !tk || !pos || !tp || !rank || !xs || !itx || !iT || !order || !tmp || !count) goto done;

    // Non-negative doubles sort as their bit patterns (+ 0.0 turns -0 into 0).
    for (long i = 0; i < m; i++) {
        double v = i == 0 ? 0.0 : ((i & 1) ? recency[(i - 1) / 2] : age[(i - 1) / 2]) + 0.0;
        memcpy(&key[i], &v, sizeof v);
        pos[i] = (int32_t)i;
    }
    radix_sort_u64(key, pos, tk, tp, m);
    long distinct = 0;
    for (long i = 0; i < m; i++) {
        if (i == 0 || key[i] != key[i - 1]) { memcpy(&times[distinct], &key[i], sizeof(double)); distinct++; }
        rank[pos[i]] = (int32_t)(distinct - 1);
    }
    *nt = distinct;

    int32_t max_x = 0;
    for (long i = 0; i < n; i++) {
        xs[i] = (int32_t)frequency[i];
        itx[i] = rank[2 * i + 1];
        iT[i] = rank[2 * i + 2];
        order[i] = (int32_t)i;
        if (xs[i] > max_x) max_x = xs[i];
    }
    // Least significant first: t_x, then T, then x (16 bits at a time).
    counting_pass(order, tmp, n, itx, -1, 0, distinct, count);
    counting_pass(order, tmp, n, iT, -1, 0, distinct, count);
    if (max_x <= 0xFFFF) {
        counting_pass(order, tmp, n, xs, -1, 0, (long)max_x + 1, count);
    } else {
        counting_pass(order, tmp, n, xs, 0xFFFF, 0, 65536, count);
        counting_pass(order, tmp, n, xs, 0xFFFF, 16, 65536, count);
    }

    rows = 0;
    for (long k = 0; k < n; k++) {
        long i = order[k];
        if (rows > 0 && x[rows - 1] == xs[i] && T_index[rows - 1] == iT[i] && tx_index[rows - 1] == itx[i]) {
            weight[rows - 1] += 1;
        } else {
            x[rows] = xs[i]; T_index[rows] = iT[i]; tx_index[rows] = itx[i]; weight[rows] = 1;
            rows++;
        }
    }
done:
    free(key); free(tk); free(pos); free(tp); free(rank); free(xs); free(itx); free(iT); free(order); free(tmp);
    free(count);
    return rows;
}
