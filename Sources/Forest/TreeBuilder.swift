import CForestKernel
import Stats

/// Grows CART regression trees on a `PreparedData`. One builder per worker thread: it owns the
/// scratch buffers and reuses them for every tree it builds.
///
/// Rows enter as integer weights (bootstrap multiplicities); a node owns a contiguous range of
/// `rows` and the same range of every presorted list, all partitioned stably at each split, so
/// rows stay in ascending order (by row, or by (code, row) in the lists) and every floating-point
/// sum is taken in an order fixed by the data alone.
final class TreeBuilder {
    private let data: PreparedData
    private let n: Int
    private let p: Int
    private let seed: UInt64
    private let maxFeatures: Int
    private let maxDepth: Int
    private let minLeaf: Double
    private let minSplit: Double
    /// Per feature: its index among the presorted features, or -1 if it uses a histogram.
    private let sortedSlot: [Int]

    /// Bootstrap multiplicity per row (0 = out of bag).
    private let weight: UnsafeMutablePointer<Double>
    /// What a node reads of an in-bag row, in one cache line: a node gathers it with one load.
    struct RowRecord {
        var w: Double
        /// w × y
        var wy: Double
        var y: Double
        var mask: UInt64
    }
    private let record: UnsafeMutablePointer<RowRecord>
    private let rows: UnsafeMutablePointer<Int32>
    /// The current node's weights and weighted targets in `rows` order, gathered once per node so
    /// the per-feature passes read them contiguously.
    private let nodeW: UnsafeMutablePointer<Double>
    private let nodeWY: UnsafeMutablePointer<Double>
    /// The current node's row masks (`PreparedData.rowMask`) in `rows` order.
    private let nodeMask: UnsafeMutablePointer<UInt64>
    private let nodeY: UnsafeMutablePointer<Double>
    /// Out-of-bag rows, partitioned down the tree as it grows like `rows` (by value against the
    /// threshold, as prediction does), and the value of the leaf each one reaches.
    private let oobRows: UnsafeMutablePointer<Int32>
    private let oobValue: UnsafeMutablePointer<Double>
    /// Depth cuts (`ForestTrainer.outOfBagErrors`): per cut, the value of the node each
    /// out-of-bag row stops at when the tree is cut there, `cutValue[j * n + row]`.
    private let cuts: [Int]
    private let cutValue: UnsafeMutablePointer<Double>
    /// Rows of the held-out matrix (`PreparedData.heldOut`), partitioned down the tree as it
    /// grows by value against the threshold (as prediction sends them), the value of the leaf
    /// each one reaches, and the partition's scratch.
    private let heldOutRows: UnsafeMutablePointer<Int32>
    private let heldOutValue: UnsafeMutablePointer<Double>
    private let heldOutScratch: UnsafeMutablePointer<Int32>
    /// Per two-level feature with a mask bit, tried at the current node: its bit, the feature and
    /// the level-1 sums the kernel returns.
    private let binaryBits: UnsafeMutablePointer<Int32>
    private let binaryFeature: UnsafeMutablePointer<Int>
    private let binaryW: UnsafeMutablePointer<Double>
    private let binaryS: UnsafeMutablePointer<Double>
    /// Presorted lists, `lists[slot * n + i]`.
    private let lists: UnsafeMutablePointer<Int32>
    private let goesLeft: UnsafeMutablePointer<UInt8>
    /// A presorted feature's scan in the node: each row's level code and the running sums of
    /// weight and weighted target through it (`forest_sorted_best` reads them).
    private let scanCode: UnsafeMutablePointer<Int32>
    private let scanW: UnsafeMutablePointer<Double>
    private let scanS: UnsafeMutablePointer<Double>
    private let scratch: UnsafeMutablePointer<Int32>
    /// `lanes` interleaved histograms of weight and weighted target (row i adds to lane i % lanes),
    /// so consecutive rows of the same level do not wait on each other's store; all zero between uses.
    private static let lanes = 4
    private let histW: UnsafeMutablePointer<Double>
    private let histS: UnsafeMutablePointer<Double>
    /// Feature order for sampling; persists across the nodes of a tree like scikit-learn's.
    private let features: UnsafeMutablePointer<Int>
    /// Nodes in the last tree, to reserve the next one's arrays.
    private var lastNodeCount = 0

