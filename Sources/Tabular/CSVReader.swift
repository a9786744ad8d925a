import Foundation

/// RFC 4180 CSV reader into typed, contiguous columns.
///
/// Handles quoted fields (embedded commas, doubled quotes, line breaks), LF and CRLF line ends
/// and a UTF-8 byte-order mark. Every problem is reported as a `DataError` naming the file,
/// the 1-based physical line and the 1-based column.
public enum CSVReader {
    /// Reads `path`, keeping only the schema's columns (others are skipped without conversion).
    public static func read(path: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Table {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DataError(file: path, message: "cannot read file: \(error.localizedDescription)")
        }
        return try data.withUnsafeBytes { raw in
            try parse(raw.bindMemory(to: UInt8.self), source: path, schema: schema, delimiter: delimiter)
        }
    }

    public static func read(bytes: [UInt8], source: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Table {
        try bytes.withUnsafeBufferPointer { try parse($0, source: source, schema: schema, delimiter: delimiter) }
    }

    /// Reads only the header of `path` (after an optional BOM).
    public static func header(path: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DataError(file: path, message: "cannot read file: \(error.localizedDescription)")
        }
        return try data.withUnsafeBytes { raw in
            var cursor = Cursor(buffer: raw.bindMemory(to: UInt8.self), source: path, delimiter: delimiter)
            return try cursor.readHeader()
        }
    }

    /// Reads the header of CSV text held in memory (after an optional BOM).
    public static func header(bytes: [UInt8], source: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [String] {
        try bytes.withUnsafeBufferPointer { buffer in
            var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter)
            return try cursor.readHeader()
        }
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, source: String, schema: CSVSchema, delimiter: UInt8,
                      blockBytes: Int = CSVReader.blockBytes, threads requestedThreads: Int? = nil) throws -> Table {
        var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter)
        let header = try cursor.readHeader()

        // Map each file column to its builder slot (or skip).
        var slotOfField = [Int](repeating: -1, count: header.count)
        var builders: [ColumnBuilder] = []
        for spec in schema.columns {
            let matches = header.indices.filter { header[$0] == spec.name }
            guard let fieldIndex = matches.first else {
                throw DataError(file: source, line: 1, columnName: spec.name,
                                message: "missing column '\(spec.name)'; the header has: \(header.joined(separator: ", "))")
            }
            if matches.count > 1 {
                throw DataError(file: source, line: 1, column: matches[1] + 1, columnName: spec.name,
                                message: "column '\(spec.name)' appears more than once in the header")
            }
            slotOfField[fieldIndex] = builders.count
            builders.append(ColumnBuilder(spec: spec, field: fieldIndex))
        }
        var position = cursor.position
        var blockLine = cursor.line
        let estimatedRows = estimateRowCount(buffer, from: position)
        for i in builders.indices { builders[i].reserve(estimatedRows) }

