import Base
import Forest
import Foundation
import Stats

/// Forest hyper-parameters without the seed (each forest gets its own, derived from its name).
public struct ForestSettings: Codable, Sendable, Equatable {
    public var nTrees: Int
    public var maxDepth: Int?
    public var minSamplesLeaf: Int
    public var maxFeatures: Int?

    enum CodingKeys: String, CodingKey {
        case nTrees = "n_trees"
        case maxDepth = "max_depth"
        case minSamplesLeaf = "min_samples_leaf"
        case maxFeatures = "max_features"
    }

    public init(nTrees: Int, maxDepth: Int? = nil, minSamplesLeaf: Int = 1, maxFeatures: Int? = nil) {
        self.nTrees = nTrees
        self.maxDepth = maxDepth
        self.minSamplesLeaf = minSamplesLeaf
        self.maxFeatures = maxFeatures
    }

    public func params(seed: UInt64) -> ForestParams {
        ForestParams(
            nTrees: nTrees, maxDepth: maxDepth, minSamplesLeaf: minSamplesLeaf, minSamplesSplit: max(2, 2 * minSamplesLeaf),
            maxFeatures: maxFeatures, bootstrap: true, seed: seed)
    }

    public var json: JSONValue {
        .object([
            "n_trees": .number(Double(nTrees)), "max_depth": maxDepth.map { .number(Double($0)) } ?? .null,
            "min_samples_leaf": .number(Double(minSamplesLeaf)), "max_features": maxFeatures.map { .number(Double($0)) } ?? .null,
        ])
    }

    public var label: String {
        "\(nTrees) trees, depth \(maxDepth.map(String.init) ?? "full"), leaf ≥ \(minSamplesLeaf)" + (maxFeatures.map { ", \($0) features per split" } ?? "")
    }
}

/// The randomized training rows, encoded.
public struct TrainingData: Sendable {
    public var x: FeatureMatrix
    public var y: [Double]
    /// Arm index per row; 0 is the control arm.
    public var arm: [Int]
    /// Arm names, control first.
    public var armNames: [String]
    /// The design's share of each arm (the known propensities), control first; nil: the rows' own shares.
    public var armShares: [Double]?

    public init(x: FeatureMatrix, y: [Double], arm: [Int], armNames: [String], armShares: [Double]? = nil) {
        precondition(x.rowCount == y.count && y.count == arm.count)
        precondition(armShares.map { $0.count == armNames.count } ?? true)
        self.x = x
        self.y = y
        self.arm = arm
        self.armNames = armNames
        self.armShares = armShares
    }

    public var treatedShare: Double {
        if let armShares { return armShares.dropFirst().reduce(0, +) / armShares.reduce(0, +) }
        return Double(arm.lazy.filter { $0 != 0 }.count) / Double(arm.count)
    }

    /// Probability of being treated among the rows of `arms` and the control rows: from the
    /// design when it is known, else the rows' own share.
    func propensity(of arms: Set<Int>, treatedRows: Int, controlRows: Int) -> Double {
        guard let armShares else { return Double(treatedRows) / Double(treatedRows + controlRows) }
        let treated = arms.sorted().reduce(0.0) { $0 + armShares[$1] }
        return treated / (treated + armShares[0])
    }
}

/// What a learner fit produced: the forests, how to combine them, and the out-of-bag error of
/// each forest (a fit diagnostic, not an uplift metric).
public struct LearnerFit: Sendable {
    public var forests: [String: RandomForest]
    public var outputs: ModelOutputs
    public var oobMSE: [String: Double]
    public var propensity: Double
    public var armPropensities: [String: Double]
    /// The learner's scores computed its own way, from the forest values it trained rather than
    /// from `outputs` (threads as in `RandomForest.predict`). The frozen model only has
    /// `outputs`; `LearnerContract.check` holds the two against each other.
    public var prediction: @Sendable (FeatureMatrix, _ threads: Int) -> UpliftScores
    /// With `Learners.fit(predicting:)`, the scores of those rows as `scores` gives them, from
    /// predictions the forests made while they grew.
    public var heldOutScores: UpliftScores?