    /// Splits whose SSE reduction is below this fraction of the node's SSE are rounding noise
    /// (e.g. two sides with the same true mean whose computed means differ in the last bit).
    private static let relativeImprovementFloor = 1e-12

    /// `depthCuts`: depths at which each out-of-bag row's value is also recorded, as if the tree
    /// were cut there (a leaf above a cut gives its value); the tree is grown as `params` says.
    init(data: PreparedData, params: ForestParams, depthCuts: [Int] = []) {
        self.data = data
        cuts = depthCuts
        n = data.rowCount
        p = data.featureCount
        seed = params.seed
        maxFeatures = min(params.maxFeatures ?? p, p)
        maxDepth = params.maxDepth ?? Int.max
        minLeaf = Double(params.minSamplesLeaf)
        minSplit = Double(params.minSamplesSplit)
        var slots = [Int](repeating: -1, count: p)
        for (j, f) in data.sortedFeatures.enumerated() { slots[f] = j }
        sortedSlot = slots
        let size = max(1, n)
        weight = .allocate(capacity: size)
        record = .allocate(capacity: size)
        rows = .allocate(capacity: size)
        nodeW = .allocate(capacity: size)
        nodeWY = .allocate(capacity: size)
        nodeMask = .allocate(capacity: size)
        nodeY = .allocate(capacity: size)
        oobRows = .allocate(capacity: size)
        oobValue = .allocate(capacity: size)
        cutValue = .allocate(capacity: max(1, size * depthCuts.count))
        let heldOutSize = max(1, data.heldOutCount)
        heldOutRows = .allocate(capacity: heldOutSize)
        heldOutValue = .allocate(capacity: heldOutSize)
        heldOutScratch = .allocate(capacity: heldOutSize)
        binaryBits = .allocate(capacity: max(1, p))
        binaryFeature = .allocate(capacity: max(1, p))
        binaryW = .allocate(capacity: max(1, p))
        binaryS = .allocate(capacity: max(1, p))
        lists = .allocate(capacity: max(1, n * data.sortedFeatures.count))
        goesLeft = .allocate(capacity: size)
        scanCode = .allocate(capacity: size)
        scanW = .allocate(capacity: size)
        scanS = .allocate(capacity: size)
        scratch = .allocate(capacity: size)
        let histSize = TreeBuilder.lanes * PreparedData.histogramLevelLimit
        histW = .allocate(capacity: histSize)
        histS = .allocate(capacity: histSize)
        histW.initialize(repeating: 0, count: histSize)
        histS.initialize(repeating: 0, count: histSize)
        features = .allocate(capacity: max(1, p))
    }

    deinit {
        weight.deallocate(); record.deallocate(); rows.deallocate(); nodeW.deallocate(); nodeWY.deallocate()
        nodeMask.deallocate(); nodeY.deallocate(); oobRows.deallocate(); oobValue.deallocate(); cutValue.deallocate()
        heldOutRows.deallocate(); heldOutValue.deallocate(); heldOutScratch.deallocate()
        binaryBits.deallocate(); binaryFeature.deallocate(); binaryW.deallocate(); binaryS.deallocate()
        features.deallocate()
        lists.deallocate(); goesLeft.deallocate(); scanCode.deallocate(); scanW.deallocate(); scanS.deallocate(); scratch.deallocate(); histW.deallocate();
        histS.deallocate()
    }

    /// The out-of-bag rows of one tree (ascending) and the tree's prediction for each.
    struct OutOfBag {
        var rows: [Int32]
        var values: [Double]
        /// With depth cuts: per row, its value at each cut (`values`' rows, cut `j` at `i * cuts + j`).
        var cutValues: [Double] = []
    }

