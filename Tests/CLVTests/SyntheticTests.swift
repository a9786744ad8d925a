import Foundation
import Stats
import Testing

@testable import CLV

/// Customers simulated from a BG/NBD with the given parameters (ages 30..49 weeks).
func simulateBGNBD(n: Int, seed: UInt64, r: Double, alpha: Double, a: Double, b: Double) throws -> CustomerSummaries {
    var s = Sampler(seed: seed)
    var x: [Double] = [], tx: [Double] = [], T: [Double] = []
    for i in 0..<n {
        let TT = 30 + Double(i % 20)
        let lambda = s.gamma(r, rate: alpha)
        let pDrop = { () -> Double in
            let u = s.gamma(a, rate: 1), v = s.gamma(b, rate: 1); return u / (u + v)
        }()
        var t = 0.0, k = 0, last = 0.0
        while true {
            t += -log(s.uniform()) / lambda
            if t > TT { break }
            k += 1; last = t
            if s.uniform() < pDrop { break }
        }
        x.append(Double(k)); tx.append(last); T.append(TT)
    }
    return try CustomerSummaries(frequency: x, recency: tx, age: T)
}

@Suite("Synthetic data: boundaries and parameter recovery")
struct SyntheticTests {

    @Test func bgnbdEveryoneZero() throws {
        let n = 300
        let T = (0..<n).map { 20 + Double($0 % 20) }
        let c = try CustomerSummaries(frequency: [Double](repeating: 0, count: n), recency: [Double](repeating: 0, count: n), age: T)
        let (m, fit) = try BGNBD.fit(c)
        #expect(fit.boundary.contains("r") || fit.boundary.contains("alpha"), "\(fit)")
        #expect(!fit.boundaryDetails.isEmpty)
        #expect(fit.logLikelihood.isFinite && fit.logLikelihood <= 0)
        do {
            _ = try m.conditionalExpectedTransactions(39, x: 0, tx: 0, T: 30)
            Issue.record("a boundary fit must not predict")
        } catch {
            #expect(error.reason.contains("boundary"))
        }
        #expect(throws: ModelUndefined.self) { try m.probabilityAlive(x: 0, tx: 0, T: 30) }
        print(fit)
    }

    @Test func paretoEveryoneZero() throws {
        let n = 300
        let T = (0..<n).map { 20 + Double($0 % 20) }
        let c = try CustomerSummaries(frequency: [Double](repeating: 0, count: n), recency: [Double](repeating: 0, count: n), age: T)
        let (m, fit) = try ParetoNBD.fit(c)
        #expect(!fit.boundary.isEmpty, "\(fit)")
        #expect(fit.logLikelihood.isFinite)
        #expect(throws: ModelUndefined.self) { try m.conditionalExpectedTransactions(39, x: 0, tx: 0, T: 30) }
        print(fit)
    }

    /// Data from an NBD without dropout (p = 0 for everyone): the BG/NBD MLE drives the dropout
    /// probability p ~ Beta(a, b) to 0, i.e. a -> 0 (or b -> infinity).
    @Test func bgnbdNoDropoutCollapses() throws {
        var s = Sampler(seed: 2024)
        var x: [Double] = [], tx: [Double] = [], T: [Double] = []
        for i in 0..<2000 {
            let TT = 26 + Double(i % 14)
            let lambda = s.gamma(2.0, rate: 8.0)
            let k = s.poisson(lambda * TT)
            var last = 0.0
            for _ in 0..<k { last = max(last, TT * s.uniform()) }
            x.append(Double(k)); tx.append(k == 0 ? 0 : last); T.append(TT)
        }
        let c = try CustomerSummaries(frequency: x, recency: tx, age: T)
        let (m, fit) = try BGNBD.fit(c)
        #expect(fit.boundary.contains("a") || fit.boundary.contains("b"), "\(fit)")
        #expect(fit.estimates.allSatisfy { $0.isFinite })
        do {
            let v = try m.conditionalExpectedTransactions(39, x: 2, tx: 30, T: 38)
            Issue.record("predicted \(v) from a boundary fit")
        } catch {
            #expect(error.reason.contains("boundary"))
        }
        print(fit)
    }

