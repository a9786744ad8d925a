import Base
import Forest
import Foundation
import PipelineCLI
import Provenance
import Stats
import Tabular
import TestSupport
import Testing
import UpliftAnalysis

@testable import Uplift

@Suite struct FeatureEncoderTests {
    func table(_ zip: [String], _ recency: [Double]) -> Table {
        Table(source: "t.csv", names: ["recency", "zip"], columns: [.double(recency), .string(StringColumn(zip))])
    }

    @Test func learnsSortedCategoriesAndEncodesOneHot() throws {
        let enc = try FeatureEncoder(fitting: table(["Urban", "Rural", "Urban"], [1, 2, 3]), features: [("recency", false), ("zip", true)])
        #expect(enc.featureNames == ["recency", "zip=Rural", "zip=Urban"])
        let (m, unknown) = try enc.encode(table(["Rural", "Urban"], [5, 6]))
        #expect(m.values == [5, 6, 1, 0, 0, 1])
        #expect(unknown.total == 0)
    }

    @Test func unknownCategoriesAreAllZeroAndCounted() throws {
        let enc = try FeatureEncoder(fitting: table(["Urban", "Rural"], [1, 2]), features: [("recency", false), ("zip", true)])
        let (m, unknown) = try enc.encode(table(["Suburban", "Urban", "Mars"], [1, 1, 1]))
        #expect(m.values == [1, 1, 1, 0, 0, 0, 0, 1, 0])
        #expect(unknown.total == 2)
        #expect(unknown.counts.first?.input == "zip")
        #expect(unknown.counts.first?.categories == ["Mars", "Suburban"])
    }

    @Test func encoderRoundTripsThroughJSON() throws {
        let enc = try FeatureEncoder(fitting: table(["b", "a"], [1, 2]), features: [("recency", false), ("zip", true)])
        let data = try JSONEncoder().encode(enc)
        #expect(try JSONDecoder().decode(FeatureEncoder.self, from: data) == enc)
    }
}

@Suite struct EvaluationTests {
    @Test("learners on the same rows share the normalizers; a given normalizer gives the same bits")
    func sharedNormalizers() {
        var g = SeededGenerator(seed: 12)
        let n = 300
        let treated = (0..<n).map { _ in g.nextUnit() < 0.5 }
        let y = (0..<n).map { _ in g.nextUnit() < 0.3 ? 1.0 : 0 }
        let evs = (0..<3).map { _ in UpliftEvaluator(scores: (0..<n).map { _ in g.nextUnit() }, treated: treated, y: y, propensity: 0.5) }
        let other = UpliftEvaluator(scores: (0..<n).map { _ in g.nextUnit() }, treated: treated, y: y, propensity: 0.4)
        #expect(UpliftEvaluator.normalizerOwners(evs + [other]) == [0, 0, 0, 3])
        #expect(UpliftEvaluator.normalizerOwners(evs, rows: [[1], [2], [1]]) == [0, 1, 0])
        let w = (0..<n).map { _ in Double(g.next(below: 3)) }
        for ev in evs {
            #expect(ev.normalizedAUUC(weights: w, perfectArea: evs[0].perfectUpliftArea(weights: w)) == ev.normalizedAUUC(weights: w))
            #expect(ev.qiniCoefficient(weights: w, perfectArea: evs[0].perfectQiniArea(weights: w)) == ev.qiniCoefficient(weights: w))
        }
    }

    @Test("a bootstrap weight of zero is the row left out: the same AUUC and Qini bits as the evaluator without it")
    func zeroWeightIsLeftOut() {
        var g = SeededGenerator(seed: 13)
        for trial in 0..<40 {
            let n = 50 + g.next(below: 400)
            let treated = (0..<n).map { _ in g.nextUnit() < 0.6 }
            // Signed, fractional and binary outcomes.
            let y = (0..<n).map { _ in trial % 2 == 0 ? (g.nextUnit() < 0.3 ? 1.0 : 0) : g.nextUnit() * 40 - 10 }
            let scores = (0..<n).map { _ in Double(g.next(below: 20)) }
            let w = (0..<n).map { _ in Double(g.next(below: 3)) }
            let kept = (0..<n).filter { w[$0] > 0 }
            let all = UpliftEvaluator(scores: scores, treated: treated, y: y, propensity: 0.6)
            let without = UpliftEvaluator(
                scores: kept.map { scores[$0] }, treated: kept.map { treated[$0] }, y: kept.map { y[$0] }, propensity: 0.6)
            let keptW = kept.map { w[$0] }
            #expect(all.normalizedAUUC(weights: w).bitPattern == without.normalizedAUUC(weights: keptW).bitPattern, "trial \(trial)")
            #expect(all.qiniCoefficient(weights: w).bitPattern == without.qiniCoefficient(weights: keptW).bitPattern, "trial \(trial)")
        }
    }

    // Four rows: two treated (e = 0.5), two control. z = 2y for treated, -2y for control.
    let treated = [true, true, false, false]
    let y = [1.0, 0.0, 0.0, 1.0]

    @Test func perfectRankingHasAUUCOneAndReversedIsNegative() {
        // Best order by z: row0 (+2), row1 (0), row2 (0), row3 (-2).
        let perfect = UpliftEvaluator(scores: [4, 3, 2, 1], treated: treated, y: y, propensity: 0.5)
        #expect(perfect.normalizedAUUC() == 1)
        #expect(perfect.qiniCoefficient() == 1)
        let reversed = UpliftEvaluator(scores: [1, 2, 3, 4], treated: treated, y: y, propensity: 0.5)
        #expect(reversed.normalizedAUUC() < 0)
    }

