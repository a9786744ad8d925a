#include "forest_kernel.h"
#include <string.h>

// Every result here must be the same bits with and without AVX2: no fused multiply-adds.
#pragma clang fp contract(off)

// The same comparisons, selections and additions as the Swift SIMD path, per row and in tree
// order, so results are bit-identical; AVX2 only widens the lanes. Compiled for AVX2 and used
// only when the CPU reports it.

__attribute__((target("avx2")))
static void accumulate_d1(int trees, const int32_t *f, const double *t, const double *leaf,
                          const double *x, long rows, long start, long count, double *restrict sums) {
    for (int k = 0; k < trees; k++) {
        const double *restrict c0 = x + (long)f[k] * rows + start;
        const double t0 = t[k], v0 = leaf[2 * k], v1 = leaf[2 * k + 1];
        for (long r = 0; r < count; r++) sums[r] += c0[r] <= t0 ? v0 : v1;
    }
}

__attribute__((target("avx2")))
static void accumulate_d2(int trees, const int32_t *f, const double *t, const double *leaf,
                          const double *x, long rows, long start, long count, double *restrict sums) {
    for (int k = 0; k < trees; k++) {
        const int32_t *fk = f + 3 * k;
        const double *tk = t + 3 * k, *lk = leaf + 4 * k;
        const double *restrict c0 = x + (long)fk[0] * rows + start;
        const double *restrict c1 = x + (long)fk[1] * rows + start;
        const double *restrict c2 = x + (long)fk[2] * rows + start;
        const double t0 = tk[0], t1 = tk[1], t2 = tk[2];
        const double v0 = lk[0], v1 = lk[1], v2 = lk[2], v3 = lk[3];
        for (long r = 0; r < count; r++) {
            double a = c1[r] <= t1 ? v0 : v1;
            double b = c2[r] <= t2 ? v2 : v3;
            sums[r] += c0[r] <= t0 ? a : b;
        }
    }
}

__attribute__((target("avx2")))
static void accumulate_d3(int trees, const int32_t *f, const double *t, const double *leaf,
                          const double *x, long rows, long start, long count, double *restrict sums) {
    for (int k = 0; k < trees; k++) {
        const int32_t *fk = f + 7 * k;
        const double *tk = t + 7 * k, *lk = leaf + 8 * k;
        const double *restrict c[7];
        for (int j = 0; j < 7; j++) c[j] = x + (long)fk[j] * rows + start;
        for (long r = 0; r < count; r++) {
            double l3 = c[3][r] <= tk[3] ? lk[0] : lk[1];
            double l4 = c[4][r] <= tk[4] ? lk[2] : lk[3];
            double l5 = c[5][r] <= tk[5] ? lk[4] : lk[5];
            double l6 = c[6][r] <= tk[6] ? lk[6] : lk[7];
            double left = c[1][r] <= tk[1] ? l3 : l4;
            double right = c[2][r] <= tk[2] ? l5 : l6;
            sums[r] += c[0][r] <= tk[0] ? left : right;
        }
    }
}

static inline __attribute__((always_inline)) void levels(int depth, int trees, const int32_t *f, const double *t,
                                                        const double *leaf, const double *x, long rows, long start,
                                                        long count, double *restrict sums, int32_t *restrict idx) {
    const int inner = (1 << depth) - 1, leaves = 1 << depth;
    const double *x0 = x + start;
    for (int k = 0; k < trees; k++) {
        const int32_t *fk = f + (long)inner * k;
        const double *tk = t + (long)inner * k, *lk = leaf + (long)leaves * k;
        for (long r = 0; r < count; r++) idx[r] = 0;
        for (int level = 0; level < depth; level++) {
            for (long r = 0; r < count; r++) {
                const int32_t j = idx[r];
                const double v = x0[(long)fk[j] * rows + r];
                idx[r] = 2 * j + 2 - (v <= tk[j]);
            }
        }
        for (long r = 0; r < count; r++) sums[r] += lk[idx[r] - inner];
    }
}

__attribute__((target("avx2")))
static void levels_avx2(int depth, int trees, const int32_t *f, const double *t, const double *leaf, const double *x,
                        long rows, long start, long count, double *sums, int32_t *idx) {
    levels(depth, trees, f, t, leaf, x, rows, start, count, sums, idx);
}

