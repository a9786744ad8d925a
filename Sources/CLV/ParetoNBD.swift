import CGSL
import Foundation

/// Pareto/NBD model (Schmittlein, Morrison & Colombo 1987). While active a customer buys at Poisson rate
/// lambda ~ Gamma(r, alpha); her lifetime is exponential with rate mu ~ Gamma(s, beta).
///
/// Likelihood as in Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions":
/// L = G(r+x) alpha^r beta^s / G(r) * { (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 }, where for alpha >= beta
/// A0 = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t_x)) / (alpha+t_x)^(r+s+x) - (same at T), and for
/// alpha < beta A0 = 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+t_x)) / (beta+t_x)^(r+s+x) - (same at T).
///
/// Numerically, s/(r+s+x) A0 = s [I(t_x) - I(T)] with I(t) = integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du,
/// and each I(t) is computed in log space through the Euler transform of the c = a+1 hypergeometric function,
/// 2F1(A, B; A+1; z) = (1-z)^(1-B) 2F1(1, A+1-B; A+1; z), whose series has positive, monotonically decreasing
/// terms (ratio < z). Its parameter derivatives are summed alongside (analytic gradient). For z > 0.9 (alpha and
/// beta an order of magnitude apart with small t) the series needs O(1/(1-z)) terms, so Euler's integral of the
/// same function is evaluated by double-exponential quadrature instead (value and analytic gradient in one pass,
/// 1 - z passed exactly), with the Gauss continued fraction and the general `Hypergeometric.logTwoF1` (derivatives
/// by central differences) as fallbacks should it not converge.
public struct ParetoNBD: TransactionModel, Sendable, Equatable {
    public var r: Double
    public var alpha: Double
    public var s: Double
    public var beta: Double
    /// Set when the fit ended on the s, beta ridge: the single dropout rate mu = s/beta shared by all customers
    /// (the limit model, fitted on its own; `CommonDropoutRateLimit`), with which the model then predicts.
    public var commonDropoutRate: Double?
    /// Boundary parameters reported by `fit`; predictions throw when non-empty and there is no limit model.
    public var boundary: [String]

    public init(r: Double, alpha: Double, s: Double, beta: Double, commonDropoutRate: Double? = nil, boundary: [String] = []) {
        self.r = r
        self.alpha = alpha
        self.s = s
        self.beta = beta
        self.commonDropoutRate = commonDropoutRate
        self.boundary = boundary
    }

    public static let parameterNames = ["r", "alpha", "s", "beta"]

    // MARK: likelihood

    /// log I(t) (see the type documentation) for one customer.
    func logI(x: Double, t: Double) -> Double {
        ParetoNBDKernel.logI(
            r: r, alpha: alpha, s: s, beta: beta, x: x, t: t, la: log(alpha + t), lb: log(beta + t),
            ia: 1 / (alpha + t), ib: 1 / (beta + t), grad: nil)
    }

    /// Log-likelihood of one customer.
    public func logLikelihood(x: Double, tx: Double, T: Double) -> Double {
        let logC = gsl_sf_lngamma(r + x) - gsl_sf_lngamma(r) + r * log(alpha) + s * log(beta)
        let lt1 = -(r + x) * log(alpha + T) - s * log(beta + T)
        let lA = log(s) + logI(x: x, t: tx)
        let lB = log(s) + logI(x: x, t: T)
        let m = max(lt1, lA)
        return logC + m + log(exp(lt1 - m) + exp(lA - m) - exp(lB - m))
    }

    public func logLikelihoods(_ c: CustomerSummaries) -> [Double] {
        (0..<c.count).map { logLikelihood(x: c.frequency[$0], tx: c.recency[$0], T: c.age[$0]) }
    }

    /// Total log-likelihood (the fast kernel used by `fit`).
    public func logLikelihood(_ c: CustomerSummaries) -> Double {
        ParetoNBDKernel(CompressedSummaries(c)).logLikelihood(r, alpha, s, beta, gradient: nil)
    }

    /// Total log-likelihood and its analytic gradient d LL / d (r, alpha, s, beta).
    public func logLikelihoodGradient(_ c: CustomerSummaries) -> (logLikelihood: Double, gradient: [Double]) {
        var g = [0.0, 0, 0, 0]
        let ll = g.withUnsafeMutableBufferPointer {
            ParetoNBDKernel(CompressedSummaries(c)).logLikelihood(r, alpha, s, beta, gradient: $0.baseAddress!)
        }
        return (ll, g)
    }

