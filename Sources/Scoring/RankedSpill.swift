import Foundation
import Uplift

/// Sorts scored rows by a key (descending, ties by input sequence) beyond memory: rows are
/// buffered up to a limit, each full buffer is sorted and written as a run file, and the runs are
/// merged into one sorted file that is then read back in order (an external merge sort).
final class RankedSpill {
    struct Record {
        var key: Double
        var seq: Int64
        var profit: Double
        var revenue: Double
        /// The most profitable arm (for per-arm contacts and costs).
        var arm: UInt32
        var idLength: UInt32
        var line: [UInt8]
    }

    private let directory: String
    private let maxRows: Int
    private var buffer: [Record] = []
    private var runs: [String] = []
    private(set) var count = 0

    init(directory: String, maxRowsInMemory: Int) {
        self.directory = directory
        self.maxRows = max(1, maxRowsInMemory)
    }

    static func before(_ a: Record, _ b: Record) -> Bool {
        a.key > b.key || (a.key == b.key && a.seq < b.seq)
    }

    func add(_ r: Record) throws {
        buffer.append(r)
        count += 1
        if buffer.count >= maxRows { try spill() }
    }

    private func spill() throws {
        buffer.sort(by: Self.before)
        let path = directory + "/run-\(runs.count).bin"
        let writer = try BufferedWriter(path: path)
        for r in buffer { try writer.write(Self.encode(r)) }
        try writer.close()
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
    }

    static func encode(_ r: Record) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(RunReader.headerBytes + r.line.count)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(r.key.bitPattern); put(r.seq); put(r.profit.bitPattern); put(r.revenue.bitPattern); put(r.arm); put(r.idLength); put(UInt32(r.line.count))
        out.append(contentsOf: r.line)
        return out
    }

    /// Calls `body` with every record in sorted order.
    func forEachSorted(_ body: (Record) throws -> Void) throws {
        if runs.isEmpty {
            buffer.sort(by: Self.before)
            for r in buffer { try body(r) }
            return
        }
        if !buffer.isEmpty { try spill() }
        let readers = try runs.map { try RunReader(path: $0) }
        var heads: [Record?] = try readers.map { try $0.next() }
        // Binary heap of run indices ordered by their head record.
        var heap = heads.indices.filter { heads[$0] != nil }
        func less(_ a: Int, _ b: Int) -> Bool { Self.before(heads[a]!, heads[b]!) }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        while let top = heap.first {
            try body(heads[top]!)
            heads[top] = try readers[top].next()
            if heads[top] == nil {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
        }
    }
}

/// Sequential reader of a run file.
final class RunReader {
    /// key, seq, profit, revenue (8 bytes each), arm, id length, line length (4 bytes each).
    static let headerBytes = 44
    private let handle: FileHandle
    private var data: [UInt8] = []
    private var pos = 0
    private var eof = false

    init(path: String) throws {
        guard let h = FileHandle(forReadingAtPath: path) else { throw ModelError("\(path): cannot read spill file") }
        handle = h
    }

    private func ensure(_ n: Int) -> Bool {
        while data.count - pos < n && !eof {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { eof = true; break }
            data.removeFirst(pos)
            pos = 0
            data.append(contentsOf: chunk)
        }
        return data.count - pos >= n
    }

    private func u64() -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(data[pos + k]) << (8 * UInt64(k)) }
        pos += 8
        return v
    }

    private func u32() -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(data[pos + k]) << (8 * UInt32(k)) }
        pos += 4
        return v
    }

    func next() throws -> RankedSpill.Record? {
        guard ensure(Self.headerBytes) else { return nil }
        let key = Double(bitPattern: u64()), seq = Int64(bitPattern: u64()), profit = Double(bitPattern: u64())
        let revenue = Double(bitPattern: u64())
        let arm = u32(), idLength = u32(), length = Int(u32())
        guard ensure(length) else { throw ModelError("truncated spill file") }
        let line = Array(data[pos..<(pos + length)])
        pos += length
        return RankedSpill.Record(key: key, seq: seq, profit: profit, revenue: revenue, arm: arm, idLength: idLength, line: line)
    }
}

/// Buffered output to a file or standard output.
public final class BufferedWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let isStdout: Bool

    public init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardOutput
            isStdout = true
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw ModelError("\(path): cannot create file")
            }
            handle = h
            isStdout = false
        }
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flush()
        if !isStdout { try handle.close() }
    }
}