    /// Tree `index` of the forest: its bootstrap and feature sampling come from the generator
    /// derived from (seed, index) alone. When bootstrapping, also returns the tree's predictions
    /// for its out-of-bag rows, walked like `RegressionTree.predict` while the tree is in cache.
    /// `outOfBag: false` skips the out-of-bag predictions (the tree is the same). `heldOut`: the
    /// tree's prediction of every row of `PreparedData.heldOut` (empty when there is none).
    func build(treeIndex: Int, bootstrap: Bool, outOfBag: Bool = true) -> (tree: RegressionTree, outOfBag: OutOfBag?, heldOut: [Double]) {
        var rng = SeededGenerator.derived(seed: seed, index: UInt64(treeIndex))
        let y = data.y
        var count = 0, outCount = 0
        if bootstrap {
            TreeBuilder.drawBootstrap(&rng, rows: n, into: weight)
            // Branch-free (in or out of bag is a coin flip to the predictor): write both, advance one.
            for r in 0..<n {
                let wr = weight[r]
                let inBag = wr > 0 ? 1 : 0
                rows[count] = Int32(r)
                oobRows[outCount] = Int32(r)
                count &+= inBag
                outCount &+= 1 &- inBag
                record[r] = RowRecord(w: wr, wy: wr * y[r], y: y[r], mask: data.rowMask[r])
            }
        } else {
            for r in 0..<n {
                weight[r] = 1
                record[r] = RowRecord(w: 1, wy: y[r], y: y[r], mask: data.rowMask[r])
                rows[r] = Int32(r)
            }
            count = n
        }
        for j in 0..<data.sortedFeatures.count {
            let order = data.sortedOrder + j * n, list = lists + j * n
            var m = 0
            for i in 0..<n {
                let r = order[i]
                list[m] = r
                // In bag when the multiplicity is not zero: its sign bit is clear, so x | -x has
                // the top bit set exactly then (integer arithmetic, so no branch on a coin flip).
                let bits = weight[Int(r)].bitPattern
                m &+= Int(truncatingIfNeeded: (bits | (0 &- bits)) >> 63)
            }
        }
        let withOutOfBag = bootstrap && outOfBag
        if !withOutOfBag { outCount = 0 }
        for i in 0..<p { features[i] = i }
        // The out-of-bag rows in ascending order, before growing permutes them.
        let outRows = withOutOfBag ? Array(UnsafeBufferPointer(start: oobRows, count: outCount)) : []
        let heldOutCount = data.heldOutCount
        for i in 0..<heldOutCount { heldOutRows[i] = Int32(i) }
        let tree = grow(count: count, outOfBag: outCount, heldOut: heldOutCount, rng: &rng)
        let heldOut = Array(UnsafeBufferPointer(start: heldOutValue, count: heldOutCount))
        guard withOutOfBag else { return (tree, nil, heldOut) }
        let values = [Double](unsafeUninitializedCapacity: outCount) { buffer, initialized in
            for i in 0..<outCount { buffer[i] = oobValue[Int(outRows[i])] }
            initialized = outCount
        }
        let k = cuts.count
        let cutValues = [Double](unsafeUninitializedCapacity: outCount * k) { buffer, initialized in
            for i in 0..<outCount {
                for j in 0..<k { buffer[i * k + j] = cutValue[j * n + Int(outRows[i])] }
            }
            initialized = outCount * k
        }
        return (tree, OutOfBag(rows: outRows, values: values, cutValues: cutValues), heldOut)
    }

    /// A tree's bootstrap: `n` draws with replacement, as multiplicities (0 = out of bag).
    /// The draws are `rng.next(below: n)`'s, made by a C kernel that keeps the generator's state
    /// in registers (`forest_bootstrap_counts`); `rng` continues after them.
    static func drawBootstrap(_ rng: inout SeededGenerator, rows n: Int, into weight: UnsafeMutablePointer<Double>) {
        rng.withStateWords { forest_bootstrap_counts($0, n, weight) }
    }

