import Base
import Experiment
import Foundation
import Policy
import Stats
import Tabular
import Testing
import Uplift

@testable import PolicyAnalysis
@testable import UpliftAnalysis

/// The decisions follow held-out evidence: the learner is chosen without the test split, every
/// row is scored by a model that never saw it, the recommendation follows the paired comparison,
/// and the confirming experiment's assignment depends on the ids alone.
@Suite("Decisions from held-out evidence")
struct DecisionTests {
    static let spec = DatasetSpec(
        name: "decisions", file: "campaign.csv", armColumn: "arm", controlArm: "none", idColumn: "customer",
        outcomes: [.init(name: "spend", type: .continuous)],
        features: [.init(name: "x", type: .numeric), .init(name: "seg", type: .categorical)])

    /// A campaign whose effect grows with x in arm "a" (heterogeneous) and is flat in arm "b".
    static func campaign(rows n: Int, seed: UInt64) throws -> Table {
        var g = SeededGenerator(seed: seed)
        var text = "customer,x,seg,arm,treatment,spend\n"
        let arms = ["none", "a", "b"]
        for i in 0..<n {
            let x = g.nextUnit(), arm = g.next(below: 3)
            let effect = arm == 1 ? 4 * x : (arm == 2 ? 0.5 : 0)
            text += "C\(i),\(formatDouble(x)),\(i % 2 == 0 ? "p" : "q"),\(arms[arm]),\(arm == 0 ? 0 : 1),\(formatDouble(effect + 2 * g.nextUnit()))\n"
        }
        return try CSVReader.read(bytes: Array(text.utf8), source: "campaign.csv", schema: spec.preparedSchema)
    }

    static func upliftParams(rule: String = "best_supported") throws -> UpliftParams {
        try JSONDecoder().decode(
            UpliftParams.self,
            from: Data(
                """
                {"seed": 7, "primary_outcome": "spend", "outcomes": ["spend"],
                 "baseline": {"n_trees": 12, "max_depth": null, "min_samples_leaf": 1, "max_features": null},
                 "tuning": {"n_trees": 8, "max_depth": [2, 3], "min_samples_leaf": [20], "max_features": null, "final_trees": 12},
                 "learners": ["t_baseline", "t_tuned", "x"], "selection": {"folds": 3, "seeds": 2, "rule": "\(rule)"}, "dr_folds": 2,
                 "bootstrap_replicates": 200, "confidence_level": 0.95, "deciles": 4, "curve_points": 10}
                """.utf8))
    }

    @Test("a learner's rank in the report's words, for any number of learners")
    func ranksInWords() {
        #expect((1...5).map(UpliftReport.ordinal) == ["first", "second", "third", "fourth", "fifth"])
        #expect([6, 11, 12, 13, 21, 22, 23, 101, 111].map(UpliftReport.ordinal) == ["6th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th"])
    }

    @Test("folds are stratified by arm, balanced and deterministic")
    func folds() {
        var g = SeededGenerator(seed: 3)
        let arm = (0..<1000).map { _ in g.next(below: 3) }
        let f = UpliftAnalysis.stratifiedFolds(arm: arm, arms: 3, folds: 4, seed: 11)
        #expect(f == UpliftAnalysis.stratifiedFolds(arm: arm, arms: 3, folds: 4, seed: 11))
        for a in 0..<3 {
            let counts = (0..<4).map { k in arm.indices.filter { arm[$0] == a && f[$0] == k }.count }
            #expect(counts.max()! - counts.min()! <= 1, "arm \(a): \(counts)")
        }
    }

    /// A cross-fitted row: mean AUUC over two seeds `mean`, difference against the baseline with
    /// the adjusted interval [lower, upper], standard error `se` of the difference from the best
    /// mean, and `nodes` tree nodes.
    static func row(_ key: String, mean: Double, lower: Double, upper: Double, se: Double, nodes: Double) -> SelectionRow {
        var row = SelectionRow(
            learner: LearnerRegistry.descriptor(key: key)!, auuc: Estimate(value: mean, ci: Interval(mean - 0.1, mean + 0.1)), qini: nil,
            auucVsBaseline: Estimate(value: (lower + upper) / 2, ci: Interval(lower, upper)), seedAUUC: [mean - 0.01, mean + 0.01],
            modelNodes: nodes)
        row.standardErrorVsBest = se
        return row
    }