    /// The scores as the frozen model computes them (each forest the outputs name evaluated once,
    /// then the terms combined): what the pipeline scores with once the contract check has passed.
    public func scores(_ x: FeatureMatrix, threads: Int) -> UpliftScores {
        outputs.score(forests: forests, x, threads: threads)
    }
}

/// A control-forest prediction of every training row, computed the first time a learner asks
/// (the X-learner imputes effects with it; the T- and DR-learners never do) and then shared by
/// every treated group.
public final class TrainingPrediction: @unchecked Sendable {
    private let compute: () -> [Double]
    private var cached: [Double]?
    private let lock = NSLock()

    init(_ compute: @escaping () -> [Double]) { self.compute = compute }

    public var values: [Double] {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let v = compute()
        cached = v
        return v
    }
}

/// One treated group a learner is fitted for (the pooled treatment, or one arm) with what every
/// learner shares: the rows, the known propensity and the two outcome forests.
public struct TreatedGroup: Sendable {
    /// Appended to the names of the group's forests: "" for the pooled treatment, `_<arm slug>` for one arm.
    public let suffix: String
    /// Arm indices counted as treated.
    public let arms: Set<Int>
    /// Training rows of the treated arms and of the control arm.
    public let treated: [Int]
    public let control: [Int]
    /// Share of treated rows among the group's rows.
    public let propensity: Double
    /// Control outcome forest (shared by every group) and its predictions for every training row.
    public let mu0: RandomForest
    public let mu0OnTraining: TrainingPrediction
    /// The group's treated outcome forest and its name in the model.
    public let mu1Name: String
    public let mu1: RandomForest
}

/// A learner's uplift for one treated group: the terms the frozen model records, and the same
/// uplift written the learner's own way (from the forests it trained) for the contract check.
public struct GroupUplift: Sendable {
    public var terms: [OutputTerm]
    public var predict: @Sendable (FeatureMatrix, _ threads: Int) -> [Double]

    public init(terms: [OutputTerm], predict: @escaping @Sendable (FeatureMatrix, _ threads: Int) -> [Double]) {
        self.terms = terms
        self.predict = predict
    }
}

/// What a learner kind's fit works with: data, configuration, seeds, and the forests kept so far
/// (every kept forest goes into the model file under its name).
public struct LearnerFitting {
    public let config: LearnerConfig
    public let data: TrainingData
    public let seed: UInt64
    /// Seed of the outcome forests (mu0, mu1 per group): learners given the same one, the same
    /// rows and the same outcome settings train the same outcome forests (and with a shared
    /// `cache`, train them once).
    public let outcomeSeed: UInt64
    public let threads: Int
    public let progress: (@Sendable (String) -> Void)?
    let cache: ForestCache?
    /// Whether the forests estimate their out-of-bag error (`oobMSE`), a diagnostic; the forests
    /// are the same either way.
    let outOfBag: Bool
    /// Rows every forest of the fit predicts while it grows (`Learners.fit(predicting:)`), and
    /// the predictions by forest name.
    let heldOut: HeldOutRows?
    var heldOutPredictions: [String: [Double]] = [:]
    public internal(set) var forests: [String: RandomForest] = [:]
    public internal(set) var oobMSE: [String: Double] = [:]
    /// The rows and parameters each outcome forest was trained with, and its out-of-bag
    /// predictions once known (`outOfBagPredictions`).
    private var outcomeTraining: [String: (rows: [Int], params: ForestParams)] = [:]
    private var outOfBagByForest: [String: [Double]] = [:]

    init(
        config: LearnerConfig, data: TrainingData, seed: UInt64, outcomeSeed: UInt64, threads: Int,
        progress: (@Sendable (String) -> Void)?, cache: ForestCache?, outOfBag: Bool, heldOut: HeldOutRows? = nil
    ) {
        self.outOfBag = outOfBag
        self.heldOut = heldOut
        self.config = config
        self.data = data
        self.seed = seed
        self.outcomeSeed = outcomeSeed
        self.threads = threads
        self.progress = progress
        self.cache = cache
    }

