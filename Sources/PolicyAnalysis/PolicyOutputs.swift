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

    public static func curve(_ r: PolicyResult) -> Table {
        Table(
            names: ["contacts", "share", "expected_profit"],
            columns: [.int(r.curvePoints.map(\.contacts)), .double(r.curvePoints.map(\.share)), .double(r.curvePoints.map(\.profit))])
    }

    /// With e-mails that have their own costs, each e-mail's cost in the cell follows the axis.
    public static func sensitivity(_ r: PolicyResult) -> Table {
        var names = ["margin", "cost_per_contact"]
        var columns: [ColumnData] = [.double(r.sensitivity.map(\.margin)), .double(r.sensitivity.map(\.costPerContact))]
        if r.sensitivityHasOwnCosts {
            for (k, arm) in r.armNames.enumerated() {
                names.append("cost_\(slug(arm))")
                columns.append(.double(r.sensitivity.map { $0.costs[k] }))
            }
        }
        names += ["best_contacts", "best_share", "best_expected_profit"]
        columns += [.int(r.sensitivity.map(\.bestContacts)), .double(r.sensitivity.map(\.bestShare)), .double(r.sensitivity.map(\.bestProfit))]
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

    public static func evaluation(_ r: PolicyResult) -> Table {
        var names = ["policy", "key", "contacts"] + r.armNames.map { "contacts_\(slug($0))" }
        names += [
            "cost", "model_expected_profit", "ipw_profit", "ipw_ci_lower", "ipw_ci_upper", "dr_profit", "dr_ci_lower", "dr_ci_upper",
            "ipw_incremental_revenue_per_customer", "dr_incremental_revenue_per_customer",
        ]
        var columns: [ColumnData] = [.string(StringColumn(r.rows.map(\.name))), .string(StringColumn(r.rows.map(\.key))), .double(r.rows.map(\.contacts))]
        for k in r.armNames.indices { columns.append(.double(r.rows.map { $0.armContacts[k] })) }
        columns += [
            .double(r.rows.map(\.cost)), .double(r.rows.map(\.modelExpectedProfit)),
            .double(r.rows.map(\.estimate.ipw.profit)), .double(r.rows.map(\.estimate.ipw.profitCI.lower)), .double(r.rows.map(\.estimate.ipw.profitCI.upper)),
            .double(r.rows.map { $0.estimate.dr?.profit ?? .nan }), .double(r.rows.map { $0.estimate.dr?.profitCI.lower ?? .nan }),
            .double(r.rows.map { $0.estimate.dr?.profitCI.upper ?? .nan }),
            .double(r.rows.map(\.estimate.ipw.incrementalValue)), .double(r.rows.map { $0.estimate.dr?.incrementalValue ?? .nan }),
        ]
        return Table(names: names, columns: columns)
    }

    public static func deciles(_ r: PolicyResult) -> Table {
        Table(
            names: ["decile", "rows", "mean_predicted_uplift", "observed_uplift", "observed_ci_lower", "observed_ci_upper"],
            columns: [
                .int(r.deciles.map(\.index)), .int(r.deciles.map(\.rows)), .double(r.deciles.map(\.meanPredicted)),
                .double(r.deciles.map(\.observed)), .double(r.deciles.map(\.observedCI.lower)), .double(r.deciles.map(\.observedCI.upper)),
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
        let s = r.solution
        return .object([
            "customers": .number(Double(r.customers)), "margin": .number(p.margin),
            "costs": .object(Dictionary(uniqueKeysWithValues: zip(r.armNames, r.costs.map { JSONValue.number($0) }))),
            "propensities": .object(Dictionary(uniqueKeysWithValues: zip(["control"] + r.armNames, r.propensities.map { JSONValue.number($0) }))),
            "best_n": .number(Double(r.bestN)), "best_n_expected_profit": .number(r.curve.maximum),
            "constrained": .object([
                "status": .string(s.status.text), "glpk_status_code": .number(Double(s.status.code)), "objective": .number(s.objective),
                "bound": .number(s.bound), "relative_gap": .number(s.relativeGap), "time_limit_reached": .bool(s.timeLimitReached),
                "greedy_objective": .number(r.greedyObjective), "budget": p.budget.map { .number($0) } ?? .null,
                "arm_caps": .object(p.armCaps.mapValues { .number(Double($0)) }), "contacts": .number(Double(s.assignment.contacts)),
            ]),
            "policies": .array(
                r.rows.map { row in
                    .object([
                        "key": .string(row.key), "name": .string(row.name), "contacts": .number(row.contacts), "cost": .number(row.cost),
                        "model_expected_profit": .number(row.modelExpectedProfit), "ipw": est(row.estimate.ipw), "dr": est(row.estimate.dr),
                    ])
                }),
            "recommended_policy": .string(r.recommended.key),
            "confidence_level": .number(p.confidenceLevel), "bootstrap_replicates": .number(Double(p.bootstrapReplicates)),
        ])
    }

    public static func pack(_ r: PolicyResult, params p: PolicyParams) throws -> [UInt8] {
        var w = WorkbookWriter()
        try w.addSheet(name: "profit curve", table: curve(r))
        try w.addSheet(name: "deciles", table: deciles(r))
        try w.addSheet(name: "sensitivity", table: sensitivity(r))
        try w.addSheet(name: "policies", table: evaluation(r))
        let list = contactList(r)
        try w.addSheet(name: "contact list sample", table: list.gather(Array(0..<min(p.contactListSample, list.rowCount))))
        return try w.bytes()
    }
}

public enum PolicyFigures {
    public static func figures(_ r: PolicyResult, params p: PolicyParams) -> [Figure] {
        var figs: [Figure] = []
        var c = GnuplotData(comment: "columns: contacts, share, expected profit")
        for pt in r.curvePoints { c.row([String(pt.contacts), formatDouble(pt.share), formatDouble(pt.profit)]) }
        var best = GnuplotData(comment: "the best point")
        best.row([String(r.bestN), formatDouble(r.curve.maximum)])
        figs.append(
            Figure(
                name: "profit_curve",
                script: """
                    set title "Expected profit vs customers contacted (ranked by predicted uplift; test split, model's expectation)"
                    set xlabel "customers contacted"
                    set ylabel "expected profit"
                    set grid
                    set key top right
                    plot 'profit_curve.dat' using 1:3 with lines lw 2 lc rgb "#4C72B0" title "expected profit", \\
                         'profit_best.dat' using 1:2 with points pt 7 ps 1.6 lc rgb "#C44E52" title "best N = \(r.bestN)"
                    """, data: [("profit_curve.dat", c.bytes), ("profit_best.dat", best.bytes)]))

        var h = GnuplotData(comment: "columns: margin, cost per contact, best contact share, best expected profit; one block per margin")
        var lastMargin: Double? = nil
        for cell in r.sensitivity {
            if let m = lastMargin, m != cell.margin { h.nextBlock() }
            lastMargin = cell.margin
            h.row([formatDouble(cell.margin), formatDouble(cell.costPerContact), formatDouble(cell.bestShare), formatDouble(cell.bestProfit)])
        }
        func halfStep(_ v: [Double]) -> Double {
            let u = Array(Set(v)).sorted()
            let steps = zip(u, u.dropFirst()).map { $1 - $0 }
            return (steps.min() ?? 1) / 2
        }
        let dm = halfStep(r.sensitivity.map(\.margin)), dc = halfStep(r.sensitivity.map(\.costPerContact))
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
        for (i, row) in r.rows.enumerated() {
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
                    set title "Profit of each policy on the test split: the model's expectation vs the held-out estimate"
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