    @Test func auucByHand() {
        // Order: row1, row0, row3, row2 → z = 0, 2, -2, 0; V = 0, 2, 0, 0; V(n) = 0, so the random line is 0.
        // Area = 0 + 2 + 0 + 0 = 2. Perfect: z = 2, 0, 0, -2 → V = 2, 2, 2, 0 → area 6. AUUC = 1/3.
        let ev = UpliftEvaluator(scores: [3, 4, 1, 2], treated: treated, y: y, propensity: 0.5)
        #expect(abs(ev.normalizedAUUC() - 1.0 / 3.0) < 1e-15)
        // Qini: order row1(t,0), row0(t,1), row3(c,1), row2(c,0).
        // k=1: Rt=0 Nt=1 Nc=0 → 0; k=2: Rt=1 → 1; k=3: 1 − 1·2/1 = −1; k=4: 1 − 1·2/2 = 0. Random line 0; area = 0.
        #expect(abs(ev.qiniCoefficient()) < 1e-15)
    }

    @Test func unitWeightsEqualTheUnweightedMetric() {
        var g = SeededGenerator(seed: 7)
        let n = 500
        let t = (0..<n).map { _ in g.nextUnit() < 0.6 }
        let yy = (0..<n).map { _ in g.nextUnit() < 0.2 ? 1.0 : 0.0 }
        let s = (0..<n).map { _ in g.nextUnit() }
        let ev = UpliftEvaluator(scores: s, treated: t, y: yy, propensity: 0.6)
        let ones = [Double](repeating: 1, count: n)
        #expect(ev.normalizedAUUC(weights: ones) == ev.normalizedAUUC())
        #expect(ev.qiniCoefficient(weights: ones) == ev.qiniCoefficient())
    }

    @Test func bootstrapIsDeterministicWhateverTheThreads() {
        let a = Bootstrap.replicates(50, rows: 100, seed: 3, threads: 1) { [$0.reduce(0, +), $0[0]] }
        let b = Bootstrap.replicates(50, rows: 100, seed: 3, threads: 2) { [$0.reduce(0, +), $0[0]] }
        #expect(a == b)
        #expect(a.allSatisfy { $0[0] == 100 })
        #expect(Set(a.map { $0[1] }).count > 1)
    }

    @Test func decilesSplitTheRankingEvenly() {
        let n = 103
        let s = (0..<n).map { Double($0) }
        let t = (0..<n).map { $0 % 2 == 0 }
        let ev = UpliftEvaluator(scores: s, treated: t, y: [Double](repeating: 1, count: n), propensity: 0.5)
        let d = ev.deciles(scores: s, groups: 10)
        #expect(d.map(\.rows).reduce(0, +) == n)
        #expect(d.first!.meanPredicted > d.last!.meanPredicted)
        #expect(d.allSatisfy { $0.observed == 0 })
    }

    @Test func percentileIntervalInterpolates() {
        let iv = Bootstrap.percentileInterval((0...100).map(Double.init), level: 0.9)
        #expect(abs(iv.lower - 5) < 1e-9 && abs(iv.upper - 95) < 1e-9)
    }
}

/// Synthetic randomized campaign with a known effect: y = x1 + T·tau(x) + noise with
/// tau(x) = 2·x0 for arm 1 and 2·x0 + 1 for arm 2.
struct Synthetic {
    var data: TrainingData
    var tau: [Double]

    init(n: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var x0 = [Double](), x1 = [Double](), x2 = [Double](), arm = [Int](), y = [Double](), tau = [Double]()
        for _ in 0..<n {
            let a = g.next(below: 3)
            let v0 = g.nextUnit(), v1 = g.nextUnit(), v2 = g.nextUnit()
            let t = 2 * v0
            let effect = a == 0 ? 0 : (a == 1 ? t : t + 1)
            x0.append(v0); x1.append(v1); x2.append(v2); arm.append(a)
            y.append(v1 + effect + 0.3 * (g.nextUnit() - 0.5))
            tau.append(t + 0.5)  // pooled effect: mean of the two arms' effects
        }
        data = TrainingData(x: FeatureMatrix(rowCount: n, columnCount: 3, values: x0 + x1 + x2), y: y, arm: arm, armNames: ["control", "A", "B"])
        self.tau = tau
    }
}

@Suite struct LearnerTests {
    @Test(arguments: [LearnerKind.t, .x, .dr])
    func learnersRecoverAKnownEffect(kind: LearnerKind) throws {
        let train = Synthetic(n: 6000, seed: 1)
        let test = Synthetic(n: 2000, seed: 2)
        let settings = ForestSettings(nTrees: 60, maxDepth: 6, minSamplesLeaf: 20)
        let fit = try Learners.fit(LearnerConfig(kind: kind, outcome: settings, folds: 2), data: train.data, perArm: true, seed: 11)
        let enc = FeatureEncoder(inputs: ["x0", "x1", "x2"].map { .init(name: $0, kind: .numeric) })
        let scores = UpliftModel(encoder: enc, forests: fit.forests, outputs: fit.outputs).score(test.data.x)
        let pooled = Inference.pearson(scores.uplift, test.tau)
        // Per arm: the true arm effects are 2·x0 and 2·x0 + 1, both perfectly correlated with x0.
        let armA = Inference.pearson(scores.armUplift[0], test.tau)
        let armB = Inference.pearson(scores.armUplift[1], test.tau)
        // Measured with these seeds (pooled; arm A, arm B): T 0.989; 0.996, 0.996. X 0.994; 0.999, 0.999.
        // DR 0.989; 0.999, 0.998.
        #expect(pooled > 0.97, "pooled correlation \(pooled)")
        #expect(armA > 0.98 && armB > 0.98, "arm correlations \(armA), \(armB)")
        // Arm B's effect is larger by 1 on average.
        let meanA = scores.armUplift[0].reduce(0, +) / 2000, meanB = scores.armUplift[1].reduce(0, +) / 2000
        #expect(abs((meanB - meanA) - 1) < 0.15)
        #expect(abs(fit.propensity - 2.0 / 3.0) < 0.02)
    }

