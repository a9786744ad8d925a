#ifndef FOREST_KERNEL_H
#define FOREST_KERNEL_H
#include <stdint.h>

/// Adds, for rows [start, start + count) of a column-major matrix with `rows` rows, the leaf value
/// of every tree of a complete-tree forest of depth 1, 2 or 3 to sums[0..<count], trees in order.
/// Returns 0 when it did the work (AVX2 available and depth supported), -1 otherwise.
int forest_kernel_accumulate(int depth, int tree_count, const int32_t *feature, const double *threshold,
                             const double *leaf, const double *x, long rows, long start, long count, double *sums);

/// The same for complete trees of any depth (1 to 8): each row's node index is carried down level
/// by level (`idx`: scratch for `count` values). Runs on every CPU (AVX2 when available).
void forest_kernel_levels(int depth, int tree_count, const int32_t *feature, const double *threshold, const double *leaf,
                          const double *x, long rows, long start, long count, double *sums, int32_t *idx);

/// For each of `count` two-level features (bit `bits[k]` of each row's `mask`), the weight and the
/// weighted target of a node's rows at level 1: `out_w[k]`, `out_s[k]`. Summed in four lanes by
/// position (position i adds to lane i % 4 while four positions remain, the rest to lane 0),
/// lanes combined as (l0 + l1) + (l2 + l3): the same bits on every CPU, AVX2 or not.
void forest_binary_sums(const uint64_t *mask, const double *w, const double *wy, long m, const int32_t *bits,
                        int count, double *out_w, double *out_s);

/// The best split of a presorted feature from its `m` rows in order: `code[i]` the row's level code,
/// `cw[i]`, `cs[i]` the running sums of weight and weighted target through row i (node totals `w`,
/// `s`). The candidate between rows i and i + 1 (where the code changes, both sides at least
/// `min_leaf`) scores wL·wR·(sL/wL − sR/wR)²; it replaces `*best` when strictly better, or equal
/// while `equal_wins` (cleared by the first replacement): the scan of `TreeBuilder.evaluate`,
/// with its division-free bound, bit for bit. Returns the best candidate's i (and updates
/// `*best`), or -1 when none replaced it.
long forest_sorted_best(const int32_t *code, const double *cw, const double *cs, long m, double w, double s, double min_leaf,
                        double *best, int equal_wins);

/// A bootstrap of `n` rows as multiplicities: `weight[0..<n]` zeroed, then `n` draws of
/// `Stats.SeededGenerator.next(below: n)` from the generator whose four state words are `state`,
/// each adding 1 to its row; `state` is left as the generator would be after those draws.
void forest_bootstrap_counts(uint64_t *state, long n, double *weight);

#endif
