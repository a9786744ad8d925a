import Testing

@testable import Stats

private func close(_ a: Double, _ b: Double, _ tol: Double = 1e-9) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

@Suite("Statistics against reference values")
struct StatsTests {
    // Reference values from scipy.stats 1.17 unless stated.
    @Test func distributions() {
        #expect(close(Normal.quantile(0.975), 1.959963984540054))
        #expect(close(StudentT.twoSidedP(2.0, df: 10), 0.07338803477074037))
        #expect(close(ChiSquare.sf(3.5, df: 2), 0.1737739434504451))
        #expect(close(ChiSquare.sf(7.2, df: 3), 0.06578905268507099))
    }

    @Test("Welch t test matches scipy.stats.ttest_ind(equal_var=False)")
    func welch() {
        let a: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let b: [Double] = [2, 4, 1, 7, 9, 12, 3, 8]
        let c = Inference.welch(treated: Moments(b), control: Moments(a))
        #expect(close(c.statistic, 0.15034943152808422))
        #expect(close(c.pValue, 0.8827707081415804, 1e-8))
        #expect(close(c.degreesOfFreedom, 13.14969513765664))
        #expect(close(c.difference, 5.75 - 5.5))
    }

    @Test("chi-square goodness of fit matches scipy.stats.chisquare")
    func goodnessOfFit() {
        let r = Inference.chiSquareGoodnessOfFit(observed: [100, 120, 95], expectedShares: [1, 1, 1])
        #expect(close(r.statistic, 3.333333333333333))
        #expect(r.df == 2)
        #expect(close(r.pValue, 0.18887560283756186))
    }

    @Test("Wilson interval: Newcombe (1998) example 81/263 gives 0.2553 to 0.3662")
    func wilson() {
        let ci = Inference.wilson(successes: 81, n: 263)
        #expect(abs(ci.lower - 0.2553) < 5e-5)
        #expect(abs(ci.upper - 0.3662) < 5e-5)
    }

    @Test("two-proportion z test with pooled variance")
    func twoProportion() {
        let c = Inference.twoProportion(successesTreated: 120, nTreated: 1000, successesControl: 100, nControl: 1000)
        #expect(close(c.statistic, 1.4293008498232314))
        #expect(close(c.pValue, 0.1529177818639462, 1e-8))
        #expect(close(c.difference, 0.02))
        #expect(close(c.relative, 0.2))
        #expect(c.differenceCI.contains(0))
    }

    @Test("power: minimum detectable effect and sample size")
    func power() {
        #expect(close(Power.minimumDetectableEffect(sd1: 0.5, n1: 1000, sd0: 0.5, n0: 1000), 0.06264534992459173))
        #expect(Power.sampleSizePerGroup(p0: 0.10, p1: 0.12) == 3839)
        // At the minimum detectable effect the power is the target (the other tail adds ~nothing).
        let se = (0.25 / 1000 * 2).squareRoot()
        #expect(abs(Power.power(effect: 0.06264534992459173, standardError: se) - 0.8) < 1e-6)
    }

    @Test func moments() {
        let m = Moments([1, 2, 3, 4])
        #expect(m.n == 4 && m.mean == 2.5 && close(m.variance, 5.0 / 3.0))
        let smd = Inference.standardizedMeanDifference(treated: Moments([2, 3, 4, 5]), control: m)
        #expect(close(smd, 1 / (5.0 / 3.0).squareRoot()))
    }

    @Test("seeded generator is reproducible and unbiased enough")
    func generator() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        let xs = (0..<5).map { _ in a.next() }
        #expect(xs == (0..<5).map { _ in b.next() })
        var c = SeededGenerator(seed: 43)
        #expect(c.next() != xs[0])
        var g = SeededGenerator(seed: 7)
        var counts = [0, 0, 0]
        for _ in 0..<30_000 { counts[g.next(below: 3)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 400 })
        var d1 = SeededGenerator.derived(seed: 1, index: 0), d2 = SeededGenerator.derived(seed: 1, index: 1)
        #expect(d1.next() != d2.next())
    }
}

@Suite("Distribution functions outside their domain")
struct DomainTests {
    // Without the guards these reach GSL, whose default handler aborts the whole process
    // (a Welch test on two constant groups has df = NaN).
    @Test func outOfDomainGivesNaNInsteadOfAborting() {
        #expect(StudentT.quantile(0.975, df: .nan).isNaN)
        #expect(StudentT.quantile(0.975, df: 0).isNaN)
        #expect(StudentT.twoSidedP(.nan, df: 10).isNaN)
        #expect(ChiSquare.sf(1, df: -1).isNaN)
        #expect(Normal.quantile(1.5).isNaN)
        let same = Inference.welch(treated: Moments([1, 1, 1]), control: Moments([1, 1]))
        #expect(same.difference == 0)
    }
}

@Suite("Bootstrap and correlation")
struct BootstrapTests {
    @Test func pearsonByHand() {
        // x = 1, 2, 3; y = 2, 4, 7: deviations (−1, 0, 1) and (−7/3, −1/3, 8/3): r = 5 / sqrt(2 · 38/3).
        #expect(abs(Inference.pearson([1, 2, 3], [2, 4, 7]) - 5 / (2 * 38.0 / 3).squareRoot()) < 1e-15)
        #expect(Inference.pearson([1, 1, 1], [1, 2, 3]).isNaN)
    }