    @Test("with the design's shares given, every propensity comes from them, not from the rows' own shares")
    func propensitiesFromTheDesign() throws {
        var data = Synthetic(n: 900, seed: 4).data
        let observed = try Learners.fit(
            LearnerConfig(kind: .x, outcome: ForestSettings(nTrees: 5, maxDepth: 3, minSamplesLeaf: 20)), data: data, perArm: true, seed: 3)
        let counts = (0..<3).map { k in Double(data.arm.filter { $0 == k }.count) }
        #expect(observed.propensity == (counts[1] + counts[2]) / 900)
        #expect(observed.armPropensities["A"] == counts[1] / (counts[0] + counts[1]))

        data.armShares = [0.5, 0.3, 0.2]
        #expect(data.treatedShare == 0.5)
        let design = try Learners.fit(
            LearnerConfig(kind: .x, outcome: ForestSettings(nTrees: 5, maxDepth: 3, minSamplesLeaf: 20)), data: data, perArm: true, seed: 3)
        #expect(design.propensity == 0.5)
        #expect(design.armPropensities["A"] == 0.3 / 0.8 && design.armPropensities["B"] == 0.2 / 0.7)
        // The X-learner blends its two effect models by the propensity: the frozen weights carry it.
        #expect(design.outputs.uplift.map(\.weight).sorted() == [0.5, 0.5])
    }

    @Test("learners given one outcome seed and cache share their outcome forests; the cache changes no result")
    func sharedOutcomeForests() throws {
        let data = Synthetic(n: 900, seed: 6).data
        let settings = ForestSettings(nTrees: 40, maxDepth: 4, minSamplesLeaf: 10)
        let cache = ForestCache()
        var cached: [LearnerFit] = []
        for kind in [LearnerKind.t, .x, .dr] {
            let config = LearnerConfig(kind: kind, outcome: settings, folds: 2)
            let seed = Learners.seed(5, kind.name)
            let fit = try Learners.fit(config, data: data, perArm: true, seed: seed, outcomeSeed: 77, threads: 2, cache: cache)
            let alone = try Learners.fit(config, data: data, perArm: true, seed: seed, outcomeSeed: 77, threads: 1)
            #expect(fit.forests == alone.forests && fit.oobMSE == alone.oobMSE, "\(kind)")
            #expect(fit.scores(data.x, threads: 2) == alone.scores(data.x, threads: 1))
            cached.append(fit)
        }
        // mu0, mu1 and the two arms' mu1 trained once, by the T-learner.
        #expect(cache.hits == 2 * 4)
        for name in ["mu0", "mu1", "mu1_a", "mu1_b"] { #expect(cached[1].forests[name] == cached[0].forests[name] && cached[0].forests[name] != nil) }
        // A negative setting is the trainer's clear error, not a trap in the cache.
        #expect(throws: ForestError.self) {
            _ = try cache.train(data.x, data.y, params: ForestParams(nTrees: -5, seed: 1), threads: 1, outOfBag: true)
        }
        // A depth or feature count of -1 is not "no limit": after a fully grown forest is cached, the
        // same request with -1 still reaches the trainer's error (the key tells nil from -1).
        let full = ForestParams(nTrees: 2, seed: 3)
        _ = try cache.train(data.x, data.y, params: full, threads: 1, outOfBag: true)
        var badDepth = full
        badDepth.maxDepth = -1
        #expect(throws: ForestError.self) { _ = try cache.train(data.x, data.y, params: badDepth, threads: 1, outOfBag: true) }
        var badFeatures = full
        badFeatures.maxFeatures = -1
        #expect(throws: ForestError.self) { _ = try cache.train(data.x, data.y, params: badFeatures, threads: 1, outOfBag: true) }
        // Without a common outcome seed the outcome forests are the learner's own.
        let own = try Learners.fit(LearnerConfig(kind: .x, outcome: settings), data: data, perArm: false, seed: 9)
        #expect(own.forests["mu0"] != cached[0].forests["mu0"])
    }

