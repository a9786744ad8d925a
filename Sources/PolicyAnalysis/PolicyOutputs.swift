import Base
import Foundation
import Policy
import Provenance
import Reporting
import Stats
import Tabular
import Uplift
import Workbook

public enum PolicyOutputs {
    static func f(_ v: Double) -> String { formatDouble(v) }

    public static func curve(_ r: PolicyResult, points: Int) throws -> Table {
        let pts = try r.primary.curve.sampled(points: points)
        return Table(
            names: ["contacts", "share", "expected_profit"],
            columns: [.int(pts.map(\.contacts)), .double(pts.map(\.share)), .double(pts.map(\.profit))])
    }

    /// With e-mails that have their own costs, each e-mail's cost in the cell follows the axis.
    public static func sensitivity(_ r: PolicyResult) -> Table {
        let cells = r.sensitivity.map(\.cell)
        var names = ["margin", "cost_per_contact"]
        var columns: [ColumnData] = [.double(cells.map(\.margin)), .double(cells.map(\.costPerContact))]
        if r.sensitivityHasOwnCosts {
            for (k, arm) in r.armNames.enumerated() {
                names.append("cost_\(slug(arm))")
                columns.append(.double(cells.map { $0.costs[k] }))
            }
        }
        names += ["best_contacts", "best_share", "best_expected_profit", "rescaled_expected_profit", "held_out_dr_profit"]
        columns += [
            .int(cells.map(\.bestContacts)), .double(cells.map(\.bestShare)), .double(cells.map(\.bestProfit)),
            .double(r.sensitivity.map(\.rescaledExpectedProfit)), .double(r.sensitivity.map(\.heldOutProfit)),
        ]
        return Table(names: names, columns: columns)
    }

    /// The recommended policy's contacts, by expected profit (rank 1 = most profitable).
    public static func contactList(_ r: PolicyResult) -> Table {
        let a = r.recommendedAssignment
        var chosen = (0..<r.customers).filter { a.arms[$0] != nil }
        chosen.sort { r.profit[$0, a.arms[$0]!] > r.profit[$1, a.arms[$1]!] || (r.profit[$0, a.arms[$0]!] == r.profit[$1, a.arms[$1]!] && $0 < $1) }
        return Table(
            names: [r.idColumn, "arm", "rank", "uplift", "expected_profit"],
            columns: [
                .string(StringColumn(chosen.map { r.ids[$0] })), .string(StringColumn(chosen.map { r.armNames[a.arms[$0]!] })),
                .int(chosen.indices.map { $0 + 1 }),
                .double(chosen.map { r.armUplift[$0, a.arms[$0]!] }), .double(chosen.map { r.profit[$0, a.arms[$0]!] }),
            ])
    }

    /// Per customer of the test split (by the campaign's id), the arm best-N and positive-only give
    /// (empty: not contacted): the decisions the scorer must reproduce from the recorded economics.
    public static func decisions(_ r: PolicyResult) -> Table {
        func names(_ a: Assignment) -> StringColumn { StringColumn(a.arms.map { $0.map { r.armNames[$0] } ?? "" }) }
        return Table(
            source: "policy_decisions.csv", names: [r.idColumn, "best_n", "positive"],
            columns: [.string(StringColumn(r.ids)), .string(names(r.bestNAssignment)), .string(names(r.positiveAssignment))])
    }

