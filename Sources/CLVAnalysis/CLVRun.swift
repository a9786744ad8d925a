import CLV
import Foundation
import Reporting
import Stats
import Tabular
import Transactions

/// One transaction model fitted on the calibration period and checked on the holdout.
public struct ModelEvaluation: Sendable {
    public var key: String
    public var name: String
    public var fit: FitResult
    /// Why the model cannot predict (a boundary solution), or nil.
    public var undefined: String?
    public var holdoutPredicted: [Double]
    public var mae: Double
    public var rmse: Double
    public var aggregateError: Double
    /// Mean predicted holdout transactions per calibration-frequency group.
    public var calibrationMeans: [Double]
    /// Cumulative predicted repeat transactions at the end of each week of the tracking plot.
    public var trackingCumulative: [Double]
}

public struct CLVResult: Sendable {
    public var log: CleanedLog
    public var calibrationEnd: Int
    public var observationEnd: Int
    public var calibration: RFMSummaries
    public var evaluations: [ModelEvaluation]
    public var spendFitCalibration: FitResult
    public var correlation: GammaGamma.CorrelationCheck
    /// Fits on the whole observation period, used for forward predictions.
    public var fullFits: [FitResult]
    public var productionModel: String
    public var productionReason: String
    public var full: RFMSummaries
    public var predictions: Table
    public var calibrationPlot: Table
    public var tracking: Table
    public var comparison: Table
    public var segments: Table
    public var replication: Table
    public var replicationFits: [(String, FitResult)]
    public var cleaning: Table
    public var droppedCodes: Table
}

