import CGSL
import Foundation

/// Count, mean and sample variance of a sample.
public struct Moments: Sendable, Equatable {
    public var n: Int
    public var mean: Double
    public var variance: Double

    public init(n: Int, mean: Double, variance: Double) {
        self.n = n
        self.mean = mean
        self.variance = variance
    }

    /// Two-pass computation (accurate for large n).
    public init<C: Collection>(_ values: C) where C.Element == Double {
        n = values.count
        guard n > 0 else {
            mean = .nan
            variance = .nan
            return
        }
        var s = 0.0
        for v in values { s += v }
        let m = s / Double(n)
        var ss = 0.0, comp = 0.0
        for v in values {
            let d = v - m
            ss += d * d
            comp += d
        }
        mean = m
        variance = n > 1 ? (ss - comp * comp / Double(n)) / Double(n - 1) : .nan
    }

    public var sd: Double { variance.squareRoot() }
    public var standardError: Double { (variance / Double(n)).squareRoot() }
}

public struct Interval: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public init(_ lower: Double, _ upper: Double) {
        self.lower = lower
        self.upper = upper
    }
    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
}

/// A comparison of a treated group with a control group on one outcome.
public struct Comparison: Sendable, Equatable {
    /// Treated mean minus control mean.
    public var difference: Double
    public var differenceCI: Interval
    /// Difference divided by the control mean.
    public var relative: Double
    public var relativeCI: Interval
    /// z (two-proportion test) or t (Welch) statistic.
    public var statistic: Double
    /// Degrees of freedom (Welch) or infinity (z test).
    public var degreesOfFreedom: Double
    public var pValue: Double
}

public enum Inference {
    /// Wilson score interval for a proportion.
    public static func wilson(successes: Double, n: Double, level: Double = 0.95) -> Interval {
        guard n > 0 else { return Interval(.nan, .nan) }
        let z = Normal.quantile(1 - (1 - level) / 2)
        let p = successes / n
        let denom = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denom
        let half = z * ((p * (1 - p) / n + z * z / (4 * n * n)).squareRoot()) / denom
        return Interval(centre - half, centre + half)
    }

    /// t interval for a mean.
    public static func meanInterval(_ m: Moments, level: Double = 0.95) -> Interval {
        guard m.n > 1 else { return Interval(.nan, .nan) }
        let t = StudentT.quantile(1 - (1 - level) / 2, df: Double(m.n - 1))
        let half = t * m.standardError
        return Interval(m.mean - half, m.mean + half)
    }

    /// Relative lift t/c − 1 with a delta-method interval, using standard errors of both means.
    static func relative(treated: Double, seTreated: Double, control: Double, seControl: Double, z: Double) -> (Double, Interval) {
        guard control != 0 else { return (.nan, Interval(.nan, .nan)) }
        let r = treated / control - 1
        let se =
            ((seTreated * seTreated) / (control * control)
            + (treated * treated * seControl * seControl) / (control * control * control * control)).squareRoot()
        return (r, Interval(r - z * se, r + z * se))
    }

    /// Two-proportion comparison: pooled z test for the p-value, unpooled Wald interval for the
    /// difference (the usual pairing in A/B analysis).
    public static func twoProportion(
        successesTreated x1: Double, nTreated n1: Double,
        successesControl x0: Double, nControl n0: Double,
        level: Double = 0.95
    ) -> Comparison {
        let p1 = x1 / n1, p0 = x0 / n0
        let pooled = (x1 + x0) / (n1 + n0)
        let sePooled = (pooled * (1 - pooled) * (1 / n1 + 1 / n0)).squareRoot()
        let zStat = sePooled > 0 ? (p1 - p0) / sePooled : 0
        let z = Normal.quantile(1 - (1 - level) / 2)
        let se1 = (p1 * (1 - p1) / n1).squareRoot(), se0 = (p0 * (1 - p0) / n0).squareRoot()
        let se = (se1 * se1 + se0 * se0).squareRoot()
        let d = p1 - p0
        let (r, rCI) = relative(treated: p1, seTreated: se1, control: p0, seControl: se0, z: z)
        return Comparison(
            difference: d, differenceCI: Interval(d - z * se, d + z * se),
            relative: r, relativeCI: rCI, statistic: zStat,
            degreesOfFreedom: .infinity, pValue: sePooled > 0 ? Normal.twoSidedP(zStat) : 1)
    }

    /// Welch's unequal-variance t test and interval for a difference in means.
    public static func welch(treated t: Moments, control c: Moments, level: Double = 0.95) -> Comparison {
        let v1 = t.variance / Double(t.n), v0 = c.variance / Double(c.n)
        let se = (v1 + v0).squareRoot()
        let df = (v1 + v0) * (v1 + v0) / (v1 * v1 / Double(t.n - 1) + v0 * v0 / Double(c.n - 1))
        let d = t.mean - c.mean
        let stat = d / se
        let q = StudentT.quantile(1 - (1 - level) / 2, df: df)
        let z = Normal.quantile(1 - (1 - level) / 2)
        let (r, rCI) = relative(treated: t.mean, seTreated: v1.squareRoot(), control: c.mean, seControl: v0.squareRoot(), z: z)
        return Comparison(
            difference: d, differenceCI: Interval(d - q * se, d + q * se),
            relative: r, relativeCI: rCI, statistic: stat,
            degreesOfFreedom: df, pValue: StudentT.twoSidedP(stat, df: df))
    }