    /// Trains a forest on `rows` and keeps it under `name`; the name also derives its seed (from
    /// `outcomeSeed` for an outcome forest, else from `seed`), so a forest does not change when
    /// other forests are added or trained in another order.
    @discardableResult
    public mutating func train(
        _ name: String, rows: [Int], target: [Double], settings: ForestSettings, outcomeForest: Bool = false
    ) throws -> RandomForest {
        progress?(name)
        let params = settings.params(seed: Learners.seed(outcomeForest ? outcomeSeed : seed, name))
        if outcomeForest { outcomeTraining[name] = (rows, params) }
        // Only the outcome forests can be shared (with another learner, or the per-arm cross-fit),
        // so only they go through the cache: the others would only hold memory.
        let (forest, summary, predictions) = try Learners.train(
            data.x.rows(rows), target, params: params, threads: threads, outOfBag: outOfBag, predicting: heldOut,
            cache: outcomeForest ? cache : nil)
        forests[name] = forest
        if let predictions { heldOutPredictions[name] = predictions }
        if let mse = summary?.oobMSE { oobMSE[name] = mse }
        if outcomeForest, let summary { outOfBagByForest[name] = summary.oobPredictions }
        return forest
    }

    /// Outcome forest `name`'s predictions of its own training rows (in the order they were given
    /// to `train`), each by the trees whose bootstrap left the row out: a prediction that never saw
    /// the row's outcome. The training's own when it estimated them, else recomputed (through the
    /// cache when there is one). A row in every tree's bootstrap has none: an error naming the
    /// forest and what to change.
    public mutating func outOfBagPredictions(of name: String) throws -> [Double] {
        guard let forest = forests[name], let training = outcomeTraining[name] else {
            preconditionFailure("outOfBagPredictions: \(name) is not an outcome forest of this fit")
        }
        let values: [Double]
        if let known = outOfBagByForest[name] {
            values = known
        } else {
            let x = data.x.rows(training.rows), y = training.rows.map { data.y[$0] }
            if let summary = cache?.outOfBagSummary(x, y, params: training.params, threads: threads) {
                values = summary.oobPredictions
            } else {
                values = ForestTrainer.outOfBagSummary(of: forest, trainedOn: x, y: y, seed: training.params.seed, threads: threads).oobPredictions
            }
            outOfBagByForest[name] = values
        }
        let missing = values.lazy.filter(\.isNaN).count
        if missing > 0 {
            throw ForestError(
                "DR-learner: \(missing) of the \(values.count) rows outcome forest \(name) was trained on are in the bootstrap sample of "
                    + "every one of its \(forest.trees.count) trees, so they have no out-of-bag prediction; grow more trees "
                    + "(the learner's outcome forests: tuning.final_trees for the registry's DR-learner) or set dr_nuisance: cross_fit")
        }
        return values
    }
}

/// How a learner turns forests into uplift. Every kind shares the outcome forests (mu0 on the
/// control rows, mu1 per treated group, which also give y0_hat and y1_hat); `fitGroup` trains
/// whatever else the kind needs for a treated group and returns its uplift as a fixed linear
/// combination of forests.
///
/// The contract (checked by `LearnerContract.check`, relied on by the shipped scorer): every
/// score is a linear combination of forest predictions, `Σ weight × forest(x)`, with weights
/// fixed at fit time and every forest named in the model. Anything a learner wants to do to
/// the predictions beyond that (clipping, products, a propensity that depends on x) cannot be
/// frozen and is rejected.
public struct LearnerKind: Sendable, Equatable, CustomStringConvertible {
    /// Recorded as `kind` in meta.json's `learner_params`.
    public let name: String
    /// Whether the kind trains effect forests (`LearnerConfig.effect`) and takes out-of-fold
    /// outcome predictions (`nuisance`: out of bag, or cross-fitted on `folds`): what the model
    /// metadata and the settings label mention.
    public let usesEffectForests: Bool
    public let usesCrossFitting: Bool
    let fitGroup: @Sendable (inout LearnerFitting, TreatedGroup) throws -> GroupUplift

