import CCSVKernel
import Foundation

/// RFC 4180 CSV reader into typed, contiguous columns.
///
/// Handles quoted fields (embedded commas, doubled quotes, line breaks), LF and CRLF line ends
/// and a UTF-8 byte-order mark. Every problem is reported as a `DataError` naming the file,
/// the 1-based physical line and the 1-based column.
public enum CSVReader {
    /// Reads `path`, keeping only the schema's columns (others are skipped without conversion).
    public static func read(path: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Table {
        try withMappedFile(path) { try parse($0, source: path, schema: schema, delimiter: delimiter) }
    }

    public static func read(bytes: [UInt8], source: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Table {
        try bytes.withUnsafeBufferPointer { try parse($0, source: source, schema: schema, delimiter: delimiter) }
    }

    /// Reads only the header of `path` (after an optional BOM).
    public static func header(path: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [String] {
        try withMappedFile(path) { try header($0, source: path, delimiter: delimiter) }
    }

    /// Reads the header of CSV text held in memory (after an optional BOM).
    public static func header(bytes: [UInt8], source: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [String] {
        try bytes.withUnsafeBufferPointer { try header($0, source: source, delimiter: delimiter) }
    }

    static func header(_ buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8) throws -> [String] {
        var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter)
        return try cursor.readHeader()
    }

    /// `body` of the file's bytes, mapped into memory.
    static func withMappedFile<T>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DataError(file: path, message: "cannot read file: \(error.localizedDescription)")
        }
        return try data.withUnsafeBytes { try body($0.bindMemory(to: UInt8.self)) }
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, source: String, schema: CSVSchema, delimiter: UInt8,
                      blockBytes: Int = CSVReader.blockBytes, threads requestedThreads: Int? = nil,
                      minimumChunkBytes: Int = CSVReader.minimumChunkBytes, scanLevel: Int = FieldIndex.bestLevel) throws -> Table {
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
        let dataStart = cursor.position, startLine = cursor.line
        guard dataStart < buffer.count else { return emptyTable(builders, source: source) }
        let estimatedRows = estimateRowCount(buffer, from: dataStart)
        let threads = max(1, requestedThreads ?? ProcessInfo.processInfo.environment["CSV_THREADS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount)

        // The data is cut into one chunk per thread at likely record starts, and each chunk is parsed
        // on its own (blocks small enough to stay in the core's cache, the chunk's own dictionaries).
        // A cut is only a guess (a line break may sit inside a quoted field): chunk k's result is used
        // only if chunk k-1, parsed from a true record start, ended exactly at the cut; otherwise the
        // rest of the file is parsed again from where chunk k-1 really ended. The chunks are then
        // joined in file order (string levels keep their order of first appearance), so the table
        // does not depend on the thread count.
        let dataBytes = buffer.count - dataStart
        let wanted = min(threads, max(1, dataBytes / max(1, minimumChunkBytes)))
        var cuts = [dataStart]
        if wanted > 1, let base = buffer.baseAddress {
            for k in 1..<wanted {
                let guess = dataStart + dataBytes / wanted * k
                if let cut = likelyRecordStart(base, count: buffer.count, from: guess, delimiter: delimiter), cut > cuts.last!, cut < buffer.count {
                    cuts.append(cut)
                }
            }
        }
        cuts.append(buffer.count)
        // Rows per block, from the mean line length (a little over, so the field index rarely grows).
        let blockRows = Int(Double(estimatedRows) * min(1, Double(blockBytes) / Double(dataBytes)) * 1.1)
        let file = SharedBuffer(buffer: buffer)
        func job(from: Int, to: Int, reserve: Int) -> ChunkJob {
            ChunkJob(builders: builders, fieldCount: header.count, slotOfField: slotOfField, from: from, to: to, reserve: reserve, blockRows: blockRows)
        }
        var chunks = (0..<(cuts.count - 1)).map { k in
            job(from: cuts[k], to: cuts[k + 1],
                reserve: k == 0 ? estimatedRows : Int(Double(estimatedRows) * Double(cuts[k + 1] - cuts[k]) / Double(dataBytes) * 1.1) + 16)
        }
        let parseChunk: @Sendable (ChunkJob) -> Void = { chunk in
            chunk.run(file.buffer, source: source, delimiter: delimiter, blockBytes: blockBytes, level: scanLevel)
        }
        if chunks.count == 1 {
            parseChunk(chunks[0])
        } else {
            let all = chunks
            DispatchQueue.concurrentPerform(iterations: all.count) { parseChunk(all[$0]) }
        }

        // Join in file order; line numbers of errors are relative to each chunk's first line.
        var lineBase = startLine
        var k = 0
        while k < chunks.count {
            let chunk = chunks[k]
            if var error = chunk.error {
                error.line = error.line.map { $0 + lineBase }
                throw error
            }
            if k > 0 { chunks[0].absorb(chunk, last: k == chunks.count - 1) }
            lineBase += chunk.lines
            if k + 1 < chunks.count && chunk.end != chunks[k + 1].from {
                // The cut was not a record start: the rest, from where this chunk really ended, is the next chunk.
                let rest = job(from: chunk.end, to: buffer.count, reserve: 0)
                parseChunk(rest)
                chunks[(k + 1)...] = [rest]
            }
            k += 1
        }

        var table = Table(source: source)
        for b in chunks[0].builders { table.append(b.spec.name, b.finish()) }
        return table
    }

    /// Bytes per block of a chunk's two-pass parse: small enough that the block, its field index
    /// (8 bytes per needed field) and the hot part of the dictionaries stay in the core's cache.
    static let blockBytes = 256 << 10

    /// A chunk smaller than this is not worth a thread of its own.
    static let minimumChunkBytes = 1 << 20
}

/// A likely record start at or after `from`: the byte after the first line feed outside quotes.
///
/// Whether `from` itself is inside a quoted field is read off the first quote near it whose
/// neighbours decide it: a quote followed by an ordinary byte opens a field or is the second of a
/// doubled pair (either way, counting quotes, the bytes before it are outside), a quote after an
/// ordinary byte and before a delimiter or line break closes a field (the bytes before it are
/// inside). With no such quote nearby, `from` is taken to be outside. The caller checks the guess.
func likelyRecordStart(_ base: UnsafePointer<UInt8>, count n: Int, from: Int, delimiter d: UInt8) -> Int? {
    let quote: UInt8 = 0x22, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
    @inline(__always) func boundary(_ b: UInt8) -> Bool { b == d || b == lf || b == cr }
    let window = min(n, from + (1 << 16))
    var insideAtStart = false
    var quotes = 0
    var i = from
    while i < window {
        if base[i] == quote {
            let before = i > 0 ? base[i - 1] : lf
            let after = i + 1 < n ? base[i + 1] : lf
            if after != quote && !boundary(after) {
                insideAtStart = quotes % 2 == 1
                break
            }
            if before != quote && !boundary(before) && boundary(after) {
                insideAtStart = quotes % 2 == 0
                break
            }
            quotes += 1
        }
        i += 1
    }
    var inside = insideAtStart
    i = from
    while i < n {
        let b = base[i]
        if b == quote {
            inside.toggle()
        } else if b == lf && !inside {
            return i + 1
        }
        i += 1
    }
    return nil
}

/// One chunk of the data: its own column builders (own dictionaries), parsed block by block.
final class ChunkJob: @unchecked Sendable {
    var builders: [ColumnBuilder]
    let fieldCount: Int
    let slotOfField: [Int]
    let from: Int
    let to: Int
    /// Offset after the last record parsed (the chunk's end if the cut before the next chunk was a record start).
    private(set) var end = 0
    /// Line breaks in the chunk's records.
    private(set) var lines = 0
    /// The first error, its line relative to the chunk's first line (0).
    private(set) var error: DataError?

    /// Rows a block is expected to hold (the field index's first capacity).
    let blockRows: Int

    init(builders: [ColumnBuilder], fieldCount: Int, slotOfField: [Int], from: Int, to: Int, reserve: Int, blockRows: Int) {
        self.builders = builders
        self.blockRows = blockRows
        self.fieldCount = fieldCount
        self.slotOfField = slotOfField
        self.from = from
        self.to = to
        if reserve > 0 { for i in self.builders.indices { self.builders[i].reserve(reserve) } }
    }

    func run(_ buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8, blockBytes: Int, level: Int) {
        let index = FieldIndex(columns: builders.count, fieldCount: fieldCount, slotOfField: slotOfField, expectedRows: blockRows)
        var position = from
        var line = 0
        while position < to {
            let scan = index.scan(buffer, from: position, limit: min(to, position + blockBytes), line: line, delimiter: delimiter, level: level)
            // The first error in file order: the earliest row, then the leftmost field; a
            // structural error (ragged row, bad quoting) comes after the rows before it.
            var first: (column: Int, failure: ConversionFailure)?
            for c in builders.indices {
                guard let failure = builders[c].appendBlock(buffer, index: index, column: c) else { continue }
                if let f = first, (f.failure.row, builders[f.column].field) <= (failure.row, builders[c].field) { continue }
                first = (c, failure)
            }
            if let (c, failure) = first {
                error = builders[c].error(failure, line: line + countLineFeeds(buffer, from: position, to: failure.offset), source: source)
                return
            }
            if let structural = scan.error {
                error = DataError(file: source, line: structural.line, column: structural.column, message: structural.message)
                return
            }
            position = scan.end
            line = scan.endLine
            if scan.finished { break }
        }
        end = position
        lines = line
        for c in builders.indices where builders[c].spec.kind == .string { builders[c].interner.makeStrings() }
    }

    /// Appends the rows of the chunk that follows this one in the file (`last`: no chunk follows it).
    func absorb(_ next: ChunkJob, last: Bool) {
        let columns = builders.count
        builders.withUnsafeMutableBufferPointer { bp in
            let target = UncheckedBuilders(builders: bp)
            let work: @Sendable (Int) -> Void = { c in target.builders[c].append(next.builders[c], last: last) }
            if next.builders.first.map({ $0.count < 65_536 }) ?? true {
                for c in 0..<columns { work(c) }
            } else {
                DispatchQueue.concurrentPerform(iterations: columns, execute: work)
            }
        }
    }
}

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
    func scan(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, line startLine: Int, delimiter d: UInt8,
              level: Int = FieldIndex.bestLevel) -> Scan {
        rows = 0
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
                    var state = csv_scan(base: base, count: n, origin: from, limit: limit, slot_of_field: slotOf.baseAddress,
                                         field_count: fieldCount, spans: spans, capacity_rows: capacityRows, delimiter: d,
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

func emptyTable(_ builders: [ColumnBuilder], source: String) -> Table {
    var table = Table(source: source)
    for b in builders { table.append(b.spec.name, b.finish()) }
    return table
}

/// The file, shared read-only by the chunk tasks.
struct SharedBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
}

/// The builders of a chunk, each written by one task of the join.
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

/// Asks the kernel to back the whole 2 MiB pages inside a large, not yet touched allocation with
/// huge pages (Linux transparent huge pages; elsewhere, or when the kernel declines, nothing changes).
func adviseHugePages(_ start: UnsafeRawPointer?, bytes: Int) {
    #if os(Linux)
    guard let start, bytes >= 4 << 20 else { return }
    let huge = UInt(2 << 20)
    let first = (UInt(bitPattern: start) + huge - 1) & ~(huge - 1)
    let last = (UInt(bitPattern: start) + UInt(bytes)) & ~(huge - 1)
    if last > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(last - first), MADV_HUGEPAGE) }
    #endif
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

    /// Scans one field (the header's: data rows go through `FieldIndex.scan`). Unquoted fields are
    /// returned as a byte range of the buffer; quoted fields are unescaped into `scratch` and
    /// `quoted` is true.
    mutating func nextField(scratch: inout [UInt8]) throws -> (Int, Int, Bool) {
        let n = buffer.count
        var p = position
        if p < n && buffer[p] == 0x22 {
            let openLine = line
            scratch.removeAll(keepingCapacity: true)
            p += 1
            while true {
                guard p < n else {
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

    /// Reserves room for `n` values. Large columns ask for huge pages: a column is written once
    /// front to back, and on a 4 KiB page every 512 Int64 values cost a page fault.
    mutating func reserve(_ n: Int) {
        switch spec.kind {
        case .int:
            ints.reserveCapacity(n)
            ints.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: ints.capacity * 8) }
        case .double:
            doubles.reserveCapacity(n)
            doubles.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: doubles.capacity * 8) }
        case .string:
            codes.reserveCapacity(n)
            codes.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: codes.capacity * 4) }
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
        error(ConversionFailure(row: 0, offset: 0, text: String(decoding: bytes, as: UTF8.self), what: what), line: line, source: source)
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
        guard rows > 0 else { return nil }
        var scratch: [UInt8] = []
        /// `body` of the field's bytes (unescaped into `scratch` when it has doubled quotes).
        @inline(__always) func withField<T>(_ r: Int, _ scratch: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
            let start = origin + Int(spans[r * stride]), rawEnd = spans[r * stride + 1]
            if !hasEscapes || rawEnd & FieldIndex.escapedBit == 0 {
                return body(UnsafeBufferPointer(rebasing: buffer[start..<(origin + Int(rawEnd))]))
            }
            scratch.removeAll(keepingCapacity: true)
            var k = start
            let stop = origin + Int(rawEnd ^ FieldIndex.escapedBit)
            while k < stop {
                scratch.append(buffer[k])
                k += buffer[k] == 0x22 ? 2 : 1
            }
            return scratch.withUnsafeBufferPointer(body)
        }
        func failure(_ r: Int, _ what: String) -> ConversionFailure {
            var s: [UInt8] = []
            let text = withField(r, &s) { String(decoding: $0, as: UTF8.self) }
            return ConversionFailure(row: r, offset: origin + Int(spans[r * stride]), text: text, what: what)
        }
        /// Converts the block's fields of a number column into `values`: plain numbers in C
        /// (`csv_parse_numbers`), each field the C loop stops at here by `fallback`, and the C loop
        /// goes on after it. Returns the row of a bad field (`fallback` gave nil; nothing is added).
        func convert<T: Numeric>(_ values: inout [T], integers: Bool, nullable: Bool = false,
                                 _ fallback: (UnsafeBufferPointer<UInt8>) -> T?) -> Int? {
            let base = values.count
            values.append(contentsOf: repeatElement(0, count: rows))
            var numbers = csv_numbers(origin: buffer.baseAddress.map { UnsafePointer($0 + origin) }, spans: UnsafePointer(spans),
                                      values: nil, row: 0, rows: rows, integers: integers ? 1 : 0, nullable: nullable ? 1 : 0)
            let failed: Int? = values.withUnsafeMutableBufferPointer { out in
                numbers.values = UnsafeMutableRawPointer(out.baseAddress! + base)
                while csv_parse_numbers(&numbers) != 0 {
                    let r = numbers.row
                    guard let v = withField(r, &scratch, fallback) else { return r }
                    out[base + r] = v
                    numbers.row = r + 1
                }
                return nil
            }
            if failed != nil { values.removeLast(rows) }
            return failed
        }
        switch spec.kind {
        case .int:
            if let r = convert(&ints, integers: true, NumberParsing.parseInt) { return failure(r, "an integer") }
        case .double:
            let nullable = spec.nullable
            if let r = convert(&doubles, integers: false, nullable: nullable, { b in b.isEmpty && nullable ? Double.nan : NumberParsing.parseDouble(b) }) {
                return failure(r, "a finite number")
            }
        case .string:
            let base = codes.count
            codes.append(contentsOf: repeatElement(0, count: rows))
            guard let file = buffer.baseAddress else { return nil }
            // The C loop codes rows until a value new to the dictionary or a field with doubled
            // quotes; those are added here, and the loop goes on after them.
            var coder = csv_coder()
            coder.origin = UnsafePointer(file + origin)
            coder.spans = UnsafePointer(spans)
            coder.rows = rows
            coder.previous = base > 0 ? codes[base - 1] : -1
            var previousInStore = true
            var failed: Int?
            while coder.row < rows {
                let status = codes.withUnsafeMutableBufferPointer { out in
                    coder.codes = out.baseAddress! + base
                    return interner.run(&coder, previousInStore: previousInStore)
                }
                if status == Int32(CSV_CODE_DONE) { break }
                let r = coder.row
                let code: Int32?
                if status == Int32(CSV_CODE_NEW) {
                    let start = Int(spans[r * stride]), count = Int(spans[r * stride + 1]) - start
                    let value = UnsafeBufferPointer(start: file + origin + start, count: count)
                    code = interner.insert(value, hash: coder.hash, slot: coder.slot)
                    coder.previous_bytes = value.baseAddress
                    coder.previous_count = count
                    previousInStore = false
                } else {
                    let previous = coder.previous >= 0 ? coder.previous : nil
                    code = withField(r, &scratch) { interner.code(for: $0, previous: previous) }
                    previousInStore = true
                }
                guard let code else {
                    failed = r
                    break
                }
                codes[base + r] = code
                coder.previous = code
                coder.row = r + 1
            }
            if let r = failed {
                codes.removeLast(rows)
                return failure(r, "valid UTF-8 text")
            }
        }
        return nil
    }

    var count: Int {
        switch spec.kind {
        case .int: ints.count
        case .double: doubles.count
        case .string: codes.count
        }
    }

    /// Appends the rows of a builder of the same column that read a later part of the file: its
    /// string codes are translated into this builder's dictionary (new levels keep their order).
    mutating func append(_ other: ColumnBuilder, last: Bool) {
        switch spec.kind {
        case .int: ints.append(contentsOf: other.ints)
        case .double: doubles.append(contentsOf: other.doubles)
        case .string:
            let translate = interner.absorb(other.interner, indexing: !last)
            let base = codes.count
            codes.append(contentsOf: repeatElement(0, count: other.codes.count))
            codes.withUnsafeMutableBufferPointer { out in
                other.codes.withUnsafeBufferPointer { source in
                    translate.withUnsafeBufferPointer { t in
                        for i in source.indices { out[base + i] = t[Int(source[i])] }
                    }
                }
            }
        }
    }

    func finish() -> ColumnData {
        switch spec.kind {
        case .int: return .int(ints)
        case .double: return .double(doubles)
        case .string:
            var interner = interner
            return .string(StringColumn(codes: codes, levels: interner.makeLevels()))
        }
    }
}

/// Dictionary-encodes byte strings without creating a `String` per field: an open-addressing
/// hash table over the distinct values' bytes (layout, hash and lookup in `CCSVKernel`, shared with
/// the C loop that codes a block's rows). Levels become `String`s once, in `makeStrings()`.
struct ByteInterner {
    /// Distinct values so far (codes 0..<count, in order of first appearance).
    private(set) var count = 0
    private var store: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Two words per slot (see `csv_dict_find`).
    private var slots = [UInt64](repeating: 0, count: 2 * 64)
    /// False once levels were added without a slot (the last chunk's, joined): no more lookups then.
    private var complete = true