static void levels_generic(int depth, int trees, const int32_t *f, const double *t, const double *leaf, const double *x,
                           long rows, long start, long count, double *sums, int32_t *idx) {
    levels(depth, trees, f, t, leaf, x, rows, start, count, sums, idx);
}

void forest_kernel_levels(int depth, int tree_count, const int32_t *feature, const double *threshold, const double *leaf,
                          const double *x, long rows, long start, long count, double *sums, int32_t *idx) {
    if (__builtin_cpu_supports("avx2")) levels_avx2(depth, tree_count, feature, threshold, leaf, x, rows, start, count, sums, idx);
    else levels_generic(depth, tree_count, feature, threshold, leaf, x, rows, start, count, sums, idx);
}

int forest_kernel_accumulate(int depth, int tree_count, const int32_t *feature, const double *threshold,
                             const double *leaf, const double *x, long rows, long start, long count, double *sums) {
    if (!__builtin_cpu_supports("avx2")) return -1;
    switch (depth) {
    case 1: accumulate_d1(tree_count, feature, threshold, leaf, x, rows, start, count, sums); return 0;
    case 2: accumulate_d2(tree_count, feature, threshold, leaf, x, rows, start, count, sums); return 0;
    case 3: accumulate_d3(tree_count, feature, threshold, leaf, x, rows, start, count, sums); return 0;
    default: return -1;
    }
}

typedef double v4d __attribute__((vector_size(32)));
typedef uint64_t v4u __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v4d load_v4d(const double *p) {
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) v4u load_v4u(const uint64_t *p) {
    v4u v;
    memcpy(&v, p, sizeof v);
    return v;
}

// A row not at level 1 adds +0.0 (its bits masked off) instead of 0 × w: the same sums, since a
// lane that starts at +0.0 never becomes -0.0 and adding ±0 leaves any other value unchanged.
// Features go four at a time so the node's rows are loaded once per four features.
static inline __attribute__((always_inline)) void binary_sums(const uint64_t *mask, const double *w, const double *wy, long m,
                                                              const int32_t *bits, int count, double *out_w, double *out_s) {
    int k = 0;
    for (; k + 4 <= count; k += 4) {
        const v4u b0 = (v4u){0, 0, 0, 0} + ((uint64_t)1 << bits[k]), b1 = (v4u){0, 0, 0, 0} + ((uint64_t)1 << bits[k + 1]);
        const v4u b2 = (v4u){0, 0, 0, 0} + ((uint64_t)1 << bits[k + 2]), b3 = (v4u){0, 0, 0, 0} + ((uint64_t)1 << bits[k + 3]);
        v4d w0 = {0, 0, 0, 0}, w1 = w0, w2 = w0, w3 = w0, s0 = w0, s1 = w0, s2 = w0, s3 = w0;
        long i = 0;
        for (; i + 4 <= m; i += 4) {
            const v4u mk = load_v4u(mask + i), wv = (v4u)load_v4d(w + i), sv = (v4u)load_v4d(wy + i);
            const v4u m0 = (v4u)((mk & b0) != 0), m1 = (v4u)((mk & b1) != 0), m2 = (v4u)((mk & b2) != 0), m3 = (v4u)((mk & b3) != 0);
            w0 += (v4d)(wv & m0); s0 += (v4d)(sv & m0);
            w1 += (v4d)(wv & m1); s1 += (v4d)(sv & m1);
            w2 += (v4d)(wv & m2); s2 += (v4d)(sv & m2);
            w3 += (v4d)(wv & m3); s3 += (v4d)(sv & m3);
        }
        for (; i < m; i++) {
            const uint64_t mk = mask[i];
            if (mk >> bits[k] & 1) { w0[0] += w[i]; s0[0] += wy[i]; }
            if (mk >> bits[k + 1] & 1) { w1[0] += w[i]; s1[0] += wy[i]; }
            if (mk >> bits[k + 2] & 1) { w2[0] += w[i]; s2[0] += wy[i]; }
            if (mk >> bits[k + 3] & 1) { w3[0] += w[i]; s3[0] += wy[i]; }
        }
        out_w[k] = (w0[0] + w0[1]) + (w0[2] + w0[3]); out_s[k] = (s0[0] + s0[1]) + (s0[2] + s0[3]);
        out_w[k + 1] = (w1[0] + w1[1]) + (w1[2] + w1[3]); out_s[k + 1] = (s1[0] + s1[1]) + (s1[2] + s1[3]);
        out_w[k + 2] = (w2[0] + w2[1]) + (w2[2] + w2[3]); out_s[k + 2] = (s2[0] + s2[1]) + (s2[2] + s2[3]);
        out_w[k + 3] = (w3[0] + w3[1]) + (w3[2] + w3[3]); out_s[k + 3] = (s3[0] + s3[1]) + (s3[2] + s3[3]);
    }
    for (; k < count; k++) {
        const v4u b0 = (v4u){0, 0, 0, 0} + ((uint64_t)1 << bits[k]);
        v4d w0 = {0, 0, 0, 0}, s0 = w0;
        long i = 0;
        for (; i + 4 <= m; i += 4) {
            const v4u mk = load_v4u(mask + i), m0 = (v4u)((mk & b0) != 0);
            w0 += (v4d)((v4u)load_v4d(w + i) & m0);
            s0 += (v4d)((v4u)load_v4d(wy + i) & m0);
        }
        for (; i < m; i++) {
            if (mask[i] >> bits[k] & 1) { w0[0] += w[i]; s0[0] += wy[i]; }
        }
        out_w[k] = (w0[0] + w0[1]) + (w0[2] + w0[3]);
        out_s[k] = (s0[0] + s0[1]) + (s0[2] + s0[3]);
    }
}

