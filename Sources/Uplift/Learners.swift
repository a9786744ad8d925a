import Forest
import Foundation
import Base
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
        ForestParams(nTrees: nTrees, maxDepth: maxDepth, minSamplesLeaf: minSamplesLeaf, minSamplesSplit: max(2, 2 * minSamplesLeaf),
                     maxFeatures: maxFeatures, bootstrap: true, seed: seed)
    }

    public var json: JSONValue {
        .object(["n_trees": .number(Double(nTrees)), "max_depth": maxDepth.map { .number(Double($0)) } ?? .null,
                 "min_samples_leaf": .number(Double(minSamplesLeaf)), "max_features": maxFeatures.map { .number(Double($0)) } ?? .null])
    }

    public var label: String {
        "\(nTrees) trees, depth \(maxDepth.map(String.init) ?? "full"), leaf ≥ \(minSamplesLeaf)" + (maxFeatures.map { ", \($0) features per split" } ?? "")
    }
}

public enum LearnerKind: String, Codable, Sendable, CaseIterable {
    /// Two outcome models, treated and control; uplift is their difference.
    case t
    /// Künzel et al.'s X-learner: imputed effects from the other arm's outcome model, one effect
    /// model per arm, blended by the propensity.
    case x
    /// Kennedy's DR-learner: a doubly robust pseudo-outcome from cross-fitted outcome models,
    /// regressed on the features.
    case dr
}

/// The randomized training rows, encoded.
public struct TrainingData: Sendable {
    public var x: FeatureMatrix
    public var y: [Double]
    /// Arm index per row; 0 is the control arm.
    public var arm: [Int]
    /// Arm names, control first.
    public var armNames: [String]

    public init(x: FeatureMatrix, y: [Double], arm: [Int], armNames: [String]) {
        precondition(x.rowCount == y.count && y.count == arm.count)
        self.x = x
        self.y = y
        self.arm = arm
        self.armNames = armNames
    }

    public var treatedShare: Double {
        Double(arm.lazy.filter { $0 != 0 }.count) / Double(arm.count)
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
}

public struct LearnerConfig: Sendable, Equatable {
    public var kind: LearnerKind
    /// Outcome models (mu0, mu1).
    public var outcome: ForestSettings
    /// Effect models (X: tau0, tau1; DR: tau).
    public var effect: ForestSettings
    /// Cross-fitting folds of the DR-learner's outcome models.
    public var folds: Int

    public init(kind: LearnerKind, outcome: ForestSettings, effect: ForestSettings? = nil, folds: Int = 2) {
        self.kind = kind
        self.outcome = outcome
        self.effect = effect ?? outcome
        self.folds = folds
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(kind.rawValue), "outcome_forest": outcome.json]
        if kind != .t { o["effect_forest"] = effect.json }
        if kind == .dr { o["cross_fitting_folds"] = .number(Double(folds)) }
        return .object(o)
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

