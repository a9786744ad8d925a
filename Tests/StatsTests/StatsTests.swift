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