    @Test("DR's out-of-bag pseudo-outcome: a row's own outcome enters only its residual term, never its outcome predictions")
    func drOutOfBagNeverSeesTheRow() throws {
        let data = Synthetic(n: 800, seed: 31).data
        let settings = ForestSettings(nTrees: 60, maxDepth: 5, minSamplesLeaf: 5)
        let config = LearnerConfig(kind: .dr, outcome: settings)
        func pseudo(_ data: TrainingData, cache: ForestCache?) throws -> (phi: [Double], rows: [Int], e: Double) {
            var fitting = LearnerFitting(
                config: config, data: data, seed: 1, outcomeSeed: 2, threads: 2, progress: nil, cache: cache, outOfBag: false)
            let control = data.arm.indices.filter { data.arm[$0] == 0 }, treated = data.arm.indices.filter { data.arm[$0] != 0 }
            let mu0 = try fitting.train("mu0", rows: control, target: control.map { data.y[$0] }, settings: settings, outcomeForest: true)
            let mu1 = try fitting.train("mu1", rows: treated, target: treated.map { data.y[$0] }, settings: settings, outcomeForest: true)
            let e = Double(treated.count) / Double(data.y.count)
            let group = TreatedGroup(
                suffix: "", arms: [1, 2], treated: treated, control: control, propensity: e, mu0: mu0,
                mu0OnTraining: TrainingPrediction { mu0.predict(data.x, threads: 1) }, mu1Name: "mu1", mu1: mu1)
            let rows = (treated + control).sorted()
            return (try Learners.drPseudoOutcomeOutOfBag(rows: rows, group: group, fitting: &fitting), rows, e)
        }
        let (phi, rows, e) = try pseudo(data, cache: nil)
        // Through a cache the forests were kept without their out-of-bag summary: recomputed, the same bits.
        #expect(try pseudo(data, cache: ForestCache()).phi.map(\.bitPattern) == phi.map(\.bitPattern))
        // Move one row's outcome far away: the trees that saw it change, the trees that predict it do
        // not (nor the other arm's forest), so its pseudo-outcome moves by its residual term alone.
        let t = data.arm.firstIndex { $0 != 0 }!, c = data.arm.firstIndex { $0 == 0 }!
        let it = rows.firstIndex(of: t)!, ic = rows.firstIndex(of: c)!
        var treatedMoved = data, controlMoved = data
        treatedMoved.y[t] += 50
        controlMoved.y[c] += 50
        let moved = try pseudo(treatedMoved, cache: nil).phi, movedControl = try pseudo(controlMoved, cache: nil).phi
        #expect(abs((moved[it] - phi[it]) - 50 / e) < 1e-9, "treated row moved by \(moved[it] - phi[it]), expected \(50 / e)")
        #expect(abs((movedControl[ic] - phi[ic]) + 50 / (1 - e)) < 1e-9, "control row moved by \(movedControl[ic] - phi[ic])")
        // Other rows' predictions come partly from trees that saw the moved rows.
        #expect(zip(moved, phi).enumerated().contains { $0.offset != it && $0.element.0 != $0.element.1 })
    }