    /// Every policy on every evaluated set of rows: the test split, and all randomized rows when cross-fitted.
    public static func evaluation(_ r: PolicyResult) -> Table {
        let sets = [("test", r.test)] + (r.all.map { [("all", $0)] } ?? [])
        let rows = sets.flatMap { set in set.1.rows.enumerated().map { (set.0, set.1, $0.offset, $0.element) } }
        var names = ["rows", "policy", "key", "simple", "within_limits", "contacts"] + r.armNames.map { "contacts_\(slug($0))" }
        names += [
            "cost", "model_expected_profit", "rescaled_expected_profit", "ipw_profit", "ipw_ci_lower", "ipw_ci_upper", "dr_profit", "dr_ci_lower",
            "dr_ci_upper", "vs_best_simple", "vs_best_simple_ci_lower", "vs_best_simple_ci_upper", "best_simple", "recommended",
            "ipw_incremental_revenue_per_customer", "dr_incremental_revenue_per_customer", "ci_monte_carlo_error",
            "vs_best_simple_ci_monte_carlo_error",
        ]
        var columns: [ColumnData] = [
            .string(StringColumn(rows.map(\.0))), .string(StringColumn(rows.map(\.3.name))), .string(StringColumn(rows.map(\.3.key))),
            .int(rows.map { $0.3.simple ? 1 : 0 }), .int(rows.map { $0.3.withinLimits ? 1 : 0 }), .double(rows.map(\.3.contacts)),
        ]
        for k in r.armNames.indices { columns.append(.double(rows.map { $0.3.armContacts[k] })) }
        columns += [
            .double(rows.map(\.3.cost)), .double(rows.map(\.3.modelExpectedProfit)), .double(rows.map(\.3.rescaledExpectedProfit)),
            .double(rows.map(\.3.estimate.ipw.profit)), .double(rows.map(\.3.estimate.ipw.profitCI.lower)),
            .double(rows.map(\.3.estimate.ipw.profitCI.upper)),
            .double(rows.map { $0.3.estimate.dr?.profit ?? .nan }), .double(rows.map { $0.3.estimate.dr?.profitCI.lower ?? .nan }),
            .double(rows.map { $0.3.estimate.dr?.profitCI.upper ?? .nan }),
            .double(rows.map { $0.3.vsBestSimple?.value ?? .nan }), .double(rows.map { $0.3.vsBestSimple?.ci.lower ?? .nan }),
            .double(rows.map { $0.3.vsBestSimple?.ci.upper ?? .nan }),
            .int(rows.map { $0.1.bestSimple == $0.2 ? 1 : 0 }), .int(rows.map { $0.1.recommended == $0.2 ? 1 : 0 }),
            .double(rows.map(\.3.estimate.ipw.incrementalValue)), .double(rows.map { $0.3.estimate.dr?.incrementalValue ?? .nan }),
            .double(rows.map(\.3.ciMonteCarloError)), .double(rows.map(\.3.vsBestSimpleMonteCarloError)),
        ]
        return Table(names: names, columns: columns)
    }

    public static func deciles(_ r: PolicyResult) -> Table {
        let d = r.primary.deciles
        return Table(
            names: ["decile", "rows", "mean_predicted_uplift", "observed_uplift", "observed_ci_lower", "observed_ci_upper"],
            columns: [
                .int(d.map(\.index)), .int(d.map(\.rows)), .double(d.map(\.meanPredicted)),
                .double(d.map(\.observed)), .double(d.map(\.observedCI.lower)), .double(d.map(\.observedCI.upper)),
            ])
    }

