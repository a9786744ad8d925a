import Base
import Foundation
import Tabular
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

    /// Makes the folder for the runs, the first time one is spilled.
    private let makeDirectory: () throws -> String
    private var directory: String? = nil
    private let maxRows: Int
    private var buffer: [Record] = []
    private var runs: [String] = []
    private(set) var count = 0

    init(maxRowsInMemory: Int, makeDirectory: @escaping () throws -> String) {
        self.makeDirectory = makeDirectory
        self.maxRows = max(1, maxRowsInMemory)
    }

    private func folder() throws -> String {
        if let directory { return directory }
        let made = try makeDirectory()
        directory = made
        return made
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
        let path = try folder() + "/run-\(runs.count).bin"
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

    /// Runs merged at once, at most: one open file each, at most 64 and at most half of what the
    /// process may still open (`ulimit -n`), so any number of runs merges in passes (runs of runs)
    /// without running out of file descriptors.
    static var maxFanIn: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < 1 << 20 else { return 64 }
        return max(2, min(64, (Int(limit.rlim_cur) - 24) / 2))
    }

    /// Calls `body` with every record in sorted order.
    func forEachSorted(_ body: (Record) throws -> Void) throws {
        if runs.isEmpty {
            buffer.sort(by: Self.before)
            for r in buffer { try body(r) }
            return
        }
        if !buffer.isEmpty { try spill() }
        // Merge passes: groups of runs become one run each until one final merge can take them all.
        var pass = 0
        let fanIn = Self.maxFanIn
        while runs.count > fanIn {
            var merged: [String] = []
            for start in stride(from: 0, to: runs.count, by: fanIn) {
                let group = Array(runs[start..<min(start + fanIn, runs.count)])
                let path = try folder() + "/merge-\(pass)-\(merged.count).bin"
                let writer = try BufferedWriter(path: path)
                try Self.merge(group) { try writer.write(Self.encode($0)) }
                try writer.close()
                for g in group { unlink(g) }
                merged.append(path)
            }
            runs = merged
            pass += 1
        }
        try Self.merge(runs, body)
    }

    /// K-way merge of sorted run files.
    static func merge(_ paths: [String], _ body: (Record) throws -> Void) throws {
        let readers = try paths.map { try RunReader(path: $0) }
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
    private let fd: Int32
    private let path: String
    private var data: [UInt8] = []
    private var pos = 0
    private var eof = false

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("\(path): cannot read spill file: \(String(cString: strerror(errno)))") }
        self.path = path
    }

    deinit { close(fd) }

    private func ensure(_ n: Int) throws -> Bool {
        while data.count - pos < n && !eof {
            data.removeFirst(pos)
            pos = 0
            let got = try ChunkedCSVReader.read(fd, count: 1 << 16, onto: &data, source: path)
            if got == 0 { eof = true }
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
        guard try ensure(Self.headerBytes) else { return nil }
        let key = Double(bitPattern: u64()), seq = Int64(bitPattern: u64()), profit = Double(bitPattern: u64())
        let revenue = Double(bitPattern: u64())
        let arm = u32(), idLength = u32(), length = Int(u32())
        guard try ensure(length) else { throw PipelineError("\(path): truncated spill file") }
        let line = Array(data[pos..<(pos + length)])
        pos += length
        return RankedSpill.Record(key: key, seq: seq, profit: profit, revenue: revenue, arm: arm, idLength: idLength, line: line)
    }
}

/// Buffered output to a file or standard output through `write(2)`. A reader that closed its end
/// of the pipe (`score … --out - | head`) is `OutputClosed`, not a crash or a signal.
public final class BufferedWriter {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private let isStdout: Bool

    /// `path` "-" is standard output; any other path is created new (it must not exist: callers
    /// write to a fresh partial file and rename it).
    public init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = STDOUT_FILENO
            isStdout = true
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw PipelineError("\(path): cannot create file: \(String(cString: strerror(errno)))") }
            isStdout = false
        }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if !isStdout { Foundation.close(fd) } }

    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, buffer.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw OutputClosed() }
                throw PipelineError("\(isStdout ? "<stdout>" : path): cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flush()
    }
}
