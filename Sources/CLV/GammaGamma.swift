import CGSL
import Foundation
import Stats

/// Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves
/// for customer base analysis", JMR 42(4); Fader & Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).
/// Transaction values z ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, independent of the
/// transaction process. Only customers with x > 0 repeat transactions (and their mean value m) enter.
public struct GammaGamma: Sendable, Equatable {
    public var p: Double
    public var q: Double
    public var gamma: Double
    public var boundary: [String]

    public init(p: Double, q: Double, gamma: Double, boundary: [String] = []) {
        self.p = p
        self.q = q
        self.gamma = gamma
        self.boundary = boundary
    }

    public static let parameterNames = ["p", "q", "gamma"]

    /// Log density of the observed mean m of x transactions:
    /// ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m + px ln x - (px+q) ln(gamma + m x).
    public func logLikelihood(x: Double, m: Double) -> Double {
        let px = p * x
        return gsl_sf_lngamma(px + q) - gsl_sf_lngamma(px) - gsl_sf_lngamma(q) + q * log(gamma) + (px - 1) * log(m) + px * log(x)
            - (px + q) * log(gamma + m * x)
    }

    /// Total log-likelihood over customers with x > 0 (needs monetary values for them).
    public func logLikelihood(_ c: CustomerSummaries) throws -> Double {
        let d = try GammaGammaData(c)
        return GammaGammaKernel.logLikelihood(d, p, q, gamma, gradient: nil)
    }

    /// Total log-likelihood and its analytic gradient d LL / d (p, q, gamma).
    public func logLikelihoodGradient(_ c: CustomerSummaries) throws -> (logLikelihood: Double, gradient: [Double]) {
        let d = try GammaGammaData(c)
        var g = [0.0, 0, 0]
        let ll = g.withUnsafeMutableBufferPointer { GammaGammaKernel.logLikelihood(d, p, q, gamma, gradient: $0.baseAddress!) }
        return (ll, g)
    }

    /// Maximum-likelihood fit on the customers with x > 0.
    public static func fit(_ c: CustomerSummaries) throws -> (GammaGamma, FitResult) {
        let d = try GammaGammaData(c)
        let scaleM = d.meanM
        let prob = MLEProblem(
            model: "Gamma-Gamma", names: parameterNames, kinds: [.shape, .shape, .scale],
            scales: [1, 1, scaleM], n: d.x.count,
            makeEvaluate: {
                let kernel = GammaGammaKernel(d)
                return { pp, g in kernel.logLikelihood(pp[0], pp[1], pp[2], gradient: g) }
            })
        prob.ridges = [
            Ridge(
                indices: [1, 2], meaning: "the Gamma distribution of the customers' spend scale collapses to a single value shared by all customers",
                ratio: { ("gamma/q", $0[2] / $0[1]) })
        ]
        // Starts: p in {1, 5}, q in {2, 5}, gamma such that the implied mean spend p gamma/(q-1) equals the mean of m.
        var starts: [[Double]] = []
        for p in [1.0, 5.0] { for q in [2.0, 5.0] { starts.append([p, q, scaleM * (q - 1) / p]) } }
        let result = try Optimizer.fit(prob, candidates: starts, dataScales: [1, 1, scaleM])
        let e = result.estimates
        return (GammaGamma(p: e[0], q: e[1], gamma: e[2], boundary: result.boundary), result)
    }

    /// E[M | x, m] = (gamma + m x) p / (p x + q - 1): a weighted mean of the population mean p gamma/(q-1) and
    /// the customer's observed mean m. For x = 0 (m unused) this is the population mean. Needs q > 1.
    public func conditionalExpectedValue(x: Double, m: Double) throws(ModelUndefined) -> Double {
        let quantity = "E[M | x, m]"
        if !boundary.isEmpty {
            throw ModelUndefined(
                quantity: quantity,
                reason:
                    "the fitted Gamma-Gamma is at a boundary of the parameter space (\(boundary.joined(separator: ", "))), so its predictions are not meaningful"
            )
        }
        guard q > 1 else {
            throw ModelUndefined(quantity: quantity, reason: "q = \(q) <= 1: the mean transaction value p gamma/(q-1) is infinite")
        }
        guard p > 0, gamma > 0, p.isFinite, q.isFinite, gamma.isFinite else {
            throw ModelUndefined(quantity: quantity, reason: "parameters must be finite and > 0 (p=\(p), q=\(q), gamma=\(gamma))")
        }
        if x == 0 { return p * gamma / (q - 1) }
        guard x > 0, m.isFinite, m > 0 else {
            throw ModelUndefined(quantity: quantity, reason: "need x >= 0 and, for x > 0, a mean value m > 0 (got x=\(x), m=\(m))")
        }
        return (gamma + m * x) * p / (p * x + q - 1)
    }

