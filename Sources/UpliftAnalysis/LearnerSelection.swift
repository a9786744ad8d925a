import Forest
import Foundation
import Stats
import Uplift

/// One learner's cross-fitted evaluation on the training split.
public struct SelectionRow: Sendable {
    public var learner: LearnerDescriptor
    /// Normalized AUUC of the out-of-fold scores of the first forest seed, with its bootstrap interval.
    public var auuc: Estimate
    /// Qini coefficient of the same scores (binary outcomes only).
    public var qini: Estimate?
    /// AUUC minus the baseline's on the same replicates, with an interval adjusted for the number
    /// of comparisons (Bonferroni over the learners compared with the baseline).
    public var auucVsBaseline: Estimate
    /// The AUUC of every forest seed's out-of-fold scores (the first is `auuc.value`).
    public var seedAUUC: [Double]
    /// The learner's size: tree nodes in the forests its pooled cross-fit scores are computed from
    /// (every forest the outputs name), mean over the folds of the first seed. The production
    /// model adds per-arm forests and is fitted on all training rows, so its size differs, but
    /// not the learners' order. `supported_or_simplest` prefers the smallest.
    public var modelNodes: Double
    /// Standard error of this learner's AUUC minus the best learner's (the highest mean over the
    /// seeds): the standard deviation of the paired difference over the bootstrap replicates of
    /// the first seed (0 for the best itself).
    public var standardErrorVsBest: Double = .nan

    public var meanOverSeeds: Double { seedAUUC.reduce(0, +) / Double(seedAUUC.count) }
    /// Sample standard deviation over the seeds (nan for one seed).
    public var seedSD: Double {
        guard seedAUUC.count > 1 else { return .nan }
        let m = meanOverSeeds
        return (seedAUUC.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(seedAUUC.count - 1)).squareRoot()
    }
}

/// The production learner's choice: K-fold cross-fitting on the training split, never the test split.
public struct LearnerSelection: Sendable {
    public var outcome: String
    public var folds: Int
    public var seeds: Int
    public var rule: SelectionParams.Rule
    public var trainingRows: Int
    /// Level of the intervals of the differences against the baseline (adjusted).
    public var adjustedLevel: Double
    public var comparisons: Int
    public var rows: [SelectionRow]
    public var chosen: LearnerDescriptor
    /// Learners whose adjusted lower bound against the baseline is above zero.
    public var supported: [LearnerDescriptor]
    /// Fold of every training row, 0-based.
    public var fold: [Int]
}

extension UpliftAnalysis {
    /// Folds stratified by arm: each arm's rows shuffled with the seed and dealt round-robin.
    static func stratifiedFolds(arm: [Int], arms: Int, folds k: Int, seed: UInt64) -> [Int] {
        var fold = [Int](repeating: 0, count: arm.count)
        var generator = SeededGenerator(seed: seed)
        for a in 0..<arms {
            var members = arm.indices.filter { arm[$0] == a }
            generator.shuffle(&members)
            for (i, m) in members.enumerated() { fold[m] = i % k }
        }
        return fold
    }

    static func subset(_ data: TrainingData, _ rows: [Int]) -> TrainingData {
        TrainingData(
            x: data.x.rows(rows), y: rows.map { data.y[$0] }, arm: rows.map { data.arm[$0] }, armNames: data.armNames,
            armShares: data.armShares)
    }

    /// Out-of-fold scores of `config` on every training row: fold f is scored by the learner fitted
    /// on the other folds. `perArm`, `outcomeSeed` and `cache` as in `Learners.fit` (the seeds
    /// derived per fold). `modelNodes`: tree nodes of the forests the scores come from, mean over
    /// the folds.
    static func outOfFold(
        _ config: LearnerConfig, data: TrainingData, fold: [Int], folds k: Int, perArm: Bool, seed: UInt64,
        outcomeSeed: UInt64? = nil, threads: Int, cache: ForestCache? = nil
    ) throws -> (scores: UpliftScores, propensity: Double, modelNodes: Double) {
        var y1 = [Double](repeating: .nan, count: data.y.count), y0 = y1, uplift = y1
        var armUplift: [[Double]] = []
        var propensity = Double.nan
        var nodes = 0
        for f in 0..<k {
            let fitRows = fold.indices.filter { fold[$0] != f }
            let holdout = fold.indices.filter { fold[$0] == f }
            // The held-out fold is scored while the forests grow: the bits `fit.scores` gives it.
            let fit = try Learners.fit(
                config, data: subset(data, fitRows), perArm: perArm, seed: Learners.seed(seed, "fold\(f)"),
                outcomeSeed: outcomeSeed.map { Learners.seed($0, "fold\(f)") }, threads: threads, cache: cache, outOfBagErrors: false,
                predicting: HeldOutRows(data.x.rows(holdout)))
            propensity = fit.propensity
            nodes += fit.outputs.forestNames.reduce(0) { total, name in total + fit.forests[name]!.trees.reduce(0) { $0 + $1.nodeCount } }
            guard let s = fit.heldOutScores else { preconditionFailure("a fit given rows to predict scores them") }
            if armUplift.isEmpty { armUplift = s.armUplift.map { _ in [Double](repeating: .nan, count: data.y.count) } }
            for (j, i) in holdout.enumerated() {
                y1[i] = s.y1[j]
                y0[i] = s.y0[j]
                uplift[i] = s.uplift[j]
                for a in armUplift.indices { armUplift[a][i] = s.armUplift[a][j] }
            }
        }
        return (UpliftScores(y1: y1, y0: y0, uplift: uplift, armUplift: armUplift), propensity, Double(nodes) / Double(k))
    }

