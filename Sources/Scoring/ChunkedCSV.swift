import Base
import Foundation
import Tabular

/// Reads a CSV file (or standard input) as a sequence of chunks of whole records, so a file of
/// any size is parsed with flat memory. Each chunk is parsed by the project's CSV reader with the
/// header prepended; errors are reported with the line numbers of the whole file.
///
/// Reading goes through `read(2)`, so a directory, a closed standard input or a device error is
/// an error naming the file, never a trap. Record ends are found by one incremental scan that
/// keeps its quote state across reads (linear in the input however long a record is).
public final class ChunkedCSVReader {
    public let source: String
    public let header: [String]
    private let headerBytes: [UInt8]
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var pending: [UInt8] = []
    /// Bytes of `pending` already scanned for record ends, the quote state there, and the end of
    /// the last complete record found so far.
    private var scanned = 0
    private var scanner = RecordScanner()
    private var lastEnd: Int? = nil
    private var eof = false
    /// Physical line (1-based) of the first line of the next chunk.
    private var nextLine = 2
    private let chunkBytes: Int

    /// A header longer than this is refused: no real contact list has one, and reading further
    /// would hold an unbounded line in memory.
    public static let maxHeaderBytes = 1 << 20

    /// `path` "-" reads standard input.
    public init(path: String, chunkBytes: Int = 4 << 20) throws {
        source = path == "-" ? "<stdin>" : path
        if path == "-" {
            guard fcntl(STDIN_FILENO, F_GETFD) != -1 else {
                throw DataError(file: source, message: "standard input is closed")
            }
            fd = STDIN_FILENO
            ownsDescriptor = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DataError(file: path, message: "cannot open file for reading: \(String(cString: strerror(errno)))") }
            ownsDescriptor = true
        }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            if ownsDescriptor { close(fd) }
            throw DataError(file: source, message: "is a directory, not a CSV file")
        }
        self.chunkBytes = max(1 << 10, chunkBytes)
        do {
            let headerEnd = try Self.readHeader(fd: fd, source: source, into: &pending, eof: &eof)
            var h = Array(pending[0..<headerEnd])
            if h.starts(with: [0xEF, 0xBB, 0xBF]) { h.removeFirst(3) }
            while let last = h.last, last == 0x0A || last == 0x0D { h.removeLast() }
            headerBytes = h + [0x0A]
            // A quoted line break in the header makes it more than one physical line.
            nextLine = 2 + h.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            pending.removeFirst(headerEnd)
            header = try CSVReader.header(bytes: headerBytes, source: source)
        } catch {
            if ownsDescriptor { close(fd) }
            throw error
        }
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    /// Reads up to `count` bytes onto `buffer`; returns 0 at the end of the input.
    static func read(_ fd: Int32, count: Int, onto buffer: inout [UInt8], source: String) throws -> Int {
        while true {
            var failure: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { space, initialized in
                let got = Foundation.read(fd, space.baseAddress!, count)
                if got < 0 { failure = errno }
                initialized = max(got, 0)
            }
            if failure == EINTR { continue }
            if failure != 0 { throw PipelineError("\(source): cannot read: \(String(cString: strerror(failure)))") }
            buffer.append(contentsOf: bytes)
            return bytes.count
        }
    }

    /// Reads until the end of the first record outside quotes (exclusive end returned) and refuses
    /// what this reader cannot split into records: a header over `maxHeaderBytes`, and carriage
    /// returns used alone as line ends (the reader takes LF and CRLF).
    private static func readHeader(fd: Int32, source: String, into buffer: inout [UInt8], eof: inout Bool) throws -> Int {
        var scanner = RecordScanner()
        var i = 0
        while true {
            while i < buffer.count {
                let b = buffer[i]
                // A CR as the last byte read so far: whether LF follows is in the next read.
                if b == 0x0D && i + 1 == buffer.count && !eof { break }
                if !scanner.insideQuotes && b == 0x0D && i + 1 < buffer.count && buffer[i + 1] != 0x0A {
                    throw DataError(
                        file: source, line: 1, message: "a carriage return alone ends the header line: CR-only line ends are not supported (use LF or CRLF)")
                }
                if scanner.feed(b) { return i + 1 }
                i += 1
                if i > maxHeaderBytes {
                    throw DataError(file: source, line: 1, message: "header line longer than \(maxHeaderBytes) bytes (is this a CSV file with line breaks?)")
                }
            }
            let ended = try eof || read(fd, count: 1 << 16, onto: &buffer, source: source) == 0
            if ended {
                eof = true
                guard !buffer.isEmpty else { throw DataError(file: source, line: 1, message: "empty file: no header line") }
                if buffer.last == 0x0D && !scanner.insideQuotes {
                    throw DataError(
                        file: source, line: 1, message: "a carriage return alone ends the header line: CR-only line ends are not supported (use LF or CRLF)")
                }
                return buffer.count
            }
        }
    }

    /// Scans the new bytes of `pending` for record ends (line feeds outside quotes).
    private func scan() {
        pending.withUnsafeBufferPointer { p in
            var s = scanner
            var last = lastEnd
            for i in scanned..<p.count where s.feed(p[i]) { last = i + 1 }
            scanner = s
            lastEnd = last
        }
        scanned = pending.count
    }

    private func fill(atLeast bytes: Int) throws {
        while !eof && pending.count < bytes {
            if try Self.read(fd, count: chunkBytes, onto: &pending, source: source) == 0 { eof = true }
        }
    }

    /// The next chunk of records as a table with the given schema, or nil at the end.
    /// `firstLine` is the physical line of the chunk's first record.
    public func next(schema: CSVSchema) throws -> (table: Table, firstLine: Int)? {
        while true {
            try fill(atLeast: chunkBytes)
            scan()
            // One record longer than a chunk: keep reading until it ends.
            while !eof && lastEnd == nil {
                try fill(atLeast: pending.count + chunkBytes)
                scan()
            }
            if pending.isEmpty { return nil }
            let cut = eof ? pending.count : lastEnd!
            let body = Array(pending[0..<cut])
            pending.removeFirst(cut)
            scanned -= cut
            lastEnd = nil
            let firstLine = nextLine
            nextLine += body.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            // Blank trailing lines only: nothing to parse.
            if body.allSatisfy({ $0 == 0x0A || $0 == 0x0D }) { continue }
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
}

/// Finds record ends with the CSV reader's quoting rules, so a chunk is cut where the reader would
/// end a record: a quote opens a quoted field only at the start of a field (`27" monitor` is data),
/// inside one `""` is a quote and a line feed is data.
struct RecordScanner {
    enum State: UInt8 { case fieldStart, unquoted, quoted, closingQuote }
    var state = State.fieldStart
    static let delimiter: UInt8 = 0x2C

    var insideQuotes: Bool { state == .quoted }

    /// Takes one byte; true when it ends a record.
    @inline(__always)
    mutating func feed(_ c: UInt8) -> Bool {
        switch state {
        case .fieldStart:
            if c == 0x22 {
                state = .quoted
            } else if c == 0x0A {
                return true
            } else if c != Self.delimiter {
                state = .unquoted
            }
        case .unquoted:
            if c == Self.delimiter {
                state = .fieldStart
            } else if c == 0x0A {
                state = .fieldStart
                return true
            }
        case .quoted:
            if c == 0x22 { state = .closingQuote }
        case .closingQuote:
            if c == 0x22 {
                state = .quoted
            } else if c == Self.delimiter {
                state = .fieldStart
            } else if c == 0x0A {
                state = .fieldStart
                return true
            } else {
                // CR of a CRLF, or a stray byte the reader will report: outside quotes either way.
                state = .unquoted
            }
        }
        return false
    }
}
