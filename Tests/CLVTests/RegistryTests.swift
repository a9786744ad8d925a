import CLVAnalysis
import Foundation
import Stats
import Tabular
import Testing
import Transactions

@testable import CLV

/// A transaction model that exists only in this test: the NBD (Poisson purchases at rate lambda ~ Gamma(r,
/// alpha), nobody drops out). Registered in a test registry, it must go through the whole analysis with no
/// code outside this type knowing it: that is what adding a model costs.
struct NBDTestModel: TransactionModel, Equatable {
    static let key = "nbd"
    static let displayName = "NBD (test)"
    static let parameterNames = ["r", "alpha"]
    static let parameterKinds: [ParameterKind] = [.shape, .scale]

    var r: Double
    var alpha: Double
    var boundary: [String]

    init(estimates e: [Double], boundary: [String]) {
        r = e[0]
        alpha = e[1]
        self.boundary = boundary
    }

    static func startValues(_ data: CompressedSummaries) -> [[Double]] {
        let rate = max(data.meanFrequency, 0.05) / data.meanAge
        return [[0.5, 0.5 / rate], [2, 2 / rate]]
    }

    /// LL_i = ln G(r+x) - ln G(r) + r ln alpha - (r+x) ln(alpha+T), x whole, so the gamma ratio is a sum of logs.
    static func logLikelihoodFunction(_ data: CompressedSummaries) -> LogLikelihoodFunction {
        { p, g in
            let r = p[0], alpha = p[1]
            var ll = 0.0, dr = 0.0, dalpha = 0.0
            for i in data.x.indices {
                let x = Int(data.x[i]), T = data.times[Int(data.TIndex[i])], w = data.weight[i]
                var logRatio = 0.0, digammaRatio = 0.0
                for k in 0..<x {
                    logRatio += log(r + Double(k))
                    digammaRatio += 1 / (r + Double(k))
                }
                let rx = r + Double(x)
                ll += w * (logRatio + r * log(alpha) - rx * log(alpha + T))
                dr += w * (digammaRatio + log(alpha) - log(alpha + T))
                dalpha += w * (r / alpha - rx / (alpha + T))
            }
            if let g {
                g[0] = dr
                g[1] = dalpha
            }
            return ll
        }
    }

    private func check(_ quantity: String) throws(ModelUndefined) {
        guard boundary.isEmpty else { throw ModelUndefined(quantity: quantity, reason: "boundary \(boundary)") }
    }

    func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        try check("P(alive)")
        return 1
    }

    func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double {
        try check("E[X(t)]")
        return r * t / alpha
    }

    func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        try check("E[Y(t) | x, t_x, T]")
        return (r + x) * t / (alpha + T)
    }
}

