import Base
import CLV
import Foundation
import Provenance
import Tabular
import Transactions

extension FitResult {
    /// The fit as JSON for `fit_<model>.json`.
    public var json: JSONValue {
        var params: [String: JSONValue] = [:]
        for (k, name) in parameterNames.enumerated() {
            params[name] = .object([
                "estimate": .number(estimates[k]), "std_error": .number(standardErrors[k]),
                "ci95_low": .number(confidenceIntervals[k].lower), "ci95_high": .number(confidenceIntervals[k].upper),
            ])
        }
        var object: [String: JSONValue] = [
            "model": .string(model), "parameters": .object(params), "parameter_order": .array(parameterNames.map { .string($0) }),
            "log_likelihood": .number(logLikelihood), "aic": .number(aic), "bic": .number(bic), "n": .number(Double(n)),
            "converged": .bool(converged), "status": .string(status), "method": .string(method),
            "iterations": .number(Double(iterations)), "gradient_norm": .number(gradientNorm), "stopped_on_ridge": .bool(stoppedOnRidge),
            "boundary": .array(boundary.map { .string($0) }), "boundary_details": .array(boundaryDetails.map { .string($0) }),
            "notes": .array(notes.map { .string($0) }), "identified": .array(identified.map { .bool($0) }),
        ]
        if let ridge {
            object["ridge"] = .object([
                "parameters": .array(ridge.names.map { .string($0) }), "ratio": .string(ridge.ratioName), "ratio_value": .number(ridge.ratioValue),
                "meaning": .string(ridge.meaning),
            ])
        }
        // The limit model the fit ended on, fitted on its own: the model predicts with it.
        if let limit { object["limit"] = limit.json }
        return .object(object)
    }
}

/// The stage's files, written from the typed result: the CSV tables and `fit_<key>.json`. Per-model columns
/// (`predicted_<key>`) and files follow the models of the result, so a new model needs nothing here.
public enum CLVOutputs {
    /// (file name without extension, table), in the order they are written.
    public static func tables(_ r: CLVResult) -> [(name: String, table: Table)] {
        [
            ("cleaning", cleaning(r.log)), ("dropped_codes", droppedCodes(r.log)), ("calibration_summaries", calibrationSummaries(r.calibration)),
            ("model_comparison", comparison(r.evaluations)), ("calibration_plot", calibrationPlot(r.frequencyGroups, r.evaluations)),
            ("tracking", tracking(r.tracking, r.evaluations)), ("predictions", predictions(r.full, r.predictions)),
            ("rfm_segments", segments(r.segments)),
        ] + (r.replication.map { [("cdnow_replication", replication($0))] } ?? [])
    }

    /// (key, JSON text) per fitted model: the calibration fit and, when there is one, the whole-period refit.
    public static func fitFiles(_ r: CLVResult) -> [(key: String, json: String)] {
        let calibrationFits = r.evaluations.map { KeyedFit(key: $0.key, fit: $0.fit) } + [KeyedFit(key: CLVAnalysis.spendModelKey, fit: r.spendFitCalibration)]
        return calibrationFits.map { calibrationFit in
            var object: [String: JSONValue] = ["calibration": calibrationFit.fit.json]
            if let full = r.wholePeriodFits.first(where: { $0.key == calibrationFit.key }) { object["whole_period"] = full.fit.json }
            return (calibrationFit.key, JSONValue.object(object).rendered() + "\n")
        }
    }

    static func cleaning(_ log: CleanedLog) -> Table {
        Table(
            names: ["rule", "rows", "customers", "revenue", "rows_reduced"],
            columns: [
                .string(StringColumn(log.steps.map(\.rule))), .int(log.steps.map(\.rows)), .int(log.steps.map(\.customers)), .double(log.steps.map(\.revenue)),
                .int(log.steps.map(\.rowsReduced)),
            ])
    }

    static func droppedCodes(_ log: CleanedLog) -> Table {
        Table(
            names: ["stock_code", "rows", "revenue"],
            columns: [
                .string(StringColumn(log.droppedCodes.map(\.code))), .int(log.droppedCodes.map(\.rows)), .double(log.droppedCodes.map(\.revenue)),
            ])
    }