        // Two passes per block of about `blockBytes`: pass 1 records the byte range of every needed
        // field in a flat index (one tight loop over the bytes); pass 2 converts column by column,
        // the columns in parallel. One column at a time keeps its dictionary hot in cache, and the
        // result does not depend on the thread count: each column is converted in row order by one task.
        // Two field indexes: while the columns of one block are converted, the next block is
        // scanned into the other (one more task beside the column tasks).
        // Rows per block, from the mean line length (a little over, so the index rarely grows).
        let rowsPerBlock = Int(Double(estimatedRows) * min(1, Double(blockBytes) / Double(max(1, buffer.count - position))) * 1.1)
        var current = FieldIndex(columns: builders.count, fieldCount: header.count, slotOfField: slotOfField, expectedRows: rowsPerBlock)
        var next = FieldIndex(columns: builders.count, fieldCount: header.count, slotOfField: slotOfField, expectedRows: rowsPerBlock)
        let threads = max(1, requestedThreads ?? ProcessInfo.processInfo.environment["CSV_THREADS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount)
        guard position < buffer.count else { return emptyTable(builders, source: source) }
        let minimumParallelRows = blockBytes < CSVReader.blockBytes ? 1 : 4096
        var scan = current.scan(buffer, from: position, limit: min(buffer.count, position + blockBytes), line: blockLine, delimiter: delimiter)
        while true {
            let blockStart = position
            let more = !scan.finished
            let errors = ColumnErrors(count: builders.count)
            let shared = SharedBlock(buffer: buffer, index: current)
            let ahead = ScanSlot(index: next)
            let nextStart = scan.end, nextLine = scan.endLine
            let columns = builders.count
            builders.withUnsafeMutableBufferPointer { bp in
                let target = UncheckedBuilders(builders: bp)
                let task: @Sendable (Int) -> Void = { k in
                    if k == columns {
                        ahead.result = ahead.index.scan(shared.buffer, from: nextStart, limit: min(shared.buffer.count, nextStart + blockBytes),
                                                        line: nextLine, delimiter: delimiter)
                    } else if let failure = target.builders[k].appendBlock(shared.buffer, index: shared.index, column: k) {
                        errors.set(k, failure)
                    }
                }
                let tasks = columns + (more ? 1 : 0)
                if threads == 1 || current.rows < minimumParallelRows {
                    for k in 0..<tasks { task(k) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: tasks, execute: task)
                }
            }
            // The first error in file order: the earliest row, then the leftmost field; a
            // structural error (ragged row, bad quoting) comes after the rows before it.
            if let (c, failure) = errors.first(fieldOf: { builders[$0].field }) {
                let line = blockLine + countLineFeeds(buffer, from: blockStart, to: failure.offset)
                throw builders[c].error(failure, line: line, source: source)
            }
            if let structural = scan.error {
                throw DataError(file: source, line: structural.line, column: structural.column, message: structural.message)
            }
            guard more, let following = ahead.result else { break }
            position = nextStart
            blockLine = nextLine
            scan = following
            swap(&current, &next)
        }

        var table = Table(source: source)
        for b in builders { table.append(b.spec.name, b.finish()) }
        return table
    }

    /// Bytes per block of the two-pass parse: large enough to amortize the threads, small enough
    /// that the block's field index stays small (16 bytes per needed field).
    static let blockBytes = 8 << 20
}

/// Byte ranges of the needed fields of one block, column-major in one flat buffer: for column c
/// and row r, `spans[2(c·capacityRows + r)]` is the start and the next entry the end (32-bit
/// offsets from the block's `origin`, so the index costs 8 bytes per needed field), so pass 2 reads each column's ranges sequentially. A quoted field's range excludes its quotes; `escapedBit` set in its end means the
/// field has doubled quotes to undo.
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

