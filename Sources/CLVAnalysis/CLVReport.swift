import Base
import CLV
import Foundation
import Provenance
import Reporting
import Tabular
import Transactions

public enum CLVFigures {
    static let colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
        .enumerated().map { "set linetype \($0.offset + 1) lc rgb \"\($0.element)\"" }.joined(separator: "\n")

    public static func figures(_ r: CLVResult) -> [Figure] {
        var figs: [Figure] = []
        // Calibration plot: mean holdout transactions by calibration frequency.
        var cal = GnuplotData(comment: "columns: x group actual predicted per model")
        let groups = r.frequencyGroups
        for i in groups.labels.indices {
            var row = [String(i), groups.labels[i], formatDouble(groups.actualMean[i])]
            for e in r.evaluations { row.append(formatDouble(e.calibrationMeans[i])) }
            cal.row(row.map { $0.isEmpty ? "NaN" : $0 })
        }
        let calPlots =
            ["'calibration.dat' using 1:3:xtic(2) with linespoints lw 2 pt 7 lt 1 title \"actual\""]
            + r.evaluations.enumerated().map { "'' using 1:\($0.offset + 4) with linespoints lw 2 pt 5 dt 2 lt \($0.offset + 2) title \"\($0.element.name)\"" }
        figs.append(
            Figure(
                name: "calibration",
                script: """
                    \(colours)
                    set title "Mean holdout transactions by calibration-period frequency"
                    set xlabel "repeat transactions in calibration"
                    set ylabel "mean transactions in the holdout"
                    set key top left
                    set grid
                    plot \(calPlots.joined(separator: ", \\\n     "))
                    """, data: [("calibration.dat", cal.bytes)]))

        // Tracking plot: cumulative repeat transactions per week.
        var tr = GnuplotData(comment: "columns: week actual predicted per model")
        var firstHoldoutWeek = 0
        for i in r.tracking.weekEnd.indices {
            if firstHoldoutWeek == 0, r.tracking.inHoldout[i] { firstHoldoutWeek = i + 1 }
            var row = [String(i + 1), formatDouble(r.tracking.actualCumulative[i])]
            for e in r.evaluations { row.append(formatDouble(e.trackingCumulative[i])) }
            tr.row(row.map { $0.isEmpty ? "NaN" : $0 })
        }
        let trPlots =
            ["'tracking.dat' using 1:2 with lines lw 2 lt 1 title \"actual\""]
            + r.evaluations.enumerated().map { "'' using 1:\($0.offset + 3) with lines lw 2 dt 2 lt \($0.offset + 2) title \"\($0.element.name)\"" }
        figs.append(
            Figure(
                name: "tracking",
                script: """
                    \(colours)
                    set title "Cumulative repeat transactions of the calibration customers (week 1 starts \(CalendarDay.string(r.log.customerDays.firstDay)))"
                    set xlabel "week"
                    set ylabel "cumulative repeat transactions"
                    set key top left
                    set grid
                    set arrow from \(firstHoldoutWeek), graph 0 to \(firstHoldoutWeek), graph 1 nohead dt 3 lc rgb "gray30"
                    set label "holdout starts" at \(firstHoldoutWeek), graph 0.95 offset 0.5,0
                    plot \(trPlots.joined(separator: ", \\\n     "))
                    """, data: [("tracking.dat", tr.bytes)]))

        // RFM segments: customer share and revenue share.
        var seg = GnuplotData(comment: "columns: x segment customer_share revenue_share (percent)")
        for (i, segment) in r.segments.enumerated() {
            seg.row([String(i), segment.name, formatDouble(segment.customerShare * 100), formatDouble(segment.revenueShare * 100)])
        }
        figs.append(
            Figure(
                name: "rfm_segments",
                script: """
                    \(colours)
                    set title "RFM segments: share of customers and of revenue"
                    set style data histograms
                    set style histogram clustered gap 1
                    set style fill solid 0.8 border -1
                    set ylabel "%"
                    set xtics rotate by -25
                    set grid ytics
                    set key top right
                    plot 'rfm_segments.dat' using 3:xtic(2) title "customers" lt 1, '' using 4 title "revenue" lt 2
                    """, data: [("rfm_segments.dat", seg.bytes)]))
        return figs
    }
}

