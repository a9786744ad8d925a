import Foundation
import Stats
import Testing

@testable import CLV

/// Reference values for MBG/NBD, computed outside this package (Python 3, /tmp virtualenv):
/// * `LL`: log of the double integral, by mpmath 1.4.1 `quad` (mp.dps = 20), over lambda ~ Gamma(r, alpha) and
///   p ~ Beta(a, b) of the individual likelihood (1-p)^(x+1) lambda^x e^(-lambda T) + p (1-p)^x lambda^x e^(-lambda t_x),
///   not the closed form the code uses.
/// * `alive`, `cond39`, `unc39`, `unc78`, `pn`: lifetimes 0.11.3 `ModifiedBetaGeoFitter` with `params_` set
///   (`conditional_probability_alive`, `conditional_expected_number_of_purchases_up_to_time(39, ...)`,
///   `expected_number_of_purchases_up_to_time`, `probability_of_n_purchases_up_to_time(39, n)`; scipy 1.17.1).
enum MBGRef {
    static let customers: [(x: Double, tx: Double, T: Double)] = [(0, 0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (7, 29.43, 35.0), (1, 0, 20.0)]
    struct Set {
        var params: (r: Double, alpha: Double, a: Double, b: Double)
        var ll: [Double]
        var alive: [Double]
        var cond39: [Double]
        var unc39: Double
        var unc78: Double
        /// P(X(39) = n) for n = 0, 1, 2, 5.
        var pn: [Double]
    }
    static let sets: [Set] = [
        Set(
            params: (0.525, 6.183, 0.891, 1.614),
            ll: [-0.53983746353130758, -9.4855513145339314, -4.4603606125843174, -21.306941260142728, -3.9941238122684254],
            alive: [0.3897350809187629, 0.7062022651184873, 0.17083648431040802, 0.7641027051743035, 0.245131208845044],
            cond39: [0.15401274667514553, 1.2629606232673432, 0.18883654136434078, 4.173182963884624, 0.4228612137180469],
            unc39: 1.1829536655971713, unc78: 1.8047575775531313,
            pn: [0.5824731894932891, 0.18278307728754056, 0.08689482567349055, 0.01938732355357039]),
        Set(
            params: (1.2, 9.0, 2.5, 4.0),
            ll: [-0.76043899520576432, -9.4367743360529853, -3.9101087256732296, -21.342578918405223, -3.4571450473013999],
            alive: [0.17722495400875557, 0.5635196154507927, 0.0691076856003573, 0.5918756030311398, 0.13227295467799757],
            cond39: [0.13481397571333836, 1.017247416535071, 0.09020397443872027, 2.5054247646522394, 0.24309474476209983],
            unc39: 1.3367784041527937, unc78: 1.7423916563141584,
            pn: [0.46717129314068795, 0.23127090949455115, 0.12254746259593088, 0.02450442019177128]),
    ]
}

/// Customers simulated from an MBG/NBD (ages 30..49 weeks): each may leave right after her first purchase.
func simulateMBGNBD(n: Int, seed: UInt64, r: Double, alpha: Double, a: Double, b: Double) throws -> CustomerSummaries {
    var s = Sampler(seed: seed)
    var x: [Double] = [], tx: [Double] = [], T: [Double] = []
    for i in 0..<n {
        let TT = 30 + Double(i % 20)
        let lambda = s.gamma(r, rate: alpha)
        let p = s.beta(a, b)
        var t = 0.0, k = 0, last = 0.0
        if !s.bernoulli(p) {
            while true {
                t += s.exponential(rate: lambda)
                if t > TT { break }
                k += 1; last = t
                if s.bernoulli(p) { break }
            }
        }
        x.append(Double(k)); tx.append(last); T.append(TT)
    }
    return try CustomerSummaries(frequency: x, recency: tx, age: T)
}

@Suite("MBG/NBD against independent values")
struct MBGNBDTests {

    @Test func likelihoodMatchesTheDoubleIntegral() throws {
        for set in MBGRef.sets {
            let m = MBGNBD(r: set.params.r, alpha: set.params.alpha, a: set.params.a, b: set.params.b)
            for (c, expected) in zip(MBGRef.customers, set.ll) {
                #expect(close(m.logLikelihood(x: c.x, tx: c.tx, T: c.T), expected, 1e-10), "\(set.params) \(c)")
                let one = try CustomerSummaries(frequency: [c.x], recency: [c.tx], age: [c.T])
                #expect(close(m.logLikelihood(one), expected, 1e-10))
            }
        }
    }

