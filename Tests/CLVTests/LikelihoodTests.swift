import Foundation
import Stats
import Testing

@testable import CLV

/// A small deterministic customer set with repeated triples, x = 0, t_x = 0 with x > 0 and t_x = T.
func smallSample() throws -> CustomerSummaries {
    var x: [Double] = [0, 2, 1, 7, 1, 0, 0, 3, 3, 12, 1, 5]
    var tx: [Double] = [0, 30.43, 1.71, 29.43, 0, 0, 0, 20.5, 20.5, 38.0, 38.86, 10]
    var T: [Double] = [38.86, 38.86, 38.86, 35.0, 20.0, 38.86, 27.1, 30.0, 30.0, 38.0, 38.86, 33]
    var g = SeededGenerator(seed: 7)
    for _ in 0..<40 {
        let TT = 20 + 20 * g.nextUnit()
        let xx = Double(g.next(below: 6))
        x.append(xx); T.append(TT); tx.append(xx == 0 ? 0 : TT * g.nextUnit())
    }
    let m = x.map { $0 > 0 ? 10 + 30 * Double(Int($0) % 4) : .nan }
    return try CustomerSummaries(frequency: x, recency: tx, age: T, monetary: m)
}

/// Central-difference gradient with a step relative to each parameter.
func numericGradient(_ p: [Double], _ f: ([Double]) -> Double) -> [Double] {
    (0..<p.count).map { i in
        let h = 1e-6 * p[i]
        var up = p, dn = p
        up[i] += h; dn[i] -= h
        return (f(up) - f(dn)) / (up[i] - dn[i])
    }
}

@Suite("Likelihoods against mpmath and gradients against finite differences")
struct LikelihoodTests {

    @Test func bgnbdPerCustomer() throws {
        for (r, al, a, b, x, tx, T, expected) in Ref.bgnbdLL {
            let m = BGNBD(r: r, alpha: al, a: a, b: b)
            let v = m.logLikelihood(x: x, tx: tx, T: T)
            #expect(close(v, expected, 1e-12), "BG/NBD \((r, al, a, b)) customer \((x, tx, T)): \(v) vs \(expected)")
            // Kernel on a one-customer data set.
            let c = try CustomerSummaries(frequency: [x], recency: [tx], age: [T])
            #expect(close(m.logLikelihood(c), expected, 1e-12))
        }
    }

    @Test func paretoPerCustomer() throws {
        for (r, al, s, be, x, tx, T, expected) in Ref.paretoLL {
            let m = ParetoNBD(r: r, alpha: al, s: s, beta: be)
            let v = m.logLikelihood(x: x, tx: tx, T: T)
            #expect(close(v, expected, 1e-11), "Pareto/NBD \((r, al, s, be)) customer \((x, tx, T)): \(v) vs \(expected)")
            let c = try CustomerSummaries(frequency: [x], recency: [tx], age: [T])
            #expect(close(m.logLikelihood(c), expected, 1e-11))
        }
    }

    @Test func gammaGammaPerCustomer() throws {
        for (p, q, g, x, mv, expected) in Ref.gammaGammaLL {
            let m = GammaGamma(p: p, q: q, gamma: g)
            #expect(close(m.logLikelihood(x: x, m: mv), expected, 1e-12), "GG \((p, q, g)) \((x, mv))")
            let c = try CustomerSummaries(frequency: [x], recency: [1], age: [2], monetary: [mv])
            #expect(close(try m.logLikelihood(c), expected, 1e-12))
        }
    }

    @Test func kernelsEqualSumOfCustomers() throws {
        let c = try smallSample()
        let bg = BGNBD(r: 0.4, alpha: 6, a: 0.8, b: 3)
        #expect(close(bg.logLikelihood(c), bg.logLikelihoods(c).reduce(0, +), 1e-12))
        for (r, al, s, be) in [(0.55, 10.6, 0.6, 11.7), (0.9, 15.0, 1.4, 6.0), (0.4, 2.0, 0.3, 60.0), (1.2, 80.0, 0.5, 3.0), (0.5, 7.0, 0.8, 7.0)] {
            let pn = ParetoNBD(r: r, alpha: al, s: s, beta: be)
            #expect(close(pn.logLikelihood(c), pn.logLikelihoods(c).reduce(0, +), 1e-11), "\((r, al, s, be))")
        }
    }

    @Test func bgnbdGradient() throws {
        let c = try smallSample()
        for p in [[0.243, 4.414, 0.793, 2.426], [1.7, 12.0, 3.5, 1.2], [0.05, 0.8, 0.01, 40.0], [3.0, 50.0, 20.0, 0.2]] {
            let (_, g) = BGNBD(r: p[0], alpha: p[1], a: p[2], b: p[3]).logLikelihoodGradient(c)
            let num = numericGradient(p) { q in BGNBD(r: q[0], alpha: q[1], a: q[2], b: q[3]).logLikelihood(c) }
            for i in 0..<4 {
                #expect(abs(g[i] - num[i]) <= 1e-6 * max(1, abs(num[i])), "BG/NBD d/d\(BGNBD.parameterNames[i]) at \(p): analytic \(g[i]) numeric \(num[i])")
            }
        }
    }

    @Test func paretoGradient() throws {
        let c = try smallSample()
        // alpha < beta, alpha > beta, z > 0.9 both ways, alpha = beta.
        for p in [
            [0.553, 10.578, 0.606, 11.669], [0.9, 15.0, 1.4, 6.0], [0.4, 2.0, 0.3, 60.0], [1.2, 80.0, 0.5, 3.0], [0.5, 7.0, 0.8, 7.0], [2.0, 3.0, 5.0, 100.0],
        ] {
            let (_, g) = ParetoNBD(r: p[0], alpha: p[1], s: p[2], beta: p[3]).logLikelihoodGradient(c)
            let num = numericGradient(p) { q in ParetoNBD(r: q[0], alpha: q[1], s: q[2], beta: q[3]).logLikelihood(c) }
            for i in 0..<4 {
                #expect(
                    abs(g[i] - num[i]) <= 1e-5 * max(1, abs(num[i])), "Pareto/NBD d/d\(ParetoNBD.parameterNames[i]) at \(p): analytic \(g[i]) numeric \(num[i])"
                )
            }
        }
    }

    @Test func gammaGammaGradient() throws {
        let c = try smallSample()
        for p in [[6.25, 3.74, 15.44], [0.8, 1.5, 3.0], [20.0, 0.5, 100.0]] {
            let (_, g) = try GammaGamma(p: p[0], q: p[1], gamma: p[2]).logLikelihoodGradient(c)
            let num = numericGradient(p) { q in try! GammaGamma(p: q[0], q: q[1], gamma: q[2]).logLikelihood(c) }
            for i in 0..<3 {
                #expect(abs(g[i] - num[i]) <= 1e-6 * max(1, abs(num[i])), "GG d/d\(GammaGamma.parameterNames[i]) at \(p): analytic \(g[i]) numeric \(num[i])")
            }
        }
    }

    @Test func summariesValidation() {
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [1], recency: [5], age: [4]) }
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [0], recency: [1], age: [4]) }
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [1.5], recency: [1], age: [4]) }
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [1, 2], recency: [1], age: [4]) }
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [1], recency: [1], age: [0]) }
        #expect(throws: CLVError.self) { try CustomerSummaries(frequency: [1], recency: [1], age: [3], monetary: [-2]) }
        let ok = try? CustomerSummaries(frequency: [0, 1], recency: [0, 1], age: [3, 3], monetary: [0, 4])
        #expect(ok?.monetary[0].isNaN == true)
    }
}