    @Test func replicateWeightsSumToTheRowsAndDependOnlyOnSeedAndIndex() {
        let w = Bootstrap.weights(rows: 50, seed: 9, replicate: 4)
        #expect(w.reduce(0, +) == 50)
        #expect(w == Bootstrap.weights(rows: 50, seed: 9, replicate: 4))
        #expect(w != Bootstrap.weights(rows: 50, seed: 9, replicate: 5))
    }
}

@Suite("Multiple testing, Fisher's exact test and two-variance sample sizes against statsmodels and scipy")
struct AdjustmentTests {
    // A fixed p-value vector with a tie (0.04 twice) and values whose Holm products exceed 1.
    static let p: [Double] = [0.0034, 0.21, 0.04, 0.0001, 0.5, 0.04, 0.012, 0.9, 0.003, 0.047]

    @Test("Holm matches statsmodels.stats.multitest.multipletests(p, method='holm') (statsmodels 0.15.0)")
    func holm() {
        let expected: [Double] = [0.0272, 0.63, 0.24, 0.001, 1.0, 0.24, 0.084, 1.0, 0.027, 0.24]
        let got = MultipleTesting.holm(Self.p)
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) { #expect(close(g, e, 1e-12)) }
    }

    @Test("Benjamini-Hochberg matches multipletests(p, method='fdr_bh') (statsmodels 0.15.0)")
    func benjaminiHochberg() {
        let expected: [Double] = [
            0.011333333333333332, 0.26249999999999996, 0.06666666666666667, 0.001, 0.5555555555555556, 0.06666666666666667, 0.03, 0.9,
            0.011333333333333332, 0.06714285714285714,
        ]
        let got = MultipleTesting.benjaminiHochberg(Self.p)
        for (g, e) in zip(got, expected) { #expect(close(g, e, 1e-12)) }
    }

    @Test("NaN p-values stay NaN and are not counted in the family")
    func nanExcluded() {
        let withNaN = [Double.nan] + Self.p + [.nan]
        let holm = MultipleTesting.holm(withNaN), bh = MultipleTesting.benjaminiHochberg(withNaN)
        #expect(holm.first!.isNaN && holm.last!.isNaN && bh.first!.isNaN && bh.last!.isNaN)
        #expect(Array(holm[1...10]) == MultipleTesting.holm(Self.p))
        #expect(Array(bh[1...10]) == MultipleTesting.benjaminiHochberg(Self.p))
    }

    @Test(
        "Fisher's exact test matches scipy.stats.fisher_exact (scipy 1.17.1, two-sided)",
        arguments: [
            (3, 9, 1, 11, 3.6666666666666665, 0.5900621118012422),
            (8, 2, 1, 5, 20.0, 0.034965034965034975),
            (10, 1180, 3, 1190, 3.361581920903955, 0.05645355950321529),
            (0, 40, 4, 36, 0.0, 0.11556797632746996),
            (7, 17, 2, 23, 4.735294117647059, 0.07375494096457086),
            (5, 0, 0, 5, Double.infinity, 0.007936507936507938),
            (2, 7, 8, 2, 0.07142857142857142, 0.02301413756522116),
        ])
    func fisher(_ row: (Int, Int, Int, Int, Double, Double)) {
        let r = Inference.fisherExact(a: row.0, b: row.1, c: row.2, d: row.3)
        #expect(r.oddsRatio == row.4 || close(r.oddsRatio, row.4, 1e-12))
        #expect(close(r.pValue, row.5, 1e-10))
    }

    @Test("Fisher's exact test: an empty row or column gives p = 1")
    func fisherEmptyMargin() {
        #expect(Inference.fisherExact(a: 0, b: 0, c: 3, d: 5).pValue == 1)
        #expect(Inference.fisherExact(a: 0, b: 4, c: 0, d: 5).pValue == 1)
    }

    // n = (z_0.975 + z_0.8)² (sd1² + sd0²) / d², computed in Python with scipy.stats.norm.ppf:
    // 14108.851092587909 and 266.86191096786894. statsmodels' NormalIndPower().solve_power with
    // effect_size = d / sqrt((sd1² + sd0²) / 2), ratio 1, gives 14108.8165 and 266.8613 (it adds the
    // far tail, which lowers n by a fraction of a customer); both round up to the same n.
    @Test("two-variance sample size per arm matches the closed form and statsmodels' NormalIndPower")
    func twoVarianceSampleSize() {
        #expect(Power.sampleSizePerGroup(sd1: 17.75, sd0: 11.59, difference: 0.5) == 14109)
        #expect(Power.sampleSizePerGroup(sd1: 0.5, sd0: 0.3, difference: 0.1) == 267)
        // The control spread for both arms (the old computation) understates n by the ratio of variances.
        #expect(Power.sampleSizePerGroup(sd1: 11.59, sd0: 11.59, difference: 0.5) == 8435)
        #expect(Power.sampleSizePerGroup(sd1: 1, sd0: 1, difference: 0).isInfinite)
    }
}