    @Test("supported_or_simplest: the best supported learner, else the smallest model within one standard error of the best mean")
    func simplestRule() {
        let base = Self.row("t_baseline", mean: 0.05, lower: 0, upper: 0, se: 0, nodes: 90_000)
        let tuned = Self.row("t_tuned", mean: 0.01, lower: -0.1, upper: 0.08, se: 0.05, nodes: 3_000)
        let x = Self.row("x", mean: 0.03, lower: -0.05, upper: 0.1, se: 0.01, nodes: 6_000)
        // The DR-learner is the smallest but more than one standard error below the best mean.
        let dr = Self.row("dr", mean: -0.2, lower: -0.3, upper: -0.01, se: 0.2, nodes: 1_000)
        let rows = [base, tuned, x, dr]
        #expect(UpliftAnalysis.choose(rows, rule: .supportedOrSimplest) == (LearnerRegistry.descriptor(key: "t_tuned")!, []))
        #expect(UpliftAnalysis.choose(rows, rule: .bestSupported).chosen == LearnerRegistry.baseline)
        #expect(UpliftAnalysis.choose(rows, rule: .bestMean).chosen == LearnerRegistry.baseline)
        // Within one standard error of the best mean (0.05): the DR-learner's gap of 0.25 needs one of 0.25.
        var edge = rows
        edge[3].standardErrorVsBest = 0.26
        #expect(UpliftAnalysis.choose(edge, rule: .supportedOrSimplest).chosen.key == "dr")
        edge[3].standardErrorVsBest = 0.24
        #expect(UpliftAnalysis.choose(edge, rule: .supportedOrSimplest).chosen.key == "t_tuned")
        // The X-learner (gap 0.02, standard error 0.01) is outside, the baseline is the best.
        var noTuned = rows
        noTuned[1].standardErrorVsBest = 0.01
        #expect(UpliftAnalysis.choose(noTuned, rule: .supportedOrSimplest).chosen == LearnerRegistry.baseline)
        // The yardstick is the best mean, not the baseline: with the X-learner best (0.08), the tuned
        // T-learner's gap of 0.07 needs a standard error of 0.07.
        var xBest = rows
        xBest[2].seedAUUC = [0.07, 0.09]
        xBest[2].standardErrorVsBest = 0
        xBest[0].standardErrorVsBest = 0.001
        xBest[1].standardErrorVsBest = 0.069
        #expect(UpliftAnalysis.choose(xBest, rule: .supportedOrSimplest).chosen.key == "x")
        xBest[1].standardErrorVsBest = 0.071
        #expect(UpliftAnalysis.choose(xBest, rule: .supportedOrSimplest).chosen.key == "t_tuned")
        // A size or standard error that is not a number keeps a learner out; the best stays in.
        var nan = rows
        nan[1].modelNodes = .nan
        #expect(UpliftAnalysis.choose(nan, rule: .supportedOrSimplest).chosen == LearnerRegistry.baseline)
        nan = rows
        nan[1].standardErrorVsBest = .nan
        #expect(UpliftAnalysis.choose(nan, rule: .supportedOrSimplest).chosen == LearnerRegistry.baseline)
        nan = rows
        nan[0].modelNodes = .nan
        #expect(UpliftAnalysis.choose(nan, rule: .supportedOrSimplest).chosen.key == "t_tuned")
        // A supported learner wins under both supported rules, however large.
        var supported = rows
        supported[2].auucVsBaseline.ci = Interval(0.01, 0.2)
        supported[2].modelNodes = 500_000
        for rule: SelectionParams.Rule in [.supportedOrSimplest, .bestSupported] {
            let (chosen, list) = UpliftAnalysis.choose(supported, rule: rule)
            #expect(chosen.key == "x" && list.map(\.key) == ["x"])
        }
        // The baseline stays when it is the smallest candidate; equal sizes go to the learner listed first.
        var small = rows
        small[0].modelNodes = 2_000
        #expect(UpliftAnalysis.choose(small, rule: .supportedOrSimplest).chosen == LearnerRegistry.baseline)
        var tie = rows
        tie[2].modelNodes = 3_000
        tie[2].standardErrorVsBest = 0.05
        #expect(UpliftAnalysis.choose(tie, rule: .supportedOrSimplest).chosen.key == "t_tuned")
        tie.swapAt(1, 2)
        #expect(UpliftAnalysis.choose(tie, rule: .supportedOrSimplest).chosen.key == "x")
    }

