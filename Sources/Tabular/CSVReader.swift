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
            if k > 0 { chunks[0].absorb(chunk) }
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
    }

    /// Appends the rows of the chunk that follows this one in the file.
    func absorb(_ next: ChunkJob) {
        let columns = builders.count
        builders.withUnsafeMutableBufferPointer { bp in
            let target = UncheckedBuilders(builders: bp)
            let work: @Sendable (Int) -> Void = { c in target.builders[c].append(next.builders[c]) }
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

    /// The byte classification the vector kernel uses on this CPU (2 AVX2, 1 SSE2, 0 portable C).
    static let bestLevel = Int(csv_scan_best_level())

    /// Pass 1: scans whole records from `from` until the first record ending at or after `limit`.
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
            // The previous row's bytes in the file: a repeat (the lines of one invoice) is found by
            // comparing with them, without hashing.
            var previousBytes: UnsafePointer<UInt8>?
            var previousCount = 0
            let file = buffer.baseAddress
            let failed: Int? = codes.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    let rawEnd = spans[r * stride + 1]
                    if rawEnd & FieldIndex.escapedBit == 0, let file {
                        let start = origin + Int(spans[r * stride])
                        let count = origin + Int(rawEnd) - start
                        let bytes = file + start
                        if let last = previousBytes, let code = previous, count == previousCount, bytesEqual(last, bytes, count) {
                            out[base + r] = code
                            continue
                        }
                        guard let code = interner.code(for: UnsafeBufferPointer(start: bytes, count: count), previous: previousBytes == nil ? previous : nil) else { return r }
                        out[base + r] = code
                        previous = code
                        previousBytes = bytes
                        previousCount = count
                    } else {
                        guard let code = interner.code(for: bytes(r, &scratch), previous: previous) else { return r }
                        out[base + r] = code
                        previous = code
                        previousBytes = nil
                    }
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

    var count: Int {
        switch spec.kind {
        case .int: ints.count
        case .double: doubles.count
        case .string: codes.count
        }
    }

    /// Appends the rows of a builder of the same column that read a later part of the file: its
    /// string codes are translated into this builder's dictionary (new levels keep their order).
    mutating func append(_ other: ColumnBuilder) {
        switch spec.kind {
        case .int: ints.append(contentsOf: other.ints)
        case .double: doubles.append(contentsOf: other.doubles)
        case .string:
            let translate = interner.absorb(other.interner)
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
    /// Open-addressing table, two words per slot. The first packs the top 24 bits of the hash, the
    /// length (255 for 255 and more) and code + 1 (0 = empty). The second holds a value of up to
    /// 8 bytes itself (zero-padded), so short values are found with one memory access; for longer
    /// ones it is the value's offset in `store`, compared byte for byte.
    private var slots = [UInt64](repeating: 0, count: 2 * 64)

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
        // Final mix, so that the low bits (the slot) depend on every byte: without it, short values
        // sharing their first bytes (invoice numbers, stock codes) crowd into runs of slots.
        h ^= h >> 32
        h &*= 0xD6E8FEB86659FD93
        h ^= h >> 32
        return h
    }

    /// A value of at most 8 bytes as one word: its bytes in order (little-endian), zeros after.
    @inline(__always)
    static func packed(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        guard let base = bytes.baseAddress, n > 0 else { return 0 }
        let raw = UnsafeRawPointer(base)
        if n == 8 { return raw.loadUnaligned(as: UInt64.self) }
        if n >= 4 {
            // Two overlapping 4-byte loads; the shared bytes are the same in both.
            return UInt64(raw.loadUnaligned(as: UInt32.self)) | UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << (8 * (n - 4))
        }
        var w: UInt64 = 0
        for i in 0..<n { w |= UInt64(base[i]) << (8 * i) }
        return w
    }

    @inline(__always)
    static func key(hash h: UInt64, count n: Int) -> UInt64 {
        (h & 0xFFFF_FF00_0000_0000) | UInt64(min(n, 255)) << 32
    }

    /// The code of a value, adding it as a new level when unseen; nil if the bytes are not valid
    /// UTF-8 (checked once per distinct value). `previous` is tried first: consecutive rows often
    /// repeat a value (the lines of one invoice).
    @inline(__always)
    mutating func code(for bytes: UnsafeBufferPointer<UInt8>, previous: Int32?) -> Int32? {
        if let previous, equals(Int(previous), bytes) { return previous }
        let n = bytes.count
        let h = ByteInterner.hash(bytes)
        let key = ByteInterner.key(hash: h, count: n)
        let short = n <= 8
        let packed = short ? ByteInterner.packed(bytes) : 0
        let mask = slots.count / 2 - 1
        var i = Int(truncatingIfNeeded: h) & mask
        let found: Int32 = slots.withUnsafeBufferPointer { table in
            store.withUnsafeBufferPointer { stored in
                while true {
                    let entry = table[2 * i]
                    if entry == 0 { return -1 }
                    if entry & 0xFFFF_FFFF_0000_0000 == key {
                        let second = table[2 * i + 1]
                        if short ? second == packed : bytesEqual(stored.baseAddress! + Int(second), bytes.baseAddress!, n) {
                            return Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                        }
                    }
                    i = (i + 1) & mask
                }
            }
        }
        if found >= 0 { return found }
        guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
        let code = Int32(levels.count)
        let offset = store.count
        levels.append(s)
        hashes.append(h)
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        slots[2 * i] = key | UInt64(code + 1)
        slots[2 * i + 1] = short ? packed : UInt64(offset)
        if levels.count * 2 > slots.count / 2 { grow() }
        return code
    }

    /// Adds the levels of `other` (in its order) that this dictionary lacks; returns, for each code
    /// of `other`, the code of the same bytes here.
    mutating func absorb(_ other: ByteInterner) -> [Int32] {
        other.store.withUnsafeBufferPointer { bytes in
            (0..<other.levels.count).map { c in
                let range = UnsafeBufferPointer(rebasing: bytes[other.offsets[c]..<other.offsets[c + 1]])
                return code(for: range, previous: nil)!
            }
        }
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
        let mask = newSlots.count / 2 - 1
        store.withUnsafeBufferPointer { bytes in
            for code in 0..<levels.count {
                var i = Int(truncatingIfNeeded: hashes[code]) & mask
                while newSlots[2 * i] != 0 { i = (i + 1) & mask }
                let start = offsets[code], n = offsets[code + 1] - start
                newSlots[2 * i] = ByteInterner.key(hash: hashes[code], count: n) | UInt64(code + 1)
                newSlots[2 * i + 1] = n <= 8 ? ByteInterner.packed(UnsafeBufferPointer(rebasing: bytes[start..<(start + n)])) : UInt64(start)
            }
        }
        slots = newSlots
    }
}
