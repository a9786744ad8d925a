import Economics
import Foundation
import Policy
import Provenance
import Stats
import Tabular
import Uplift

public struct PolicyParams: Codable, Sendable, Equatable {
    public struct SensitivityGrid: Codable, Sendable, Equatable {
        public var margins: [Double]
        /// The cost of an e-mail without its own cost; e-mails with their own cost (`arm_costs`)
        /// keep their ratio to `cost` (see `PolicyParams.sensitivityCosts`).
        public var costs: [Double]
    }

    public enum Recommended: String, Codable, Sendable {
        case bestN = "best_n", positive, constrained

        /// The scorer's policy for this recommendation. The scorer streams lists of any size and
        /// runs no budget solver, so a constrained recommendation scores as best-N.
        public var scorerPolicy: String { self == .positive ? "positive" : "bestN" }
    }

    public var seed: UInt64
    public var outcome: String
    public var margin: Double
    public var cost: Double
    public var armCosts: [String: Double]
    public var budget: Double?
    public var armCaps: [String: Int]
    public var solverTimeLimitSeconds: Double
    public var recommendedPolicy: Recommended
    public var sensitivity: SensitivityGrid
    public var bootstrapReplicates: Int
    public var confidenceLevel: Double
    public var curvePoints: Int
    public var deciles: Int
    public var contactListSample: Int

    enum CodingKeys: String, CodingKey {
        case seed, outcome, margin, cost, budget, sensitivity, deciles
        case armCosts = "arm_costs"
        case armCaps = "arm_caps"
        case solverTimeLimitSeconds = "solver_time_limit_seconds"
        case recommendedPolicy = "recommended_policy"
        case bootstrapReplicates = "bootstrap_replicates"
        case confidenceLevel = "confidence_level"
        case curvePoints = "curve_points"
        case contactListSample = "contact_list_sample"
    }

    /// The cost of each e-mail (in `arms`' order) for each value of the sensitivity grid's cost
    /// axis. A value c is the cost of an e-mail without its own cost, as `cost` is; an e-mail with
    /// its own cost keeps its ratio to `cost` and costs `arm_costs[e-mail] × c / cost`, so the grid
    /// moves every price together, and at c = cost it holds exactly the stage's costs. Without own
    /// costs every e-mail costs c.
    public func sensitivityCosts(arms: [String], source: String) throws -> [Sensitivity.CostScenario] {
        let own = arms.map { armCosts[$0].flatMap { $0 == cost ? nil : $0 } }
        if cost <= 0, own.contains(where: { $0 != nil }) {
            throw DataError(
                file: source,
                message:
                    "cost must be above 0 when arm_costs gives arms their own costs: the sensitivity grid's costs scale them in proportion to cost (got \(formatDouble(cost)))"
            )
        }
        return sensitivity.costs.map { c in
            Sensitivity.CostScenario(label: c, costs: own.map { $0.map { $0 * (c / cost) } ?? c })
        }
    }
}

/// One evaluated policy: what the model expects and what the held-out split says.
public struct PolicyRow: Sendable {
    public var key: String
    public var name: String
    public var contacts: Double
    public var armContacts: [Double]
    public var cost: Double
    public var modelExpectedProfit: Double
    public var estimate: PolicyEstimate
}

public struct PolicyResult: Sendable {
    /// The campaign's id column (the model's `id_column`): the name the contact lists give the ids.
    public var idColumn: String
    public var armNames: [String]  // treated arms, in the model's order
    public var customers: Int
    public var propensities: [Double]  // control first
    public var costs: [Double]
    public var curve: ProfitCurve
    public var curvePoints: [ProfitCurve.Point]
    public var bestN: Int
    public var sensitivity: [SensitivityCell]
    public var solution: ConstrainedSolution
    public var greedyObjective: Double
    public var rows: [PolicyRow]
    public var recommended: PolicyRow
    public var recommendedAssignment: Assignment
    /// Best-N and positive-only, the decisions the scorer reproduces (the parity gate checks them).
    public var bestNAssignment: Assignment
    public var positiveAssignment: Assignment
    /// What the scorer and the service decide with unless told otherwise.
    public var recorded: RecordedEconomics
    public var ids: [String]
    public var upliftHat: [Double]
    public var armUplift: ArmMatrix
    public var profit: ProfitMatrix
    public var deciles: [UpliftEvaluator.Decile]
}

