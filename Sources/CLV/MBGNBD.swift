import CGSL
import Foundation

/// MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models for
/// customer base analysis", International Journal of Research in Marketing 24(3); lifetimes'
/// `ModifiedBetaGeoFitter`). As BG/NBD — purchases at Poisson rate lambda ~ Gamma(r, alpha), dropout with
/// probability p ~ Beta(a, b) — except that the customer may also drop out right after her first purchase (at
/// time 0), so one with no repeat purchase is not certainly alive: P(alive | x = 0) < 1.
///
/// Individual likelihood: (1-p)^(x+1) lambda^x e^(-lambda T) + p (1-p)^x lambda^x e^(-lambda t_x) (for x = 0
/// the second term is p: she dropped out at 0). Integrated over the mixing distributions:
/// L = G(r+x) alpha^r / G(r) * B(a, b+x+1)/B(a, b) * [(alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x)].
public struct MBGNBD: TransactionModel, Sendable, Equatable {
    public var r: Double
    public var alpha: Double
    public var a: Double
    public var b: Double
    /// Set when the fit ended on the a, b ridge: the single dropout probability a/(a+b) shared by all
    /// customers, with which the model then predicts (see `BetaDropoutLimit`).
    public var commonDropoutProbability: Double?
    /// Boundary parameters reported by `fit`; predictions throw when non-empty and there is no limit to use.
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

    /// Log-likelihood of one customer: ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x+1) - ln B(a, b)
    /// + ln((alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x)).
    public func logLikelihood(x: Double, tx: Double, T: Double) -> Double {
        let a1 = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(alpha)
        let a2 = gsl_sf_lnbeta(a, b + x + 1) - gsl_sf_lnbeta(a, b)
        let e3 = -(r + x) * log(alpha + T)
        let e4 = log(a) - log(b + x) - (r + x) * log(alpha + tx)
        let m = max(e3, e4)
        return a1 + a2 + m + log(exp(e3 - m) + exp(e4 - m))
    }

    public func logLikelihoods(_ s: CustomerSummaries) -> [Double] {
        (0..<s.count).map { logLikelihood(x: s.frequency[$0], tx: s.recency[$0], T: s.age[$0]) }
    }

    /// Total log-likelihood (the kernel used by `fit`).
    public func logLikelihood(_ s: CustomerSummaries) -> Double {
        MBGNBDKernel(CompressedSummaries(s)).logLikelihood(r, alpha, a, b, gradient: nil)
    }

    /// Total log-likelihood and its analytic gradient d LL / d (r, alpha, a, b).
    public func logLikelihoodGradient(_ s: CustomerSummaries) -> (logLikelihood: Double, gradient: [Double]) {
        var g = [0.0, 0, 0, 0]
        let ll = g.withUnsafeMutableBufferPointer { MBGNBDKernel(CompressedSummaries(s)).logLikelihood(r, alpha, a, b, gradient: $0.baseAddress!) }
        return (ll, g)
    }

    // MARK: fitting (the template is `TransactionModel.fit`)

    public static let key = "mbgnbd"
    public static let displayName = "MBG/NBD"
    public static let parameterKinds: [ParameterKind] = [.shape, .scale, .shape, .shape]
    public static var ridges: [Ridge] { [BetaDropoutLimit.ridge(modified: true)] }

    public init(estimates e: [Double], boundary: [String]) {
        self.init(r: e[0], alpha: e[1], a: e[2], b: e[3], boundary: boundary)
    }

    public static func atRidgeLimit(_ ridge: Int, estimates: [Double], limit: [Double], boundary: [String]) -> MBGNBD? {
        MBGNBD(r: limit[0], alpha: limit[1], a: estimates[2], b: estimates[3], commonDropoutProbability: limit[2], boundary: boundary)
    }

    /// Deterministic starts as BG/NBD's: r in {0.25, 1} with alpha matching the observed purchase rate, a in
    /// {0.5, 2}, b in {2, 8}.
    public static func startValues(_ data: CompressedSummaries) -> [[Double]] {
        BGNBD.startValues(data)
    }

    public static func logLikelihoodFunction(_ data: CompressedSummaries) -> LogLikelihoodFunction {
        let kernel = MBGNBDKernel(data)
        return { p, g in kernel.logLikelihood(p[0], p[1], p[2], p[3], gradient: g) }
    }

    // MARK: predictions

