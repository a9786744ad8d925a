#include "csv_kernel.h"

// Structural scan of CSV records, 64 bytes at a time: each block of bytes becomes bitmasks of
// quotes, delimiters, line feeds and carriage returns; a prefix XOR of the quote mask marks the
// bytes inside quoted fields, and the delimiters and line breaks outside them are the field ends,
// visited in order with count-trailing-zeros. The quotes are checked for a whole block with a few
// mask operations, and line numbers come from population counts of the line-feed mask.

typedef struct {
    uint64_t quote, delimiter, lf, cr;
} masks64;

static inline masks64 masks_portable(const uint8_t *p, uint8_t d, uint8_t q) {
    masks64 m = {0, 0, 0, 0};
    for (int i = 0; i < 64; i++) {
        const uint64_t bit = 1ULL << i;
        const uint8_t b = p[i];
        if (b == q) m.quote |= bit;
        if (b == d) m.delimiter |= bit;
        if (b == '\n') m.lf |= bit;
        if (b == '\r') m.cr |= bit;
    }
    return m;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

static inline masks64 masks_sse2(const uint8_t *p, uint8_t d, uint8_t qb) {
    const __m128i q = _mm_set1_epi8((char)qb), dl = _mm_set1_epi8((char)d), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
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
static inline masks64 masks_avx2(const uint8_t *p, uint8_t d, uint8_t qb) {
    const __m256i q = _mm256_set1_epi8((char)qb), dl = _mm256_set1_epi8((char)d), lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
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

// Quotes are checked a block at a time: in a plain record, every quote that opens a quoted span
// sits at the start of a field (the byte before it ends a field, or it starts the record) and every
// quote that closes one is followed by the end of its field. A doubled quote inside a field, a
// stray quote or text after a closing quote breaks one of the two. The records before the first
// bad quote are scanned; the record that holds it is left to the Swift scanner.
static inline __attribute__((always_inline)) int scan_records(csv_scan *s, const int level) {
    const uint8_t *const base = s->base;
    const size_t n = s->count, origin = s->origin, limit = s->limit;
    const uint8_t d = s->delimiter;
    // Without quoting no byte is a quote: the quote mask is cleared (the byte compared is then irrelevant).
    const uint8_t q = s->quote >= 0 ? (uint8_t)s->quote : d;
    const uint64_t quoting = s->quote >= 0 ? ~0ULL : 0;
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
    uint64_t lfs_before = 0, lone_crs = 0;  // counts from `s->position` to the current block
    uint64_t inside = 0;                    // all ones when the block starts inside a quoted field
    uint64_t start_carry = 1;               // bit 0: the block's first byte may open a quoted field
    if (record >= n || base[record] == '\n' || base[record] == '\r') goto done;
    for (size_t c = record; c + 64 <= n; c += 64) {
        // Offsets must fit in 31 bits (the top bit of a span's end marks doubled quotes).
        if (c + 64 - origin >= 0x80000000u) goto done;
        masks64 m;
#if defined(__x86_64__) || defined(__i386__)
        if (level == 2) m = masks_avx2(base + c, d, q);
        else if (level == 1) m = masks_sse2(base + c, d, q);
        else m = masks_portable(base + c, d, q);
#else
        m = masks_portable(base + c, d, q);
#endif
        m.quote &= quoting;
        const uint64_t in = prefix_xor(m.quote) ^ inside;
        inside = (uint64_t)((int64_t)in >> 63);
        uint64_t ends = (m.delimiter | m.lf | m.cr) & ~in;
        const uint64_t starts = ends << 1 | start_carry;
        start_carry = ends >> 63;
        uint64_t followed_by_end = ends >> 1;
        if (c + 64 < n) {
            const uint8_t next = base[c + 64];
            followed_by_end |= (uint64_t)(next == d || next == '\n' || next == '\r') << 63;
        }
        const uint64_t bad = (m.quote & in & ~starts) | (m.quote & ~in & ~followed_by_end);
        const size_t stop = bad ? c + (size_t)__builtin_ctzll(bad) : (size_t)-1;
        while (ends) {
            const unsigned bit = (unsigned)__builtin_ctzll(ends);
            ends &= ends - 1;
            const size_t e = c + bit;
            if (e > stop) goto done;        // the current record holds a bad quote
            if (e < field_start) continue;  // the line feed of a CR LF
            if (field >= field_count) goto done;
            size_t start = field_start, end = e;
            if (quoting && base[start] == q) {
                // A quoted field (its quotes were checked above): the span is what they enclose.
                start += 1;
                end -= 1;
            }
            const intptr_t slot = slot_of[field];
            if (slot >= 0) {
                row[stride * (size_t)slot] = (uint32_t)(start - origin);
                row[stride * (size_t)slot + 1] = (uint32_t)(end - origin);
            }
            field += 1;
            if ((m.delimiter >> bit) & 1) {
                field_start = e + 1;
                continue;
            }
            // A line break ends the record.
            if (field != field_count) goto done;
            const uint8_t b = base[e];
            size_t next = e + 1;
            const int crlf = b == '\r' && next < n && base[next] == '\n';
            if (crlf) next += 1;
            const uint64_t below = bit == 0 ? 0 : ~0ULL >> (64 - bit);
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
        if (bad) goto done;
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
    const intptr_t *const offsets = c->offsets;
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
        const int32_t code = csv_dict_find(slots, mask, store, offsets, p, n, h, &slot);
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

int csv_parse_numbers(csv_numbers *c) {
    const uint8_t *const origin = c->origin;
    const uint32_t *const spans = c->spans;
    const size_t rows = c->rows;
    const int integers = c->integers, nullable = c->nullable;
    size_t r = c->row;
    int stopped = 0;
    for (; r < rows; r++) {
        const uint32_t start = spans[2 * r], end = spans[2 * r + 1];
        if (end & 0x80000000u) {  // doubled quotes to undo
            stopped = 1;
            break;
        }
        const uint8_t *const p = origin + start;
        const size_t n = end - start;
        int ok;
        if (integers) {
            ok = csv_parse_int(p, n, (int64_t *)c->values + r);
        } else if (n == 0 && nullable) {
            ((double *)c->values)[r] = __builtin_nan("");
            ok = 1;
        } else {
            ok = csv_parse_decimal(p, n, (double *)c->values + r);
        }
        if (!ok) {
            stopped = 1;
            break;
        }
    }
    c->row = r;
    return stopped;
}
