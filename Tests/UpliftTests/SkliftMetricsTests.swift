import Testing

@testable import Uplift

/// A fixed data set of 30 customers with tied scores, drawn once in Python
/// (numpy.random.default_rng(16): treatment ~ Bernoulli(0.5), score ~ N(0, 1) rounded to 0.1,
/// response ~ Bernoulli(0.3 + 0.15 · score · treatment); amount = response · Gamma(2, 20) rounded to cents).
/// The expected values are scikit-uplift 0.5.1's (`sklift.metrics`) on these arrays; for the amounts,
/// sklift's binary-outcome check was switched off (`sklift.metrics.metrics.check_is_binary = lambda x: None`)
/// to run the same formulas on a continuous outcome.
private enum Fixed {
    static let y: [Double] = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0]
    static let treated: [Bool] = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1].map { $0 == 1 }
    static let scores: [Double] = [
        1.1, 0.6, 0.6, 0.3, -0.2, -1.9, 1.0, -1.5, 0.2, -0.1, 0.1, 0.3, -0.3, 0.9, -1.3, 0.8, -1.7, 1.2, -0.5, 0.4, 1.5, -2.2, -0.3, 0.6,
        0.9, 1.4, 0.6, 0.5, 0.1, 0.3,
    ]
    static let amount: [Double] = [
        109.62, 0, 57.64, 13.85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17.41, 42.46, 40.76, 0, 0, 0, 0, 0, 28.13, 13.76, 0, 57.76, 0, 42.26, 22.44,
        0, 0,
    ]
}

private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * max(1, abs(b)) }

@Suite("scikit-uplift's metrics reproduced")
struct SkliftMetricsTests {
    @Test(
        "uplift_at_k with strategy 'overall' and 'by_group'",
        arguments: [
            (0.1, SkliftMetrics.Strategy.byGroup, 1.0), (0.2, .overall, 0.6666666666666666), (0.2, .byGroup, 0.6666666666666666),
            (0.3, .overall, 0.55), (0.3, .byGroup, 0.5),
        ])
    func upliftAtK(_ c: (Double, SkliftMetrics.Strategy, Double)) {
        #expect(close(SkliftMetrics.upliftAtK(y: Fixed.y, scores: Fixed.scores, treated: Fixed.treated, strategy: c.1, k: c.0), c.2))
    }

    @Test("uplift_at_k is NaN when the top k holds only one group (numpy's mean of an empty slice)")
    func upliftAtKEmptyGroup() {
        // The top 3 customers (scores 1.5, 1.4, 1.2) are all control.
        #expect(SkliftMetrics.upliftAtK(y: Fixed.y, scores: Fixed.scores, treated: Fixed.treated, strategy: .overall, k: 0.1).isNaN)
    }

    @Test("ties are taken in sklift's order: reversed row order within equal scores")
    func tieOrder() {
        // At k = 0.3 the ninth customer is one of four tied at 0.6 (rows 1, 2, 23, 26): sklift takes row 26
        // (control, responded) first, and its uplift at 30% (0.55 above) depends on it.
        let ranked = SkliftMetrics.order(Fixed.scores)
        #expect(Array(ranked[8...11]) == [26, 23, 2, 1])
    }

    @Test("qini_auc_score and uplift_auc_score")
    func areas() {
        #expect(close(SkliftMetrics.qiniAUCScore(y: Fixed.y, scores: Fixed.scores, treated: Fixed.treated), 0.29723521761257615))
        #expect(close(SkliftMetrics.upliftAUCScore(y: Fixed.y, scores: Fixed.scores, treated: Fixed.treated), 0.24122581235780555))
    }

    @Test("the same formulas on a continuous outcome (sklift's binary check switched off)")
    func continuous() {
        #expect(close(SkliftMetrics.qiniAUCScore(y: Fixed.amount, scores: Fixed.scores, treated: Fixed.treated), 0.43934156363613314))
        let cases: [(Double, SkliftMetrics.Strategy, Double)] = [
            (0.2, .overall, 55.79333333333333), (0.2, .byGroup, 55.79333333333333), (0.3, .overall, 34.545), (0.3, .byGroup, 35.6325),
        ]
        for (k, strategy, expected) in cases {
            #expect(close(SkliftMetrics.upliftAtK(y: Fixed.amount, scores: Fixed.scores, treated: Fixed.treated, strategy: strategy, k: k), expected))
        }
    }

    @Test("each score's own perfect ranking scores 1")
    func perfectRankings() {
        let qiniPerfect = Fixed.y.indices.map { Fixed.treated[$0] ? Fixed.y[$0] : -Fixed.y[$0] }
        #expect(close(SkliftMetrics.qiniAUCScore(y: Fixed.y, scores: qiniPerfect, treated: Fixed.treated), 1))
        // 4 control responders, 8 treated non-responders: sklift ranks by 2·[y = T] + T.
        let upliftPerfect = Fixed.y.indices.map { i -> Double in
            let t: Double = Fixed.treated[i] ? 1 : 0
            return 2 * (Fixed.y[i] == t ? 1 : 0) + t
        }
        #expect(close(SkliftMetrics.upliftAUCScore(y: Fixed.y, scores: upliftPerfect, treated: Fixed.treated), 1))
        #expect(SkliftMetrics.upliftAUCScore(y: Fixed.y, scores: Fixed.scores, treated: Fixed.treated) < 1)
    }
}