    @Test("DR with too few trees for every row to be out of bag somewhere is an error naming the way out; cross-fitting still runs")
    func drNuisanceChoices() throws {
        let data = Synthetic(n: 600, seed: 32).data
        let few = ForestSettings(nTrees: 3, maxDepth: 3, minSamplesLeaf: 10)
        #expect { _ = try Learners.fit(LearnerConfig(kind: .dr, outcome: few), data: data, perArm: false, seed: 4) } throws: {
            $0 is ForestError && "\($0)".contains("no out-of-bag prediction") && "\($0)".contains("dr_nuisance: cross_fit")
        }
        let crossFit = LearnerConfig(kind: .dr, outcome: few, folds: 3, nuisance: .crossFit)
        let fit = try Learners.fit(crossFit, data: data, perArm: false, seed: 4)
        #expect(fit.forests["tau"] != nil)
        #expect(
            crossFit.json
                == .object([
                    "kind": .string("dr"), "outcome_forest": few.json, "effect_forest": few.json,
                    "nuisance": .string("cross_fit"), "cross_fitting_folds": .number(3),
                ]))
        #expect(
            LearnerConfig(kind: .dr, outcome: few).json
                == .object([
                    "kind": .string("dr"), "outcome_forest": few.json,
                    "effect_forest": few.json, "nuisance": .string("out_of_bag"),
                ]))
        #expect(crossFit.label.contains("3-fold cross-fitted outcome models"))
        #expect(LearnerConfig(kind: .dr, outcome: few).label.contains("out-of-bag outcome predictions"))
    }

    @Test("a cache asked to estimate out-of-bag summaries ahead returns what a plain cache returns, and the summary training gives")
    func outOfBagAhead() throws {
        let data = Synthetic(n: 500, seed: 33).data
        let params = ForestSettings(nTrees: 30, maxDepth: 4, minSamplesLeaf: 5).params(seed: 8)
        let (forest, summary) = try ForestTrainer.train(data.x, data.y, params: params, threads: 2)
        for cache in [ForestCache(), ForestCache(outOfBagAhead: { $0 == params }), ForestCache(outOfBagAhead: { _ in true })] {
            let first = try cache.train(data.x, data.y, params: params, threads: 2, outOfBag: false)
            #expect(first.forest == forest && first.summary == nil)
            let second = try cache.train(data.x, data.y, params: params, threads: 1, outOfBag: true)
            #expect(second.forest == forest && second.summary == summary && cache.hits == 1)
            #expect(cache.outOfBagSummary(data.x, data.y, params: params, threads: 1) == summary && cache.hits == 1)
        }
        // Without bootstrap there is no out-of-bag row, whichever request comes first.
        var plain = params
        plain.bootstrap = false
        let cache = ForestCache()
        _ = try cache.train(data.x, data.y, params: plain, threads: 1, outOfBag: false)
        let none = try cache.train(data.x, data.y, params: plain, threads: 1, outOfBag: true).summary!
        #expect(none == (try ForestTrainer.train(data.x, data.y, params: plain, threads: 1).summary) && none.oobRows == 0 && none.oobMSE == nil)
    }

    @Test("scores of held-out rows made while the forests grow are the bits scoring the fit gives them, through a shared cache too")
    func heldOutScores() throws {
        let data = Synthetic(n: 700, seed: 12).data
        let fresh = Synthetic(n: 300, seed: 13).data.x
        let held = HeldOutRows(fresh)
        for settings in [ForestSettings(nTrees: 40, maxDepth: 3, minSamplesLeaf: 10), ForestSettings(nTrees: 40)] {
            let cache = ForestCache()
            for kind in [LearnerKind.t, .x, .dr] {
                let config = LearnerConfig(kind: kind, outcome: settings)
                let seed = Learners.seed(4, kind.name)
                let fit = try Learners.fit(
                    config, data: data, perArm: true, seed: seed, outcomeSeed: 9, threads: 2, cache: cache, predicting: held)
                let plain = try Learners.fit(config, data: data, perArm: true, seed: seed, outcomeSeed: 9, threads: 1)
                #expect(fit.forests == plain.forests, "\(kind)")
                let expected = plain.scores(fresh, threads: 1)
                guard let got = fit.heldOutScores else {
                    Issue.record("no held-out scores for \(kind)")
                    continue
                }
                for (a, b) in [(got.y1, expected.y1), (got.y0, expected.y0), (got.uplift, expected.uplift)]
                    + zip(got.armUplift, expected.armUplift).map({ ($0, $1) })
                {
                    #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(kind)")
                }
            }
            // A cached forest asked for another matrix's rows predicts them once and keeps them.
            let params = settings.params(seed: 5)
            let first = try cache.train(data.x, data.y, params: params, threads: 2, outOfBag: false, predicting: held)
            let other = HeldOutRows(data.x)
            let again = try cache.train(data.x, data.y, params: params, threads: 2, outOfBag: false, predicting: other)
            #expect(again.predictions!.map(\.bitPattern) == first.forest.predict(data.x, threads: 1).map(\.bitPattern))
            #expect(first.predictions!.map(\.bitPattern) == first.forest.predict(fresh, threads: 1).map(\.bitPattern))
        }
    }

    @Test("the frozen terms and the learner's own prediction give the same bits")
    func scoresByTerms() throws {
        let data = Synthetic(n: 600, seed: 8).data
        for kind in [LearnerKind.t, .x, .dr] {
            let fit = try Learners.fit(
                LearnerConfig(kind: kind, outcome: ForestSettings(nTrees: 40, maxDepth: 3, minSamplesLeaf: 10)), data: data, perArm: true, seed: 2)
            let terms = fit.scores(data.x, threads: 2), own = fit.prediction(data.x, 2)
            for (a, b) in [(terms.y1, own.y1), (terms.y0, own.y0), (terms.uplift, own.uplift)] + zip(terms.armUplift, own.armUplift).map({ ($0, $1) }) {
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(kind)")
            }
        }
    }

    @Test func seedsDependOnlyOnMasterSeedAndName() {
        #expect(Learners.seed(1, "mu0") == Learners.seed(1, "mu0"))
        #expect(Learners.seed(1, "mu0") != Learners.seed(2, "mu0"))
        #expect(Learners.seed(1, "mu0") != Learners.seed(1, "mu1"))
    }
}

@Suite struct ModelFileTests {
    static let encoder = FeatureEncoder(inputs: ["x0", "x1", "x2"].map { .init(name: $0, kind: .numeric) })

    func makeModel(seed: UInt64 = 3) throws -> (model: UpliftModel, fit: LearnerFit, x: FeatureMatrix, drift: DriftReference) {
        let syn = Synthetic(n: 800, seed: 5)
        let fit = try Learners.fit(
            LearnerConfig(kind: .x, outcome: ForestSettings(nTrees: 10, maxDepth: 4, minSamplesLeaf: 5)),
            data: syn.data, perArm: true, seed: seed)
        let model = UpliftModel(encoder: Self.encoder, forests: fit.forests, outputs: fit.outputs)
        let n = syn.data.x.rowCount, v = syn.data.x.values
        let table = Table(
            source: "train.csv", names: ["x0", "x1", "x2"],
            columns: (0..<3).map { .double(Array(v[($0 * n)..<(($0 + 1) * n)])) })
        return (model, fit, syn.data.x, try DriftReference(training: table, encoder: Self.encoder))
    }

