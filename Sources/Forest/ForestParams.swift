import Tabular

/// Hyper-parameters of a random forest, named and defaulted as in scikit-learn's `RandomForestRegressor`.
///
/// `minSamplesLeaf` and `minSamplesSplit` count *weighted* samples: with bootstrap, a row drawn
/// three times counts three times, so a tree is the one that would be grown on the explicitly
/// resampled data set (scikit-learn instead counts distinct in-bag rows). Without bootstrap every
/// weight is 1 and the two readings agree.
public struct ForestParams: Sendable, Equatable, Codable {
    public var nTrees: Int
    /// nil grows every branch until it is pure or too small to split.
    public var maxDepth: Int?
    public var minSamplesLeaf: Int
    public var minSamplesSplit: Int
    /// Features tried per split; nil tries all of them.
    public var maxFeatures: Int?
    /// Each tree sees `n` rows drawn with replacement (as integer multiplicity weights).
    public var bootstrap: Bool
    public var seed: UInt64

    public init(
        nTrees: Int, maxDepth: Int? = nil, minSamplesLeaf: Int = 1, minSamplesSplit: Int = 2,
        maxFeatures: Int? = nil, bootstrap: Bool = true, seed: UInt64
    ) {
        self.nTrees = nTrees
        self.maxDepth = maxDepth
        self.minSamplesLeaf = minSamplesLeaf
        self.minSamplesSplit = minSamplesSplit
        self.maxFeatures = maxFeatures
        self.bootstrap = bootstrap
        self.seed = seed
    }

    /// The first problem with these parameters for data with `columnCount` features, if any.
    func problem(columnCount: Int) -> String? {
        if nTrees < 1 { return "nTrees must be at least 1 (got \(nTrees))" }
        if let d = maxDepth, d < 0 { return "maxDepth must be nil or at least 0 (got \(d))" }
        if minSamplesLeaf < 1 { return "minSamplesLeaf must be at least 1 (got \(minSamplesLeaf))" }
        if minSamplesSplit < 1 { return "minSamplesSplit must be at least 1 (got \(minSamplesSplit))" }
        if let f = maxFeatures, f < 1 || f > columnCount {
            return "maxFeatures must be nil or in 1...\(columnCount) (got \(f))"
        }
        return nil
    }
}

/// Forest parameters or a forest file that cannot be used: the user's input.
public struct ForestError: ClassifiedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var isBadInput: Bool { true }
}
