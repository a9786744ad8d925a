#ifndef CSV_KERNEL_H
#define CSV_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/// The state of a structural scan of CSV records (pass 1 of Tabular's reader), shared with Swift.
///
/// The kernel records the byte range of every needed field of whole, plain records: unquoted
/// fields without quotes, and quoted fields whose only quotes are the enclosing pair. Whatever
/// else it meets (a doubled quote, a stray quote, a ragged or empty line, a record that does not
/// end inside the data's last whole 64 bytes, offsets of 2 GiB and more) it leaves to the Swift
/// scanner, stopping at the start of that record.
typedef struct {
    const uint8_t *base;            ///< the whole data
    size_t count;                   ///< its length
    size_t origin;                  ///< span offsets are relative to this
    size_t limit;                   ///< stop at the first record start at or after this
    const intptr_t *slot_of_field;  ///< per field of a record: its column slot, or -1 to skip it
    intptr_t field_count;           ///< fields per record (the header's)
    uint32_t *spans;                ///< start of row 0 of column 0 (column c, row r at 2(c*capacity_rows + r))
    size_t capacity_rows;           ///< rows the spans have room for
    uint8_t delimiter;
    int quote;                      ///< the quote byte, or -1: fields are never quoted
    int level;                      ///< byte classification: 0 portable C, 1 SSE2, 2 AVX2
    size_t position;                ///< in: a record start; out: the start of the first record not scanned
    size_t rows;                    ///< rows recorded (in and out)
    size_t line;                    ///< 1-based line of `position` (in and out)
} csv_scan;

enum {
    CSV_SCAN_LIMIT = 0,   ///< stopped at a record start at or after `limit`
    CSV_SCAN_FULL = 1,    ///< the spans are full (`rows == capacity_rows`)
    CSV_SCAN_SLOW = 2,    ///< the record at `position` is for the Swift scanner
};

/// Scans whole records from `position` (see `csv_scan`); returns one of the `CSV_SCAN_` values.
int csv_scan_records(csv_scan *scan);

/// The best `level` this CPU supports (2 with AVX2 and an OS that saves its registers).
int csv_scan_best_level(void);

