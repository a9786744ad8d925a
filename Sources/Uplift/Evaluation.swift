import Foundation
import Stats

/// Held-out evaluation of an uplift ranking on randomized data. Rows are ranked by predicted
/// uplift (descending; ties by row order, so the ranking is deterministic).
///
/// Definitions (n rows in rank order, treated flag T, outcome Y, propensity e; a bootstrap
/// replicate gives row i the weight w_i, the plain evaluation w_i = 1):
/// - IPW contribution z_i = T·Y/e − (1 − T)·Y/(1 − e); its mean over all rows estimates the average
///   effect, its sum over the top k the incremental outcome from treating them.
/// - Uplift curve V(k) = Σ_{j≤k} w_j z_j, drawn per customer of the population (V(k)/W).
/// - Qini curve (binary outcomes) Q(k) = R_t(k) − R_c(k)·N_t(k)/N_c(k) with weighted responder
///   counts R and group sizes N among the top k.
/// - Area of a curve C: Σ_k w_k (C(k) − (W_k/W)·C(n)), i.e. above the random-targeting line.
/// - Normalized AUUC / Qini coefficient: the area of the model's ranking divided by the area of
///   the best possible ranking of the same rows (z descending; for Qini treated responders first,
///   control responders last). 1 is perfect, 0 random, negative worse than random.
public struct UpliftEvaluator: Sendable {
    public let order: [Int]
    public let treated: [Bool]
    public let y: [Double]
    public let e: Double
    let z: [Double]
    let perfectZOrder: [Int]
    let perfectQiniOrder: [Int]

