/// The training matrix re-coded once per `train()`: per feature, its sorted distinct values
/// (`levels`) and, per row, the rank of the row's value among them (`codes`). Split search then
/// works on small integers, and a threshold is always placed between two adjacent training values.
///
/// The storage is allocated by hand so tree builders on several threads can read it through
/// plain pointers for the whole training run; it is never written after `init`.
final class PreparedData: @unchecked Sendable {
    let rowCount: Int
    let featureCount: Int
    /// Column-major, `codes[f * rowCount + r]`.
    let codes: UnsafeMutablePointer<Int32>
    let y: UnsafeMutablePointer<Double>
    /// Distinct values of feature f, ascending: `levelValues[levelStart[f] ..< levelStart[f + 1]]`.
    let levelValues: UnsafeMutablePointer<Double>
    let levelStart: [Int]
    /// Features with more levels than this keep their node rows sorted by code (a presorted list
    /// partitioned at every split); those with fewer are scanned through a histogram of levels.
    static let histogramLevelLimit = 64
    /// The features kept presorted, and each one's rows ordered by (code, row).
    let sortedFeatures: [Int]
    let sortedOrder: UnsafeMutablePointer<Int32>
    /// The first 64 two-level features get a bit each (`binaryBit[f]`, else -1), and every row
    /// the bits of its codes (`rowMask[r]`), so a node gathers all of them with one load per row.
    let binaryBit: [Int]
    let rowMask: UnsafeMutablePointer<UInt64>
    /// The training matrix itself (column-major), for sending out-of-bag rows down a tree exactly
    /// as prediction does: by value, not by code.
    let values: UnsafeMutablePointer<Double>

    init(_ x: FeatureMatrix, _ y: [Double], threads: Int) {
        let n = x.rowCount, p = x.columnCount
        rowCount = n
        featureCount = p
        codes = .allocate(capacity: max(1, n * p))
        self.y = .allocate(capacity: max(1, n))
        self.y.initialize(from: y, count: n)
        // Each feature's levels go to a scratch slot of n values; they are compacted afterwards.
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n * p))
        defer { scratch.deallocate() }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(1, p))
        defer { counts.deallocate() }
        let shared = SharedPointers(codes: codes, scratch: scratch, counts: counts)
        parallelChunks(total: p, chunk: 1, threads: threads) { range in
            for f in range { PreparedData.code(feature: f, of: x, into: shared) }
        }
        var start = [0]
        for f in 0..<p { start.append(start[f] + counts[f]) }
        levelStart = start
        levelValues = .allocate(capacity: max(1, start[p]))
        for f in 0..<p { (levelValues + start[f]).initialize(from: scratch + f * n, count: counts[f]) }

        sortedFeatures = (0..<p).filter { counts[$0] > PreparedData.histogramLevelLimit }
        var bits = [Int](repeating: -1, count: p)
        var nextBit = 0
        for f in 0..<p where counts[f] == 2 && nextBit < 64 {
            bits[f] = nextBit
            nextBit += 1
        }
        binaryBit = bits
        rowMask = .allocate(capacity: max(1, n))
        rowMask.initialize(repeating: 0, count: max(1, n))
        for f in 0..<p where bits[f] >= 0 {
            let c = codes + f * n, bit = UInt64(bits[f])
            for r in 0..<n { rowMask[r] |= UInt64(c[r]) << bit }
        }
        values = .allocate(capacity: max(1, n * p))
        values.initialize(from: x.values, count: n * p)
        sortedOrder = .allocate(capacity: max(1, n * sortedFeatures.count))
        // Counting sort by code; rows of equal code stay in ascending row order.
        for (j, f) in sortedFeatures.enumerated() {
            let k = counts[f]
            var next = [Int](repeating: 0, count: k + 1)
            let c = codes + f * n
            for r in 0..<n { next[Int(c[r]) + 1] += 1 }
            for i in 0..<k { next[i + 1] += next[i] }
            let out = sortedOrder + j * n
            for r in 0..<n {
                out[next[Int(c[r])]] = Int32(r)
                next[Int(c[r])] += 1
            }
        }
    }

    deinit {
        codes.deallocate()
        y.deallocate()
        levelValues.deallocate()
        sortedOrder.deallocate()
        rowMask.deallocate()
        values.deallocate()
    }

    func levelCount(_ f: Int) -> Int { levelStart[f + 1] - levelStart[f] }

    private struct SharedPointers: @unchecked Sendable {
        let codes: UnsafeMutablePointer<Int32>
        let scratch: UnsafeMutablePointer<Double>
        let counts: UnsafeMutablePointer<Int>
    }

    private static func code(feature f: Int, of x: FeatureMatrix, into out: SharedPointers) {
        let n = x.rowCount
        // Adding +0.0 turns -0.0 into +0.0, so the level for zero has one canonical sign and
        // the thresholds derived from it do not depend on which zero the sort put first.
        let levels = out.scratch + f * n
        var k = 0
        // Most features have a few levels (flags, one-hot columns, small counts): collect the
        // distinct values directly and sort only those; give up and sort the column past 64.
        var few = [Double]()
        few.reserveCapacity(65)
        x.values.withUnsafeBufferPointer { v in
            var last = Double.nan
            for r in 0..<n {
                let value = v[f * n + r] + 0.0
                if value == last { continue }
                last = value
                if !few.contains(value) {
                    few.append(value)
                    if few.count > 64 { break }
                }
            }
        }
        if few.count <= 64 {
            few.sort()
            for value in few {
                levels[k] = value
                k += 1
            }
        } else {
            var sorted = [Double](unsafeUninitializedCapacity: n) { buffer, initialized in
                x.values.withUnsafeBufferPointer { v in
                    for r in 0..<n { buffer[r] = v[f * n + r] + 0.0 }
                }
                initialized = n
            }
            sorted.sort()
            for v in sorted where k == 0 || v != levels[k - 1] {
                levels[k] = v
                k += 1
            }
        }
        out.counts[f] = k
        let codes = out.codes + f * n
        x.values.withUnsafeBufferPointer { v in
            for r in 0..<n {
                let value = v[f * n + r]
                var lo = 0, hi = k - 1
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if levels[mid] < value { lo = mid + 1 } else { hi = mid }
                }
                codes[r] = Int32(lo)
            }
        }
    }
}