/// 10^k for k in 0...22, the powers of ten a double holds exactly (for exact decimal parsing).
static inline double csv_exact_power_of_ten(int k) {
    static const double powers[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    return powers[k];
}

// --- String dictionaries (pass 2 of Tabular's reader) ------------------------------------------
//
// A dictionary is an open-addressing table of two 64-bit words per slot. The first packs the top
// 24 bits of the value's hash, its length (255 for 255 and more) and its code + 1 (0 = empty slot).
// The second holds a value of up to 8 bytes itself (zero-padded, little-endian), so short values
// are found with one memory access; for longer ones it is the value's offset in the dictionary's
// byte store, compared byte for byte. Swift owns the memory and adds the values; C looks them up.

/// Loads of unaligned words (memcpy compiles to one move).
static inline uint64_t csv_load64(const uint8_t *p) { uint64_t w; __builtin_memcpy(&w, p, 8); return w; }
static inline uint32_t csv_load32(const uint8_t *p) { uint32_t w; __builtin_memcpy(&w, p, 4); return w; }

/// Word-at-a-time multiplicative hash (8 bytes per step). The last partial word is read with
/// overlapping loads instead of byte by byte (short codes and dates are all tail); the length is
/// mixed in first, so overlapping reads of different lengths cannot collide systematically. A final
/// mix makes the low bits (the slot) depend on every byte: without it, short values sharing their
/// first bytes (invoice numbers, stock codes) crowd into runs of slots.
static inline uint64_t csv_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    if (n == 0) return h;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h = (h ^ csv_load64(p + i)) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    if (i < n) {
        uint64_t w;
        if (n >= 8) w = csv_load64(p + n - 8);
        else if (n >= 4) w = (uint64_t)csv_load32(p) | (uint64_t)csv_load32(p + n - 4) << 32;
        else w = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/// A value of at most 8 bytes as one word: its bytes in order (little-endian), zeros after.
static inline uint64_t csv_packed(const uint8_t *p, size_t n) {
    if (n == 8) return csv_load64(p);
    if (n >= 4) return (uint64_t)csv_load32(p) | (uint64_t)csv_load32(p + n - 4) << (8 * (n - 4));
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    return w;
}

/// Equality of two byte ranges of the same length, eight bytes at a time (the tail with overlapping loads).
static inline int csv_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) if (csv_load64(a + i) != csv_load64(b + i)) return 0;
        return i == n || csv_load64(a + n - 8) == csv_load64(b + n - 8);
    }
    if (n >= 4) return csv_load32(a) == csv_load32(b) && csv_load32(a + n - 4) == csv_load32(b + n - 4);
    for (size_t i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

/// The first word of a slot without its code: hash bits and length.
static inline uint64_t csv_slot_key(uint64_t h, size_t n) {
    return (h & 0xFFFFFF0000000000ULL) | (uint64_t)(n < 255 ? n : 255) << 32;
}

/// The second word of a slot: the value itself (up to 8 bytes) or its offset in the store.
static inline uint64_t csv_slot_value(const uint8_t *p, size_t n, size_t offset) {
    return n <= 8 ? csv_packed(p, n) : (uint64_t)offset;
}

/// The code of the `n` bytes at `p` (hash `h`) in a dictionary of `mask + 1` slots, or -1 when
/// absent; then `*slot` is the empty slot where they belong. `offsets[code]` ..< `offsets[code + 1]`
/// is a level's range in `store` (read for lengths of 255 and more, which the slot does not hold).
static inline int32_t csv_dict_find(const uint64_t *slots, size_t mask, const uint8_t *store, const intptr_t *offsets,
                                    const uint8_t *p, size_t n, uint64_t h, size_t *slot) {
    const uint64_t key = csv_slot_key(h, n);
    const int is_short = n <= 8;
    const uint64_t packed = is_short ? csv_packed(p, n) : 0;
    size_t i = (size_t)h & mask;
    for (;;) {
        const uint64_t entry = slots[2 * i];
        if (entry == 0) {
            *slot = i;
            return -1;
        }
        if ((entry & 0xFFFFFFFF00000000ULL) == key) {
            const int32_t code = (int32_t)(uint32_t)entry - 1;
            const uint64_t second = slots[2 * i + 1];
            if (is_short) {
                if (second == packed) return code;
            } else if ((n < 255 || (size_t)(offsets[code + 1] - offsets[code]) == n) && csv_equal(store + second, p, n)) {
                return code;
            }
        }
        i = (i + 1) & mask;
    }
}

/// Coding one string column of a block: the state shared with Swift.
typedef struct {
    const uint64_t *slots;          ///< the dictionary: slots (2 words each)
    size_t mask;                    ///< slot count - 1
    const uint8_t *store;           ///< bytes of its values longer than 8 bytes
    const intptr_t *offsets;        ///< each value's range in `store` (see `csv_dict_find`)
    const uint8_t *origin;          ///< the data at the block's origin (span offsets are relative to it)
    const uint32_t *spans;          ///< the column's (start, end) pairs, row r at 2r
    int32_t *codes;                 ///< out: row r's code at codes[r]
    size_t row;                     ///< in: first row to code; out: the row that stopped the loop, or `rows`
    size_t rows;                    ///< rows in the block
    int32_t previous;               ///< code of the row before `row` (-1: none); in and out
    const uint8_t *previous_bytes;  ///< its bytes (when `previous` >= 0); in and out. In the data, or in
                                    ///< `store` (then valid only until Swift adds a value: set it again)
    size_t previous_count;          ///< their length
    uint64_t hash;                  ///< out (CSV_CODE_NEW): the new value's hash
    size_t slot;                    ///< out (CSV_CODE_NEW): the empty slot it belongs in
} csv_coder;

enum {
    CSV_CODE_DONE = 0,      ///< every row coded
    CSV_CODE_NEW = 1,       ///< the value at `row` is not in the dictionary
    CSV_CODE_ESCAPED = 2,   ///< the field at `row` has doubled quotes (for Swift to undo)
};

/// Codes rows from `row` until a new value, an escaped field or the end of the block; a row that
/// repeats the row before it is found by comparing bytes, without hashing. Returns a `CSV_CODE_` value.
int csv_code_rows(csv_coder *coder);

// --- Numbers (Tabular's NumberParsing and pass 2 of its reader) --------------------------------

/// A decimal integer with an optional sign, in `*out`; 0 (and `*out` untouched) when the bytes are
/// empty, a sign alone, not digits, or out of the range of int64_t.
static inline int csv_parse_int(const uint8_t *p, size_t n, int64_t *out) {
    if (n == 0) return 0;
    const int negative = p[0] == '-';
    size_t i = p[0] == '-' || p[0] == '+';
    if (i == n) return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        const unsigned d = (unsigned)p[i] - '0';
        if (d > 9 || __builtin_mul_overflow(v, 10, &v)) return 0;
        // Negative numbers are accumulated downwards, so that INT64_MIN is reached.
        if (negative ? __builtin_sub_overflow(v, (int64_t)d, &v) : __builtin_add_overflow(v, (int64_t)d, &v)) return 0;
    }
    *out = v;
    return 1;
}

/// A plain decimal (optional sign, at most 15 digits in all, at most one point) in `*out`: an
/// exact integer divided by an exact power of ten, which is the correctly rounded double. 0 for
/// anything else (more digits, exponents, not a number), which needs `strtod` or is no number.
static inline int csv_parse_decimal(const uint8_t *p, size_t n, double *out) {
    const uint8_t *const stop = p + n;
    const int negative = n > 0 && p[0] == '-';
    if (n > 0 && (p[0] == '-' || p[0] == '+')) p++;
    if (stop - p > 16) return 0;
    const uint8_t *const first = p, *point = NULL;
    uint64_t mantissa = 0;
    for (; p < stop; p++) {
        const unsigned d = (unsigned)*p - '0';
        if (d <= 9) mantissa = mantissa * 10 + d;
        else if (*p == '.' && !point) point = p;
        else return 0;
    }
    const ptrdiff_t digits = (stop - first) - (point != NULL);
    if (digits == 0 || digits > 15) return 0;
    const double v = (double)mantissa / csv_exact_power_of_ten(point ? (int)(stop - point - 1) : 0);
    *out = negative ? -v : v;
    return 1;
}

/// Converting one numeric column of a block: the state shared with Swift.
typedef struct {
    const uint8_t *origin;  ///< the data at the block's origin (span offsets are relative to it)
    const uint32_t *spans;  ///< the column's (start, end) pairs, row r at 2r
    void *values;           ///< out: int64_t (`integers`) or double per row
    size_t row;             ///< in: first row to convert; out: the row that stopped the loop, or `rows`
    size_t rows;            ///< rows in the block
    int integers;           ///< 1: `csv_parse_int`, 0: `csv_parse_decimal`
    int nullable;           ///< decimals: an empty field is NaN
} csv_numbers;

/// Converts the fields from `row` on; stops at a field with doubled quotes or one the parser does
/// not take, for Swift to convert (`strtod`) or report. Returns 1 if it stopped, 0 at the end.
int csv_parse_numbers(csv_numbers *numbers);

#endif
