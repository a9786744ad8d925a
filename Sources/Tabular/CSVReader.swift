import CCSVKernel
import Foundation

/// RFC 4180 CSV reader into typed, contiguous columns.
///
/// Handles quoted fields (embedded commas, doubled quotes, line breaks), LF and CRLF line ends
/// and a UTF-8 byte-order mark. Every problem is reported as a `DataError` naming the file,
/// the 1-based physical line and the 1-based column.
public enum CSVReader {
    /// The usual quote byte; internally a quote is an `Int`, -1 when fields are never quoted.
    static let doubleQuote = 0x22

    /// Reads `path`, keeping only the schema's columns (others are skipped without conversion).
    /// `quote` encloses fields that hold the delimiter or line breaks (doubled inside them); nil:
    /// fields are never quoted, so a quote character is ordinary text.
    public static func read(path: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\"")) throws -> Table {
        try withMappedFile(path) { try parse($0, source: path, schema: schema, delimiter: delimiter, quote: quote.map(Int.init) ?? -1) }
    }

    public static func read(
        bytes: [UInt8], source: String, schema: CSVSchema, delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\"")
    ) throws -> Table {
        try bytes.withUnsafeBufferPointer { try parse($0, source: source, schema: schema, delimiter: delimiter, quote: quote.map(Int.init) ?? -1) }
    }

    /// Reads only the header of `path` (after an optional BOM).
    public static func header(path: String, delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\"")) throws -> [String] {
        try withMappedFile(path) { try header($0, source: path, delimiter: delimiter, quote: quote.map(Int.init) ?? -1) }
    }

    /// Reads the header of CSV text held in memory (after an optional BOM).
    public static func header(bytes: [UInt8], source: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [String] {
        try bytes.withUnsafeBufferPointer { try header($0, source: source, delimiter: delimiter) }
    }

    static func header(_ buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8, quote: Int = CSVReader.doubleQuote) throws -> [String] {
        var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter, quote: quote)
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

    static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>, source: String, schema: CSVSchema, delimiter: UInt8, quote: Int = CSVReader.doubleQuote,
        blockBytes: Int = CSVReader.blockBytes, threads requestedThreads: Int? = nil,
        minimumChunkBytes: Int = CSVReader.minimumChunkBytes, scanLevel: Int = FieldIndex.bestLevel
    ) throws -> Table {
        if quote >= 0 && quote == Int(delimiter) { throw DataError(file: source, message: "the quote character is the delimiter") }
        var cursor = Cursor(buffer: buffer, source: source, delimiter: delimiter, quote: quote)
        let header = try cursor.readHeader()

        // Map each file column to its builder slot (or skip).
        var slotOfField = [Int](repeating: -1, count: header.count)
        var builders: [ColumnBuilder] = []
        for spec in schema.columns {
            let matches = header.indices.filter { header[$0] == spec.name }
            guard let fieldIndex = matches.first else {
                throw DataError(
                    file: source, line: 1, columnName: spec.name,
                    message: "missing column '\(spec.name)'; the header has: \(header.joined(separator: ", "))")
            }
            if matches.count > 1 {
                throw DataError(
                    file: source, line: 1, column: matches[1] + 1, columnName: spec.name,
                    message: "column '\(spec.name)' appears more than once in the header")
            }
            slotOfField[fieldIndex] = builders.count
            builders.append(ColumnBuilder(spec: spec, field: fieldIndex))
        }
        let dataStart = cursor.position, startLine = cursor.line
        guard dataStart < buffer.count else { return emptyTable(builders, source: source) }
        let estimatedRows = estimateRowCount(buffer, from: dataStart)
        let threads = max(
            1,
            requestedThreads ?? ProcessInfo.processInfo.environment["CSV_THREADS"].flatMap { Int($0) }
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
                if let cut = likelyRecordStart(base, count: buffer.count, from: guess, delimiter: delimiter, quote: quote), cut > cuts.last!, cut < buffer.count
                {
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
            job(
                from: cuts[k], to: cuts[k + 1],
                reserve: k == 0 ? estimatedRows : Int(Double(estimatedRows) * Double(cuts[k + 1] - cuts[k]) / Double(dataBytes) * 1.1) + 16)
        }
        let parseChunk: @Sendable (ChunkJob) -> Void = { chunk in
            chunk.run(file.buffer, source: source, delimiter: delimiter, quote: quote, blockBytes: blockBytes, level: scanLevel)
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
