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
    /// Sum over calibration customers of log P(Y = observed holdout count | x, t_x, T) under the model's
    /// conditional predictive distribution (`TransactionModel.conditionalProbabilityOfCount`); NaN when the model
    /// cannot give it (`holdoutLogLikelihoodUndefined` says why).
    public var holdoutLogLikelihood: Double
    public var holdoutLogLikelihoodUndefined: String?
    /// Mean predicted holdout transactions per calibration-frequency group.
    public var calibrationMeans: [Double]
    /// Cumulative predicted repeat transactions at the end of each week of the tracking plot.
    public var trackingCumulative: [Double]
}

/// Customers grouped by their repeat transactions in calibration (0, 1, ..., groups - 1, groups+): the
/// calibration plot's actual side (each model's side is `ModelEvaluation.calibrationMeans`).
public struct FrequencyGroups: Sendable {
    /// "0", "1", ..., "7+".
    public var labels: [String]
    public var customers: [Int]
    /// Mean holdout transactions per customer of the group (NaN for an empty group).
    public var actualMean: [Double]
}

/// Cumulative repeat transactions of the calibration customers, week by week from the first day of the log
/// (each model's side is `ModelEvaluation.trackingCumulative`).
public struct TrackingSeries: Sendable {
    /// Last day of each week (YYYY-MM-DD).
    public var weekEnd: [String]
    /// Whether the week ends after the calibration period.
    public var inHoldout: [Bool]
    public var actualCumulative: [Double]
}

/// Forward predictions for every customer of the whole period (`CLVResult.full`), by the production model;
/// NaN where no model can predict.
public struct CustomerPredictions: Sendable {
    /// First purchase plus the repeat purchases.
    public var revenue: [Double]
    public var recencyScore: [Int]
    public var frequencyScore: [Int]
    public var monetaryScore: [Int]
    public var segment: [String]
    public var probabilityAlive: [Double]
    /// P(alive) by `CLVResult.comparisonAliveModel` (NaN when there is none).
    public var probabilityAliveComparison: [Double]
    public var expectedTransactions: [Double]
    public var expectedValue: [Double]
    public var clv: [Double]
}

/// One RFM segment over the whole period.
public struct SegmentSummary: Sendable {
    public var name: String
    public var customers: Int
    public var customerShare: Double
    public var revenue: Double
    public var revenueShare: Double
    /// NaN for an empty segment.
    public var meanCLV: Double
    public var meanProbabilityAlive: Double
    /// By the comparison model of P(alive) (NaN when there is none or the segment is empty).
    public var meanProbabilityAliveComparison: Double
    /// Customers of the segment without a repeat purchase.
    public var oneTimeBuyers: Int
}

/// A fit labelled by the key that names its `fit_<key>.json`.
public struct KeyedFit: Sendable {
    public var key: String
    public var fit: FitResult
}

/// One estimate of the CDNOW replication beside the published value for the sample (NaN when none).
public struct ReplicationEstimate: Sendable {
    /// Which data: "sample (2,357)" or "master (23,570)".
    public var data: String
    public var model: String
    /// A parameter name, or "LL" for the log-likelihood.
    public var parameter: String
    public var estimate: Double
    public var standardError: Double
    public var publishedSample: Double
}

public struct CLVResult: Sendable {
    public var log: CleanedLog
    public var calibrationEnd: Int
    public var observationEnd: Int
    public var calibration: RFMSummaries
    /// One per transaction model, in the order of the parameters (or of the registry).
    public var evaluations: [ModelEvaluation]
    public var spendFitCalibration: FitResult
    public var correlation: GammaGamma.CorrelationCheck
    /// Fits on the whole observation period, used for forward predictions: every transaction model, then
    /// Gamma-Gamma (key "gammagamma").
    public var wholePeriodFits: [KeyedFit]
    /// The production model's name, or "none".
    public var productionModel: String
    public var productionReason: String
    /// The models that can predict, best first by the production criterion (names).
    public var ranking: [String]
    /// The second model whose P(alive) the tables show beside the production model's: the best-ranked other
    /// model whose customers without a repeat purchase are not certainly alive when the production model's are
    /// (BG/NBD gives them P(alive) = 1), else the best-ranked other model; nil when there is none.
    public var comparisonAliveModel: String?
    /// Whether a customer without repeat purchases has P(alive) = 1 under the production model (BG/NBD).
    public var productionOneTimeBuyersImmortal: Bool
    public var full: RFMSummaries
    public var predictions: CustomerPredictions
    public var frequencyGroups: FrequencyGroups
    public var tracking: TrackingSeries
    public var segments: [SegmentSummary]
    /// nil when the parameters have no CDNOW replication.
    public var replication: [ReplicationEstimate]?
}

