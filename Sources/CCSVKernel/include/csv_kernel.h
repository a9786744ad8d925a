#ifndef CSV_KERNEL_H
#define CSV_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/// The state of a structural scan of CSV records (pass 1 of Tabular's reader), shared with Swift.
///
/// The kernel records the byte range of every needed field of whole, plain records: unquoted
/// fields without quotes, and quoted fields whose only quotes are the enclosing pair. Whatever
/// else it meets (a doubled quote, a stray quote, a ragged or empty line, the last 64 bytes of the
/// data) it leaves to the Swift scanner, stopping at the start of that record.
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

#endif