__attribute__((target("avx2")))
static void binary_sums_avx2(const uint64_t *mask, const double *w, const double *wy, long m, const int32_t *bits, int count,
                             double *out_w, double *out_s) {
    binary_sums(mask, w, wy, m, bits, count, out_w, out_s);
}

static void binary_sums_generic(const uint64_t *mask, const double *w, const double *wy, long m, const int32_t *bits, int count,
                                double *out_w, double *out_s) {
    binary_sums(mask, w, wy, m, bits, count, out_w, out_s);
}

void forest_binary_sums(const uint64_t *mask, const double *w, const double *wy, long m, const int32_t *bits, int count,
                        double *out_w, double *out_s) {
    if (__builtin_cpu_supports("avx2")) binary_sums_avx2(mask, w, wy, m, bits, count, out_w, out_s);
    else binary_sums_generic(mask, w, wy, m, bits, count, out_w, out_s);
}

// The division-free test of `TreeBuilder.cannotBeat`, the same operations in the same order.
static inline __attribute__((always_inline)) int cannot_beat(double bound, double wl, double sl, double wr, double sr) {
    const double a = sl * wr, b = sr * wl;
    const double num = __builtin_fabs(a - b);
    const double limit = num + 1e-12 * (__builtin_fabs(a) + __builtin_fabs(b) + num);
    return limit * limit < bound * (wl * wr) * (1 - 1e-12);
}

// The sequential scan of `TreeBuilder.evaluate` over a presorted feature's candidates, in order:
// a candidate that passes the bound is scored exactly and replaces the best when strictly better
// (or equal while `equal_wins`, which the first replacement clears).
static inline __attribute__((always_inline)) void consider_at(long i, const int32_t *code, const double *cw, const double *cs, double w,
                                                             double s, double min_leaf, double *best, int *equal_wins, long *best_i) {
    if (code[i + 1] == code[i]) return;
    const double wl = cw[i], sl = cs[i], wr = w - wl;
    if (wl < min_leaf || wr < min_leaf) return;
    if (cannot_beat(*best, wl, sl, wr, s - sl)) return;
    const double d = sl / wl - (s - sl) / wr;
    const double score = wl * wr * d * d;
    if (score > *best || (score == *best && *equal_wins)) {
        *best = score;
        *equal_wins = 0;
        *best_i = i;
    }
}

typedef int64_t v4i __attribute__((vector_size(32)));