    /// Pareto/NBD data whose customers all share one dropout rate mu: the MLE is the limit s, beta -> infinity
    /// with s/beta -> mu. The fit must stop on that ridge (not creep along it), report s and beta as a boundary
    /// whose ratio estimates mu, fit the limit model (r, alpha, mu) and predict with it, with no interval for s
    /// and beta.
    @Test func paretoCommonDropoutRateIsARidge() throws {
        var s = Sampler(seed: 31)
        let (r, alpha, mu) = (1.2, 10.0, 0.02)
        var x: [Double] = [], tx: [Double] = [], T: [Double] = []
        for i in 0..<3000 {
            let TT = 40 + Double(i % 30)
            let lambda = s.gamma(r, rate: alpha)
            let life = -log(s.uniform()) / mu
            var t = 0.0, k = 0, last = 0.0
            while true {
                t += -log(s.uniform()) / lambda
                if t > min(TT, life) { break }
                k += 1; last = t
            }
            x.append(Double(k)); tx.append(last); T.append(TT)
        }
        let c = try CustomerSummaries(frequency: x, recency: tx, age: T)
        let (m, fit) = try ParetoNBD.fit(c)
        #expect(fit.boundary.contains("s") && fit.boundary.contains("beta"), "\(fit)")
        #expect(fit.boundaryDetails.contains { $0.contains("s and beta grow together") }, "\(fit)")
        let ratio = fit.estimates[2] / fit.estimates[3]
        #expect(abs(ratio / mu - 1) < 0.25, "s/beta = \(ratio), common rate \(mu)")
        #expect(fit.stoppedOnRidge && fit.iterations < 100, "BFGS crept along the ridge: \(fit.iterations) iterations, status \(fit.status)")
        let limit = try #require(fit.limit, "\(fit)")
        #expect(limit.parameterNames == ["r", "alpha", "mu"] && limit.converged && limit.boundary.isEmpty, "\(limit)")
        for (i, truth) in [r, alpha, mu].enumerated() {
            #expect(abs(limit.estimates[i] - truth) < 3 * limit.standardErrors[i], "\(limit.parameterNames[i]) = \(limit.estimates[i]) vs \(truth)")
        }
        #expect(fit.logLikelihood == limit.logLikelihood && fit.aic == 6 - 2 * limit.logLikelihood)
        #expect(fit.identified == [true, true, false, false] && fit.predicts)
        #expect(fit.confidenceIntervals[2].lower.isNaN && fit.confidenceIntervals[3].upper.isNaN && fit.standardErrors[3].isNaN)
        #expect(fit.estimates[0] == limit.estimates[0] && fit.confidenceIntervals[1] == limit.confidenceIntervals[1])
        #expect(m.commonDropoutRate == limit.estimates[2])
        let pa = try m.probabilityAlive(x: 1, tx: 10, T: 40)
        #expect(pa > 0 && pa < 1)
        #expect(try m.conditionalExpectedTransactions(39, x: 1, tx: 10, T: 40) > 0)
        print(fit)
    }

    /// BG/NBD data whose customers share one dropout probability: the fit ends on the a, b ridge and predicts with
    /// the limit (r, alpha, p), p recovered.
    @Test func bgnbdCommonDropoutProbabilityIsARidge() throws {
        var s = Sampler(seed: 41)
        let (r, alpha, p) = (0.9, 8.0, 0.15)
        var x: [Double] = [], tx: [Double] = [], T: [Double] = []
        for i in 0..<4000 {
            let TT = 30 + Double(i % 30)
            let lambda = s.gamma(r, rate: alpha)
            var t = 0.0, k = 0, last = 0.0
            while true {
                t += s.exponential(rate: lambda)
                if t > TT { break }
                k += 1; last = t
                if s.bernoulli(p) { break }
            }
            x.append(Double(k)); tx.append(last); T.append(TT)
        }
        let c = try CustomerSummaries(frequency: x, recency: tx, age: T)
        let (m, fit) = try BGNBD.fit(c)
        let limit = try #require(fit.limit, "\(fit)")
        #expect(fit.ridge?.names == ["a", "b"] && limit.boundary.isEmpty && limit.converged, "\(fit)")
        for (i, truth) in [r, alpha, p].enumerated() {
            #expect(abs(limit.estimates[i] - truth) < 3 * limit.standardErrors[i], "\(limit.parameterNames[i]) = \(limit.estimates[i]) vs \(truth)")
        }
        #expect(m.commonDropoutProbability == limit.estimates[2])
        #expect(try m.probabilityAlive(x: 2, tx: 10, T: 40) < 1)
        #expect(try m.expectedTransactions(39) > 0)
        print(fit)
    }

