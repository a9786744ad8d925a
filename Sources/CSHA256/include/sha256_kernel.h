#ifndef SHA256_KERNEL_H
#define SHA256_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/// The 64 round constants K of FIPS 180-4 (for the portable implementation as well).
extern const uint32_t sha256_round_constants[64];

/// 1 when the CPU has the SHA extensions (and SSSE3/SSE4.1) that `sha256_kernel_blocks` needs.
int sha256_kernel_available(void);

/// Compresses `blocks` consecutive 64-byte blocks of `data` into `state` (the eight working words
/// a..h, host order), with the x86 SHA-NI instructions. Only call it when `sha256_kernel_available()`.
void sha256_kernel_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