public enum CLVReport {
    public static func build(_ r: CLVResult, params p: CLVParams, figureDir: String, tableDir: String) -> String {
        var md = Markdown()
        let log = r.log
        md.heading(1, "Customer lifetime value: \(p.retail?.name ?? "orders")")
        let calStart = CalendarDay.string(log.customerDays.firstDay)
        md.paragraph(
            "Buy-till-you-die models fitted by maximum likelihood (GSL): \(listed(r.evaluations.map(\.name))) for the number of transactions, Gamma-Gamma for their value. Time unit: \(formatDouble(p.unitDays)) days. Calibration period \(calStart) to \(CalendarDay.string(r.calibrationEnd)); holdout \(CalendarDay.string(r.calibrationEnd + 1)) to \(CalendarDay.string(r.observationEnd)) (\(p.holdoutWeeks) weeks)."
        )

        // Summary.
        md.heading(2, "Summary")
        var bullets: [String] = []
        bullets.append(
            "Cleaning kept \(Fmt.int(log.keptRows)) of \(Fmt.int(log.rawRows)) rows (\(Fmt.percent(Double(log.keptRows) / Double(log.rawRows), 1))) and \(Fmt.percent(log.keptRevenue / log.rawRevenue, 1)) of the raw revenue; \(Fmt.int(log.customerDays.customerCount)) customers with \(Fmt.int(log.customerDays.days.count)) customer-days (one transaction per customer per day)."
        )
        for e in r.evaluations {
            if let why = e.undefined {
                bullets.append("**\(e.name)** cannot predict on this data: \(why). Its predictions are reported as undefined, not as numbers.")
            } else {
                let how: String
                if let limit = e.fit.limit, let ridge = e.fit.ridge {
                    how =
                        "calibration fit ended on its ridge: \(ridge.names.joined(separator: " and ")) grow without bound with \(ridge.ratioName) fixed, so \(ridge.meaning); the model is fitted and predicts as that limit (\(limit.parameterNames.last ?? "") = \(significant(limit.estimates.last ?? .nan, limit.standardErrors.last ?? .nan))), and \(ridge.names.joined(separator: " and ")) are not identified"
                } else {
                    how = "calibration fit, \(e.fit.converged ? "converged" : "NOT converged"), no boundary parameters"
                }
                bullets.append(
                    "**\(e.name)** (\(how)): holdout log-likelihood \(Fmt.significant(e.holdoutLogLikelihood, 6, maxDecimals: 1)), MAE \(Fmt.fixed(e.mae, 3)) transactions per customer, RMSE \(Fmt.fixed(e.rmse, 3)), aggregate holdout transactions \(Fmt.signedPercent(e.aggregateError, 1)) off the actual."
                )
            }
        }
        bullets.append("Production model for forward predictions: **\(r.productionModel)** (\(r.productionReason)), refitted on the whole period.")
        if let sentence = holdoutBiasSentence(r) { bullets.append(sentence) }
        bullets.append(gammaGammaSentence(r))
        if let sentence = aliveSentence(r, params: p) { bullets.append(sentence) }
        if let first = r.segments.first(where: { $0.name == p.rfmSegments.first?.name }) {
            bullets.append(
                "RFM segment '\(first.name)' holds \(Fmt.percent(first.customerShare, 1)) of customers and \(Fmt.percent(first.revenueShare, 1)) of revenue.")
        }
        md.bullets(bullets)

        // Cleaning.
        md.heading(2, "Transactions and cleaning")
        md.paragraph(
            "Raw log: \(Fmt.int(log.rawRows)) rows, \(Fmt.int(log.rawCustomers)) customers, revenue \(Fmt.money(log.rawRevenue)). Rules apply in this order; each row shows what that rule removed (customers: those left with no rows)."
        )
        if let cleaning = p.retail?.cleaning, !cleaning.explanation.isEmpty { md.paragraph(cleaning.explanation) }
        var rows: [[String]] = []
        let reduced = log.steps.contains { $0.rowsReduced > 0 }
        for step in log.steps {
            rows.append(
                [step.rule, Fmt.int(step.rows)] + (reduced ? [Fmt.int(step.rowsReduced)] : []) + [Fmt.int(step.customers), Fmt.money(step.revenue)])
        }
        rows.append(["kept", Fmt.int(log.keptRows)] + (reduced ? [""] : []) + [Fmt.int(log.customerDays.customerCount), Fmt.money(log.keptRevenue)])
        md.table(
            ["rule", "rows removed"] + (reduced ? ["rows reduced"] : []) + ["customers removed", "revenue removed"], rows,
            rightAligned: [false, true] + (reduced ? [true] : []) + [true, true])
        md.paragraph("Non-merchandise stock codes dropped (rows and revenue among the rows still present when that rule applies):")
        var codeRows: [[String]] = []
        for code in log.droppedCodes where code.rows > 0 {
            codeRows.append([code.code, Fmt.int(code.rows), Fmt.money(code.revenue)])
        }
        md.table(["stock code", "rows", "revenue"], codeRows, rightAligned: [false, true, true])
        let repeaters = r.calibration.frequency.filter { $0 > 0 }.count
        md.paragraph(
            "Calibration summaries: \(Fmt.int(r.calibration.count)) customers with a first purchase before \(CalendarDay.string(r.calibrationEnd)), \(Fmt.int(repeaters)) of them with repeat purchases in calibration."
        )

        // Fits.
        md.heading(2, "Model fits on the calibration period")
        for fit in r.evaluations.map(\.fit) + [r.spendFitCalibration] { fitTable(&md, fit) }
        md.paragraph(
            "Standard errors from the inverse Hessian of the log-likelihood; 95% intervals computed on the log scale (parameters are positive). A parameter collapsing to 0 or exploding is listed as a boundary and the model then refuses to predict, except on a ridge with a limit model (shape and scale of a mixing distribution growing together), where the limit is fitted and predicts and the ridge's parameters are shown as not identified."
        )

        // Validation.
        md.heading(2, "Holdout validation")
        var comp: [[String]] = []
        for e in r.evaluations {
            comp.append([
                e.name + (e.name == r.productionModel ? " (production)" : ""), Fmt.significant(e.fit.logLikelihood, 6, maxDecimals: 1),
                Fmt.significant(e.fit.aic, 6, maxDecimals: 1),
                Fmt.significant(e.fit.bic, 6, maxDecimals: 1), Fmt.significant(e.holdoutLogLikelihood, 6, maxDecimals: 1), Fmt.fixed(e.mae, 4),
                Fmt.fixed(e.rmse, 4),
                Fmt.signedPercent(e.aggregateError, 1),
            ])
        }
        md.table(
            ["model", "log-likelihood", "AIC", "BIC", "holdout log-likelihood", "holdout MAE", "holdout RMSE", "aggregate error"], comp,
            rightAligned: [false, true, true, true, true, true, true, true])
        md.paragraph(
            "The holdout log-likelihood is the sum over calibration customers of log P(observed holdout count | calibration history) under each model's conditional predictive distribution (closed forms for BG/NBD and MBG/NBD, a one-dimensional quadrature for Pareto/NBD): a proper scoring rule, so in expectation the model that generated the data scores best, and the criterion of `production_model: auto` (`production_criterion: \(p.criterion.rawValue)`). MAE and RMSE are per customer, on the expected number of holdout transactions (MAE is not proper for counts: it rewards predicting the median, so under-predicting the many zeros); aggregate error is (predicted − actual) / actual over all calibration customers."
        )
        var calRows: [[String]] = []
        let groups = r.frequencyGroups
        for i in groups.labels.indices {
            var row = [groups.labels[i], Fmt.int(groups.customers[i]), Fmt.fixed(groups.actualMean[i], 3)]
            for e in r.evaluations { row.append(Fmt.fixed(e.calibrationMeans[i], 3)) }
            calRows.append(row)
        }
        md.table(
            ["calibration frequency", "customers", "actual"] + r.evaluations.map(\.name), calRows,
            rightAligned: [false, true, true] + r.evaluations.map { _ in true })
        md.image("Calibration plot", figureDir + "/calibration.png")
        md.image("Tracking plot", figureDir + "/tracking.png")

        // Forward predictions.
        md.heading(2, "Forward predictions")
        md.paragraph(
            "Models refitted on the whole period (\(calStart) to \(CalendarDay.string(r.observationEnd))); predictions for the next \(formatDouble(p.horizonWeeks)) weeks with \(r.productionModel); CLV = margin \(formatDouble(p.margin)) × expected value per transaction × expected transactions per month over \(formatDouble(p.clvYears)) year(s), discounted at \(Fmt.percent(p.annualDiscountRate, 1)) a year."
        )
        for keyed in r.wholePeriodFits { fitTable(&md, keyed.fit) }
        let pr = r.predictions, full = r.full
        let clv = pr.clv
        let order = clv.indices.filter { !clv[$0].isNaN }.sorted { clv[$0] > clv[$1] || (clv[$0] == clv[$1] && $0 < $1) }
        var top: [[String]] = []
        let comparison = r.comparisonAliveModel
        for i in order.prefix(p.topCustomers) {
            top.append(
                [full.customerIDs[i], Fmt.int(full.frequency[i] + 1), Fmt.money(pr.revenue[i]), Fmt.percent(pr.probabilityAlive[i], 1)]
                    + (comparison == nil ? [] : [Fmt.percent(pr.probabilityAliveComparison[i], 1)])
                    + [Fmt.fixed(pr.expectedTransactions[i], 2), Fmt.money(pr.expectedValue[i]), Fmt.money(pr.clv[i]), pr.segment[i]])
        }
        let aliveHeaders = ["P(alive) \(r.productionModel)"] + (comparison.map { ["P(alive) \($0)"] } ?? [])
        md.paragraph("Top \(p.topCustomers) customers by CLV (all customers in `\(tableDir)/predictions.csv`):")
        md.table(
            ["customer", "transactions", "revenue"] + aliveHeaders + ["expected transactions", "expected value", "CLV", "segment"], top,
            rightAligned: [false, true, true] + aliveHeaders.map { _ in true } + [true, true, true, false])

        // RFM.
        md.heading(2, "RFM segments")
        md.paragraph(
            "Recency, frequency and monetary quintile scores (5 best) over the whole period; segments by recency and frequency score ranges from the parameters."
        )
        var segRows: [[String]] = []
        for segment in r.segments {
            segRows.append(
                [
                    segment.name, Fmt.int(segment.customers), Fmt.percent(segment.customerShare, 1), Fmt.percent(segment.revenueShare, 1),
                    Fmt.int(segment.oneTimeBuyers), Fmt.money(segment.meanCLV), Fmt.percent(segment.meanProbabilityAlive, 1),
                ] + (comparison == nil ? [] : [Fmt.percent(segment.meanProbabilityAliveComparison, 1)]))
        }
        let meanAliveHeaders = aliveHeaders.map { "mean " + $0 }
        md.table(
            ["segment", "customers", "share", "revenue share", "no repeat purchase", "mean CLV"] + meanAliveHeaders, segRows,
            rightAligned: [false, true, true, true, true, true] + meanAliveHeaders.map { _ in true })
        if let sentence = aliveSentence(r, params: p) { md.paragraph(sentence) }
        md.image("RFM segments", figureDir + "/rfm_segments.png")

        if let replication = r.replication, let cdnow = p.cdnow {
            replicationSection(&md, replication, cdnow)
        }

        md.heading(2, "Files")
        md.paragraph(
            "In `\(tableDir)/`: cleaning.csv, dropped_codes.csv, calibration_summaries.csv, fit_<model>.json (calibration and whole-period fits), model_comparison.csv, calibration_plot.csv, tracking.csv, predictions.csv, rfm_segments.csv\(r.replication == nil ? "" : ", cdnow_replication.csv"). Figures with their data and gnuplot scripts in `\(figureDir)/`."
        )
        return md.text
    }

