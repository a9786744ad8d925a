#include "csv_kernel.h"

// Structural scan of CSV records, 64 bytes at a time: each block of bytes becomes bitmasks of
// quotes, delimiters, line feeds and carriage returns; a prefix XOR of the quote mask marks the
// bytes inside quoted fields, and the delimiters and line breaks outside them are the field ends,
// visited in order with count-trailing-zeros. Quote and line-feed counts up to any byte come from
// population counts, so a field's quotes are checked without looking at its bytes.

typedef struct {
    uint64_t quote, delimiter, lf, cr;
} masks64;

static inline masks64 masks_portable(const uint8_t *p, uint8_t d) {
    masks64 m = {0, 0, 0, 0};
    for (int i = 0; i < 64; i++) {
        const uint64_t bit = 1ULL << i;
        const uint8_t b = p[i];
        if (b == '"') m.quote |= bit;
        if (b == d) m.delimiter |= bit;
        if (b == '\n') m.lf |= bit;
        if (b == '\r') m.cr |= bit;
    }
    return m;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

static inline masks64 masks_sse2(const uint8_t *p, uint8_t d) {
    const __m128i q = _mm_set1_epi8('"'), dl = _mm_set1_epi8((char)d), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    masks64 m = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        const int shift = 16 * k;
        m.quote |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << shift;
        m.delimiter |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dl)) << shift;
        m.lf |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)) << shift;
        m.cr |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) << shift;
    }
    return m;
}

__attribute__((target("avx2")))
static inline masks64 masks_avx2(const uint8_t *p, uint8_t d) {
    const __m256i q = _mm256_set1_epi8('"'), dl = _mm256_set1_epi8((char)d), lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i lo = _mm256_loadu_si256((const __m256i *)p), hi = _mm256_loadu_si256((const __m256i *)(p + 32));
#define MASK64(x) ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, x)) \
                   | (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, x)) << 32)
    masks64 m = {MASK64(q), MASK64(dl), MASK64(lf), MASK64(cr)};
#undef MASK64
    return m;
}

int csv_scan_best_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 1;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 1;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6) != 6) return 1;  // the OS saves the XMM and YMM registers
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 1;
    return ((b >> 5) & 1) ? 2 : 1;
}
#else
int csv_scan_best_level(void) { return 0; }
#endif

