import CCLVKernel
import CGSL
import Foundation

/// BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative to the
/// Pareto/NBD model", Marketing Science 24(2)). While active, a customer buys at Poisson rate lambda ~
/// Gamma(r, alpha); after each purchase she drops out with probability p ~ Beta(a, b).
public struct BGNBD: TransactionModel, Sendable, Equatable {
    public var r: Double
    public var alpha: Double
    public var a: Double
    public var b: Double
    /// Set when the fit ended on the a, b ridge: the single dropout probability a/(a+b) shared by all customers
    /// (the limit model, fitted on its own; `BetaDropoutLimit`), with which the model then predicts.
    public var commonDropoutProbability: Double?
    /// Boundary parameters reported by `fit` (empty for a model built from parameters). When non-empty (and there
    /// is no limit model to predict with) every prediction throws `ModelUndefined`, because the MLE is a degenerate
    /// limit of the model.
    public var boundary: [String]

    public init(r: Double, alpha: Double, a: Double, b: Double, commonDropoutProbability: Double? = nil, boundary: [String] = []) {
        self.r = r
        self.alpha = alpha
        self.a = a
        self.b = b
        self.commonDropoutProbability = commonDropoutProbability
        self.boundary = boundary
    }

    public static let parameterNames = ["r", "alpha", "a", "b"]

    // MARK: likelihood

    /// Log-likelihood of one customer, FHL (2005) eq. (6) in log-sum-exp form:
    /// LL = ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
    ///      + ln( (alpha+T)^-(r+x) + [x > 0] a/(b+x-1) (alpha+t_x)^-(r+x) ).
    public func logLikelihood(x: Double, tx: Double, T: Double) -> Double {
        let a1 = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(alpha)
        let a2 = gsl_sf_lngamma(a + b) + gsl_sf_lngamma(b + x) - gsl_sf_lngamma(b) - gsl_sf_lngamma(a + b + x)
        let e3 = -(r + x) * log(alpha + T)
        guard x > 0 else { return a1 + a2 + e3 }
        let e4 = log(a) - log(b + x - 1) - (r + x) * log(alpha + tx)
        let m = max(e3, e4)
        return a1 + a2 + m + log(exp(e3 - m) + exp(e4 - m))
    }

    /// Per-customer log-likelihoods.
    public func logLikelihoods(_ s: CustomerSummaries) -> [Double] {
        (0..<s.count).map { logLikelihood(x: s.frequency[$0], tx: s.recency[$0], T: s.age[$0]) }
    }

    /// Total log-likelihood (the fast kernel used by `fit`).
    public func logLikelihood(_ s: CustomerSummaries) -> Double {
        BGNBDKernel(CompressedSummaries(s)).logLikelihood(r, alpha, a, b, gradient: nil)
    }

    /// Total log-likelihood and its gradient d LL / d (r, alpha, a, b), analytic.
    public func logLikelihoodGradient(_ s: CustomerSummaries) -> (logLikelihood: Double, gradient: [Double]) {
        var g = [0.0, 0, 0, 0]
        let ll = g.withUnsafeMutableBufferPointer {
            BGNBDKernel(CompressedSummaries(s)).logLikelihood(r, alpha, a, b, gradient: $0.baseAddress!)
        }
        return (ll, g)
    }

    // MARK: fitting (the template is `TransactionModel.fit`)

    public static let key = "bgnbd"
    public static let displayName = "BG/NBD"
    public static let parameterKinds: [ParameterKind] = [.shape, .scale, .shape, .shape]
    public static var ridges: [Ridge] { [BetaDropoutLimit.ridge(modified: false)] }