    static func replicationSection(_ md: inout Markdown, _ replication: [ReplicationEstimate], _ cdnow: CDNOWParams) {
        md.heading(2, "Replication on CDNOW")
        md.paragraph(
            "The 2,357-customer CDNOW sample (39-week calibration, weeks) and the full master file (calibration to \(cdnow.calibrationEnd)), beside the published estimates for the sample (Fader, Hardie & Lee 2005; Gamma-Gamma from their 'RFM and CLV' paper, which uses the sample's spend, not in this data set — hence only the master file's fit is shown for it). The sample file gives recency and age in weeks rounded to two decimals; fitted on those, Pareto/NBD's beta can differ from the published value in its last decimal; the published values are all reproduced when the times are restored to whole days (round(7t)/7), as the CLV tests check."
        )
        md.paragraph(
            cdnow.master.cleaning.dropNonPositivePrice
                ? "The master file's zero-value lines are dropped (drop_nonpositive_price), so purchase occasions without spend are missing from every model, and customers whose purchases were all free are missing altogether."
                : "The master file's zero-value lines are kept: they are purchase occasions, counted by the transaction models. Gamma-Gamma models spend, so it averages only the repeat transactions with a positive value and leaves the zero-value ones out."
        )
        var rep: [[String]] = []
        for e in replication {
            // Parameters to the published values' three decimals (the comparison is numerical, not
            // statistical), log-likelihoods to six significant digits, standard errors to two.
            let isLL = e.parameter == "LL"
            let show: (Double) -> String = { isLL ? Fmt.significant($0, 6, maxDecimals: 2) : Fmt.fixed($0, 3) }
            rep.append([e.data, e.model, e.parameter, show(e.estimate), Fmt.significant(e.standardError, 2), show(e.publishedSample)])
        }
        md.table(
            ["data", "model", "parameter", "estimate", "std. error", "published (sample)"], rep,
            rightAligned: [false, false, false, true, true, true])
    }