public enum PolicyAnalysis {
    /// `scores` and `test` carry the ids in the model's id column (`meta.idColumn`), as text.
    public static func run(
        _ p: PolicyParams, paramsSource: String = "policy params", meta: ModelMeta, scores: Table, test: Table,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> PolicyResult {
        let arms = meta.outputs.arms
        guard !arms.isEmpty else { throw DataError(file: "models/meta.json", message: "the model has no per-arm uplifts to choose an arm from") }
        let armNames = arms.map(\.arm)
        for name in p.armCosts.keys.sorted() + p.armCaps.keys.sorted() where !armNames.contains(name) {
            throw DataError(file: paramsSource, message: "unknown arm '\(name)' (the model's treated arms: \(armNames.joined(separator: ", ")))")
        }
        // Join the pipeline's test scores with the test split's observed arm and outcome.
        let idColumn = meta.idColumn
        let scoreIDs = try scores.strings(idColumn).values
        let testIDs = try test.strings(idColumn).values
        let testRow = Dictionary(testIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var scoredRow: [String: Int] = [:]
        let order: [Int] = try scoreIDs.enumerated().map { (i, id) in
            guard let r = testRow[id] else {
                throw DataError(file: scores.source, line: i + 2, columnName: idColumn, message: "id \(DataError.quoted(id)) is not in the test split")
            }
            if let first = scoredRow.updateValue(i, forKey: id) {
                throw DataError(
                    file: scores.source, line: i + 2, columnName: idColumn, message: "duplicate id \(DataError.quoted(id)), first on line \(first + 2)")
            }
            return r
        }
        guard order.count == testIDs.count else {
            throw DataError(file: scores.source, message: "\(order.count) scored rows for \(testIDs.count) test rows")
        }
        let allArms = meta.treatment.arms  // control first
        let armColumn = try test.strings(meta.treatment.armColumn)
        let observedArm: [Int] = try order.map { r in
            guard let a = allArms.firstIndex(of: armColumn[r]) else {
                throw DataError(file: test.source, line: r + 2, columnName: meta.treatment.armColumn, message: "unknown arm '\(armColumn[r])'")
            }
            return a
        }
        let outcome = try test.doubles(p.outcome)
        let y = order.map { outcome[$0] }
        let upliftHat = try scores.doubles("uplift_hat")
        let y0 = try scores.doubles("y0_hat")
        let armUpliftColumns = try arms.map { try scores.doubles($0.column) }
        let uplift = try ArmMatrix(columns: armUpliftColumns, name: "uplift")
        let costs = armNames.map { p.armCosts[$0] ?? p.cost }
        let campaign = try CampaignEconomics(margin: p.margin, arms: armNames, costs: costs)
        let economics = try ProfitModel(margin: p.margin, costs: costs)
        let profit = try economics.profit(uplift: uplift)
        let n = scoreIDs.count

        let propensities = try designPropensities(meta)

        let curve = try ProfitCurve(uplift: uplift, profit: profit, rankBy: upliftHat)
        let bestN = curve.argmax
        let bestNAssignment = curve.assignment(contacts: bestN)
        let positive = Targeting.positiveOnly(profit: profit)
        let limits = ContactLimits(budget: p.budget, maxContacts: nil, armCaps: armNames.map { p.armCaps[$0] })
        let solution = try ConstrainedTargeting.solve(profit: profit, limits: limits, options: SolverOptions(timeLimitSeconds: p.solverTimeLimitSeconds))
        let greedy = try Targeting.greedy(profit: profit, limits: limits)
        let sensitivity = try Sensitivity.grid(
            uplift: uplift, margins: p.sensitivity.margins, costs: try p.sensitivityCosts(arms: armNames, source: paramsSource),
            rankBy: upliftHat, threads: threads)

        // Off-policy evaluation on the held-out rows.
        var predictions: [[Double]] = [y0]
        for column in armUpliftColumns { predictions.append(zip(y0, column).map { $0 + $1 }) }
        let sample = try RandomizedSample(
            arms: observedArm, outcomes: y, propensities: propensities,
            predictions: try ArmMatrix(columns: predictions, name: "predictions"))
        let evaluator = try OffPolicyEvaluator(sample: sample, economics: economics)
        let mix = (0..<armNames.count).map { k in Double(bestNAssignment.contacts(arm: k)) / Double(max(1, bestN)) }
        var policies: [(String, String, TargetPolicy, Double, [Double])] = []
        func add(_ key: String, _ name: String, _ a: Assignment) {
            policies.append((key, name, .assignment(a), a.profit(profit), (0..<armNames.count).map { Double(a.contacts(arm: $0)) }))
        }
        add("nobody", "contact nobody", .nobody(customers: n))
        for (k, arm) in armNames.enumerated() { add("everybody_\(slug(arm))", "everybody, \(arm)", .everybody(customers: n, arm: k)) }
        // Random targeting at best-N's volume and e-mail mix: the model's expectation is the mean
        // profit per customer times the volume.
        var meanProfit = 0.0
        for i in 0..<n { for k in 0..<armNames.count { meanProfit += mix[k] * profit[i, k] } }
        policies.append(
            (
                "random", "random, best-N volume", .random(volume: bestN, armMix: mix), meanProfit / Double(n) * Double(bestN),
                mix.map { $0 * Double(bestN) }
            ))
        add("best_n", "best-N by uplift (N = \(bestN))", bestNAssignment)
        add("positive", "positive expected profit", positive)
        add("constrained", "constrained assignment (GLPK)", solution.assignment)

        let estimates = try evaluator.evaluate(
            policies: policies.map(\.2), replicates: p.bootstrapReplicates, seed: p.seed,
            level: p.confidenceLevel, threads: threads)
        let rows = zip(policies, estimates).map { pol, est in
            PolicyRow(key: pol.0, name: pol.1, contacts: est.contacts, armContacts: pol.4, cost: est.cost, modelExpectedProfit: pol.3, estimate: est)
        }
        let recommendedKey = p.recommendedPolicy.rawValue
        let recommended = rows.first { $0.key == recommendedKey }!
        let recommendedAssignment: Assignment =
            switch p.recommendedPolicy {
            case .bestN: bestNAssignment
            case .positive: positive
            case .constrained: solution.assignment
            }

        let evaluatorForDeciles = UpliftEvaluator(
            scores: upliftHat, treated: observedArm.map { $0 != 0 }, y: y,
            propensity: 1 - propensities[0])
        return PolicyResult(
            idColumn: idColumn, armNames: armNames, customers: n, propensities: propensities, costs: costs, curve: curve,
            curvePoints: try curve.sampled(points: p.curvePoints), bestN: bestN, sensitivity: sensitivity,
            solution: solution, greedyObjective: greedy.profit(profit), rows: rows, recommended: recommended,
            recommendedAssignment: recommendedAssignment, bestNAssignment: bestNAssignment,
            positiveAssignment: positive,
            recorded: RecordedEconomics(
                economics: campaign, scorerPolicy: p.recommendedPolicy.scorerPolicy,
                recommendedPolicy: p.recommendedPolicy.rawValue, outcome: p.outcome),
            ids: scoreIDs, upliftHat: upliftHat,
            armUplift: uplift, profit: profit,
            deciles: evaluatorForDeciles.deciles(scores: upliftHat, groups: p.deciles, level: p.confidenceLevel))
    }
}

extension PolicyResult {
    /// Whether some cell of the sensitivity grid prices an e-mail other than its cost axis says
    /// (e-mails with their own costs): the table then lists each e-mail's cost.
    public var sensitivityHasOwnCosts: Bool {
        sensitivity.contains { cell in cell.costs.contains { $0 != cell.costPerContact } }
    }
}

extension PolicyAnalysis {
    /// The known propensities of the held-out rows: the design's share of each arm (control
    /// first), as the uplift stage recorded them from the campaign spec, not the shares observed.
    static func designPropensities(_ meta: ModelMeta) throws -> [Double] {
        guard let allocation = meta.treatment.allocation else {
            throw DataError(file: "models/meta.json", message: "no treatment.allocation (the design's arm shares); re-run the uplift stage")
        }
        let shares = try meta.treatment.arms.map { arm in
            guard let share = allocation[arm], share > 0 else {
                throw DataError(file: "models/meta.json", message: "treatment.allocation has no positive share for arm '\(arm)'")
            }
            return share
        }
        let total = shares.reduce(0, +)
        return shares.map { $0 / total }
    }
}

public enum PolicyToolVersion {
    public static var glpk: String { ConstrainedTargeting.glpkVersion }
}
