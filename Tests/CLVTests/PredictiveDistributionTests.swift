import Foundation
import Stats
import Testing

@testable import CLV

/// Conditional predictive probabilities P(Y(39) = n | x, t_x, T) and the Pareto/NBD limit model, against values
/// computed outside this package by Python 3 with mpmath 1.4.1 (mp.dps = 20), from the individual-level model
/// rather than the closed forms or the quadrature the code uses: for given rates, P(Y = n, history) =
/// A(rates) f(n | rates) + [n = 0] D(rates), with A the probability of the history and of being alive at T, D that of
/// the history and having left, and f the count of the next 39 weeks given alive (for BG/NBD and MBG/NBD
/// (1-p)^n Poisson(n; lambda t) + [n > 0] p (1-p)^(n-1) P(Poisson(lambda t) >= n); for Pareto/NBD
/// e^(-mu t) Poisson(n; lambda t) + mu lambda^n / (lambda+mu)^(n+1) P(n+1, (lambda+mu) t), P the regularized
/// lower incomplete gamma), integrated by mpmath `quad` over the mixing distributions (a double integral; a single
/// one over lambda for the limit model with its fixed mu), divided by the integral of A + D. Exception: BG/NBD at
/// x = 0 with a < 1 and r < 1, where mpmath's double integral of two singular densities reached only ~1e-6
/// relative: a customer without repeat purchases is alive with certainty and her posterior is the prior with alpha + T for alpha, so the values are lifetimes 0.11.3
/// `BetaGeoFitter.probability_of_n_purchases_up_to_time(39, n)` at (r, alpha + T, a, b), another implementation.
enum PredictiveRef {
    /// (x, t_x, T, n) in the order of every `cpmf` array below.
    static let cases: [(x: Double, tx: Double, T: Double, n: Int)] = [
        (2, 30.43, 38.86, 0), (2, 30.43, 38.86, 1), (2, 30.43, 38.86, 3), (0, 0, 38.86, 0), (0, 0, 38.86, 1), (7, 29.43, 35.0, 4),
    ]
    static let bg = (
        params: (0.243, 4.414, 0.793, 2.426),
        cpmf: [0.44537286208299556, 0.23931893743502776, 0.08085005599575532, 0.8554494592166816, 0.10987298880071772, 0.089483686825747395]
    )
    static let mbg = (
        params: (0.525, 6.183, 0.891, 1.614),
        cpmf: [0.44000590917770685, 0.23422405642628645, 0.083863947754723567, 0.89117060122249999, 0.078704132912331799, 0.089010618635265869]
    )
    static let pareto: [(params: (Double, Double, Double, Double), cpmf: [Double])] = [
        (
            (0.553, 10.578, 0.606, 11.669),
            [0.40806272360646376, 0.21928749790096378, 0.095655346296350206, 0.9307148159456747, 0.045898124125813187, 0.094488356302756886]
        ),
        (
            (1.2, 80.0, 0.5, 3.0),
            [0.54560509075165789, 0.25527283115199152, 0.049730760325488867, 0.95048593049788831, 0.036918812516677911, 0.096533682198757289]
        ),
    ]
    /// Limit model (r, alpha, mu): per-customer log-likelihood (log of the integral over lambda of A + D), P(alive)
    /// for `MBGRef.customers`, and the conditional probabilities for `cases`.
    static let limit: [(params: (Double, Double, Double), ll: [Double], alive: [Double], cpmf: [Double])] = [
        (
            (0.7773, 10.7221, 0.0015666),
            [-1.1517630629860545, -8.7181322408672201, -5.2236364163947556, -20.020268953086785, -4.449488759095182],
            [0.90536937992190617, 0.9830095998398761, 0.83268680260864962, 0.98522320540713787, 0.92589090186020626],
            [0.22856111156295287, 0.2408022379651726, 0.13563863405331527, 0.67948169972229826, 0.19368056860338597, 0.1090483504127804]
        ),
        (
            (0.9, 6.0, 0.05),
            [-0.90682585328014044, -10.277598485999753, -3.8841433493853554, -20.739623530111168, -3.4458563558959511],
            [0.058030734675020939, 0.57890924646712473, 0.022859875901931225, 0.62056641446770892, 0.10674589737487212],
            [0.70436318740350626, 0.13755473523161842, 0.039038601407158585, 0.98691853840670304, 0.0088490011790674523, 0.051974427826318682]
        ),
    ]
}

@Suite("Conditional predictive distributions and the Pareto/NBD limit model")
struct PredictiveDistributionTests {

