// Pass 1: the byte ranges of the needed fields of a block (vector scan, scalar fallback), and the
// scalar cursor for irregular records and headers.

import CCSVKernel
import Foundation

/// Byte ranges of the needed fields of one block, column-major in one flat buffer: for column c
/// and row r, `spans[2(c·capacityRows + r)]` is the start and the next entry the end (32-bit
/// offsets from the block's `origin`, so the index costs 8 bytes per needed field), so pass 2
/// reads each column's ranges sequentially. A quoted field's range excludes its quotes;
/// `escapedBit` set in its end means the field has doubled quotes to undo.
final class FieldIndex {
    let columns: Int
    let fieldCount: Int
    let slotOfField: [Int]
    private(set) var spans: UnsafeMutablePointer<UInt32>
    /// File offset the block's spans are relative to.
    private(set) var origin = 0
    private(set) var capacityRows: Int
    private(set) var rows = 0
    /// Per column: whether any field of the block has doubled quotes.
    private(set) var escaped: [Bool]
    /// The quote byte of the last scan (whose doubled quotes the column builders undo), or -1.
    private(set) var quote = CSVReader.doubleQuote
    static let escapedBit: UInt32 = 1 << 31

    init(columns: Int, fieldCount: Int, slotOfField: [Int], expectedRows: Int = 1024) {
        self.columns = columns
        self.fieldCount = fieldCount
        self.slotOfField = slotOfField
        capacityRows = max(1024, expectedRows)
        spans = .allocate(capacity: capacityRows * max(1, columns) * 2)
        escaped = Array(repeating: false, count: columns)
    }

    deinit { spans.deallocate() }

    private func grow() {
        let bigger = UnsafeMutablePointer<UInt32>.allocate(capacity: capacityRows * 2 * max(1, columns) * 2)
        for c in 0..<columns {
            (bigger + 2 * c * capacityRows * 2).update(from: spans + 2 * c * capacityRows, count: rows * 2)
        }
        spans.deallocate()
        spans = bigger
        capacityRows *= 2
    }

    struct StructuralError {
        var line: Int
        var column: Int?
        var message: String
    }

    struct Scan {
        /// Offset after the last complete record scanned.
        var end: Int
        var endLine: Int
        /// True when the end of the data was reached (or an error stopped the scan).
        var finished: Bool
        var error: StructuralError?
    }

    /// The byte classification the vector kernel uses on this CPU (2 AVX2, 1 SSE2, 0 portable C).
    static let bestLevel = Int(csv_scan_best_level())