public enum CLVAnalysis {
    /// Key of the spend model's fit files.
    public static let spendModelKey = "gammagamma"

    /// The template control flow: every transaction model named in the parameters goes through the same
    /// calibration fit, holdout evaluation, whole-period refit and CDNOW replication; the production model's
    /// refit makes the forward predictions. Models come from `registry` by key.
    public static func run(
        _ p: CLVParams, registry: TransactionModelRegistry = .standard,
        progress: (String) -> Void = { _ in }
    ) throws -> CLVResult {
        let models = try p.transactionModels(registry)
        guard let retail = p.retail else { throw DataError(file: "clv params", message: "no order log ('retail', or the project's 'orders')") }
        // The CDNOW replication does not depend on the retail data: it runs on its own thread meanwhile.
        let replicationWork = p.cdnow.map { c in BackgroundWork { try cdnowReplication(c, models: models, unitDays: 7) } }
        progress("clv: reading \(retail.file)")
        let log = try TransactionLog.load(retail)
        let days = log.customerDays
        let observationEnd = try p.observationEnd.map { try day($0) } ?? days.lastDay
        let calibrationEnd = observationEnd - p.holdoutWeeks * 7
        guard calibrationEnd > days.firstDay else {
            throw DataError(file: retail.file, message: "the holdout (\(p.holdoutWeeks) weeks) is longer than the log")
        }
        let calibration = RFMSummaries.build(days, calibrationEnd: calibrationEnd, observationEnd: observationEnd, unitDays: p.unitDays)
        let calSummaries = try customerSummaries(calibration)

        progress("clv: fitting on \(calibration.count) calibration customers")
        var evaluations: [ModelEvaluation] = []
        let groups = p.calibrationGroups
        let start = days.firstDay
        let weeks = (observationEnd - start) / 7 + 1
        let births = birthCounts(calibration)
        for m in models {
            let (model, fit) = try m.fitModel(calSummaries)
            progress("clv: \(m.displayName) fitted")
            evaluations.append(
                evaluate(
                    key: m.key, name: m.displayName, model: model, fit: fit, calibration: calibration, groups: groups,
                    births: births, start: start, weeks: weeks, unitDays: p.unitDays))
        }
        let calSpend = try spendSummaries(calibration)
        let (_, spendFit) = try GammaGamma.fit(calSpend)
        let correlation = try GammaGamma.frequencyValueCorrelation(calSpend)

        // Production model: the parameter, or the best by the criterion among the models that can be scored by it.
        let criterion = p.criterion
        let ranked = rank(evaluations, by: criterion)
        var production: ModelEvaluation?
        var reason: String
        if p.productionModel == CLVParams.automaticProduction {
            production = ranked.first
            reason = automaticReason(evaluations, ranked: ranked, criterion: criterion)
        } else {
            guard let chosen = evaluations.first(where: { $0.key == p.productionModel }) else {
                throw UnknownTransactionModel(key: p.productionModel, validKeys: [CLVParams.automaticProduction] + evaluations.map(\.key))
            }
            production = chosen
            reason = "chosen in the parameters"
            if let why = chosen.undefined {
                reason = "chosen in the parameters, but it cannot predict: \(why)"
                production = nil
            }
        }

        // Refit on the whole observation period for forward predictions.
        progress("clv: refitting on the whole period")
        let full = RFMSummaries.build(days, calibrationEnd: observationEnd, observationEnd: observationEnd, unitDays: p.unitDays)
        let fullSummaries = try customerSummaries(full)
        var fullModels: [(key: String, model: any TransactionModel, fit: FitResult)] = []
        for m in models {
            let (model, fit) = try m.fitModel(fullSummaries)
            fullModels.append((m.key, model, fit))
        }
        let fullSpend = try spendSummaries(full)
        let (fullGG, fullGGFit) = try GammaGamma.fit(fullSpend)
        let transactionModel = production.flatMap { e in fullModels.first { $0.key == e.key }?.model }
        // The comparison model of P(alive) (see `CLVResult.comparisonAliveModel`).
        let typicalAge = full.age.sorted()[full.count / 2]
        func oneTimeBuyersImmortal(_ m: any TransactionModel) -> Bool { (try? m.probabilityAlive(x: 0, tx: 0, T: typicalAge)) == 1 }
        let productionImmortal = transactionModel.map(oneTimeBuyersImmortal) ?? false
        let others = ranked.filter { $0.key != production?.key }.compactMap { e in fullModels.first { $0.key == e.key }.map { (e, $0.model) } }
        let comparison = (productionImmortal ? others.first { !oneTimeBuyersImmortal($0.1) } : nil) ?? others.first
        var aliveComparison = [Double](repeating: .nan, count: full.count)
        if let (_, model) = comparison {
            for i in 0..<full.count {
                aliveComparison[i] = (try? model.probabilityAlive(x: full.frequency[i], tx: full.recency[i], T: full.age[i])) ?? .nan
            }
        }
        let horizon = p.horizonWeeks * 7 / p.unitDays
        var expected = [Double](repeating: .nan, count: full.count)
        var alive = [Double](repeating: .nan, count: full.count)
        var value = [Double](repeating: .nan, count: full.count)
        var clv = [Double](repeating: .nan, count: full.count)
        if let transactionModel {
            for i in 0..<full.count {
                let (x, tx, T) = (full.frequency[i], full.recency[i], full.age[i])
                expected[i] = (try? transactionModel.conditionalExpectedTransactions(horizon, x: x, tx: tx, T: T)) ?? .nan
                alive[i] = (try? transactionModel.probabilityAlive(x: x, tx: tx, T: T)) ?? .nan
            }
            if let v = try? fullGG.conditionalExpectedValues(fullSpend) { value = v }
            if let c = try? discountedCLV(
                transactions: transactionModel, value: fullGG, customers: fullSummaries, horizonYears: p.clvYears,
                stepsPerYear: 12, annualDiscountRate: p.annualDiscountRate, margin: p.margin,
                weeksPerUnit: p.unitDays / 7)
            {
                clv = c
            }
        }
        let revenue = (0..<full.count).map { full.firstValue[$0] + (full.spendFrequency[$0] > 0 ? full.spendFrequency[$0] * full.monetary[$0] : 0) }
        let (rScore, fScore, mScore, segment) = rfmScores(full, revenue: revenue, rules: p.rfmSegments)
        let predictions = CustomerPredictions(
            revenue: revenue, recencyScore: rScore, frequencyScore: fScore, monetaryScore: mScore,
            segment: segment, probabilityAlive: alive, probabilityAliveComparison: aliveComparison, expectedTransactions: expected,
            expectedValue: value, clv: clv)

        let segments = segmentSummaries(
            segment: segment, revenue: revenue, clv: clv, alive: alive, aliveComparison: aliveComparison, frequency: full.frequency, rules: p.rfmSegments)
        let frequencyGroups = frequencyGroups(calibration, groups: groups)
        let tracking = trackingSeries(calibration, start: start, weeks: weeks, days: days, calibrationEnd: calibrationEnd)

        var replication: [ReplicationEstimate]?
        if let replicationWork {
            progress("clv: waiting for the CDNOW replication")
            replication = try replicationWork.value()
        }

        return CLVResult(
            log: log, calibrationEnd: calibrationEnd, observationEnd: observationEnd, calibration: calibration,
            evaluations: evaluations, spendFitCalibration: spendFit, correlation: correlation,
            wholePeriodFits: fullModels.map { KeyedFit(key: $0.key, fit: $0.fit) } + [KeyedFit(key: spendModelKey, fit: fullGGFit)],
            productionModel: production?.name ?? "none", productionReason: reason, ranking: ranked.map(\.name),
            comparisonAliveModel: comparison?.0.name, productionOneTimeBuyersImmortal: productionImmortal, full: full, predictions: predictions,
            frequencyGroups: frequencyGroups, tracking: tracking, segments: segments, replication: replication)
    }