    private func checkUsable(_ quantity: String) throws(ModelUndefined) {
        if !boundary.isEmpty && commonDropoutProbability == nil {
            throw ModelUndefined(
                quantity: quantity,
                reason:
                    "the fitted MBG/NBD is at a boundary of the parameter space (\(boundary.joined(separator: ", "))): the MLE is a degenerate limit of the model, so its predictions are not meaningful"
            )
        }
        guard r > 0, alpha > 0, r.isFinite, alpha.isFinite else {
            throw ModelUndefined(quantity: quantity, reason: "parameters must be finite and > 0 (r=\(r), alpha=\(alpha))")
        }
        if let p = commonDropoutProbability {
            guard p > 0, p < 1 else { throw ModelUndefined(quantity: quantity, reason: "the common dropout probability \(p) is not in (0, 1)") }
        } else {
            guard a > 0, b > 0, a.isFinite, b.isFinite else {
                throw ModelUndefined(quantity: quantity, reason: "parameters must be finite and > 0 (a=\(a), b=\(b))")
            }
        }
    }

    /// P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), below 1 for x = 0 too; with a
    /// common dropout probability p: 1 / (1 + p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x)).
    public func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        try checkUsable("P(alive)")
        return alive(x: x, tx: tx, T: T)
    }

    func alive(x: Double, tx: Double, T: Double) -> Double {
        let odds = commonDropoutProbability.map { log($0) - log1p(-$0) } ?? (log(a) - log(b + x))
        return 1 / (1 + exp(odds + (r + x) * (log(alpha + T) - log(alpha + tx))))
    }

    /// Unconditional E[X(t)] for a new customer (Batislam et al. 2007):
    /// b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))], the BG/NBD expectation times the
    /// probability b/(a+b) of surviving time 0, with b+1 for b. Valid for a < 1 too (analytic continuation);
    /// a = 1 is a removable singularity. t = infinity: b/(a-1) when a > 1. With a common dropout probability p:
    /// (1-p)/p [1 - (alpha/(alpha+p t))^r].
    public func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double {
        let q = "E[X(t)]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN else { throw ModelUndefined(quantity: q, reason: "t = \(t) must be >= 0") }
        if t == 0 { return 0 }
        if let p = commonDropoutProbability {
            if t == .infinity { return (1 - p) / p }
            return (1 - p) / p * (-expm1(-r * log1p(p * t / alpha)))
        }
        if t == .infinity {
            guard a > 1 else { throw ModelUndefined(quantity: q, reason: "a = \(a) <= 1: the expected number of lifetime transactions is infinite") }
            return b / (a - 1)
        }
        let (r, alpha, b) = (self.r, self.alpha, self.b)
        let v = nearOne(a) { a in
            let lf = Hypergeometric.logTwoF1(r, b + 1, a + b, t / (alpha + t))
            let inner = lf.logMagnitude - r * log1p(t / alpha)
            return b / (a - 1) * (-expm1(inner)) * (lf.sign == 1 ? 1 : .nan)
        }
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "2F1 evaluation failed for r=\(r), b+1=\(b + 1), c=\(a + b), z=\(t / (alpha + t))") }
        return v
    }

    /// E[Y(t) | x, t_x, T] = (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]
    /// P(alive): given alive at T, lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x+1), and the future is the BG/NBD
    /// process (BG/NBD's eq. 10 with b+1 for b). t = infinity needs a > 1. With a common p:
    /// (1/p) [1 - ((alpha+T)/(alpha+T+p t))^(r+x)] P(alive).
    public func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "E[Y(t) | x, t_x, T]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN, x >= 0, tx >= 0, T >= tx else {
            throw ModelUndefined(quantity: q, reason: "need t >= 0, x >= 0, 0 <= t_x <= T (got t=\(t), x=\(x), t_x=\(tx), T=\(T))")
        }
        if t == 0 { return 0 }
        let pAlive = alive(x: x, tx: tx, T: T)
        if let p = commonDropoutProbability {
            if t == .infinity { return pAlive / p }
            return pAlive / p * (-expm1(-(r + x) * log1p(p * t / (alpha + T))))
        }
        if t == .infinity {
            guard a > 1 else { throw ModelUndefined(quantity: q, reason: "a = \(a) <= 1: the expected number of lifetime transactions is infinite") }
            return (a + b + x) / (a - 1) * pAlive
        }
        let (r, alpha, b) = (self.r, self.alpha, self.b)
        let v = nearOne(a) { a in
            let lf = Hypergeometric.logTwoF1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
            let inner = lf.logMagnitude - (r + x) * log1p(t / (alpha + T))
            return (a + b + x) / (a - 1) * (-expm1(inner)) * (lf.sign == 1 ? 1 : .nan)
        }
        guard v.isFinite else {
            throw ModelUndefined(quantity: q, reason: "2F1 evaluation failed for a=\(r + x), b=\(b + x + 1), c=\(a + b + x), z=\(t / (alpha + T + t))")
        }
        return v * pAlive
    }

    /// P(X(t) = n) for a new customer: [n = 0] a/(a+b) (dropped out at time 0) + b/(a+b) times the BG/NBD
    /// process's probability with b+1 for b; this equals lifetimes' ModifiedBetaGeoFitter
    /// `probability_of_n_purchases_up_to_time`: B(a, b+1+n)/B(a, b) NBD(n) + B(a+1, b+n)/B(a, b) P(N(t) >= n).
    public func probabilityOfCount(_ n: Int, t: Double) throws(ModelUndefined) -> Double {
        try checkUsable("P(X(t) = n)")
        guard n >= 0, t >= 0, t.isFinite else { throw ModelUndefined(quantity: "P(X(t) = n)", reason: "need n >= 0 and finite t >= 0") }
        if let p = commonDropoutProbability {
            return (n == 0 ? p : 0) + (1 - p) * CountDistribution.geometricNBD(n, t: t, r: r, alpha: alpha, p: p)
        }
        let survive0 = b / (a + b)
        return (n == 0 ? 1 - survive0 : 0) + survive0 * CountDistribution.betaGeometricNBD(n, t: t, r: r, alpha: alpha, a: a, b: b + 1)
    }

    /// P(Y(t) = n | x, t_x, T) = [n = 0] (1 - P(alive)) + P(alive) P(Y = n | alive), the latter the BG/NBD
    /// process's with lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x+1) (FHL's conditional-PMF note, with b+1 for b).
    public func conditionalProbabilityOfCount(_ n: Int, t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "P(Y(t) = n | x, t_x, T)"
        try checkUsable(q)
        try CountDistribution.checkConditionalArguments(n, t: t, x: x, tx: tx, T: T, quantity: q)
        let future = CountDistribution.betaDropout(
            n, t: t, r: r + x, alpha: alpha + T, a: a, b: b + x + 1, commonDropout: commonDropoutProbability)
        let v = CountDistribution.conditional(n, alive: alive(x: x, tx: tx, T: T), future: future)
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "numerical failure for n=\(n), x=\(x), t_x=\(tx), T=\(T)") }
        return v
    }
}