    /// Fisher's exact test of a 2×2 table [[a, b], [c, d]] (rows: groups, columns: outcome yes/no),
    /// two-sided as in R's `fisher.test` and `scipy.stats.fisher_exact`: the probability, under the
    /// hypergeometric distribution of `a` given the margins, of every table no more likely than the
    /// observed one. "No more likely" allows a relative tolerance of 1e-7 (R's), so tables whose
    /// probability equals the observed one up to rounding count. The odds ratio is the sample one,
    /// a·d / (b·c) (infinite when b·c = 0 < a·d, NaN when a row or column is empty; p = 1 then).
    public static func fisherExact(a: Int, b: Int, c: Int, d: Int) -> (oddsRatio: Double, pValue: Double) {
        precondition(a >= 0 && b >= 0 && c >= 0 && d >= 0, "fisherExact: counts must be non-negative")
        let row0 = a + b, row1 = c + d, col0 = a + c
        guard row0 > 0, row1 > 0, col0 > 0, b + d > 0 else { return (.nan, 1) }
        let oddsRatio = b > 0 && c > 0 ? Double(a) * Double(d) / (Double(b) * Double(c)) : .infinity
        func pmf(_ k: Int) -> Double { gsl_ran_hypergeometric_pdf(UInt32(k), UInt32(row0), UInt32(row1), UInt32(col0)) }
        let observed = pmf(a) * (1 + 1e-7)
        var p = 0.0
        for k in max(0, col0 - row1)...min(col0, row0) {
            let q = pmf(k)
            if q <= observed { p += q }
        }
        return (oddsRatio, min(p, 1))
    }

    /// Pearson chi-square goodness-of-fit test of counts against expected shares.
    public static func chiSquareGoodnessOfFit(observed: [Double], expectedShares: [Double]) -> (statistic: Double, df: Double, pValue: Double) {
        precondition(observed.count == expectedShares.count && observed.count > 1)
        let total = observed.reduce(0, +)
        let shareSum = expectedShares.reduce(0, +)
        var stat = 0.0
        for (o, s) in zip(observed, expectedShares) {
            let e = total * s / shareSum
            stat += (o - e) * (o - e) / e
        }
        let df = Double(observed.count - 1)
        return (stat, df, ChiSquare.sf(stat, df: df))
    }

    /// Pearson correlation of two equally long samples; NaN when either is constant.
    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "pearson: samples differ in length")
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices {
            let u = a[i] - ma, v = b[i] - mb
            sab += u * v; saa += u * u; sbb += v * v
        }
        guard saa > 0, sbb > 0 else { return .nan }
        return sab / (saa * sbb).squareRoot()
    }

    /// Spearman rank correlation: the Pearson correlation of the ranks, tied values sharing their mean rank;
    /// NaN when either sample is constant.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "spearman: samples differ in length")
        return pearson(ranks(a), ranks(b))
    }

    /// Ranks 1...n, ties given the mean of the ranks they span.
    public static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] || (v[$0] == v[$1] && $0 < $1) }
        var out = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { out[order[k]] = rank }
            i = j + 1
        }
        return out
    }

    /// Standardized mean difference (treated − control) / sqrt((var_t + var_c) / 2).
    public static func standardizedMeanDifference(treated: Moments, control: Moments) -> Double {
        let pooled = ((treated.variance + control.variance) / 2).squareRoot()
        return pooled > 0 ? (treated.mean - control.mean) / pooled : 0
    }
}

/// Power calculations for two-sided tests of a difference between two independent groups.
public enum Power {
    /// Minimum detectable absolute difference for group sizes n1, n0 and outcome standard
    /// deviations sd1, sd0: (z_{1−α/2} + z_{power}) · sqrt(sd1²/n1 + sd0²/n0).
    public static func minimumDetectableEffect(
        sd1: Double, n1: Double, sd0: Double, n0: Double,
        alpha: Double = 0.05, power: Double = 0.8
    ) -> Double {
        (Normal.quantile(1 - alpha / 2) + Normal.quantile(power)) * (sd1 * sd1 / n1 + sd0 * sd0 / n0).squareRoot()
    }

    /// Sample size per group to detect a change of proportion from p0 to p1 (equal groups).
    public static func sampleSizePerGroup(p0: Double, p1: Double, alpha: Double = 0.05, power: Double = 0.8) -> Double {
        let z = Normal.quantile(1 - alpha / 2) + Normal.quantile(power)
        let variance = p0 * (1 - p0) + p1 * (1 - p1)
        let d = p1 - p0
        return d == 0 ? .infinity : (z * z * variance / (d * d)).rounded(.up)
    }

    /// Sample size per group (equal groups) to detect an absolute difference `difference` between
    /// two means whose outcomes have standard deviations sd1 and sd0:
    /// n = (z_{1−α/2} + z_{power})² · (sd1² + sd0²) / difference², rounded up. Each arm keeps its own
    /// spread; using one arm's spread for both understates n when the other arm varies more.
    public static func sampleSizePerGroup(sd1: Double, sd0: Double, difference: Double, alpha: Double = 0.05, power: Double = 0.8) -> Double {
        guard difference != 0 else { return .infinity }
        let z = Normal.quantile(1 - alpha / 2) + Normal.quantile(power)
        return (z * z * (sd1 * sd1 + sd0 * sd0) / (difference * difference)).rounded(.up)
    }

    /// Achieved power of a two-sided z test for a true difference `effect` with standard error `se`.
    public static func power(effect: Double, standardError se: Double, alpha: Double = 0.05) -> Double {
        let z = Normal.quantile(1 - alpha / 2)
        let shift = abs(effect) / se
        return Normal.cdf(shift - z) + Normal.cdf(-shift - z)
    }
}