/// A small shop: customers join over the first 200 days of 2020 and buy at their own Poisson rate until the
/// log ends (day 500), each purchase worth half to one and a half times the customer's mean spend. Written as a CSV transaction log, and its calibration
/// summaries (first 300 days) as a CDNOW-style summary file.
struct ToyShop {
    let directory: String
    var logFile: String { directory + "/log.csv" }
    var sampleFile: String { directory + "/sample.csv" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("clv-registry-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var sampler = Sampler(seed: 2024)
        let start = CalendarDay.parse("2020-01-01")!
        var lines = "customer,date,value\n"
        var sample = "frequency,recency,T\n"
        for c in 0..<150 {
            let birth = Int(sampler.uniform() * 200)
            let rate = sampler.gamma(1.5, rate: 50)  // purchases per day, mean 0.03
            // Customers differ in what they spend, as Gamma-Gamma assumes (a common mean would be its ridge).
            let meanSpend = 10 + 60 * sampler.uniform() * sampler.uniform()
            var days = [birth]
            var t = Double(birth)
            while true {
                t += -log(sampler.uniform()) / rate
                if t >= 500 { break }
                days.append(Int(t))
            }
            for d in days { lines += "c\(c),\(CalendarDay.string(start + d)),\(decimal(meanSpend * (0.5 + sampler.uniform())))\n" }
            let calibration = Array(Set(days.filter { $0 < 300 })).sorted()
            sample += "\(calibration.count - 1),\(decimal(Double(calibration.last! - birth) / 7)),\(decimal(Double(300 - birth) / 7))\n"
        }
        try lines.write(toFile: logFile, atomically: true, encoding: .utf8)
        try sample.write(toFile: sampleFile, atomically: true, encoding: .utf8)
    }

    private func decimal(_ v: Double) -> String { String(format: "%.4f", v) }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Stage parameters over the toy files, decoded as the stage decodes them.
    func params(models: [String]?, production: String, replication: Bool = true) throws -> CLVParams {
        let spec: [String: Any] = [
            "name": "toy shop", "file": logFile, "format": "csv", "customer": "customer", "date": "date", "value": "value",
            "cleaning": [
                "drop_missing_customer": true, "drop_nonpositive_quantity": false, "drop_nonpositive_price": true,
                "non_merchandise_codes": [String](),
            ],
        ]
        var object: [String: Any] = [
            "retail": spec, "unit_days": 7, "holdout_weeks": 20, "horizon_weeks": 26, "margin": 0.3,
            "annual_discount_rate": 0.1, "clv_years": 1, "production_model": production, "top_customers": 5, "calibration_groups": 3,
            "cdnow": ["sample_file": sampleFile, "calibration_end": "2020-10-27", "observation_end": "2021-05-14", "master": spec],
            "rfm_segments": [["name": "everyone", "r": [1, 5], "f": [1, 5]]],
        ]
        if let models { object["models"] = models }
        if !replication { object["cdnow"] = nil }
        return try JSONDecoder().decode(CLVParams.self, from: JSONSerialization.data(withJSONObject: object))
    }
}

@Suite struct RegistryTests {

    @Test func registeredModelsAreConsistent() {
        let registry = TransactionModelRegistry.standard
        #expect(Set(registry.keys).count == registry.keys.count, "duplicate keys: \(registry.keys)")
        #expect(Set(registry.models.map { $0.displayName }).count == registry.models.count)
        for m in registry.models {
            #expect(!m.key.isEmpty && m.key == m.key.lowercased() && !m.key.contains(" "), "key '\(m.key)' names files and columns")
            #expect(m.parameterKinds.count == m.parameterNames.count, "\(m.key): one kind per parameter")
            #expect(m.key != CLVParams.automaticProduction && m.key != CLVAnalysis.spendModelKey)
        }
    }

    @Test func everyRegisteredModelFitsThroughTheTemplate() throws {
        let c = try simulateBGNBD(n: 600, seed: 5, r: 0.6, alpha: 4, a: 1.2, b: 3)
        for m in TransactionModelRegistry.standard.models {
            let (model, fit) = try m.fitModel(c)
            #expect(fit.model == m.displayName)
            #expect(fit.parameterNames == m.parameterNames)
            #expect(fit.logLikelihood.isFinite)
            #expect(type(of: model).key == m.key)
        }
    }