    /// Cross-fits every learner on the training split (pooled treatment only, every seed), compares
    /// them with a paired bootstrap over the training rows, and applies the rule.
    /// Returns the selection and the forests of the first seed (the production learner's per-arm
    /// cross-fit reuses its pooled forests).
    static func select(
        _ p: UpliftParams, data: TrainingData, binary: Bool, configs: [LearnerConfig], threads: Int,
        progress: @escaping @Sendable (String) -> Void
    ) throws -> (selection: LearnerSelection, firstSeedForests: ForestCache) {
        let k = p.selection.folds
        let fold = stratifiedFolds(
            arm: data.arm, arms: data.armNames.count, folds: k, seed: Learners.seed(p.seed, "selection_folds"))
        let treated = data.arm.map { $0 != 0 }
        var evaluators: [UpliftEvaluator] = []
        var seedAUUC = [[Double]](repeating: [], count: p.learners.count)
        var modelNodes = [Double](repeating: .nan, count: p.learners.count)
        // A DR-learner reads its out-of-bag predictions from the outcome forests another learner
        // may grow first: forests with its outcome settings estimate them as they grow.
        let drOutcome = configs.filter { $0.kind == .dr && $0.nuisance == .outOfBag }.map(\.outcome)
        let ahead: @Sendable (ForestParams) -> Bool = { params in
            drOutcome.contains { $0.params(seed: params.seed) == params }
        }
        let firstSeedForests = ForestCache(outOfBagAhead: ahead)
        for s in 0..<p.selection.seeds {
            // The learners of one seed share their outcome forests; only the first seed's are kept.
            let cache = s == 0 ? firstSeedForests : ForestCache(outOfBagAhead: ahead)
            for (li, learner) in p.learners.enumerated() {
                progress("uplift: \(p.primaryOutcome): cross-fitting \(learner.title) on the training split, seed \(s + 1)/\(p.selection.seeds)")
                let (scores, e, nodes) = try outOfFold(
                    configs[li], data: data, fold: fold, folds: k, perArm: false,
                    seed: selectionSeed(p, learner: learner, seed: s), outcomeSeed: selectionOutcomeSeed(p, seed: s), threads: threads,
                    cache: cache)
                let ev = UpliftEvaluator(scores: scores.uplift, treated: treated, y: data.y, propensity: e)
                seedAUUC[li].append(ev.normalizedAUUC())
                if s == 0 {
                    evaluators.append(ev)
                    modelNodes[li] = nodes
                }
            }
        }
        progress("uplift: \(p.primaryOutcome): bootstrap of the cross-fitted comparison (\(p.bootstrapReplicates) replicates)")
        let snapshot = evaluators
        let owner = UpliftEvaluator.normalizerOwners(snapshot)
        let reps = Bootstrap.replicates(
            p.bootstrapReplicates, rows: data.y.count, seed: Learners.seed(p.seed, "selection_bootstrap"), threads: threads
        ) { w in
            var best = [Double](repeating: .nan, count: snapshot.count), bestQini = best
            return snapshot.indices.flatMap { i -> [Double] in
                let o = owner[i]
                if o == i {
                    best[i] = snapshot[i].perfectUpliftArea(weights: w)
                    if binary { bestQini[i] = snapshot[i].perfectQiniArea(weights: w) }
                }
                return [
                    snapshot[i].normalizedAUUC(weights: w, perfectArea: best[o]),
                    binary ? snapshot[i].qiniCoefficient(weights: w, perfectArea: bestQini[o]) : .nan,
                ]
            }
        }
        let base = p.learners.firstIndex(of: LearnerRegistry.baseline)!
        let comparisons = max(1, p.learners.count - 1)
        let adjusted = 1 - (1 - p.confidenceLevel) / Double(comparisons)
        var rows: [SelectionRow] = []
        for (li, learner) in p.learners.enumerated() {
            let auuc = evaluators[li].normalizedAUUC()
            rows.append(
                SelectionRow(
                    learner: learner,
                    auuc: Estimate(value: auuc, ci: Bootstrap.percentileInterval(reps.map { $0[2 * li] }, level: p.confidenceLevel)),
                    qini: binary
                        ? Estimate(
                            value: evaluators[li].qiniCoefficient(),
                            ci: Bootstrap.percentileInterval(reps.map { $0[2 * li + 1] }, level: p.confidenceLevel)) : nil,
                    auucVsBaseline: Estimate(
                        value: auuc - evaluators[base].normalizedAUUC(),
                        ci: Bootstrap.percentileInterval(reps.map { $0[2 * li] - $0[2 * base] }, level: adjusted)),
                    seedAUUC: seedAUUC[li], modelNodes: modelNodes[li]))
        }
        // The one-standard-error rule's yardstick: each learner's paired difference from the best mean.
        let bestIndex = bestByMean(rows)
        for li in rows.indices {
            let differences = reps.map { $0[2 * li] - $0[2 * bestIndex] }.filter(\.isFinite)
            rows[li].standardErrorVsBest = li == bestIndex ? 0 : (differences.count > 1 ? Moments(differences).variance.squareRoot() : .nan)
        }
        let (chosen, supported) = choose(rows, rule: p.selection.rule)
        let selection = LearnerSelection(
            outcome: p.primaryOutcome, folds: k, seeds: p.selection.seeds, rule: p.selection.rule, trainingRows: data.y.count,
            adjustedLevel: adjusted, comparisons: comparisons, rows: rows, chosen: chosen, supported: supported,
            fold: fold)
        return (selection, firstSeedForests)
    }