    /// Pass 1: scans whole records from `from` until the first record ending at or after `limit`.
    func scan(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, line startLine: Int, delimiter d: UInt8) -> Scan {
        rows = 0
        origin = from
        for c in 0..<columns { escaped[c] = false }
        let n = buffer.count
        guard let base = buffer.baseAddress else { return Scan(end: n, endLine: startLine, finished: true) }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let dMask = UInt64(d) &* ones, lf = 0x0A &* ones, cr = 0x0D &* ones
        let columns = self.columns, fieldCount = self.fieldCount
        var p = from
        var line = startLine
        return slotOfField.withUnsafeBufferPointer { slotOf in
            while p < n {
                if p >= limit { return Scan(end: p, endLine: line, finished: false) }
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
                    if p < n && base[p] == 0x22 {
                        let openLine = line
                        p += 1
                        start = p
                        while true {
                            guard p < n else {
                                return Scan(end: p, endLine: line, finished: true,
                                            error: StructuralError(line: openLine, column: field + 1, message: "unterminated quoted field (the closing quote is missing)"))
                            }
                            let b = base[p]
                            if b == 0x22 {
                                if p + 1 < n && base[p + 1] == 0x22 {
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
                            return Scan(end: p, endLine: line, finished: true,
                                        error: StructuralError(line: line, column: field + 1, message: "unexpected character after a closing quote"))
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
                        return Scan(end: p, endLine: line, finished: true,
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
                    return Scan(end: p, endLine: line, finished: true,
                                error: StructuralError(line: recordLine, column: min(field, fieldCount + 1),
                                                       message: "ragged row: expected \(fieldCount) fields as in the header, found \(field)"))
                }
                rows += 1
            }
            return Scan(end: n, endLine: line, finished: true)
        }
    }
}

/// The scan of the next block, written by the one task that runs it.
final class ScanSlot: @unchecked Sendable {
    let index: FieldIndex
    var result: FieldIndex.Scan?
    init(index: FieldIndex) { self.index = index }
}

func emptyTable(_ builders: [ColumnBuilder], source: String) -> Table {
    var table = Table(source: source)
    for b in builders { table.append(b.spec.name, b.finish()) }
    return table
}

/// The file and the block's index, shared read-only by the converting tasks.
struct SharedBlock: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
    let index: FieldIndex
}

struct UncheckedBuilders: @unchecked Sendable {
    let builders: UnsafeMutableBufferPointer<ColumnBuilder>
}

/// A conversion failure in pass 2: the row in the block, the field's offset, and its text.
struct ConversionFailure: Sendable {
    var row: Int
    var offset: Int
    var text: String
    var what: String
}

/// The first failure of each column (each slot written by one task only).
final class ColumnErrors: @unchecked Sendable {
    private var slots: [ConversionFailure?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ c: Int, _ f: ConversionFailure) { lock.lock(); slots[c] = f; lock.unlock() }
    /// The failure earliest in the file: lowest row, then lowest field index.
    func first(fieldOf: (Int) -> Int) -> (Int, ConversionFailure)? {
        lock.lock(); defer { lock.unlock() }
        var best: (Int, ConversionFailure)?
        for (c, f) in slots.enumerated() {
            guard let f else { continue }
            if let b = best, (b.1.row, fieldOf(b.0)) <= (f.row, fieldOf(c)) { continue }
            best = (c, f)
        }
        return best
    }
}

/// Line feeds in [from, to), eight bytes at a time (for line numbers of errors).
func countLineFeeds(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
    var count = 0
    var p = from
    if let base = buffer.baseAddress {
        let raw = UnsafeRawPointer(base)
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, lf: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        while p + 8 <= to {
            let x = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self) ^ lf
            count += (~(((x & low7) &+ low7) | x | low7)).nonzeroBitCount
            p += 8
        }
    }
    while p < to {
        if buffer[p] == 0x0A { count += 1 }
        p += 1
    }
    return count
}

/// Equality of two byte ranges of the same length, eight bytes at a time (the tail with overlapping loads).
@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    if n >= 8 {
        var i = 0
        while i + 8 <= n {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        return i == n || ra.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == rb.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
    if n >= 4 {
        return ra.loadUnaligned(fromByteOffset: 0, as: UInt32.self) == rb.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
            && ra.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == rb.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
    }
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Rows in the file, estimated from the mean line length of its first 64 KiB (for reserving capacity).
func estimateRowCount(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    let end = min(buffer.count, start + 65_536)
    guard end > start else { return 0 }
    var lines = 0
    for i in start..<end where buffer[i] == 0x0A { lines += 1 }
    let meanLength = lines > 0 ? Double(end - start) / Double(lines) : Double(end - start)
    return Int(Double(buffer.count - start) / max(meanLength, 1) * 1.05) + 16
}

struct Cursor {
    enum Terminator { case delimiter, newline, end }

    let buffer: UnsafeBufferPointer<UInt8>
    let source: String
    let delimiter: UInt8
    var position = 0
    var line = 1

    init(buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8, skipBOM: Bool = true) {
        self.buffer = buffer
        self.source = source
        self.delimiter = delimiter
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

    /// Scans one field. Unquoted fields are returned as a byte range of the buffer; quoted fields
    /// are unescaped into `scratch` and `quoted` is true.
    @inline(__always)
    mutating func nextField(scratch: inout [UInt8]) throws -> (Int, Int, Bool) {
        let n = buffer.count
        var p = position
        if p < n && buffer[p] == 0x22 {
            let openLine = line
            let openColumnOffset = p
            scratch.removeAll(keepingCapacity: true)
            p += 1
            while true {
                guard p < n else {
                    _ = openColumnOffset
                    throw DataError(file: source, line: openLine, message: "unterminated quoted field (the closing quote is missing)")
                }
                let b = buffer[p]
                if b == 0x22 {
                    if p + 1 < n && buffer[p + 1] == 0x22 {
                        scratch.append(0x22)
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
                    throw DataError(file: source, line: line, message: "unexpected character after a closing quote")
                }
            }
            position = p
            return (0, 0, true)
        }
        let start = p
        let d = delimiter
        // Eight bytes at a time: a byte equal to the delimiter, LF or CR gives a zero byte after
        // XOR with its broadcast pattern; the classic has-zero-byte test finds the first one.
        if let base = buffer.baseAddress {
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let dMask = UInt64(d) &* ones, lf = 0x0A &* ones, cr = 0x0D &* ones
            while p + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)
                let a = w ^ dMask, b = w ^ lf, c = w ^ cr
                let hit = ((a &- ones) & ~a | (b &- ones) & ~b | (c &- ones) & ~c) & highs
                if hit != 0 {
                    p += hit.trailingZeroBitCount >> 3
                    position = p
                    return (start, p, false)
                }
                p += 8
            }
        }
        while p < n {
            let b = buffer[p]
            if b == d || b == 0x0A || b == 0x0D { break }
            p += 1
        }
        position = p
        return (start, p, false)
    }

    @inline(__always)
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

/// Accumulates one typed column.
struct ColumnBuilder {
    let spec: ColumnSpec
    let field: Int
    var ints: [Int] = []
    var doubles: [Double] = []
    var codes: [Int32] = []
    var interner = ByteInterner()

    init(spec: ColumnSpec, field: Int) {
        self.spec = spec
        self.field = field
    }

    mutating func reserve(_ n: Int) {
        switch spec.kind {
        case .int: ints.reserveCapacity(n)
        case .double: doubles.reserveCapacity(n)
        case .string: codes.reserveCapacity(n)
        }
    }

    /// Appends one field (used by readers that convert as they scan).
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String) throws {
        switch spec.kind {
        case .int:
            guard let v = NumberParsing.parseInt(bytes) else { throw error(bytes, line: line, source: source, what: "an integer") }
            ints.append(v)
        case .double:
            if bytes.isEmpty && spec.nullable {
                doubles.append(.nan)
                return
            }
            guard let v = NumberParsing.parseDouble(bytes) else { throw error(bytes, line: line, source: source, what: "a finite number") }
            doubles.append(v)
        case .string:
            guard let code = interner.code(for: bytes, previous: codes.last) else {
                throw DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: "text is not valid UTF-8")
            }
            codes.append(code)
        }
    }

    func error(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String, what: String) -> DataError {
        let text = String(decoding: bytes, as: UTF8.self)
        let message = text.isEmpty ? "empty value where \(what) is required" : "cannot parse '\(text)' as \(what)"
        return DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: message)
    }

    func error(_ f: ConversionFailure, line: Int, source: String) -> DataError {
        let message: String
        if spec.kind == .string {
            message = "text is not valid UTF-8"
        } else {
            message = f.text.isEmpty ? "empty value where \(f.what) is required" : "cannot parse '\(f.text)' as \(f.what)"
        }
        return DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: message)
    }

    /// Pass 2: converts this column's fields of one block, writing into storage grown once per
    /// block. On failure the block's rows of this column are dropped (the read stops anyway).
    mutating func appendBlock(_ buffer: UnsafeBufferPointer<UInt8>, index: FieldIndex, column c: Int) -> ConversionFailure? {
        let rows = index.rows
        let stride = 2
        let spans = index.spans + 2 * c * index.capacityRows
        let origin = index.origin
        let hasEscapes = index.escaped[c]
        var scratch: [UInt8] = []
        /// The field's bytes (unescaped into `scratch` when it has doubled quotes).
        @inline(__always) func bytes(_ r: Int, _ scratch: inout [UInt8]) -> UnsafeBufferPointer<UInt8> {
            let start = origin + Int(spans[r * stride]), rawEnd = spans[r * stride + 1]
            if !hasEscapes || rawEnd & FieldIndex.escapedBit == 0 {
                return UnsafeBufferPointer(rebasing: buffer[start..<(origin + Int(rawEnd))])
            }
            scratch.removeAll(keepingCapacity: true)
            var k = start
            let stop = origin + Int(rawEnd ^ FieldIndex.escapedBit)
            while k < stop {
                scratch.append(buffer[k])
                k += buffer[k] == 0x22 ? 2 : 1
            }
            return scratch.withUnsafeBufferPointer { $0 }
        }
        func failure(_ r: Int, _ what: String) -> ConversionFailure {
            var s: [UInt8] = []
            let b = bytes(r, &s)
            return ConversionFailure(row: r, offset: origin + Int(spans[r * stride]), text: String(decoding: b, as: UTF8.self), what: what)
        }
        switch spec.kind {
        case .int:
            let base = ints.count
            ints.append(contentsOf: repeatElement(0, count: rows))
            let failed: Int? = ints.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    guard let v = NumberParsing.parseInt(bytes(r, &scratch)) else { return r }
                    out[base + r] = v
                }
                return nil
            }
            if let r = failed {
                ints.removeLast(rows)
                return failure(r, "an integer")
            }
        case .double:
            let base = doubles.count
            let nullable = spec.nullable
            doubles.append(contentsOf: repeatElement(0, count: rows))
            let failed: Int? = doubles.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    let b = bytes(r, &scratch)
                    if b.isEmpty && nullable {
                        out[base + r] = .nan
                        continue
                    }
                    guard let v = NumberParsing.parseDouble(b) else { return r }
                    out[base + r] = v
                }
                return nil
            }
            if let r = failed {
                doubles.removeLast(rows)
                return failure(r, "a finite number")
            }
        case .string:
            let base = codes.count
            codes.append(contentsOf: repeatElement(0, count: rows))
            var previous: Int32? = base > 0 ? codes[base - 1] : nil
            let failed: Int? = codes.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    guard let code = interner.code(for: bytes(r, &scratch), previous: previous) else { return r }
                    out[base + r] = code
                    previous = code
                }
                return nil
            }
            if let r = failed {
                codes.removeLast(rows)
                return failure(r, "valid UTF-8 text")
            }
        }
        return nil
    }

    func finish() -> ColumnData {
        switch spec.kind {
        case .int: return .int(ints)
        case .double: return .double(doubles)
        case .string: return .string(StringColumn(codes: codes, levels: interner.levels))
        }
    }
}

