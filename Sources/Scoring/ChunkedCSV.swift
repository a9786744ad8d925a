import Foundation
import Tabular

/// Reads a CSV file (or standard input) as a sequence of chunks of whole records, so a file of
/// any size is parsed with flat memory. Each chunk is parsed by the project's CSV reader with the
/// header prepended; errors are reported with the line numbers of the whole file.
public final class ChunkedCSVReader {
    public let source: String
    public let header: [String]
    private let headerBytes: [UInt8]
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var eof = false
    /// Physical line (1-based) of the first line of the next chunk.
    private var nextLine = 2
    private let chunkBytes: Int

    /// `path` "-" reads standard input.
    public init(path: String, chunkBytes: Int = 4 << 20) throws {
        source = path == "-" ? "<stdin>" : path
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw DataError(file: path, message: "cannot open file for reading")
            }
            handle = h
        }
        self.chunkBytes = max(1 << 10, chunkBytes)
        // The header: everything up to the first line feed outside quotes.
        var buffer: [UInt8] = []
        var end: Int? = nil
        while end == nil {
            let data = handle.readData(ofLength: 1 << 16)
            if data.isEmpty { eof = true; break }
            buffer.append(contentsOf: data)
            end = Self.firstRecordEnd(buffer)
        }
        guard let headerEnd = end ?? (buffer.isEmpty ? nil : buffer.count) else {
            throw DataError(file: source, line: 1, message: "empty file: no header line")
        }
        var h = Array(buffer[0..<headerEnd])
        if h.starts(with: [0xEF, 0xBB, 0xBF]) { h.removeFirst(3) }
        while let last = h.last, last == 0x0A || last == 0x0D { h.removeLast() }
        headerBytes = h + [0x0A]
        pending = headerEnd < buffer.count ? Array(buffer[headerEnd...]) : []
        header = try CSVReader.header(bytes: headerBytes, source: source)
    }

    private static func firstRecordEnd(_ b: [UInt8]) -> Int? {
        var inQuotes = false
        for i in 0..<b.count {
            if b[i] == 0x22 { inQuotes.toggle() } else if b[i] == 0x0A && !inQuotes { return i + 1 }
        }
        return nil
    }

    /// End (exclusive) of the last complete record in `b`, or nil if none is complete.
    private static func lastRecordEnd(_ b: [UInt8]) -> Int? {
        var inQuotes = false
        var last: Int? = nil
        b.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                let c = p[i]
                if c == 0x22 { inQuotes.toggle() } else if c == 0x0A && !inQuotes { last = i + 1 }
            }
        }
        return last
    }

    /// The next chunk of records as a table with the given schema, or nil at the end.
    /// `firstLine` is the physical line of the chunk's first record.
    public func next(schema: CSVSchema) throws -> (table: Table, firstLine: Int)? {
        while !eof && pending.count < chunkBytes {
            let data = handle.readData(ofLength: chunkBytes)
            if data.isEmpty { eof = true } else { pending.append(contentsOf: data) }
        }
        if pending.isEmpty { return nil }
        var cut: Int
        if eof {
            cut = pending.count
        } else if let end = Self.lastRecordEnd(pending) {
            cut = end
        } else {
            // One record longer than a chunk: keep reading until it ends.
            while !eof, Self.lastRecordEnd(pending) == nil {
                let data = handle.readData(ofLength: chunkBytes)
                if data.isEmpty { eof = true } else { pending.append(contentsOf: data) }
            }
            cut = eof ? pending.count : Self.lastRecordEnd(pending)!
        }
        let body = Array(pending[0..<cut])
        pending.removeFirst(cut)
        let firstLine = nextLine
        nextLine += body.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        // Blank trailing lines only: nothing to parse.
        if body.allSatisfy({ $0 == 0x0A || $0 == 0x0D }) { return try next(schema: schema) }
        do {
            let table = try CSVReader.read(bytes: headerBytes + body, source: source, schema: schema)
            return (table, firstLine)
        } catch var e as DataError {
            // The chunk was parsed as header + records; shift its lines to the file's.
            if let l = e.line, l >= 2 { e.line = l - 2 + firstLine }
            throw e
        }
    }
}