    @Test("the learner choice and the cross-fitted scores do not depend on the test split")
    func choiceIgnoresTheTestSplit() throws {
        let train = try Self.campaign(rows: 1200, seed: 1)
        let test = try Self.campaign(rows: 400, seed: 2)
        // The same test customers with other outcomes (a permutation of spend).
        var g = SeededGenerator(seed: 9)
        var order = Array(0..<test.rowCount)
        g.shuffle(&order)
        let spend = try test.doubles("spend")
        var text = "customer,x,seg,arm,treatment,spend\n"
        let ids = try test.strings("customer").values, xs = try test.doubles("x"), segs = try test.strings("seg").values
        let arms = try test.strings("arm").values
        for i in 0..<test.rowCount {
            text += "\(ids[i]),\(formatDouble(xs[i])),\(segs[i]),\(arms[i]),\(arms[i] == "none" ? 0 : 1),\(formatDouble(spend[order[i]]))\n"
        }
        let other = try CSVReader.read(bytes: Array(text.utf8), source: "test.csv", schema: Self.spec.preparedSchema)

        let p = try Self.upliftParams()
        let a = try UpliftAnalysis.run(p, spec: Self.spec, train: train, test: test, threads: 2)
        let b = try UpliftAnalysis.run(p, spec: Self.spec, train: train, test: other, threads: 1)
        #expect(a.selection.chosen == b.selection.chosen)
        #expect(a.selection.rows.map(\.seedAUUC) == b.selection.rows.map(\.seedAUUC))
        #expect(a.selection.rows.map(\.auucVsBaseline.ci) == b.selection.rows.map(\.auucVsBaseline.ci))
        #expect(a.crossFitScores == b.crossFitScores)
        // ... while the test split's own numbers do change.
        #expect(a.outcomes[0].learners[0].auuc.value != b.outcomes[0].learners[0].auuc.value)
        #expect(a.selection.seeds == 2 && a.selection.rows.allSatisfy { $0.seedAUUC.count == 2 })
        #expect(abs(a.selection.adjustedLevel - (1 - 0.05 / 2)) < 1e-12)
    }

    @Test("every training row is scored by the learner fitted on the other folds")
    func outOfFold() throws {
        let train = try Self.campaign(rows: 600, seed: 4)
        let encoder = try FeatureEncoder(fitting: train, features: [("x", false), ("seg", true)])
        let (x, _) = try encoder.encode(train)
        let armNames = ["none", "a", "b"]
        let armIndex = try train.strings("arm").values.map { armNames.firstIndex(of: $0)! }
        let data = TrainingData(x: x, y: try train.doubles("spend"), arm: armIndex, armNames: armNames, armShares: [1, 1, 1])
        let config = LearnerConfig(kind: .t, outcome: ForestSettings(nTrees: 6, maxDepth: 3, minSamplesLeaf: 10))
        let fold = UpliftAnalysis.stratifiedFolds(arm: armIndex, arms: 3, folds: 3, seed: 5)
        let (scores, _, nodes) = try UpliftAnalysis.outOfFold(config, data: data, fold: fold, folds: 3, perArm: true, seed: 8, threads: 2)
        // The per-arm cross-fit through the pooled cross-fit's forests gives the same scores, reusing mu0 and mu1.
        let cache = ForestCache()
        let (pooled, _, _) = try UpliftAnalysis.outOfFold(
            config, data: data, fold: fold, folds: 3, perArm: false, seed: 8, outcomeSeed: 9, threads: 2, cache: cache)
        let (again, _, _) = try UpliftAnalysis.outOfFold(
            config, data: data, fold: fold, folds: 3, perArm: true, seed: 8, outcomeSeed: 9, threads: 1, cache: cache)
        let (alone, _, _) = try UpliftAnalysis.outOfFold(config, data: data, fold: fold, folds: 3, perArm: true, seed: 8, outcomeSeed: 9, threads: 1)
        #expect(cache.hits == 3 * 2 && again == alone && again.uplift == pooled.uplift)
        var foldNodes = 0
        for f in 0..<3 {
            let fitRows = fold.indices.filter { fold[$0] != f }, holdout = fold.indices.filter { fold[$0] == f }
            let fit = try Learners.fit(
                config, data: UpliftAnalysis.subset(data, fitRows), perArm: true, seed: Learners.seed(8, "fold\(f)"), threads: 1)
            let direct = fit.prediction(x.rows(holdout), 1)
            foldNodes += fit.outputs.forestNames.reduce(0) { total, name in total + fit.forests[name]!.trees.reduce(0) { $0 + $1.nodeCount } }
            #expect(holdout.map { scores.uplift[$0] } == direct.uplift)
            #expect(holdout.map { scores.armUplift[1][$0] } == direct.armUplift[1])
        }
        // The learner's size: the nodes of the forests its outputs name, mean over the folds.
        #expect(nodes == Double(foldNodes) / 3 && nodes > 0)
    }