    /// The models that can predict and be scored by `criterion`, best first (ties: registry order).
    public static func rank(_ evaluations: [ModelEvaluation], by criterion: ProductionCriterion) -> [ModelEvaluation] {
        let scored = evaluations.enumerated().compactMap { (i, e) -> (Int, ModelEvaluation, Double)? in
            guard e.undefined == nil else { return nil }
            let v = score(e, criterion)
            return v.isNaN ? nil : (i, e, v)
        }
        return scored.sorted { $0.2 < $1.2 || ($0.2 == $1.2 && $0.0 < $1.0) }.map(\.1)
    }

    /// The criterion as a loss (lower is better): minus the holdout log-likelihood, MAE or RMSE; NaN when the
    /// model cannot be scored.
    static func score(_ e: ModelEvaluation, _ criterion: ProductionCriterion) -> Double {
        switch criterion {
        case .holdoutLogLikelihood: return -e.holdoutLogLikelihood
        case .holdoutMAE: return e.mae
        case .holdoutRMSE: return e.rmse
        }
    }

    /// Why `auto` chose the first of `ranked`, or why it chose nothing. With a single model that can be scored
    /// the criterion decides nothing, and the reason says so rather than calling it the best.
    static func automaticReason(_ evaluations: [ModelEvaluation], ranked: [ModelEvaluation], criterion: ProductionCriterion) -> String {
        let unscored = evaluations.filter { e in !ranked.contains { $0.key == e.key } }.map(\.name)
        let without = unscored.isEmpty ? "" : "; \(CLVReport.listed(unscored)) cannot be scored on the holdout"
        func value(_ e: ModelEvaluation) -> String {
            switch criterion {
            case .holdoutLogLikelihood: return Fmt.fixed(e.holdoutLogLikelihood, 1)
            case .holdoutMAE: return Fmt.fixed(e.mae, 4)
            case .holdoutRMSE: return Fmt.fixed(e.rmse, 4)
            }
        }
        switch ranked.count {
        case 0: return "no model could predict the holdout"
        case 1:
            return
                "the only model that can be scored by the \(criterion.title.split(separator: " ").dropFirst().joined(separator: " ")) on the holdout\(without)"
        default:
            let list = ranked.map { "\($0.name) \(value($0))" }.joined(separator: ", ")
            return "\(criterion.title): \(list)\(without)"
        }
    }