    // MARK: fitting (the template is `TransactionModel.fit`)

    public static let key = "paretonbd"
    public static let displayName = "Pareto/NBD"
    public static let parameterKinds: [ParameterKind] = [.shape, .scale, .shape, .scale]
    public static var ridges: [Ridge] { [CommonDropoutRateLimit.ridge] }
    /// The kernel computes its I(t) terms on every core (`ParetoNBDKernel.workers`).
    public static var evaluationUsesAllCores: Bool { true }

    public static func atRidgeLimit(_ ridge: Int, estimates: [Double], limit: [Double], boundary: [String]) -> ParetoNBD? {
        ParetoNBD(r: limit[0], alpha: limit[1], s: estimates[2], beta: estimates[3], commonDropoutRate: limit[2], boundary: boundary)
    }
    /// Fader, Hardie & Lee (2005), table 1.
    public static let publishedCDNOWSample: [String: Double] = ["r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669, "LL": -9595.0]

    public init(estimates e: [Double], boundary: [String]) {
        self.init(r: e[0], alpha: e[1], s: e[2], beta: e[3], boundary: boundary)
    }

    /// Deterministic starts: r in {0.5, 2} with alpha matching the observed purchase rate, s in {0.5, 2} with
    /// mean lifetime beta/s (for s > 1: beta/(s-1)) of 1 or 4 mean ages.
    public static func startValues(_ data: CompressedSummaries) -> [[Double]] {
        let scaleT = data.meanAge
        let rate = max(data.meanFrequency, 0.05) / scaleT
        var starts: [[Double]] = []
        for r in [0.5, 2.0] { for s in [0.5, 2.0] { for life in [1.0, 4.0] { starts.append([r, r / rate, s, s * life * scaleT]) } } }
        return starts
    }

    public static func logLikelihoodFunction(_ data: CompressedSummaries) -> LogLikelihoodFunction {
        let kernel = ParetoNBDKernel(data)
        return { p, g in kernel.logLikelihood(p[0], p[1], p[2], p[3], gradient: g) }
    }

    // MARK: predictions

    private func checkUsable(_ quantity: String) throws(ModelUndefined) {
        if let mu = commonDropoutRate {
            guard r > 0, alpha > 0, mu > 0, r.isFinite, alpha.isFinite, mu.isFinite else {
                throw ModelUndefined(quantity: quantity, reason: "limit parameters must be finite and > 0 (r=\(r), alpha=\(alpha), mu=\(mu))")
            }
            return
        }
        if !boundary.isEmpty {
            throw ModelUndefined(
                quantity: quantity,
                reason:
                    "the fitted Pareto/NBD is at a boundary of the parameter space (\(boundary.joined(separator: ", "))): the MLE is a degenerate limit of the model, so its predictions are not meaningful"
            )
        }
        guard r > 0, alpha > 0, s > 0, beta > 0, r.isFinite, alpha.isFinite, s.isFinite, beta.isFinite else {
            throw ModelUndefined(quantity: quantity, reason: "parameters must be finite and > 0 (r=\(r), alpha=\(alpha), s=\(s), beta=\(beta))")
        }
    }

    func alive(x: Double, tx: Double, T: Double) -> Double {
        if let mu = commonDropoutRate {
            guard let terms = CommonDropoutRateLimit.logTerms(k: r + x, alpha: alpha, mu: mu, tx: tx, T: T, derivatives: false) else { return .nan }
            return 1 / (1 + exp(terms.dead - terms.alive))
        }
        let lt1 = -(r + x) * log(alpha + T) - s * log(beta + T)
        let lA = log(s) + logI(x: x, t: tx)
        let lB = log(s) + logI(x: x, t: T)
        let m = max(lt1, lA)
        let e1 = exp(lt1 - m)
        return e1 / (e1 + exp(lA - m) - exp(lB - m))
    }

    /// P(alive | x, t_x, T) = (alpha+T)^-(r+x) (beta+T)^-s / {same + s [I(t_x) - I(T)]}; in the limit model
    /// e^(-mu T) (alpha+T)^-(r+x) / {same + mu J} (`CommonDropoutRateLimit`).
    public func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        try checkUsable("P(alive)")
        let v = alive(x: x, tx: tx, T: T)
        guard v.isFinite else { throw ModelUndefined(quantity: "P(alive)", reason: "quadrature failed for x=\(x), t_x=\(tx), T=\(T)") }
        return v
    }

