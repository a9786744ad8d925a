import CGSL
import Foundation

/// The Gauss hypergeometric function 2F1(a, b; c; z) for real arguments and z < 1, evaluated in log space.
///
/// Regions (y = 1 - z):
/// * z = 0, a = 0 or b = 0: 1. c = a or c = b: (1 - z)^(-b) or (1 - z)^(-a) exactly.
/// * z < 0: Pfaff, 2F1(a,b;c;z) = (1-z)^(-a) 2F1(a, c-b; c; z/(z-1)) (or the same with a and b exchanged,
///   whichever gives non-negative series parameters), which maps z to w = z/(z-1) in (0, 1).
/// * 0 < z <= 0.9: GSL `gsl_sf_hyperg_2F1_e` when all its parameters are >= 0 (GSL then sums the Gauss series of
///   positive terms; its documented domain is |x| < 1, with slow convergence near x = 1, which is why we stop at
///   0.9) and its error estimate is below 1e-12 relative; otherwise our own log-scaled Gauss series, on the
///   original or on the Euler-transformed function (1-z)^(c-a-b) 2F1(c-a, c-b; c; z), whichever has the faster
///   decaying terms (exponent a+b-c-1 versus c-a-b-1) and no sign changes.
/// * 0.9 < z <= 0.99: the same series if it converges within 1500 terms (it does when the terms decay like a
///   high negative power of n, as for customers with many transactions), else the linear transformation
///   z -> 1-z (Abramowitz & Stegun 15.3.6). z > 0.99: the linear transformation first (its series in 1-z
///   converge in a few terms), then the series. When d = c-a-b is within 1.25e-4 of an integer (where that formula is 0/0),
///   the function is evaluated at four values of c placed 2.5e-4 and 5e-4 either side of the integer and
///   interpolated (cubic Lagrange) at the true c: relative error ~1e-12 to ~1e-11 (the latter for 1-z ~ 1e-6).
/// * Last resort: the better series with up to 10^6 terms; NaN if that fails too (never a silent wrong value).
public enum Hypergeometric {
    /// sign * exp(logMagnitude). `sign` is +1, -1, 0 (the value is zero) or NaN (not computable).
    public struct LogValue: Sendable, Equatable, CustomStringConvertible {
        public var logMagnitude: Double
        public var sign: Double
        public init(logMagnitude: Double, sign: Double) {
            self.logMagnitude = logMagnitude
            self.sign = sign
        }
        public static let nan = LogValue(logMagnitude: .nan, sign: .nan)
        public static let one = LogValue(logMagnitude: 0, sign: 1)
        /// The value as a Double (may overflow to +-infinity when the true value exceeds Double range).
        public var value: Double { sign == 0 ? 0 : sign * exp(logMagnitude) }
        public var isValid: Bool { sign == 0 || (sign.isFinite && logMagnitude.isFinite) }
        public var description: String { "\(sign < 0 ? "-" : "")exp(\(logMagnitude))" }

        func adding(logFactor: Double) -> LogValue {
            LogValue(logMagnitude: logMagnitude + logFactor, sign: sign)
        }
        static func sum(_ u: LogValue, _ v: LogValue) -> (value: LogValue, cancellation: Double) {
            if u.sign == 0 { return (v, 1) }
            if v.sign == 0 { return (u, 1) }
            let m = max(u.logMagnitude, v.logMagnitude)
            let s = u.sign * exp(u.logMagnitude - m) + v.sign * exp(v.logMagnitude - m)
            let absSum = exp(u.logMagnitude - m) + exp(v.logMagnitude - m)
            if s == 0 { return (LogValue(logMagnitude: -.infinity, sign: 0), .infinity) }
            return (LogValue(logMagnitude: m + log(abs(s)), sign: s < 0 ? -1 : 1), absSum / abs(s))
        }
    }

    /// 2F1(a, b; c; z) as a Double (NaN outside the domain; may be +-infinity if the value overflows — use
    /// `logTwoF1` for such arguments).
    public static func twoF1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> Double {
        logTwoF1(a, b, c, z).value
    }

