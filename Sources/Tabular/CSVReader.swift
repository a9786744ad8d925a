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

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, source: String, schema: CSVSchema, delimiter: UInt8) throws -> Table {
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
        let fieldCount = header.count
        let bodyStart = cursor.position
        let chunks = chunkBoundaries(buffer, from: bodyStart, firstLine: cursor.line,
                                     parts: buffer.count - bodyStart >= parallelThreshold ? (ProcessInfo.processInfo.environment["CSV_THREADS"].flatMap { Int($0) } ?? ProcessInfo.processInfo.activeProcessorCount) : 1)
        let template = builders
        let fieldSlots = slotOfField
        let shared = UncheckedBuffer(buffer: buffer)
        let results = ResultSlots<[ColumnBuilder]>(count: chunks.count)
        let parseChunk: @Sendable (Int) -> Void = { k in
            let chunk = chunks[k]
            results.set(k, Result {
                try parseRecords(UnsafeBufferPointer(rebasing: shared.buffer[chunk.start..<chunk.end]), firstLine: chunk.line,
                                 source: source, delimiter: delimiter, fieldCount: fieldCount, slotOfField: fieldSlots, builders: template)
            })
        }
        if chunks.count == 1 {
            parseChunk(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks.count, execute: parseChunk)
        }
        // The first error in file order wins, as in a sequential read.
        var merged = try results.get(0).get()
        for k in 1..<chunks.count {
            let part = try results.get(k).get()
            for i in merged.indices { merged[i].append(contentsOf: part[i]) }
        }

        var table = Table(source: source)
        for b in merged { table.append(b.spec.name, b.finish()) }
        return table
    }

    /// Files at least this large are parsed in parallel chunks.
    static let parallelThreshold = 4 << 20

    static func parseRecords(_ buffer: UnsafeBufferPointer<UInt8>, firstLine: Int, source: String, delimiter: UInt8,
                             fieldCount: Int, slotOfField: [Int], builders template: [ColumnBuilder]) throws -> [ColumnBuilder] {
        var builders = template
        var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter, skipBOM: false)
        cursor.line = firstLine
        let estimatedRows = estimateRowCount(buffer, from: 0)
        for i in builders.indices { builders[i].reserve(estimatedRows) }
        var scratch: [UInt8] = []
        while !cursor.atEnd {
            if cursor.atBlankTail() { break }
            let recordLine = cursor.line
            var field = 0
            while true {
                let (start, end, quoted) = try cursor.nextField(scratch: &scratch)
                if field < fieldCount {
                    let slot = slotOfField[field]
                    if slot >= 0 {
                        if quoted {
                            try scratch.withUnsafeBufferPointer { s in
                                try builders[slot].append(UnsafeBufferPointer(rebasing: s[0..<s.count]), line: recordLine, source: source)
                            }
                        } else {
                            try builders[slot].append(UnsafeBufferPointer(rebasing: buffer[start..<end]), line: recordLine, source: source)
                        }
                    }
                }
                field += 1
                let terminator = cursor.consumeTerminator()
                if terminator != .delimiter { break }
            }
            if field != fieldCount {
                throw DataError(file: source, line: recordLine, column: min(field, fieldCount + 1),
                                message: "ragged row: expected \(fieldCount) fields as in the header, found \(field)")
            }
        }
        return builders
    }
}

struct Chunk: Sendable {
    var start: Int
    var end: Int
    /// Physical line number of the chunk's first byte.
    var line: Int
}

/// Splits the body into `parts` chunks that each start at a record boundary: after a line feed
/// that is outside quotes (quote parity is tracked from the start of the body).
func chunkBoundaries(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, firstLine: Int, parts: Int) -> [Chunk] {
    let n = buffer.count
    guard parts > 1, n > start else { return [Chunk(start: start, end: n, line: firstLine)] }
    var chunks: [Chunk] = []
    var position = start, line = firstLine
    var inQuotes = false
    var chunkStart = start, chunkLine = firstLine
    for k in 1..<parts {
        let target = start + (n - start) * k / parts
        if target <= position { continue }
        // Advance to the target, counting quotes (for parity) and line feeds.
        let counts = countQuotesAndLineFeeds(buffer, from: position, to: target)
        if counts.quotes & 1 == 1 { inQuotes.toggle() }
        line += counts.lineFeeds
        position = target
        // Then to the next line feed outside quotes.
        while position < n {
            let b = buffer[position]
            position += 1
            if b == 0x22 { inQuotes.toggle() } else if b == 0x0A {
                line += 1
                if !inQuotes { break }
            }
        }
        if position >= n { break }
        chunks.append(Chunk(start: chunkStart, end: position, line: chunkLine))
        chunkStart = position
        chunkLine = line
    }
    chunks.append(Chunk(start: chunkStart, end: n, line: chunkLine))
    return chunks
}