    /// Expected values for every customer of `c` (population mean for x = 0).
    public func conditionalExpectedValues(_ c: CustomerSummaries) throws(ModelUndefined) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(c.count)
        for i in 0..<c.count { out.append(try conditionalExpectedValue(x: c.frequency[i], m: c.frequency[i] > 0 ? c.monetary[i] : .nan)) }
        return out
    }

    /// Result of the check of the model's independence assumption.
    public struct CorrelationCheck: Sendable, Equatable {
        /// Pearson correlation between x and m over customers with x > 0.
        public var correlation: Double
        /// Two-sided p-value of H0: correlation = 0 (t = r sqrt((n-2)/(1-r^2)), Student t with n-2 df).
        public var pValue: Double
        /// Spearman rank correlation between x and m over the same customers (robust to the heavy tail of m, which
        /// can hide a monotone dependence from Pearson's coefficient), and its two-sided p-value by the same t
        /// approximation.
        public var rankCorrelation: Double
        public var rankPValue: Double
        public var n: Int
    }

    /// The Gamma-Gamma model assumes spend per transaction is independent of purchase frequency. A clearly
    /// non-zero correlation between x and m (customers with x > 0) argues against using it.
    public static func frequencyValueCorrelation(_ c: CustomerSummaries) throws -> CorrelationCheck {
        let d = try GammaGammaData(c)
        let n = d.x.count
        guard n >= 3 else { throw CLVError.invalidInput("need at least 3 customers with repeat transactions for the correlation check") }
        let r = Inference.pearson(d.x, d.m)
        let rho = Inference.spearman(d.x, d.m)
        let df = Double(n - 2)
        func pValue(_ r: Double) -> Double {
            if r.isNaN { return .nan }
            if abs(r) >= 1 { return 0 }
            return StudentT.twoSidedP(r * (df / (1 - r * r)).squareRoot(), df: df)
        }
        return CorrelationCheck(correlation: r, pValue: pValue(r), rankCorrelation: rho, rankPValue: pValue(rho), n: n)
    }
}

struct GammaGammaData: Sendable {
    let x: [Double]
    let m: [Double]
    let lnX: [Double]
    let lnM: [Double]
    let meanM: Double
    /// The distinct values of x (in order of first appearance) and, per customer, the position of its x there:
    /// the log-gamma and digamma terms depend on a customer only through x, so each evaluation computes them once
    /// per distinct x (a few dozen values) instead of once per customer.
    let distinctX: [Double]
    let xIndex: [Int32]

    init(_ c: CustomerSummaries) throws {
        var xs: [Double] = [], ms: [Double] = []
        for i in 0..<c.count where c.frequency[i] > 0 {
            let m = c.monetary[i]
            guard m.isFinite, m > 0 else {
                throw CLVError.invalidInput("Gamma-Gamma needs the mean transaction value m > 0 of every customer with x > 0; customer \(i) has m = \(m)")
            }
            xs.append(c.frequency[i]); ms.append(m)
        }
        guard !xs.isEmpty else { throw CLVError.invalidInput("Gamma-Gamma needs customers with repeat transactions (x > 0); there are none") }
        x = xs
        m = ms
        lnX = xs.map { log($0) }
        lnM = ms.map { log($0) }
        meanM = ms.reduce(0, +) / Double(ms.count)
        var position: [UInt64: Int32] = [:]
        var distinct: [Double] = []
        var index: [Int32] = []
        index.reserveCapacity(xs.count)
        for v in xs {
            if let j = position[v.bitPattern] {
                index.append(j)
            } else {
                let j = Int32(distinct.count)
                position[v.bitPattern] = j
                distinct.append(v)
                index.append(j)
            }
        }
        distinctX = distinct
        xIndex = index
    }
}

/// The Gamma-Gamma likelihood. Per evaluation, ln G(px+q), ln G(px) and (with the gradient) their digammas are
/// tabulated over the distinct x; the per-customer sum then adds exactly the terms, in exactly the order, of the
/// per-customer formula, so the total is bit for bit the same as computing every term per customer.
final class GammaGammaKernel {
    let d: GammaGammaData
    private var lgPQ: [Double], lgP: [Double], psiPQ: [Double], psiP: [Double]

    init(_ d: GammaGammaData) {
        self.d = d
        lgPQ = [Double](repeating: 0, count: d.distinctX.count)
        lgP = lgPQ
        psiPQ = lgPQ
        psiP = lgPQ
    }

    static func logLikelihood(_ d: GammaGammaData, _ p: Double, _ q: Double, _ gamma: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        GammaGammaKernel(d).logLikelihood(p, q, gamma, gradient: gradient)
    }

    func logLikelihood(_ p: Double, _ q: Double, _ gamma: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        let lgq = gsl_sf_lngamma(q)
        let lgam = log(gamma)
        let wantGrad = gradient != nil
        let psiQ = wantGrad ? gsl_sf_psi(q) : 0
        for j in d.distinctX.indices {
            let px = p * d.distinctX[j]
            lgPQ[j] = gsl_sf_lngamma(px + q)
            lgP[j] = gsl_sf_lngamma(px)
            if wantGrad {
                psiPQ[j] = gsl_sf_psi(px + q)
                psiP[j] = gsl_sf_psi(px)
            }
        }
        var total = 0.0, gp = 0.0, gq = 0.0, gg = 0.0
        let n = d.x.count
        d.x.withUnsafeBufferPointer { xs in
            d.m.withUnsafeBufferPointer { ms in
                d.lnX.withUnsafeBufferPointer { lnX in
                    d.lnM.withUnsafeBufferPointer { lnM in
                        d.xIndex.withUnsafeBufferPointer { xi in
                            lgPQ.withUnsafeBufferPointer { LPQ in
                                lgP.withUnsafeBufferPointer { LP in
                                    psiPQ.withUnsafeBufferPointer { PPQ in
                                        psiP.withUnsafeBufferPointer { PP in
                                            for i in 0..<n {
                                                let x = xs[i], m = ms[i]
                                                let j = Int(xi[i])
                                                let px = p * x
                                                let lden = log(gamma + m * x)
                                                total += LPQ[j] - LP[j] - lgq + q * lgam + (px - 1) * lnM[i] + px * lnX[i] - (px + q) * lden
                                                if wantGrad {
                                                    let psiPQ = PPQ[j]
                                                    gp += x * (psiPQ - PP[j] + lnM[i] + lnX[i] - lden)
                                                    gq += psiPQ - psiQ + lgam - lden
                                                    gg += q / gamma - (px + q) / (gamma + m * x)
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
        if let g = gradient { g[0] = gp; g[1] = gq; g[2] = gg }
        return total
    }
}
