import CLVAnalysis
import Foundation
import Stats
import Tabular
import Testing
import Transactions

@testable import CLV

extension ToyShop {
    /// A shop whose customers follow a BG/NBD exactly: they join over the first 200 days of 2020, buy at a
    /// Poisson rate lambda ~ Gamma(r, alpha) per day and after each repeat purchase leave with probability
    /// p ~ Beta(a, b); the log ends on day 600. One purchase a day at most (the stage's customer-day), so
    /// rates are kept low.
    init(bgnbdCustomers n: Int, seed: UInt64, r: Double = 0.8, alpha: Double = 40, a: Double = 1, b: Double = 3) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("clv-bgnbd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var sampler = Sampler(seed: seed)
        let start = CalendarDay.parse("2020-01-01")!
        var lines = "customer,date,value\n"
        for c in 0..<n {
            let birth = Int(sampler.uniform() * 200)
            let lambda = sampler.gamma(r, rate: alpha)
            let p = sampler.beta(a, b)
            var days = [birth]
            var t = Double(birth)
            while true {
                t += sampler.exponential(rate: lambda)
                if t >= 600 { break }
                if Int(t) != days.last! { days.append(Int(t)) }
                if sampler.bernoulli(p) { break }
            }
            let spend = 10 + 40 * sampler.uniform()
            for d in days { lines += "c\(c),\(CalendarDay.string(start + d)),\(String(format: "%.2f", spend * (0.5 + sampler.uniform())))\n" }
        }
        try lines.write(toFile: logFile, atomically: true, encoding: .utf8)
        try "frequency,recency,T\n0,0,1\n".write(toFile: sampleFile, atomically: true, encoding: .utf8)
    }
}

@Suite("Model choice by the holdout log-likelihood")
struct ModelChoiceTests {

    /// The issue's finding: on BG/NBD data `auto` by holdout MAE chose Pareto/NBD in every seed. By the holdout
    /// log-likelihood (a proper score) it must choose the true model, here against every registered model.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func autoPicksTheTrueModelOnBGNBDData(seed: UInt64) throws {
        let shop = try ToyShop(bgnbdCustomers: 3000, seed: seed)
        defer { shop.remove() }
        var p = try shop.params(models: nil, production: "auto", replication: false)
        p.holdoutWeeks = 30
        let r = try CLVAnalysis.run(p)
        #expect(r.evaluations.map(\.key) == ["bgnbd", "mbgnbd", "paretonbd"])
        for e in r.evaluations {
            print("seed \(seed) \(e.name): holdout LL \(e.holdoutLogLikelihood), MAE \(e.mae), RMSE \(e.rmse), aggregate \(e.aggregateError)")
            #expect(e.holdoutLogLikelihood.isFinite && e.holdoutLogLikelihood < 0)
        }
        #expect(r.productionModel == BGNBD.displayName, "\(r.productionReason)")
        #expect(r.productionReason.hasPrefix("highest holdout log-likelihood: BG/NBD"))
        // The criterion is a parameter: MAE ranks by MAE (documented as improper).
        #expect(CLVAnalysis.rank(r.evaluations, by: .holdoutMAE).first?.mae == r.evaluations.map(\.mae).min())
    }

    /// A model that cannot give its predictive distribution is not ranked by the holdout log-likelihood, and
    /// when only one model can be scored the reason says it decided nothing.
    @Test func aModelWithoutAPredictiveDistributionIsNotRanked() throws {
        let shop = try ToyShop(bgnbdCustomers: 800, seed: 5)
        defer { shop.remove() }
        let registry = TransactionModelRegistry([NBDTestModel.self, BGNBD.self])
        let p = try shop.params(models: nil, production: "auto", replication: false)
        let r = try CLVAnalysis.run(p, registry: registry)
        #expect(r.evaluations.allSatisfy { $0.undefined == nil }, "\(r.evaluations.map(\.undefined))")
        let nbd = try #require(r.evaluations.first { $0.key == "nbd" })
        #expect(nbd.undefined == nil && nbd.mae.isFinite)
        #expect(nbd.holdoutLogLikelihood.isNaN)
        #expect(nbd.holdoutLogLikelihoodUndefined?.contains("predictive distribution") == true)
        #expect(r.productionModel == BGNBD.displayName)
        #expect(r.ranking == [BGNBD.displayName])
        #expect(r.productionReason.hasPrefix("the only model that can be scored"), "\(r.productionReason)")
        #expect(r.productionReason.contains("NBD (test) cannot be scored"), "\(r.productionReason)")
        let report = CLVReport.build(r, params: p, figureDir: "f", tableDir: "t")
        #expect(report.contains("holdout log-likelihood"))
    }
}