    public static func summary(_ r: PolicyResult, params p: PolicyParams) -> JSONValue {
        func est(_ e: EstimatorValue?) -> JSONValue {
            guard let e else { return .null }
            return .object([
                "profit": .number(e.profit), "profit_ci": .array([.number(e.profitCI.lower), .number(e.profitCI.upper)]),
                "incremental_revenue_per_customer": .number(e.incrementalValue),
            ])
        }
        func comparison(_ c: PolicyComparison) -> JSONValue {
            let s = c.solution
            return .object([
                "customers": .number(Double(c.customers)), "best_n": .number(Double(c.bestN)), "best_n_expected_profit": .number(c.curve.maximum),
                "budget": c.limits.budget.map { .number($0) } ?? .null,
                "constrained": .object([
                    "status": .string(s.status.text), "glpk_status_code": .number(Double(s.status.code)), "objective": .number(s.objective),
                    "bound": .number(s.bound), "relative_gap": .number(s.relativeGap), "time_limit_reached": .bool(s.timeLimitReached),
                    "greedy_objective": .number(c.greedyObjective), "contacts": .number(Double(s.assignment.contacts)),
                ]),
                "calibration": .object([
                    "mean_predicted_uplift": .number(c.calibration.meanPredicted), "observed_uplift": .number(c.calibration.observed),
                    "observed_standard_error": .number(c.calibration.observedStandardError), "factor": .number(c.calibration.factor),
                ]),
                "policies": .array(
                    c.rows.map { row in
                        .object([
                            "key": .string(row.key), "name": .string(row.name), "simple": .bool(row.simple), "within_limits": .bool(row.withinLimits),
                            "contacts": .number(row.contacts), "cost": .number(row.cost), "model_expected_profit": .number(row.modelExpectedProfit),
                            "rescaled_expected_profit": .number(row.rescaledExpectedProfit), "ipw": est(row.estimate.ipw), "dr": est(row.estimate.dr),
                            "vs_best_simple": row.vsBestSimple.map { v in
                                .object(["difference": .number(v.value), "ci": .array([.number(v.ci.lower), .number(v.ci.upper)])])
                            } ?? .null,
                        ])
                    }),
                "best_simple_policy": .string(c.rows[c.bestSimple].key), "recommended_policy": .string(c.rows[c.recommended].key),
                "paired_level": .number(c.adjustedLevel),
            ])
        }
        return .object([
            "margin": .number(p.margin),
            "costs": .object(Dictionary(uniqueKeysWithValues: zip(r.armNames, r.costs.map { JSONValue.number($0) }))),
            "propensities": .object(Dictionary(uniqueKeysWithValues: zip(["control"] + r.armNames, r.propensities.map { JSONValue.number($0) }))),
            "test_split": comparison(r.test), "all_rows": r.all.map(comparison) ?? .null,
            "recommended_policy": .string(r.recommended.key), "recommendation_rows": .string(r.all == nil ? "test" : "all"),
            "arm_caps": .object(p.armCaps.mapValues { .number(Double($0)) }),
            "confirming_test": .object([
                "recommended": .string(r.plan.recommended), "recommended_name": .string(r.plan.recommendedName),
                "alternative": .string(r.plan.alternative), "alternative_name": .string(r.plan.alternativeName),
                "difference_per_customer": .number(r.plan.difference),
                "difference_ci": .array([.number(r.plan.differenceCI.lower), .number(r.plan.differenceCI.upper)]),
                "sd_recommended": .number(r.plan.sdRecommended), "sd_alternative": .number(r.plan.sdAlternative),
                "alpha": .number(r.plan.alpha), "power": .number(r.plan.power), "minimum_difference": .number(r.plan.minimumDifference),
                "per_group_at_estimate": r.plan.perGroupAtEstimate.map { .number(Double($0)) } ?? .null,
                "per_group_at_minimum": r.plan.perGroupAtMinimum.map { .number(Double($0)) } ?? .null,
            ]),
            "confidence_level": .number(p.confidenceLevel), "bootstrap_replicates": .number(Double(p.bootstrapReplicates)),
        ])
    }

    public static func pack(_ r: PolicyResult, params p: PolicyParams) throws -> [UInt8] {
        var w = WorkbookWriter()
        try w.addSheet(name: "profit curve", table: try curve(r, points: p.curvePoints))
        try w.addSheet(name: "deciles", table: deciles(r))
        try w.addSheet(name: "sensitivity", table: sensitivity(r))
        try w.addSheet(name: "policies", table: evaluation(r))
        let list = contactList(r)
        try w.addSheet(name: "contact list sample", table: list.gather(Array(0..<min(p.contactListSample, list.rowCount))))
        return try w.bytes()
    }
}

