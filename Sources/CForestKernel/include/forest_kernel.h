#ifndef FOREST_KERNEL_H
#define FOREST_KERNEL_H
#include <stdint.h>

/// Adds, for rows [start, start + count) of a column-major matrix with `rows` rows, the leaf value
/// of every tree of a complete-tree forest of depth 1, 2 or 3 to sums[0..<count], trees in order.
/// Returns 0 when it did the work (AVX2 available and depth supported), -1 otherwise.
int forest_kernel_accumulate(int depth, int tree_count, const int32_t *feature, const double *threshold,
                             const double *leaf, const double *x, long rows, long start, long count, double *sums);

#endif