public enum CLVAnalysis {
    public static func run(_ p: CLVParams, progress: (String) -> Void = { _ in }) throws -> CLVResult {
        // The CDNOW replication does not depend on the retail data: it runs on its own thread meanwhile.
        let replicationWork = BackgroundWork { try cdnowReplication(p.cdnow, unitDays: 7) }
        progress("clv: reading \(p.retail.file)")
        let log = try TransactionLog.load(p.retail)
        let days = log.customerDays
        let observationEnd = try p.observationEnd.map { try day($0) } ?? days.lastDay
        let calibrationEnd = observationEnd - p.holdoutWeeks * 7
        guard calibrationEnd > days.firstDay else {
            throw DataError(file: p.retail.file, message: "the holdout (\(p.holdoutWeeks) weeks) is longer than the log")
        }
        let calibration = RFMSummaries.build(days, calibrationEnd: calibrationEnd, observationEnd: observationEnd, unitDays: p.unitDays)
        let calSummaries = try customerSummaries(calibration)

        progress("clv: fitting on \(calibration.count) calibration customers")
        var evaluations: [ModelEvaluation] = []
        let groups = p.calibrationGroups
        let start = days.firstDay
        let weeks = (observationEnd - start) / 7 + 1
        let births = birthCounts(calibration)
        do {
            let (model, fit) = try BGNBD.fit(calSummaries)
            evaluations.append(evaluate(key: "bgnbd", name: "BG/NBD", fit: fit, calibration: calibration, groups: groups,
                                        predict: { try model.conditionalExpectedTransactions($0, x: $1, tx: $2, T: $3) },
                                        unconditional: { try model.expectedTransactions($0) }, births: births, start: start, weeks: weeks, unitDays: p.unitDays))
        }
        do {
            let (model, fit) = try ParetoNBD.fit(calSummaries)
            progress("clv: Pareto/NBD fitted")
            evaluations.append(evaluate(key: "paretonbd", name: "Pareto/NBD", fit: fit, calibration: calibration, groups: groups,
                                        predict: { try model.conditionalExpectedTransactions($0, x: $1, tx: $2, T: $3) },
                                        unconditional: { try model.expectedTransactions($0) }, births: births, start: start, weeks: weeks, unitDays: p.unitDays))
        }
        let (_, spendFit) = try GammaGamma.fit(calSummaries)
        let correlation = try GammaGamma.frequencyValueCorrelation(calSummaries)

        // Production model: the parameter, or the lower holdout MAE among models that can predict.
        let usable = evaluations.filter { $0.undefined == nil }
        var production: ModelEvaluation?
        var reason: String
        switch p.productionModel {
        case .auto:
            production = usable.min { $0.mae < $1.mae }
            reason = production.map { "lowest holdout MAE (\(formatDouble(($0.mae * 1e4).rounded() / 1e4)))" } ?? "no model could predict"
        case .bgnbd, .paretonbd:
            production = evaluations.first { $0.key == p.productionModel.rawValue }
            reason = "chosen in the parameters"
            if let chosen = production, let why = chosen.undefined {
                reason = "chosen in the parameters, but it cannot predict: \(why)"
                production = nil
            }
        }

        // Refit on the whole observation period for forward predictions.
        progress("clv: refitting on the whole period")
        let full = RFMSummaries.build(days, calibrationEnd: observationEnd, observationEnd: observationEnd, unitDays: p.unitDays)
        let fullSummaries = try customerSummaries(full)
        let (fullBG, fullBGFit) = try BGNBD.fit(fullSummaries)
        let (fullPareto, fullParetoFit) = try ParetoNBD.fit(fullSummaries)
        let (fullGG, fullGGFit) = try GammaGamma.fit(fullSummaries)
        let transactionModel: (any TransactionModel)? = production.map { $0.key == "bgnbd" ? fullBG as any TransactionModel : fullPareto as any TransactionModel }
        let aliveFunction: ((Double, Double, Double) throws -> Double)? = production.map { e -> (Double, Double, Double) throws -> Double in
            if e.key == "bgnbd" { return { try fullBG.probabilityAlive(x: $0, tx: $1, T: $2) } }
            return { try fullPareto.probabilityAlive(x: $0, tx: $1, T: $2) }
        }
        let horizon = p.horizonWeeks * 7 / p.unitDays
        var expected = [Double](repeating: .nan, count: full.count)
        var alive = [Double](repeating: .nan, count: full.count)
        var value = [Double](repeating: .nan, count: full.count)
        var clv = [Double](repeating: .nan, count: full.count)
        if let transactionModel, let aliveFunction {
            for i in 0..<full.count {
                let (x, tx, T) = (full.frequency[i], full.recency[i], full.age[i])
                expected[i] = (try? transactionModel.conditionalExpectedTransactions(horizon, x: x, tx: tx, T: T)) ?? .nan
                alive[i] = (try? aliveFunction(x, tx, T)) ?? .nan
            }
            if let v = try? fullGG.conditionalExpectedValues(fullSummaries) { value = v }
            if let c = try? discountedCLV(transactions: transactionModel, value: fullGG, customers: fullSummaries, horizonYears: p.clvYears,
                                          stepsPerYear: 12, annualDiscountRate: p.annualDiscountRate, margin: p.margin,
                                          weeksPerUnit: p.unitDays / 7) {
                clv = c
            }
        }
        let revenue = (0..<full.count).map { full.firstValue[$0] + (full.frequency[$0] > 0 ? full.frequency[$0] * full.monetary[$0] : 0) }
        let (rScore, fScore, mScore, segment) = rfmScores(full, revenue: revenue, rules: p.rfmSegments)
        let predictions = Table(names: ["customer_id", "frequency", "recency", "T", "monetary", "revenue", "r_score", "f_score", "m_score", "segment",
                                        "p_alive", "expected_transactions", "expected_value", "clv"], columns: [
            .string(StringColumn(full.customerIDs)), .double(full.frequency), .double(full.recency), .double(full.age), .double(full.monetary),
            .double(revenue), .int(rScore), .int(fScore), .int(mScore), .string(StringColumn(segment)),
            .double(alive), .double(expected), .double(value), .double(clv),
        ])

        let segments = segmentTable(segment: segment, revenue: revenue, clv: clv, alive: alive, rules: p.rfmSegments)
        let (calibrationPlot, tracking, comparison) = validationTables(evaluations, calibration: calibration, groups: groups,
                                                                        start: start, weeks: weeks, days: days, calibrationEnd: calibrationEnd)

        progress("clv: waiting for the CDNOW replication")
        let (replication, replicationFits) = try replicationWork.value()

        let cleaning = Table(names: ["rule", "rows", "customers", "revenue"], columns: [
            .string(StringColumn(log.steps.map(\.rule))), .int(log.steps.map(\.rows)), .int(log.steps.map(\.customers)), .double(log.steps.map(\.revenue)),
        ])
        let dropped = Table(names: ["stock_code", "rows", "revenue"], columns: [
            .string(StringColumn(log.droppedCodes.map(\.code))), .int(log.droppedCodes.map(\.rows)), .double(log.droppedCodes.map(\.revenue)),
        ])
        return CLVResult(log: log, calibrationEnd: calibrationEnd, observationEnd: observationEnd, calibration: calibration,
                         evaluations: evaluations, spendFitCalibration: spendFit, correlation: correlation,
                         fullFits: [fullBGFit, fullParetoFit, fullGGFit], productionModel: production?.name ?? "none",
                         productionReason: reason, full: full, predictions: predictions, calibrationPlot: calibrationPlot,
                         tracking: tracking, comparison: comparison, segments: segments, replication: replication,
                         replicationFits: replicationFits, cleaning: cleaning, droppedCodes: dropped)
    }

