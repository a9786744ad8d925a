import CGSL
import Foundation

/// Distributions of transaction counts shared by the models' predictive distributions P(X = n).
///
/// The conditional predictive distribution of the count in (T, T + t] is, for every buy-till-you-die model here,
/// P(Y = n | x, t_x, T) = [n = 0] (1 - P(alive)) + P(alive) P(Y = n | alive at T), because a customer inactive
/// at T buys nothing more, and given that she is alive at T the posterior of her rates is again of the prior's
/// family (Fader, Hardie & Lee 2006, "Deriving the conditional PMF of the BG/NBD model"; the same argument for
/// MBG/NBD and Pareto/NBD). What differs between models is `P(Y = n | alive)`, computed by the functions below.
enum CountDistribution {
    /// log NBD(n; r, alpha, t) = log [G(r+n) / (G(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n]: the count of a
    /// Poisson process with rate lambda ~ Gamma(r, alpha) over a period of length t (never dropping out).
    static func logNBD(_ n: Int, r: Double, alpha: Double, t: Double) -> Double {
        if t == 0 { return n == 0 ? 0 : -.infinity }
        let nn = Double(n)
        let head = gsl_sf_lngamma(r + nn) - gsl_sf_lngamma(r) - gsl_sf_lngamma(nn + 1)
        return head - r * log1p(t / alpha) + (n == 0 ? 0 : nn * (log(t) - log(alpha + t)))
    }

    /// P(N >= n) for N ~ NBD(r, alpha, t): the regularized incomplete beta I_z(n, r) with z = t/(alpha+t)
    /// (GSL), which stays accurate where 1 - sum_{j<n} NBD(j) would cancel.
    static func nbdTail(_ n: Int, r: Double, alpha: Double, t: Double) -> Double {
        if n <= 0 { return 1 }
        if t == 0 { return 0 }
        var res = gsl_sf_result(val: 0, err: 0)
        guard gsl_sf_beta_inc_e(Double(n), r, t / (alpha + t), &res) == GSL_SUCCESS else { return .nan }
        return res.val
    }

    /// P(Y(t) = n | alive at the start) when purchases follow a Poisson process with rate lambda ~
    /// Gamma(r, alpha) and after each purchase the customer drops out with probability p ~ Beta(a, b) (the BG/NBD
    /// process; FHL 2006 note, and lifetimes' `probability_of_n_purchases_up_to_time` for the unconditional case):
    /// B(a, b+n)/B(a, b) NBD(n; r, alpha, t) + [n > 0] B(a+1, b+n-1)/B(a, b) P(N(t) >= n).
    /// The first term: n purchases, no dropout after any of them, no further purchase; the second: the n-th
    /// purchase happened by t and she dropped out right after it.
    static func betaGeometricNBD(_ n: Int, t: Double, r: Double, alpha: Double, a: Double, b: Double) -> Double {
        let nn = Double(n)
        let lnBab = gsl_sf_lnbeta(a, b)
        var p = exp(gsl_sf_lnbeta(a, b + nn) - lnBab + logNBD(n, r: r, alpha: alpha, t: t))
        if n > 0 {
            p += exp(gsl_sf_lnbeta(a + 1, b + nn - 1) - lnBab) * nbdTail(n, r: r, alpha: alpha, t: t)
        }
        return p
    }

    /// The same process with a single dropout probability p for every customer (the limit of Beta(a, b) when a and b
    /// grow with a/(a+b) = p fixed): (1-p)^n NBD(n) + [n > 0] p (1-p)^(n-1) P(N(t) >= n).
    static func geometricNBD(_ n: Int, t: Double, r: Double, alpha: Double, p: Double) -> Double {
        let nn = Double(n)
        var v = exp(nn * log1p(-p) + logNBD(n, r: r, alpha: alpha, t: t))
        if n > 0 { v += p * exp((nn - 1) * log1p(-p)) * nbdTail(n, r: r, alpha: alpha, t: t) }
        return v
    }

    /// P(Y(t) = n | alive at the start) when purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha)
    /// until an independent exponential lifetime with survival `survival(t)` and density `density(u)` ends:
    /// survival(t) NBD(n; t) + integral_0^t density(u) NBD(n; u) du. The integral (over a finite interval, of a
    /// smooth bounded function) is computed by GSL's adaptive Gauss-Kronrod rule (QAG, 31 points, relative
    /// tolerance 1e-10); nil when it does not reach that tolerance.
    static func lifetimeNBD(
        _ n: Int, t: Double, r: Double, alpha: Double, survival: Double, density: @escaping (Double) -> Double
    ) -> Double? {
        let atEnd = survival * exp(logNBD(n, r: r, alpha: alpha, t: t))
        guard t > 0 else { return atEnd }
        guard let dead = integrate(0, t, relativeTolerance: 1e-10, { u in density(u) * exp(logNBD(n, r: r, alpha: alpha, t: u)) }) else {
            return nil
        }
        return atEnd + dead
    }

    /// The beta-geometric process's count (BG/NBD, MBG/NBD): with Beta(a, b) dropout, or with the single dropout
    /// probability of the ridge's limit model when `commonDropout` is set.
    static func betaDropout(_ n: Int, t: Double, r: Double, alpha: Double, a: Double, b: Double, commonDropout: Double?) -> Double {
        commonDropout.map { geometricNBD(n, t: t, r: r, alpha: alpha, p: $0) } ?? betaGeometricNBD(n, t: t, r: r, alpha: alpha, a: a, b: b)
    }

    /// The arguments every model's conditional count distribution needs: n >= 0, finite t >= 0, x >= 0, 0 <= t_x <= T.
    static func checkConditionalArguments(_ n: Int, t: Double, x: Double, tx: Double, T: Double, quantity: String) throws(ModelUndefined) {
        guard n >= 0, t >= 0, t.isFinite, x >= 0, tx >= 0, T >= tx else {
            throw ModelUndefined(quantity: quantity, reason: "need n >= 0, finite t >= 0, x >= 0, 0 <= t_x <= T")
        }
    }

    /// The conditional predictive probability from P(alive) and P(Y = n | alive) (see the type's documentation).
    static func conditional(_ n: Int, alive: Double, future: Double) -> Double {
        n == 0 ? (1 - alive) + alive * future : alive * future
    }
}

private final class IntegrandBox {
    let f: (Double) -> Double
    init(_ f: @escaping (Double) -> Double) { self.f = f }
}

/// integral_lower^upper f(u) du by GSL's QAG (31-point Gauss-Kronrod, adaptive bisection up to 200 intervals) to
/// the relative tolerance given (no absolute tolerance); nil when GSL reports failure or the value is not finite.
func integrate(_ lower: Double, _ upper: Double, relativeTolerance: Double, _ f: @escaping (Double) -> Double) -> Double? {
    let box = IntegrandBox(f)
    let limit = 200
    guard let ws = gsl_integration_workspace_alloc(limit) else { return nil }
    defer { gsl_integration_workspace_free(ws) }
    var fn = gsl_function(
        function: { u, params in Unmanaged<IntegrandBox>.fromOpaque(params!).takeUnretainedValue().f(u) },
        params: Unmanaged.passUnretained(box).toOpaque())
    var result = 0.0, err = 0.0
    let status = withExtendedLifetime(box) {
        gsl_integration_qag(&fn, lower, upper, 0, relativeTolerance, limit, Int32(GSL_INTEG_GAUSS31), ws, &result, &err)
    }
    guard status == GSL_SUCCESS, result.isFinite else { return nil }
    return result
}