    /// Fits one learner for the pooled treatment (any treated arm vs control) and, when
    /// `perArm`, for each treated arm vs control.
    public static func fit(_ config: LearnerConfig, data: TrainingData, perArm: Bool, seed: UInt64,
                           threads: Int = ForestTrainer.defaultThreads,
                           progress: (@Sendable (String) -> Void)? = nil) throws -> LearnerFit {
        var forests: [String: RandomForest] = [:]
        var oob: [String: Double] = [:]
        let control = data.arm.indices.filter { data.arm[$0] == 0 }

        func train(_ name: String, rows: [Int], target: [Double], settings: ForestSettings, keep: Bool = true) throws -> RandomForest {
            progress?(name)
            let (forest, summary) = try ForestTrainer.train(data.x.rows(rows), target, params: settings.params(seed: Self.seed(seed, name)),
                                                            threads: threads)
            if keep {
                forests[name] = forest
                if let m = summary.oobMSE { oob[name] = m }
            }
            return forest
        }

        let mu0 = try train("mu0", rows: control, target: control.map { data.y[$0] }, settings: config.outcome)
        let mu0All = mu0.predict(data.x, threads: threads)

        var groups: [(suffix: String, armName: String?, arms: Set<Int>)] = [("", nil, Set(1..<data.armNames.count))]
        if perArm {
            for k in 1..<data.armNames.count { groups.append(("_" + slug(data.armNames[k]), data.armNames[k], [k])) }
        }

        var pooledUplift: [OutputTerm] = []
        var armOutputs: [ModelOutputs.Arm] = []
        var propensity = 0.0
        var armPropensities: [String: Double] = [:]
        for group in groups {
            let treated = data.arm.indices.filter { group.arms.contains(data.arm[$0]) }
            let e = Double(treated.count) / Double(treated.count + control.count)
            let mu1Name = "mu1" + group.suffix
            let mu1 = try train(mu1Name, rows: treated, target: treated.map { data.y[$0] }, settings: config.outcome)
            var uplift: [OutputTerm]
            switch config.kind {
            case .t:
                uplift = [OutputTerm(mu1Name, 1), OutputTerm("mu0", -1)]
            case .x:
                // Imputed effects: treated rows against the control model, control rows against the treated model.
                let d1 = treated.map { data.y[$0] - mu0All[$0] }
                let controlX = data.x.rows(control)
                let mu1OnControl = mu1.predict(controlX, threads: threads)
                let d0 = control.indices.map { mu1OnControl[$0] - data.y[control[$0]] }
                _ = try train("tau1" + group.suffix, rows: treated, target: d1, settings: config.effect)
                _ = try train("tau0" + group.suffix, rows: control, target: d0, settings: config.effect)
                uplift = [OutputTerm("tau0" + group.suffix, e), OutputTerm("tau1" + group.suffix, 1 - e)]
            case .dr:
                let rows = (treated + control).sorted()
                let pseudo = try drPseudoOutcome(rows: rows, data: data, treatedArms: group.arms, e: e, config: config,
                                                 seed: seed, suffix: group.suffix, threads: threads, progress: progress)
                _ = try train("tau" + group.suffix, rows: rows, target: pseudo, settings: config.effect)
                uplift = [OutputTerm("tau" + group.suffix, 1)]
            }
            if let armName = group.armName {
                armOutputs.append(.init(arm: armName, column: "uplift_" + slug(armName), uplift: uplift))
                armPropensities[armName] = e
            } else {
                pooledUplift = uplift
                propensity = e
            }
        }
        let outputs = ModelOutputs(y1: [OutputTerm("mu1", 1)], y0: [OutputTerm("mu0", 1)], uplift: pooledUplift, arms: armOutputs)
        return LearnerFit(forests: forests, outputs: outputs, oobMSE: oob, propensity: propensity, armPropensities: armPropensities)
    }

    /// phi = mu1(x) − mu0(x) + T (y − mu1(x)) / e − (1 − T)(y − mu0(x)) / (1 − e), with the outcome
    /// models of each row fitted on the other folds (cross-fitting), so no row's pseudo-outcome
    /// uses a model that saw it.
    static func drPseudoOutcome(rows: [Int], data: TrainingData, treatedArms: Set<Int>, e: Double, config: LearnerConfig,
                                seed: UInt64, suffix: String, threads: Int,
                                progress: (@Sendable (String) -> Void)?) throws -> [Double] {
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
            let m1 = try ForestTrainer.train(data.x.rows(treatedFit), treatedFit.map { data.y[$0] },
                                             params: config.outcome.params(seed: Self.seed(seed, "dr_mu1\(suffix)_fold\(f)")), threads: threads).forest
            let m0 = try ForestTrainer.train(data.x.rows(controlFit), controlFit.map { data.y[$0] },
                                             params: config.outcome.params(seed: Self.seed(seed, "dr_mu0\(suffix)_fold\(f)")), threads: threads).forest
            let p1 = m1.predict(holdoutX, threads: threads)
            let p0 = m0.predict(holdoutX, threads: threads)
            for (j, i) in holdout.enumerated() {
                let row = rows[i]
                let y = data.y[row]
                let t = treatedArms.contains(data.arm[row])
                phi[i] = p1[j] - p0[j] + (t ? (y - p1[j]) / e : -(y - p0[j]) / (1 - e))
            }
        }
        return phi
    }
}
