import Foundation
import Stats

/// One depth limit's out-of-bag error (see `ForestTrainer.outOfBagErrors`).
public struct DepthError: Sendable, Equatable {
    public var maxDepth: Int
    /// Over rows with at least one out-of-bag tree; nil if there are none.
    public var oobMSE: Double?
    public var oobRows: Int
}

extension ForestTrainer {
    /// The out-of-bag error of the forests `params` would grow with `maxDepth` set to each of
    /// `depths`, from one forest grown to the deepest of them (nil errors without bootstrap).
    ///
    /// Without feature sampling (`maxFeatures` nil or at least the columns) a node's split does not
    /// depend on the depth limit (no random draw happens after the bootstrap), so the tree grown to
    /// depth d is the deeper tree cut at d, its depth-d nodes leaves with the values they already
    /// hold. Each tree's out-of-bag rows go down the tree as it grows (as prediction sends them),
    /// their values are read at every cut, and summed per row in tree order as `train` sums them:
    /// the errors are the same bits as training one forest per depth. With
    /// feature sampling the draws of the deeper nodes would change the later ones, so each depth
    /// is trained on its own.
    public static func outOfBagErrors(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, depths: [Int], threads: Int = defaultThreads
    ) throws -> [DepthError] {
        guard let deepest = depths.max() else { return [] }
        // Each depth's parameters checked as training checks them (the same messages).
        for d in depths {
            var each = params
            each.maxDepth = d
            if let problem = each.problem(columnCount: x.columnCount) { throw ForestError("bad forest parameters: \(problem)") }
        }
        // Without bootstrap there is no out-of-bag row, as in `train`.
        guard params.bootstrap else { return depths.map { DepthError(maxDepth: $0, oobMSE: nil, oobRows: 0) } }
        var grown = params
        guard params.maxFeatures.map({ $0 >= x.columnCount }) ?? true else {
            return try depths.map { d in
                grown.maxDepth = d
                let summary = try train(x, y, params: grown, threads: threads).summary
                return DepthError(maxDepth: d, oobMSE: summary.oobMSE, oobRows: summary.oobRows)
            }
        }
        grown.maxDepth = deepest
        // The out-of-bag rows go down each tree as it grows, and their values are read at every cut.
        let (_, oob) = try grow(x, y, params: grown, threads: threads, outOfBag: true, depthCuts: depths)
        let (sums, counts) = (oob.cutSums, oob.counts)
        // The same summary `train` makes of its forest's out-of-bag sums.
        return depths.enumerated().map { j, d in
            let summary = outOfBagSummary(sums: sums[j], counts: counts, y: y)
            return DepthError(maxDepth: d, oobMSE: summary.oobMSE, oobRows: summary.oobRows)
        }
    }

    /// The out-of-bag summary `train` would have returned for `forest` (the same bits), for a
    /// forest trained on `x`, `y` with bootstrap and `seed` but without the estimate: each tree's
    /// bootstrap is drawn again and its out-of-bag rows walked down it.
    public static func outOfBagSummary(of forest: RandomForest, trainedOn x: FeatureMatrix, y: [Double], seed: UInt64, threads: Int = defaultThreads)
        -> TrainingSummary
    {
        precondition(y.count == x.rowCount, "outOfBagSummary: \(y.count) targets for \(x.rowCount) rows")
        precondition(x.columnCount >= forest.featureCount, "outOfBagSummary: x has fewer columns than the forest's features")
        let n = x.rowCount
        // Per tree (on any thread): its out-of-bag rows and their leaf values; then summed per row in tree order.
        let perTree = [(rows: [Int32], values: [Double])](unsafeUninitializedCapacity: forest.trees.count) { buffer, initialized in
            let out = SharedBuffer(buffer)
            parallelChunks(total: forest.trees.count, chunk: 1, threads: threads) { range in
                let weight = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n))
                defer { weight.deallocate() }
                x.values.withUnsafeBufferPointer { xv in
                    for t in range {
                        let tree = forest.trees[t]
                        var rng = SeededGenerator.derived(seed: seed, index: UInt64(t))
                        TreeBuilder.drawBootstrap(&rng, rows: n, into: weight)
                        var rows: [Int32] = [], values: [Double] = []
                        for r in 0..<n where weight[r] == 0 {
                            var node = 0
                            while tree.feature[node] >= 0 {
                                let f = Int(tree.feature[node])
                                node = Int(xv[f * n + r] <= tree.threshold[node] ? tree.left[node] : tree.right[node])
                            }
                            rows.append(Int32(r))
                            values.append(tree.value[node])
                        }
                        (out.base + t).initialize(to: (rows, values))
                    }
                }
            }
            initialized = forest.trees.count
        }
        var sums = [Double](repeating: 0, count: n)
        var counts = [Int32](repeating: 0, count: n)
        for tree in perTree {
            for (i, r) in tree.rows.enumerated() {
                counts[Int(r)] += 1
                sums[Int(r)] += tree.values[i]
            }
        }
        return outOfBagSummary(sums: sums, counts: counts, y: y)
    }
}