// Four candidates at a time test the bound with the best score at the start of their group (a
// lower bound than the running one, so a candidate it rejects the running bound rejects too); a
// group with any candidate left is replayed one by one with the running best. Same result as the
// plain scan, candidate for candidate.
static inline __attribute__((always_inline)) long sorted_best(const int32_t *code, const double *cw, const double *cs, long m, double w,
                                                             double s, double min_leaf, double *best, int equal_wins) {
    long best_i = -1;
    long i = 0;
    const v4d wv = {w, w, w, w}, sv = {s, s, s, s}, lv = {min_leaf, min_leaf, min_leaf, min_leaf};
    for (; i + 4 < m; i += 4) {
        const v4d wl = load_v4d(cw + i), sl = load_v4d(cs + i), wr = wv - wl, sr = sv - sl;
        const v4d a = sl * wr, b = sr * wl;
        const v4d diff = a - b;
        const v4d num = (v4d)((v4u)diff & (v4u){~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63)});
        const v4d aa = (v4d)((v4u)a & (v4u){~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63)});
        const v4d ab = (v4d)((v4u)b & (v4u){~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63), ~(1ULL << 63)});
        const v4d limit = num + 1e-12 * (aa + ab + num);
        const double bound = *best;
        const v4d rhs = (v4d){bound, bound, bound, bound} * (wl * wr) * (1 - 1e-12);
        const v4i open = (v4i)(limit * limit < rhs) == 0;
        const v4i valid = (v4i)(wl >= lv) & (v4i)(wr >= lv);
        int32_t c[5];
        memcpy(c, code + i, sizeof c);
        const v4i boundary = (v4i){c[1] != c[0], c[2] != c[1], c[3] != c[2], c[4] != c[3]};
        const v4i any = open & valid & (boundary != 0);
        if (any[0] | any[1] | any[2] | any[3]) {
            for (long j = i; j < i + 4; j++) consider_at(j, code, cw, cs, w, s, min_leaf, best, &equal_wins, &best_i);
        }
    }
    for (; i + 1 < m; i++) consider_at(i, code, cw, cs, w, s, min_leaf, best, &equal_wins, &best_i);
    return best_i;
}

__attribute__((target("avx2")))
static long sorted_best_avx2(const int32_t *code, const double *cw, const double *cs, long m, double w, double s, double min_leaf,
                             double *best, int equal_wins) {
    return sorted_best(code, cw, cs, m, w, s, min_leaf, best, equal_wins);
}

static long sorted_best_generic(const int32_t *code, const double *cw, const double *cs, long m, double w, double s, double min_leaf,
                                double *best, int equal_wins) {
    return sorted_best(code, cw, cs, m, w, s, min_leaf, best, equal_wins);
}

long forest_sorted_best(const int32_t *code, const double *cw, const double *cs, long m, double w, double s, double min_leaf,
                        double *best, int equal_wins) {
    if (__builtin_cpu_supports("avx2")) return sorted_best_avx2(code, cw, cs, m, w, s, min_leaf, best, equal_wins);
    return sorted_best_generic(code, cw, cs, m, w, s, min_leaf, best, equal_wins);
}

// xoshiro256** (Stats.SeededGenerator.next), state words s[0..3].
static inline uint64_t xoshiro_next(uint64_t *restrict s0, uint64_t *restrict s1, uint64_t *restrict s2,
                                    uint64_t *restrict s3) {
    const uint64_t m = *s1 * 5;
    const uint64_t result = ((m << 7) | (m >> 57)) * 9;
    const uint64_t t = *s1 << 17;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = (*s3 << 45) | (*s3 >> 19);
    return result;
}

void forest_bootstrap_counts(uint64_t *state, long n, double *weight) {
    memset(weight, 0, (size_t)n * sizeof(double));
    if (n <= 0) return;
    uint64_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
    const uint64_t b = (uint64_t)n;
    for (long i = 0; i < n; i++) {
        // Lemire's method, as SeededGenerator.next(below:) draws it.
        __uint128_t m = (__uint128_t)xoshiro_next(&s0, &s1, &s2, &s3) * b;
        if ((uint64_t)m < b) {
            const uint64_t threshold = (0 - b) % b;
            while ((uint64_t)m < threshold) m = (__uint128_t)xoshiro_next(&s0, &s1, &s2, &s3) * b;
        }
        weight[(uint64_t)(m >> 64)] += 1.0;
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
}