    /// Pass 1: scans whole records from `from` until the first record starting at or after `limit`.
    /// Plain records go through the vector kernel at `level` (-1: none); the records it leaves
    /// (quotes inside a field, ragged or blank lines, the last bytes) are scanned here one by one.
    func scan(
        _ buffer: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, line startLine: Int, delimiter d: UInt8,
        quote quoteByte: Int = CSVReader.doubleQuote, level: Int = FieldIndex.bestLevel
    ) -> Scan {
        rows = 0
        quote = quoteByte
        origin = from
        for c in 0..<columns { escaped[c] = false }
        let n = buffer.count
        guard let base = buffer.baseAddress else { return Scan(end: n, endLine: startLine, finished: true) }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let dMask = UInt64(d) &* ones, lf = 0x0A &* ones, cr = 0x0D &* ones
        let fieldCount = self.fieldCount
        var p = from
        var line = startLine
        return slotOfField.withUnsafeBufferPointer { slotOf in
            while p < n {
                if p >= limit { return Scan(end: p, endLine: line, finished: false) }
                if level >= 0 && n - p >= 128 {
                    var state = csv_scan(
                        base: base, count: n, origin: from, limit: limit, slot_of_field: slotOf.baseAddress,
                        field_count: fieldCount, spans: spans, capacity_rows: capacityRows, delimiter: d, quote: Int32(quoteByte),
                        level: Int32(level), position: p, rows: rows, line: line)
                    let status = Int(csv_scan_records(&state))
                    p = state.position
                    rows = state.rows
                    line = state.line
                    if status == Int(CSV_SCAN_FULL) {
                        grow()
                        continue
                    }
                    if status == Int(CSV_SCAN_LIMIT) || p >= n { continue }
                }
                // Only line breaks left: the end of the data.
                var q = p
                while q < n && (base[q] == 0x0A || base[q] == 0x0D) { q += 1 }
                if q == n { return Scan(end: n, endLine: line, finished: true) }

                if rows == capacityRows { grow() }
                let row = spans + 2 * rows
                let columnStride = 2 * capacityRows
                let recordLine = line
                var field = 0
                while true {
                    var start = p, end: Int
                    var escapedField = false
                    if p < n && Int(base[p]) == quoteByte {
                        let openLine = line
                        p += 1
                        start = p
                        while true {
                            guard p < n else {
                                return Scan(
                                    end: p, endLine: line, finished: true,
                                    error: StructuralError(
                                        line: openLine, column: field + 1, message: "unterminated quoted field (the closing quote is missing)"))
                            }
                            let b = base[p]
                            if Int(b) == quoteByte {
                                if p + 1 < n && Int(base[p + 1]) == quoteByte {
                                    escapedField = true
                                    p += 2
                                    continue
                                }
                                break
                            }
                            if b == 0x0A { line += 1 }
                            p += 1
                        }
                        end = p
                        p += 1
                        if p < n && base[p] != d && base[p] != 0x0A && base[p] != 0x0D {
                            return Scan(
                                end: p, endLine: line, finished: true,
                                error: quoteError(openLine: openLine, line: line, column: field + 1))
                        }
                    } else {
                        // Eight bytes at a time: a byte equal to the delimiter, LF or CR becomes
                        // zero after XOR with its broadcast; the has-zero-byte test finds the first.
                        var found = false
                        while p + 8 <= n {
                            let w = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)
                            let a = w ^ dMask, b = w ^ lf, c = w ^ cr
                            let hit = ((a &- ones) & ~a | (b &- ones) & ~b | (c &- ones) & ~c) & highs
                            if hit != 0 {
                                p += hit.trailingZeroBitCount >> 3
                                found = true
                                break
                            }
                            p += 8
                        }
                        if !found {
                            while p < n {
                                let b = base[p]
                                if b == d || b == 0x0A || b == 0x0D { break }
                                p += 1
                            }
                        }
                        end = p
                    }
                    if end - from >= Int(FieldIndex.escapedBit) {
                        return Scan(
                            end: p, endLine: line, finished: true,
                            error: StructuralError(line: recordLine, column: field + 1, message: "record too long (over 2 GiB)"))
                    }
                    if field < fieldCount {
                        let slot = slotOf[field]
                        if slot >= 0 {
                            row[columnStride * slot] = UInt32(truncatingIfNeeded: start - from)
                            let end = UInt32(truncatingIfNeeded: end - from)
                            if escapedField {
                                row[columnStride * slot + 1] = end | FieldIndex.escapedBit
                                escaped[slot] = true
                            } else {
                                row[columnStride * slot + 1] = end
                            }
                        }
                    }
                    field += 1
                    if p >= n { break }
                    let b = base[p]
                    if b == d { p += 1; continue }
                    if b == 0x0D { p += 1; if p < n && base[p] == 0x0A { p += 1 } } else { p += 1 }
                    line += 1
                    break
                }
                if field != fieldCount {
                    return Scan(
                        end: p, endLine: line, finished: true,
                        error: StructuralError(
                            line: recordLine, column: min(field, fieldCount + 1),
                            message: "ragged row: expected \(fieldCount) fields as in the header, found \(field)"))
                }
                rows += 1
            }
            return Scan(end: n, endLine: line, finished: true)
        }
    }
}

struct Cursor {
    enum Terminator { case delimiter, newline, end }