    private struct Work {
        var start: Int
        var end: Int
        var oobStart: Int
        var oobEnd: Int
        var heldOutStart: Int
        var heldOutEnd: Int
        var depth: Int
        var parent: Int32
        var isLeft: Bool
        /// Bit f (f < 64): feature f is known to be constant in this node (it was in an ancestor).
        var constant: UInt64
    }

    struct Best {
        var score = 0.0
        var feature = -1
        var leftCode: Int32 = 0
        var rightCode: Int32 = 0
    }

    /// Depth-first with an explicit stack (a fully grown tree on sorted data can be as deep as it
    /// has rows, too deep for a worker thread's stack); popping left before right gives pre-order.
    private func grow(count: Int, outOfBag: Int, heldOut: Int, rng: inout SeededGenerator) -> RegressionTree {
        // Local arrays: appending to stored properties of a class pays a dynamic exclusivity check.
        var feature: [Int32] = [], threshold: [Double] = [], left: [Int32] = [], right: [Int32] = [], value: [Double] = []
        feature.reserveCapacity(lastNodeCount)
        threshold.reserveCapacity(lastNodeCount)
        left.reserveCapacity(lastNodeCount)
        right.reserveCapacity(lastNodeCount)
        value.reserveCapacity(lastNodeCount)
        var stack = [
            Work(start: 0, end: count, oobStart: 0, oobEnd: outOfBag, heldOutStart: 0, heldOutEnd: heldOut, depth: 0, parent: -1, isLeft: false, constant: 0)
        ]
        while let work = stack.popLast() {
            let node = Int32(feature.count)
            if work.parent >= 0 {
                if work.isLeft { left[Int(work.parent)] = node } else { right[Int(work.parent)] = node }
            }
            let start = work.start, end = work.end, m = end - start
            // Purity as "every target equals the first": a flag, not a running min and max, whose
            // compare-and-select chains would hold up every row. (The targets are finite, and a pure
            // node's value is its first row's target, as the min of equal values kept first was.)
            let firstY = m > 0 ? record[Int(rows[start])].y : 0
            var w = 0.0, s = 0.0, syy = 0.0, differs = false
            // A node at the depth limit is a leaf: only its value is read (the same sums, in order).
            let atLimit = work.depth >= maxDepth
            if atLimit {
                for i in 0..<m {
                    let rec = record[Int(rows[start + i])]
                    w += rec.w
                    s += rec.wy
                    differs = differs || rec.y != firstY
                }
            } else {
                for i in 0..<m {
                    let r = Int(rows[start + i])
                    let rec = record[r]
                    let rw = rec.w, rwy = rec.wy, ry = rec.y
                    nodeW[i] = rw
                    nodeWY[i] = rwy
                    nodeMask[i] = rec.mask
                    nodeY[i] = ry
                    w += rw
                    s += rwy
                    syy += rwy * ry
                    differs = differs || ry != firstY
                }
            }
            let pure = !differs
            // A pure node predicts its target exactly; a weighted mean of equal values can be off by an ulp.
            let nodeValue = pure ? firstY : s / w
            feature.append(-1)
            threshold.append(0)
            left.append(-1)
            right.append(-1)
            value.append(nodeValue)
            // A cut at this depth stops the out-of-bag rows here; a leaf stops them for every deeper cut too.
            for (j, cut) in cuts.enumerated() where cut == work.depth {
                for i in work.oobStart..<work.oobEnd { cutValue[j * n + Int(oobRows[i])] = nodeValue }
            }
            @inline(__always) func leaf() {
                for i in work.oobStart..<work.oobEnd { oobValue[Int(oobRows[i])] = nodeValue }
                for i in work.heldOutStart..<work.heldOutEnd { heldOutValue[Int(heldOutRows[i])] = nodeValue }
                for (j, cut) in cuts.enumerated() where cut > work.depth {
                    for i in work.oobStart..<work.oobEnd { cutValue[j * n + Int(oobRows[i])] = nodeValue }
                }
            }
            if pure || atLimit || w < minSplit || w < 2 * minLeaf {
                leaf()
                continue
            }

            var constant = work.constant
            let best = findSplit(start: start, end: end, w: w, s: s, constant: &constant, rng: &rng)
            guard best.feature >= 0 else {
                leaf()
                continue
            }
            // The node's SSE is at most Σ w·y² (the mean minimizes it). Each computed sum of m
            // non-negative terms is within m·ε relative of the exact one, so the computed SSE is
            // at most the computed Σ w·y² times 1 + 2m·ε (< 1 + 4.5e-16·m, inside the margin): a
            // gain above the floor of that bound is above the floor of the SSE, and only a gain
            // close to it pays the SSE's pass.
            let gain = best.score / w
            if !(gain > TreeBuilder.relativeImprovementFloor * syy * (1 + 1e-9 + 4.5e-16 * Double(m))) {
                let mean = s / w
                var sse = 0.0
                for i in 0..<m {
                    let d = nodeY[i] - mean
                    sse += nodeW[i] * d * d
                }
                guard gain > TreeBuilder.relativeImprovementFloor * sse else {
                    leaf()
                    continue
                }
            }

            let f = best.feature
            // Both children of a split on a two-level feature hold one level each.
            if f < 64 && data.levelCount(f) == 2 { constant |= 1 << UInt64(f) }
            let levels = data.levelValues + data.levelStart[f]
            let lo = levels[Int(best.leftCode)], hi = levels[Int(best.rightCode)]
            // scikit-learn's midpoint rule; falling back to the lower value keeps every training
            // value of the node on the side its code says even when the midpoint rounds up to `hi`.
            var t = lo / 2 + hi / 2
            if !(t >= lo && t < hi) { t = lo }
            feature[Int(node)] = Int32(f)
            threshold[Int(node)] = t

            let bit = data.binaryBit[f]
            if bit >= 0 {
                for i in 0..<m { goesLeft[Int(rows[start + i])] = UInt8(truncatingIfNeeded: ~(nodeMask[i] >> UInt64(bit)) & 1) }
            } else {
                let codes = data.codes + f * n
                for i in start..<end {
                    let r = Int(rows[i])
                    goesLeft[r] = codes[r] <= best.leftCode ? 1 : 0
                }
            }
            let mid = partition(rows + start, count: m)
            // Children at the depth limit are leaves, which never read the presorted lists.
            if work.depth + 1 < maxDepth {
                for j in 0..<data.sortedFeatures.count { _ = partition(lists + j * n + start, count: m) }
            }
            // Out-of-bag rows go the way prediction sends them, x <= t, decided on codes: a training
            // value is at most t exactly when its code is at most that of the highest level <= t
            // (levels of other rows may lie between the node's `lo` and `hi`).
            let oobStart = work.oobStart, oobCount = work.oobEnd - oobStart
            var oobMid = 0
            if oobCount > 0 {
                let a = oobRows + oobStart
                if bit >= 0 {
                    let masks = data.rowMask, b = UInt64(bit)
                    oobMid = TreeBuilder.stablePartition(a, count: oobCount, scratch: scratch) {
                        Int(truncatingIfNeeded: ~(masks[Int($0)] >> b) & 1)
                    }
                } else {
                    var lowCode = Int(best.leftCode), highCode = Int(best.rightCode)  // levels[lowCode] <= t < levels[highCode]
                    while highCode - lowCode > 1 {
                        let mid = (lowCode + highCode) >> 1
                        if levels[mid] <= t { lowCode = mid } else { highCode = mid }
                    }
                    let codes = data.codes + f * n, cut = Int32(lowCode)
                    oobMid = TreeBuilder.stablePartition(a, count: oobCount, scratch: scratch) { codes[Int($0)] <= cut ? 1 : 0 }
                }
            }
            // Held-out rows go by value, x <= t, exactly as prediction compares (a NaN goes right).
            let heldOutStart = work.heldOutStart, heldOutCount = work.heldOutEnd - heldOutStart
            var heldOutMid = 0
            if heldOutCount > 0 {
                let column = data.heldOut + f * data.heldOutCount
                heldOutMid = TreeBuilder.stablePartition(heldOutRows + heldOutStart, count: heldOutCount, scratch: heldOutScratch) {
                    column[Int($0)] <= t ? 1 : 0
                }
            }
            let depth = work.depth + 1
            stack.append(
                Work(
                    start: start + mid, end: end, oobStart: oobStart + oobMid, oobEnd: work.oobEnd, heldOutStart: heldOutStart + heldOutMid,
                    heldOutEnd: work.heldOutEnd, depth: depth, parent: node, isLeft: false, constant: constant))
            stack.append(
                Work(
                    start: start, end: start + mid, oobStart: oobStart, oobEnd: oobStart + oobMid, heldOutStart: heldOutStart,
                    heldOutEnd: heldOutStart + heldOutMid, depth: depth, parent: node, isLeft: true, constant: constant))
        }
        lastNodeCount = feature.count
        return RegressionTree(feature: feature, threshold: threshold, left: left, right: right, value: value)
    }