    static func calibrationSummaries(_ s: RFMSummaries) -> Table {
        Table(
            names: ["customer_id", "first_purchase", "frequency", "recency", "T", "monetary", "holdout_transactions", "holdout_value"],
            columns: [
                .string(StringColumn(s.customerIDs)), .string(StringColumn(s.firstDay.map(CalendarDay.string))),
                .double(s.frequency), .double(s.recency), .double(s.age), .double(s.monetary),
                .double(s.holdoutTransactions), .double(s.holdoutValue),
            ])
    }

    static func comparison(_ evaluations: [ModelEvaluation]) -> Table {
        Table(
            names: [
                "model", "log_likelihood", "aic", "bic", "holdout_log_likelihood", "holdout_mae", "holdout_rmse", "aggregate_error", "converged",
                "boundary",
            ],
            columns: [
                .string(StringColumn(evaluations.map(\.name))), .double(evaluations.map(\.fit.logLikelihood)), .double(evaluations.map(\.fit.aic)),
                .double(evaluations.map(\.fit.bic)), .double(evaluations.map(\.holdoutLogLikelihood)), .double(evaluations.map(\.mae)),
                .double(evaluations.map(\.rmse)),
                .double(evaluations.map(\.aggregateError)), .int(evaluations.map { $0.fit.converged ? 1 : 0 }),
                .string(StringColumn(evaluations.map { $0.fit.boundary.joined(separator: " ") })),
            ])
    }

    static func calibrationPlot(_ g: FrequencyGroups, _ evaluations: [ModelEvaluation]) -> Table {
        var t = Table()
        t.append("frequency_group", .string(StringColumn(g.labels)))
        t.append("customers", .int(g.customers))
        t.append("actual", .double(g.actualMean))
        for e in evaluations { t.append("predicted_\(e.key)", .double(e.calibrationMeans)) }
        return t
    }

    static func tracking(_ s: TrackingSeries, _ evaluations: [ModelEvaluation]) -> Table {
        var t = Table()
        t.append("week", .int(Array(1...s.weekEnd.count)))
        t.append("week_end", .string(StringColumn(s.weekEnd)))
        t.append("holdout", .int(s.inHoldout.map { $0 ? 1 : 0 }))
        t.append("actual_cumulative", .double(s.actualCumulative))
        for e in evaluations { t.append("predicted_\(e.key)", .double(e.trackingCumulative)) }
        return t
    }

    static func predictions(_ full: RFMSummaries, _ p: CustomerPredictions) -> Table {
        Table(
            names: [
                "customer_id", "frequency", "recency", "T", "monetary", "revenue", "r_score", "f_score", "m_score", "segment",
                "p_alive", "p_alive_comparison", "expected_transactions", "expected_value", "clv",
            ],
            columns: [
                .string(StringColumn(full.customerIDs)), .double(full.frequency), .double(full.recency), .double(full.age), .double(full.monetary),
                .double(p.revenue), .int(p.recencyScore), .int(p.frequencyScore), .int(p.monetaryScore), .string(StringColumn(p.segment)),
                .double(p.probabilityAlive), .double(p.probabilityAliveComparison), .double(p.expectedTransactions), .double(p.expectedValue), .double(p.clv),
            ])
    }

    static func segments(_ s: [SegmentSummary]) -> Table {
        Table(
            names: [
                "segment", "customers", "customer_share", "revenue", "revenue_share", "one_time_buyers", "mean_clv", "mean_p_alive",
                "mean_p_alive_comparison",
            ],
            columns: [
                .string(StringColumn(s.map(\.name))), .int(s.map(\.customers)), .double(s.map(\.customerShare)), .double(s.map(\.revenue)),
                .double(s.map(\.revenueShare)), .int(s.map(\.oneTimeBuyers)), .double(s.map(\.meanCLV)), .double(s.map(\.meanProbabilityAlive)),
                .double(s.map(\.meanProbabilityAliveComparison)),
            ])
    }

    static func replication(_ rows: [ReplicationEstimate]) -> Table {
        Table(
            names: ["data", "model", "parameter", "estimate", "std_error", "published_sample"],
            columns: [
                .string(StringColumn(rows.map(\.data))), .string(StringColumn(rows.map(\.model))), .string(StringColumn(rows.map(\.parameter))),
                .double(rows.map(\.estimate)), .double(rows.map(\.standardError)), .double(rows.map(\.publishedSample)),
            ])
    }
}