/// x XOR-ed with all its lower bits: bit i set when an odd number of quotes is at or below i.
static inline uint64_t prefix_xor(uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

static inline __attribute__((always_inline)) int scan_records(csv_scan *s, const int level) {
    const uint8_t *const base = s->base;
    const size_t n = s->count, origin = s->origin, limit = s->limit;
    const uint8_t d = s->delimiter;
    const intptr_t *const slot_of = s->slot_of_field;
    const intptr_t field_count = s->field_count;
    const size_t stride = 2 * s->capacity_rows, capacity = s->capacity_rows;
    size_t rows = s->rows, line = s->line, record = s->position;

    if (record >= limit) return CSV_SCAN_LIMIT;
    if (rows == capacity) return CSV_SCAN_FULL;
    int status = CSV_SCAN_SLOW;
    const size_t first_line = line;
    uint32_t *row = s->spans + 2 * rows;
    size_t field_start = record;
    intptr_t field = 0;
    // Counts from `s->position` to the current block of 64 bytes, and quotes before the current field.
    uint64_t quotes_before = 0, lfs_before = 0, lone_crs = 0, quotes_at_field = 0;
    uint64_t inside = 0;  // all ones when the block starts inside a quoted field
    if (record >= n || base[record] == '\n' || base[record] == '\r') goto done;
    for (size_t c = record; c + 64 <= n; c += 64) {
        masks64 m;
#if defined(__x86_64__) || defined(__i386__)
        if (level == 2) m = masks_avx2(base + c, d);
        else if (level == 1) m = masks_sse2(base + c, d);
        else m = masks_portable(base + c, d);
#else
        m = masks_portable(base + c, d);
#endif
        const uint64_t in = prefix_xor(m.quote) ^ inside;
        inside = (uint64_t)((int64_t)in >> 63);
        uint64_t ends = (m.delimiter | m.lf | m.cr) & ~in;
        while (ends) {
            const unsigned bit = (unsigned)__builtin_ctzll(ends);
            ends &= ends - 1;
            const size_t e = c + bit;
            if (e < field_start) continue;  // the line feed of a CR LF
            const uint64_t below = bit == 0 ? 0 : ~0ULL >> (64 - bit);
            const uint64_t quotes = quotes_before + (uint64_t)__builtin_popcountll(m.quote & below);
            size_t start = field_start, end = e;
            if (quotes != quotes_at_field) {
                // Quoted: the field's only quotes are its first and last byte.
                if (quotes - quotes_at_field != 2 || e - field_start < 2 || base[field_start] != '"' || base[e - 1] != '"') goto done;
                start += 1;
                end -= 1;
            }
            if (e - origin >= 0x80000000u) goto done;
            if (field < field_count) {
                const intptr_t slot = slot_of[field];
                if (slot >= 0) {
                    row[stride * (size_t)slot] = (uint32_t)(start - origin);
                    row[stride * (size_t)slot + 1] = (uint32_t)(end - origin);
                }
            }
            field += 1;
            quotes_at_field = quotes;
            const uint8_t b = base[e];
            if (b == d) {
                field_start = e + 1;
                continue;
            }
            // A line break ends the record.
            if (field != field_count) goto done;
            size_t next = e + 1;
            const int crlf = b == '\r' && next < n && base[next] == '\n';
            if (crlf) next += 1;
            line = first_line + lfs_before + (uint64_t)__builtin_popcountll(m.lf & below) + lone_crs + 1;
            if (b == '\r' && !crlf) lone_crs += 1;
            rows += 1;
            row += 2;
            record = next;
            field = 0;
            field_start = next;
            if (record >= limit) {
                status = CSV_SCAN_LIMIT;
                goto done;
            }
            if (rows == capacity) {
                status = CSV_SCAN_FULL;
                goto done;
            }
            if (record >= n || base[record] == '\n' || base[record] == '\r') goto done;
        }
        quotes_before += (uint64_t)__builtin_popcountll(m.quote);
        lfs_before += (uint64_t)__builtin_popcountll(m.lf);
    }
done:
    s->position = record;
    s->rows = rows;
    s->line = line;
    return status;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2")))
static int scan_avx2(csv_scan *s) { return scan_records(s, 2); }
static int scan_sse2(csv_scan *s) { return scan_records(s, 1); }
#endif
static int scan_portable(csv_scan *s) { return scan_records(s, 0); }

int csv_scan_records(csv_scan *s) {
#if defined(__x86_64__) || defined(__i386__)
    if (s->level == 2) return scan_avx2(s);
    if (s->level == 1) return scan_sse2(s);
#endif
    return scan_portable(s);
}

int csv_code_rows(csv_coder *c) {
    const uint64_t *const slots = c->slots;
    const size_t mask = c->mask, rows = c->rows;
    const uint8_t *const store = c->store, *const origin = c->origin;
    const uint32_t *const spans = c->spans;
    int32_t *const codes = c->codes;
    int32_t previous = c->previous;
    const uint8_t *previous_bytes = c->previous_bytes;
    size_t previous_count = c->previous_count, r = c->row;
    int status = CSV_CODE_DONE;
    for (; r < rows; r++) {
        const uint32_t start = spans[2 * r], end = spans[2 * r + 1];
        if (end & 0x80000000u) {
            status = CSV_CODE_ESCAPED;
            break;
        }
        const uint8_t *const p = origin + start;
        const size_t n = end - start;
        if (previous >= 0 && n == previous_count && csv_equal(p, previous_bytes, n)) {
            codes[r] = previous;
            continue;
        }
        const uint64_t h = csv_hash(p, n);
        size_t slot;
        const int32_t code = csv_dict_find(slots, mask, store, p, n, h, &slot);
        if (code < 0) {
            c->hash = h;
            c->slot = slot;
            status = CSV_CODE_NEW;
            break;
        }
        codes[r] = code;
        previous = code;
        previous_bytes = p;
        previous_count = n;
    }
    c->row = r;
    c->previous = previous;
    c->previous_bytes = previous_bytes;
    c->previous_count = previous_count;
    return status;
}