    /// "A", "A and B", "A, B and C".
    static func listed(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    static func fitTable(_ md: inout Markdown, _ fit: FitResult) {
        var rows: [[String]] = []
        let identified = fit.identified
        for (k, name) in fit.parameterNames.enumerated() {
            if fit.limit != nil && !identified[k] {
                rows.append([name, "not identified (→ ∞)", "–", "–"])
                continue
            }
            rows.append([
                name, Fmt.estimate(fit.estimates[k], standardError: fit.standardErrors[k]), Fmt.significant(fit.standardErrors[k], 2),
                Fmt.interval(fit.confidenceIntervals[k].lower, fit.confidenceIntervals[k].upper) {
                    Fmt.fixed($0, Fmt.decimals(fit.estimates[k], standardError: fit.standardErrors[k]))
                },
            ])
        }
        var status =
            "\(fit.method), \(fit.stoppedOnRidge ? "stopped on the ridge" : fit.converged ? "converged" : "**not converged**") after \(fit.iterations) iterations, gradient norm \(String(format: "%.1e", fit.gradientNorm))"
        if let limit = fit.limit, let ridge = fit.ridge {
            // The ridge is explained once, in the summary; here the limit's own parameter and fit.
            for (j, name) in limit.parameterNames.enumerated() where !fit.parameterNames.contains(name) {
                rows.append([
                    "\(name) = \(ridge.ratioName) (limit)", Fmt.estimate(limit.estimates[j], standardError: limit.standardErrors[j]),
                    Fmt.significant(limit.standardErrors[j], 2),
                    Fmt.interval(limit.confidenceIntervals[j].lower, limit.confidenceIntervals[j].upper) {
                        Fmt.fixed($0, Fmt.decimals(limit.estimates[j], standardError: limit.standardErrors[j]))
                    },
                ])
            }
            status =
                "on the ridge \(ridge.names.joined(separator: ", ")) → ∞: fitted as the limit model (\(limit.parameterNames.count) parameters; \(limit.method), \(limit.converged ? "converged" : "**not converged**") after \(limit.iterations) iterations, gradient norm \(String(format: "%.1e", limit.gradientNorm))\(limit.boundary.isEmpty ? "" : "; **boundary of the limit: \(limit.boundaryDetails.joined(separator: "; "))**"))"
        } else if !fit.boundary.isEmpty {
            status += "; **boundary: \(fit.boundaryDetails.joined(separator: "; "))**"
        }
        md.paragraph(
            "**\(fit.model)** (n = \(Fmt.int(fit.n))): log-likelihood \(Fmt.significant(fit.logLikelihood, 6, maxDecimals: 2)), AIC \(Fmt.significant(fit.aic, 6, maxDecimals: 1)), BIC \(Fmt.significant(fit.bic, 6, maxDecimals: 1)); \(status)."
        )
        md.table(["parameter", "estimate", "std. error", "95% CI"], rows, rightAligned: [false, true, true, true])
    }

    /// `v` with as many significant digits as its standard error supports (two of the error's), at most 6.
    static func significant(_ v: Double, _ se: Double) -> String { Fmt.estimate(v, standardError: se) }

    /// The production model's holdout bias, overall and for customers without a repeat purchase in calibration,
    /// and what it means for the forward CLV; computed from the comparison and calibration tables.
    static func holdoutBiasSentence(_ r: CLVResult) -> String? {
        guard let e = r.evaluations.first(where: { $0.name == r.productionModel }), e.aggregateError.isFinite else { return nil }
        let g = r.frequencyGroups
        let overall = e.aggregateError
        let direction = overall > 0 ? "over-predicts" : "under-predicts"
        var sentence = "\(e.name) \(direction) the holdout by \(Fmt.percent(abs(overall), 1)) overall"
        if g.customers.first ?? 0 > 0, let predicted0 = e.calibrationMeans.first, let actual0 = g.actualMean.first, actual0 > 0 {
            let bias0 = predicted0 / actual0 - 1
            sentence +=
                " and \(bias0 > 0 ? "over" : "under")-predicts by \(Fmt.percent(abs(bias0), 0)) for the \(Fmt.int(g.customers[0])) customers with no repeat purchase in calibration (\(Fmt.fixed(predicted0, 3)) predicted vs \(Fmt.fixed(actual0, 3)) actual transactions each)"
        }
        sentence +=
            overall > 0
            ? ", so the forward expected transactions and the CLV built on them are probably overstated by an amount of that order."
            : ", so the forward expected transactions and the CLV built on them are probably understated by an amount of that order."
        return sentence
    }

    /// The Gamma-Gamma independence check with Pearson's and Spearman's coefficients, and its consequence.
    static func gammaGammaSentence(_ r: CLVResult) -> String {
        let c = r.correlation
        var s =
            "Gamma-Gamma assumes spend per transaction is independent of frequency: among the \(Fmt.int(c.n)) calibration customers with repeat purchases, the Pearson correlation between frequency and mean repeat spend is \(Fmt.fixed(c.correlation, 3)) (p = \(Fmt.pValue(c.pValue))) and the Spearman rank correlation \(Fmt.fixed(c.rankCorrelation, 3)) (p = \(Fmt.pValue(c.rankPValue)))"
        if c.rankPValue < 0.05 && abs(c.rankCorrelation) >= 0.1 {
            s +=
                c.rankCorrelation > 0
                ? ". Spend per transaction rises with frequency, against the assumption: the model shrinks every customer's spend towards the same population mean, so it understates the value per transaction of frequent buyers and overstates that of infrequent ones, and CLV rankings and totals lean on that shrinkage."
                : ". Spend per transaction falls with frequency, against the assumption: the model overstates the value per transaction of frequent buyers and understates that of infrequent ones."
        } else {
            s += ": no clear dependence, consistent with the assumption."
        }
        return s
    }

    /// What the two P(alive) columns mean, from the RFM table: the segment with the lowest recency score
    /// and the customers without repeat purchases.
    static func aliveSentence(_ r: CLVResult, params p: CLVParams) -> String? {
        guard let other = r.comparisonAliveModel else { return nil }
        let pr = r.predictions
        let oneTime = r.full.frequency.indices.filter { r.full.frequency[$0] == 0 }
        guard !oneTime.isEmpty else { return nil }
        let meanOther = oneTime.reduce(0.0) { $0 + pr.probabilityAliveComparison[$1] } / Double(oneTime.count)
        var s: String
        if r.productionOneTimeBuyersImmortal {
            s =
                "\(r.productionModel) gives P(alive) = 1 to every customer without a repeat purchase (\(Fmt.int(oneTime.count)) of \(Fmt.int(r.full.count)) customers), however long ago they bought: its dropout can only follow a repeat purchase. \(other), in which a customer can leave without buying again, gives them \(Fmt.percent(meanOther, 1)) on average"
        } else {
            let meanProd = oneTime.reduce(0.0) { $0 + pr.probabilityAlive[$1] } / Double(oneTime.count)
            s =
                "Customers without a repeat purchase (\(Fmt.int(oneTime.count)) of \(Fmt.int(r.full.count))) have mean P(alive) \(Fmt.percent(meanProd, 1)) under \(r.productionModel) and \(Fmt.percent(meanOther, 1)) under \(other)"
        }
        // The least recent segment: the rule whose recency range is lowest.
        if let rule = p.rfmSegments.min(by: { ($0.r[0], $0.r[1]) < ($1.r[0], $1.r[1]) }),
            let seg = r.segments.first(where: { $0.name == rule.name }), seg.customers > 0
        {
            s +=
                "; in the '\(seg.name)' segment (\(Fmt.int(seg.customers)) customers, \(Fmt.int(seg.oneTimeBuyers)) without a repeat purchase) mean P(alive) is \(Fmt.percent(seg.meanProbabilityAlive, 1)) under \(r.productionModel) and \(Fmt.percent(seg.meanProbabilityAliveComparison, 1)) under \(other)"
        }
        s +=
            r.productionOneTimeBuyersImmortal
            ? ". Read \(r.productionModel)'s P(alive) of one-time buyers as 'not yet seen to leave', not as a probability that they will buy again."
            : "."
        return s
    }
}
