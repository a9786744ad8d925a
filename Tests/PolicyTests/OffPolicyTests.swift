import Foundation
import Stats
import Testing

@testable import Policy

/// A randomized experiment with known truth. x ~ U(0, 1); arm codes 0 (control), 1, 2 with shares
/// 0.5, 0.25, 0.25; mean outcome m0 = 1 + x, m1 = 1 + 3x, m2 = 2; Y = m_A(x) · E with E ~ Exp(1),
/// skewed like revenue. The outcome model handed to DR is deliberately wrong (0.8 m + 0.2).
///
/// Policy "split": arm 1 when x > 0.5, else arm 2 (treated arms 0 and 1). Its value is
/// ∫_{.5}^{1} (1 + 3x) dx + ∫_0^{.5} 2 dx = 1.625 + 1 = 2.625; contacting nobody gives 1.5.
/// Random targeting of half the customers with an even arm mix:
/// 1.5 + 0.5 · (0.5 · (2.5 − 1.5) + 0.5 · (2 − 1.5)) = 1.875.
struct Synthetic {
    static let propensities = [0.5, 0.25, 0.25]
    static let splitValue = 2.625, noneValue = 1.5, randomHalfValue = 1.875
    let x: [Double]
    let sample: RandomizedSample

    static func means(_ x: Double) -> [Double] { [1 + x, 1 + 3 * x, 2] }

    init(n: Int, seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        var x = [Double](), arms = [Int](), y = [Double](), mu = [Double]()
        for _ in 0..<n {
            let xi = g.nextUnit()
            let u = g.nextUnit()
            let a = u < 0.5 ? 0 : (u < 0.75 ? 1 : 2)
            let m = Self.means(xi)
            x.append(xi); arms.append(a)
            y.append(m[a] * -log(1 - g.nextUnit()))
            mu += m.map { 0.8 * $0 + 0.2 }
        }
        self.x = x
        sample = try RandomizedSample(
            arms: arms, outcomes: y, propensities: Self.propensities,
            predictions: ArmMatrix(rows: n, arms: 3, values: mu, name: "predictions"))
    }

    var split: Assignment { Assignment(arms: x.map { $0 > 0.5 ? 0 : 1 }) }
}

@Suite struct OffPolicyTests {
    let economics = try! ProfitModel(margin: 0.4, costs: [0.1, 0.2])

    @Test func confidenceIntervalsCoverTheTruth() throws {
        let n = 20_000
        let data = try Synthetic(n: n, seed: 314)
        let ev = try OffPolicyEvaluator(sample: data.sample, economics: economics)
        let policies: [TargetPolicy] = [
            .assignment(data.split), .assignment(.nobody(customers: n)),
            .random(volume: n / 2, armMix: [0.5, 0.5]),
        ]
        let est = try ev.evaluate(policies: policies, replicates: 300, seed: 11, threads: 2)
        let truths = [Synthetic.splitValue, Synthetic.noneValue, Synthetic.randomHalfValue]
        // Expected contact cost per customer: split sends each arm to half the rows; random half sends 1/4 each.
        let costPerCustomer = [0.5 * 0.1 + 0.5 * 0.2, 0, 0.25 * 0.1 + 0.25 * 0.2]
        for (e, (truth, cpc)) in zip(est, zip(truths, costPerCustomer)) {
            let profitTruth = Double(n) * (economics.margin * (truth - Synthetic.noneValue) - cpc)
            for v in [e.ipw, e.dr!] {
                #expect(v.valueCI.contains(truth), "value \(v.value) CI \(v.valueCI) truth \(truth)")
                #expect(v.valueCI.lower < v.value && v.value < v.valueCI.upper)
                #expect(abs(v.value - truth) < 0.1)
            }
            if truth != Synthetic.noneValue {
                for v in [e.ipw, e.dr!] {
                    #expect(v.incrementalValueCI.contains(truth - Synthetic.noneValue))
                    #expect(v.profitCI.contains(profitTruth), "profit \(v.profit) CI \(v.profitCI) truth \(profitTruth)")
                }
            }
        }
        // Contacting nobody is the baseline: zero incremental value and profit on every replicate.
        #expect(est[1].ipw.profit == 0 && est[1].ipw.profitCI == Interval(0, 0) && est[1].dr!.incrementalValue == 0)
        #expect(est[0].contacts == Double(n) && abs(est[0].cost - data.split.cost(economics.costs)) < 1e-9)
        #expect(abs(est[2].contacts - Double(n / 2)) < 1e-6)
        #expect(abs(est[2].cost - Double(n / 2) * 0.15) < 1e-6)
    }