    /// The rule applied to the cross-fitted rows (one of them the baseline's): the chosen learner,
    /// and the learners whose adjusted lower bound against the baseline is above zero.
    ///
    /// `supported_or_simplest`, when no learner is supported, applies the one-standard-error rule
    /// (Breiman et al., 1984; Hastie, Tibshirani and Friedman, 2009, section 7.10): among the
    /// learners whose mean AUUC over the seeds is within one standard error (`standardErrorVsBest`)
    /// of the best mean, the smallest model. A size or standard error that is not a number keeps a
    /// learner out of the pool; the best learner is always in it. Ties go to the learner listed first.
    static func choose(_ rows: [SelectionRow], rule: SelectionParams.Rule) -> (chosen: LearnerDescriptor, supported: [LearnerDescriptor]) {
        let supported = rows.filter { $0.learner != LearnerRegistry.baseline && $0.auucVsBaseline.ci.lower > 0 }
        func best(_ pool: [SelectionRow]) -> SelectionRow { pool[bestByMean(pool)] }
        let baseline = rows.filter { $0.learner == LearnerRegistry.baseline }
        let chosen: SelectionRow
        switch rule {
        case .bestMean: chosen = best(rows)
        case .bestSupported: chosen = best(supported.isEmpty ? baseline : supported)
        case .supportedOrSimplest:
            if !supported.isEmpty {
                chosen = best(supported)
            } else {
                let pool = withinOneStandardError(rows)
                var small = pool[0]
                for r in pool.dropFirst() where r.modelNodes < small.modelNodes || !small.modelNodes.isFinite { small = r }
                chosen = small
            }
        }
        return (chosen.learner, supported.map(\.learner))
    }

    /// The index of the highest mean AUUC over the seeds; the first listed among equals.
    static func bestByMean(_ rows: [SelectionRow]) -> Int {
        var best = 0
        for i in rows.indices.dropFirst() where rows[i].meanOverSeeds > rows[best].meanOverSeeds { best = i }
        return best
    }

    /// The best learner by mean AUUC over the seeds (the first listed among equals), and every
    /// learner whose mean is within one standard error (`standardErrorVsBest`) of it and whose size
    /// is known, in the rows' order: the one-standard-error rule's candidates.
    static func withinOneStandardError(_ rows: [SelectionRow]) -> [SelectionRow] {
        let top = rows[bestByMean(rows)]
        return rows.filter {
            $0.learner == top.learner
                || ($0.modelNodes.isFinite && $0.standardErrorVsBest.isFinite && $0.meanOverSeeds >= top.meanOverSeeds - $0.standardErrorVsBest)
        }
    }

    /// The seed of a learner's cross-fit with forest seed `seed` (0-based).
    static func selectionSeed(_ p: UpliftParams, learner: LearnerDescriptor, seed s: Int) -> UInt64 {
        Learners.seed(p.seed, "selection/\(p.primaryOutcome)/\(learner.key)/seed\(s)")
    }

    /// The seed of the outcome forests of every learner's cross-fit with forest seed `seed`: the
    /// learners whose outcome forests have the same settings share them.
    static func selectionOutcomeSeed(_ p: UpliftParams, seed s: Int) -> UInt64 {
        Learners.seed(p.seed, "selection/\(p.primaryOutcome)/outcome_forests/seed\(s)")
    }
}