    public init(
        name: String, usesEffectForests: Bool, usesCrossFitting: Bool,
        fitGroup: @escaping @Sendable (inout LearnerFitting, TreatedGroup) throws -> GroupUplift
    ) {
        self.name = name
        self.usesEffectForests = usesEffectForests
        self.usesCrossFitting = usesCrossFitting
        self.fitGroup = fitGroup
    }

    public static func == (a: LearnerKind, b: LearnerKind) -> Bool { a.name == b.name }
    public var description: String { name }
}

extension LearnerKind {
    /// Two outcome models, treated and control; uplift is their difference.
    public static let t = LearnerKind(name: "t", usesEffectForests: false, usesCrossFitting: false) { _, g in
        let mu1 = g.mu1, mu0 = g.mu0
        return GroupUplift(terms: [OutputTerm(g.mu1Name, 1), OutputTerm("mu0", -1)]) { x, threads in
            zip(mu1.predict(x, threads: threads), mu0.predict(x, threads: threads)).map { $0 - $1 }
        }
    }

    /// Künzel et al.'s X-learner: imputed effects from the other arm's outcome model, one effect
    /// model per arm, blended by the propensity.
    public static let x = LearnerKind(name: "x", usesEffectForests: true, usesCrossFitting: false) { fitting, g in
        let data = fitting.data
        // Imputed effects: treated rows against the control model, control rows against the treated model.
        let mu0OnTraining = g.mu0OnTraining.values
        let d1 = g.treated.map { data.y[$0] - mu0OnTraining[$0] }
        let mu1OnControl = g.mu1.predict(data.x.rows(g.control), threads: fitting.threads)
        let d0 = g.control.indices.map { mu1OnControl[$0] - data.y[g.control[$0]] }
        let tau1 = try fitting.train("tau1" + g.suffix, rows: g.treated, target: d1, settings: fitting.config.effect)
        let tau0 = try fitting.train("tau0" + g.suffix, rows: g.control, target: d0, settings: fitting.config.effect)
        let e = g.propensity
        return GroupUplift(terms: [OutputTerm("tau0" + g.suffix, e), OutputTerm("tau1" + g.suffix, 1 - e)]) { x, threads in
            zip(tau0.predict(x, threads: threads), tau1.predict(x, threads: threads)).map { e * $0 + (1 - e) * $1 }
        }
    }

    /// Kennedy's DR-learner: a doubly robust pseudo-outcome from outcome models that never saw the
    /// row (out of bag, or cross-fitted), regressed on the features.
    public static let dr = LearnerKind(name: "dr", usesEffectForests: true, usesCrossFitting: true) { fitting, g in
        let rows = (g.treated + g.control).sorted()
        let pseudo: [Double]
        switch fitting.config.nuisance {
        case .outOfBag:
            pseudo = try Learners.drPseudoOutcomeOutOfBag(rows: rows, group: g, fitting: &fitting)
        case .crossFit:
            pseudo = try Learners.drPseudoOutcome(
                rows: rows, data: fitting.data, treatedArms: g.arms, e: g.propensity, config: fitting.config,
                seed: fitting.seed, suffix: g.suffix, threads: fitting.threads, progress: fitting.progress)
        }
        let tau = try fitting.train("tau" + g.suffix, rows: rows, target: pseudo, settings: fitting.config.effect)
        return GroupUplift(terms: [OutputTerm("tau" + g.suffix, 1)]) { x, threads in tau.predict(x, threads: threads) }
    }
}

/// Where the DR-learner's pseudo-outcome takes each row's outcome-model predictions from: models
/// that never saw the row's outcome either way.
public enum DRNuisance: String, Codable, Sendable {
    /// The outcome forests every learner shares (mu0, mu1), each row predicted by the trees whose
    /// bootstrap left it out; a treated row's mu0 (and a control row's mu1) comes from a forest
    /// that never saw the row at all. In the spirit of grf's doubly robust scores, built from
    /// out-of-bag forest predictions (Athey, Tibshirani and Wager 2019); no extra forest is grown.
    case outOfBag = "out_of_bag"
    /// Outcome forests of their own, refitted on K − 1 of K folds and predicting the K-th.
    case crossFit = "cross_fit"
}