    let buffer: UnsafeBufferPointer<UInt8>
    let source: String
    let delimiter: UInt8
    /// The quote byte, or -1: fields are never quoted.
    let quote: Int
    var position = 0
    var line = 1

    init(buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8, quote: Int = CSVReader.doubleQuote, skipBOM: Bool = true) {
        self.buffer = buffer
        self.source = source
        self.delimiter = delimiter
        self.quote = quote
        if skipBOM, buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
    }

    var atEnd: Bool { position >= buffer.count }

    /// True when only line breaks remain (a trailing newline or blank lines at the end of the file).
    func atBlankTail() -> Bool {
        var p = position
        while p < buffer.count {
            let b = buffer[p]
            if b != 0x0A && b != 0x0D { return false }
            p += 1
        }
        return true
    }

    mutating func readHeader() throws -> [String] {
        if atEnd || atBlankTail() {
            throw DataError(file: source, line: 1, message: "empty file: expected a header line")
        }
        var names: [String] = []
        var scratch: [UInt8] = []
        while true {
            let (start, end, quoted) = try nextField(scratch: &scratch)
            let bytes = quoted ? scratch : Array(buffer[start..<end])
            guard let name = String(validating: bytes, as: UTF8.self) else {
                throw DataError(file: source, line: 1, column: names.count + 1, message: "header is not valid UTF-8")
            }
            names.append(name)
            if consumeTerminator() != .delimiter { break }
        }
        return names
    }

    /// Scans one field (the header's: data rows go through `FieldIndex.scan`). Unquoted fields are
    /// returned as a byte range of the buffer; quoted fields are unescaped into `scratch` and
    /// `quoted` is true.
    mutating func nextField(scratch: inout [UInt8]) throws -> (Int, Int, Bool) {
        let n = buffer.count
        var p = position
        if p < n && Int(buffer[p]) == quote {
            let openLine = line
            scratch.removeAll(keepingCapacity: true)
            p += 1
            while true {
                guard p < n else {
                    throw DataError(file: source, line: openLine, message: "unterminated quoted field (the closing quote is missing)")
                }
                let b = buffer[p]
                if Int(b) == quote {
                    if p + 1 < n && Int(buffer[p + 1]) == quote {
                        scratch.append(b)
                        p += 2
                        continue
                    }
                    p += 1
                    break
                }
                if b == 0x0A { line += 1 }
                scratch.append(b)
                p += 1
            }
            if p < n {
                let b = buffer[p]
                if b != delimiter && b != 0x0A && b != 0x0D {
                    let e = quoteError(openLine: openLine, line: line, column: 1)
                    throw DataError(file: source, line: e.line, message: e.message)
                }
            }
            position = p
            return (0, 0, true)
        }
        let start = p
        while p < n {
            let b = buffer[p]
            if b == delimiter || b == 0x0A || b == 0x0D { break }
            p += 1
        }
        position = p
        return (start, p, false)
    }

    mutating func consumeTerminator() -> Terminator {
        let n = buffer.count
        guard position < n else { return .end }
        let b = buffer[position]
        if b == delimiter {
            position += 1
            return .delimiter
        }
        if b == 0x0D {
            position += 1
            if position < n && buffer[position] == 0x0A { position += 1 }
            line += 1
            return .newline
        }
        // b == LF
        position += 1
        line += 1
        return .newline
    }
}

/// A quote followed by other text. On the field's own line that is a stray character; when the
/// field spans lines, the likelier mistake is a closing quote missing where the field opened (the
/// scanner took a later quote, of another field, for the closing one), so the error points there.
func quoteError(openLine: Int, line: Int, column: Int) -> FieldIndex.StructuralError {
    if openLine == line {
        return FieldIndex.StructuralError(line: line, column: column, message: "unexpected character after a closing quote")
    }
    return FieldIndex.StructuralError(
        line: openLine, column: column,
        message:
            "quoted field opened here is not closed on its line: the next quote, on line \(line), is followed by other text (a closing quote is probably missing)"
    )
}
