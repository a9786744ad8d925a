import Economics
import Foundation
import Policy
import Provenance
import Reporting
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

    /// The confirming experiment: the recommended policy against the best alternative, customer by customer.
    public struct ConfirmingTestParams: Codable, Sendable, Equatable {
        public var alpha: Double
        public var power: Double
        /// A difference in profit per customer the experiment should detect, set by the user.
        public var minimumDifference: Double
        enum CodingKeys: String, CodingKey {
            case alpha, power
            case minimumDifference = "minimum_difference"
        }
    }

    public var seed: UInt64
    public var outcome: String
    public var margin: Double
    public var cost: Double
    public var armCosts: [String: Double]
    public var budget: Double?
    public var armCaps: [String: Int]
    public var solverTimeLimitSeconds: Double
    public var sensitivity: SensitivityGrid
    public var bootstrapReplicates: Int
    public var confidenceLevel: Double
    public var curvePoints: Int
    public var deciles: Int
    public var contactListSample: Int
    public var confirmingTest: ConfirmingTestParams

    enum CodingKeys: String, CodingKey {
        case seed, outcome, margin, cost, budget, sensitivity, deciles
        case armCosts = "arm_costs"
        case armCaps = "arm_caps"
        case solverTimeLimitSeconds = "solver_time_limit_seconds"
        case bootstrapReplicates = "bootstrap_replicates"
        case confidenceLevel = "confidence_level"
        case curvePoints = "curve_points"
        case confirmingTest = "confirming_test"
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

/// One evaluated policy: what the model expects and what the held-out rows say.
public struct PolicyRow: Sendable {
    public var key: String
    public var name: String
    /// A policy that needs no model: nobody, everybody with one arm, random targeting.
    public var simple: Bool
    /// Whether its cost and arm counts respect the budget and the caps.
    public var withinLimits: Bool
    public var contacts: Double
    public var armContacts: [Double]
    public var cost: Double
    public var modelExpectedProfit: Double
    /// The model's expectation with its uplifts rescaled to the observed average effect.
    public var rescaledExpectedProfit: Double
    public var estimate: PolicyEstimate
    /// DR (else IPW) profit minus the best simple policy's, paired, with its adjusted interval.
    public var vsBestSimple: (value: Double, ci: Interval)?
    /// Monte Carlo error of the DR (else IPW) interval's ends from the finite number of bootstrap
    /// replicates: half the spread of the order statistics within one binomial standard deviation of each end.
    public var ciMonteCarloError: Double
    /// The same for the interval of `vsBestSimple` (nan without one).
    public var vsBestSimpleMonteCarloError: Double = .nan
}

/// Predicted against observed average uplift of any treatment on the evaluated rows.
public struct CalibrationInTheLarge: Sendable {
    public var meanPredicted: Double
    /// IPW estimate of the average effect of any treatment, and its standard error.
    public var observed: Double
    public var observedStandardError: Double
    /// observed / meanPredicted: the factor the model's expectations are rescaled by.
    public var factor: Double
    public var consistent: Bool { abs(meanPredicted - observed) <= 1.96 * observedStandardError }
}

/// Every policy built from one set of scores and evaluated on the same rows.
public struct PolicyComparison: Sendable {
    public var label: String
    public var customers: Int
    /// The budget and caps in force for these rows (the params' amounts scaled to the number of rows).
    public var limits: ContactLimits
    public var rows: [PolicyRow]
    public var bestSimple: Int
    public var recommended: Int
    /// Policies whose advantage over the best simple policy is supported (adjusted lower bound above zero).
    public var supported: [Int]
    /// Level of the paired intervals against the best simple policy (Bonferroni over the model policies).
    public var adjustedLevel: Double
    public var calibration: CalibrationInTheLarge
    public var assignments: [String: Assignment]
    public var bestN: Int
    public var curve: ProfitCurve
    public var solution: ConstrainedSolution
    public var greedyObjective: Double
    public var profit: ProfitMatrix
    public var armUplift: ArmMatrix
    public var upliftHat: [Double]
    public var ids: [String]
    public var deciles: [UpliftEvaluator.Decile]
    /// The rows as the off-policy evaluator reads them.
    public var sample: RandomizedSample
}

/// The sensitivity grid's cell: the model's expectation and what the held-out rows say of the same policy.
public struct SensitivityRow: Sendable {
    public var cell: SensitivityCell
    public var heldOutProfit: Double
    public var rescaledExpectedProfit: Double
}

/// The sample size of an experiment that confirms the recommendation: customers split between the
/// recommended policy and the best alternative, profit per customer compared.
public struct ConfirmingPlan: Sendable {
    public var recommended: String
    public var alternative: String
    public var recommendedName: String
    public var alternativeName: String
    /// Held-out profit per customer, recommended minus alternative (DR, paired), with its interval.
    public var difference: Double
    public var differenceCI: Interval
    /// Standard deviation of profit per customer under each policy (IPW-weighted over the rows
    /// whose randomized arm is the one the policy gives).
    public var sdRecommended: Double
    public var sdAlternative: Double
    public var alpha: Double
    public var power: Double
    public var minimumDifference: Double
    /// Customers per group to detect `difference`, and `minimumDifference` (nil when not finite or zero).
    public var perGroupAtEstimate: Int?
    public var perGroupAtMinimum: Int?
}

public struct PolicyResult: Sendable {
    /// The campaign's id column (the model's `id_column`): the name the contact lists give the ids.
    public var idColumn: String
    public var armNames: [String]  // treated arms, in the model's order
    /// The scores' column of each treated arm's uplift (the model's outputs, as the scorer writes them).
    public var armColumns: [String]
    public var propensities: [Double]  // control first
    public var costs: [Double]
    /// The held-out test split scored by the production model (the simple check, and the rows the
    /// contact list, the decisions and the scorer's parity refer to).
    public var test: PolicyComparison
    /// Every randomized row scored by a model that never saw it (cross-fitted), when given.
    public var all: PolicyComparison?
    /// The comparison the recommendation follows: all rows when cross-fitted scores exist.
    public var primary: PolicyComparison { all ?? test }
    public var sensitivity: [SensitivityRow]
    public var recommended: PolicyRow { primary.rows[primary.recommended] }
    /// The recommended policy on the test split's customers (the contact list).
    public var recommendedAssignment: Assignment
    /// Best-N and positive-only on the test split, the decisions the scorer reproduces (the parity gate checks them).
    public var bestNAssignment: Assignment { test.assignments["best_n"]! }
    public var positiveAssignment: Assignment { test.assignments["positive"]! }
    /// What the scorer and the service decide with unless told otherwise.
    public var recorded: RecordedEconomics
    public var plan: ConfirmingPlan
    public var customers: Int { test.customers }
    public var ids: [String] { test.ids }
    public var profit: ProfitMatrix { test.profit }
    public var armUplift: ArmMatrix { test.armUplift }
}

/// Scored, randomized rows: the observed arm and outcome, and the model's predictions.
struct ScoredRows {
    var ids: [String]
    var observedArm: [Int]
    var y: [Double]
    var y0: [Double]
    var upliftHat: [Double]
    var armUplift: [[Double]]
}

public enum PolicyAnalysis {
    /// `scores` and `test` carry the ids in the model's id column (`meta.idColumn`), as text.
    /// `crossFit` (the uplift stage's crossfit_scores.csv) with `train` adds the evaluation on every
    /// randomized row.
    public static func run(
        _ p: PolicyParams, paramsSource: String = "policy params", meta: ModelMeta, scores: Table, test: Table,
        crossFit: Table? = nil, train: Table? = nil,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> PolicyResult {
        let arms = meta.outputs.arms
        guard !arms.isEmpty else { throw DataError(file: "models/meta.json", message: "the model has no per-arm uplifts to choose an arm from") }
        let armNames = arms.map(\.arm)
        for name in p.armCosts.keys.sorted() + p.armCaps.keys.sorted() where !armNames.contains(name) {
            throw DataError(file: paramsSource, message: "unknown arm '\(name)' (the model's treated arms: \(armNames.joined(separator: ", ")))")
        }
        let t = p.confirmingTest
        if !(t.alpha > 0 && t.alpha < 1) || !(t.power > 0 && t.power < 1) || !(t.minimumDifference.isFinite && t.minimumDifference > 0) {
            throw DataError(
                file: paramsSource,
                message:
                    "confirming_test: alpha and power must lie in (0, 1) and minimum_difference above 0 (got \(formatDouble(t.alpha)), \(formatDouble(t.power)), \(formatDouble(t.minimumDifference)))"
            )
        }
        let costs = armNames.map { p.armCosts[$0] ?? p.cost }
        let campaign = try CampaignEconomics(margin: p.margin, arms: armNames, costs: costs)
        let propensities = try designPropensities(meta)

        let testRows = try join(scores: scores, splits: [test], meta: meta, outcome: p.outcome, exact: true)
        let testComparison = try compare(
            testRows, p: p, label: "the \(Fmt.int(testRows.ids.count)) customers of the held-out test split", scale: 1,
            propensities: propensities, costs: costs, armNames: armNames, threads: threads)
        var all: PolicyComparison? = nil
        if let crossFit, let train {
            let allRows = try join(scores: crossFit, splits: [train, test], meta: meta, outcome: p.outcome, exact: true)
            all = try compare(
                allRows, p: p, label: "all \(Fmt.int(allRows.ids.count)) randomized customers (cross-fitted scores)",
                scale: Double(allRows.ids.count) / Double(testRows.ids.count), propensities: propensities, costs: costs,
                armNames: armNames, threads: threads)
        }
        let primary = all ?? testComparison
        let sensitivity = try sensitivityGrid(primary, p: p, paramsSource: paramsSource, armNames: armNames, propensities: propensities, threads: threads)
        let key = primary.rows[primary.recommended].key
        let recommendedAssignment = try assignment(key: key, on: testComparison, armNames: armNames, seed: p.seed)
        return PolicyResult(
            idColumn: meta.idColumn, armNames: armNames, armColumns: meta.outputs.arms.map(\.column), propensities: propensities, costs: costs,
            test: testComparison, all: all,
            sensitivity: sensitivity, recommendedAssignment: recommendedAssignment,
            recorded: RecordedEconomics(economics: campaign, scorerPolicy: scorerPolicy(key), recommendedPolicy: key, outcome: p.outcome),
            plan: try confirmingPlan(primary, p: p, costs: costs))
    }

    /// The recommended policy against the best alternative within the limits: the best simple
    /// policy when a model policy is recommended, else the best model policy.
    static func confirmingPlan(_ c: PolicyComparison, p: PolicyParams, costs: [Double]) throws -> ConfirmingPlan {
        let rec = c.recommended
        let pool = c.rows[rec].simple ? c.rows.indices.filter { !c.rows[$0].simple && c.rows[$0].withinLimits } : [c.bestSimple]
        let alt =
            pool.max { (c.rows[$0].estimate.dr ?? c.rows[$0].estimate.ipw).profit < (c.rows[$1].estimate.dr ?? c.rows[$1].estimate.ipw).profit }
            ?? c.bestSimple
        let n = Double(c.customers)
        let value: (Int) -> Double = { (c.rows[$0].estimate.dr ?? c.rows[$0].estimate.ipw).profit }
        let diff = (value(rec) - value(alt)) / n
        // The paired interval of the difference (recommended minus alternative), per customer.
        let ciTotal: Interval
        if alt == c.bestSimple, let v = c.rows[rec].vsBestSimple {
            ciTotal = v.ci
        } else if rec == c.bestSimple, let v = c.rows[alt].vsBestSimple {
            ciTotal = Interval(-v.ci.upper, -v.ci.lower)
        } else {
            ciTotal = Interval(.nan, .nan)
        }
        let evaluator = try OffPolicyEvaluator(sample: c.sample, economics: try ProfitModel(margin: p.margin, costs: costs))
        func sd(_ i: Int) throws -> Double {
            let row = c.rows[i]
            let policy: TargetPolicy =
                c.assignments[row.key].map { .assignment($0) }
                ?? .random(
                    volume: Int(row.contacts.rounded()),
                    armMix: row.contacts > 0
                        ? row.armContacts.map { $0 / row.contacts } : row.armContacts.map { _ in 1 / Double(row.armContacts.count) })
            return try evaluator.profitStandardDeviation(policy)
        }
        let t = p.confirmingTest
        let s1 = try sd(rec), s2 = try sd(alt)
        return ConfirmingPlan(
            recommended: c.rows[rec].key, alternative: c.rows[alt].key, recommendedName: c.rows[rec].name, alternativeName: c.rows[alt].name,
            difference: diff, differenceCI: Interval(ciTotal.lower / n, ciTotal.upper / n), sdRecommended: s1, sdAlternative: s2,
            alpha: t.alpha, power: t.power, minimumDifference: t.minimumDifference,
            perGroupAtEstimate: ConfirmingTestSize.perGroup(difference: diff, sd1: s1, sd2: s2, alpha: t.alpha, power: t.power)?.first,
            perGroupAtMinimum: ConfirmingTestSize.perGroup(difference: t.minimumDifference, sd1: s1, sd2: s2, alpha: t.alpha, power: t.power)?.first)
    }

    /// The scorer's policy for a recommendation. The scorer ranks by uplift or contacts on positive
    /// expected profit; it runs no budget solver and has no simple policies, so everything but
    /// `positive` scores as best-N (the report says what a simple recommendation means for a list).
    static func scorerPolicy(_ key: String) -> String { key == "positive" ? "positive" : "bestN" }

    /// Whether the scorer makes the same decisions as the policy `key` (best-N by uplift, positive).
    static func scorerRuns(_ key: String) -> Bool { key == "best_n" || key == "positive" }

    /// The recommended policy applied to the test split's customers. Random targeting draws its
    /// customers by a salted hash of their ids (deterministic, independent of row order).
    static func assignment(key: String, on c: PolicyComparison, armNames: [String], seed: UInt64) throws -> Assignment {
        if let a = c.assignments[key] { return a }
        guard let row = c.rows.first(where: { $0.key == key }), key.hasPrefix("random") else {
            preconditionFailure("every policy but random targeting has an assignment")
        }
        let volume = Int(row.contacts.rounded())
        let hash = try HashAssignment(salt: "random-\(seed)", shares: [("a", 0.5), ("b", 0.5)])
        let unit = c.ids.map(hash.unit)
        let order = c.ids.indices.sorted { unit[$0] < unit[$1] || (unit[$0] == unit[$1] && $0 < $1) }
        var arms = [Int?](repeating: nil, count: c.customers)
        var given = [Double](repeating: 0, count: armNames.count)
        for (j, i) in order.prefix(volume).enumerated() {
            // Each contact goes to the arm furthest below its share of the mix so far.
            let k = (0..<armNames.count).max { a, b in
                row.armContacts[a] / row.contacts * Double(j + 1) - given[a] < row.armContacts[b] / row.contacts * Double(j + 1) - given[b]
            }!
            arms[i] = k
            given[k] += 1
        }
        return Assignment(arms: arms)
    }

    /// Joins scores (by id) with the rows of the splits: each score row must name a row of the
    /// splits, once; with `exact`, every split row must be scored.
    static func join(scores: Table, splits: [Table], meta: ModelMeta, outcome: String, exact: Bool) throws -> ScoredRows {
        let idColumn = meta.idColumn
        let scoreIDs = try scores.strings(idColumn).values
        var where_: [String: (Int, Int)] = [:]
        for (s, t) in splits.enumerated() {
            for (r, id) in try t.strings(idColumn).values.enumerated() where where_[id] == nil { where_[id] = (s, r) }
        }
        let totalRows = splits.reduce(0) { $0 + $1.rowCount }
        var scoredRow: [String: Int] = [:]
        let order: [(Int, Int)] = try scoreIDs.enumerated().map { (i, id) in
            guard let r = where_[id] else {
                throw DataError(
                    file: scores.source, line: i + 2, columnName: idColumn,
                    message: "id \(DataError.quoted(id)) is not in \(splits.map(\.source).joined(separator: " or "))")
            }
            if let first = scoredRow.updateValue(i, forKey: id) {
                throw DataError(
                    file: scores.source, line: i + 2, columnName: idColumn, message: "duplicate id \(DataError.quoted(id)), first on line \(first + 2)")
            }
            return r
        }
        if exact && order.count != totalRows {
            throw DataError(
                file: scores.source, message: "\(order.count) scored rows for \(totalRows) rows of \(splits.map(\.source).joined(separator: " and "))")
        }
        let allArms = meta.treatment.arms  // control first
        let armColumns = try splits.map { try $0.strings(meta.treatment.armColumn) }
        let outcomes = try splits.map { try $0.doubles(outcome) }
        let observedArm: [Int] = try order.map { (s, r) in
            guard let a = allArms.firstIndex(of: armColumns[s][r]) else {
                throw DataError(file: splits[s].source, line: r + 2, columnName: meta.treatment.armColumn, message: "unknown arm '\(armColumns[s][r])'")
            }
            return a
        }
        return ScoredRows(
            ids: scoreIDs, observedArm: observedArm, y: order.map { outcomes[$0.0][$0.1] }, y0: try scores.doubles("y0_hat"),
            upliftHat: try scores.doubles("uplift_hat"), armUplift: try meta.outputs.arms.map { try scores.doubles($0.column) })
    }

    /// Builds every policy from the rows' scores and evaluates them all on the same bootstrap replicates.
    static func compare(
        _ d: ScoredRows, p: PolicyParams, label: String, scale: Double, propensities: [Double], costs: [Double], armNames: [String],
        threads: Int
    ) throws -> PolicyComparison {
        let n = d.ids.count
        let uplift = try ArmMatrix(columns: d.armUplift, name: "uplift")
        let economics = try ProfitModel(margin: p.margin, costs: costs)
        let profit = try economics.profit(uplift: uplift)
        // The params' budget and caps are for the test split; more rows get proportionally more.
        let limits = ContactLimits(
            budget: p.budget.map { $0 * scale }, maxContacts: nil,
            armCaps: armNames.map { name in p.armCaps[name].map { Int((Double($0) * scale).rounded(.down)) } })

        let curve = try ProfitCurve(uplift: uplift, profit: profit, rankBy: d.upliftHat)
        let bestN = curve.argmax
        let bestNAssignment = curve.assignment(contacts: bestN)
        let positive = Targeting.positiveOnly(profit: profit)
        let solution = try ConstrainedTargeting.solve(profit: profit, limits: limits, options: SolverOptions(timeLimitSeconds: p.solverTimeLimitSeconds))
        let greedy = try Targeting.greedy(profit: profit, limits: limits)
        // The classic alternative: rank by the predicted outcome if contacted (a response model)
        // instead of the predicted uplift, under the same limits (or at best-N's volume without any).
        let predicted = try ArmMatrix(columns: d.armUplift.map { zip(d.y0, $0).map { $0 + $1 } }, name: "predicted outcome")
        let responseProfit = try economics.profit(uplift: predicted)
        let hasLimits = limits.budget != nil || limits.armCaps.contains { $0 != nil }
        let response = try Targeting.greedy(
            profit: responseProfit, limits: hasLimits ? limits : ContactLimits(maxContacts: bestN))

        var predictions: [[Double]] = [d.y0]
        for column in d.armUplift { predictions.append(zip(d.y0, column).map { $0 + $1 }) }
        let sample = try RandomizedSample(
            arms: d.observedArm, outcomes: d.y, propensities: propensities,
            predictions: try ArmMatrix(columns: predictions, name: "predictions"))
        let evaluator = try OffPolicyEvaluator(sample: sample, economics: economics)

        struct Candidate {
            var key: String, name: String, simple: Bool, policy: TargetPolicy, expected: Double, armContacts: [Double], assignment: Assignment?
        }
        var candidates: [Candidate] = []
        func add(_ key: String, _ name: String, simple: Bool, _ a: Assignment) {
            candidates.append(
                Candidate(
                    key: key, name: name, simple: simple, policy: .assignment(a), expected: a.profit(profit),
                    armContacts: (0..<armNames.count).map { Double(a.contacts(arm: $0)) }, assignment: a))
        }
        func addRandom(_ key: String, _ name: String, like a: Assignment) {
            let volume = a.contacts
            let mix = (0..<armNames.count).map { k in volume > 0 ? Double(a.contacts(arm: k)) / Double(volume) : 1 / Double(armNames.count) }
            // The model's expectation of random targeting: mean profit per customer times the volume.
            var meanProfit = 0.0
            for i in 0..<n { for k in 0..<armNames.count { meanProfit += mix[k] * profit[i, k] } }
            candidates.append(
                Candidate(
                    key: key, name: name, simple: true, policy: .random(volume: volume, armMix: mix),
                    expected: meanProfit / Double(n) * Double(volume), armContacts: mix.map { $0 * Double(volume) }, assignment: nil))
        }
        add("nobody", "contact nobody", simple: true, .nobody(customers: n))
        for (k, arm) in armNames.enumerated() { add("everybody_\(slug(arm))", "everybody, \(arm)", simple: true, .everybody(customers: n, arm: k)) }
        addRandom("random_best_n", "random, best-N's volume and mix", like: bestNAssignment)
        if hasLimits { addRandom("random_constrained", "random, the constrained assignment's volume and mix", like: solution.assignment) }
        add("best_n", "best-N by uplift (N = \(Fmt.int(bestN)))", simple: false, bestNAssignment)
        add("positive", "positive expected profit", simple: false, positive)
        if hasLimits { add("constrained", "constrained assignment (GLPK)", simple: false, solution.assignment) }
        add(
            "response", hasLimits ? "response model, same limits" : "response model, best-N's volume", simple: false, response)

        let evaluation = try evaluator.evaluateWithReplicates(
            policies: candidates.map(\.policy), replicates: p.bootstrapReplicates, seed: p.seed, level: p.confidenceLevel, threads: threads)
        let estimates = evaluation.estimates
        let useDR = estimates.allSatisfy { $0.dr != nil }
        func value(_ e: PolicyEstimate) -> Double { useDR ? e.dr!.profit : e.ipw.profit }
        let tolerance = 1e-9
        func within(_ c: Candidate, _ e: PolicyEstimate) -> Bool {
            if let b = limits.budget, e.cost > b * (1 + tolerance) + tolerance { return false }
            for (k, cap) in limits.armCaps.enumerated() { if let cap, c.armContacts[k] > Double(cap) + tolerance { return false } }
            return true
        }
        let feasible = zip(candidates, estimates).map { within($0, $1) }
        // Calibration in the large: the model's mean uplift of any treatment against the observed one.
        let treatedShare = 1 - propensities[0]
        let z = (0..<n).map { d.observedArm[$0] != 0 ? d.y[$0] / treatedShare : -d.y[$0] / propensities[0] }
        let moments = Moments(z)
        let meanPredicted = d.upliftHat.reduce(0, +) / Double(n)
        let calibration = CalibrationInTheLarge(
            meanPredicted: meanPredicted, observed: moments.mean, observedStandardError: (moments.variance / Double(n)).squareRoot(),
            factor: moments.mean / meanPredicted)

        let simpleIndices = candidates.indices.filter { candidates[$0].simple && feasible[$0] }
        let bestSimple = simpleIndices.max { value(estimates[$0]) < value(estimates[$1]) || (value(estimates[$0]) == value(estimates[$1]) && $0 > $1) }!
        let models = candidates.indices.filter { !candidates[$0].simple && feasible[$0] }
        let adjusted = 1 - (1 - p.confidenceLevel) / Double(max(1, models.count))
        var rows: [PolicyRow] = []
        let allReps = useDR ? evaluation.drProfitReplicates! : evaluation.ipwProfitReplicates
        for (i, c) in candidates.enumerated() {
            var vs: (Double, Interval)? = nil
            var vsError = Double.nan
            if i != bestSimple {
                let level = c.simple ? p.confidenceLevel : adjusted
                vs = (value(estimates[i]) - value(estimates[bestSimple]), evaluation.profitDifferenceCI(i, bestSimple, doublyRobust: useDR, level: level))
                vsError = monteCarloError(allReps.map { $0[i] - $0[bestSimple] }, level: level)
            }
            let cost = estimates[i].cost
            let reps = allReps.map { $0[i] }
            rows.append(
                PolicyRow(
                    key: c.key, name: c.name, simple: c.simple, withinLimits: feasible[i], contacts: estimates[i].contacts,
                    armContacts: c.armContacts, cost: cost, modelExpectedProfit: c.expected,
                    rescaledExpectedProfit: calibration.factor * (c.expected + cost) - cost, estimate: estimates[i], vsBestSimple: vs,
                    ciMonteCarloError: monteCarloError(reps, level: p.confidenceLevel), vsBestSimpleMonteCarloError: vsError))
        }
        let supported = models.filter { rows[$0].vsBestSimple!.ci.lower > 0 }
        let recommended =
            supported.max { value(estimates[$0]) < value(estimates[$1]) || (value(estimates[$0]) == value(estimates[$1]) && $0 > $1) } ?? bestSimple
        var assignments: [String: Assignment] = [:]
        for c in candidates { if let a = c.assignment { assignments[c.key] = a } }
        let decileEvaluator = UpliftEvaluator(scores: d.upliftHat, treated: d.observedArm.map { $0 != 0 }, y: d.y, propensity: treatedShare)
        return PolicyComparison(
            label: label, customers: n, limits: limits, rows: rows, bestSimple: bestSimple, recommended: recommended, supported: supported,
            adjustedLevel: adjusted, calibration: calibration, assignments: assignments, bestN: bestN, curve: curve, solution: solution,
            greedyObjective: greedy.profit(profit), profit: profit, armUplift: uplift, upliftHat: d.upliftHat, ids: d.ids,
            deciles: decileEvaluator.deciles(scores: d.upliftHat, groups: p.deciles, level: p.confidenceLevel), sample: sample)
    }

    /// Monte Carlo error of a percentile interval's ends: for each end at quantile q of B replicates,
    /// half the distance between the order statistics at B·q ± √(B·q·(1 − q)); the larger of the two.
    static func monteCarloError(_ replicates: [Double], level: Double) -> Double {
        let v = replicates.filter(\.isFinite).sorted()
        guard v.count > 1 else { return .nan }
        let b = Double(v.count)
        return [(1 - level) / 2, (1 + level) / 2].map { q in
            let h = q * (b - 1), k = (b * q * (1 - q)).squareRoot()
            let lo = max(0, Int((h - k).rounded(.down))), hi = min(v.count - 1, Int((h + k).rounded(.up)))
            return (v[hi] - v[lo]) / 2
        }.max()!
    }

    /// The margin × cost grid on the comparison's rows: the best-N policy of every cell, its model
    /// expectation, that expectation rescaled to the observed average effect, and its held-out value (DR).
    static func sensitivityGrid(
        _ c: PolicyComparison, p: PolicyParams, paramsSource: String, armNames: [String], propensities: [Double], threads: Int
    ) throws -> [SensitivityRow] {
        let scenarios = try p.sensitivityCosts(arms: armNames, source: paramsSource)
        let cells = try Sensitivity.grid(
            uplift: c.armUplift, margins: p.sensitivity.margins, costs: scenarios, rankBy: c.upliftHat, threads: threads)
        // Held-out value per cell: the evaluator's point estimate with the cell's economics.
        return try cells.map { cell in
            let economics = try ProfitModel(margin: cell.margin, costs: cell.costs)
            let profit = try economics.profit(uplift: c.armUplift)
            let curve = try ProfitCurve(uplift: c.armUplift, profit: profit, rankBy: c.upliftHat)
            let a = curve.assignment(contacts: cell.bestContacts)
            let estimate = try OffPolicyEvaluator(sample: c.sample, economics: economics).pointEstimate(.assignment(a))
            let value = estimate.dr ?? estimate.ipw
            let cost = a.cost(cell.costs)
            return SensitivityRow(
                cell: cell, heldOutProfit: value, rescaledExpectedProfit: c.calibration.factor * (cell.bestProfit + cost) - cost)
        }
    }
}

extension PolicyResult {
    /// Whether some cell of the sensitivity grid prices an e-mail other than its cost axis says
    /// (e-mails with their own costs): the table then lists each e-mail's cost.
    public var sensitivityHasOwnCosts: Bool {
        sensitivity.contains { row in row.cell.costs.contains { $0 != row.cell.costPerContact } }
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