/// Counts '"' and LF bytes in [from, to), eight bytes at a time.
func countQuotesAndLineFeeds(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (quotes: Int, lineFeeds: Int) {
    var quotes = 0, lineFeeds = 0
    var p = from
    if let base = buffer.baseAddress {
        let raw = UnsafeRawPointer(base)
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let quote: UInt64 = 0x2222_2222_2222_2222, lf: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        // Exact zero-byte mask: the high bit of each byte that is zero.
        @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low7) &+ low7) | x | low7) }
        while p + 8 <= to {
            let w = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)
            quotes += zeroBytes(w ^ quote).nonzeroBitCount
            lineFeeds += zeroBytes(w ^ lf).nonzeroBitCount
            p += 8
        }
    }
    while p < to {
        if buffer[p] == 0x22 { quotes += 1 } else if buffer[p] == 0x0A { lineFeeds += 1 }
        p += 1
    }
    return (quotes, lineFeeds)
}

/// Equality of two byte ranges of the same length, eight bytes at a time.
@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var i = 0
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// A read-only byte buffer shared by parsing threads (the file stays mapped while they run).
struct UncheckedBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
}

/// One result slot per parallel task; each task writes only its own slot.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); slots[i] = r; lock.unlock() }
    func get(_ i: Int) -> Result<T, Error> { lock.lock(); defer { lock.unlock() }; return slots[i]! }
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
    var interner = ByteInterner()

    init(spec: ColumnSpec, field: Int) {
        self.spec = spec
        self.field = field
    }

    mutating func reserve(_ n: Int) {
        switch spec.kind {
        case .int: ints.reserveCapacity(n)
        case .double: doubles.reserveCapacity(n)
        case .string: interner.codes.reserveCapacity(n)
        }
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String) throws {
        switch spec.kind {
        case .int:
            guard let v = NumberParsing.parseInt(bytes) else {
                throw error(bytes, line: line, source: source, what: "an integer")
            }
            ints.append(v)
        case .double:
            if bytes.isEmpty && spec.nullable {
                doubles.append(.nan)
                return
            }
            guard let v = NumberParsing.parseDouble(bytes) else {
                throw error(bytes, line: line, source: source, what: "a finite number")
            }
            doubles.append(v)
        case .string:
            guard interner.append(bytes) else {
                throw DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: "text is not valid UTF-8")
            }
        }
    }

    func error(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String, what: String) -> DataError {
        let text = String(decoding: bytes, as: UTF8.self)
        let message = text.isEmpty ? "empty value where \(what) is required" : "cannot parse '\(text)' as \(what)"
        return DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: message)
    }

    /// Appends the rows another builder of the same column collected (the next chunk of the file).
    mutating func append(contentsOf other: ColumnBuilder) {
        switch spec.kind {
        case .int: ints.append(contentsOf: other.ints)
        case .double: doubles.append(contentsOf: other.doubles)
        case .string: interner.append(contentsOf: other.interner)
        }
    }

    func finish() -> ColumnData {
        switch spec.kind {
        case .int: return .int(ints)
        case .double: return .double(doubles)
        case .string: return .string(StringColumn(codes: interner.codes, levels: interner.levels))
        }
    }
}

/// Dictionary-encodes byte strings without creating a `String` per field:
/// an open-addressing hash table over the distinct values' bytes.
struct ByteInterner {
    var codes: [Int32] = []
    var levels: [String] = []
    private var store: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open-addressing table: each entry packs the high 32 bits of the hash with code + 1
    /// (0 = empty), so a probe reads one word.
    private var slots = [UInt64](repeating: 0, count: 64)

    /// Word-at-a-time multiplicative hash (8 bytes per step; the tail is packed into one word).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        var h: UInt64 = 0x9E3779B97F4A7C15 ^ UInt64(truncatingIfNeeded: n)
        guard let base = bytes.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xFF51AFD7ED558CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(base[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0xC4CEB9FE1A85EC53
        }
        h ^= h >> 29
        return h
    }

    /// Returns false if the bytes are not valid UTF-8 (checked once per distinct value).
    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // Consecutive rows often repeat a value (lines of one invoice): check the last one first.
        if let last = codes.last, equals(Int(last), bytes) {
            codes.append(last)
            return true
        }
        let h = ByteInterner.hash(bytes)
        let tag = h & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[i]
            if entry == 0 { break }
            if entry & 0xFFFF_FFFF_0000_0000 == tag {
                let code = Int(entry & 0xFFFF_FFFF) - 1
                if equals(code, bytes) {
                    codes.append(Int32(code))
                    return true
                }
            }
            i = (i + 1) & mask
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { return false }
        let code = Int32(levels.count)
        levels.append(s)
        hashes.append(h)
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        slots[i] = tag | UInt64(code + 1)
        codes.append(code)
        if levels.count * 2 > slots.count { grow() }
        return true
    }

    /// Appends another interner's codes, re-coded into this one's levels (new levels keep their
    /// first-seen order, so the result equals reading both parts in sequence).
    mutating func append(contentsOf other: ByteInterner) {
        var remap = [Int32](repeating: 0, count: other.levels.count)
        other.store.withUnsafeBufferPointer { store in
            for code in 0..<other.levels.count {
                let bytes = UnsafeBufferPointer(rebasing: store[other.offsets[code]..<other.offsets[code + 1]])
                _ = append(bytes)
                remap[code] = codes.removeLast()
            }
        }
        codes.reserveCapacity(codes.count + other.codes.count)
        for c in other.codes { codes.append(remap[Int(c)]) }
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
