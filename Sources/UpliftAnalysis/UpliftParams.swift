import Foundation
import Tabular
import Uplift

/// The grid searched for the tuned, depth-limited forests (chosen by out-of-bag error on the
/// training split only; the test split is never used for choices).
public struct TuningGrid: Codable, Sendable, Equatable {
    public var nTrees: Int
    public var maxDepth: [Int]
    public var minSamplesLeaf: [Int]
    public var maxFeatures: Int?
    /// Trees of the final tuned forests.
    public var finalTrees: Int

    enum CodingKeys: String, CodingKey {
        case nTrees = "n_trees"
        case maxDepth = "max_depth"
        case minSamplesLeaf = "min_samples_leaf"
        case maxFeatures = "max_features"
        case finalTrees = "final_trees"
    }
}

/// How the production learner is chosen: by K-fold cross-fitting on the training split only (folds
/// stratified by arm), so the test split measures the chosen learner once and chooses nothing.
public struct SelectionParams: Codable, Sendable, Equatable {
    public enum Rule: String, Codable, Sendable {
        /// The learner with the highest cross-fitted AUUC (mean over the forest seeds) among those
        /// whose paired difference against the baseline has an adjusted lower bound above zero; the
        /// baseline when no learner is supported.
        case bestSupported = "best_supported"
        /// The learner with the highest cross-fitted AUUC (mean over the forest seeds).
        case bestMean = "best_mean"
        /// As `best_supported` when some learner is supported; otherwise the one-standard-error
        /// rule: the smallest model (fewest tree nodes) among the learners whose mean AUUC is within
        /// one standard error of the best mean.
        case supportedOrSimplest = "supported_or_simplest"
    }

    public var folds: Int
    /// Forest seeds per learner: the first gives the scores and intervals, all give the seed-to-seed spread.
    public var seeds: Int
    public var rule: Rule
}

public struct UpliftParams: Codable, Sendable, Equatable {
    /// Fewest tuned trees the DR-learner's out-of-bag predictions accept (see `validate`).
    public static let outOfBagTrees = 40

    public var seed: UInt64
    public var primaryOutcome: String
    public var outcomes: [String]
    public var baseline: ForestSettings
    public var tuning: TuningGrid
    /// Keys of `LearnerRegistry.all`; decoding rejects an unknown key and names the valid ones.
    public var learners: [LearnerDescriptor]
    public var selection: SelectionParams
    public var drFolds: Int
    /// Where the DR-learner's outcome-model predictions come from; absent: out of bag.
    public var drNuisance: DRNuisance?
    public var bootstrapReplicates: Int
    public var confidenceLevel: Double
    public var deciles: Int
    public var curvePoints: Int

    enum CodingKeys: String, CodingKey {
        case seed, outcomes, baseline, tuning, learners, deciles, selection
        case primaryOutcome = "primary_outcome"
        case drFolds = "dr_folds"
        case drNuisance = "dr_nuisance"
        case bootstrapReplicates = "bootstrap_replicates"
        case confidenceLevel = "confidence_level"
        case curvePoints = "curve_points"
    }

    public func validate(source: String, outcomeNames: [String]) throws {
        // Bad parameters are bad input (exit 2), reported against the parameter file.
        func fail(_ m: String) -> Error { DataError(file: source, message: m) }
        for o in outcomes + [primaryOutcome] where !outcomeNames.contains(o) {
            throw fail("outcome '\(o)' is not in the data set spec (outcomes: \(outcomeNames.joined(separator: ", ")))")
        }
        if !outcomes.contains(primaryOutcome) { throw fail("primary_outcome '\(primaryOutcome)' must be listed in outcomes") }
        if let repeated = learners.first(where: { l in learners.filter { $0 == l }.count > 1 }) {
            throw fail("learners lists '\(repeated.key)' more than once")
        }
        if selection.folds < 2 { throw fail("selection.folds must be at least 2") }
        if selection.seeds < 1 { throw fail("selection.seeds must be at least 1") }
        let baseline = LearnerRegistry.baseline
        if !learners.contains(baseline) { throw fail("learners must include \(baseline.key) (the comparisons are against it)") }
        if bootstrapReplicates < 200 { throw fail("bootstrap_replicates must be at least 200") }
        if !(confidenceLevel > 0 && confidenceLevel < 1) { throw fail("confidence_level must be in (0, 1)") }
        if deciles < 2 { throw fail("deciles must be at least 2") }
        if drFolds < 2 { throw fail("dr_folds must be at least 2") }
        if tuning.maxDepth.isEmpty || tuning.minSamplesLeaf.isEmpty { throw fail("the tuning grid is empty") }
        // The forest settings, named by their keys before any forest is grown.
        func atLeast(_ value: Int?, _ minimum: Int, _ key: String) throws {
            if let value, value < minimum { throw fail("\(key) must be at least \(minimum) (got \(value))") }
        }
        try atLeast(self.baseline.nTrees, 1, "baseline.n_trees")
        try atLeast(self.baseline.maxDepth, 0, "baseline.max_depth")
        try atLeast(self.baseline.minSamplesLeaf, 1, "baseline.min_samples_leaf")
        try atLeast(self.baseline.maxFeatures, 1, "baseline.max_features")
        try atLeast(tuning.nTrees, 1, "tuning.n_trees")
        try atLeast(tuning.finalTrees, 1, "tuning.final_trees")
        for d in tuning.maxDepth { try atLeast(d, 0, "tuning.max_depth") }
        for l in tuning.minSamplesLeaf { try atLeast(l, 1, "tuning.min_samples_leaf") }
        try atLeast(tuning.maxFeatures, 1, "tuning.max_features")
        // The DR-learner's out-of-bag predictions need every training row out of some tree's
        // bootstrap: a row is in all T of them with probability 0.632^T (about 1e-8 at 40 trees).
        if learners.contains(where: { $0.kind == .dr && $0.forests == .tuned }) && (drNuisance ?? .outOfBag) == .outOfBag
            && tuning.finalTrees < Self.outOfBagTrees
        {
            throw fail(
                "tuning.final_trees must be at least \(Self.outOfBagTrees) for the DR-learner's out-of-bag predictions (got \(tuning.finalTrees)); "
                    + "or set dr_nuisance: cross_fit")
        }
    }
}