    static func day(_ text: String) throws -> Int {
        guard let d = CalendarDay.parse(text) else { throw DataError(file: "stages/clv/params.yaml", message: "'\(text)' is not a date") }
        return d
    }

    public static func customerSummaries(_ s: RFMSummaries) throws -> CustomerSummaries {
        try CustomerSummaries(frequency: s.frequency, recency: s.recency, age: s.age, monetary: s.monetary)
    }

    /// Customers per birth day (first purchase), for the tracking plot.
    static func birthCounts(_ s: RFMSummaries) -> [(day: Int, count: Double)] {
        var counts: [Int: Double] = [:]
        for d in s.firstDay { counts[d, default: 0] += 1 }
        return counts.keys.sorted().map { ($0, counts[$0]!) }
    }

    static func evaluate(key: String, name: String, fit: FitResult, calibration s: RFMSummaries, groups: Int,
                         predict: (Double, Double, Double, Double) throws -> Double,
                         unconditional: (Double) throws -> Double,
                         births: [(day: Int, count: Double)], start: Int, weeks: Int, unitDays: Double) -> ModelEvaluation {
        let t = s.holdoutLength
        var predicted = [Double](repeating: .nan, count: s.count)
        var undefined: String? = fit.boundary.isEmpty ? nil : "parameters at the boundary: \(fit.boundaryDetails.joined(separator: "; "))"
        if undefined == nil {
            do {
                for i in 0..<s.count { predicted[i] = try predict(t, s.frequency[i], s.recency[i], s.age[i]) }
            } catch {
                undefined = "\(error)"
                predicted = [Double](repeating: .nan, count: s.count)
            }
        }
        var absSum = 0.0, sqSum = 0.0, predSum = 0.0, actualSum = 0.0
        for i in 0..<s.count {
            let e = predicted[i] - s.holdoutTransactions[i]
            absSum += abs(e)
            sqSum += e * e
            predSum += predicted[i]
            actualSum += s.holdoutTransactions[i]
        }
        let n = Double(s.count)
        var groupSum = [Double](repeating: 0, count: groups + 1), groupN = [Double](repeating: 0, count: groups + 1)
        for i in 0..<s.count {
            let g = min(groups, Int(s.frequency[i]))
            groupSum[g] += predicted[i]
            groupN[g] += 1
        }
        // Cumulative expected repeat transactions of the calibration cohort at the end of each week.
        var tracking = [Double](repeating: .nan, count: weeks)
        if undefined == nil {
            for k in 0..<weeks {
                let end = start + 7 * (k + 1)
                var total = 0.0
                for b in births where b.day < end {
                    total += b.count * ((try? unconditional(Double(end - b.day) / unitDays)) ?? .nan)
                }
                tracking[k] = total
            }
        }
        return ModelEvaluation(key: key, name: name, fit: fit, undefined: undefined, holdoutPredicted: predicted,
                               mae: absSum / n, rmse: (sqSum / n).squareRoot(), aggregateError: (predSum - actualSum) / actualSum,
                               calibrationMeans: zip(groupSum, groupN).map { $1 > 0 ? $0 / $1 : .nan }, trackingCumulative: tracking)
    }

