import Experiment
import Forest
import Foundation
import Provenance
import Stats
import Tabular
import Uplift

public struct TuningRow: Sendable {
    public var settings: ForestSettings
    public var oobControl: Double
    public var oobTreated: Double
    /// Row-weighted mean of the two out-of-bag errors: the selection criterion.
    public var score: Double
}

/// A metric with its bootstrap interval.
public struct Estimate: Sendable {
    public var value: Double
    public var ci: Interval
}

public struct LearnerEvaluation: Sendable {
    public var learner: LearnerDescriptor
    public var settings: LearnerConfig
    public var oobMSE: [String: Double]
    public var auuc: Estimate
    /// AUUC minus the baseline's on the same bootstrap replicates (paired).
    public var auucVsBaseline: Estimate
    /// Qini coefficient (binary outcomes only).
    public var qini: Estimate?
    public var qiniVsBaseline: Estimate?
    public var meanPredicted: Double
    public var deciles: [UpliftEvaluator.Decile]
    /// Correlation across deciles between predicted and observed uplift.
    public var decileCorrelation: Double
    public var upliftCurve: [(share: Double, value: Double)]
    public var qiniCurve: [(share: Double, value: Double)]?
    /// Per treated arm (primary outcome): AUUC of that arm's uplift on its own arm vs control.
    public var armAUUC: [(arm: String, estimate: Estimate)]
    /// scikit-uplift's metrics of the same scores on the same test rows (no intervals).
    public var comparable: ComparableMetrics
}

/// A learner's test-split scores measured as scikit-uplift measures them (`SkliftMetrics`), so
/// they can be set beside published numbers.
public struct ComparableMetrics: Sendable {
    /// Shares of customers at which uplift at k is reported.
    public static let shares: [Double] = [0.1, 0.2, 0.3]

    /// Per share in `shares`: `uplift_at_k` with strategy 'overall' and 'by_group'.
    public var upliftAtK: [(k: Double, overall: Double, byGroup: Double)]
    /// `qini_auc_score` (negative_effect = true). Its perfect curve, treated responders first and
    /// control responders last, reads a continuous outcome's amounts the same way.
    public var qiniAUCScore: Double
    /// `uplift_auc_score`, binary outcomes only: its perfect curve is defined by binary rules.
    public var upliftAUCScore: Double?

    public init(y: [Double], scores: [Double], treated: [Bool], binary: Bool) {
        // The rows in sklift's order once, for every metric of these scores.
        let ranked = SkliftMetrics.order(scores)
        upliftAtK = Self.shares.map { k in
            (
                k, SkliftMetrics.upliftAtK(y: y, scores: scores, treated: treated, strategy: .overall, k: k, ranked: ranked),
                SkliftMetrics.upliftAtK(y: y, scores: scores, treated: treated, strategy: .byGroup, k: k, ranked: ranked)
            )
        }
        qiniAUCScore = SkliftMetrics.qiniAUCScore(y: y, scores: scores, treated: treated, ranked: ranked)
        upliftAUCScore = binary ? SkliftMetrics.upliftAUCScore(y: y, scores: scores, treated: treated, ranked: ranked) : nil
    }
}

public struct OutcomeEvaluation: Sendable {
    public var outcome: String
    public var binary: Bool
    public var tuning: [TuningRow]
    public var tuned: ForestSettings
    /// IPW estimate of the average effect of treatment in the test split.
    public var testATE: Double
    /// Its standard error, sd(z) / √n of the IPW contributions.
    public var testATEStandardError: Double
    /// The same estimate on the training split, which the learners were fitted on.
    public var trainingATE: Double
    public var learners: [LearnerEvaluation]
}

