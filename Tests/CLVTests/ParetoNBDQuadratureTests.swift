import Foundation
import Testing

@testable import CLV

/// The quadrature branch of `ParetoNBDKernel.logG` (z close to 1, where the series is slow): value and analytic
/// gradient against mpmath (log hyp2f1(1, P, Q, z) and mp.diff of it, 40 digits).
struct ParetoNBDQuadratureTests {
    // (P, Q, z, log G, d/dP, d/dQ, d/dz)
    static let reference: [(Double, Double, Double, Double, Double, Double, Double)] = [
        (0.8, 1.95, 0.93, 0.82995248945535236, 1.2621983159132677, -0.69158293609457144, 3.1991782421678678),
        (2.3, 2.9, 0.97, 2.2998757619457217, 1.7768482451696906, -1.5817492676085311, 17.921493844484077),
        (1.2, 3.7, 0.995, 0.57760542145230553, 0.64411514765972941, -0.28183994030973987, 1.8793714527440945),
        (742.0443097054849, 743.8215266879419, 0.9999, 6.60079517771133, 0.83038872814632715, -0.82925593055574318, 1583.0186310388886),
        (15.5, 16.2, 0.9999, 5.6004094883684843, 4.1871926696608743, -4.1452806323706664, 3546.6998387164589),
        (0.35, 1.6, 0.99995, 0.8133300867175399, 3.2439732068476146, -1.6689803967172899, 320.21538082643269),
        (58804.0, 58805.78, 0.999999, 11.004435715844461, 0.86570183224785671, -0.86568719043928708, 138989.13414124005),
        (4.0, 5.2, 0.9995, 2.6480498518780409, 2.3586084304120032, -2.1469015613002688, 190.72403574196177),
        (120.0, 121.5, 0.95, 2.8050425267608427, 0.11769871767664105, -0.11638564027651733, 16.647491946777718),
        (0.05, 1.3, 0.999, 0.14832453174167918, 3.0892950220142483, -0.34351312992486249, 8.6039862106042055),
    ]

    @Test func quadratureMatchesMpmath() throws {
        for (P, Q, z, v, dP, dQ, dz) in Self.reference {
            let q = try #require(ParetoNBDKernel.logGQuadrature(P, Q, z, 1 - z, grad: true), "no convergence at \((P, Q, z))")
            #expect(close(q.0, v, 1e-13), "log G at \((P, Q, z)): \(q.0) vs \(v)")
            #expect(
                relClose(q.1, dP, 1e-11) && relClose(q.2, dQ, 1e-11) && relClose(q.3, dz, 1e-9),
                "gradient at \((P, Q, z)): \((q.1, q.2, q.3)) vs \((dP, dQ, dz))")
            let g = ParetoNBDKernel.logG(P, Q, z, grad: true)
            #expect(
                close(g.0, v, 1e-13) && relClose(g.1, dP, 1e-9) && relClose(g.2, dQ, 1e-9) && relClose(g.3, dz, 1e-9),
                "logG at \((P, Q, z)): \(g) vs \((v, dP, dQ, dz))")
            let f = ParetoNBDKernel.logG(P, Q, z, grad: false)
            #expect(close(f.0, v, 1e-13))
        }
    }

    /// Agreement with the continued fraction (the previous method) on a grid of the 0.9 < z <= 1 - 1e-4 range.
    @Test func quadratureMatchesContinuedFraction() throws {
        var worst = 0.0
        for P in [0.05, 0.7, 1.9, 12.5, 240.0, 3000.0] {
            for gap in [0.3, 1.05, 2.6, 9.0] {
                for z in [0.905, 0.95, 0.99, 0.998, 0.9995, 0.9999] {
                    let Q = P + gap
                    guard Q > 1 else { continue }  // the kernel's Q = r + s + x + 1
                    guard let cf = ParetoNBDKernel.logGContinuedFraction(P, Q, z) else { continue }
                    let q = try #require(ParetoNBDKernel.logGQuadrature(P, Q, z, 1 - z, grad: false))
                    if abs(q.0 - cf) / max(1, abs(cf)) > 3e-13 { print("CFDIFF \(P) \(Q) \(z) \(q.0) \(cf)") }
                    worst = max(worst, abs(q.0 - cf) / max(1, abs(cf)))
                }
            }
        }
        #expect(worst < 1e-12, "max difference \(worst)")
    }
}