    @Test func gradientMatchesFiniteDifferences() throws {
        let c = try smallSample()
        let p = [0.7, 5.0, 1.3, 2.2]
        let (_, g) = MBGNBD(r: p[0], alpha: p[1], a: p[2], b: p[3]).logLikelihoodGradient(c)
        let numeric = numericGradient(p) { q in MBGNBD(r: q[0], alpha: q[1], a: q[2], b: q[3]).logLikelihood(c) }
        for i in 0..<4 { #expect(relClose(g[i], numeric[i], 1e-6), "d/d\(MBGNBD.parameterNames[i]): \(g[i]) vs \(numeric[i])") }
    }

    @Test func predictionsMatchLifetimes() throws {
        for set in MBGRef.sets {
            let m = MBGNBD(r: set.params.r, alpha: set.params.alpha, a: set.params.a, b: set.params.b)
            for (i, c) in MBGRef.customers.enumerated() {
                #expect(relClose(try m.probabilityAlive(x: c.x, tx: c.tx, T: c.T), set.alive[i], 1e-12), "\(set.params) \(c)")
                #expect(relClose(try m.conditionalExpectedTransactions(39, x: c.x, tx: c.tx, T: c.T), set.cond39[i], 1e-10), "\(set.params) \(c)")
            }
            #expect(relClose(try m.expectedTransactions(39), set.unc39, 1e-10))
            #expect(relClose(try m.expectedTransactions(78), set.unc78, 1e-10))
            for (k, n) in [0, 1, 2, 5].enumerated() { #expect(relClose(try m.probabilityOfCount(n, t: 39), set.pn[k], 1e-11), "P(X(39) = \(n))") }
        }
    }

    /// The point of the model: a customer without repeat purchases is not certainly alive, and less so the
    /// longer she has been silent; BG/NBD says 1 whatever the silence.
    @Test func oneTimeBuyersAreNotImmortal() throws {
        let m = MBGNBD(r: 0.525, alpha: 6.183, a: 0.891, b: 1.614)
        let early = try m.probabilityAlive(x: 0, tx: 0, T: 5), late = try m.probabilityAlive(x: 0, tx: 0, T: 80)
        #expect(early < 1 && late < early)
        #expect(try BGNBD(r: 0.525, alpha: 6.183, a: 0.891, b: 1.614).probabilityAlive(x: 0, tx: 0, T: 80) == 1)
    }

    /// Unconditional and conditional count distributions sum to 1 and their means are the expectations.
    @Test func countDistributionsAreConsistentWithTheExpectations() throws {
        let models: [any TransactionModel] = [
            MBGNBD(r: 0.525, alpha: 6.183, a: 0.891, b: 1.614), BGNBD(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426),
            ParetoNBD(r: 0.553, alpha: 10.578, s: 0.606, beta: 11.669), ParetoNBD(r: 0.78, alpha: 10.7, s: 1, beta: 1, commonDropoutRate: 0.0157),
            BGNBD(r: 0.7, alpha: 8, a: 1, b: 1, commonDropoutProbability: 0.08),
        ]
        for m in models {
            for c in MBGRef.customers {
                var total = 0.0, mean = 0.0
                for n in 0...150 {
                    let p = try m.conditionalProbabilityOfCount(n, t: 39, x: c.x, tx: c.tx, T: c.T)
                    #expect(p >= 0)
                    total += p
                    mean += Double(n) * p
                }
                #expect(abs(total - 1) < 1e-9, "\(m) \(c): sum \(total)")
                let expected = try m.conditionalExpectedTransactions(39, x: c.x, tx: c.tx, T: c.T)
                #expect(relClose(mean, expected, 1e-8), "\(m) \(c): mean \(mean) vs E \(expected)")
            }
        }
        let mbg = MBGNBD(r: 0.525, alpha: 6.183, a: 0.891, b: 1.614)
        var total = 0.0, mean = 0.0
        for n in 0...400 {
            let p = try mbg.probabilityOfCount(n, t: 39)
            total += p
            mean += Double(n) * p
        }
        #expect(abs(total - 1) < 1e-9)
        #expect(relClose(mean, try mbg.expectedTransactions(39), 1e-6))
    }

    /// The CDNOW sample (real data, found through DATA_MIRROR): lifetimes 0.11.3's `ModifiedBetaGeoFitter().fit`
    /// on the same file gives r = 0.5248377, alpha = 6.1829885, a = 0.8913563, b = 1.6140000 (scipy's optimizer
    /// stops at its own tolerance, so the comparison is to 1e-4 relative).
    @Test func cdnowSampleFitMatchesLifetimes() throws {
        let (m, fit) = try MBGNBD.fit(try TestData.cdnow())
        #expect(fit.converged && fit.boundary.isEmpty, "\(fit)")
        for (v, expected) in zip([m.r, m.alpha, m.a, m.b], [0.5248377255676623, 6.182988479133949, 0.8913562809311403, 1.6140000256721425]) {
            #expect(relClose(v, expected, 1e-4), "\(fit)")
        }
    }

    @Test func fitRecoversSimulatedParameters() throws {
        let (r, alpha, a, b) = (0.8, 6.0, 1.5, 4.0)
        let c = try simulateMBGNBD(n: 5000, seed: 21, r: r, alpha: alpha, a: a, b: b)
        let (m, fit) = try MBGNBD.fit(c)
        #expect(fit.converged && fit.boundary.isEmpty, "\(fit)")
        for (i, truth) in [r, alpha, a, b].enumerated() {
            #expect(
                abs(log(fit.estimates[i] / truth)) < 4 * fit.standardErrors[i] / fit.estimates[i], "\(fit.parameterNames[i]): \(fit.estimates[i]) vs \(truth)")
        }
        #expect(try m.probabilityAlive(x: 0, tx: 0, T: 40) < 1)
    }
}
