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

    /// Bootstrap multiplicity per row (0 = out of bag) and multiplicity × target.
    private let weight: UnsafeMutablePointer<Double>
    private let wy: UnsafeMutablePointer<Double>
    private let rows: UnsafeMutablePointer<Int32>
    /// The current node's weights and weighted targets in `rows` order, gathered once per node so
    /// the per-feature passes read them contiguously.
    private let nodeW: UnsafeMutablePointer<Double>
    private let nodeWY: UnsafeMutablePointer<Double>
    /// Presorted lists, `lists[slot * n + i]`.
    private let lists: UnsafeMutablePointer<Int32>
    private let goesLeft: UnsafeMutablePointer<UInt8>
    private let scratch: UnsafeMutablePointer<Int32>
    /// `lanes` interleaved histograms of weight and weighted target (row i adds to lane i % lanes),
    /// so consecutive rows of the same level do not wait on each other's store; all zero between uses.
    private static let lanes = 4
    private let histW: UnsafeMutablePointer<Double>
    private let histS: UnsafeMutablePointer<Double>
    /// Feature order for sampling; persists across the nodes of a tree like scikit-learn's.
    private var features: [Int]

    private var feature: [Int32] = []
    private var threshold: [Double] = []
    private var left: [Int32] = []
    private var right: [Int32] = []
    private var value: [Double] = []

    /// Splits whose SSE reduction is below this fraction of the node's SSE are rounding noise
    /// (e.g. two sides with the same true mean whose computed means differ in the last bit).
    private static let relativeImprovementFloor = 1e-12

    init(data: PreparedData, params: ForestParams) {
        self.data = data
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
        wy = .allocate(capacity: size)
        rows = .allocate(capacity: size)
        nodeW = .allocate(capacity: size)
        nodeWY = .allocate(capacity: size)
        lists = .allocate(capacity: max(1, n * data.sortedFeatures.count))
        goesLeft = .allocate(capacity: size)
        scratch = .allocate(capacity: size)
        let histSize = TreeBuilder.lanes * PreparedData.histogramLevelLimit
        histW = .allocate(capacity: histSize)
        histS = .allocate(capacity: histSize)
        histW.initialize(repeating: 0, count: histSize)
        histS.initialize(repeating: 0, count: histSize)
        features = Array(0..<p)
    }

    deinit {
        weight.deallocate(); wy.deallocate(); rows.deallocate(); nodeW.deallocate(); nodeWY.deallocate()
        lists.deallocate(); goesLeft.deallocate(); scratch.deallocate(); histW.deallocate(); histS.deallocate()
    }

    /// Tree `index` of the forest: its bootstrap and feature sampling come from the generator
    /// derived from (seed, index) alone. Returns the in-bag bitset when bootstrapping.
    func build(treeIndex: Int, bootstrap: Bool) -> (tree: RegressionTree, inBag: [UInt64]?) {
        var rng = SeededGenerator.derived(seed: seed, index: UInt64(treeIndex))
        let y = data.y
        var count = 0
        var bag: [UInt64]? = nil
        if bootstrap {
            weight.update(repeating: 0, count: n)
            for _ in 0..<n { weight[rng.next(below: n)] += 1 }
            var bits = [UInt64](repeating: 0, count: (n + 63) / 64)
            for r in 0..<n where weight[r] > 0 {
                rows[count] = Int32(r)
                count += 1
                bits[r >> 6] |= 1 << UInt64(r & 63)
                wy[r] = weight[r] * y[r]
            }
            bag = bits
        } else {
            for r in 0..<n {
                weight[r] = 1
                wy[r] = y[r]
                rows[r] = Int32(r)
            }
            count = n
        }
        for j in 0..<data.sortedFeatures.count {
            let order = data.sortedOrder + j * n, list = lists + j * n
            var m = 0
            for i in 0..<n where weight[Int(order[i])] > 0 {
                list[m] = order[i]
                m += 1
            }
        }
        for i in 0..<p { features[i] = i }
        grow(count: count, rng: &rng)
        let tree = RegressionTree(feature: feature, threshold: threshold, left: left, right: right, value: value)
        feature.removeAll(keepingCapacity: true)
        threshold.removeAll(keepingCapacity: true)
        left.removeAll(keepingCapacity: true)
        right.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        return (tree, bag)
    }

    private struct Work {
        var start: Int
        var end: Int
        var depth: Int
        var parent: Int32
        var isLeft: Bool
    }

    struct Best {
        var score = 0.0
        var feature = -1
        var leftCode: Int32 = 0
        var rightCode: Int32 = 0
    }

    /// Depth-first with an explicit stack (a fully grown tree on sorted data can be as deep as it
    /// has rows, too deep for a worker thread's stack); popping left before right gives pre-order.
    private func grow(count: Int, rng: inout SeededGenerator) {
        let y = data.y
        var stack = [Work(start: 0, end: count, depth: 0, parent: -1, isLeft: false)]
        while let work = stack.popLast() {
            let node = Int32(feature.count)
            if work.parent >= 0 {
                if work.isLeft { left[Int(work.parent)] = node } else { right[Int(work.parent)] = node }
            }
            let start = work.start, end = work.end, m = end - start
            var w = 0.0, s = 0.0, lowY = Double.infinity, highY = -Double.infinity
            for i in 0..<m {
                let r = Int(rows[start + i])
                let rw = weight[r], rwy = wy[r]
                nodeW[i] = rw
                nodeWY[i] = rwy
                w += rw
                s += rwy
                lowY = min(lowY, y[r])
                highY = max(highY, y[r])
            }
            let pure = lowY == highY
            // A pure node predicts its target exactly; a weighted mean of equal values can be off by an ulp.
            feature.append(-1)
            threshold.append(0)
            left.append(-1)
            right.append(-1)
            value.append(pure ? lowY : s / w)
            if pure || work.depth >= maxDepth || w < minSplit || w < 2 * minLeaf { continue }

            let best = findSplit(start: start, end: end, w: w, s: s, rng: &rng)
            guard best.feature >= 0 else { continue }
            let mean = s / w
            var sse = 0.0
            for i in start..<end {
                let r = Int(rows[i])
                let d = y[r] - mean
                sse += weight[r] * d * d
            }
            guard best.score / w > TreeBuilder.relativeImprovementFloor * sse else { continue }

            let f = best.feature
            let levels = data.levelValues + data.levelStart[f]
            let lo = levels[Int(best.leftCode)], hi = levels[Int(best.rightCode)]
            // scikit-learn's midpoint rule; falling back to the lower value keeps every training
            // value of the node on the side its code says even when the midpoint rounds up to `hi`.
            var t = lo / 2 + hi / 2
            if !(t >= lo && t < hi) { t = lo }
            feature[Int(node)] = Int32(f)
            threshold[Int(node)] = t

            let codes = data.codes + f * n
            for i in start..<end {
                let r = Int(rows[i])
                goesLeft[r] = codes[r] <= best.leftCode ? 1 : 0
            }
            let mid = partition(rows + start, count: m)
            for j in 0..<data.sortedFeatures.count { _ = partition(lists + j * n + start, count: m) }
            stack.append(Work(start: start + mid, end: end, depth: work.depth + 1, parent: node, isLeft: false))
            stack.append(Work(start: start, end: start + mid, depth: work.depth + 1, parent: node, isLeft: true))
        }
    }

    /// Stable partition by `goesLeft`; returns the size of the left part.
    @inline(__always)
    private func partition(_ a: UnsafeMutablePointer<Int32>, count m: Int) -> Int {
        // Branch-free (the side is a coin flip to the predictor): write to both, advance one.
        var nl = 0, nr = 0
        for i in 0..<m {
            let r = a[i]
            let l = Int(goesLeft[Int(r)])
            a[nl] = r
            scratch[nr] = r
            nl += l
            nr += 1 - l
        }
        (a + nl).update(from: scratch, count: nr)
        return nl
    }

    /// The best split over the tried features. Constant features (one level in the node) do not
    /// count towards `maxFeatures`, as in scikit-learn; a tried feature with no admissible split does.
    private func findSplit(start: Int, end: Int, w: Double, s: Double, rng: inout SeededGenerator) -> Best {
        var best = Best()
        if maxFeatures >= p {
            for f in 0..<p { _ = evaluate(feature: f, start: start, end: end, w: w, s: s, best: &best) }
        } else {
            var tried = 0, j = 0
            while j < p && tried < maxFeatures {
                let k = j + rng.next(below: p - j)
                features.swapAt(j, k)
                if evaluate(feature: features[j], start: start, end: end, w: w, s: s, best: &best) { tried += 1 }
                j += 1
            }
        }
        return best
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
            for i in 0..<m {
                let c = codes[Int(rows[start + i])]
                let bin = (i & (lanes - 1)) * stride + Int(c)
                histW[bin] += nodeW[i]
                histS[bin] += nodeWY[i]
                lo = min(lo, c)
                hi = max(hi, c)
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
        var wL = 0.0, sL = 0.0, prev = first
        for i in 0..<m {
            let r = Int(list[i])
            let c = codes[r]
            if c != prev {
                consider(wL, sL, prev, c)
                prev = c
            }
            wL += weight[r]
            sL += wy[r]
        }
        return true
    }
}
