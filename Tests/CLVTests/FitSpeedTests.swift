import CGSL
import Foundation
import Stats
import Testing

@testable import CLV

/// The speed-ups of the fitting machinery must not change a single bit of what it computes: the Gamma-Gamma
/// tables over distinct x against the per-customer formula, and fits run on one or several copies of a problem.
@Suite("Fitting speed-ups leave results bit for bit unchanged")
struct FitSpeedTests {
    /// The per-customer sum exactly as the kernel computed it before its terms were tabulated over distinct x.
    static func referenceGammaGamma(_ d: GammaGammaData, _ p: Double, _ q: Double, _ gamma: Double) -> (Double, [Double]) {
        let lgq = gsl_sf_lngamma(q)
        let lgam = log(gamma)
        let psiQ = gsl_sf_psi(q)
        var total = 0.0, gp = 0.0, gq = 0.0, gg = 0.0
        for i in 0..<d.x.count {
            let x = d.x[i], m = d.m[i]
            let px = p * x
            let lden = log(gamma + m * x)
            total += gsl_sf_lngamma(px + q) - gsl_sf_lngamma(px) - lgq + q * lgam + (px - 1) * d.lnM[i] + px * d.lnX[i] - (px + q) * lden
            let psiPQ = gsl_sf_psi(px + q)
            gp += x * (psiPQ - gsl_sf_psi(px) + d.lnM[i] + d.lnX[i] - lden)
            gq += psiPQ - psiQ + lgam - lden
            gg += q / gamma - (px + q) / (gamma + m * x)
        }
        return (total, [gp, gq, gg])
    }

    @Test func gammaGammaTablesMatchPerCustomerTerms() throws {
        let c = try smallSample()
        let d = try GammaGammaData(c)
        #expect(d.distinctX.count < d.x.count)
        let kernel = GammaGammaKernel(d)
        for (p, q, gamma) in [(2.1, 3.4, 40.0), (0.3, 1.2, 5.0), (7.5, 12.0, 300.0)] {
            let (ref, refGrad) = Self.referenceGammaGamma(d, p, q, gamma)
            var g = [0.0, 0, 0]
            let ll = g.withUnsafeMutableBufferPointer { kernel.logLikelihood(p, q, gamma, gradient: $0.baseAddress!) }
            #expect(ll.bitPattern == ref.bitPattern, "\(ll) vs \(ref)")
            #expect(g.map(\.bitPattern) == refGrad.map(\.bitPattern), "\(g) vs \(refGrad)")
            // Without the gradient: the same value.
            #expect(kernel.logLikelihood(p, q, gamma, gradient: nil).bitPattern == ref.bitPattern)
        }
    }

    static func bgnbdProblem(_ c: CustomerSummaries) -> (MLEProblem, [[Double]], [Double]) {
        let d = CompressedSummaries(c)
        let scales = BGNBD.parameterKinds.map { $0.scale(meanAge: d.meanAge) }
        let prob = MLEProblem(
            model: BGNBD.displayName, names: BGNBD.parameterNames, kinds: BGNBD.parameterKinds, scales: scales, n: d.customers,
            makeEvaluate: { BGNBD.logLikelihoodFunction(d) })
        prob.ridges = BGNBD.ridges
        return (prob, BGNBD.startValues(d), scales)
    }

    static func identical(_ a: FitResult, _ b: FitResult) -> Bool {
        a.estimates.map(\.bitPattern) == b.estimates.map(\.bitPattern)
            && a.standardErrors.map(\.bitPattern) == b.standardErrors.map(\.bitPattern)
            && a.logLikelihood.bitPattern == b.logLikelihood.bitPattern && a.gradientNorm.bitPattern == b.gradientNorm.bitPattern
            && a.notes == b.notes && a.status == b.status && a.boundary == b.boundary && a.boundaryDetails == b.boundaryDetails
            && a.iterations == b.iterations && a.converged == b.converged
    }

    /// One thread or several: the starting points, both BFGS runs, the Hessians and the edge probes are evaluated
    /// on copies of the problem, and the fit is the same bit for bit (evaluation counts in the notes included).
    @Test func fitDoesNotDependOnWidth() throws {
        let c = try simulateBGNBD(n: 1500, seed: 5, r: 0.6, alpha: 5, a: 1.2, b: 3)
        var fits: [FitResult] = []
        for width in [1, 2, 3] {
            let (prob, starts, scales) = Self.bgnbdProblem(c)
            fits.append(try Optimizer.fit(prob, candidates: starts, dataScales: scales, width: width))
        }
        #expect(fits[0].converged)
        for f in fits.dropFirst() { #expect(Self.identical(fits[0], f), "\(fits[0])\nvs\n\(f)") }
        // A problem without a factory of evaluators runs everything on itself: same result again.
        let d = CompressedSummaries(c)
        let evaluate = BGNBD.logLikelihoodFunction(d)
        let (p0, starts, scales) = Self.bgnbdProblem(c)
        let single = MLEProblem(model: p0.model, names: p0.names, kinds: p0.kinds, scales: p0.scales, n: p0.n, evaluate: evaluate)
        single.ridges = BGNBD.ridges
        #expect(single.copy() == nil)
        let sequential = try Optimizer.fit(single, candidates: starts, dataScales: scales, width: 4)
        #expect(Self.identical(fits[0], sequential))
    }

    /// Through the public entry points (Gamma-Gamma, BG/NBD), run twice: the same result bit for bit.
    @Test func repeatedFitsAreIdentical() throws {
        let c = try smallSample()
        let a = try GammaGamma.fit(c).1, b = try GammaGamma.fit(c).1
        #expect(Self.identical(a, b))
        let s = try simulateBGNBD(n: 800, seed: 9, r: 0.9, alpha: 4, a: 1.5, b: 6)
        let f1 = try BGNBD.fit(s).1, f2 = try BGNBD.fit(s).1
        #expect(Self.identical(f1, f2))
    }
}
