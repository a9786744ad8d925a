import Foundation

/// A forest of shallow trees re-laid as complete binary trees in heap order (node j has children
/// 2j+1 and 2j+2), so a block of rows goes through a tree level by level with no per-row branches
/// on the tree shape. A leaf above the last level is padded with always-left nodes (threshold
/// +infinity) whose leaves all carry its value, so every row reaches the same value as in a walk
/// of the original tree, and rows add the trees in tree order: results are bit-identical to
/// `RegressionTree.predict`.
///
/// Two evaluation schemes: for depth ≤ 3 every node of a level is compared for every row of the
/// block and the row's own node selected (contiguous loads, vectorizable); deeper trees gather
/// each row's node per level.
struct LevelForest: Sendable {
    static let maximumDepth = 8
    static let blockRows = 256

    let depth: Int
    let treeCount: Int
    let feature: [Int32]     // per tree, 2^depth − 1 inner nodes
    let threshold: [Double]
    let leafValue: [Double]  // per tree, 2^depth leaves

    init?(_ forest: RandomForest, columnCount: Int) {
        var depth = 0
        for (i, tree) in forest.trees.enumerated() {
            if let problem = tree.structuralProblem(featureLimit: min(forest.featureCount, columnCount)) {
                preconditionFailure("RandomForest: tree \(i): \(problem)")
            }
            guard let d = tree.depth(limit: Self.maximumDepth) else { return nil }
            depth = max(depth, d)
        }
        self.depth = depth
        treeCount = forest.trees.count
        let inner = (1 << depth) - 1, leaves = 1 << depth
        // At least one slot, so the buffers have a base address even for trees of bare leaves.
        var feature = [Int32](repeating: 0, count: max(1, inner * treeCount))
        var threshold = [Double](repeating: .infinity, count: max(1, inner * treeCount))
        var leafValue = [Double](repeating: 0, count: leaves * treeCount)
        for (t, tree) in forest.trees.enumerated() {
            // (original node, heap position)
            var stack = [(0, 0)]
            while let (n, p) = stack.popLast() {
                if tree.feature[n] >= 0 {
                    feature[t * inner + p] = tree.feature[n]
                    threshold[t * inner + p] = tree.threshold[n]
                    stack.append((Int(tree.left[n]), 2 * p + 1))
                    stack.append((Int(tree.right[n]), 2 * p + 2))
                } else {
                    // Every leaf position under p (padding nodes stay feature 0, threshold +inf).
                    var first = p, count = 1
                    while first < inner { first = 2 * first + 1; count *= 2 }
                    for k in 0..<count { leafValue[t * leaves + first - inner + k] = tree.value[n] }
                }
            }
        }
        self.feature = feature
        self.threshold = threshold
        self.leafValue = leafValue
    }

    /// Mean over trees per row.
    func predict(_ x: FeatureMatrix, threads: Int) -> [Double] {
        let n = x.rowCount
        let trees = Double(treeCount)
        return [Double](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = SharedBuffer(buffer)
            parallelChunks(total: n, chunk: 4096, threads: threads) { range in
                self.predictRange(x, range, into: out.base)
                for r in range { out.base[r] = out.base[r] / trees }
            }
            initialized = n
        }
    }

    private func predictRange(_ x: FeatureMatrix, _ range: Range<Int>, into out: UnsafeMutablePointer<Double>) {
        let n = x.rowCount
        let inner = (1 << depth) - 1, leaves = 1 << depth
        let idx = UnsafeMutablePointer<Int32>.allocate(capacity: Self.blockRows)
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: Self.blockRows)
        defer { idx.deallocate(); sums.deallocate() }
        x.values.withUnsafeBufferPointer { xv in
        feature.withUnsafeBufferPointer { fp in
        threshold.withUnsafeBufferPointer { tp in
        leafValue.withUnsafeBufferPointer { lp in
            var start = range.lowerBound
            while start < range.upperBound {
                let b = min(Self.blockRows, range.upperBound - start)
                for r in 0..<b { sums[r] = 0 }
                for t in 0..<treeCount {
                    let f = fp.baseAddress! + t * inner, th = tp.baseAddress! + t * inner
                    for r in 0..<b { idx[r] = 0 }
                    if depth <= 3 {
                        var levelStart = 0
                        for level in 0..<depth {
                            let width = 1 << level
                            for j in levelStart..<(levelStart + width) {
                                let column = xv.baseAddress! + Int(f[j]) * n + start
                                let limit = th[j]
                                let jj = Int32(j), left = Int32(2 * j + 1), right = Int32(2 * j + 2)
                                for r in 0..<b {
                                    let child = column[r] <= limit ? left : right
                                    idx[r] = idx[r] == jj ? child : idx[r]
                                }
                            }
                            levelStart += width
                        }
                    } else {
                        for _ in 0..<depth {
                            for r in 0..<b {
                                let j = Int(idx[r])
                                let v = xv[Int(f[j]) &* n &+ start &+ r]
                                idx[r] = Int32(v <= th[j] ? 2 * j + 1 : 2 * j + 2)
                            }
                        }
                    }
                    let leaf = lp.baseAddress! + t * leaves - inner
                    for r in 0..<b { sums[r] += leaf[Int(idx[r])] }
                }
                for r in 0..<b { out[start + r] = sums[r] }
                start += b
            }
        }
        }
        }
        }
    }
}

extension RegressionTree {
    /// Levels of inner nodes on the longest path (0 for a single leaf), or nil if above `limit`.
    func depth(limit: Int) -> Int? {
        var best = 0
        var stack = [(0, 0)]
        while let (n, d) = stack.popLast() {
            if feature[n] < 0 { best = max(best, d); continue }
            if d + 1 > limit { return nil }
            stack.append((Int(left[n]), d + 1))
            stack.append((Int(right[n]), d + 1))
        }
        return best
    }
}
