import CForestKernel
import Foundation

/// A forest of shallow trees re-laid as complete binary trees in heap order (node j has children
/// 2j+1 and 2j+2), so a block of rows goes through a tree level by level with no per-row branches
/// on the tree shape. A leaf above the last level is padded with always-left nodes (threshold
/// +infinity) whose leaves all carry its value, so every row reaches the same value as in a walk
/// of the original tree, and rows add the trees in tree order: results are bit-identical to
/// `RegressionTree.predict`.
///
/// Two evaluation schemes: trees of depth ≤ 3 are evaluated in one fused, branch-free pass per
/// block (every node compared, the row's path selected); deeper trees gather each row's node per level.
struct LevelForest: Sendable {
    static let maximumDepth = 8
    static let blockRows = 256

    let depth: Int
    let treeCount: Int
    let feature: [Int32]  // per tree, 2^depth − 1 inner nodes
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
    /// `kernel: false` forces the Swift path (tests compare both).
    func predict(_ x: FeatureMatrix, threads: Int, kernel: Bool = true) -> [Double] {
        let n = x.rowCount
        let trees = Double(treeCount)
        return [Double](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = SharedBuffer(buffer)
            parallelChunks(total: n, chunk: 4096, threads: threads) { range in
                self.predictRange(x, range, into: out.base, kernel: kernel)
                for r in range { out.base[r] = out.base[r] / trees }
            }
            initialized = n
        }
    }