    /// [1 - (k/(k+t))^(s-1)] / (s-1), stable through s = 1 (where it is ln(1 + t/k)).
    private func survivalIntegral(_ k: Double, _ t: Double) -> Double {
        let l = -log1p(t / k)
        let e = s - 1
        return e == 0 ? -l : -expm1(e * l) / e
    }

    /// Unconditional E[X(t)] = (r beta / alpha) [1 - (beta/(beta+t))^(s-1)] / (s-1). Finite for every s > 0 when t
    /// is finite; t = infinity requires s > 1 (expected lifetime transactions r beta / (alpha (s-1))).
    public func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double {
        let q = "E[X(t)]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN else { throw ModelUndefined(quantity: q, reason: "t = \(t) must be >= 0") }
        if let mu = commonDropoutRate {
            // E[lambda] E[min(lifetime, t)] = (r/alpha) (1 - e^(-mu t))/mu.
            return r / alpha * (t == .infinity ? 1 / mu : -expm1(-mu * t) / mu)
        }
        if t == .infinity {
            guard s > 1 else { throw ModelUndefined(quantity: q, reason: "s = \(s) <= 1: the expected lifetime is infinite, so are lifetime transactions") }
            return r * beta / (alpha * (s - 1))
        }
        return r * beta / alpha * survivalIntegral(beta, t)
    }

    /// E[Y(t) | x, t_x, T] = (r+x)(beta+T)/(alpha+T) [1 - ((beta+T)/(beta+T+t))^(s-1)]/(s-1) P(alive)
    /// (Schmittlein et al. 1987; Fader & Hardie's note). For finite t this is finite for every s > 0 (the bracket
    /// over s-1 tends to ln(1 + t/(beta+T)) at s = 1), so it is computed for s <= 1 as well (CDNOW's s = 0.61);
    /// t = infinity requires s > 1.
    public func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "E[Y(t) | x, t_x, T]"
        try checkUsable(q)
        guard t >= 0, !t.isNaN, x >= 0, tx >= 0, T >= tx else {
            throw ModelUndefined(quantity: q, reason: "need t >= 0, x >= 0, 0 <= t_x <= T (got t=\(t), x=\(x), t_x=\(tx), T=\(T))")
        }
        if t == 0 { return 0 }
        let pa = alive(x: x, tx: tx, T: T)
        if let mu = commonDropoutRate {
            let v = (r + x) / (alpha + T) * (t == .infinity ? 1 / mu : -expm1(-mu * t) / mu) * pa
            guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "quadrature failed for x=\(x), t_x=\(tx), T=\(T)") }
            return v
        }
        let pre = (r + x) * (beta + T) / (alpha + T)
        if t == .infinity {
            guard s > 1 else {
                throw ModelUndefined(quantity: q, reason: "s = \(s) <= 1: the expected remaining lifetime is infinite, so are lifetime transactions")
            }
            return pre / (s - 1) * pa
        }
        let v = pre * survivalIntegral(beta + T, t) * pa
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "numerical failure for x=\(x), t_x=\(tx), T=\(T)") }
        return v
    }

    /// P(Y(t) = n | x, t_x, T) = [n = 0] (1 - P(alive)) + P(alive) P(Y = n | alive). Given alive at T, lambda ~
    /// Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently, and the remaining lifetime is exponential, so
    /// P(Y = n | alive) = S(t) NBD(n; r+x, alpha+T, t) + integral_0^t f(u) NBD(n; r+x, alpha+T, u) du with the
    /// lifetime's survival S(t) = ((beta+T)/(beta+T+t))^s and density f(u) = s (beta+T)^s (beta+T+u)^-(s+1)
    /// (Pareto II); in the limit model S(t) = e^(-mu t), f(u) = mu e^(-mu u). The integral is computed by GSL's
    /// adaptive Gauss-Kronrod quadrature to 1e-10 relative (rather than Fader & Hardie's closed form, a sum of
    /// 2F1 terms, which cancels badly where alpha and beta are close); tested against an independent computation.
    public func conditionalProbabilityOfCount(_ n: Int, t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        let q = "P(Y(t) = n | x, t_x, T)"
        try checkUsable(q)
        try CountDistribution.checkConditionalArguments(n, t: t, x: x, tx: tx, T: T, quantity: q)
        let survival: Double
        let density: (Double) -> Double
        if let mu = commonDropoutRate {
            survival = exp(-mu * t)
            density = { u in mu * exp(-mu * u) }
        } else {
            let (s, bT) = (self.s, beta + T)
            survival = exp(-s * log1p(t / bT))
            density = { u in s / bT * exp(-(s + 1) * log1p(u / bT)) }
        }
        guard let future = CountDistribution.lifetimeNBD(n, t: t, r: r + x, alpha: alpha + T, survival: survival, density: density) else {
            throw ModelUndefined(quantity: q, reason: "the quadrature did not converge for n=\(n), x=\(x), t_x=\(tx), T=\(T)")
        }
        let v = CountDistribution.conditional(n, alive: alive(x: x, tx: tx, T: T), future: future)
        guard v.isFinite else { throw ModelUndefined(quantity: q, reason: "numerical failure for n=\(n), x=\(x), t_x=\(tx), T=\(T)") }
        return v
    }

    public func conditionalExpectedTransactions(_ t: Double, for c: CustomerSummaries) throws(ModelUndefined) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(c.count)
        for i in 0..<c.count { out.append(try conditionalExpectedTransactions(t, x: c.frequency[i], tx: c.recency[i], T: c.age[i])) }
        return out
    }
}