    /// Rows with known arms and outcomes, and scores that rank well (`informative`) or not at all.
    static func scored(rows n: Int, informative: Bool, seed: UInt64) -> ScoredRows {
        var g = SeededGenerator(seed: seed)
        var arm: [Int] = [], y: [Double] = [], up: [[Double]] = [[], []], hat: [Double] = []
        for _ in 0..<n {
            let x = g.nextUnit(), a = g.next(below: 3)
            // Arm 1 helps customers with x > 0.7 a lot and hurts the others; arm 2 does nothing.
            let effect = a == 1 ? (x > 0.7 ? 6.0 : -1.0) : 0
            arm.append(a)
            y.append(max(0, 3 + effect + 2 * (g.nextUnit() - 0.5)))
            let predicted = informative ? (x > 0.7 ? 6.0 : -1.0) : 0.1 * g.nextUnit()
            up[0].append(predicted)
            up[1].append(informative ? 0 : 0.1 * g.nextUnit())
            hat.append(max(up[0].last!, up[1].last!))
        }
        return ScoredRows(
            ids: (0..<n).map { "r\($0)" }, observedArm: arm, y: y, y0: Array(repeating: 3, count: n), upliftHat: hat, armUplift: up)
    }

    static let policyParams: PolicyParams = try! JSONDecoder().decode(
        PolicyParams.self,
        from: Data(
            """
            {"seed": 1, "outcome": "spend", "margin": 0.5, "cost": 0.1, "arm_costs": {}, "budget": null, "arm_caps": {},
             "solver_time_limit_seconds": 10, "confirming_test": {"alpha": 0.05, "power": 0.8, "minimum_difference": 0.1},
             "sensitivity": {"margins": [0.5], "costs": [0.1]},
             "bootstrap_replicates": 300, "confidence_level": 0.95, "curve_points": 10, "deciles": 4, "contact_list_sample": 10}
            """.utf8))

    @Test("a model policy is recommended only when it beats the best simple policy beyond the adjusted interval")
    func recommendationFollowsTheEvidence() throws {
        let thirds = [1.0 / 3, 1.0 / 3, 1.0 / 3]
        let good = try PolicyAnalysis.compare(
            Self.scored(rows: 6000, informative: true, seed: 2), p: Self.policyParams, label: "rows", scale: 1, propensities: thirds,
            costs: [0.1, 0.1], armNames: ["a", "b"], threads: 2)
        let rec = good.rows[good.recommended]
        #expect(!rec.simple, "recommended \(rec.key)")
        #expect(good.supported.contains(good.recommended))
        #expect(rec.vsBestSimple!.ci.lower > 0)
        // Every difference carries the Monte Carlo error of its interval's ends (the best simple
        // policy has none): positive, and below the interval's width.
        for row in good.rows {
            #expect(row.vsBestSimple == nil ? row.vsBestSimpleMonteCarloError.isNaN : row.vsBestSimpleMonteCarloError > 0, "\(row.key)")
        }
        #expect(rec.vsBestSimpleMonteCarloError < rec.vsBestSimple!.ci.upper - rec.vsBestSimple!.ci.lower)
        #expect(PolicyReport.twoSignificant(463.2) == "460" && PolicyReport.twoSignificant(1_234.5) == "1,200")
        #expect(PolicyReport.twoSignificant(0.04567) == "0.046" && PolicyReport.twoSignificant(12) == "12")
        // Uninformative scores: targeting cannot beat the best simple policy, which is recommended.
        let noise = try PolicyAnalysis.compare(
            Self.scored(rows: 6000, informative: false, seed: 3), p: Self.policyParams, label: "rows", scale: 1, propensities: thirds,
            costs: [0.1, 0.1], armNames: ["a", "b"], threads: 2)
        #expect(noise.recommended == noise.bestSimple)
        #expect(noise.rows[noise.bestSimple].simple)
        // The response-model policy and random targeting at best-N's volume are among the candidates.
        #expect(noise.rows.contains { $0.key == "response" } && noise.rows.contains { $0.key == "random_best_n" })
        // Model policies' intervals are adjusted for the number compared.
        let models = noise.rows.filter { !$0.simple && $0.withinLimits }.count
        #expect(abs(noise.adjustedLevel - (1 - 0.05 / Double(models))) < 1e-12)
    }