    @Test func estimatorsAreCloseToTheTruthWithLargeSamples() throws {
        let data = try Synthetic(n: 400_000, seed: 2718)
        let ev = try OffPolicyEvaluator(sample: data.sample, economics: economics)
        for (policy, truth) in [
            (TargetPolicy.assignment(data.split), Synthetic.splitValue),
            (.assignment(.nobody(customers: data.sample.count)), Synthetic.noneValue),
            (.random(volume: data.sample.count / 2, armMix: [0.5, 0.5]), Synthetic.randomHalfValue),
        ] {
            let t = try ev.rowTerms(policy)
            let n = Double(data.sample.count)
            #expect(abs(t.ipw.reduce(0, +) / n - truth) < 0.02)
            #expect(abs(t.dr.reduce(0, +) / n - truth) < 0.02)
        }
    }

    /// Hand-computed: four rows, arms 0, 1, 2, 1 with outcomes 2, 4, 3, 0, shares 0.5 / 0.25 / 0.25.
    /// Policy gives row 0 nothing, rows 1 and 3 arm code 1, row 2 arm code 1 (not what it received).
    /// IPW: matches at rows 0 (code 0), 1, 3 → (2/0.5 + 4/0.25 + 0/0.25) / 4 = 5.
    /// IPW none: row 0 only → (2/0.5) / 4 = 1. Profit: 0.4 × (5 − 1) × 4 − 3 × 0.1 = 6.1.
    /// DR with mu ≡ 1 for every arm: 1 + mean of matched residual terms
    /// ((2 − 1)/0.5 + (4 − 1)/0.25 + (0 − 1)/0.25) / 4 = 1 + (2 + 12 − 4) / 4 = 3.5; DR none 1 + 2/4 = 1.5.
    @Test func handComputedValues() throws {
        let s = try RandomizedSample(
            arms: [0, 1, 2, 1], outcomes: [2, 4, 3, 0], propensities: [0.5, 0.25, 0.25],
            predictions: ArmMatrix(rows: 4, arms: 3, values: Array(repeating: 1, count: 12)))
        let ev = try OffPolicyEvaluator(sample: s, economics: economics)
        let e = try ev.evaluate(policies: [Assignment(arms: [nil, 0, 0, 0])], replicates: 200, seed: 1, threads: 1)[0]
        #expect(abs(e.ipw.value - 5) < 1e-12)
        #expect(abs(e.ipw.incrementalValue - 4) < 1e-12)
        #expect(abs(e.ipw.profit - 6.1) < 1e-12)
        #expect(abs(e.dr!.value - 3.5) < 1e-12)
        #expect(abs(e.dr!.incrementalValue - 2) < 1e-12)
        #expect(abs(e.dr!.profit - (0.4 * 2 * 4 - 0.3)) < 1e-12)
    }

    @Test func bootstrapIsIdenticalForAnyThreadCount() throws {
        let n = 3_000
        let data = try Synthetic(n: n, seed: 8)
        let ev = try OffPolicyEvaluator(sample: data.sample, economics: economics)
        let policies: [TargetPolicy] = [
            .assignment(data.split), .assignment(.everybody(customers: n, arm: 0)),
            .random(volume: 1000, armMix: [0.3, 0.7]),
        ]
        let one = try ev.evaluateWithReplicates(policies: policies, replicates: 200, seed: 42, threads: 1)
        let two = try ev.evaluateWithReplicates(policies: policies, replicates: 200, seed: 42, threads: 2)
        let four = try ev.evaluateWithReplicates(policies: policies, replicates: 200, seed: 42, threads: 4)
        #expect(one == two && two == four)
        let other = try ev.evaluateWithReplicates(policies: policies, replicates: 200, seed: 43, threads: 2)
        #expect(other.estimates[0].ipw.profitCI != one.estimates[0].ipw.profitCI)
        // Pairing: a policy compared with itself differs by exactly zero on every replicate.
        #expect(one.profitDifferenceCI(0, 0) == Interval(0, 0))
        let d = one.profitDifferenceCI(0, 1, doublyRobust: true)
        #expect(d.lower <= d.upper)
    }

