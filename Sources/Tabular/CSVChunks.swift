// Chunks of a file parsed side by side: where to cut, one job per chunk, and the helpers they share.

import CCSVKernel
import Foundation

/// A likely record start at or after `from`: the byte after the first line feed outside quotes.
///
/// Whether `from` itself is inside a quoted field is read off the first quote near it whose
/// neighbours decide it: a quote followed by an ordinary byte opens a field or is the second of a
/// doubled pair (either way, counting quotes, the bytes before it are outside), a quote after an
/// ordinary byte and before a delimiter or line break closes a field (the bytes before it are
/// inside). With no such quote nearby, `from` is taken to be outside. The caller checks the guess.
func likelyRecordStart(_ base: UnsafePointer<UInt8>, count n: Int, from: Int, delimiter d: UInt8, quote q: Int = CSVReader.doubleQuote) -> Int? {
    let lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
    guard q >= 0 else {
        // Without quoting every line feed ends a record.
        var i = from
        while i < n && base[i] != lf { i += 1 }
        return i < n ? i + 1 : nil
    }
    let quote = UInt8(q)
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

    func run(_ buffer: UnsafeBufferPointer<UInt8>, source: String, delimiter: UInt8, quote: Int = CSVReader.doubleQuote, blockBytes: Int, level: Int) {
        let index = FieldIndex(columns: builders.count, fieldCount: fieldCount, slotOfField: slotOfField, expectedRows: blockRows)
        var position = from
        var line = 0
        while position < to {
            let scan = index.scan(buffer, from: position, limit: min(to, position + blockBytes), line: line, delimiter: delimiter, quote: quote, level: level)
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
            // Columns join side by side from a few thousand rows: appending touches fresh pages, and
            // their faults cost more than a thread's wake-up.
            if next.builders.first.map({ $0.count < 8_192 }) ?? true {
                for c in 0..<columns { work(c) }
            } else {
                DispatchQueue.concurrentPerform(iterations: columns, execute: work)
            }
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