    func check(_ m: any TransactionModel, _ expected: [Double], _ tol: Double) throws {
        for (c, v) in zip(PredictiveRef.cases, expected) {
            let p = try m.conditionalProbabilityOfCount(c.n, t: 39, x: c.x, tx: c.tx, T: c.T)
            #expect(relClose(p, v, tol), "\(m) \(c): \(p) vs \(v)")
        }
    }

    @Test func bgnbdAndMBGNBD() throws {
        let (r, al, a, b) = PredictiveRef.bg.params
        try check(BGNBD(r: r, alpha: al, a: a, b: b), PredictiveRef.bg.cpmf, 1e-9)
        let (r2, al2, a2, b2) = PredictiveRef.mbg.params
        try check(MBGNBD(r: r2, alpha: al2, a: a2, b: b2), PredictiveRef.mbg.cpmf, 1e-9)
    }

    @Test func paretoNBD() throws {
        for set in PredictiveRef.pareto {
            let (r, al, s, b) = set.params
            try check(ParetoNBD(r: r, alpha: al, s: s, beta: b), set.cpmf, 1e-8)
        }
    }

    @Test func paretoLimitModel() throws {
        for set in PredictiveRef.limit {
            let (r, al, mu) = set.params
            let m = ParetoNBD(r: r, alpha: al, s: 1, beta: 1, commonDropoutRate: mu, boundary: ["s", "beta"])
            try check(m, set.cpmf, 1e-8)
            for (i, c) in MBGRef.customers.enumerated() {
                #expect(relClose(try m.probabilityAlive(x: c.x, tx: c.tx, T: c.T), set.alive[i], 1e-9), "\(set.params) \(c)")
                let one = CompressedSummaries(try CustomerSummaries(frequency: [c.x], recency: [c.tx], age: [c.T]))
                let ll = CommonDropoutRateLimit.logLikelihood(one, r: r, alpha: al, mu: mu, gradient: nil)
                #expect(close(ll, set.ll[i], 1e-9), "\(set.params) \(c): \(ll) vs \(set.ll[i])")
            }
        }
    }

    @Test func limitGradientsMatchFiniteDifferences() throws {
        let d = CompressedSummaries(try smallSample())
        let p = [0.8, 9.0, 0.03]
        var g = [0.0, 0, 0]
        _ = g.withUnsafeMutableBufferPointer { CommonDropoutRateLimit.logLikelihood(d, r: p[0], alpha: p[1], mu: p[2], gradient: $0.baseAddress!) }
        let numeric = numericGradient(p) { q in CommonDropoutRateLimit.logLikelihood(d, r: q[0], alpha: q[1], mu: q[2], gradient: nil) }
        for i in 0..<3 { #expect(relClose(g[i], numeric[i], 1e-6), "Pareto limit d/d\(i): \(g[i]) vs \(numeric[i])") }
        for modified in [false, true] {
            let q0 = [0.8, 9.0, 0.2]
            var gb = [0.0, 0, 0]
            _ = gb.withUnsafeMutableBufferPointer {
                BetaDropoutLimit.logLikelihood(d, r: q0[0], alpha: q0[1], p: q0[2], modified: modified, gradient: $0.baseAddress!)
            }
            let nb = numericGradient(q0) { q in BetaDropoutLimit.logLikelihood(d, r: q[0], alpha: q[1], p: q[2], modified: modified, gradient: nil) }
            for i in 0..<3 { #expect(relClose(gb[i], nb[i], 1e-6), "beta limit (modified \(modified)) d/d\(i): \(gb[i]) vs \(nb[i])") }
        }
    }

    /// The BG/NBD and MBG/NBD limits are the models at a single dropout probability: their likelihoods equal the
    /// full models' as a and b grow with a/(a+b) fixed.
    @Test func betaLimitIsTheLimitOfTheFullModels() throws {
        let c = try smallSample()
        let d = CompressedSummaries(c)
        let p = 0.2
        let k = 1e7
        let bg = BGNBD(r: 0.8, alpha: 9, a: p * k, b: (1 - p) * k).logLikelihood(c)
        let mbg = MBGNBD(r: 0.8, alpha: 9, a: p * k, b: (1 - p) * k).logLikelihood(c)
        #expect(close(BetaDropoutLimit.logLikelihood(d, r: 0.8, alpha: 9, p: p, modified: false, gradient: nil), bg, 1e-5))
        #expect(close(BetaDropoutLimit.logLikelihood(d, r: 0.8, alpha: 9, p: p, modified: true, gradient: nil), mbg, 1e-5))
    }
}
