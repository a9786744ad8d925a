#include "forest_kernel.h"

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