    static func validationTables(_ evaluations: [ModelEvaluation], calibration s: RFMSummaries, groups: Int, start: Int, weeks: Int,
                                 days: CustomerDays, calibrationEnd: Int) -> (Table, Table, Table) {
        var actual = [Double](repeating: 0, count: groups + 1), n = [Int](repeating: 0, count: groups + 1)
        for i in 0..<s.count {
            let g = min(groups, Int(s.frequency[i]))
            actual[g] += s.holdoutTransactions[i]
            n[g] += 1
        }
        var calibrationPlot = Table()
        calibrationPlot.append("frequency_group", .string(StringColumn((0...groups).map { $0 == groups ? "\($0)+" : "\($0)" })))
        calibrationPlot.append("customers", .int(n))
        calibrationPlot.append("actual", .double(zip(actual, n).map { $1 > 0 ? $0 / Double($1) : .nan }))
        for e in evaluations { calibrationPlot.append("predicted_\(e.key)", .double(e.calibrationMeans)) }

        let weekly = RFMSummaries.repeatTransactionsByPeriod(days, customers: Set(s.customerIDs), start: start, end: start + 7 * weeks - 1, periodDays: 7)
        var cumulative: [Double] = []
        var running = 0.0
        for w in weekly.prefix(weeks) { running += w; cumulative.append(running) }
        var tracking = Table()
        tracking.append("week", .int(Array(1...weeks)))
        tracking.append("week_end", .string(StringColumn((1...weeks).map { CalendarDay.string(start + 7 * $0 - 1) })))
        tracking.append("holdout", .int((1...weeks).map { start + 7 * $0 - 1 > calibrationEnd ? 1 : 0 }))
        tracking.append("actual_cumulative", .double(cumulative))
        for e in evaluations { tracking.append("predicted_\(e.key)", .double(e.trackingCumulative)) }

        let comparison = Table(names: ["model", "log_likelihood", "aic", "bic", "holdout_mae", "holdout_rmse", "aggregate_error", "converged", "boundary"], columns: [
            .string(StringColumn(evaluations.map(\.name))), .double(evaluations.map(\.fit.logLikelihood)), .double(evaluations.map(\.fit.aic)),
            .double(evaluations.map(\.fit.bic)), .double(evaluations.map(\.mae)), .double(evaluations.map(\.rmse)),
            .double(evaluations.map(\.aggregateError)), .int(evaluations.map { $0.fit.converged ? 1 : 0 }),
            .string(StringColumn(evaluations.map { $0.fit.boundary.joined(separator: " ") })),
        ])
        return (calibrationPlot, tracking, comparison)
    }

    /// Quintile scores 1-5 by rank (ties broken by customer order, so every quintile has its share)
    /// and the segment of each customer.
    static func rfmScores(_ s: RFMSummaries, revenue: [Double], rules: [RFMRule]) -> ([Int], [Int], [Int], [String]) {
        let n = s.count
        func scores(_ key: [Double]) -> [Int] {
            let order = (0..<n).sorted { key[$0] < key[$1] || (key[$0] == key[$1] && $0 < $1) }
            var out = [Int](repeating: 0, count: n)
            for (rank, i) in order.enumerated() { out[i] = 1 + rank * 5 / max(1, n) }
            return out
        }
        // Recency: fewer days since the last purchase is better, so rank the negated gap.
        let daysSinceLast = (0..<n).map { -(s.age[$0] - s.recency[$0]) }
        let r = scores(daysSinceLast)
        let f = scores(s.frequency)
        let m = scores((0..<n).map { revenue[$0] / (s.frequency[$0] + 1) })
        let segment = (0..<n).map { i in rules.first { $0.matches(r: r[i], f: f[i]) }?.name ?? "unassigned" }
        return (r, f, m, segment)
    }

