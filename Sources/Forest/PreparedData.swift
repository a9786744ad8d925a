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
    /// A histogram feature (3 to 64 levels) whose code also sits in the bits of `rowMask` above
    /// the two-level ones, six bits from `histogramShift[f]` (else -1): a node's scan of it reads
    /// the codes in its gathered masks, in order, instead of looking each row up.
    let histogramShift: [Int]
    static let histogramCodeBits = 6
    /// The training matrix itself (column-major), for sending out-of-bag rows down a tree exactly
    /// as prediction does: by value, not by code.
    let values: UnsafeMutablePointer<Double>
    /// Rows predicted while the trees grow (`ForestTrainer.train(_:_:params:predicting:)`),
    /// column-major with `heldOutCount` rows and at least the training matrix's columns.
    let heldOut: UnsafeMutablePointer<Double>
    let heldOutCount: Int

    init(_ x: FeatureMatrix, _ y: [Double], threads: Int, heldOut: FeatureMatrix? = nil) {
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
        // Per feature with more levels than the histogram limit: its rows ordered by (code, row).
        let orders = UnsafeMutablePointer<[Int32]?>.allocate(capacity: max(1, p))
        orders.initialize(repeating: nil, count: max(1, p))
        defer { orders.deinitialize(count: max(1, p)); orders.deallocate() }
        let shared = SharedPointers(codes: codes, scratch: scratch, counts: counts, orders: orders)
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
        var shifts = [Int](repeating: -1, count: p)
        var top = 64
        for f in 0..<p where counts[f] > 2 && counts[f] <= PreparedData.histogramLevelLimit && top - PreparedData.histogramCodeBits >= nextBit {
            top -= PreparedData.histogramCodeBits
            shifts[f] = top
            let c = codes + f * n, shift = UInt64(top)
            for r in 0..<n { rowMask[r] |= UInt64(c[r]) << shift }
        }
        histogramShift = shifts
        values = .allocate(capacity: max(1, n * p))
        values.initialize(from: x.values, count: n * p)
        heldOutCount = heldOut?.rowCount ?? 0
        self.heldOut = .allocate(capacity: max(1, heldOut?.values.count ?? 0))
        if let heldOut { self.heldOut.initialize(from: heldOut.values, count: heldOut.values.count) }
        sortedOrder = .allocate(capacity: max(1, n * sortedFeatures.count))
        for (j, f) in sortedFeatures.enumerated() {
            guard let order = orders[f], order.count == n else { preconditionFailure("a presorted feature was coded by sorting its rows") }
            (sortedOrder + j * n).initialize(from: order, count: n)
        }
    }

    deinit {
        codes.deallocate()
        y.deallocate()
        levelValues.deallocate()
        sortedOrder.deallocate()
        rowMask.deallocate()
        values.deallocate()
        heldOut.deallocate()
    }

    func levelCount(_ f: Int) -> Int { levelStart[f + 1] - levelStart[f] }

    private struct SharedPointers: @unchecked Sendable {
        let codes: UnsafeMutablePointer<Int32>
        let scratch: UnsafeMutablePointer<Double>
        let counts: UnsafeMutablePointer<Int>
        let orders: UnsafeMutablePointer<[Int32]?>
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
            out.counts[f] = k
            let codes = out.codes + f * n
            x.values.withUnsafeBufferPointer { v in
                for r in 0..<n { codes[r] = Int32(lowerBound(levels, count: k, v[f * n + r])) }
            }
            return
        }
        // Many levels: the rows sorted by value (a stable radix sort on the values' order-preserving
        // bit patterns, so equal values keep their rows in ascending order); one pass then numbers
        // the distinct values, codes every row and leaves the (code, row) order the presorted
        // scans need.
        let sorted = sortedRows(x, feature: f)
        let codes = out.codes + f * n
        x.values.withUnsafeBufferPointer { v in
            for r in sorted {
                let value = v[f * n + Int(r)] + 0.0
                if k == 0 || value != levels[k - 1] {
                    levels[k] = value
                    k += 1
                }
                codes[Int(r)] = Int32(k - 1)
            }
        }
        out.counts[f] = k
        out.orders[f] = sorted
    }

    /// The first index of `levels[0..<count]` (ascending) whose value is not below `value`,
    /// without data-dependent branches.
    @inline(__always)
    private static func lowerBound(_ levels: UnsafeMutablePointer<Double>, count: Int, _ value: Double) -> Int {
        var base = 0, length = count
        while length > 1 {
            let half = length / 2
            base = levels[base + half - 1] < value ? base + half : base
            length -= half
        }
        return levels[base] < value ? base + 1 : base
    }

    /// Rows `0..<n` ordered by the value of feature `f` (+0.0 and -0.0 alike), equal values in
    /// ascending row order: an LSD radix sort, 11 bits at a time, on keys that order as the values do.
    static func sortedRows(_ x: FeatureMatrix, feature f: Int) -> [Int32] {
        let n = x.rowCount
        let digitBits = 11, buckets = 1 << digitBits, passes = (64 + digitBits - 1) / digitBits
        var keys = [UInt64](repeating: 0, count: n), rows = [Int32](repeating: 0, count: n)
        var keys2 = keys, rows2 = rows
        var histogram = [Int](repeating: 0, count: buckets * passes)
        x.values.withUnsafeBufferPointer { v in
            for r in 0..<n {
                let bits = (v[f * n + r] + 0.0).bitPattern
                // Negative values reversed, positive ones above them: unsigned order is numeric order.
                let key = bits >> 63 == 1 ? ~bits : bits | (1 << 63)
                keys[r] = key
                rows[r] = Int32(r)
                for d in 0..<passes { histogram[d * buckets + Int((key >> UInt64(d * digitBits)) & UInt64(buckets - 1))] += 1 }
            }
        }
        for d in 0..<passes {
            let shift = UInt64(d * digitBits)
            // A digit every key shares leaves the order as it is.
            if n == 0 || histogram[d * buckets + Int((keys[0] >> shift) & UInt64(buckets - 1))] == n { continue }
            var next = 0
            for b in 0..<buckets {
                let c = histogram[d * buckets + b]
                histogram[d * buckets + b] = next
                next += c
            }
            for i in 0..<n {
                let b = d * buckets + Int((keys[i] >> shift) & UInt64(buckets - 1))
                let at = histogram[b]
                histogram[b] = at + 1
                keys2[at] = keys[i]
                rows2[at] = rows[i]
            }
            swap(&keys, &keys2)
            swap(&rows, &rows2)
        }
        return rows
    }
}