    /// Stable partition by `goesLeft`; returns the size of the left part.
    @inline(__always)
    private func partition(_ a: UnsafeMutablePointer<Int32>, count m: Int) -> Int {
        let goesLeft = self.goesLeft
        return TreeBuilder.stablePartition(a, count: m, scratch: scratch) { Int(goesLeft[Int($0)]) }
    }

    /// Stable partition of the rows `a[0..<m]`, those `left` gives 1 first; returns how many.
    /// Branch-free (the side is a coin flip to the predictor): every row is written to both
    /// sides and advances one; `scratch` holds the right side until it is copied back.
    @inline(__always)
    private static func stablePartition(
        _ a: UnsafeMutablePointer<Int32>, count m: Int, scratch: UnsafeMutablePointer<Int32>, left: (Int32) -> Int
    ) -> Int {
        var nl = 0, nr = 0
        for i in 0..<m {
            let r = a[i]
            let l = left(r)
            a[nl] = r
            scratch[nr] = r
            nl &+= l
            nr &+= 1 &- l
        }
        (a + nl).update(from: scratch, count: nr)
        return nl
    }

    /// The best split over the tried features. Constant features (one level in the node) do not
    /// count towards `maxFeatures`, as in scikit-learn; a tried feature with no admissible split does.
    /// Features found constant are added to `constant`, so the node's descendants skip them.
    ///
    /// The outcome does not depend on the order features are scored in (a better score wins, and
    /// the lower feature index wins a tie), so the two-level features go first, together.
    private func findSplit(start: Int, end: Int, w: Double, s: Double, constant: inout UInt64, rng: inout SeededGenerator) -> Best {
        var best = Best()
        @inline(__always) func known(_ f: Int) -> Bool { f < 64 && constant & (1 << UInt64(f)) != 0 }
        @inline(__always) func mark(_ f: Int) { if f < 64 { constant |= 1 << UInt64(f) } }
        if maxFeatures >= p {
            var k = 0
            for f in 0..<p where data.binaryBit[f] >= 0 && !known(f) {
                binaryBits[k] = Int32(data.binaryBit[f])
                binaryFeature[k] = f
                k += 1
            }
            forest_binary_sums(nodeMask, nodeW, nodeWY, end - start, binaryBits, Int32(k), binaryW, binaryS)
            for i in 0..<k where !considerBinary(feature: binaryFeature[i], wOne: binaryW[i], sOne: binaryS[i], w: w, s: s, best: &best) {
                mark(binaryFeature[i])
            }
            for f in 0..<p where data.binaryBit[f] < 0 && !known(f) {
                if !evaluate(feature: f, start: start, end: end, w: w, s: s, best: &best) { mark(f) }
            }
        } else {
            var tried = 0, j = 0
            while j < p && tried < maxFeatures {
                let k = j + rng.next(below: p - j)
                (features[j], features[k]) = (features[k], features[j])
                let f = features[j]
                if !known(f) {
                    let varies: Bool
                    if data.binaryBit[f] >= 0 {
                        binaryBits[0] = Int32(data.binaryBit[f])
                        forest_binary_sums(nodeMask, nodeW, nodeWY, end - start, binaryBits, 1, binaryW, binaryS)
                        varies = considerBinary(feature: f, wOne: binaryW[0], sOne: binaryS[0], w: w, s: s, best: &best)
                    } else {
                        varies = evaluate(feature: f, start: start, end: end, w: w, s: s, best: &best)
                    }
                    if varies { tried += 1 } else { mark(f) }
                }
                j += 1
            }
        }
        return best
    }