    public static func atRidgeLimit(_ ridge: Int, estimates: [Double], limit: [Double], boundary: [String]) -> BGNBD? {
        BGNBD(r: limit[0], alpha: limit[1], a: estimates[2], b: estimates[3], commonDropoutProbability: limit[2], boundary: boundary)
    }
    /// Fader, Hardie & Lee (2005), table 1.
    public static let publishedCDNOWSample: [String: Double] = ["r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "LL": -9582.4]

    public init(estimates e: [Double], boundary: [String]) {
        self.init(r: e[0], alpha: e[1], a: e[2], b: e[3], boundary: boundary)
    }

    /// Deterministic starts: r in {0.25, 1} with alpha matching the observed purchase rate (r/alpha = mean x /
    /// mean T when nobody drops out), a in {0.5, 2}, b in {2, 8}.
    public static func startValues(_ data: CompressedSummaries) -> [[Double]] {
        let rate = max(data.meanFrequency, 0.05) / data.meanAge
        var starts: [[Double]] = []
        for r in [0.25, 1.0] { for a in [0.5, 2.0] { for b in [2.0, 8.0] { starts.append([r, r / rate, a, b]) } } }
        return starts
    }

    public static func logLikelihoodFunction(_ data: CompressedSummaries) -> LogLikelihoodFunction {
        let kernel = BGNBDKernel(data)
        return { p, g in kernel.logLikelihood(p[0], p[1], p[2], p[3], gradient: g) }
    }

    // MARK: predictions

    private func checkUsable(_ quantity: String) throws(ModelUndefined) {
        if let p = commonDropoutProbability {
            guard r > 0, alpha > 0, r.isFinite, alpha.isFinite, p > 0, p < 1 else {
                throw ModelUndefined(quantity: quantity, reason: "limit parameters must be r, alpha > 0 and 0 < p < 1 (r=\(r), alpha=\(alpha), p=\(p))")
            }
            return
        }
        if !boundary.isEmpty {
            throw ModelUndefined(
                quantity: quantity,
                reason:
                    "the fitted BG/NBD is at a boundary of the parameter space (\(boundary.joined(separator: ", "))): the MLE is a degenerate limit of the model, so its predictions are not meaningful"
            )
        }
        guard r > 0, alpha > 0, a > 0, b > 0, r.isFinite, alpha.isFinite, a.isFinite, b.isFinite else {
            throw ModelUndefined(quantity: quantity, reason: "parameters must be finite and > 0 (r=\(r), alpha=\(alpha), a=\(a), b=\(b))")
        }
    }

    /// P(customer still active at T | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
    public func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        try checkUsable("P(alive)")
        return alive(x: x, tx: tx, T: T)
    }

    func alive(x: Double, tx: Double, T: Double) -> Double {
        guard x > 0 else { return 1 }
        let odds = commonDropoutProbability.map { log($0) - log1p(-$0) } ?? (log(a) - log(b + x - 1))
        let lr = odds + (r + x) * (log(alpha + T) - log(alpha + tx))
        return 1 / (1 + exp(lr))
    }