    /// 2F1(a, b; c; z) in log space. Domain: finite real a, b, c with c not a non-positive integer, z < 1.
    public static func logTwoF1(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> LogValue {
        guard a.isFinite, b.isFinite, c.isFinite, z.isFinite, z < 1 else { return .nan }
        if c <= 0 && c == c.rounded() { return .nan }
        if z == 0 || a == 0 || b == 0 { return .one }
        if c == a { return LogValue(logMagnitude: -b * log1p(-z), sign: 1) }
        if c == b { return LogValue(logMagnitude: -a * log1p(-z), sign: 1) }
        if z < 0 {
            let w = z / (z - 1)
            let l1mz = log1p(-z)
            // Prefer the form whose Gauss series has non-negative parameters (positive terms).
            if a >= 0 && c - b >= 0 || !(b >= 0 && c - a >= 0) {
                return positive(a, c - b, c, w).adding(logFactor: -a * l1mz)
            } else {
                return positive(c - a, b, c, w).adding(logFactor: -b * l1mz)
            }
        }
        return positive(a, b, c, z)
    }

    /// 0 < z < 1.
    static func positive(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> LogValue {
        let d = c - a - b
        let eulerLog = d * log1p(-z)
        // Candidate representations: (a', b', c, log prefactor).
        let original = (a, b, 0.0)
        let euler = (c - a, c - b, eulerLog)
        func score(_ p: (Double, Double, Double)) -> (Int, Double) {
            ((p.0 < 0 || p.1 < 0) ? 1 : 0, p.0 + p.1 - c)
        }
        let ordered = score(euler) < score(original) ? [euler, original] : [original, euler]
        if z <= 0.9 {
            for p in ordered {
                if p.0 >= 0 && p.1 >= 0 && c > 0, let g = gsl(p.0, p.1, c, z) { return g.adding(logFactor: p.2) }
                if let s = series(p.0, p.1, c, z, maxTerms: 5000) { return s.adding(logFactor: p.2) }
            }
        } else if z <= 0.99 {
            for p in ordered {
                if let s = series(p.0, p.1, c, z, maxTerms: 1500) { return s.adding(logFactor: p.2) }
            }
        } else if let r = reflect(a, b, c, z) {
            // Closest to 1 the reflected series (in powers of 1-z < 0.01) converge in a few terms.
            return r
        } else {
            for p in ordered {
                if let s = series(p.0, p.1, c, z, maxTerms: 1500) { return s.adding(logFactor: p.2) }
            }
        }
        if z <= 0.99, let r = reflect(a, b, c, z) { return r }
        for p in ordered {
            if let s = series(p.0, p.1, c, z, maxTerms: 1_000_000) { return s.adding(logFactor: p.2) }
        }
        return .nan
    }

    /// GSL's evaluation, accepted only when it reports success with a small error estimate.
    static func gsl(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> LogValue? {
        var r = gsl_sf_result(val: 0, err: 0)
        let status = gsl_sf_hyperg_2F1_e(a, b, c, z, &r)
        guard status == GSL_SUCCESS, r.val.isFinite, r.val != 0, r.err.isFinite, r.err <= 1e-12 * abs(r.val) else {
            return nil
        }
        return LogValue(logMagnitude: log(abs(r.val)), sign: r.val < 0 ? -1 : 1)
    }

    /// Gauss series sum_n (a)_n (b)_n / ((c)_n n!) z^n, log-scaled against overflow. Returns nil when it does not
    /// converge within `maxTerms` terms or loses more than 5 digits to cancellation.
    static func series(_ a: Double, _ b: Double, _ c: Double, _ z: Double, maxTerms: Int) -> LogValue? {
        var term = 1.0, sum = 1.0, absSum = 1.0, logScale = 0.0
        var n = 0.0
        var converged = false
        for _ in 0..<maxTerms {
            let cn = c + n
            if cn == 0 { return nil }
            let ratio = (a + n) * (b + n) / (cn * (n + 1)) * z
            term *= ratio
            sum += term
            absSum += abs(term)
            n += 1
            if term == 0 { converged = true; break }
            let rho = max(abs(ratio), abs(z))
            if rho < 1 && abs(term) * rho / (1 - rho) <= 1e-17 * abs(sum) { converged = true; break }
            if absSum > 1e250 {
                term *= 1e-250; sum *= 1e-250; absSum *= 1e-250
                logScale += 250 * M_LN10
            }
            if !absSum.isFinite { return nil }
        }
        guard converged, sum.isFinite, absSum <= 1e5 * abs(sum) else { return nil }
        if sum == 0 { return LogValue(logMagnitude: -.infinity, sign: 0) }
        return LogValue(logMagnitude: log(abs(sum)) + logScale, sign: sum < 0 ? -1 : 1)
    }

    /// log|Gamma(x)| and its sign; nil at poles (non-positive integers), where 1/Gamma(x) = 0.
    static func lnGamma(_ x: Double) -> (Double, Double)? {
        if x <= 0 && x == x.rounded() { return nil }
        var r = gsl_sf_result(val: 0, err: 0)
        var sgn = 0.0
        guard gsl_sf_lngamma_sgn_e(x, &r, &sgn) == GSL_SUCCESS else { return nil }
        return (r.val, sgn)
    }

    static let integerGap = 2.5e-4

    /// Linear transformation z -> 1 - z for 0.5 < z < 1.
    static func reflect(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> LogValue? {
        let d = c - a - b
        let m = d.rounded()
        let e = d - m
        if abs(e) < integerGap / 2 {
            // Near-integer d: interpolate in c from four points at distance h, 2h from the integer.
            let h = integerGap
            let nodes: [Double] = [-2 * h, -h, h, 2 * h]
            var vals: [LogValue] = []
            for o in nodes {
                guard let v = reflectGeneric(a, b, c - e + o, z) else { return nil }
                vals.append(v)
            }
            let ref = vals.map(\.logMagnitude).max()!
            var acc = 0.0
            for i in 0..<4 {
                var li = 1.0
                for j in 0..<4 where j != i { li *= (e - nodes[j]) / (nodes[i] - nodes[j]) }
                acc += li * vals[i].sign * exp(vals[i].logMagnitude - ref)
            }
            if acc == 0 || !acc.isFinite { return nil }
            return LogValue(logMagnitude: ref + log(abs(acc)), sign: acc < 0 ? -1 : 1)
        }
        return reflectGeneric(a, b, c, z)
    }

    /// A&S 15.3.6 for non-integer d = c - a - b:
    /// 2F1 = G(c)G(d)/(G(c-a)G(c-b)) 2F1(a,b;1-d;y) + y^d G(c)G(-d)/(G(a)G(b)) 2F1(c-a,c-b;1+d;y), y = 1-z.
    static func reflectGeneric(_ a: Double, _ b: Double, _ c: Double, _ z: Double) -> LogValue? {
        let d = c - a - b
        let y = 1 - z
        let logY = log(y)
        guard let gc = lnGamma(c), let gd = lnGamma(d), let gmd = lnGamma(-d) else { return nil }
        var t1 = LogValue(logMagnitude: -.infinity, sign: 0)
        if let gca = lnGamma(c - a), let gcb = lnGamma(c - b) {
            guard let s = series(a, b, 1 - d, y, maxTerms: 5000) else { return nil }
            t1 = LogValue(
                logMagnitude: gc.0 + gd.0 - gca.0 - gcb.0 + s.logMagnitude,
                sign: gc.1 * gd.1 * gca.1 * gcb.1 * s.sign)
        }
        var t2 = LogValue(logMagnitude: -.infinity, sign: 0)
        if let ga = lnGamma(a), let gb = lnGamma(b) {
            guard let s = series(c - a, c - b, 1 + d, y, maxTerms: 5000) else { return nil }
            t2 = LogValue(
                logMagnitude: d * logY + gc.0 + gmd.0 - ga.0 - gb.0 + s.logMagnitude,
                sign: gc.1 * gmd.1 * ga.1 * gb.1 * s.sign)
        }
        let (v, cancellation) = LogValue.sum(t1, t2)
        guard cancellation <= 1e6, v.isValid else { return nil }
        return v
    }
}