/// Dictionary-encodes byte strings without creating a `String` per field:
/// an open-addressing hash table over the distinct values' bytes.
struct ByteInterner {
    var levels: [String] = []
    private var store: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open-addressing table: each entry packs the high 32 bits of the hash with code + 1
    /// (0 = empty), so a probe reads one word.
    private var slots = [UInt64](repeating: 0, count: 64)

    /// Word-at-a-time multiplicative hash (8 bytes per step). The last partial word is read with
    /// overlapping loads instead of byte by byte (short codes and dates are all tail); the length is
    /// mixed in first, so overlapping reads of different lengths cannot collide systematically.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        var h: UInt64 = 0x9E3779B97F4A7C15 ^ UInt64(truncatingIfNeeded: n)
        guard let base = bytes.baseAddress, n > 0 else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xFF51AFD7ED558CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            let w: UInt64
            if n >= 8 {
                w = raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            } else if n >= 4 {
                w = UInt64(raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                    | UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
            } else {
                w = UInt64(base[0]) | UInt64(base[n >> 1]) << 8 | UInt64(base[n - 1]) << 16
            }
            h = (h ^ w) &* 0xC4CEB9FE1A85EC53
        }
        h ^= h >> 29
        return h
    }

    /// The code of a value, adding it as a new level when unseen; nil if the bytes are not valid
    /// UTF-8 (checked once per distinct value). `previous` is tried first: consecutive rows often
    /// repeat a value (the lines of one invoice).
    @inline(__always)
    mutating func code(for bytes: UnsafeBufferPointer<UInt8>, previous: Int32?) -> Int32? {
        if let previous, equals(Int(previous), bytes) { return previous }
        let h = ByteInterner.hash(bytes)
        let tag = h & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[i]
            if entry == 0 { break }
            if entry & 0xFFFF_FFFF_0000_0000 == tag {
                let code = Int(entry & 0xFFFF_FFFF) - 1
                if equals(code, bytes) { return Int32(code) }
            }
            i = (i + 1) & mask
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
        let code = Int32(levels.count)
        levels.append(s)
        hashes.append(h)
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        slots[i] = tag | UInt64(code + 1)
        if levels.count * 2 > slots.count { grow() }
        return code
    }

    @inline(__always)
    private func equals(_ code: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let a = offsets[code], b = offsets[code + 1]
        if b - a != bytes.count { return false }
        if bytes.count == 0 { return true }
        return store.withUnsafeBufferPointer { s in
            bytesEqual(s.baseAddress! + a, bytes.baseAddress!, bytes.count)
        }
    }

    private mutating func grow() {
        var newSlots = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = newSlots.count - 1
        for code in 0..<levels.count {
            var i = Int(truncatingIfNeeded: hashes[code]) & mask
            while newSlots[i] != 0 { i = (i + 1) & mask }
            newSlots[i] = (hashes[code] & 0xFFFF_FFFF_0000_0000) | UInt64(code + 1)
        }
        slots = newSlots
    }
}