    /// Unconditional E[X(t)] for a new customer (FHL 2005 eq. 7):
    /// (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].
    /// Finite t: defined when a + b > 1 (the 2F1 needs c = a+b-1 > 0); valid for a < 1 too (analytic
    /// continuation; the point a = 1 is a removable singularity, evaluated by interpolation). t = infinity:
    /// (a+b-1)/(a-1) when a > 1, else infinite (throws).
    public func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double {
        let q = "E[X(t)]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN else { throw ModelUndefined(quantity: q, reason: "t = \(t) must be >= 0") }
        if t == 0 { return 0 }
        if let p = commonDropoutProbability {
            // E[(1 - e^(-lambda p t)) / p] over lambda ~ Gamma(r, alpha).
            return t == .infinity ? 1 / p : -expm1(-r * log1p(p * t / alpha)) / p
        }
        if t == .infinity {
            guard a > 1 else { throw ModelUndefined(quantity: q, reason: "a = \(a) <= 1: the expected number of lifetime transactions E[1/p] is infinite") }
            return (a + b - 1) / (a - 1)
        }
        guard a + b > 1 else {
            throw ModelUndefined(quantity: q, reason: "a + b = \(a + b) <= 1: the closed form needs 2F1(r, b; a+b-1; z) with a+b-1 > 0")
        }
        let (r, alpha, b) = (self.r, self.alpha, self.b)
        let v = nearOne(a) { a in
            let z = t / (alpha + t)
            let lf = Hypergeometric.logTwoF1(r, b, a + b - 1, z)
            let inner = lf.logMagnitude - r * log1p(t / alpha)
            return (a + b - 1) / (a - 1) * (-expm1(inner)) * (lf.sign == 1 ? 1 : .nan)
        }
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "2F1 evaluation failed for r=\(r), b=\(b), c=\(a + b - 1), z=\(t / (alpha + t))") }
        return v
    }

    /// E[Y(t) | x, t_x, T]: expected transactions in (T, T+t] (FHL 2005 eq. 10):
    /// (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] * P(alive).
    /// Finite t: defined whenever a+b+x-1 > 0 (always for x > 0), including a < 1 (FHL's own CDNOW example has
    /// a = 0.79); a = 1 is a removable singularity handled by interpolation. t = infinity: requires a > 1
    /// (otherwise the expected number of lifetime transactions is infinite) and equals (a+b+x-1)/(a-1) P(alive).
    public func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "E[Y(t) | x, t_x, T]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN, x >= 0, tx >= 0, T >= tx else {
            throw ModelUndefined(quantity: q, reason: "need t >= 0, x >= 0, 0 <= t_x <= T (got t=\(t), x=\(x), t_x=\(tx), T=\(T))")
        }
        if t == 0 { return 0 }
        let pAlive = alive(x: x, tx: tx, T: T)
        if let p = commonDropoutProbability {
            return pAlive * (t == .infinity ? 1 / p : -expm1(-(r + x) * log1p(p * t / (alpha + T))) / p)
        }
        if t == .infinity {
            guard a > 1 else { throw ModelUndefined(quantity: q, reason: "a = \(a) <= 1: the expected number of lifetime transactions is infinite") }
            return (a + b + x - 1) / (a - 1) * pAlive
        }
        guard a + b + x - 1 > 0 else {
            throw ModelUndefined(quantity: q, reason: "a + b + x - 1 = \(a + b + x - 1) <= 0: the closed form needs 2F1(r+x, b+x; a+b+x-1; z) with a+b+x-1 > 0")
        }
        let (r, alpha, b) = (self.r, self.alpha, self.b)
        let v = nearOne(a) { a in
            let z = t / (alpha + T + t)
            let lf = Hypergeometric.logTwoF1(r + x, b + x, a + b + x - 1, z)
            let inner = lf.logMagnitude - (r + x) * log1p(t / (alpha + T))
            return (a + b + x - 1) / (a - 1) * (-expm1(inner)) * (lf.sign == 1 ? 1 : .nan)
        }
        guard v.isFinite else {
            throw ModelUndefined(quantity: q, reason: "2F1 evaluation failed for a=\(r + x), b=\(b + x), c=\(a + b + x - 1), z=\(t / (alpha + T + t))")
        }
        return v * pAlive
    }

    /// P(X(t) = n) for a new customer (FHL 2005 eq. 8; lifetimes' `probability_of_n_purchases_up_to_time`):
    /// B(a, b+n)/B(a, b) NBD(n; r, alpha, t) + [n > 0] B(a+1, b+n-1)/B(a, b) P(N(t) >= n).
    public func probabilityOfCount(_ n: Int, t: Double) throws(ModelUndefined) -> Double {
        try checkUsable("P(X(t) = n)")
        guard n >= 0, t >= 0, t.isFinite else { throw ModelUndefined(quantity: "P(X(t) = n)", reason: "need n >= 0 and finite t >= 0") }
        return CountDistribution.betaDropout(n, t: t, r: r, alpha: alpha, a: a, b: b, commonDropout: commonDropoutProbability)
    }

    /// P(Y(t) = n | x, t_x, T) = [n = 0] (1 - P(alive)) + P(alive) P(Y = n | alive), the latter with lambda ~
    /// Gamma(r+x, alpha+T) and p ~ Beta(a, b+x) (Fader, Hardie & Lee, "Deriving the conditional PMF of the BG/NBD
    /// model", 2006 note).
    public func conditionalProbabilityOfCount(_ n: Int, t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "P(Y(t) = n | x, t_x, T)"
        try checkUsable(q)
        try CountDistribution.checkConditionalArguments(n, t: t, x: x, tx: tx, T: T, quantity: q)
        let future = CountDistribution.betaDropout(
            n, t: t, r: r + x, alpha: alpha + T, a: a, b: b + x, commonDropout: commonDropoutProbability)
        let v = CountDistribution.conditional(n, alive: alive(x: x, tx: tx, T: T), future: future)
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "numerical failure for n=\(n), x=\(x), t_x=\(tx), T=\(T)") }
        return v
    }

    /// Conditional expectations for every customer of `s` over the next `t` time units.
    public func conditionalExpectedTransactions(_ t: Double, for s: CustomerSummaries) throws(ModelUndefined) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(s.count)
        for i in 0..<s.count { out.append(try conditionalExpectedTransactions(t, x: s.frequency[i], tx: s.recency[i], T: s.age[i])) }
        return out
    }
}