    @Test("each replicate's profit is the row-order weighted sums of the row terms, rows the replicate did not draw left out, bit for bit")
    func replicatesAreTheWeightedSums() throws {
        let n = 700
        let data = try Synthetic(n: n, seed: 9)
        let ev = try OffPolicyEvaluator(sample: data.sample, economics: economics)
        let policies: [TargetPolicy] = [.assignment(data.split), .random(volume: 200, armMix: [0.5, 0.5])]
        let result = try ev.evaluateWithReplicates(policies: policies, replicates: 200, seed: 5, threads: 2)
        let none = try ev.rowTerms(.assignment(.nobody(customers: n)))
        let terms = try policies.map { try ev.rowTerms($0) }
        for r in [0, 1, 117, 199] {
            let w = Bootstrap.weights(rows: n, seed: 5, replicate: r)
            let total = w.reduce(0, +)
            func dot(_ x: [Double]) -> Double {
                var s = 0.0
                for i in 0..<n where w[i] != 0 { s += w[i] * x[i] }
                return s
            }
            for (p, t) in terms.enumerated() {
                let ipw = economics.margin * (dot(t.ipw) / total - dot(none.ipw) / total) * Double(n) - dot(t.cost)
                let dr = economics.margin * (dot(t.dr) / total - dot(none.dr) / total) * Double(n) - dot(t.cost)
                #expect(result.ipwProfitReplicates[r][p].bitPattern == ipw.bitPattern, "replicate \(r) policy \(p)")
                #expect(result.drProfitReplicates![r][p].bitPattern == dr.bitPattern, "replicate \(r) policy \(p)")
            }
        }
    }

    @Test func invalidInputIsAClearError() throws {
        #expect(throws: PolicyError.invalidParameter("row 1 has arm code 3; expected 0…2")) {
            try RandomizedSample(arms: [0, 3], outcomes: [1, 1], propensities: [0.5, 0.25, 0.25])
        }
        #expect(throws: PolicyError.nonFinite("outcome of row 0 = nan")) {
            try RandomizedSample(arms: [0, 1], outcomes: [.nan, 1], propensities: [0.5, 0.5])
        }
        #expect(throws: PolicyError.invalidParameter("propensity of arm 1 must lie in (0, 1] (got 0.0)")) {
            try RandomizedSample(arms: [0, 1], outcomes: [1, 1], propensities: [1, 0])
        }
        let s = try RandomizedSample(arms: [0, 1], outcomes: [1, 1], propensities: [0.5, 0.5])
        let ev = try OffPolicyEvaluator(sample: s, economics: ProfitModel(margin: 1, costs: [0.1]))
        #expect(throws: PolicyError.dimensionMismatch("assignment has 3 customers, expected 2")) {
            try ev.evaluate(policies: [Assignment(arms: [nil, nil, nil])], seed: 1)
        }
        #expect(throws: PolicyError.invalidParameter("at least 200 bootstrap replicates are needed (got 50)")) {
            try ev.evaluate(policies: [Assignment(arms: [nil, 0])], replicates: 50, seed: 1)
        }
        #expect(throws: PolicyError.invalidParameter("random targeting volume 3 outside 0…2")) {
            try ev.evaluate(policies: [TargetPolicy.random(volume: 3, armMix: [1])], seed: 1)
        }
        #expect(throws: PolicyError.dimensionMismatch("2 arm costs for 1 treated arms")) {
            try OffPolicyEvaluator(sample: s, economics: ProfitModel(margin: 1, costs: [0.1, 0.1]))
        }
        // Without predictions only IPW is reported.
        let e = try ev.evaluate(policies: [Assignment(arms: [nil, 0])], replicates: 200, seed: 1)
        #expect(e[0].dr == nil)
    }

    @Test("profit's standard deviation under a policy is read off the rows whose arm it gives")
    func profitStandardDeviation() throws {
        // Arms 0, 1, 2 with outcomes; "everybody, arm 1" uses the arm-1 rows alone (equal weights).
        let s = try RandomizedSample(arms: [0, 1, 1, 2, 1, 0], outcomes: [5, 2, 4, 9, 6, 1], propensities: [0.5, 0.25, 0.25])
        let ev = try OffPolicyEvaluator(sample: s, economics: ProfitModel(margin: 0.5, costs: [0.2, 0.3]))
        let v = [2.0, 4, 6].map { 0.5 * $0 - 0.2 }
        let mean = v.reduce(0, +) / 3
        let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3).squareRoot()
        #expect(abs(try ev.profitStandardDeviation(.assignment(.everybody(customers: 6, arm: 0))) - sd) < 1e-12)
        // Contacting nobody: the control rows, no cost.
        #expect(abs(try ev.profitStandardDeviation(.assignment(.nobody(customers: 6))) - 1.0) < 1e-12)
        // Random targeting of everybody with arm 1 only is the same policy in expectation.
        #expect(abs(try ev.profitStandardDeviation(.random(volume: 6, armMix: [1, 0])) - sd) < 1e-12)
    }
}
