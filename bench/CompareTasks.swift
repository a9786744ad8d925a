import ArgumentParser
import CLV
import CLVAnalysis
import Forest
import Foundation
import PipelineCLI
import ProjectSpec
import Stats
import Tabular
import Uplift

/// The Swift side of `make bench-compare`: each task runs in a child process of bench/compare.py,
/// which times its peer in the same process tree, interleaved with these runs. A child prints one
/// line of JSON: the seconds of the timed work (measured here, so process start and reading the
/// inputs are left out, as they are for the peer) and the values the parent checks against the
/// peer's.
enum CompareTasks {
    static func seconds(since t0: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    }

    /// Shortest round-trip text of a double; JSON has no NaN or infinity, so those become null.
    static func json(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
    static func json(_ v: [Double]) -> String { "[" + v.map(json).joined(separator: ",") + "]" }
    static func json(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { json($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    // MARK: CLV inputs

    /// Writes the summaries the CLV stage fits on Online Retail II (computed by the stage's own code
    /// from the project's order log), so lifetimes and the Swift fitters read the same numbers:
    /// `retail_calibration.csv` (frequency, recency, T in weeks: BG/NBD and Pareto/NBD) and
    /// `retail_spend.csv` (the Gamma-Gamma input: repeat customers with a positive spend, x and m).
    static func writeCLVInputs(raw: String, into directory: String) throws {
        var (params, _) = try Params.load(CLVParams.self, from: "stages/clv/params.yaml")
        let (project, _) = try Params.load(ProjectFile.self, from: "project.yaml")
        params.retail = project.orders
        params.retail?.file = raw + "/online_retail_II.csv"
        params.cdnow = nil
        let result = try CLVAnalysis.run(params)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let calibration = try CLVAnalysis.customerSummaries(result.calibration)
        var writer = CSVWriter(header: ["frequency", "recency", "T"])
        for i in 0..<calibration.count {
            writer.writeRow([formatDouble(calibration.frequency[i]), formatDouble(calibration.recency[i]), formatDouble(calibration.age[i])])
        }
        try AtomicFile.write(writer.bytes, to: directory + "/retail_calibration.csv")

        let spend = try CLVAnalysis.spendSummaries(result.calibration)
        var spendWriter = CSVWriter(header: ["frequency", "monetary"])
        var repeatCustomers = 0
        for i in 0..<spend.count where spend.frequency[i] > 0 && spend.monetary[i] > 0 {
            spendWriter.writeRow([formatDouble(spend.frequency[i]), formatDouble(spend.monetary[i])])
            repeatCustomers += 1
        }
        try AtomicFile.write(spendWriter.bytes, to: directory + "/retail_spend.csv")
        print(object([("calibration_customers", "\(calibration.count)"), ("spend_customers", "\(repeatCustomers)")]))
    }

    // MARK: CLV fits

    /// One fit of `model` on the summaries in `path` after one untimed warm-up fit (the peer is
    /// warmed up the same way). Gamma-Gamma reads `frequency,monetary`; the others `frequency,recency,T`.
    /// With `repeats` > 1, that many timed fits: `seconds` is their median, `seconds_min` the fastest.
    static func fitCLV(model: String, path: String, repeats: Int = 1) throws {
        let summaries: CustomerSummaries
        if model == "gammagamma" {
            let table = try CSVReader.read(path: path, schema: CSVSchema([ColumnSpec("frequency", .double), ColumnSpec("monetary", .double)]))
            let x = try table.doubles("frequency")
            summaries = try CustomerSummaries(
                frequency: x, recency: [Double](repeating: 0, count: x.count), age: [Double](repeating: 1, count: x.count),
                monetary: try table.doubles("monetary"))
        } else {
            summaries = try CustomerSummaries.read(path: path)
        }
        func fit() throws -> FitResult {
            switch model {
            case "bgnbd": return try BGNBD.fit(summaries).1
            case "paretonbd": return try ParetoNBD.fit(summaries).1
            case "gammagamma": return try GammaGamma.fit(summaries).1
            default: throw ValidationError("unknown model '\(model)' (bgnbd, paretonbd, gammagamma)")
            }
        }
        _ = try fit()
        var times: [Double] = []
        var last: FitResult?
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now()
            last = try fit()
            times.append(seconds(since: t0))
        }
        let result = last!
        times.sort()
        let elapsed = times.count % 2 == 1 ? times[times.count / 2] : 0.5 * (times[times.count / 2 - 1] + times[times.count / 2])
        print(
            object([
                ("seconds", json(elapsed)), ("seconds_min", json(times[0])), ("customers", "\(summaries.count)"),
                ("names", "[" + result.parameterNames.map(json).joined(separator: ",") + "]"), ("estimates", json(result.estimates)),
                ("log_likelihood", json(result.logLikelihood)), ("converged", result.converged ? "true" : "false"),
                ("boundary", json(result.boundary.joined(separator: " "))),
            ]))
    }

    // MARK: forest training

    /// The encoded training split as the uplift stage sees it: the frozen model's encoder applied to
    /// the prepared rows, split into control and treated rows.
    static func encodedSplit(train: String, encoder: String, target: String, treatment: String) throws -> (
        control: (FeatureMatrix, [Double]), treated: (FeatureMatrix, [Double]), encoder: FeatureEncoder
    ) {
        let enc = try JSONDecoder().decode(FeatureEncoder.self, from: Data(contentsOf: URL(fileURLWithPath: encoder)))
        let schema = CSVSchema(enc.requiredColumns + [ColumnSpec(target, .double), ColumnSpec(treatment, .int)])
        let table = try CSVReader.read(path: train, schema: schema)
        let (x, _) = try enc.encode(table)
        let y = try table.doubles(target)
        let t = try table.ints(treatment)
        let c = t.indices.filter { t[$0] == 0 }, tr = t.indices.filter { t[$0] != 0 }
        return ((x.rows(c), c.map { y[$0] }), (x.rows(tr), tr.map { y[$0] }), enc)
    }

    /// Trains the T-learner's two forests (control rows, treated rows) with `params`, timed together,
    /// on `threads` threads. With `test`, also scores the test split (untimed) and reports the
    /// normalized AUUC of mu1 - mu0 on `target`, the held-out quality the peer's forests are held to.
    static func trainForests(
        train: String, test: String?, encoder: String, target: String, treatment: String, params: ForestParams, propensity: Double, threads: Int
    ) throws {
        let (control, treated, enc) = try encodedSplit(train: train, encoder: encoder, target: target, treatment: treatment)
        let t0 = DispatchTime.now()
        let mu0 = try ForestTrainer.train(control.0, control.1, params: params, threads: threads).forest
        var p1 = params
        p1.seed = params.seed &+ 1
        let mu1 = try ForestTrainer.train(treated.0, treated.1, params: p1, threads: threads).forest
        let elapsed = seconds(since: t0)
        var fields: [(String, String)] = [
            ("seconds", json(elapsed)), ("rows_control", "\(control.0.rowCount)"), ("rows_treated", "\(treated.0.rowCount)"),
            ("features", "\(control.0.columnCount)"), ("threads", "\(threads)"),
            ("feature_sum", json(control.0.values.reduce(0, +) + treated.0.values.reduce(0, +))),
            ("target_sum", json(control.1.reduce(0, +) + treated.1.reduce(0, +))),
            ("nodes", "\(mu0.trees.reduce(0) { $0 + $1.nodeCount } + mu1.trees.reduce(0) { $0 + $1.nodeCount })"),
        ]
        if let test {
            let schema = CSVSchema(enc.requiredColumns + [ColumnSpec(target, .double), ColumnSpec(treatment, .int)])
            let table = try CSVReader.read(path: test, schema: schema)
            let (x, _) = try enc.encode(table)
            let s1 = mu1.predict(x, threads: threads)
            let s0 = mu0.predict(x, threads: threads)
            let scores = zip(s1, s0).map { $0 - $1 }
            let evaluator = UpliftEvaluator(
                scores: scores, treated: try table.ints(treatment).map { $0 != 0 }, y: try table.doubles(target), propensity: propensity)
            fields.append(("test_auuc", json(evaluator.normalizedAUUC())))
        }
        print(object(fields))
    }

    // MARK: uplift evaluation

    /// The uplift stage's evaluation of one set of test scores: normalized AUUC on every outcome and
    /// the Qini coefficient on the binary ones, then a paired bootstrap (every replicate re-weights
    /// the rows once and evaluates every metric on those weights) with percentile intervals. Timed:
    /// building the evaluators (the rankings), the point values and the bootstrap.
    static func evaluateUplift(
        test: String, scores: String, scoreColumn: String, treatment: String, outcomes: [String], binary: Set<String>, propensity: Double,
        replicates: Int, seed: UInt64, show: Int, threads: Int
    ) throws {
        let testTable = try CSVReader.read(
            path: test, schema: CSVSchema([ColumnSpec("row_id", .int), ColumnSpec(treatment, .int)] + outcomes.map { ColumnSpec($0, .double) }))
        let scoreTable = try CSVReader.read(path: scores, schema: CSVSchema([ColumnSpec("row_id", .int), ColumnSpec(scoreColumn, .double)]))
        guard try testTable.ints("row_id") == scoreTable.ints("row_id") else {
            throw DataError(file: scores, message: "row_id does not follow \(test) row for row")
        }
        let s = try scoreTable.doubles(scoreColumn)
        let treated = try testTable.ints(treatment).map { $0 != 0 }
        let ys = try outcomes.map { try testTable.doubles($0) }

        let t0 = DispatchTime.now()
        let evaluators = ys.map { UpliftEvaluator(scores: s, treated: treated, y: $0, propensity: propensity) }
        let isBinary = outcomes.map { binary.contains($0) }
        func metrics(_ w: [Double]?) -> [Double] {
            var out: [Double] = []
            for (k, ev) in evaluators.enumerated() {
                out.append(ev.normalizedAUUC(weights: w))
                if isBinary[k] { out.append(ev.qiniCoefficient(weights: w)) }
            }
            return out
        }
        let point = metrics(nil)
        let snapshot = evaluators
        let reps = Bootstrap.replicates(replicates, rows: s.count, seed: seed, threads: threads) { w in
            var out: [Double] = []
            for (k, ev) in snapshot.enumerated() {
                out.append(ev.normalizedAUUC(weights: w))
                if isBinary[k] { out.append(ev.qiniCoefficient(weights: w)) }
            }
            return out
        }
        let intervals = point.indices.map { m in Bootstrap.percentileInterval(reps.map { $0[m] }, level: 0.95) }
        let elapsed = seconds(since: t0)
        var names: [String] = []
        for (k, o) in outcomes.enumerated() {
            names.append("auuc_" + o)
            if isBinary[k] { names.append("qini_" + o) }
        }
        print(
            object([
                ("seconds", json(elapsed)), ("rows", "\(s.count)"), ("replicates", "\(replicates)"), ("threads", "\(threads)"),
                ("names", "[" + names.map(json).joined(separator: ",") + "]"), ("point", json(point)),
                ("ci_low", json(intervals.map(\.lower))), ("ci_high", json(intervals.map(\.upper))),
                ("first_replicates", "[" + reps.prefix(show).map(json).joined(separator: ",") + "]"),
            ]))
    }
}
