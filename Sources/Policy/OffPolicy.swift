import Foundation
import Stats

/// A randomized experiment's held-out rows: the arm each row received (0 = control, i.e. no
/// contact; k + 1 = treated arm k), its outcome, the known assignment shares, and optionally the
/// outcome model's predictions under every arm for the doubly robust estimator.
public struct RandomizedSample: Sendable, Equatable {
    public let arms: [Int]
    public let outcomes: [Double]
    /// Probability of each arm code 0…K under the experiment's randomization.
    public let propensities: [Double]
    /// `predictions[i, a]`: predicted outcome of row i under arm code a (K + 1 columns).
    public let predictions: ArmMatrix?

    public init(arms: [Int], outcomes: [Double], propensities: [Double], predictions: ArmMatrix? = nil) throws {
        guard arms.count == outcomes.count else {
            throw PolicyError.dimensionMismatch("\(arms.count) arms and \(outcomes.count) outcomes")
        }
        guard propensities.count >= 2 else {
            throw PolicyError.invalidParameter("propensities are needed for control and at least one treated arm")
        }
        if let a = propensities.firstIndex(where: { !($0 > 0 && $0 <= 1) }) {
            throw PolicyError.invalidParameter("propensity of arm \(a) must lie in (0, 1] (got \(propensities[a]))")
        }
        if let i = arms.firstIndex(where: { $0 < 0 || $0 >= propensities.count }) {
            throw PolicyError.invalidParameter("row \(i) has arm code \(arms[i]); expected 0…\(propensities.count - 1)")
        }
        if let i = outcomes.firstIndex(where: { !$0.isFinite }) { throw PolicyError.nonFinite("outcome of row \(i) = \(outcomes[i])") }
        if let mu = predictions, mu.rows != arms.count || mu.arms != propensities.count {
            throw PolicyError.dimensionMismatch("predictions are \(mu.rows) × \(mu.arms), expected \(arms.count) × \(propensities.count)")
        }
        self.arms = arms
        self.outcomes = outcomes
        self.propensities = propensities
        self.predictions = predictions
    }

    public var count: Int { arms.count }
    public var treatedArms: Int { propensities.count - 1 }
}

/// A policy to evaluate.
public enum TargetPolicy: Sendable, Equatable {
    case assignment(Assignment)
    /// `volume` customers drawn uniformly at random, each sent treated arm k with probability
    /// `armMix[k]`. Evaluated in expectation over the draw rather than with one seeded draw: both
    /// estimators are linear in the policy's per-row arm probabilities, so the expectation is exact
    /// and adds no Monte Carlo noise of its own; it lies on the straight line from contacting nobody
    /// to contacting everybody with the mix.
    case random(volume: Int, armMix: [Double])
}

/// One estimator's view of a policy, all against contacting nobody on the same rows.
public struct EstimatorValue: Sendable, Equatable {
    /// Mean outcome per customer under the policy.
    public var value: Double
    public var valueCI: Interval
    /// `value` minus the same estimator's value of contacting nobody.
    public var incrementalValue: Double
    public var incrementalValueCI: Interval
    /// margin × incrementalValue × n − contact costs, over the n evaluated rows.
    public var profit: Double
    public var profitCI: Interval
}

public struct PolicyEstimate: Sendable, Equatable {
    /// Expected number of contacts and their cost over the evaluated rows.
    public var contacts: Double
    public var cost: Double
    public var ipw: EstimatorValue
    /// Present when the sample carries outcome predictions.
    public var dr: EstimatorValue?
}

/// Evaluations of several policies on the same bootstrap replicates; the replicate profits allow
/// paired comparisons (the difference of two policies' profits within each replicate).
public struct OffPolicyEvaluation: Sendable, Equatable {
    public var estimates: [PolicyEstimate]
    /// `ipwProfitReplicates[r][p]`: profit of policy p on bootstrap replicate r.
    public var ipwProfitReplicates: [[Double]]
    public var drProfitReplicates: [[Double]]?

    /// Percentile interval of profit(a) − profit(b) over the paired replicates.
    public func profitDifferenceCI(_ a: Int, _ b: Int, doublyRobust: Bool = false, level: Double = 0.95) -> Interval {
        let reps = doublyRobust ? (drProfitReplicates ?? []) : ipwProfitReplicates
        return Bootstrap.percentileInterval(reps.map { $0[a] - $0[b] }, level: level)
    }
}