    @Test func gammaGammaRecoversParameters() throws {
        var s = Sampler(seed: 99)
        let (p, q, gamma) = (6.0, 4.0, 15.0)
        var x: [Double] = [], m: [Double] = []
        for i in 0..<4000 {
            let k = 1 + i % 8
            let nu = s.gamma(q, rate: gamma)
            var sum = 0.0
            for _ in 0..<k { sum += s.gamma(p, rate: nu) }
            x.append(Double(k)); m.append(sum / Double(k))
        }
        let c = try CustomerSummaries(frequency: x, recency: x.map { _ in 1 }, age: x.map { _ in 2 }, monetary: m)
        let (model, fit) = try GammaGamma.fit(c)
        #expect(fit.converged && fit.boundary.isEmpty, "\(fit)")
        // Within 3 standard errors of the truth, and each truth inside its 99.7%-ish band.
        for (i, truth) in [p, q, gamma].enumerated() {
            let est = fit.estimates[i], se = fit.standardErrors[i]
            #expect(abs(est - truth) < 3 * se, "\(fit.parameterNames[i]) = \(est) +- \(se), truth \(truth)")
        }
        #expect(abs(model.p - p) / p < 0.1 && abs(model.q - q) / q < 0.15 && abs(model.gamma - gamma) / gamma < 0.2)
        let corr = try GammaGamma.frequencyValueCorrelation(c)
        #expect(abs(corr.correlation) < 0.05, "independent by construction: r = \(corr.correlation)")
        print(fit)
    }

    /// BG/NBD simulated from known parameters is recovered (sanity check of fit + likelihood together).
    @Test func bgnbdRecoversParameters() throws {
        let (r, alpha, a, b) = (0.8, 6.0, 1.5, 4.0)
        let c = try simulateBGNBD(n: 5000, seed: 7, r: r, alpha: alpha, a: a, b: b)
        let (_, fit) = try BGNBD.fit(c)
        #expect(fit.converged && fit.boundary.isEmpty, "\(fit)")
        for (i, truth) in [r, alpha, a, b].enumerated() {
            #expect(fit.confidenceIntervals[i].lower < truth * 1.5 && fit.confidenceIntervals[i].upper > truth / 1.5, "\(fit)")
            #expect(
                abs(log(fit.estimates[i] / truth)) < 4 * fit.standardErrors[i] / fit.estimates[i], "\(fit.parameterNames[i]): \(fit.estimates[i]) vs \(truth)")
        }
        print(fit)
    }

    /// The Nelder-Mead fallback (used when BFGS fails from every start) reaches the BFGS optimum.
    @Test func simplexFallbackAgreesWithBFGS() throws {
        let c = try simulateBGNBD(n: 1000, seed: 11, r: 0.8, alpha: 6, a: 1.5, b: 4)
        let d = CompressedSummaries(c)
        let kernel = BGNBDKernel(d)
        let prob = MLEProblem(
            model: "BG/NBD", names: BGNBD.parameterNames, kinds: [.shape, .scale, .shape, .shape],
            scales: [1, d.meanAge, 1, 1], n: d.customers
        ) { p, g in
            kernel.logLikelihood(p[0], p[1], p[2], p[3], gradient: g)
        }
        let start = prob.theta([1, d.meanAge, 1, 1])
        let nm = Optimizer.simplex(prob, start: start)
        let bf = Optimizer.bfgs(prob, start: start)
        #expect(nm.method == "nmsimplex2" && bf.method == "bfgs2")
        #expect(nm.converged && bf.converged, "\(nm.status) / \(bf.status)")
        // The simplex stops on its size (1e-7 in log-parameters) ; polished by
        // BFGS (as the fallback does) it lands on the BFGS optimum.
        #expect(abs(nm.objective - bf.objective) < 1e-5, "\(nm.objective) vs \(bf.objective)")
        let polished = Optimizer.bfgs(prob, start: nm.theta)
        #expect(abs(polished.objective - bf.objective) < 1e-10, "\(polished.objective) vs \(bf.objective)")
    }
}
