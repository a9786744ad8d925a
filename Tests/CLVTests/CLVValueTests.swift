import Foundation
import Stats
import Testing

@testable import CLV

@Suite("Discounted CLV")
struct CLVValueTests {

    let customers = try! CustomerSummaries(
        frequency: [0, 2, 7], recency: [0, 30.43, 29.43], age: [38.86, 38.86, 35],
        monetary: [.nan, 25, 40])
    let bg = BGNBD(r: 0.243, alpha: 4.414, a: 0.793, b: 2.426)
    let gg = GammaGamma(p: 6.25, q: 3.74, gamma: 15.44)

    @Test func matchesExplicitSum() throws {
        let clv = try discountedCLV(
            transactions: bg, value: gg, customers: customers, horizonYears: 2, stepsPerYear: 12,
            annualDiscountRate: 0.1, margin: 0.3, weeksPerUnit: 1)
        for i in 0..<customers.count {
            let x = customers.frequency[i], tx = customers.recency[i], T = customers.age[i]
            let v = try gg.conditionalExpectedValue(x: x, m: customers.monetary[i])
            var expected = 0.0
            for k in 1...24 {
                let t1 = Double(k) * (365.25 / 7) / 12, t0 = Double(k - 1) * (365.25 / 7) / 12
                let d = try bg.conditionalExpectedTransactions(t1, x: x, tx: tx, T: T) - bg.conditionalExpectedTransactions(t0, x: x, tx: tx, T: T)
                expected += d * v * 0.3 / pow(1.1, Double(k) / 12)
            }
            #expect(relClose(clv[i], expected, 1e-12))
        }
        // No discounting: expected transactions over 2 years times value times margin.
        let flat = try discountedCLV(transactions: bg, value: gg, customers: customers, horizonYears: 2, annualDiscountRate: 0, weeksPerUnit: 1)
        let e = try bg.conditionalExpectedTransactions(2 * 365.25 / 7, x: 2, tx: 30.43, T: 38.86)
        #expect(relClose(flat[1], e * (try gg.conditionalExpectedValue(x: 2, m: 25)), 1e-12))
        #expect(zip(clv, flat).allSatisfy { $0 < $1 * 0.3 })
    }

    /// The same customers and model expressed in days give the same CLV when weeksPerUnit = 1/7.
    @Test func unitInvariance() throws {
        let days = try CustomerSummaries(
            frequency: customers.frequency, recency: customers.recency.map { $0 * 7 },
            age: customers.age.map { $0 * 7 }, monetary: customers.monetary)
        let pnW = ParetoNBD(r: 0.553, alpha: 10.578, s: 0.606, beta: 11.669)
        let pnD = ParetoNBD(r: 0.553, alpha: 10.578 * 7, s: 0.606, beta: 11.669 * 7)
        let w = try discountedCLV(transactions: pnW, value: gg, customers: customers, horizonYears: 3, annualDiscountRate: 0.08, weeksPerUnit: 1)
        let d = try discountedCLV(transactions: pnD, value: gg, customers: days, horizonYears: 3, annualDiscountRate: 0.08, weeksPerUnit: 1.0 / 7)
        for i in 0..<w.count { #expect(relClose(w[i], d[i], 1e-10)) }
    }

    @Test func refusesUndefinedModels() {
        #expect(throws: ModelUndefined.self) {
            try discountedCLV(
                transactions: BGNBD(r: 1, alpha: 1, a: 1, b: 1, boundary: ["a"]), value: gg, customers: customers,
                horizonYears: 1, annualDiscountRate: 0.1, weeksPerUnit: 1)
        }
        #expect(throws: CLVError.self) {
            try discountedCLV(transactions: bg, value: gg, customers: customers, horizonYears: 1.03, annualDiscountRate: 0.1, weeksPerUnit: 1)
        }
    }
}