/// The per-pair inputs and outputs of `ParetoNBDKernel.logLikelihood`, shared by its worker threads (each
/// writes only its own pairs' slots).
private struct PairBuffers: @unchecked Sendable {
    let px: UnsafeBufferPointer<Int32>, pt: UnsafeBufferPointer<Int32>, tp: UnsafeBufferPointer<Double>
    let la: UnsafeBufferPointer<Double>, lb: UnsafeBufferPointer<Double>
    let ia: UnsafeBufferPointer<Double>, ib: UnsafeBufferPointer<Double>
    let li: UnsafeMutableBufferPointer<Double>, di: UnsafeMutableBufferPointer<Double>

    func run(_ r: Double, _ alpha: Double, _ s: Double, _ beta: Double, _ wantGrad: Bool, from: Int, to: Int) {
        for j in from..<to {
            let k = Int(pt[j])
            li[j] = ParetoNBDKernel.logI(
                r: r, alpha: alpha, s: s, beta: beta, x: Double(px[j]), t: tp[k],
                la: la[k], lb: lb[k], ia: ia[k], ib: ib[k],
                grad: wantGrad ? di.baseAddress! + 4 * j : nil)
        }
    }
}

/// Likelihood kernel over compressed summaries: I(t) is computed once per distinct (x, t) pair.
final class ParetoNBDKernel {
    static let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)

    let d: CompressedSummaries
    // Distinct (x, time index) pairs and, per triple, the pair index of (x, t_x) and (x, T).
    let pairX: [Int32], pairT: [Int32]
    let tripleTx: [Int32], tripleT: [Int32]
    private var LA: [Double], LB: [Double], IA: [Double], IB: [Double]
    private var logIv: [Double]
    private var dI: [Double]  // 4 per pair: d log I / d (r, alpha, s, beta)
    private var tabS: [Double], tabD: [Double]

    init(_ d: CompressedSummaries) {
        self.d = d
        var index: [Int64: Int32] = [:]
        var px: [Int32] = [], pt: [Int32] = []
        func pair(_ x: Int32, _ t: Int32) -> Int32 {
            let key = Int64(x) << 32 | Int64(t)
            if let i = index[key] { return i }
            let i = Int32(px.count)
            px.append(x); pt.append(t); index[key] = i
            return i
        }
        var ttx: [Int32] = [], tT: [Int32] = []
        for i in 0..<d.x.count {
            ttx.append(pair(d.x[i], d.txIndex[i]))
            tT.append(pair(d.x[i], d.TIndex[i]))
        }
        pairX = px; pairT = pt; tripleTx = ttx; tripleT = tT
        let nt = d.times.count
        LA = [Double](repeating: 0, count: nt); LB = LA; IA = LA; IB = LA
        logIv = [Double](repeating: 0, count: px.count)
        dI = [Double](repeating: 0, count: 4 * px.count)
        tabS = [Double](repeating: 0, count: d.maxX + 1); tabD = tabS
    }

    /// G(P, Q, z) = 2F1(1, P; Q; z) = sum_n (P)_n/(Q)_n z^n for 0 <= z < 1, Q > P > 0: returns log G and, when
    /// `grad`, d log G / dP, d log G / dQ, d log G / dz.
    @inline(__always)
    /// `oneMinusZ`: 1 - z when known more accurately than from z (NaN: computed from z).
    static func logG(_ P: Double, _ Q: Double, _ z: Double, grad: Bool, oneMinusZ: Double = .nan) -> (Double, Double, Double, Double) {
        if z == 0 { return (0, 0, 0, P / Q) }
        if z <= 0.9 { return logGSeries(P, Q, z, grad: grad, maxTerms: 100_000)! }
        // Above 0.9 the series still converges fast when Q >> P (terms ratio z (P+n)/(Q+n)), e.g. for customers
        // with many transactions; try it with a small budget first.
        // Within 400 terms it stops only if the 400th term T_400 = (P)_400/(Q)_400 z^400 is below its tolerance
        // times the sum, at most 1e-17 (1-z) * 1/(1-z) (terms <= z^n as P < Q): skip the attempt when that fails.
        let logT400 = gsl_sf_lngamma(P + 400) - gsl_sf_lngamma(P) - gsl_sf_lngamma(Q + 400) + gsl_sf_lngamma(Q) + 400 * log(z)
        if logT400 <= log(1e-17) + 1, let v = logGSeries(P, Q, z, grad: grad, maxTerms: 400) { return v }
        // Otherwise quadrature of Euler's integral (value and analytic gradient in one pass, a few hundred
        // integrand evaluations). Should it not converge: for 0.9 < z <= 1 - 1e-4 the Gauss continued fraction
        // (O((1-z)^-1/2) terms; derivatives by central differences of it), closer to 1 and if the fraction does
        // not converge either the general 2F1 (linear transformation z -> 1-z).
        if let v = logGQuadrature(P, Q, z, oneMinusZ.isNaN ? 1 - z : oneMinusZ, grad: grad) { return v }
        if z > 1 - 1e-4 { return logGGeneral(P, Q, z, grad: grad) }
        guard let lg = logGContinuedFraction(P, Q, z) else { return logGGeneral(P, Q, z, grad: grad) }
        guard grad else { return (lg, 0, 0, 0) }
        let hp = 1e-6 * max(1, P), hq = 1e-6 * max(1, Q), hz = 1e-6 * (1 - z)
        guard let p1 = logGContinuedFraction(P + hp, Q, z), let p0 = logGContinuedFraction(P - hp, Q, z),
            let q1 = logGContinuedFraction(P, Q + hq, z), let q0 = logGContinuedFraction(P, Q - hq, z),
            let z1 = logGContinuedFraction(P, Q, z + hz), let z0 = logGContinuedFraction(P, Q, z - hz)
        else {
            return logGGeneral(P, Q, z, grad: grad)
        }
        return (lg, (p1 - p0) / (2 * hp), (q1 - q0) / (2 * hq), (z1 - z0) / (2 * hz))
    }

    /// The series of G with its derivative sums; nil when not converged within `maxTerms` terms.
    @inline(__always)
    static func logGSeries(_ P: Double, _ Q: Double, _ z: Double, grad: Bool, maxTerms: Int) -> (Double, Double, Double, Double)? {
        var term = 1.0, sum = 1.0, n = 0.0
        let cap = Double(maxTerms)
        if !grad {
            // Term ratios increase towards z, so the tail after a term is below term * z / (1 - z).
            let tailFactor = 1e-17 * (1 - z) / z
            while n < cap {
                term *= (P + n) / (Q + n) * z
                n += 1
                sum += term
                if term <= tailFactor * sum { return (log(sum), 0, 0, 0) }
            }
            return nil
        }
        var hP = 0.0, hQ = 0.0, sP = 0.0, sQ = 0.0, sZ = 0.0
        let tol = 1e-17 * (1 - z) * (1 - z)
        while n < cap {
            let iP = 1 / (P + n), iQ = 1 / (Q + n)
            hP += iP
            hQ += iQ
            term *= (P + n) * iQ * z
            n += 1
            sum += term
            sP += term * hP
            sQ += term * hQ
            sZ += n * term
            if term * (n + hP + hQ) <= tol * sum {
                let inv = 1 / sum
                return (log(sum), sP * inv, -sQ * inv, sZ * inv / z)
            }
        }
        return nil
    }

    /// Nodes of the double-exponential map u(t) = exp(t - e^-t) and du/dt on t = j h_min, j = jMin ... jMax
    /// (h_min = 2^-(quadLevels+1)), shared by every `logGQuadrature` call.
    static let quadLevels = 8
    static let quadJMin = -8 << (quadLevels + 1), quadJMax = 12 << (quadLevels + 1)
    static let quadNodes: [(u: Double, du: Double)] = {
        let hMin = 1 / Double(1 << (quadLevels + 1))
        return (quadJMin...quadJMax).map { j in
            let t = Double(j) * hMin
            let e = exp(-t)
            let u = exp(t - e)
            return (u, u * (1 + e))
        }
    }()

    /// log G = log 2F1(1, P; Q; z) and its gradient by quadrature of Euler's integral
    /// G = (Q-1) int_0^inf exp(-(Q-1) y) ((1-z) + z e^-y)^-P dy (y = -log(1-u)), whose log-integrand is concave
    /// in y (slope from P z - (Q-1) at 0 to -(Q-1) at infinity, bend at y0 = log(z/(1-z))). The derivative
    /// integrals (weights -log D, -y, P (1-e^-y)/D with D = (1-z) + z e^-y) are summed alongside, so one pass gives
    /// value and gradient. Double-exponential trapezoidal rule y = L exp(t - e^-t) (L: the integrand's length
    /// scale) with step halving from h = 1/2 (the nodes of coarser levels are reused) until two levels agree to
    /// 1e-11 relative; the error of the finer level is then far smaller (the rule converges quadratically in the
    /// number of digits, the integrand being analytic in |Im y| < pi). nil when not converged.
    static func logGQuadrature(_ P: Double, _ Q: Double, _ z: Double, _ w: Double, grad: Bool) -> (Double, Double, Double, Double)? {
        guard w > 0, z > 0, Q > 1, P > 0 else { return nil }
        let q1 = Q - 1
        let y0 = log(z / w)
        let r0 = q1 - P * z
        let L = (r0 > 0 ? min(1 / r0, y0) : y0) + 1 / q1
        // Scale: log-integrand at the centre node t = 0 (u = 1/e).
        let yc = L * exp(-1.0)
        let ref = -q1 * yc - P * log(w + z * exp(-yc))
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        return quadNodes.withUnsafeBufferPointer { nodes -> (Double, Double, Double, Double)? in
            let j0 = -quadJMin  // buffer index of t = 0
            let jLast = quadJMax - quadJMin
            // Walks from buffer index `from` by `stride` (either sign) until two consecutive negligible terms;
            // false when it runs off the table first.
            @inline(__always) func sweep(from: Int, stride: Int) -> Bool {
                var i = from
                var small = 0
                while i >= 0 && i <= jLast {
                    let nd = nodes[i]
                    let y = L * nd.u
                    let ey = exp(-y)
                    let D = w + z * ey
                    let lD = log(D)
                    let v = exp(-q1 * y - P * lD - ref) * nd.du
                    s0 += v
                    if grad {
                        s1 += v * lD
                        s2 += v * y
                        s3 += v * (y > 0.5 ? 1 - ey : -expm1(-y)) / D
                    }
                    if !(v > 1e-18 * s0) {
                        small += 1
                        if small >= 2 { return true }
                    } else {
                        small = 0
                    }
                    i += stride
                }
                return false
            }
            var stride = 1 << quadLevels  // h = 1/2
            guard sweep(from: j0, stride: stride), sweep(from: j0 - stride, stride: -stride) else { return nil }
            var h = 0.5
            var prev = s0 * h
            for _ in 0..<quadLevels {
                stride >>= 1
                h *= 0.5
                guard sweep(from: j0 + stride, stride: 2 * stride), sweep(from: j0 - stride, stride: -2 * stride) else { return nil }
                let cur = s0 * h
                guard cur > 0, cur.isFinite else { return nil }
                if abs(cur - prev) <= 1e-11 * cur {
                    let lg = log(q1 * L) + ref + log(cur)
                    guard grad else { return (lg, 0, 0, 0) }
                    let inv = 1 / s0
                    return (lg, -s1 * inv, 1 / q1 - s2 * inv, P * s3 * inv)
                }
                prev = cur
            }
            return nil
        }
    }

    /// log 2F1(1, P; Q; z) by the continued fraction of 2F1(a+b, 1; a+1; z) with a = Q-1, b = P-Q+1 (the one
    /// behind the incomplete beta function, Numerical Recipes' betacf, evaluated by the modified Lentz method).
    /// nil when it has not converged after 20000 terms.
    static func logGContinuedFraction(_ P: Double, _ Q: Double, _ z: Double) -> Double? {
        let a = Q - 1, b = P - Q + 1
        let qab = a + b, qap = a + 1, qam = a - 1
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - qab * z / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for mi in 1..<20000 {
            let m = Double(mi), m2 = 2 * m
            var aa = m * (b - m) * z / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * z / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 3e-16 { return h > 0 && h.isFinite ? log(h) : nil }
        }
        return nil
    }

    static func logGGeneral(_ P: Double, _ Q: Double, _ z: Double, grad: Bool) -> (Double, Double, Double, Double) {
        let f = Hypergeometric.logTwoF1(1, P, Q, z)
        let lg = f.sign == 1 ? f.logMagnitude : .nan
        guard grad else { return (lg, 0, 0, 0) }
        let hp = 1e-6 * max(1, P), hq = 1e-6 * max(1, Q)
        let dP = (Hypergeometric.logTwoF1(1, P + hp, Q, z).logMagnitude - Hypergeometric.logTwoF1(1, P - hp, Q, z).logMagnitude) / (2 * hp)
        let dQ = (Hypergeometric.logTwoF1(1, P, Q + hq, z).logMagnitude - Hypergeometric.logTwoF1(1, P, Q - hq, z).logMagnitude) / (2 * hq)
        // d/dz 2F1(1,P;Q;z) = (P/Q) 2F1(2, P+1; Q+1; z)
        let f2 = Hypergeometric.logTwoF1(2, P + 1, Q + 1, z)
        let dz = P / Q * exp(f2.logMagnitude - lg)
        return (lg, dP, dQ, dz)
    }

    /// log I(t) and (optionally) its gradient wrt (r, alpha, s, beta). la = log(alpha+t), lb = log(beta+t),
    /// ia = 1/(alpha+t), ib = 1/(beta+t).
    @inline(__always)
    static func logI(
        r: Double, alpha: Double, s: Double, beta: Double, x: Double, t: Double,
        la: Double, lb: Double, ia: Double, ib: Double, grad: UnsafeMutablePointer<Double>?
    ) -> Double {
        let A = r + s + x
        let Q = A + 1
        let iA = 1 / A
        let rx = r + x
        if alpha >= beta {
            // Case alpha >= beta: B = s+1, z = (alpha-beta)/(alpha+t), Euler series parameter P = r+x.
            let z = (alpha - beta) * ia
            let (lg, gP, gQ, gz) = logG(rx, Q, z, grad: grad != nil, oneMinusZ: (beta + t) * ia)
            if let g = grad {
                g[0] = -la - iA + gP + gQ
                g[1] = -rx * ia + gz * ia * (1 - z)
                g[2] = -lb - iA + gQ
                g[3] = -s * ib - gz * ia
            }
            return -rx * la - s * lb - log(A) + lg
        } else {
            // Case alpha < beta: B = r+x, z = (beta-alpha)/(beta+t), P = s+1.
            let z = (beta - alpha) * ib
            let (lg, gP, gQ, gz) = logG(s + 1, Q, z, grad: grad != nil, oneMinusZ: (alpha + t) * ib)
            if let g = grad {
                g[0] = -la - iA + gQ
                g[1] = -rx * ia + ia - gz * ib
                g[2] = -lb - iA + gP + gQ
                g[3] = -s * ib - ib + gz * ib * (1 - z)
            }
            return -rx * la - s * lb + (la - lb) - log(A) + lg
        }
    }

    func logLikelihood(_ r: Double, _ alpha: Double, _ s: Double, _ beta: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        let nt = d.times.count
        let wantGrad = gradient != nil
        d.times.withUnsafeBufferPointer { tp in
            LA.withUnsafeMutableBufferPointer { la in
                LB.withUnsafeMutableBufferPointer { lb in
                    IA.withUnsafeMutableBufferPointer { ia in
                        IB.withUnsafeMutableBufferPointer { ib in
                            for k in 0..<nt {
                                let va = alpha + tp[k], vb = beta + tp[k]
                                la[k] = log(va); lb[k] = log(vb); ia[k] = 1 / va; ib[k] = 1 / vb
                            }
                        }
                    }
                }
            }
        }
        if d.maxX > 0 {
            var acc = 0.0, dacc = 0.0
            for x in 1...d.maxX {
                let k = Double(x - 1)
                acc += log(r + k)
                dacc += 1 / (r + k)
                tabS[x] = acc; tabD[x] = dacc
            }
        }
        let np = pairX.count
        pairX.withUnsafeBufferPointer { px in
            pairT.withUnsafeBufferPointer { pt in
                d.times.withUnsafeBufferPointer { tp in
                    LA.withUnsafeBufferPointer { la in
                        LB.withUnsafeBufferPointer { lb in
                            IA.withUnsafeBufferPointer { ia in
                                IB.withUnsafeBufferPointer { ib in
                                    logIv.withUnsafeMutableBufferPointer { li in
                                        dI.withUnsafeMutableBufferPointer { di in
                                            // Each pair's I(t) is independent of the others (and written to its own slots), so the pairs are
                                            // spread over the cores when there are enough of them; the results do not depend on the split.
                                            let buffers = PairBuffers(px: px, pt: pt, tp: tp, la: la, lb: lb, ia: ia, ib: ib, li: li, di: di)
                                            let chunks = np >= 512 ? min(ParetoNBDKernel.workers, np / 256) : 1
                                            if chunks <= 1 {
                                                buffers.run(r, alpha, s, beta, wantGrad, from: 0, to: np)
                                            } else {
                                                DispatchQueue.concurrentPerform(iterations: 4 * chunks) { c in
                                                    buffers.run(r, alpha, s, beta, wantGrad, from: c * np / (4 * chunks), to: (c + 1) * np / (4 * chunks))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let lalpha = log(alpha), lbeta = log(beta), ls = log(s)
        var total = 0.0
        var g0 = 0.0, g1 = 0.0, g2 = 0.0, g3 = 0.0
        let n = d.x.count
        d.x.withUnsafeBufferPointer { xs in
            d.TIndex.withUnsafeBufferPointer { iT in
                d.weight.withUnsafeBufferPointer { w in
                    tripleTx.withUnsafeBufferPointer { ptx in
                        tripleT.withUnsafeBufferPointer { pT in
                            LA.withUnsafeBufferPointer { la in
                                LB.withUnsafeBufferPointer { lb in
                                    IA.withUnsafeBufferPointer { ia in
                                        IB.withUnsafeBufferPointer { ib in
                                            logIv.withUnsafeBufferPointer { li in
                                                dI.withUnsafeBufferPointer { di in
                                                    tabS.withUnsafeBufferPointer { S in
                                                        tabD.withUnsafeBufferPointer { D in
                                                            for i in 0..<n {
                                                                let x = Int(xs[i])
                                                                let rx = r + Double(x)
                                                                let kT = Int(iT[i])
                                                                let jA = Int(ptx[i]), jB = Int(pT[i])
                                                                let logC = S[x] + r * lalpha + s * lbeta
                                                                let lt1 = -rx * la[kT] - s * lb[kT]
                                                                let lA = ls + li[jA]
                                                                let lB = ls + li[jB]
                                                                let m = max(lt1, lA)
                                                                let e1 = exp(lt1 - m), eA = exp(lA - m), eB = jA == jB ? eA : exp(lB - m)
                                                                let L = e1 + eA - eB
                                                                let wi = w[i]
                                                                total += wi * (logC + m + log(L))
                                                                if wantGrad {
                                                                    let f = wi / L
                                                                    let dA = di.baseAddress! + 4 * jA, dB = di.baseAddress! + 4 * jB
                                                                    g0 += wi * (D[x] + lalpha) + f * (e1 * (-la[kT]) + eA * dA[0] - eB * dB[0])
                                                                    g1 += wi * (r / alpha) + f * (e1 * (-rx * ia[kT]) + eA * dA[1] - eB * dB[1])
                                                                    g2 += wi * lbeta + f * (e1 * (-lb[kT]) + eA * (dA[2] + 1 / s) - eB * (dB[2] + 1 / s))
                                                                    g3 += wi * (s / beta) + f * (e1 * (-s * ib[kT]) + eA * dA[3] - eB * dB[3])
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let g = gradient { g[0] = g0; g[1] = g1; g[2] = g2; g[3] = g3 }
        return total
    }
}