/// Off-policy value of deterministic or randomized targeting policies from a randomized test split.
///
/// For a policy π with arm probabilities π(a | i) (a deterministic policy puts 1 on one arm), rows
/// i = 1…n, observed arm A_i, outcome Y_i, propensities p_a and predictions mu_a(i):
/// - IPW:  V = (1/n) Σ π(A_i | i) Y_i / p_{A_i}
/// - DR:   V = (1/n) Σ [ Σ_a π(a | i) mu_a(i) + π(A_i | i) (Y_i − mu_{A_i}(i)) / p_{A_i} ]
/// - profit = margin × (V_π − V_none) × n − Σ_i Σ_k π(k | i) cost_k
/// Both estimators are unbiased under known propensities (DR even with a wrong outcome model; a
/// good one lowers its variance). Intervals are bootstrap percentiles: replicate r resamples the
/// rows n times with replacement from `SeededGenerator.derived(seed:index: r)`, the same rows for
/// every policy in the call, so results are identical for any thread count.
public struct OffPolicyEvaluator: Sendable {
    public let sample: RandomizedSample
    public let economics: ProfitModel

    public init(sample: RandomizedSample, economics: ProfitModel) throws {
        guard economics.costs.count == sample.treatedArms else {
            throw PolicyError.dimensionMismatch("\(economics.costs.count) arm costs for \(sample.treatedArms) treated arms")
        }
        self.sample = sample
        self.economics = economics
    }