public enum PolicyFigures {
    public static func figures(_ r: PolicyResult, params p: PolicyParams) throws -> [Figure] {
        var figs: [Figure] = []
        let c0 = r.primary
        var c = GnuplotData(comment: "columns: contacts, share, expected profit")
        for pt in try c0.curve.sampled(points: p.curvePoints) { c.row([String(pt.contacts), formatDouble(pt.share), formatDouble(pt.profit)]) }
        var best = GnuplotData(comment: "the best point")
        best.row([String(c0.bestN), formatDouble(c0.curve.maximum)])
        figs.append(
            Figure(
                name: "profit_curve",
                script: """
                    set title "Expected profit vs customers contacted (ranked by predicted uplift; model's expectation)"
                    set xlabel "customers contacted"
                    set ylabel "expected profit"
                    set grid
                    set key top right
                    plot 'profit_curve.dat' using 1:3 with lines lw 2 lc rgb "#4C72B0" title "expected profit", \\
                         'profit_best.dat' using 1:2 with points pt 7 ps 1.6 lc rgb "#C44E52" title "best N = \(c0.bestN)"
                    """, data: [("profit_curve.dat", c.bytes), ("profit_best.dat", best.bytes)]))

        var h = GnuplotData(comment: "columns: margin, cost per contact, best contact share, best expected profit; one block per margin")
        var lastMargin: Double? = nil
        for cell in r.sensitivity.map(\.cell) {
            if let m = lastMargin, m != cell.margin { h.nextBlock() }
            lastMargin = cell.margin
            h.row([formatDouble(cell.margin), formatDouble(cell.costPerContact), formatDouble(cell.bestShare), formatDouble(cell.bestProfit)])
        }
        func halfStep(_ v: [Double]) -> Double {
            let u = Array(Set(v)).sorted()
            let steps = zip(u, u.dropFirst()).map { $1 - $0 }
            return (steps.min() ?? 1) / 2
        }
        let dm = halfStep(r.sensitivity.map(\.cell.margin)), dc = halfStep(r.sensitivity.map(\.cell.costPerContact))
        figs.append(
            Figure(
                name: "sensitivity",
                script: """
                    set title "Best share of customers to contact, by margin and cost per contact"
                    set xlabel "margin"
                    set ylabel "cost per contact"
                    set cblabel "best share contacted"
                    set palette defined (0 "#f7fbff", 0.5 "#6baed6", 1 "#08306b")
                    set cbrange [0:1]
                    set style fill solid 1.0 noborder
                    set offsets \(formatDouble(dm)), \(formatDouble(dm)), \(formatDouble(dc)), \(formatDouble(dc))
                    plot 'sensitivity.dat' using 1:2:(\(formatDouble(dm))):(\(formatDouble(dc))):3 with boxxyerror fc palette notitle, \\
                         '' using 1:2:(sprintf("%.0f%%", $3*100)) with labels tc rgb "#C44E52" notitle
                    """, data: [("sensitivity.dat", h.bytes)]))

        var e = GnuplotData(comment: "columns: index, label, model expected profit, DR profit, DR lower, DR upper")
        for (i, row) in c0.rows.enumerated() {
            let dr = row.estimate.dr ?? row.estimate.ipw
            e.row([
                String(i), row.name, formatDouble(row.modelExpectedProfit), formatDouble(dr.profit), formatDouble(dr.profitCI.lower),
                formatDouble(dr.profitCI.upper),
            ])
        }
        figs.append(
            Figure(
                name: "policy_profit",
                script: """
                    set title "Profit of each policy: the model's expectation vs the held-out estimate (\(r.all == nil ? "test split" : "all randomized rows, cross-fitted"))"
                    set ylabel "profit"
                    set style fill solid 0.6
                    set boxwidth 0.35
                    set xtics rotate by -25
                    set grid ytics
                    set key top left
                    plot 'policy_profit.dat' using ($1-0.2):3:xtic(2) with boxes lc rgb "#4C72B0" title "model's expectation", \\
                         '' using ($1+0.2):4 with boxes lc rgb "#DD8452" title "held-out (doubly robust)", \\
                         '' using ($1+0.2):4:5:6 with yerrorbars lc rgb "#333333" pt 0 title "\(Int((p.confidenceLevel * 100).rounded()))% CI"
                    """, data: [("policy_profit.dat", e.bytes)], height: 620))
        return figs
    }
}
