import Foundation
import Stats
import Testing

@testable import CLV

@Suite("2F1 against mpmath")
struct HypergeometricTests {

    @Test func referenceValues() {
        for (a, b, c, z, expected) in Ref.twoF1Reference {
            let v = Hypergeometric.twoF1(a, b, c, z)
            #expect(relClose(v, expected, 1e-10), "2F1(\(a), \(b); \(c); \(z)) = \(v), mpmath \(expected), rel err \(abs(v - expected) / abs(expected))")
        }
    }

    @Test func logSpaceBeyondDoubleRange() {
        for (a, b, c, z, expected) in Ref.logTwoF1Reference {
            let v = Hypergeometric.logTwoF1(a, b, c, z)
            #expect(v.sign == 1)
            #expect(relClose(v.logMagnitude, expected, 1e-11), "log 2F1(\(a), \(b); \(c); \(z)) = \(v.logMagnitude), mpmath \(expected)")
        }
    }

    @Test func closedForms() {
        // 2F1(1,1;2;z) = -log(1-z)/z, 2F1(a,b;b;z) = (1-z)^-a
        for z in [-50.0, -0.9, -0.3, 1e-8, 0.2, 0.6, 0.93, 0.999, 0.999999] {
            // d = c-a-b = 0: near-integer reflection branch, accurate to ~1e-11.
            #expect(relClose(Hypergeometric.twoF1(1, 1, 2, z), -log1p(-z) / z, 1e-10), "z = \(z)")
            #expect(relClose(Hypergeometric.twoF1(0.7, 2.5, 2.5, z), pow(1 - z, -0.7), 1e-13), "z = \(z)")
        }
    }

    @Test func domain() {
        #expect(Hypergeometric.twoF1(1, 1, 2, 1).isNaN)
        #expect(Hypergeometric.twoF1(1, 1, -2, 0.5).isNaN)
        #expect(Hypergeometric.twoF1(1, 1, 2, 0) == 1)
    }

    /// Smooth across the near-integer c-a-b switch used in the reflection region.
    @Test func continuityAcrossIntegerD() {
        let a = 1.5, b = 2.5, z = 0.97
        var previous = Hypergeometric.twoF1(a, b, 6 - 4e-4, z)
        var c = 6 - 4e-4
        while c < 6 + 4e-4 {
            c += 2e-5
            let v = Hypergeometric.twoF1(a, b, c, z)
            #expect(v.isFinite)
            #expect(abs(v - previous) < 1e-4 * abs(v), "jump at c = \(c)")
            previous = v
        }
    }

    @Test func paretoKernelFunction() {
        for (P, Q, z, expected) in Ref.logGReference {
            let (lg, _, _, _) = ParetoNBDKernel.logG(P, Q, z, grad: false)
            #expect(close(lg, expected, 1e-13), "log 2F1(1, \(P); \(Q); \(z)) = \(lg), mpmath \(expected)")
            let (lg2, dP, dQ, dz) = ParetoNBDKernel.logG(P, Q, z, grad: true)
            #expect(close(lg2, expected, 1e-13))
            // Derivatives against central differences of the general 2F1.
            let f = { (p: Double, q: Double, x: Double) in Hypergeometric.logTwoF1(1, p, q, x).logMagnitude }
            let h = 1e-5
            let nP = (f(P + h, Q, z) - f(P - h, Q, z)) / (2 * h)
            let nQ = (f(P, Q + h, z) - f(P, Q - h, z)) / (2 * h)
            let hz = 1e-5 * min(z, 1 - z)
            let nz = (f(P, Q, z + hz) - f(P, Q, z - hz)) / (2 * hz)
            #expect(close(dP, nP, 1e-5) && close(dQ, nQ, 1e-5) && close(dz, nz, 1e-5), "derivatives at \((P, Q, z)): \((dP, dQ, dz)) vs \((nP, nQ, nz))")
        }
    }
}