    func meta(_ fit: LearnerFit, forestsSHA256: String) -> ModelMeta {
        ModelMeta(
            formatVersion: UpliftModel.formatVersion, dataset: "synthetic", idColumn: "row_id", featureCols: Self.encoder.featureNames,
            numCols: ["x0", "x1", "x2"], catCols: [], categories: [:],
            treatment: .init(
                armColumn: "arm", controlArm: "control", arms: ["control", "A", "B"], treatmentColumn: "treatment",
                definition: "any arm", propensity: fit.propensity, armPropensities: fit.armPropensities),
            target: "y", learner: "x", learnerParams: .null, trainingFile: "train.csv", trainingFileSHA256: "00",
            trainingRows: 800, forestsFile: UpliftModel.forestsFile, forestsSHA256: forestsSHA256,
            forestFormatVersion: Int(ForestFormat.version), outputs: fit.outputs)
    }

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("uplift-model-\(UUID().uuidString)").path
    }

    /// Saves a small fitted model; returns the directory and what was saved.
    func savedModel() throws -> (dir: String, model: UpliftModel, saved: UpliftModel.Saved) {
        let (model, fit, _, drift) = try makeModel()
        let dir = temporaryDirectory()
        let saved = try model.save(to: dir, drift: drift) { meta(fit, forestsSHA256: $0) }
        return (dir, model, saved)
    }

    @Test func saveAndLoadGiveBitIdenticalScores() throws {
        let (model, fit, x, drift) = try makeModel()
        let dir = temporaryDirectory()
        var written: [String] = []
        let saved = try model.save(
            to: dir, drift: drift,
            write: { bytes, path in
                written.append((path as NSString).lastPathComponent)
                try AtomicFile.write(bytes, to: path)
            }
        ) { meta(fit, forestsSHA256: $0) }
        // meta.json last: it names the checksum of the forests written before it.
        #expect(written == ["forests.bin", "encoder.json", "drift_reference.json", "meta.json"])
        for file in [saved.forests, saved.encoder, saved.drift, saved.metaFile] {
            #expect(try SHA256.hex(ofFile: dir + "/" + file.name) == file.sha256)
        }
        let (loaded, loadedMeta) = try UpliftModel.load(from: dir)
        #expect(loaded == model)
        #expect(loadedMeta == saved.meta)
        #expect(loadedMeta.forestsSHA256 == SHA256.hex(of: model.forestBytes()))
        let a = model.score(x), b = loaded.score(x)
        #expect(a.y1.map(\.bitPattern) == b.y1.map(\.bitPattern))
        #expect(a.y0.map(\.bitPattern) == b.y0.map(\.bitPattern))
        #expect(a.uplift.map(\.bitPattern) == b.uplift.map(\.bitPattern))
        #expect(a.armUplift.flatMap { $0 }.map(\.bitPattern) == b.armUplift.flatMap { $0 }.map(\.bitPattern))
        // X-learner blend weights survive JSON exactly.
        #expect(loadedMeta.outputs.uplift.map(\.weight.bitPattern) == fit.outputs.uplift.map(\.weight.bitPattern))
        #expect(try UpliftModel.decodeJSON(DriftReference.self, path: dir + "/" + DriftReference.file) == drift)
    }

    @Test func metadataThatDoesNotDescribeTheModelIsNotSaved() throws {
        let (model, fit, _, drift) = try makeModel()
        var other = fit.outputs
        other.uplift.reverse()
        #expect {
            try model.save(to: temporaryDirectory(), drift: drift) { sha in
                var m = meta(fit, forestsSHA256: sha)
                m.outputs = other
                return m
            }
        } throws: { "\($0)".contains("loads back different from the fitted one") }
        #expect { try model.save(to: temporaryDirectory(), drift: drift) { _ in meta(fit, forestsSHA256: "00") } } throws: {
            "\($0)".contains("corrupt or replaced")
        }
    }

    @Test func aSaveInterruptedBeforeTheMetadataLeavesADirectoryThatDoesNotLoad() throws {
        let (dir, _, _) = try savedModel()
        let (other, fit, _, drift) = try makeModel(seed: 4)
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try other.save(
                to: dir, drift: drift,
                write: { bytes, path in
                    if path.hasSuffix(UpliftModel.metaFile) { throw Interrupted() }
                    try AtomicFile.write(bytes, to: path)
                }
            ) { meta(fit, forestsSHA256: $0) }
        }
        #expect { try UpliftModel.load(from: dir) } throws: { "\($0)".contains("corrupt or replaced") }
    }

    @Test func corruptForestsAreRejected() throws {
        let (dir, model, _) = try savedModel()
        var bytes = model.forestBytes()
        bytes[bytes.count / 2] ^= 0xFF
        try AtomicFile.write(bytes, to: dir + "/forests.bin")
        #expect { try UpliftModel.load(from: dir) } throws: { "\($0)".contains("corrupt or replaced") }
    }

    @Test func wrongFormatVersionIsRejected() throws {
        let (dir, _, saved) = try savedModel()
        var meta = saved.meta
        meta.formatVersion = 99
        try AtomicFile.write(try UpliftModel.metaJSON(meta), to: dir + "/meta.json")
        #expect { try UpliftModel.load(from: dir) } throws: { "\($0)".contains("model format version 99") }
    }

    @Test func missingMetaFieldIsNamed() throws {
        let (dir, _, saved) = try savedModel()
        var text = String(decoding: try UpliftModel.metaJSON(saved.meta), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"forests_sha256\"", with: "\"forests_sha\"")
        try AtomicFile.write(text, to: dir + "/meta.json")
        #expect { try UpliftModel.load(from: dir) } throws: { "\($0)".contains("missing field 'forests_sha256'") }
    }
}

@Suite struct LearnerContractTests {
    // 40 trees: a row is in all of their bootstraps with probability 0.632^40 ≈ 1e-8, so the
    // DR-learner's out-of-bag predictions exist for every row.
    static let settings = ForestSettings(nTrees: 40, maxDepth: 4, minSamplesLeaf: 5)
    let train = Synthetic(n: 900, seed: 21)
    let sample = Synthetic(n: 200, seed: 22).data.x

    func fit(_ kind: LearnerKind) throws -> LearnerFit {
        try Learners.fit(LearnerConfig(kind: kind, outcome: Self.settings, folds: 2), data: train.data, perArm: true, seed: 5)
    }

