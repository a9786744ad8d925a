import CLV
import Foundation
import Tabular
import Transactions

public struct RFMRule: Codable, Sendable, Equatable {
    public var name: String
    /// Inclusive recency-score range (5 = most recent).
    public var r: [Int]
    /// Inclusive frequency-score range (5 = most frequent).
    public var f: [Int]

    public func matches(r score: Int, f fScore: Int) -> Bool {
        score >= r[0] && score <= r[1] && fScore >= f[0] && fScore <= f[1]
    }
}

/// The CDNOW replication (Fader, Hardie & Lee 2005): the published 2,357-customer sample summaries and
/// the master transaction log with its calibration and observation ends. Optional in a CLV analysis.
public struct CDNOWParams: Codable, Sendable, Equatable {
    public var sampleFile: String
    public var calibrationEnd: String
    public var observationEnd: String
    public var master: TransactionSpec

    enum CodingKeys: String, CodingKey {
        case master
        case sampleFile = "sample_file"
        case calibrationEnd = "calibration_end"
        case observationEnd = "observation_end"
    }

    public init(sampleFile: String, calibrationEnd: String, observationEnd: String, master: TransactionSpec) {
        self.sampleFile = sampleFile
        self.calibrationEnd = calibrationEnd
        self.observationEnd = observationEnd
        self.master = master
    }
}

/// How `production_model: auto` ranks the models on the holdout.
public enum ProductionCriterion: String, Codable, Sendable, Equatable, CaseIterable {
    /// The sum over customers of log P(observed holdout count | calibration history) under the model's
    /// conditional predictive distribution: a proper scoring rule, so in expectation it is best for the model
    /// that generated the data. Higher is better.
    case holdoutLogLikelihood = "holdout_log_likelihood"
    /// Mean absolute error of the expected holdout count (not proper for a count: it rewards predicting the
    /// median, so under-predicting the many zeros). Lower is better.
    case holdoutMAE = "holdout_mae"
    /// Root mean squared error of the expected holdout count (proper for the mean). Lower is better.
    case holdoutRMSE = "holdout_rmse"

    public var title: String {
        switch self {
        case .holdoutLogLikelihood: return "highest holdout log-likelihood"
        case .holdoutMAE: return "lowest holdout MAE"
        case .holdoutRMSE: return "lowest holdout RMSE"
        }
    }
}

public struct CLVParams: Codable, Sendable, Equatable {
    /// The shop's order log. A project file gives it as its 'orders' (the stage's --project); a
    /// params file without a project must give it here.
    public var retail: TransactionSpec?
    public var unitDays: Double
    public var holdoutWeeks: Int
    public var observationEnd: String?
    public var horizonWeeks: Double
    public var margin: Double
    public var annualDiscountRate: Double
    public var clvYears: Double
    /// Keys of the transaction models to fit, in order (`TransactionModelRegistry`); nil: every registered model.
    public var models: [String]?
    /// A key of `models`, or "auto" (the best model by `criterion` among the models that can predict).
    public var productionModel: String
    /// The rule of `auto`; nil: `holdout_log_likelihood`.
    public var productionCriterion: ProductionCriterion?
    public var criterion: ProductionCriterion { productionCriterion ?? .holdoutLogLikelihood }
    public var topCustomers: Int
    public var calibrationGroups: Int
    /// The CDNOW replication; nil: the shop's log only (no replication tables, report section or inputs).
    public var cdnow: CDNOWParams?
    public var rfmSegments: [RFMRule]

    enum CodingKeys: String, CodingKey {
        case retail, margin, cdnow, models
        case unitDays = "unit_days"
        case holdoutWeeks = "holdout_weeks"
        case observationEnd = "observation_end"
        case horizonWeeks = "horizon_weeks"
        case annualDiscountRate = "annual_discount_rate"
        case clvYears = "clv_years"
        case productionModel = "production_model"
        case productionCriterion = "production_criterion"
        case topCustomers = "top_customers"
        case calibrationGroups = "calibration_groups"
        case rfmSegments = "rfm_segments"
    }

    /// The production model's value that picks the model by `criterion` on the holdout.
    public static let automaticProduction = "auto"

    /// The transaction models to fit, looked up in `registry`.
    public func transactionModels(_ registry: TransactionModelRegistry) throws(UnknownTransactionModel) -> [any TransactionModel.Type] {
        try registry.models(models)
    }

    /// Checks ranges and model keys against `registry`; errors name the parameter file.
    public func validate(source: String, registry: TransactionModelRegistry = .standard) throws {
        func bad(_ message: String) -> DataError { DataError(file: source, message: message) }
        guard retail != nil else {
            throw bad("missing parameter 'retail' (the order log; or run with --project, whose 'orders' is the order log)")
        }
        let analysed: [String]
        do {
            analysed = try transactionModels(registry).map { $0.key }
        } catch {
            throw bad("models: \(error)")
        }
        guard !analysed.isEmpty else { throw bad("models must name at least one of \(registry.keys.joined(separator: ", "))") }
        guard Set(analysed).count == analysed.count else { throw bad("models lists a model twice: \(analysed.joined(separator: ", "))") }
        guard productionModel == Self.automaticProduction || analysed.contains(productionModel) else {
            throw bad(
                "production_model '\(productionModel)' is not one of the models fitted; valid values: \(([Self.automaticProduction] + analysed).joined(separator: ", "))"
            )
        }
        guard unitDays > 0 else { throw bad("unit_days must be > 0") }
        guard holdoutWeeks > 0 else { throw bad("holdout_weeks must be > 0") }
        guard horizonWeeks > 0 else { throw bad("horizon_weeks must be > 0") }
        guard margin > 0 && margin <= 1 else { throw bad("margin must be in (0, 1]") }
        guard annualDiscountRate > -1 else { throw bad("annual_discount_rate must be > -1") }
        guard clvYears > 0 else { throw bad("clv_years must be > 0") }
        guard topCustomers > 0, calibrationGroups > 0 else { throw bad("top_customers and calibration_groups must be > 0") }
        if let end = observationEnd, CalendarDay.parse(end) == nil { throw bad("observation_end '\(end)' is not a date (YYYY-MM-DD)") }
        for d in [cdnow?.calibrationEnd, cdnow?.observationEnd].compactMap({ $0 }) where CalendarDay.parse(d) == nil {
            throw bad("cdnow date '\(d)' is not a date (YYYY-MM-DD)")
        }
        for rule in rfmSegments where rule.r.count != 2 || rule.f.count != 2 {
            throw bad("rfm segment '\(rule.name)' needs r: [min, max] and f: [min, max]")
        }
        // Every score pair must fall in some segment.
        for r in 1...5 {
            for f in 1...5 where !rfmSegments.contains(where: { $0.matches(r: r, f: f) }) {
                throw bad("rfm_segments leave recency score \(r), frequency score \(f) without a segment")
            }
        }
        // A customer gets the first segment whose ranges contain their scores: a segment whose every score
        // pair an earlier one takes could never hold anyone.
        for (k, rule) in rfmSegments.enumerated() {
            let reachable = (1...5).contains { r in (1...5).contains { f in rfmSegments.firstIndex { $0.matches(r: r, f: f) } == k } }
            guard reachable else { throw bad("rfm segment '\(rule.name)' can never be reached: the segments before it take all its score pairs") }
        }
    }
}