    @Test func unknownKeysNameTheValidOnes() throws {
        let registry = TransactionModelRegistry.standard
        #expect(throws: UnknownTransactionModel.self) { try registry.model("ggnbd") }
        do {
            _ = try registry.model("ggnbd")
        } catch {
            for key in registry.keys { #expect(error.description.contains(key), "\(error)") }
        }
        #expect(try registry.models(nil).map { $0.key } == registry.keys)
        #expect(try registry.models(["paretonbd"]).map { $0.key } == ["paretonbd"])

        let shop = try ToyShop()
        defer { shop.remove() }
        #expect(throws: Never.self) { try shop.params(models: nil, production: "auto").validate(source: "p.yaml") }
        #expect(throws: Never.self) { try shop.params(models: nil, production: "paretonbd").validate(source: "p.yaml") }
        for (models, production) in [(nil, "ggnbd"), (["bgnbd"], "paretonbd"), (["bgnbd", "nope"], "bgnbd"), (["bgnbd", "bgnbd"], "auto")]
            as [([String]?, String)]
        {
            do {
                try shop.params(models: models, production: production).validate(source: "p.yaml")
                Issue.record("models \(String(describing: models)), production \(production) accepted")
            } catch let error as DataError {
                #expect(error.file == "p.yaml")
                #expect(error.description.contains("bgnbd"), "the error lists the valid keys: \(error)")
            }
        }
    }

    /// The test model, registered only here, through fits, holdout evaluation, production choice, refits,
    /// forward predictions, the CDNOW replication, the tables, the figures and the report.
    @Test func aModelRegisteredOnlyInTheTestRunsThroughTheWholeAnalysis() throws {
        let shop = try ToyShop()
        defer { shop.remove() }
        let registry = TransactionModelRegistry([NBDTestModel.self, BGNBD.self])
        let p = try shop.params(models: nil, production: "nbd")
        try p.validate(source: "p.yaml", registry: registry)
        #expect(throws: DataError.self) { try p.validate(source: "p.yaml") }  // unknown to the standard registry
        let r = try CLVAnalysis.run(p, registry: registry)

        #expect(r.evaluations.map(\.key) == ["nbd", "bgnbd"])
        let e = try #require(r.evaluations.first)
        #expect(e.name == NBDTestModel.displayName && e.undefined == nil)
        #expect(e.fit.parameterNames == ["r", "alpha"] && e.fit.converged)
        // The holdout predictions are the test model's own formula at its calibration fit.
        let fitted = NBDTestModel(estimates: e.fit.estimates, boundary: [])
        let s = r.calibration
        for i in 0..<s.count {
            #expect(e.holdoutPredicted[i] == (fitted.r + s.frequency[i]) * s.holdoutLength / (fitted.alpha + s.age[i]))
        }
        #expect(e.mae.isFinite && e.trackingCumulative.allSatisfy(\.isFinite))
        #expect(e.calibrationMeans.count == p.calibrationGroups + 1)

        // Production is the test model, refitted on the whole period.
        #expect(r.productionModel == NBDTestModel.displayName)
        #expect(r.wholePeriodFits.map(\.key) == ["nbd", "bgnbd", CLVAnalysis.spendModelKey])
        let whole = NBDTestModel(estimates: r.wholePeriodFits[0].fit.estimates, boundary: [])
        let horizon = p.horizonWeeks * 7 / p.unitDays
        for i in 0..<r.full.count {
            #expect(r.predictions.probabilityAlive[i] == 1)
            #expect(r.predictions.expectedTransactions[i] == (whole.r + r.full.frequency[i]) * horizon / (whole.alpha + r.full.age[i]))
            #expect(r.predictions.clv[i].isFinite && r.predictions.clv[i] > 0)
        }

        // The replication fits it on the summary file and on the log's calibration period.
        let replicated = try #require(r.replication).filter { $0.model == NBDTestModel.displayName }
        #expect(Set(replicated.map(\.data)).count == 2)
        #expect(replicated.filter { $0.parameter == "LL" }.count == 2)

        // Files, figures and report follow the registered models.
        let tables = Dictionary(uniqueKeysWithValues: CLVOutputs.tables(r).map { ($0.name, $0.table) })
        for name in ["calibration_plot", "tracking"] {
            let names = try #require(tables[name]).names
            #expect(names.contains("predicted_nbd") && names.contains("predicted_bgnbd"), "\(name): \(names)")
        }
        #expect(try #require(tables["model_comparison"]).strings("model").values == [NBDTestModel.displayName, BGNBD.displayName])
        #expect(CLVOutputs.fitFiles(r).map(\.key) == ["nbd", "bgnbd", CLVAnalysis.spendModelKey])
        let report = CLVReport.build(r, params: p, figureDir: "figures", tableDir: "tables")
        #expect(report.contains("(GSL): NBD (test) and BG/NBD for the number of transactions"))
        #expect(report.contains("**NBD (test)** (n = "))
        #expect(report.contains("Production model for forward predictions: **NBD (test)** (chosen in the parameters)"))
        let figures = CLVFigures.figures(r)
        #expect(figures.map(\.name) == ["calibration", "tracking", "rfm_segments"])
    }
}