    /// True when the score wL·wR·(sL/wL − sR/wR)², as computed below with its roundings, is
    /// certainly below `bound`: a test with multiplications only, so most thresholds of a feature
    /// with many levels skip the two divisions. The numerator sL·wR − sR·wL equals
    /// (sL/wL − sR/wR)·wL·wR; the computed score can exceed |numerator|²/(wL·wR) only by
    /// rounding errors of a few ulps of |sL|·wR + |sR|·wL, far inside the 1e-12 margins, so a
    /// skipped threshold is one the exact comparison would have rejected: same splits, same ties.
    @inline(__always)
    static func cannotBeat(_ bound: Double, wL: Double, sL: Double, wR: Double, sR: Double) -> Bool {
        let a = sL * wR, b = sR * wL
        let num = abs(a - b)
        let limit = num + 1e-12 * (abs(a) + abs(b) + num)
        return limit * limit < bound * (wL * wR) * (1 - 1e-12)
    }

    /// A two-level feature from its level-1 sums; false if it is constant in the node.
    @inline(__always)
    private func considerBinary(feature f: Int, wOne: Double, sOne: Double, w: Double, s: Double, best: inout Best) -> Bool {
        if wOne == 0 || wOne == w { return false }
        let wL = w - wOne, sL = s - sOne
        let wR = w - wL
        if wL < minLeaf || wR < minLeaf { return true }
        let d = sL / wL - (s - sL) / wR
        let score = wL * wR * d * d
        if score > best.score || (score == best.score && best.feature > f) {
            best = Best(score: score, feature: f, leftCode: 0, rightCode: 1)
        }
        return true
    }

