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
        let estimatedRows = estimateRowCount(buffer, from: cursor.position)
        for i in builders.indices { builders[i].reserve(estimatedRows) }

        let fieldCount = header.count
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

        var table = Table(source: source)
        for b in builders { table.append(b.spec.name, b.finish()) }
        return table
    }
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

    init(buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8) {
        self.buffer = buffer
        self.source = source
        self.delimiter = delimiter
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
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
    private var slots = [Int32](repeating: -1, count: 64)

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes {
            h = (h ^ UInt64(b)) &* 0x100000001b3
        }
        return h ^ (h >> 29)
    }

    /// Returns false if the bytes are not valid UTF-8 (checked once per distinct value).
    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let h = ByteInterner.hash(bytes)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let code = slots[i]
            if code < 0 { break }
            if hashes[Int(code)] == h && equals(Int(code), bytes) {
                codes.append(code)
                return true
            }
            i = (i + 1) & mask
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { return false }
        let code = Int32(levels.count)
        levels.append(s)
        hashes.append(h)
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        slots[i] = code
        codes.append(code)
        if levels.count * 2 > slots.count { grow() }
        return true
    }

    @inline(__always)
    private func equals(_ code: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let a = offsets[code], b = offsets[code + 1]
        if b - a != bytes.count { return false }
        return store.withUnsafeBufferPointer { s in
            var k = 0
            while k < bytes.count {
                if s[a + k] != bytes[k] { return false }
                k += 1
            }
            return true
        }
    }

    private mutating func grow() {
        var newSlots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = newSlots.count - 1
        for code in 0..<levels.count {
            var i = Int(truncatingIfNeeded: hashes[code]) & mask
            while newSlots[i] >= 0 { i = (i + 1) & mask }
            newSlots[i] = Int32(code)
        }
        slots = newSlots
    }
}
