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
}