    @Test(arguments: LearnerRegistry.all)
    func everyRegisteredLearnerKeepsTheContract(learner: LearnerDescriptor) throws {
        let config = learner.config(baseline: Self.settings, tuned: ForestSettings(nTrees: 40, maxDepth: 3, minSamplesLeaf: 10), folds: 2)
        let fit = try Learners.fit(config, data: train.data, perArm: true, seed: 5)
        try LearnerContract.check(fit, sample: sample, learner: learner.key)
        // The frozen model's scores are the learner's own prediction.
        let frozen = UpliftModel(encoder: ModelFileTests.encoder, forests: fit.forests, outputs: fit.outputs).score(sample)
        let own = fit.prediction(sample, 1)
        #expect(frozen.uplift == own.uplift)
        #expect(frozen.armUplift == own.armUplift)
    }

    /// A T-learner design whose uplift for each group is `predict(mu1, mu0)` but whose model
    /// records `terms(group)`.
    static func badKind(
        terms: @escaping @Sendable (TreatedGroup) -> [OutputTerm],
        predict: @escaping @Sendable (_ mu1: Double, _ mu0: Double) -> Double
    ) -> LearnerKind {
        LearnerKind(name: "bad", usesEffectForests: false, usesCrossFitting: false) { _, g in
            let mu1 = g.mu1, mu0 = g.mu0
            return GroupUplift(terms: terms(g)) { x, threads in
                zip(mu1.predict(x, threads: threads), mu0.predict(x, threads: threads)).map { predict($0, $1) }
            }
        }
    }

    static let tTerms: @Sendable (TreatedGroup) -> [OutputTerm] = { [OutputTerm($0.mu1Name, 1), OutputTerm("mu0", -1)] }

    @Test func theReferenceDesignPasses() throws {
        // The same construction as the bad learners below, kept honest: it must pass, so the
        // rejections are due to what each bad learner changes.
        try LearnerContract.check(try fit(Self.badKind(terms: Self.tTerms, predict: { $0 - $1 })), sample: sample, learner: "t")
    }

    @Test func aScoreThatIsNotALinearCombinationIsRejected() throws {
        // Caps its uplift at 0.5: the frozen model cannot express it and would score mu1 − mu0.
        let capped = try fit(Self.badKind(terms: Self.tTerms, predict: { min($0 - $1, 0.5) }))
        #expect { try LearnerContract.check(capped, sample: sample, learner: "capped") } throws: {
            let v = $0 as? LearnerContract.Violation
            return v?.learner == "capped" && "\($0)".contains("output uplift at sample row") && "\($0)".contains("output uplift_a at sample row")
        }
    }

    @Test func aTermOnAMissingForestIsRejected() throws {
        let missing = try fit(Self.badKind(terms: { [OutputTerm("tau" + $0.suffix, 1)] }, predict: { $0 - $1 }))
        #expect { try LearnerContract.check(missing, sample: sample, learner: "missing") } throws: {
            "\($0)".contains("output uplift uses forest 'tau', which the fit does not have")
        }
    }

    @Test func aNonFiniteWeightIsRejected() throws {
        let infinite = try fit(
            Self.badKind(
                terms: { [OutputTerm($0.mu1Name, 1 / ($0.propensity - $0.propensity)), OutputTerm("mu0", -1)] },
                predict: { $0 - $1 }))
        #expect { try LearnerContract.check(infinite, sample: sample, learner: "infinite") } throws: {
            "\($0)".contains("output uplift weights forest 'mu1' by inf")
        }
    }

    @Test func termsThatDisagreeWithTheLearnerAreRejected() throws {
        // The X-learner's blend weights swapped after fitting: still linear, but not what the learner predicts.
        var x = try fit(.x)
        x.outputs.uplift = x.outputs.uplift.map { OutputTerm($0.forest, 1 - $0.weight) }
        #expect { try LearnerContract.check(x, sample: sample, learner: "x") } throws: { "\($0)".contains("output uplift at sample row") }
        // A forest the learner did not keep.
        var dr = try fit(.dr)
        dr.forests["tau"] = nil
        #expect { try LearnerContract.check(dr, sample: sample, learner: "dr") } throws: { "\($0)".contains("uses forest 'tau', which the fit does not have") }
    }
}