public struct LearnerConfig: Sendable, Equatable {
    public var kind: LearnerKind
    /// Outcome models (mu0, mu1).
    public var outcome: ForestSettings
    /// Effect models (X: tau0, tau1; DR: tau).
    public var effect: ForestSettings
    /// Cross-fitting folds of the DR-learner's outcome models (with `nuisance` `.crossFit`).
    public var folds: Int
    /// Where the DR-learner's outcome-model predictions come from.
    public var nuisance: DRNuisance

    public init(kind: LearnerKind, outcome: ForestSettings, effect: ForestSettings? = nil, folds: Int = 2, nuisance: DRNuisance = .outOfBag) {
        self.kind = kind
        self.outcome = outcome
        self.effect = effect ?? outcome
        self.folds = folds
        self.nuisance = nuisance
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(kind.name), "outcome_forest": outcome.json]
        if kind.usesEffectForests { o["effect_forest"] = effect.json }
        if kind.usesCrossFitting {
            o["nuisance"] = .string(nuisance.rawValue)
            if nuisance == .crossFit { o["cross_fitting_folds"] = .number(Double(folds)) }
        }
        return .object(o)
    }

    /// How the DR-learner keeps each row's outcome predictions from models fitted on it, in words.
    public var nuisanceLabel: String {
        nuisance == .outOfBag ? "out-of-bag outcome predictions" : "\(folds)-fold cross-fitted outcome models"
    }

    /// The forests in words, for tables and the report.
    public var label: String {
        var parts: [String]
        if !kind.usesEffectForests {
            parts = ["outcome forests: \(outcome.label)"]
        } else if effect == outcome {
            parts = ["outcome and effect forests: \(outcome.label)"]
        } else {
            parts = ["outcome forests: \(outcome.label)", "effect forests: \(effect.label)"]
        }
        if kind.usesCrossFitting { parts.append(nuisanceLabel) }
        return parts.joined(separator: "; ")
    }
}