/// Evaluates f(a), a function with a removable singularity at a = 1 of the form g(a)/(a-1), by cubic
/// interpolation from a = 1 +- h, 1 +- 2h when |a - 1| < h (h = 1e-3): interpolation error O(h^4) ~ 1e-12,
/// cancellation in each node ~ eps/h ~ 1e-13.
func nearOne(_ a: Double, _ f: (Double) -> Double) -> Double {
    let h = 1e-3
    let e = a - 1
    guard abs(e) < h else { return f(a) }
    let nodes: [Double] = [-2 * h, -h, h, 2 * h]
    var acc = 0.0
    for i in 0..<4 {
        var li = 1.0
        for j in 0..<4 where j != i { li *= (e - nodes[j]) / (nodes[i] - nodes[j]) }
        acc += li * f(1 + nodes[i])
    }
    return acc
}

/// The BG/NBD likelihood over compressed summaries, with per-evaluation tables so that the per-customer work is
/// two table lookups, one exp and one log. The work is done in C (`clv_bgnbd_log_likelihood` in
/// Sources/CCLVKernel): per-evaluation tables (ln(alpha + t) per distinct time; per x, sum_{k<x} ln(r+k),
/// sum 1/(r+k), ln B(a,b+x) - ln B(a,b) and its a, b derivatives, ln(b+x-1), 1/(b+x-1)), then passes over the
/// rows with x > 0 (the exponents, their exp, log(1 + e)), then one pass that adds every row's terms in row order.
/// The exp and log passes run four at a time through glibc's libmvec where the CPU has AVX2 (libm otherwise): the
/// results then differ from libm's in the last bits, but are the same for every run and thread count. The kernel
/// owns its copy of the data and its scratch (a kernel is used by one thread at a time; `MLEProblem.copy` makes
/// one per thread).
final class BGNBDKernel {
    let d: CompressedSummaries
    private let kernel: OpaquePointer

    init(_ d: CompressedSummaries) {
        self.d = d
        guard
            let k = clv_bgnbd_create(
                d.x.count, d.x, d.txIndex, d.TIndex, d.weight, d.times.count, d.times, d.maxX)
        else { fatalError("BGNBDKernel: out of memory, or the rows are not sorted by x") }
        kernel = k
    }

    deinit { clv_bgnbd_destroy(kernel) }

    func logLikelihood(_ r: Double, _ alpha: Double, _ a: Double, _ b: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        clv_bgnbd_log_likelihood(kernel, r, alpha, a, b, gradient)
    }
}