    static func segmentTable(segment: [String], revenue: [Double], clv: [Double], alive: [Double], rules: [RFMRule]) -> Table {
        let total = revenue.reduce(0, +)
        var names: [String] = [], customers: [Int] = [], share: [Double] = [], rev: [Double] = [], revShare: [Double] = []
        var meanCLV: [Double] = [], meanAlive: [Double] = []
        for rule in rules {
            let idx = segment.indices.filter { segment[$0] == rule.name }
            names.append(rule.name)
            customers.append(idx.count)
            share.append(Double(idx.count) / Double(max(1, segment.count)))
            let r = idx.reduce(0.0) { $0 + revenue[$1] }
            rev.append(r)
            revShare.append(r / total)
            meanCLV.append(idx.isEmpty ? .nan : idx.reduce(0.0) { $0 + clv[$1] } / Double(idx.count))
            meanAlive.append(idx.isEmpty ? .nan : idx.reduce(0.0) { $0 + alive[$1] } / Double(idx.count))
        }
        return Table(names: ["segment", "customers", "customer_share", "revenue", "revenue_share", "mean_clv", "mean_p_alive"], columns: [
            .string(StringColumn(names)), .int(customers), .double(share), .double(rev), .double(revShare), .double(meanCLV), .double(meanAlive),
        ])
    }

    /// Published estimates for the 2,357-customer CDNOW sample (Fader, Hardie & Lee 2005).
    public static let published: [String: [String: Double]] = [
        "BG/NBD": ["r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "LL": -9582.4],
        "Pareto/NBD": ["r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669, "LL": -9595.0],
        "Gamma-Gamma": ["p": 6.25, "q": 3.74, "gamma": 15.44],
    ]

    static func cdnowReplication(_ c: CDNOWParams, unitDays: Double) throws -> (Table, [(String, FitResult)]) {
        var fits: [(String, FitResult)] = []
        let sample = try CustomerSummaries.read(path: c.sampleFile)
        fits.append(("sample (2,357)", try BGNBD.fit(sample).1))
        fits.append(("sample (2,357)", try ParetoNBD.fit(sample).1))
        let log = try TransactionLog.load(c.master)
        let master = RFMSummaries.build(log.customerDays, calibrationEnd: try day(c.calibrationEnd), observationEnd: try day(c.observationEnd), unitDays: unitDays)
        let masterSummaries = try customerSummaries(master)
        let label = "master (\(Fmt.int(master.count)))"
        fits.append((label, try BGNBD.fit(masterSummaries).1))
        fits.append((label, try ParetoNBD.fit(masterSummaries).1))
        fits.append((label, try GammaGamma.fit(masterSummaries).1))

        var data: [String] = [], model: [String] = [], parameter: [String] = [], estimate: [Double] = [], se: [Double] = [], publishedValue: [Double] = []
        for (label, fit) in fits {
            let modelName = fit.model
            for (k, name) in fit.parameterNames.enumerated() {
                data.append(label); model.append(modelName); parameter.append(name)
                estimate.append(fit.estimates[k]); se.append(fit.standardErrors[k])
                publishedValue.append(published[modelName]?[name] ?? .nan)
            }
            data.append(label); model.append(modelName); parameter.append("LL")
            estimate.append(fit.logLikelihood); se.append(.nan)
            publishedValue.append(label.hasPrefix("sample") ? (published[modelName]?["LL"] ?? .nan) : .nan)
        }
        let table = Table(names: ["data", "model", "parameter", "estimate", "std_error", "published_sample"], columns: [
            .string(StringColumn(data)), .string(StringColumn(model)), .string(StringColumn(parameter)),
            .double(estimate), .double(se), .double(publishedValue),
        ])
        return (table, fits)
    }
}