public enum Learners {
    /// A 64-bit seed for the named forest: the same name and master seed give the same forest
    /// whatever else is trained or in which order.
    public static func seed(_ master: UInt64, _ label: String) -> UInt64 {
        var h = SHA256()
        h.update(Array("\(master):\(label)".utf8))
        return h.finalize().prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A forest through `cache` when there is one, with its out-of-bag summary when `outOfBag`
    /// and its predictions of the rows of `predicting` when given.
    static func train(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int, outOfBag: Bool = true, predicting heldOut: HeldOutRows? = nil,
        cache: ForestCache?
    ) throws -> (forest: RandomForest, summary: TrainingSummary?, predictions: [Double]?) {
        if let cache { return try cache.train(x, y, params: params, threads: threads, outOfBag: outOfBag, predicting: heldOut) }
        let (forest, summary, predictions) = try ForestTrainer.train(
            x, y, params: params, threads: threads, outOfBag: outOfBag, predicting: heldOut?.x)
        return (forest, outOfBag ? summary : nil, heldOut == nil ? nil : predictions)
    }

    /// Fits one learner for the pooled treatment (any treated arm vs control) and, when
    /// `perArm`, for each treated arm vs control. The outcome forests take their seeds from
    /// `outcomeSeed` (default `seed`); `cache` lets fits on the same rows share forests;
    /// `outOfBagErrors: false` leaves `oobMSE` empty and saves its time (a cross-fit's folds).
    /// `predicting`: rows (encoded like `data.x`) whose scores `heldOutScores` holds, the bits
    /// `scores` gives them, from predictions every forest makes while it grows.
    public static func fit(
        _ config: LearnerConfig, data: TrainingData, perArm: Bool, seed: UInt64, outcomeSeed: UInt64? = nil,
        threads: Int = ForestTrainer.defaultThreads,
        progress: (@Sendable (String) -> Void)? = nil, cache: ForestCache? = nil, outOfBagErrors: Bool = true,
        predicting heldOut: HeldOutRows? = nil
    ) throws -> LearnerFit {
        var fitting = LearnerFitting(
            config: config, data: data, seed: seed, outcomeSeed: outcomeSeed ?? seed, threads: threads, progress: progress,
            cache: cache, outOfBag: outOfBagErrors, heldOut: heldOut)
        let control = data.arm.indices.filter { data.arm[$0] == 0 }
        let mu0 = try fitting.train(
            "mu0", rows: control, target: control.map { data.y[$0] }, settings: config.outcome, outcomeForest: true)
        let mu0All = TrainingPrediction { mu0.predict(data.x, threads: threads) }

        var groups: [(suffix: String, armName: String?, arms: Set<Int>)] = [("", nil, Set(1..<data.armNames.count))]
        if perArm {
            for k in 1..<data.armNames.count { groups.append(("_" + slug(data.armNames[k]), data.armNames[k], [k])) }
        }

        var pooled: (uplift: GroupUplift, mu1: RandomForest, propensity: Double)?
        var arms: [(output: ModelOutputs.Arm, predict: @Sendable (FeatureMatrix, Int) -> [Double])] = []
        var armPropensities: [String: Double] = [:]
        for group in groups {
            let treated = data.arm.indices.filter { group.arms.contains(data.arm[$0]) }
            let e = data.propensity(of: group.arms, treatedRows: treated.count, controlRows: control.count)
            let mu1Name = "mu1" + group.suffix
            let mu1 = try fitting.train(
                mu1Name, rows: treated, target: treated.map { data.y[$0] }, settings: config.outcome, outcomeForest: true)
            let uplift = try config.kind.fitGroup(
                &fitting,
                TreatedGroup(
                    suffix: group.suffix, arms: group.arms, treated: treated, control: control,
                    propensity: e, mu0: mu0, mu0OnTraining: mu0All, mu1Name: mu1Name, mu1: mu1))
            if let armName = group.armName {
                arms.append((.init(arm: armName, column: "uplift_" + slug(armName), uplift: uplift.terms), uplift.predict))
                armPropensities[armName] = e
            } else {
                pooled = (uplift, mu1, e)
            }
        }
        guard let pooled else { preconditionFailure("the pooled treatment is always the first group") }
        let outputs = ModelOutputs(y1: [OutputTerm("mu1", 1)], y0: [OutputTerm("mu0", 1)], uplift: pooled.uplift.terms, arms: arms.map(\.output))
        let mu1 = pooled.mu1, upliftPrediction = pooled.uplift.predict, armPredictions = arms.map(\.predict)
        var fit = LearnerFit(
            forests: fitting.forests, outputs: outputs, oobMSE: fitting.oobMSE, propensity: pooled.propensity,
            armPropensities: armPropensities
        ) { x, threads in
            UpliftScores(
                y1: mu1.predict(x, threads: threads), y0: mu0.predict(x, threads: threads), uplift: upliftPrediction(x, threads),
                armUplift: armPredictions.map { $0(x, threads) })
        }
        if let heldOut {
            var predictions: [String: [Double]] = [:]
            for name in outputs.forestNames {
                predictions[name] = fitting.heldOutPredictions[name] ?? fitting.forests[name]!.predict(heldOut.x, threads: threads)
            }
            fit.heldOutScores = outputs.score(predictions: predictions, rows: heldOut.x.rowCount)
        }
        return fit
    }

    /// One row's doubly robust pseudo-outcome from its outcome predictions: the formula both ways
    /// of keeping those predictions honest share.
    @inline(__always)
    static func drPseudoOutcome(mu1: Double, mu0: Double, y: Double, treated: Bool, e: Double) -> Double {
        mu1 - mu0 + (treated ? (y - mu1) / e : -(y - mu0) / (1 - e))
    }

    /// phi = mu1(x) − mu0(x) + T (y − mu1(x)) / e − (1 − T)(y − mu0(x)) / (1 − e) from the group's
    /// shared outcome forests: a treated row's mu1 out of bag and its mu0 from the control forest
    /// (which never saw it); a control row's mu0 out of bag and its mu1 from the treated forest.
    /// No row's pseudo-outcome uses a tree fitted on it. In the order of `rows`.
    static func drPseudoOutcomeOutOfBag(rows: [Int], group g: TreatedGroup, fitting: inout LearnerFitting) throws -> [Double] {
        let data = fitting.data, e = g.propensity
        let mu1Own = try fitting.outOfBagPredictions(of: g.mu1Name)
        let mu0Own = try fitting.outOfBagPredictions(of: "mu0")
        precondition(mu1Own.count == g.treated.count && mu0Own.count == g.control.count, "out-of-bag predictions follow the group's rows")
        let mu0All = g.mu0OnTraining.values
        let mu1OnControl = g.mu1.predict(data.x.rows(g.control), threads: fitting.threads)
        var phiByRow = [Double](repeating: .nan, count: data.y.count)
        for (i, r) in g.treated.enumerated() {
            let m1 = mu1Own[i], m0 = mu0All[r]
            phiByRow[r] = drPseudoOutcome(mu1: m1, mu0: m0, y: data.y[r], treated: true, e: e)
        }
        for (j, r) in g.control.enumerated() {
            let m1 = mu1OnControl[j], m0 = mu0Own[j]
            phiByRow[r] = drPseudoOutcome(mu1: m1, mu0: m0, y: data.y[r], treated: false, e: e)
        }
        return rows.map { phiByRow[$0] }
    }

    /// phi = mu1(x) − mu0(x) + T (y − mu1(x)) / e − (1 − T)(y − mu0(x)) / (1 − e), with the outcome
    /// models of each row fitted on the other folds (cross-fitting), so no row's pseudo-outcome
    /// uses a model that saw it.
    static func drPseudoOutcome(
        rows: [Int], data: TrainingData, treatedArms: Set<Int>, e: Double, config: LearnerConfig,
        seed: UInt64, suffix: String, threads: Int,
        progress: (@Sendable (String) -> Void)?
    ) throws -> [Double] {
        let k = max(2, config.folds)
        // Folds stratified by treatment: shuffle each arm's rows with the fold seed, deal them round-robin.
        var fold = [Int](repeating: 0, count: rows.count)
        var generator = SeededGenerator(seed: Self.seed(seed, "dr_folds" + suffix))
        for isTreated in [true, false] {
            var members = rows.indices.filter { treatedArms.contains(data.arm[rows[$0]]) == isTreated }
            generator.shuffle(&members)
            for (i, m) in members.enumerated() { fold[m] = i % k }
        }
        var phi = [Double](repeating: 0, count: rows.count)
        for f in 0..<k {
            let fitRows = rows.indices.filter { fold[$0] != f }
            let treatedFit = fitRows.filter { treatedArms.contains(data.arm[rows[$0]]) }.map { rows[$0] }
            let controlFit = fitRows.filter { !treatedArms.contains(data.arm[rows[$0]]) }.map { rows[$0] }
            let holdout = rows.indices.filter { fold[$0] == f }
            let holdoutX = data.x.rows(holdout.map { rows[$0] })
            progress?("dr fold \(f + 1)/\(k)\(suffix)")
            // Each forest predicts the held-out fold while it grows (`RandomForest.predict`'s bits).
            let p1 = try ForestTrainer.train(
                data.x.rows(treatedFit), treatedFit.map { data.y[$0] },
                params: config.outcome.params(seed: Self.seed(seed, "dr_mu1\(suffix)_fold\(f)")), threads: threads, outOfBag: false,
                predicting: holdoutX
            ).predictions
            let p0 = try ForestTrainer.train(
                data.x.rows(controlFit), controlFit.map { data.y[$0] },
                params: config.outcome.params(seed: Self.seed(seed, "dr_mu0\(suffix)_fold\(f)")), threads: threads, outOfBag: false,
                predicting: holdoutX
            ).predictions
            for (j, i) in holdout.enumerated() {
                let row = rows[i]
                let y = data.y[row]
                let t = treatedArms.contains(data.arm[row])
                phi[i] = drPseudoOutcome(mu1: p1[j], mu0: p0[j], y: y, treated: t, e: e)
            }
        }
        return phi
    }
}
