import CGSL
import Foundation

/// The limit of BG/NBD and MBG/NBD on their a, b ridge: Beta(a, b) -> the point mass at p = a/(a+b), one dropout
/// probability shared by all customers (purchase rates still Gamma(r, alpha)). Per customer:
/// L = G(r+x) alpha^r / G(r) [(1-p)^(x+m) (alpha+T)^-(r+x) + [x+m > 0] p (1-p)^(x+m-1) (alpha+t_x)^-(r+x)],
/// m = 0 for BG/NBD, 1 for MBG/NBD (dropout possible at time 0).
enum BetaDropoutLimit {
    static func ridge(modified: Bool) -> Ridge {
        Ridge(
            indices: [2, 3], meaning: "the Beta distribution of dropout probabilities collapses to a single probability shared by all customers",
            ratio: { ("a/(a+b)", $0[2] / ($0[2] + $0[3])) },
            limit: RidgeLimit(
                description: "one dropout probability p shared by all customers", parameterNames: ["r", "alpha", "p"],
                parameterKinds: [.shape, .scale, .shape], shared: [0, 1, nil], start: { [$0[0], $0[1], $0[2] / ($0[2] + $0[3])] },
                logLikelihoodFunction: { data in { p, g in logLikelihood(data, r: p[0], alpha: p[1], p: p[2], modified: modified, gradient: g) } }))
    }

    /// For x = 0...maxX: ln(G(r+x)/G(r)) = sum of ln(r+k), k < x, and its derivative in r, sum of 1/(r+k) (both limit models use it).
    static func gammaRatioTables(r: Double, maxX: Int) -> (logRatio: [Double], derivative: [Double]) {
        var S = [Double](repeating: 0, count: maxX + 1), D = S
        if maxX > 0 {
            for x in 1...maxX {
                S[x] = S[x - 1] + log(r + Double(x - 1))
                D[x] = D[x - 1] + 1 / (r + Double(x - 1))
            }
        }
        return (S, D)
    }

    /// Total log-likelihood over `d` and, when `gradient` is given, d LL / d (r, alpha, p).
    static func logLikelihood(
        _ d: CompressedSummaries, r: Double, alpha: Double, p: Double, modified: Bool, gradient: UnsafeMutablePointer<Double>?
    ) -> Double {
        guard p > 0, p < 1, r > 0, alpha > 0 else { return .nan }
        let m = modified ? 1.0 : 0.0
        let lq = log1p(-p), lp = log(p)
        let (S, D) = gammaRatioTables(r: r, maxX: d.maxX)
        let lalpha = log(alpha)
        var total = 0.0, gr = 0.0, gal = 0.0, gp = 0.0
        for i in d.x.indices {
            let x = Int(d.x[i])
            let xd = Double(x), w = d.weight[i]
            let k = r + xd
            let T = d.times[Int(d.TIndex[i])], tx = d.times[Int(d.txIndex[i])]
            let lT = log(alpha + T), lx = log(alpha + tx)
            let e3 = (xd + m) * lq - k * lT
            var p3 = 1.0, p4 = 0.0
            var term = e3
            if xd + m > 0 {
                let e4 = lp + (xd + m - 1) * lq - k * lx
                let mx = max(e3, e4)
                let u3 = exp(e3 - mx), u4 = exp(e4 - mx)
                term = mx + log(u3 + u4)
                p3 = u3 / (u3 + u4)
                p4 = u4 / (u3 + u4)
            }
            total += w * (S[x] + r * lalpha + term)
            if gradient != nil {
                gr += w * (D[x] + lalpha - p3 * lT - p4 * lx)
                gal += w * (r / alpha - k * (p3 / (alpha + T) + p4 / (alpha + tx)))
                gp += w * (-p3 * (xd + m) / (1 - p) + p4 * (1 / p - (xd + m - 1) / (1 - p)))
            }
        }
        if let g = gradient { g[0] = gr; g[1] = gal; g[2] = gp }
        return total
    }
}