    public func evaluate(
        policies: [Assignment], replicates: Int = 500, seed: UInt64, level: Double = 0.95,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [PolicyEstimate] {
        try evaluate(policies: policies.map(TargetPolicy.assignment), replicates: replicates, seed: seed, level: level, threads: threads)
    }

    public func evaluate(
        policies: [TargetPolicy], replicates: Int = 500, seed: UInt64, level: Double = 0.95,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [PolicyEstimate] {
        try evaluateWithReplicates(policies: policies, replicates: replicates, seed: seed, level: level, threads: threads).estimates
    }

    public func evaluateWithReplicates(
        policies: [TargetPolicy], replicates: Int = 500, seed: UInt64, level: Double = 0.95,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> OffPolicyEvaluation {
        guard replicates >= 200 else { throw PolicyError.invalidParameter("at least 200 bootstrap replicates are needed (got \(replicates))") }
        guard level > 0 && level < 1 else { throw PolicyError.invalidParameter("confidence level must lie in (0, 1) (got \(level))") }
        guard sample.count > 0 else { throw PolicyError.invalidParameter("the sample has no rows") }
        let terms = try policies.map { try rowTerms($0) }
        let none = try rowTerms(.assignment(.nobody(customers: sample.count)))
        let n = sample.count
        let margin = economics.margin
        let hasDR = sample.predictions != nil

        // Every weighted sum a replicate needs, in one pass over the rows: each sum still adds its
        // rows in row order (the same bits as one pass per sum), but the sums no longer wait on
        // each other, and a row the replicate did not draw adds ±0 (which leaves a sum as it is:
        // none is ever -0.0) instead of a branch on a coin flip.
        let vectors: [[Double]] = [none.ipw] + (hasDR ? [none.dr] : []) + terms.flatMap { [$0.cost, $0.ipw] + (hasDR ? [$0.dr] : []) }
        let k = vectors.count
        // Row-major, so a row's values sit together: rowValues[i * k + j] = vectors[j][i].
        var rowValues = [Double](repeating: 0, count: n * k)
        for (j, v) in vectors.enumerated() { for i in 0..<n { rowValues[i * k + j] = v[i] } }
        let byRow = rowValues
        @Sendable func dots(_ w: [Double]) -> [Double] {
            var sums = [Double](repeating: 0, count: k)
            sums.withUnsafeMutableBufferPointer { s in
                w.withUnsafeBufferPointer { wp in
                    byRow.withUnsafeBufferPointer { x in
                        for i in 0..<n {
                            let wi = wp[i], row = i * k
                            for j in 0..<k { s[j] += wi * x[row + j] }
                        }
                    }
                }
            }
            return sums
        }

        /// Per policy: IPW value, IPW incremental, IPW profit, then the same for DR.
        @Sendable func statistics(_ w: [Double]?) -> [Double] {
            let W = w.map { $0.reduce(0, +) } ?? Double(n)
            let sums = w.map(dots) ?? vectors.map { $0.reduce(0, +) }
            var next = 0
            func dot() -> Double {
                defer { next += 1 }
                return sums[next]
            }
            let ipwNone = dot() / W
            let drNone = hasDR ? dot() / W : .nan
            var out: [Double] = []
            out.reserveCapacity(terms.count * 6)
            for _ in terms {
                let cost = dot()
                let v = dot() / W
                out += [v, v - ipwNone, margin * (v - ipwNone) * Double(n) - cost]
                if hasDR {
                    let d = dot() / W
                    out += [d, d - drNone, margin * (d - drNone) * Double(n) - cost]
                } else {
                    out += [.nan, .nan, .nan]
                }
            }
            return out
        }

        let point = statistics(nil)
        let reps = Bootstrap.replicates(replicates, rows: n, seed: seed, threads: threads) { statistics($0) }
        func ci(_ index: Int) -> Interval { Bootstrap.percentileInterval(reps.map { $0[index] }, level: level) }
        func value(_ base: Int) -> EstimatorValue {
            EstimatorValue(
                value: point[base], valueCI: ci(base), incrementalValue: point[base + 1], incrementalValueCI: ci(base + 1),
                profit: point[base + 2], profitCI: ci(base + 2))
        }
        let estimates = terms.enumerated().map { p, t in
            PolicyEstimate(contacts: t.contacts, cost: t.cost.reduce(0, +), ipw: value(6 * p), dr: hasDR ? value(6 * p + 3) : nil)
        }
        return OffPolicyEvaluation(
            estimates: estimates,
            ipwProfitReplicates: reps.map { r in terms.indices.map { r[6 * $0 + 2] } },
            drProfitReplicates: hasDR ? reps.map { r in terms.indices.map { r[6 * $0 + 5] } } : nil)
    }

    /// Profit of one policy without intervals (IPW, and DR when the sample has predictions).
    public func pointEstimate(_ policy: TargetPolicy) throws -> (ipw: Double, dr: Double?) {
        let t = try rowTerms(policy)
        let none = try rowTerms(.assignment(.nobody(customers: sample.count)))
        let cost = t.cost.reduce(0, +)
        let ipw = economics.margin * (t.ipw.reduce(0, +) - none.ipw.reduce(0, +)) - cost
        let dr = economics.margin * (t.dr.reduce(0, +) - none.dr.reduce(0, +)) - cost
        return (ipw, sample.predictions == nil ? nil : dr)
    }

    struct RowTerms: Sendable {
        var ipw: [Double]
        var dr: [Double]
        var cost: [Double]
        var contacts: Double
    }

    /// Each row's contribution to the IPW and DR sums and its expected contact cost under `policy`.
    /// π(a | i), the probability that `policy` gives row i arm code a: one code with probability 1,
    /// or the same mix for every row.
    func armProbability(_ policy: TargetPolicy) throws -> (Int, Int) -> Double {
        let n = sample.count
        switch policy {
        case .assignment(let a):
            try a.validate(customers: n, arms: sample.treatedArms)
            let codes = a.armCodes
            return { i, arm in codes[i] == arm ? 1 : 0 }
        case .random(let volume, let armMix):
            guard volume >= 0 && volume <= n else {
                throw PolicyError.invalidParameter("random targeting volume \(volume) outside 0…\(n)")
            }
            guard armMix.count == sample.treatedArms else {
                throw PolicyError.dimensionMismatch("arm mix has \(armMix.count) shares for \(sample.treatedArms) treated arms")
            }
            guard armMix.allSatisfy({ $0.isFinite && $0 >= 0 }), abs(armMix.reduce(0, +) - 1) < 1e-9 else {
                throw PolicyError.invalidParameter("arm mix must be non-negative shares summing to 1 (got \(armMix))")
            }
            let f = Double(volume) / Double(n)
            let mix = [1 - f] + armMix.map { f * $0 }
            return { _, arm in mix[arm] }
        }
    }

    /// Standard deviation of profit per customer under `policy` (margin × outcome − the cost of the
    /// arm given), from the rows whose randomized arm the policy would give, each weighted by
    /// π(A_i | i) / p_{A_i}: what a confirming experiment's sample size needs.
    public func profitStandardDeviation(_ policy: TargetPolicy) throws -> Double {
        let prob = try armProbability(policy)
        let costs = [0.0] + economics.costs
        var w = 0.0, m = 0.0, m2 = 0.0
        for i in 0..<sample.count {
            let a = sample.arms[i]
            let weight = prob(i, a) / sample.propensities[a]
            if weight == 0 { continue }
            let v = economics.margin * sample.outcomes[i] - costs[a]
            w += weight
            m += weight * v
            m2 += weight * v * v
        }
        guard w > 0 else { return .nan }
        let mean = m / w
        return max(0, m2 / w - mean * mean).squareRoot()
    }

    func rowTerms(_ policy: TargetPolicy) throws -> RowTerms {
        let n = sample.count, arms = sample.propensities.count
        let prob = try armProbability(policy)
        var t = RowTerms(
            ipw: .init(repeating: 0, count: n), dr: .init(repeating: 0, count: n),
            cost: .init(repeating: 0, count: n), contacts: 0)
        let costs = [0.0] + economics.costs
        for i in 0..<n {
            let A = sample.arms[i]
            let pa = prob(i, A)
            t.ipw[i] = pa * sample.outcomes[i] / sample.propensities[A]
            var c = 0.0
            if let mu = sample.predictions {
                var d = pa * (sample.outcomes[i] - mu[i, A]) / sample.propensities[A]
                for a in 0..<arms { d += prob(i, a) * mu[i, a] }
                t.dr[i] = d
            }
            for a in 1..<arms { c += prob(i, a) * costs[a] }
            t.cost[i] = c
            t.contacts += 1 - prob(i, 0)
        }
        return t
    }
}