    @Test("a policy over the budget is shown but never recommended")
    func limits() throws {
        var p = Self.policyParams
        p.budget = 50
        let c = try PolicyAnalysis.compare(
            Self.scored(rows: 3000, informative: true, seed: 5), p: p, label: "rows", scale: 1, propensities: [1.0 / 3, 1.0 / 3, 1.0 / 3],
            costs: [0.1, 0.1], armNames: ["a", "b"], threads: 2)
        let everybody = c.rows.first { $0.key == "everybody_a" }!
        #expect(!everybody.withinLimits)
        #expect(c.rows[c.recommended].withinLimits && c.rows[c.bestSimple].withinLimits)
        #expect(c.rows[c.recommended].cost <= 50 + 1e-9)
    }

    static let recorded = try! RecordedPlan(
        summary: .object([
            "confirming_test": .object([
                "recommended": .string("constrained"), "recommended_name": .string("constrained assignment"),
                "alternative": .string("everybody_a"), "alternative_name": .string("everybody, a"),
                "difference_per_customer": .number(0.2), "sd_recommended": .number(3), "sd_alternative": .number(3.5),
                "alpha": .number(0.05), "power": .number(0.8), "minimum_difference": .number(0.1),
            ])
        ]), source: "policy_summary.json")

    static func list(_ ids: [String]) throws -> Table {
        try CSVReader.read(
            bytes: Array(("customer,other\n" + ids.map { "\($0),1\n" }.joined()).utf8), source: "list.csv",
            schema: CSVSchema([ColumnSpec("customer", .string)]))
    }

    @Test("the confirming experiment's assignment is the same on every run and for any row order")
    func planAssignment() throws {
        let p = PlanParams(salt: "exp-1", recommendedShare: 0.3, idColumn: nil)
        let ids = (0..<5000).map { "K\($0 * 7919 % 100_003)" }
        let a = try PlanAnalysis.run(p, paramsSource: "plan.yaml", recorded: Self.recorded, list: try Self.list(ids), idColumn: "customer")
        let again = try PlanAnalysis.run(p, paramsSource: "plan.yaml", recorded: Self.recorded, list: try Self.list(ids), idColumn: "customer")
        #expect(PlanAnalysis.assignmentFile(a) == PlanAnalysis.assignmentFile(again))
        var g = SeededGenerator(seed: 4)
        var shuffled = ids
        g.shuffle(&shuffled)
        let b = try PlanAnalysis.run(p, paramsSource: "plan.yaml", recorded: Self.recorded, list: try Self.list(shuffled), idColumn: "customer")
        let groupOf = Dictionary(uniqueKeysWithValues: zip(a.ids, a.group))
        #expect(zip(b.ids, b.group).allSatisfy { groupOf[$0.0] == $0.1 })
        // About 30% to the recommendation (binomial sd ≈ 32 of 5,000).
        #expect(abs(Double(a.counts[0]) - 1500) < 5 * 33)
        // The sample size for the unequal split: n₂ = n₁ · 0.7 / 0.3.
        let n = try #require(a.neededAtEstimate)
        #expect(abs(Double(n.second) - Double(n.first) * 0.7 / 0.3) <= 1.5)
        // Another salt, another split.
        let other = try PlanAnalysis.run(
            PlanParams(salt: "exp-2", recommendedShare: 0.3, idColumn: nil), paramsSource: "plan.yaml", recorded: Self.recorded,
            list: try Self.list(ids), idColumn: "customer")
        #expect(other.group != a.group)
    }

    @Test("a duplicate or empty id in the list is an error naming its line")
    func planErrors() throws {
        let p = PlanParams(salt: "exp-1", recommendedShare: 0.5, idColumn: nil)
        #expect {
            try PlanAnalysis.run(p, paramsSource: "plan.yaml", recorded: Self.recorded, list: try Self.list(["a", "b", "a"]), idColumn: "customer")
        } throws: {
            guard let e = $0 as? DataError else { return false }
            return e.line == 4 && e.message.contains("first on line 2")
        }
        #expect(throws: DataError.self) {
            try PlanAnalysis.run(
                PlanParams(salt: "", recommendedShare: 0.5, idColumn: nil), paramsSource: "plan.yaml", recorded: Self.recorded,
                list: try Self.list(["a"]), idColumn: "customer")
        }
        #expect(throws: DataError.self) {
            try PlanAnalysis.run(
                PlanParams(salt: "s", recommendedShare: 1, idColumn: nil), paramsSource: "plan.yaml", recorded: Self.recorded,
                list: try Self.list(["a"]), idColumn: "customer")
        }
    }
}