    static func day(_ text: String) throws -> Int {
        guard let d = CalendarDay.parse(text) else { throw DataError(file: "stages/clv/params.yaml", message: "'\(text)' is not a date") }
        return d
    }

    public static func customerSummaries(_ s: RFMSummaries) throws -> CustomerSummaries {
        try CustomerSummaries(frequency: s.frequency, recency: s.recency, age: s.age, monetary: s.monetary)
    }

    /// The spend model's summaries: x counts the repeat transactions with a positive value, so zero-value
    /// purchase occasions (which the transaction models count) do not pull the mean spend towards 0. The
    /// spend model reads neither recency nor age; recency is 0 where x is, as the summaries require.
    public static func spendSummaries(_ s: RFMSummaries) throws -> CustomerSummaries {
        try CustomerSummaries(
            frequency: s.spendFrequency, recency: s.spendFrequency.indices.map { s.spendFrequency[$0] > 0 ? s.recency[$0] : 0 }, age: s.age,
            monetary: s.monetary)
    }

    /// Customers per birth day (first purchase), for the tracking plot.
    static func birthCounts(_ s: RFMSummaries) -> [(day: Int, count: Double)] {
        var counts: [Int: Double] = [:]
        for d in s.firstDay { counts[d, default: 0] += 1 }
        return counts.keys.sorted().map { ($0, counts[$0]!) }
    }