/// The limit of Pareto/NBD on its s, beta ridge: Gamma(s, beta) -> the point mass at mu = s/beta, one dropout rate
/// shared by all customers (purchase rates still Gamma(r, alpha)): NBD purchases over an exponential lifetime
/// with rate mu. Per customer:
/// L = G(r+x) alpha^r / G(r) [e^(-mu T) (alpha+T)^-(r+x) + mu J], J = integral_{t_x}^T e^(-mu u) (alpha+u)^-(r+x) du,
/// the second term the probability of dying at some u in (t_x, T] with no purchase after t_x. J and its
/// derivatives (integrands times -log(alpha+u), -(r+x)/(alpha+u) and -u) are computed by GSL's adaptive
/// Gauss-Kronrod quadrature (`integrate`), each scaled by e^(-mu t_x) (alpha+t_x)^-(r+x) so the integrands lie in (0, 1].
enum CommonDropoutRateLimit {
    static var ridge: Ridge {
        Ridge(
            indices: [2, 3], meaning: "the Gamma distribution of dropout rates collapses to a single rate shared by all customers",
            ratio: { ("s/beta", $0[2] / $0[3]) },
            limit: RidgeLimit(
                description: "one dropout rate mu shared by all customers", parameterNames: ["r", "alpha", "mu"],
                parameterKinds: [.shape, .scale, .rate], shared: [0, 1, nil], start: { [$0[0], $0[1], $0[2] / $0[3]] },
                logLikelihoodFunction: { data in { p, g in logLikelihood(data, r: p[0], alpha: p[1], mu: p[2], gradient: g) } }))
    }

    /// log of the two terms in brackets (alive at T; dropped out in (t_x, T]) and, when asked, the derivatives of
    /// the second one's log wrt (r+x, alpha, mu); nil when the quadrature fails.
    static func logTerms(
        k: Double, alpha: Double, mu: Double, tx: Double, T: Double, derivatives: Bool
    ) -> (alive: Double, dead: Double, dDead: (Double, Double, Double))? {
        let alive = -mu * T - k * log(alpha + T)
        guard T > tx else { return (alive, -.infinity, (0, 0, 0)) }
        let A = alpha + tx
        let base = -mu * tx - k * log(A)
        let h = { (v: Double) -> Double in exp(-mu * v - k * log1p(v / A)) }
        guard let j0 = integrate(0, T - tx, relativeTolerance: 1e-11, h), j0 > 0 else { return nil }
        let dead = log(mu) + base + log(j0)
        guard derivatives else { return (alive, dead, (0, 0, 0)) }
        // d log(mu J)/dk = -E[log(alpha+u)], d/dalpha = -k E[1/(alpha+u)], d/dmu = 1/mu - E[u], expectations
        // under the density proportional to the integrand on (t_x, T].
        guard let jl = integrate(0, T - tx, relativeTolerance: 1e-11, { v in h(v) * log1p(v / A) }),
            let ji = integrate(0, T - tx, relativeTolerance: 1e-11, { v in h(v) / (1 + v / A) }),
            let ju = integrate(0, T - tx, relativeTolerance: 1e-11, { v in h(v) * v })
        else { return nil }
        let meanLog = log(A) + jl / j0
        let meanInv = ji / j0 / A
        let meanU = tx + ju / j0
        return (alive, dead, (-meanLog, -k * meanInv, 1 / mu - meanU))
    }

    /// Total log-likelihood over `d` and, when `gradient` is given, d LL / d (r, alpha, mu).
    static func logLikelihood(_ d: CompressedSummaries, r: Double, alpha: Double, mu: Double, gradient: UnsafeMutablePointer<Double>?) -> Double {
        guard r > 0, alpha > 0, mu > 0, r.isFinite, alpha.isFinite, mu.isFinite else { return .nan }
        let (S, D) = BetaDropoutLimit.gammaRatioTables(r: r, maxX: d.maxX)
        let lalpha = log(alpha)
        var total = 0.0, gr = 0.0, gal = 0.0, gmu = 0.0
        for i in d.x.indices {
            let x = Int(d.x[i]), w = d.weight[i]
            let k = r + Double(x)
            let T = d.times[Int(d.TIndex[i])], tx = d.times[Int(d.txIndex[i])]
            guard let terms = logTerms(k: k, alpha: alpha, mu: mu, tx: tx, T: T, derivatives: gradient != nil) else { return .nan }
            let mx = max(terms.alive, terms.dead)
            let u3 = exp(terms.alive - mx), u4 = exp(terms.dead - mx)
            total += w * (S[x] + r * lalpha + mx + log(u3 + u4))
            if gradient != nil {
                let p3 = u3 / (u3 + u4), p4 = u4 / (u3 + u4)
                let lT = log(alpha + T)
                gr += w * (D[x] + lalpha + p3 * (-lT) + p4 * terms.dDead.0)
                gal += w * (r / alpha + p3 * (-k / (alpha + T)) + p4 * terms.dDead.1)
                gmu += w * (p3 * (-T) + p4 * terms.dDead.2)
            }
        }
        if let g = gradient { g[0] = gr; g[1] = gal; g[2] = gmu }
        return total
    }
}
