import Foundation
import Stats
import Testing

@testable import CLV

@Suite("Predictions against mpmath")
struct PredictionTests {

    let bg = BGNBD(r: Ref.bgParams.r, alpha: Ref.bgParams.alpha, a: Ref.bgParams.a, b: Ref.bgParams.b)
    let pn = ParetoNBD(r: Ref.pnParams.r, alpha: Ref.pnParams.alpha, s: Ref.pnParams.s, beta: Ref.pnParams.beta)

    @Test func bgnbd() throws {
        #expect(relClose(try bg.conditionalExpectedTransactions(39, x: 2, tx: 30.43, T: 38.86), Ref.bgCondCustomer39, 1e-12))
        #expect(relClose(try bg.probabilityAlive(x: 2, tx: 30.43, T: 38.86), Ref.bgAliveCustomer, 1e-13))
        #expect(relClose(try bg.conditionalExpectedTransactions(39, x: 0, tx: 0, T: 38.86), Ref.bgCondX0, 1e-12))
        #expect(relClose(try bg.conditionalExpectedTransactions(39, x: 20, tx: 37.1, T: 38.86), Ref.bgCondX20, 1e-12))
        #expect(relClose(try bg.conditionalExpectedTransactions(520, x: 2, tx: 30.43, T: 38.86), Ref.bgCond520, 1e-11))
        #expect(relClose(try bg.expectedTransactions(39), Ref.bgUnc39, 1e-12))
        #expect(relClose(try bg.expectedTransactions(78), Ref.bgUnc78, 1e-12))
        #expect(try bg.probabilityAlive(x: 0, tx: 0, T: 10) == 1)
        #expect(try bg.conditionalExpectedTransactions(0, x: 3, tx: 2, T: 10) == 0)
    }

    @Test func bgnbdRemovableSingularityAtAEqualsOne() throws {
        let m = BGNBD(r: 0.243, alpha: 4.414, a: 1.0004, b: 2.426)
        #expect(relClose(try m.conditionalExpectedTransactions(39, x: 2, tx: 30.43, T: 38.86), Ref.bgCondNearA1, 1e-10))
        #expect(relClose(try m.expectedTransactions(39), Ref.bgUncNearA1, 1e-10))
        // a = 1 exactly: finite, between its neighbours.
        let at1 = try BGNBD(r: 0.243, alpha: 4.414, a: 1, b: 2.426).expectedTransactions(39)
        let below = try BGNBD(r: 0.243, alpha: 4.414, a: 0.99, b: 2.426).expectedTransactions(39)
        let above = try BGNBD(r: 0.243, alpha: 4.414, a: 1.01, b: 2.426).expectedTransactions(39)
        #expect(at1.isFinite && at1 < below && at1 > above)
    }

    @Test func bgnbdLifetimeNeedsAAboveOne() throws {
        let m = BGNBD(r: 0.243, alpha: 4.414, a: 2.5, b: 2.426)
        #expect(relClose(try m.conditionalExpectedTransactions(.infinity, x: 2, tx: 30.43, T: 38.86), Ref.bgLifetimeA25, 1e-13))
        do {
            _ = try bg.expectedTransactions(.infinity)
            Issue.record("expected ModelUndefined for a <= 1")
        } catch {
            #expect(error.reason.contains("a = 0.793 <= 1"))
        }
        // x = 0 with a + b <= 1: the closed form has no valid 2F1; reported, not infinite.
        #expect(throws: ModelUndefined.self) { try BGNBD(r: 1, alpha: 2, a: 0.3, b: 0.4).conditionalExpectedTransactions(10, x: 0, tx: 0, T: 5) }
    }

    @Test func pareto() throws {
        #expect(relClose(try pn.probabilityAlive(x: 2, tx: 30.43, T: 38.86), Ref.pnAliveCustomer, 1e-12))
        #expect(relClose(try pn.conditionalExpectedTransactions(39, x: 2, tx: 30.43, T: 38.86), Ref.pnCondCustomer39, 1e-12))
        #expect(relClose(try pn.conditionalExpectedTransactions(39, x: 0, tx: 0, T: 38.86), Ref.pnCondX0, 1e-12))
        #expect(relClose(try pn.expectedTransactions(39), Ref.pnUnc39, 1e-12))
        let q3 = ParetoNBD(r: 0.4, alpha: 2, s: 0.3, beta: 60)  // z = 0.97 > 0.9 for t_x = 0
        #expect(relClose(try q3.probabilityAlive(x: 1, tx: 0, T: 20), Ref.pnQ3AliveX1, 1e-10))
        #expect(relClose(try q3.conditionalExpectedTransactions(52, x: 1, tx: 0, T: 20), Ref.pnQ3CondX1, 1e-10))
        let s1 = ParetoNBD(r: 0.553, alpha: 10.578, s: 1, beta: 11.669)
        #expect(relClose(try s1.conditionalExpectedTransactions(39, x: 2, tx: 30.43, T: 38.86), Ref.pnCondS1, 1e-12))
        #expect(throws: ModelUndefined.self) { try pn.expectedTransactions(.infinity) }
    }

    @Test func gammaGamma() throws {
        let gg = GammaGamma(p: 6.25, q: 3.74, gamma: 15.44)
        #expect(relClose(try gg.conditionalExpectedValue(x: 3, m: 41.2), (15.44 + 41.2 * 3) * 6.25 / (6.25 * 3 + 3.74 - 1), 1e-15))
        #expect(relClose(try gg.conditionalExpectedValue(x: 0, m: .nan), 6.25 * 15.44 / 2.74, 1e-15))
        #expect(throws: ModelUndefined.self) { try GammaGamma(p: 2, q: 0.9, gamma: 3).conditionalExpectedValue(x: 2, m: 10) }
    }

    @Test func correlationCheck() throws {
        // scipy.stats.pearsonr 1.17: r = 0.9076906346261386, p = 0.001832798460016227.
        let x: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 0]
        let m: [Double] = [10, 12, 9, 15, 14, 20, 18, 22, .nan]
        let c = try CustomerSummaries(frequency: x, recency: x.map { $0 }, age: x.map { _ in 10 }, monetary: m)
        let r = try GammaGamma.frequencyValueCorrelation(c)
        #expect(r.n == 8)
        #expect(relClose(r.correlation, 0.9076906346261386, 1e-13))
        #expect(relClose(r.pValue, 0.001832798460016227, 1e-9))
    }
}