    public init(scores: [Double], treated: [Bool], y: [Double], propensity e: Double) {
        precondition(scores.count == treated.count && treated.count == y.count)
        // Finite outcomes and a propensity inside (0, 1): the bootstrap's loops add a row a
        // replicate did not draw as 0 × value, which is ±0 only for a finite value.
        precondition(e > 0 && e < 1 && y.allSatisfy(\.isFinite), "UpliftEvaluator: outcomes must be finite and the propensity in (0, 1)")
        self.treated = treated
        self.y = y
        self.e = e
        order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let z = y.indices.map { treated[$0] ? y[$0] / e : -y[$0] / (1 - e) }
        self.z = z
        perfectZOrder = z.indices.sorted { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
        let key = y.indices.map { i -> Int in y[i] > 0 ? (treated[i] ? 2 : 0) : 1 }
        perfectQiniOrder = key.indices.sorted { key[$0] > key[$1] || (key[$0] == key[$1] && $0 < $1) }
    }

    public var count: Int { order.count }

    // MARK: curves

    /// Cumulative weighted IPW contribution after each row of `ranking`.
    func upliftPath(_ ranking: [Int], weights: [Double]?) -> (values: [Double], cumulativeWeight: [Double]) {
        var v = 0.0, w = 0.0
        var values = [Double](repeating: 0, count: ranking.count)
        var cw = [Double](repeating: 0, count: ranking.count)
        for (k, i) in ranking.enumerated() {
            let wi = weights?[i] ?? 1
            v += wi * z[i]
            w += wi
            values[k] = v
            cw[k] = w
        }
        return (values, cw)
    }

    func qiniPath(_ ranking: [Int], weights: [Double]?) -> (values: [Double], cumulativeWeight: [Double]) {
        var rt = 0.0, rc = 0.0, nt = 0.0, nc = 0.0
        var values = [Double](repeating: 0, count: ranking.count)
        var cw = [Double](repeating: 0, count: ranking.count)
        for (k, i) in ranking.enumerated() {
            let wi = weights?[i] ?? 1
            if treated[i] { nt += wi; rt += wi * y[i] } else { nc += wi; rc += wi * y[i] }
            values[k] = nc > 0 ? rt - rc * nt / nc : rt
            cw[k] = nt + nc
        }
        return (values, cw)
    }

    /// Area above the random-targeting line of the IPW uplift curve of `ranking`, in one pass:
    /// Σ_k w_k (V_k − (W_k/W)·V_n) = Σ_k w_k V_k − (V_n/W)·Σ_k w_k W_k.
    func upliftArea(_ ranking: [Int], weights: [Double]?) -> Double {
        var v = 0.0, w = 0.0, sumWV = 0.0, sumWW = 0.0
        if let weights {
            // A row a replicate did not draw (weight 0) adds ±0 to every sum, which leaves it as it
            // is (no sum is ever -0.0): added anyway, the loop has no branch for the predictor to miss.
            weights.withUnsafeBufferPointer { wp in
                z.withUnsafeBufferPointer { zp in
                    for i in ranking {
                        let wi = wp[i]
                        v += wi * zp[i]
                        w += wi
                        sumWV += wi * v
                        sumWW += wi * w
                    }
                }
            }
        } else {
            for i in ranking {
                v += z[i]
                w += 1
                sumWV += v
                sumWW += w
            }
        }
        return w > 0 ? sumWV - v / w * sumWW : 0
    }

    /// The same for the Qini curve.
    func qiniArea(_ ranking: [Int], weights: [Double]?) -> Double {
        var rt = 0.0, rc = 0.0, nt = 0.0, nc = 0.0, sumWQ = 0.0, sumWW = 0.0
        for i in ranking {
            let wi = weights?[i] ?? 1
            // Both arms' sums take an addition, the other arm's of +0.0, and a row the replicate did
            // not draw adds ±0 everywhere: either leaves a sum as it is (none is ever -0.0), and the
            // loop has no branch on the arm or the draw, coin flips to the predictor.
            let t = treated[i] ? 1.0 : 0.0, wy = wi * y[i]
            nt += t * wi
            rt += t * wy
            nc += (1 - t) * wi
            rc += (1 - t) * wy
            sumWQ += wi * (nc > 0 ? rt - rc * nt / nc : rt)
            sumWW += wi * (nt + nc)
        }
        let w = nt + nc
        let total = nc > 0 ? rt - rc * nt / nc : rt
        return w > 0 ? sumWQ - total / w * sumWW : 0
    }

    /// Normalized AUUC of the model's ranking (IPW uplift curve).
    public func normalizedAUUC(weights: [Double]? = nil) -> Double {
        normalizedAUUC(weights: weights, perfectArea: perfectUpliftArea(weights: weights))
    }

    /// The same with the best ranking's area given (`perfectUpliftArea` of an evaluator with the same normalizers).
    public func normalizedAUUC(weights: [Double]?, perfectArea best: Double) -> Double {
        let model = upliftArea(order, weights: weights)
        return best > 0 ? model / best : .nan
    }

    /// Qini coefficient of the model's ranking (binary outcomes).
    public func qiniCoefficient(weights: [Double]? = nil) -> Double {
        qiniCoefficient(weights: weights, perfectArea: perfectQiniArea(weights: weights))
    }

    public func qiniCoefficient(weights: [Double]?, perfectArea best: Double) -> Double {
        let model = qiniArea(order, weights: weights)
        return best > 0 ? model / best : .nan
    }

    /// The normalizers: the areas of the best possible rankings of these rows.
    public func perfectUpliftArea(weights: [Double]?) -> Double { upliftArea(perfectZOrder, weights: weights) }
    public func perfectQiniArea(weights: [Double]?) -> Double { qiniArea(perfectQiniOrder, weights: weights) }

    /// Whether `other` has the same normalizers for the same weights: the same outcomes, treatment
    /// flags and propensity (the learners evaluated on one set of rows). A bootstrap replicate then
    /// computes them once for all of those learners.
    public func sharesNormalizers(with other: UpliftEvaluator) -> Bool {
        e == other.e && y == other.y && treated == other.treated
    }

    /// Per evaluator, the index of the first one with the same normalizers (`sharesNormalizers`)
    /// and, when `rows` are given, the same rows.
    public static func normalizerOwners(_ evaluators: [UpliftEvaluator], rows: [[Int]]? = nil) -> [Int] {
        evaluators.indices.map { i in
            evaluators.indices.first { j in
                j == i || (j < i && evaluators[j].sharesNormalizers(with: evaluators[i]) && (rows.map { $0[j] == $0[i] } ?? true))
            }!
        }
    }

    /// The model's uplift curve per customer of the population at shares 0, 1/points, …, 1:
    /// (share targeted, incremental outcome per customer).
    public func upliftCurve(points: Int = 100) -> [(share: Double, value: Double)] {
        let path = upliftPath(order, weights: nil)
        return sample(path.values, points: points).map { ($0.share, $0.value / Double(count)) }
    }

    /// The Qini curve at shares 0, 1/points, …, 1: (share targeted, incremental responders).
    public func qiniCurve(points: Int = 100) -> [(share: Double, value: Double)] {
        sample(qiniPath(order, weights: nil).values, points: points)
    }

    func sample(_ values: [Double], points: Int) -> [(share: Double, value: Double)] {
        let n = values.count
        return (0...points).map { p in
            let k = Int((Double(n) * Double(p) / Double(points)).rounded())
            return (Double(p) / Double(points), k == 0 ? 0 : values[k - 1])
        }
    }

    // MARK: deciles

    public struct Decile: Sendable, Equatable {
        public var index: Int
        public var rows: Int
        public var treatedRows: Int
        public var controlRows: Int
        public var meanPredicted: Double
        /// Mean outcome of treated minus control rows in the group, with a Welch interval.
        public var observed: Double
        public var observedCI: Interval
    }

    /// Rank-ordered groups of (nearly) equal size; group 1 has the highest predicted uplift.
    public func deciles(scores: [Double], groups: Int = 10, level: Double = 0.95) -> [Decile] {
        let n = count
        return (0..<groups).map { g in
            let members = order[(g * n / groups)..<((g + 1) * n / groups)]
            let t = members.filter { treated[$0] }.map { y[$0] }
            let c = members.filter { !treated[$0] }.map { y[$0] }
            let cmp = Inference.welch(treated: Moments(t), control: Moments(c), level: level)
            let predicted = members.reduce(0.0) { $0 + scores[$1] } / Double(members.count)
            return Decile(
                index: g + 1, rows: members.count, treatedRows: t.count, controlRows: c.count,
                meanPredicted: predicted, observed: cmp.difference, observedCI: cmp.differenceCI)
        }
    }
}
