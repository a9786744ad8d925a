import Foundation

/// Uplift metrics exactly as scikit-uplift 0.5.1 defines them (`sklift.metrics`), so the project's
/// numbers can be set beside other work. They differ from `UpliftEvaluator`'s on purpose:
///
/// - Rows are ordered as sklift orders them, `np.argsort(uplift, kind="mergesort")[::-1]`: by
///   score descending, equal scores in reverse row order. Curves are only evaluated where the score
///   changes (a group of equal scores is one step), starting at (0, 0); areas are trapezoids over
///   the number of rows targeted (sklearn's `auc`).
/// - Uplift curve at n targeted rows: (mean outcome of treated − mean outcome of control among
///   them) · n, a group with no rows counting 0. Qini curve: R_t − R_c · N_t / N_c (responders R,
///   group sizes N among them).
/// - Normalization: (area of the model's curve − area of the straight line from (0, 0) to the end
///   of the curve) divided by the same for a perfect curve. sklift's perfect curves come from the
///   outcome and treatment alone: for the Qini coefficient, treated responders first and control
///   responders last (with `negative_effect`, the default); for the AUUC, the order 2·[y = T] + y
///   when control responders outnumber treated non-responders, else 2·[y = T] + T.
///   `UpliftEvaluator` instead sorts the inverse-propensity-weighted outcomes of the same rows for
///   its perfect ranking and uses the per-row curve, so its AUUC is not sklift's.
/// - sklift checks that outcomes are binary; the formulas themselves accept any outcome, which is
///   how the report uses uplift at k on a continuous outcome (a difference of means).
public enum SkliftMetrics {
    public enum Strategy: String, Sendable, CaseIterable {
        /// The top k share of all rows; mean outcome of its treated rows minus its control rows.
        case overall
        /// The top k share of the treated rows and, separately, of the control rows.
        case byGroup = "by_group"
    }

