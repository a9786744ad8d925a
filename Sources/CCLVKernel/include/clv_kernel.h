#ifndef CLV_KERNEL_H
#define CLV_KERNEL_H
#include <stdint.h>

/// The BG/NBD likelihood over compressed summaries (see BGNBDKernel in Sources/CLV/BGNBD.swift): a kernel owns
/// copies of the rows and its scratch tables, and is used by one thread at a time.
typedef struct clv_bgnbd_kernel clv_bgnbd_kernel;

/// `n` rows sorted by x (rows with x = 0 first), each with indices into `times` (`nt` distinct times) for t_x and
/// T and a weight; `max_x` the largest x. Returns NULL when out of memory.
clv_bgnbd_kernel *clv_bgnbd_create(long n, const int32_t *x, const int32_t *tx_index, const int32_t *T_index,
                                   const double *weight, long nt, const double *times, long max_x);
void clv_bgnbd_destroy(clv_bgnbd_kernel *k);

/// Total log-likelihood at (r, alpha, a, b); when `gradient` is not NULL, also d LL / d (r, alpha, a, b) there.
double clv_bgnbd_log_likelihood(clv_bgnbd_kernel *k, double r, double alpha, double a, double b, double *gradient);

/// Whether the kernel's exp and log run four at a time (AVX2 and glibc's libmvec); otherwise libm, one at a time.
int clv_vector_math(void);

/// Compresses n customers' summaries (frequency whole and >= 0, recency and age finite and >= 0) for the kernels:
/// `times` (capacity 2n + 1) receives the distinct values of 0, every recency and every age, ascending, and `*nt`
/// their number; rows (capacity n each) receive the distinct (x, index of T, index of t_x), ascending in that
/// order, with the number of customers sharing each as `weight`. Returns the number of rows, -1 when out of memory.
long clv_compress(long n, const double *frequency, const double *recency, const double *age, double *times, long *nt,
                  int32_t *x, int32_t *tx_index, int32_t *T_index, double *weight);

#endif