@Suite struct LearnerRegistryTests {
    @Test func keysAreUniqueAndTheBaselineIsRegistered() {
        #expect(Set(LearnerRegistry.keys).count == LearnerRegistry.all.count)
        #expect(LearnerRegistry.all.contains(LearnerRegistry.baseline))
        #expect(
            LearnerRegistry.all.allSatisfy { !$0.title.isEmpty && !$0.explanation(LearnerConfig(kind: $0.kind, outcome: ForestSettings(nTrees: 1))).isEmpty })
    }

    @Test func forestChoiceSelectsTheSettings() {
        let baseline = ForestSettings(nTrees: 300), tuned = ForestSettings(nTrees: 100, maxDepth: 3, minSamplesLeaf: 400)
        for learner in LearnerRegistry.all {
            let c = learner.config(baseline: baseline, tuned: tuned, folds: 3)
            #expect(c.kind == learner.kind && c.folds == 3)
            #expect(c.outcome == (learner.forests == .baseline ? baseline : tuned))
        }
    }

    func params(learners: String, rule: String = "supported_or_simplest", folds: Int = 3) throws -> String {
        let text = try String(contentsOfFile: packageRoot + "/stages/uplift/params.yaml", encoding: .utf8)
            .replacingOccurrences(of: "learners: [t_baseline, t_tuned, x, dr]", with: "learners: \(learners)")
            .replacingOccurrences(of: "rule: supported_or_simplest ", with: "rule: \(rule) ")
            .replacingOccurrences(of: "folds: 3 ", with: "folds: \(folds) ")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uplift-params-\(UUID().uuidString).yaml").path
        try AtomicFile.write(text, to: path)
        return path
    }

    @Test func theStageParamsNameRegisteredLearners() throws {
        let (p, _) = try Params.load(UpliftParams.self, from: packageRoot + "/stages/uplift/params.yaml")
        #expect(p.learners.map(\.key) == ["t_baseline", "t_tuned", "x", "dr"])
        #expect(p.selection.folds == 3 && p.selection.seeds == 3 && p.selection.rule == .supportedOrSimplest)
        #expect(p.drNuisance == .outOfBag && p.drFolds == 2)
        // Either way of keeping the DR-learner's outcome predictions honest can be asked for; another word is an error.
        let text = try String(contentsOfFile: packageRoot + "/stages/uplift/params.yaml", encoding: .utf8)
        for (value, expected) in [("cross_fit", DRNuisance.crossFit), ("out_of_bag", .outOfBag)] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("uplift-params-\(UUID().uuidString).yaml").path
            try AtomicFile.write(text.replacingOccurrences(of: "dr_nuisance: out_of_bag ", with: "dr_nuisance: \(value) "), to: path)
            #expect(try Params.load(UpliftParams.self, from: path).0.drNuisance == expected)
        }
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("uplift-params-\(UUID().uuidString).yaml").path
        try AtomicFile.write(text.replacingOccurrences(of: "dr_nuisance: out_of_bag ", with: "dr_nuisance: bagged "), to: bad)
        #expect { try Params.load(UpliftParams.self, from: bad) } throws: { "\($0)".contains("dr_nuisance") }
        // Absent, the default: out of bag.
        let absent = FileManager.default.temporaryDirectory.appendingPathComponent("uplift-params-\(UUID().uuidString).yaml").path
        try AtomicFile.write(
            text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("dr_nuisance:") }.joined(separator: "\n"), to: absent)
        #expect(try Params.load(UpliftParams.self, from: absent).0.drNuisance == nil)
    }

    @Test func anUnknownLearnerKeyIsAnErrorNamingTheValidKeys() throws {
        let path = try params(learners: "[t_baseline, t_tunned, x]")
        #expect { try Params.load(UpliftParams.self, from: path) } throws: { e in
            let text = "\(e)"
            return e is DataError && text.contains("learners") && text.contains("unknown learner 't_tunned'")
                && text.contains("valid keys: t_baseline, t_tuned, x, dr")
        }
        let rule = try params(learners: "[t_baseline, x]", rule: "best_man")
        #expect { try Params.load(UpliftParams.self, from: rule) } throws: { "\($0)".contains("best_man") }
    }

    @Test func learnersAreCheckedAgainstEachOther() throws {
        for (learners, message) in [
            ("[t_tuned, x]", "learners must include t_baseline"), ("[t_baseline, x, x]", "lists 'x' more than once"),
        ] {
            let (p, _) = try Params.load(UpliftParams.self, from: try params(learners: learners))
            #expect { try p.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"]) } throws: { "\($0)".contains(message) }
        }
        for (folds, message) in [(1, "selection.folds must be at least 2")] {
            let (p, _) = try Params.load(UpliftParams.self, from: try params(learners: "[t_baseline, x]", folds: folds))
            #expect { try p.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"]) } throws: { "\($0)".contains(message) }
        }
        // The DR-learner's out-of-bag predictions need enough tuned trees, checked before any training;
        // cross-fitting, or no DR-learner, needs none.
        let (withDR, _) = try Params.load(UpliftParams.self, from: try params(learners: "[t_baseline, dr]"))
        var fewTrees = withDR
        fewTrees.tuning.finalTrees = 39
        #expect { try fewTrees.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"]) } throws: {
            "\($0)".contains("tuning.final_trees must be at least 40 for the DR-learner's out-of-bag predictions (got 39)")
        }
        fewTrees.drNuisance = .crossFit
        try fewTrees.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"])
        var noDR = try Params.load(UpliftParams.self, from: try params(learners: "[t_baseline, x]")).0
        noDR.tuning.finalTrees = 5
        try noDR.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"])
        // Forest settings no forest could be grown with are refused by key, before any training.
        let (good, _) = try Params.load(UpliftParams.self, from: try params(learners: "[t_baseline, x]"))
        var edits: [(UpliftParams, String)] = []
        var p = good
        p.baseline.minSamplesLeaf = -1
        edits.append((p, "baseline.min_samples_leaf must be at least 1 (got -1)"))
        p = good
        p.baseline.nTrees = 0
        edits.append((p, "baseline.n_trees must be at least 1 (got 0)"))
        p = good
        p.tuning.maxDepth = [2, -3]
        edits.append((p, "tuning.max_depth must be at least 0 (got -3)"))
        p = good
        p.tuning.finalTrees = 0
        edits.append((p, "tuning.final_trees must be at least 1 (got 0)"))
        for (edited, message) in edits {
            #expect { try edited.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"]) } throws: {
                "\($0)".contains(message) && ($0 as? ClassifiedError)?.isBadInput == true
            }
        }
        try good.validate(source: "params.yaml", outcomeNames: ["spend", "visit", "conversion"])
    }
}