    /// sklift's row order: score descending, ties in reverse row order.
    public static func order(_ scores: [Double]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }
    }

    /// `sklift.metrics.uplift_at_k(y, uplift, treatment, strategy, k)` for a share k in (0, 1): the
    /// number of rows taken is ⌊n · k⌋ as Python's `int(n * k)` computes it. NaN when a group among
    /// the rows taken is empty (numpy's mean of an empty slice).
    public static func upliftAtK(y: [Double], scores: [Double], treated: [Bool], strategy: Strategy, k: Double) -> Double {
        upliftAtK(y: y, scores: scores, treated: treated, strategy: strategy, k: k, ranked: order(scores))
    }

    /// `upliftAtK` with the rows already in sklift's order (`ranked` must be `order(scores)`; the
    /// curve and score functions take it the same way, to sort a learner's scores once).
    public static func upliftAtK(y: [Double], scores: [Double], treated: [Bool], strategy: Strategy, k: Double, ranked: [Int]) -> Double {
        precondition(y.count == scores.count && y.count == treated.count && ranked.count == y.count, "upliftAtK: lengths differ")
        precondition(k > 0 && k < 1, "upliftAtK: k is a share in (0, 1)")
        func mean(_ rows: ArraySlice<Int>) -> Double { rows.isEmpty ? .nan : rows.reduce(0.0) { $0 + y[$1] } / Double(rows.count) }
        switch strategy {
        case .overall:
            let top = ranked.prefix(Int(Double(y.count) * k))
            return mean(ArraySlice(top.filter { treated[$0] })) - mean(ArraySlice(top.filter { !treated[$0] }))
        case .byGroup:
            let t = ranked.filter { treated[$0] }, c = ranked.filter { !treated[$0] }
            return mean(t.prefix(Int(Double(t.count) * k))) - mean(c.prefix(Int(Double(c.count) * k)))
        }
    }

    /// Cumulative counts at each change of score in sklift's order, from (0, 0).
    static func steps(
        y: [Double], scores: [Double], treated: [Bool], ranked: [Int]? = nil,
        value: (_ n: Double, _ nt: Double, _ yt: Double, _ yc: Double) -> Double
    )
        -> (x: [Double], y: [Double])
    {
        precondition(y.count == scores.count && y.count == treated.count, "sklift curve: lengths differ")
        let ranked = ranked ?? order(scores)
        var xs: [Double] = [0], vs: [Double] = [0]
        var nt = 0.0, yt = 0.0, yc = 0.0
        for (k, i) in ranked.enumerated() {
            if treated[i] { nt += 1; yt += y[i] } else { yc += y[i] }
            if k == ranked.count - 1 || scores[ranked[k + 1]] != scores[i] {
                let n = Double(k + 1)
                xs.append(n)
                vs.append(value(n, nt, yt, yc))
            }
        }
        return (xs, vs)
    }

    /// `sklift.metrics.uplift_curve`.
    public static func upliftCurve(y: [Double], scores: [Double], treated: [Bool], ranked: [Int]? = nil) -> (x: [Double], y: [Double]) {
        steps(y: y, scores: scores, treated: treated, ranked: ranked) { n, nt, yt, yc in
            let nc = n - nt
            return ((nt > 0 ? yt / nt : 0) - (nc > 0 ? yc / nc : 0)) * n
        }
    }

    /// `sklift.metrics.qini_curve`.
    public static func qiniCurve(y: [Double], scores: [Double], treated: [Bool], ranked: [Int]? = nil) -> (x: [Double], y: [Double]) {
        steps(y: y, scores: scores, treated: treated, ranked: ranked) { n, nt, yt, yc in
            let nc = n - nt
            return yt - yc * (nc > 0 ? nt / nc : 0)
        }
    }

    /// Trapezoidal area (sklearn.metrics.auc).
    static func auc(_ c: (x: [Double], y: [Double])) -> Double {
        var a = 0.0
        for k in 1..<c.x.count { a += (c.x[k] - c.x[k - 1]) * (c.y[k] + c.y[k - 1]) / 2 }
        return a
    }

    /// (model area − chance) / (perfect area − chance), chance being the line to the perfect curve's end.
    static func normalized(model: (x: [Double], y: [Double]), perfect: (x: [Double], y: [Double])) -> Double {
        let chance = perfect.x.last! * perfect.y.last! / 2
        let best = auc(perfect) - chance
        return best != 0 ? (auc(model) - chance) / best : .nan
    }

    /// `sklift.metrics.uplift_auc_score`: normalized area under the uplift curve.
    public static func upliftAUCScore(y: [Double], scores: [Double], treated: [Bool], ranked: [Int]? = nil) -> Double {
        var controlResponders = 0, treatedNonResponders = 0
        for i in y.indices {
            if !treated[i] && y[i] == 1 { controlResponders += 1 }
            if treated[i] && y[i] == 0 { treatedNonResponders += 1 }
        }
        let perfectScores = y.indices.map { i -> Double in
            let t = treated[i] ? 1.0 : 0.0
            return 2 * (y[i] == t ? 1 : 0) + (controlResponders > treatedNonResponders ? y[i] : t)
        }
        return normalized(
            model: upliftCurve(y: y, scores: scores, treated: treated, ranked: ranked),
            perfect: upliftCurve(y: y, scores: perfectScores, treated: treated))
    }

    /// `sklift.metrics.qini_auc_score` (the Qini coefficient), with sklift's default
    /// `negative_effect=True`: the perfect curve ranks treated responders first and control responders last.
    public static func qiniAUCScore(y: [Double], scores: [Double], treated: [Bool], ranked: [Int]? = nil) -> Double {
        let perfectScores = y.indices.map { treated[$0] ? y[$0] : -y[$0] }
        return normalized(
            model: qiniCurve(y: y, scores: scores, treated: treated, ranked: ranked),
            perfect: qiniCurve(y: y, scores: perfectScores, treated: treated))
    }
}