/// The MBG/NBD likelihood over compressed summaries, with per-evaluation tables over x.
final class MBGNBDKernel {
    let d: CompressedSummaries
    private var logAT: [Double], invAT: [Double]
    // Per x = 0...maxX: sum_{k<x} ln(r+k) and 1/(r+k); ln B(a, b+x+1) - ln B(a, b) and its a, b derivatives.
    private var tabS: [Double], tabD: [Double], tabB: [Double], tabBa: [Double], tabBb: [Double]

    init(_ d: CompressedSummaries) {
        self.d = d
        logAT = [Double](repeating: 0, count: d.times.count)
        invAT = logAT
        tabS = [Double](repeating: 0, count: d.maxX + 1)
        tabD = tabS; tabB = tabS; tabBa = tabS; tabBb = tabS
    }

    func logLikelihood(_ r: Double, _ alpha: Double, _ a: Double, _ b: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        for k in d.times.indices {
            let v = alpha + d.times[k]
            logAT[k] = log(v)
            invAT[k] = 1 / v
        }
        var s = 0.0, dr = 0.0
        // B(a, b+x+1)/B(a, b) = prod_{k=0}^{x} (b+k)/(a+b+k).
        var lb = 0.0, lba = 0.0, lbb = 0.0
        let ab = a + b
        for x in 0...d.maxX {
            let k = Double(x)
            if x > 0 {
                s += log(r + k - 1)
                dr += 1 / (r + k - 1)
            }
            lb += log(b + k) - log(ab + k)
            lba -= 1 / (ab + k)
            lbb += 1 / (b + k) - 1 / (ab + k)
            tabS[x] = s; tabD[x] = dr; tabB[x] = lb; tabBa[x] = lba; tabBb[x] = lbb
        }
        let la = log(a)
        var total = 0.0, wsum = 0.0
        var gr = 0.0, gal = 0.0, ga = 0.0, gb = 0.0
        for i in d.x.indices {
            let x = Int(d.x[i])
            let wi = d.weight[i]
            let jT = Int(d.TIndex[i]), jx = Int(d.txIndex[i])
            let xd = Double(x)
            let rx = r + xd
            wsum += wi
            let e3 = -rx * logAT[jT]
            let e4 = la - log(b + xd) - rx * logAT[jx]
            let m = max(e3, e4)
            let u3 = exp(e3 - m), u4 = exp(e4 - m)
            let sum = u3 + u4
            total += wi * (tabS[x] + tabB[x] + m + log(sum))
            if gradient != nil {
                let p3 = u3 / sum, p4 = u4 / sum
                gr += wi * (tabD[x] - p3 * logAT[jT] - p4 * logAT[jx])
                gal -= wi * rx * (p3 * invAT[jT] + p4 * invAT[jx])
                ga += wi * (tabBa[x] + p4 / a)
                gb += wi * (tabBb[x] - p4 / (b + xd))
            }
        }
        let lalpha = log(alpha)
        total += wsum * r * lalpha
        if let g = gradient {
            g[0] = gr + wsum * lalpha; g[1] = gal + wsum * r / alpha; g[2] = ga; g[3] = gb
        }
        return total
    }
}