    /// Holdout evaluation of one model fitted on the calibration period: per-customer predictions, errors,
    /// calibration-plot means and the tracking curve (all NaN when the model cannot predict).
    static func evaluate(
        key: String, name: String, model: any TransactionModel, fit: FitResult, calibration s: RFMSummaries, groups: Int,
        births: [(day: Int, count: Double)], start: Int, weeks: Int, unitDays: Double
    ) -> ModelEvaluation {
        let t = s.holdoutLength
        var predicted = [Double](repeating: .nan, count: s.count)
        var undefined: String? = fit.predicts ? nil : "parameters at the boundary: \(fit.boundaryDetails.joined(separator: "; "))"
        if undefined == nil {
            do {
                for i in 0..<s.count { predicted[i] = try model.conditionalExpectedTransactions(t, x: s.frequency[i], tx: s.recency[i], T: s.age[i]) }
            } catch {
                undefined = "\(error)"
                predicted = [Double](repeating: .nan, count: s.count)
            }
        }
        // The proper score: log of the predictive probability of each customer's observed holdout count.
        var holdoutLL = Double.nan
        var holdoutLLUndefined: String? = undefined
        if undefined == nil {
            do {
                var acc = 0.0
                for i in 0..<s.count {
                    let n = Int(s.holdoutTransactions[i])
                    acc += log(try model.conditionalProbabilityOfCount(n, t: t, x: s.frequency[i], tx: s.recency[i], T: s.age[i]))
                }
                holdoutLL = acc
            } catch {
                holdoutLLUndefined = "\(error)"
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
                    total += b.count * ((try? model.expectedTransactions(Double(end - b.day) / unitDays)) ?? .nan)
                }
                tracking[k] = total
            }
        }
        return ModelEvaluation(
            key: key, name: name, fit: fit, undefined: undefined, holdoutPredicted: predicted,
            mae: absSum / n, rmse: (sqSum / n).squareRoot(), aggregateError: (predSum - actualSum) / actualSum,
            holdoutLogLikelihood: holdoutLL, holdoutLogLikelihoodUndefined: holdoutLLUndefined,
            calibrationMeans: zip(groupSum, groupN).map { $1 > 0 ? $0 / $1 : .nan }, trackingCumulative: tracking)
    }

    static func frequencyGroups(_ s: RFMSummaries, groups: Int) -> FrequencyGroups {
        var actual = [Double](repeating: 0, count: groups + 1), n = [Int](repeating: 0, count: groups + 1)
        for i in 0..<s.count {
            let g = min(groups, Int(s.frequency[i]))
            actual[g] += s.holdoutTransactions[i]
            n[g] += 1
        }
        return FrequencyGroups(
            labels: (0...groups).map { $0 == groups ? "\($0)+" : "\($0)" }, customers: n,
            actualMean: zip(actual, n).map { $1 > 0 ? $0 / Double($1) : .nan })
    }

    static func trackingSeries(_ s: RFMSummaries, start: Int, weeks: Int, days: CustomerDays, calibrationEnd: Int) -> TrackingSeries {
        let weekly = RFMSummaries.repeatTransactionsByPeriod(days, customers: Set(s.customerIDs), start: start, end: start + 7 * weeks - 1, periodDays: 7)
        var cumulative: [Double] = []
        var running = 0.0
        for w in weekly.prefix(weeks) { running += w; cumulative.append(running) }
        return TrackingSeries(
            weekEnd: (1...weeks).map { CalendarDay.string(start + 7 * $0 - 1) },
            inHoldout: (1...weeks).map { start + 7 * $0 - 1 > calibrationEnd }, actualCumulative: cumulative)
    }

    /// Quintile scores 1-5 of the value distribution: a value scores 1 + ⌊5 · (share of customers with a strictly
    /// smaller value)⌋, that is one more than the number of quintile cut points (the 20%, 40%, 60% and 80%
    /// quantiles) below it. Equal values get equal scores, whatever the customers' order, and the lowest value
    /// scores 1; a tie that spans a cut point keeps every tied customer below it, so a quintile can hold more
    /// or less than its fifth, or none.
    public static func quintileScores(_ values: [Double]) -> [Int] {
        let sorted = values.sorted()
        let n = values.count
        return values.map { v in
            // Customers with a strictly smaller value: the first index of v in the sorted values.
            var low = 0, high = n
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid] < v { low = mid + 1 } else { high = mid }
            }
            return 1 + low * 5 / n
        }
    }

    /// Recency, frequency and monetary quintile scores and the segment of each customer.
    static func rfmScores(_ s: RFMSummaries, revenue: [Double], rules: [RFMRule]) -> ([Int], [Int], [Int], [String]) {
        let n = s.count
        // Recency: fewer days since the last purchase is better, so score the negated gap.
        // Whole days, so that customers who last bought on the same day tie exactly.
        let daysSinceLast = (0..<n).map { -((s.age[$0] - s.recency[$0]) * s.unitDays).rounded() }
        let r = quintileScores(daysSinceLast)
        let f = quintileScores(s.frequency)
        let m = quintileScores((0..<n).map { revenue[$0] / (s.frequency[$0] + 1) })
        let segment = (0..<n).map { i in rules.first { $0.matches(r: r[i], f: f[i]) }?.name ?? "unassigned" }
        return (r, f, m, segment)
    }

    static func segmentSummaries(
        segment: [String], revenue: [Double], clv: [Double], alive: [Double], aliveComparison: [Double], frequency: [Double], rules: [RFMRule]
    ) -> [SegmentSummary] {
        let total = revenue.reduce(0, +)
        return rules.map { rule in
            let idx = segment.indices.filter { segment[$0] == rule.name }
            let r = idx.reduce(0.0) { $0 + revenue[$1] }
            func mean(_ v: [Double]) -> Double { idx.isEmpty ? .nan : idx.reduce(0.0) { $0 + v[$1] } / Double(idx.count) }
            return SegmentSummary(
                name: rule.name, customers: idx.count, customerShare: Double(idx.count) / Double(max(1, segment.count)),
                revenue: r, revenueShare: r / total,
                meanCLV: idx.isEmpty ? .nan : idx.reduce(0.0) { $0 + clv[$1] } / Double(idx.count),
                meanProbabilityAlive: mean(alive), meanProbabilityAliveComparison: mean(aliveComparison),
                oneTimeBuyers: idx.filter { frequency[$0] == 0 }.count)
        }
    }

    /// Published Gamma-Gamma estimates for the CDNOW sample (Fader, Hardie & Lee 2005, "RFM and CLV"); the
    /// transaction models carry theirs (`TransactionModel.publishedCDNOWSample`).
    public static let publishedGammaGamma: [String: Double] = ["p": 6.25, "q": 3.74, "gamma": 15.44]

    /// Every transaction model fitted on the CDNOW sample and on the master file's calibration period, and
    /// Gamma-Gamma on the master file (the sample has no spend).
    static func cdnowReplication(_ c: CDNOWParams, models: [any TransactionModel.Type], unitDays: Double) throws -> [ReplicationEstimate] {
        var fits: [(label: String, fit: FitResult, published: [String: Double])] = []
        let sample = try CustomerSummaries.read(path: c.sampleFile)
        let sampleLabel = "sample (\(Fmt.int(sample.count)))"
        for m in models { fits.append((sampleLabel, try m.fitModel(sample).fit, m.publishedCDNOWSample)) }
        let log = try TransactionLog.load(c.master)
        let master = RFMSummaries.build(
            log.customerDays, calibrationEnd: try day(c.calibrationEnd), observationEnd: try day(c.observationEnd), unitDays: unitDays)
        let masterSummaries = try customerSummaries(master)
        let label = "master (\(Fmt.int(master.count)))"
        for m in models { fits.append((label, try m.fitModel(masterSummaries).fit, m.publishedCDNOWSample)) }
        fits.append((label, try GammaGamma.fit(try spendSummaries(master)).1, publishedGammaGamma))

        var rows: [ReplicationEstimate] = []
        for (label, fit, published) in fits {
            for (k, name) in fit.parameterNames.enumerated() {
                rows.append(
                    ReplicationEstimate(
                        data: label, model: fit.model, parameter: name, estimate: fit.estimates[k],
                        standardError: fit.standardErrors[k], publishedSample: published[name] ?? .nan))
            }
            // The published log-likelihood is the sample's; the master file's is not comparable.
            rows.append(
                ReplicationEstimate(
                    data: label, model: fit.model, parameter: "LL", estimate: fit.logLikelihood, standardError: .nan,
                    publishedSample: label == sampleLabel ? (published["LL"] ?? .nan) : .nan))
        }
        return rows
    }
}