    /// The levels made into strings so far (the first `strings.count` codes): see `makeStrings()`.
    private(set) var strings: [String] = []

    /// Makes the levels not yet made into strings (their bytes were validated as UTF-8 when added).
    /// A chunk makes its own at its end, on its own core; joining chunks reuses them.
    mutating func makeStrings() {
        guard strings.count < count else { return }
        strings.reserveCapacity(count)
        store.withUnsafeBufferPointer { bytes in
            for code in strings.count..<count {
                strings.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[offsets[code]..<offsets[code + 1]]), as: UTF8.self))
            }
        }
    }

    /// The levels as strings, in code order.
    mutating func makeLevels() -> [String] {
        makeStrings()
        return strings
    }

    /// The code of a value, adding it as a new level when unseen; nil if the bytes are not valid
    /// UTF-8 (checked once per distinct value). `previous` is tried first: consecutive rows often
    /// repeat a value (the lines of one invoice).
    mutating func code(for bytes: UnsafeBufferPointer<UInt8>, previous: Int32?) -> Int32? {
        if let previous, equals(Int(previous), bytes) { return previous }
        let h = csv_hash(bytes.baseAddress, bytes.count)
        var slot = 0
        let found = find(bytes, hash: h, slot: &slot)
        return found >= 0 ? found : insert(bytes, hash: h, slot: slot)
    }

    /// The code of `bytes` (hash `h`), or -1 with `slot` the empty slot where they belong.
    @inline(__always)
    private func find(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64, slot: inout Int) -> Int32 {
        withTable { table, stored, ranges in
            csv_dict_find(table.baseAddress, table.count / 2 - 1, stored.baseAddress, ranges.baseAddress, bytes.baseAddress, bytes.count, h, &slot)
        }
    }

    /// `body` of the table's memory for the C lookups: its slots, the store and the levels' ranges in it.
    @inline(__always)
    private func withTable<R>(_ body: (UnsafeBufferPointer<UInt64>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<Int>) -> R) -> R {
        precondition(complete, "lookup in a dictionary whose table lacks levels")
        return slots.withUnsafeBufferPointer { table in
            store.withUnsafeBufferPointer { stored in
                offsets.withUnsafeBufferPointer { ranges in body(table, stored, ranges) }
            }
        }
    }

    /// Adds a value not in the dictionary at the empty `slot` that `find` gave; with no slot, the
    /// level is added but can never be found (see `absorb`). Returns its code, or nil (and adds
    /// nothing) if the bytes are not valid UTF-8.
    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64, slot: Int?, validated: Bool = false) -> Int32? {
        guard validated || ByteInterner.isValidUTF8(bytes) else { return nil }
        let code = Int32(count)
        let offset = store.count
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        hashes.append(h)
        count += 1
        guard let slot else { return code }
        slots[2 * slot] = csv_slot_key(h, bytes.count) | UInt64(code + 1)
        slots[2 * slot + 1] = csv_slot_value(bytes.baseAddress, bytes.count, offset)
        if count * 2 > slots.count / 2 { grow() }
        return code
    }

    /// UTF-8 validity, with a fast path for ASCII (eight bytes at a time).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        let raw = UnsafeRawPointer(base)
        var high: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            high |= UInt64(base[i])
            i += 1
        }
        if high & 0x8080_8080_8080_8080 == 0 { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// Runs the C loop that codes a block's rows (see `csv_code_rows`) against this dictionary's
    /// current memory. When `previousInStore`, the coder's previous value is read from the store.
    func run(_ coder: inout csv_coder, previousInStore: Bool) -> Int32 {
        withTable { table, stored, ranges in
            coder.slots = table.baseAddress
            coder.mask = table.count / 2 - 1
            coder.store = stored.baseAddress
            coder.offsets = ranges.baseAddress
            if previousInStore && coder.previous >= 0 {
                let start = ranges[Int(coder.previous)]
                coder.previous_bytes = stored.baseAddress.map { UnsafePointer($0 + start) }
                coder.previous_count = ranges[Int(coder.previous) + 1] - start
            }
            return csv_code_rows(&coder)
        }
    }

    /// Adds the levels of `other` (in its order) that this dictionary lacks; returns, for each code
    /// of `other`, the code of the same bytes here. Unless `indexing`, the new levels get no slot in
    /// the table (the last chunk joined: nothing is looked up after it), which spares growing it.
    mutating func absorb(_ other: ByteInterner, indexing: Bool) -> [Int32] {
        // New levels take their strings from `other` when both have made theirs.
        let reuse = strings.count == count && other.strings.count == other.count
        // Levels of `other` are distinct, so the lookups of this loop never need the slots it skips.
        defer { if !indexing { complete = false } }
        return other.store.withUnsafeBufferPointer { bytes in
            (0..<other.count).map { c in
                let value = UnsafeBufferPointer(rebasing: bytes[other.offsets[c]..<other.offsets[c + 1]])
                let h = other.hashes[c]
                var slot = 0
                let found = find(value, hash: h, slot: &slot)
                if found >= 0 { return found }
                if reuse { strings.append(other.strings[c]) }
                return insert(value, hash: h, slot: indexing ? slot : nil, validated: true)!
            }
        }
    }

    @inline(__always)
    private func equals(_ code: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let a = offsets[code], b = offsets[code + 1]
        if b - a != bytes.count { return false }
        if bytes.count == 0 { return true }
        return store.withUnsafeBufferPointer { s in csv_equal(s.baseAddress! + a, bytes.baseAddress!, bytes.count) != 0 }
    }

    private mutating func grow() {
        var newSlots = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = newSlots.count / 2 - 1
        store.withUnsafeBufferPointer { bytes in
            for code in 0..<count {
                var i = Int(truncatingIfNeeded: hashes[code]) & mask
                while newSlots[2 * i] != 0 { i = (i + 1) & mask }
                let start = offsets[code], n = offsets[code + 1] - start
                newSlots[2 * i] = csv_slot_key(hashes[code], n) | UInt64(code + 1)
                newSlots[2 * i + 1] = csv_slot_value(bytes.baseAddress.map { $0 + start }, n, start)
            }
        }
        slots = newSlots
    }
}