    private func predictRange(_ x: FeatureMatrix, _ range: Range<Int>, into out: UnsafeMutablePointer<Double>, kernel: Bool) {
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
                            // The AVX2 kernel does the same arithmetic four lanes at a time when the CPU has it.
                            if kernel, depth >= 1 && depth <= 3,
                                forest_kernel_accumulate(
                                    Int32(depth), Int32(treeCount), fp.baseAddress!, tp.baseAddress!, lp.baseAddress!,
                                    xv.baseAddress!, n, start, b, sums) == 0
                            {
                                for r in 0..<b { out[start + r] = sums[r] }
                                start += b
                                continue
                            }
                            if kernel, depth > 3 {
                                forest_kernel_levels(
                                    Int32(depth), Int32(treeCount), fp.baseAddress!, tp.baseAddress!, lp.baseAddress!, xv.baseAddress!, n,
                                    start, b, sums, idx)
                                for r in 0..<b { out[start + r] = sums[r] }
                                start += b
                                continue
                            }
                            for t in 0..<treeCount {
                                let f = fp.baseAddress! + t * inner, th = tp.baseAddress! + t * inner
                                let x0 = (xv.baseAddress ?? UnsafePointer(bitPattern: 8)!) + start  // no columns: only depth 0, which reads none
                                func col(_ j: Int) -> UnsafePointer<Double> { x0 + Int(f[j]) * n }
                                let leaf = lp.baseAddress! + t * leaves
                                // Depths 1–3 in one fused pass per tree: every node's comparison is computed
                                // for every row from contiguous columns and the row's leaf value selected, so
                                // the loop has no data-dependent loads and vectorizes.
                                switch depth {
                                case 0:
                                    for r in 0..<b { sums[r] += leaf[0] }
                                    continue
                                case 1:
                                    let c0 = col(0), t0 = th[0], v0 = leaf[0], v1 = leaf[1]
                                    var r = 0
                                    while r + 4 <= b {
                                        let x0 = load4(c0, r)
                                        let v = SIMD4(repeating: v1).replacing(with: v0, where: x0 .<= t0)
                                        store4(sums, r, load4(sums, r) + v)
                                        r += 4
                                    }
                                    while r < b { sums[r] += c0[r] <= t0 ? v0 : v1; r += 1 }
                                    continue
                                case 2:
                                    let c0 = col(0), c1 = col(1), c2 = col(2), t0 = th[0], t1 = th[1], t2 = th[2]
                                    let v0 = leaf[0], v1 = leaf[1], v2 = leaf[2], v3 = leaf[3]
                                    var r = 0
                                    while r + 4 <= b {
                                        let a = SIMD4(repeating: v1).replacing(with: v0, where: load4(c1, r) .<= t1)
                                        let bb = SIMD4(repeating: v3).replacing(with: v2, where: load4(c2, r) .<= t2)
                                        store4(sums, r, load4(sums, r) + bb.replacing(with: a, where: load4(c0, r) .<= t0))
                                        r += 4
                                    }
                                    while r < b {
                                        let a = c1[r] <= t1 ? v0 : v1, bb = c2[r] <= t2 ? v2 : v3
                                        sums[r] += c0[r] <= t0 ? a : bb
                                        r += 1
                                    }
                                    continue
                                case 3:
                                    let c0 = col(0), c1 = col(1), c2 = col(2), c3 = col(3), c4 = col(4), c5 = col(5), c6 = col(6)
                                    let t0 = th[0], t1 = th[1], t2 = th[2], t3 = th[3], t4 = th[4], t5 = th[5], t6 = th[6]
                                    let v0 = leaf[0], v1 = leaf[1], v2 = leaf[2], v3 = leaf[3], v4 = leaf[4], v5 = leaf[5], v6 = leaf[6], v7 = leaf[7]
                                    var r = 0
                                    while r + 4 <= b {
                                        let l3 = SIMD4(repeating: v1).replacing(with: v0, where: load4(c3, r) .<= t3)
                                        let l4 = SIMD4(repeating: v3).replacing(with: v2, where: load4(c4, r) .<= t4)
                                        let l5 = SIMD4(repeating: v5).replacing(with: v4, where: load4(c5, r) .<= t5)
                                        let l6 = SIMD4(repeating: v7).replacing(with: v6, where: load4(c6, r) .<= t6)
                                        let left = l4.replacing(with: l3, where: load4(c1, r) .<= t1)
                                        let right = l6.replacing(with: l5, where: load4(c2, r) .<= t2)
                                        store4(sums, r, load4(sums, r) + right.replacing(with: left, where: load4(c0, r) .<= t0))
                                        r += 4
                                    }
                                    while r < b {
                                        let l3 = c3[r] <= t3 ? v0 : v1, l4 = c4[r] <= t4 ? v2 : v3, l5 = c5[r] <= t5 ? v4 : v5, l6 = c6[r] <= t6 ? v6 : v7
                                        let left = c1[r] <= t1 ? l3 : l4, right = c2[r] <= t2 ? l5 : l6
                                        sums[r] += c0[r] <= t0 ? left : right
                                        r += 1
                                    }
                                    continue
                                default:
                                    break
                                }
                                for r in 0..<b { idx[r] = 0 }
                                for _ in 0..<depth {
                                    for r in 0..<b {
                                        let j = Int(idx[r])
                                        let v = xv[Int(f[j]) &* n &+ start &+ r]
                                        idx[r] = Int32(v <= th[j] ? 2 * j + 1 : 2 * j + 2)
                                    }
                                }
                                for r in 0..<b { sums[r] += leaf[Int(idx[r]) - inner] }
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

@inline(__always)
private func load4(_ p: UnsafePointer<Double>, _ r: Int) -> SIMD4<Double> {
    UnsafeRawPointer(p + r).loadUnaligned(as: SIMD4<Double>.self)
}

@inline(__always)
private func load4(_ p: UnsafeMutablePointer<Double>, _ r: Int) -> SIMD4<Double> {
    UnsafeRawPointer(p + r).loadUnaligned(as: SIMD4<Double>.self)
}

@inline(__always)
private func store4(_ p: UnsafeMutablePointer<Double>, _ r: Int, _ v: SIMD4<Double>) {
    UnsafeMutableRawPointer(p + r).storeBytes(of: v, as: SIMD4<Double>.self)
}