    /// Scores every threshold of feature `f` in the node; returns false if `f` is constant there.
    /// The score wL·wR·(meanL − meanR)² is W times the SSE reduction: it is never negative, and
    /// unlike sumL²/wL + sumR²/wR it does not lose the reduction to cancellation. Thresholds are
    /// visited in ascending order and only a strictly better score replaces the best, so the
    /// first of equal splits wins; across features the lower index wins a tie.
    private func evaluate(feature f: Int, start: Int, end: Int, w: Double, s: Double, best: inout Best) -> Bool {
        let m = end - start
        let codes = data.codes + f * n
        let minLeaf = self.minLeaf
        @inline(__always)
        func consider(_ wL: Double, _ sL: Double, _ lc: Int32, _ rc: Int32) {
            let wR = w - wL
            if wL < minLeaf || wR < minLeaf { return }
            if TreeBuilder.cannotBeat(best.score, wL: wL, sL: sL, wR: wR, sR: s - sL) { return }
            let d = sL / wL - (s - sL) / wR
            let score = wL * wR * d * d
            if score > best.score || (score == best.score && best.feature > f) {
                best = Best(score: score, feature: f, leftCode: lc, rightCode: rc)
            }
        }
        let levels = data.levelCount(f)
        if levels == 1 { return false }

        if levels == 2 {
            // Branch-free: sum the level-1 rows (level 0 is the rest), in four interleaved partial
            // sums so the additions do not wait on each other.
            var w0 = 0.0, w1 = 0.0, w2 = 0.0, w3 = 0.0, s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
            let r = rows + start
            var i = 0
            while i + 4 <= m {
                let c0 = Double(codes[Int(r[i])]), c1 = Double(codes[Int(r[i + 1])])
                let c2 = Double(codes[Int(r[i + 2])]), c3 = Double(codes[Int(r[i + 3])])
                w0 += c0 * nodeW[i]; s0 += c0 * nodeWY[i]
                w1 += c1 * nodeW[i + 1]; s1 += c1 * nodeWY[i + 1]
                w2 += c2 * nodeW[i + 2]; s2 += c2 * nodeWY[i + 2]
                w3 += c3 * nodeW[i + 3]; s3 += c3 * nodeWY[i + 3]
                i += 4
            }
            while i < m {
                let c = Double(codes[Int(r[i])])
                w0 += c * nodeW[i]; s0 += c * nodeWY[i]
                i += 1
            }
            let wOne = (w0 + w1) + (w2 + w3), sOne = (s0 + s1) + (s2 + s3)
            if wOne == 0 || wOne == w { return false }
            consider(w - wOne, s - sOne, 0, 1)
            return true
        }

        let slot = sortedSlot[f]
        if slot < 0 {
            let lanes = TreeBuilder.lanes, stride = PreparedData.histogramLevelLimit
            var lo = Int32.max, hi = Int32.min
            let shift = data.histogramShift[f]
            if shift >= 0 {
                // The codes from the node's gathered masks, in order.
                let s = UInt64(shift), low = UInt64(1 << PreparedData.histogramCodeBits - 1)
                for i in 0..<m {
                    let c = Int32(truncatingIfNeeded: (nodeMask[i] >> s) & low)
                    let bin = (i & (lanes - 1)) * stride + Int(c)
                    histW[bin] += nodeW[i]
                    histS[bin] += nodeWY[i]
                    lo = min(lo, c)
                    hi = max(hi, c)
                }
            } else {
                for i in 0..<m {
                    let c = codes[Int(rows[start + i])]
                    let bin = (i & (lanes - 1)) * stride + Int(c)
                    histW[bin] += nodeW[i]
                    histS[bin] += nodeWY[i]
                    lo = min(lo, c)
                    hi = max(hi, c)
                }
            }
            var wL = 0.0, sL = 0.0, prev: Int32 = -1
            for c in lo...hi {
                var hw = 0.0, hs = 0.0
                for lane in 0..<lanes {
                    let bin = lane * stride + Int(c)
                    hw += histW[bin]
                    hs += histS[bin]
                    histW[bin] = 0
                    histS[bin] = 0
                }
                if hw == 0 { continue }
                if prev >= 0 { consider(wL, sL, prev, c) }
                wL += hw
                sL += hs
                prev = c
            }
            return lo != hi
        }

        let list = lists + slot * n + start
        let first = codes[Int(list[0])]
        if first == codes[Int(list[m - 1])] { return false }
        // The running sums in list order, then every threshold (where the code changes) scored as
        // `consider` scores it, in order, by the kernel: the same split, bit for bit.
        var wL = 0.0, sL = 0.0
        for i in 0..<m {
            let r = Int(list[i])
            wL += record[r].w
            sL += record[r].wy
            scanCode[i] = codes[r]
            scanW[i] = wL
            scanS[i] = sL
        }
        var score = best.score
        let i = forest_sorted_best(scanCode, scanW, scanS, m, w, s, minLeaf, &score, best.feature > f ? 1 : 0)
        if i >= 0 { best = Best(score: score, feature: f, leftCode: scanCode[i], rightCode: scanCode[i + 1]) }
        return true
    }
}