public struct UpliftResult: Sendable {
    public var encoder: FeatureEncoder
    public var unknownInTest: FeatureEncoder.UnknownCounts
    public var armNames: [String]
    public var trainRows: Int
    public var testRows: Int
    public var propensity: Double
    /// The design's share of each arm, control first (the known propensities).
    public var designShares: [Double]
    public var outcomes: [OutcomeEvaluation]
    /// How the production learner was chosen (training split only).
    public var selection: LearnerSelection
    public var productionLearner: LearnerDescriptor { selection.chosen }
    /// Level of the test split's intervals of differences against the baseline (Bonferroni-adjusted).
    public var adjustedLevel: Double
    public var production: UpliftModel
    public var productionConfig: LearnerConfig
    public var productionFit: LearnerFit
    /// The test rows' ids (the campaign's id column, as text), in the test split's order.
    public var testIDs: [String]
    public var testScores: UpliftScores
    /// The training rows' ids and their out-of-fold scores by the production learner (fold f
    /// scored by the learner fitted on the other folds, the folds of `selection`): with
    /// `testScores`, every randomized row scored by a model that never saw it.
    public var trainIDs: [String]
    public var crossFitScores: UpliftScores
}

public enum UpliftAnalysis {
    public static func run(
        _ p: UpliftParams, paramsSource: String = "uplift params", spec: DatasetSpec, train: Table, test: Table,
        threads: Int = ForestTrainer.defaultThreads,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> UpliftResult {
        try p.validate(source: paramsSource, outcomeNames: spec.outcomes.map(\.name))
        let encoder = try FeatureEncoder(fitting: train, features: spec.features.map { ($0.name, $0.type == .categorical) })
        let (xTrain, _) = try encoder.encode(train)
        let (xTest, unknownTest) = try encoder.encode(test)

        let trainArms = try Arms(column: try train.strings(spec.armColumn), control: spec.controlArm, source: train.source, columnName: spec.armColumn)
        let armNames = trainArms.names
        let designShares = try spec.designShares(arms: armNames, source: train.source)
        let testArmStrings = try test.strings(spec.armColumn)
        let testArm: [Int] = try (0..<test.rowCount).map { r in
            guard let a = armNames.firstIndex(of: testArmStrings[r]) else {
                throw DataError(file: test.source, line: r + 2, columnName: spec.armColumn, message: "arm '\(testArmStrings[r])' does not occur in training")
            }
            return a
        }
        let testIDs = try test.strings(spec.preparedIdColumn).values
        let testTreated = testArm.map { $0 != 0 }
        // Rows spread over the test split on which every fit is checked against the scoring contract.
        let contractSample = xTest.rows(Array(stride(from: 0, to: xTest.rowCount, by: max(1, xTest.rowCount / 256))))
        // Every fit scores the test split while its forests grow.
        let heldOutTest = HeldOutRows(xTest)

        var outcomes: [OutcomeEvaluation] = []
        var production: (UpliftModel, LearnerConfig, LearnerFit, UpliftScores)?
        var selection: LearnerSelection?
        var firstSeedForests: ForestCache?
        let comparisons = max(1, p.learners.count - 1)
        let adjustedLevel = 1 - (1 - p.confidenceLevel) / Double(comparisons)
        // Everything the bootstrap needs, per (outcome, learner): evaluators and which metrics.
        var evaluators: [(outcome: Int, learner: Int, pooled: UpliftEvaluator, binary: Bool, arms: [(String, UpliftEvaluator, [Int])])] = []

        for outcomeName in p.outcomes {
            let binary = spec.outcomes.first { $0.name == outcomeName }!.type == .binary
            let yTrain = try train.doubles(outcomeName)
            let yTest = try test.doubles(outcomeName)
            let data = TrainingData(x: xTrain, y: yTrain, arm: trainArms.index, armNames: armNames, armShares: designShares)
            let isPrimary = outcomeName == p.primaryOutcome

            progress("uplift: \(outcomeName): tuning depth-limited forests on out-of-bag error")
            let tuning = try tune(data: data, grid: p.tuning, seed: Learners.seed(p.seed, "tuning_\(outcomeName)"), threads: threads)
            let best = tuning.min { $0.score < $1.score }!
            let tuned = ForestSettings(
                nTrees: p.tuning.finalTrees, maxDepth: best.settings.maxDepth,
                minSamplesLeaf: best.settings.minSamplesLeaf, maxFeatures: p.tuning.maxFeatures)

            let configs = p.learners.map { $0.config(baseline: p.baseline, tuned: tuned, folds: p.drFolds, nuisance: p.drNuisance ?? .outOfBag) }
            if isPrimary {
                (selection, firstSeedForests) = try select(p, data: data, binary: binary, configs: configs, threads: threads, progress: progress)
            }
            var learnerEvals: [LearnerEvaluation] = []
            // The learners whose outcome forests have the same settings share them.
            let outcomeForests = ForestCache()
            for (li, learner) in p.learners.enumerated() {
                let config = configs[li]
                progress("uplift: \(outcomeName): fitting \(learner.title)")
                let fit = try Learners.fit(
                    config, data: data, perArm: isPrimary, seed: Learners.seed(p.seed, "\(outcomeName)/\(learner.key)"),
                    outcomeSeed: Learners.seed(p.seed, "\(outcomeName)/outcome_forests"), threads: threads,
                    progress: { progress("  forest \($0)") }, cache: outcomeForests, predicting: heldOutTest)
                // A learner the frozen model could not reproduce fails here, before it is evaluated or frozen.
                try LearnerContract.check(fit, sample: contractSample, learner: learner.key, threads: threads)
                let model = UpliftModel(encoder: encoder, forests: fit.forests, outputs: fit.outputs)
                // `model.score(xTest)`'s bits, from the predictions the forests made while they grew.
                guard let scores = fit.heldOutScores else { preconditionFailure("a fit given rows to predict scores them") }
                if isPrimary && learner == selection?.chosen { production = (model, config, fit, scores) }

                let pooled = UpliftEvaluator(scores: scores.uplift, treated: testTreated, y: yTest, propensity: fit.propensity)
                var armEvals: [(String, UpliftEvaluator, [Int])] = []
                for (k, armOut) in fit.outputs.arms.enumerated() {
                    let armIndex = armNames.firstIndex(of: armOut.arm)!
                    let rows = testArm.indices.filter { testArm[$0] == 0 || testArm[$0] == armIndex }
                    let ev = UpliftEvaluator(
                        scores: rows.map { scores.armUplift[k][$0] }, treated: rows.map { testTreated[$0] },
                        y: rows.map { yTest[$0] }, propensity: fit.armPropensities[armOut.arm]!)
                    armEvals.append((armOut.arm, ev, rows))
                }
                evaluators.append((outcomes.count, li, pooled, binary, armEvals))
                let deciles = pooled.deciles(scores: scores.uplift, groups: p.deciles, level: p.confidenceLevel)
                learnerEvals.append(
                    LearnerEvaluation(
                        learner: learner, settings: config, oobMSE: fit.oobMSE,
                        auuc: Estimate(value: pooled.normalizedAUUC(), ci: Interval(.nan, .nan)),
                        auucVsBaseline: Estimate(value: .nan, ci: Interval(.nan, .nan)),
                        qini: binary ? Estimate(value: pooled.qiniCoefficient(), ci: Interval(.nan, .nan)) : nil, qiniVsBaseline: nil,
                        meanPredicted: scores.uplift.reduce(0, +) / Double(scores.count),
                        deciles: deciles, decileCorrelation: Inference.pearson(deciles.map(\.meanPredicted), deciles.map(\.observed)),
                        upliftCurve: pooled.upliftCurve(points: p.curvePoints),
                        qiniCurve: binary ? pooled.qiniCurve(points: p.curvePoints) : nil,
                        armAUUC: armEvals.map { ($0.0, Estimate(value: $0.1.normalizedAUUC(), ci: Interval(.nan, .nan))) },
                        comparable: ComparableMetrics(y: yTest, scores: scores.uplift, treated: testTreated, binary: binary)))
            }
            let pTrain = data.treatedShare
            let z = zip(testTreated, yTest).map { $0 ? $1 / pTrain : -$1 / (1 - pTrain) }
            let ate = z.reduce(0, +) / Double(z.count)
            let trainZ = zip(data.arm, yTrain).map { $0 != 0 ? $1 / pTrain : -$1 / (1 - pTrain) }
            outcomes.append(
                OutcomeEvaluation(
                    outcome: outcomeName, binary: binary, tuning: tuning, tuned: tuned, testATE: ate,
                    testATEStandardError: (Moments(z).variance / Double(z.count)).squareRoot(),
                    trainingATE: trainZ.reduce(0, +) / Double(trainZ.count), learners: learnerEvals))
        }

        // Paired bootstrap: every replicate re-weights the test rows once and evaluates every
        // learner on those weights.
        progress("uplift: bootstrap (\(p.bootstrapReplicates) replicates)")
        let snapshot = evaluators
        let n = test.rowCount
        // The learners of one outcome (and arm) share the normalizers: computed once per replicate.
        let pooledOwner = UpliftEvaluator.normalizerOwners(snapshot.map(\.pooled))
        // An owner computes the Qini normalizer when any evaluator of its group needs one.
        var ownerNeedsQini = [Bool](repeating: false, count: snapshot.count)
        for (i, item) in snapshot.enumerated() where item.binary { ownerNeedsQini[pooledOwner[i]] = true }
        let needsQini = ownerNeedsQini
        let armItems = snapshot.flatMap(\.arms)
        let armOwner = UpliftEvaluator.normalizerOwners(armItems.map(\.1), rows: armItems.map(\.2))
        let replicates = Bootstrap.replicates(
            p.bootstrapReplicates, rows: n, seed: Learners.seed(p.seed, "bootstrap"),
            threads: threads
        ) { w in
            var out: [Double] = []
            var best = [Double](repeating: .nan, count: snapshot.count), bestQini = best
            var armBest = [Double](repeating: .nan, count: armItems.count)
            var armWeights = [[Double]](repeating: [], count: armItems.count)
            var a = 0
            for (i, item) in snapshot.enumerated() {
                let o = pooledOwner[i]
                if o == i {
                    best[i] = item.pooled.perfectUpliftArea(weights: w)
                    if needsQini[i] { bestQini[i] = item.pooled.perfectQiniArea(weights: w) }
                }
                out.append(item.pooled.normalizedAUUC(weights: w, perfectArea: best[o]))
                out.append(item.binary ? item.pooled.qiniCoefficient(weights: w, perfectArea: bestQini[o]) : .nan)
                for (_, ev, rows) in item.arms {
                    let ao = armOwner[a]
                    if ao == a {
                        armWeights[a] = rows.map { w[$0] }
                        armBest[a] = ev.perfectUpliftArea(weights: armWeights[a])
                    }
                    out.append(ev.normalizedAUUC(weights: armWeights[ao], perfectArea: armBest[ao]))
                    a += 1
                }
            }
            return out
        }
        var offset = 0
        var baselineOffset: [Int: Int] = [:]
        for item in snapshot {
            let oi = item.outcome, li = item.learner
            if outcomes[oi].learners[li].learner == LearnerRegistry.baseline { baselineOffset[oi] = offset }
            offset += 2 + item.arms.count
        }
        offset = 0
        for item in snapshot {
            let oi = item.outcome, li = item.learner
            let base = baselineOffset[oi]!
            var le = outcomes[oi].learners[li]
            le.auuc.ci = Bootstrap.percentileInterval(replicates.map { $0[offset] }, level: p.confidenceLevel)
            le.auucVsBaseline = Estimate(
                value: le.auuc.value - outcomes[oi].learners.first { $0.learner == LearnerRegistry.baseline }!.auuc.value,
                ci: Bootstrap.percentileInterval(replicates.map { $0[offset] - $0[base] }, level: adjustedLevel))
            if item.binary {
                le.qini!.ci = Bootstrap.percentileInterval(replicates.map { $0[offset + 1] }, level: p.confidenceLevel)
                le.qiniVsBaseline = Estimate(
                    value: le.qini!.value - outcomes[oi].learners.first { $0.learner == LearnerRegistry.baseline }!.qini!.value,
                    ci: Bootstrap.percentileInterval(replicates.map { $0[offset + 1] - $0[base + 1] }, level: adjustedLevel))
            }
            for k in le.armAUUC.indices {
                le.armAUUC[k].estimate.ci = Bootstrap.percentileInterval(replicates.map { $0[offset + 2 + k] }, level: p.confidenceLevel)
            }
            outcomes[oi].learners[li] = le
            offset += 2 + item.arms.count
        }

        guard let (model, config, fit, scores) = production, let selection else {
            preconditionFailure("the primary outcome is validated to be among the outcomes, and the chosen learner among the fitted ones")
        }
        // The production learner's out-of-fold scores of every training row, per arm too (the
        // policy stage evaluates on them); the pooled forests are those of the selection's first seed.
        progress("uplift: cross-fitted scores of the training rows (\(selection.chosen.title), \(selection.folds) folds)")
        let primaryData = TrainingData(
            x: xTrain, y: try train.doubles(p.primaryOutcome), arm: trainArms.index, armNames: armNames, armShares: designShares)
        let (crossFit, _, _) = try outOfFold(
            config, data: primaryData, fold: selection.fold, folds: selection.folds, perArm: true,
            seed: selectionSeed(p, learner: selection.chosen, seed: 0), outcomeSeed: selectionOutcomeSeed(p, seed: 0), threads: threads,
            cache: firstSeedForests)
        return UpliftResult(
            encoder: encoder, unknownInTest: unknownTest, armNames: armNames, trainRows: train.rowCount, testRows: test.rowCount,
            propensity: fit.propensity, designShares: designShares, outcomes: outcomes, selection: selection, adjustedLevel: adjustedLevel,
            production: model, productionConfig: config, productionFit: fit,
            testIDs: testIDs, testScores: scores, trainIDs: try train.strings(spec.preparedIdColumn).values, crossFitScores: crossFit)
    }

    /// Out-of-bag error of control and treated outcome forests over the grid. Per leaf size, one
    /// forest grown to the deepest depth of the grid gives the error of every depth
    /// (`ForestTrainer.outOfBagErrors`: the same numbers as one forest per depth when every
    /// split tries all features).
    static func tune(data: TrainingData, grid: TuningGrid, seed: UInt64, threads: Int) throws -> [TuningRow] {
        let control = data.arm.indices.filter { data.arm[$0] == 0 }
        let treated = data.arm.indices.filter { data.arm[$0] != 0 }
        let xc = data.x.rows(control), xt = data.x.rows(treated)
        let yc = control.map { data.y[$0] }, yt = treated.map { data.y[$0] }
        var errors: [Int: (control: [DepthError], treated: [DepthError])] = [:]
        for leaf in grid.minSamplesLeaf {
            let s = ForestSettings(nTrees: grid.nTrees, maxDepth: nil, minSamplesLeaf: leaf, maxFeatures: grid.maxFeatures)
            let c = try ForestTrainer.outOfBagErrors(
                xc, yc, params: s.params(seed: Learners.seed(seed, "control")), depths: grid.maxDepth, threads: threads)
            let t = try ForestTrainer.outOfBagErrors(
                xt, yt, params: s.params(seed: Learners.seed(seed, "treated")), depths: grid.maxDepth, threads: threads)
            errors[leaf] = (c, t)
        }
        var rows: [TuningRow] = []
        for (j, depth) in grid.maxDepth.enumerated() {
            for leaf in grid.minSamplesLeaf {
                let s = ForestSettings(nTrees: grid.nTrees, maxDepth: depth, minSamplesLeaf: leaf, maxFeatures: grid.maxFeatures)
                let c = errors[leaf]!.control[j], t = errors[leaf]!.treated[j]
                let mc = c.oobMSE ?? .nan, mt = t.oobMSE ?? .nan
                let score = (Double(c.oobRows) * mc + Double(t.oobRows) * mt) / Double(c.oobRows + t.oobRows)
                rows.append(TuningRow(settings: s, oobControl: mc, oobTreated: mt, score: score))
            }
        }
        return rows
    }
}
