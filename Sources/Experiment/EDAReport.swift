import Foundation
import Reporting
import Stats
import Tabular

/// Figures of the EDA report.
public enum EDAFigures {
    static let palette = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]

    /// Renders every figure into `directory`, passing each file to `write`.
    public static func render(_ r: EDAResult, spec: DatasetSpec, params: EDAParams, directory: String,
                              write: ([UInt8], String) throws -> Void) throws {
        for figure in try figures(r, spec: spec, params: params) {
            _ = try figure.render(into: directory, write: write)
        }
    }

    public static func figures(_ r: EDAResult, spec: DatasetSpec, params: EDAParams) throws -> [Figure] {
        let armNames = try r.arms.strings("arm").values
        var figs: [Figure] = []

        // Outcome means per arm with confidence intervals, one panel per outcome.
        var data = GnuplotData(comment: "index per outcome; columns: x arm mean ci_low ci_high (binary outcomes in %)")
        var plots: [String] = []
        for (k, o) in spec.outcomes.enumerated() {
            if k > 0 { data.nextBlock() }
            let scale = o.type == .binary ? 100.0 : 1.0
            for (x, arm) in armNames.enumerated() {
                let i = try r.outcomes.row(where: ["outcome": o.name, "arm": arm])
                data.row([String(x), arm, formatDouble(try r.outcomes.number("mean", i) * scale),
                          formatDouble(try r.outcomes.number("ci_low", i) * scale), formatDouble(try r.outcomes.number("ci_high", i) * scale)])
            }
            plots.append("""
            set title "\(o.name)\(o.type == .binary ? " rate (%)" : " per customer")"
            plot 'outcome_rates.dat' index \(k) using 1:3:($1+1):xtic(2) with boxes lc variable notitle, \\
                 '' index \(k) using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.5 notitle
            """)
        }
        let colours = palette.enumerated().map { "set linetype \($0.offset + 1) lc rgb \"\($0.element)\"" }.joined(separator: "\n")
        figs.append(Figure(name: "outcome_rates", script: """
            \(colours)
            set multiplot layout 1,\(spec.outcomes.count) title "Outcomes per arm with \(Int(params.confidenceLevel * 100))% confidence intervals"
            set style fill solid 0.7 border -1
            set boxwidth 0.6
            set xtics nomirror rotate by -20
            set ytics nomirror
            set grid ytics
            set yrange [0:*]
            set xrange [-0.6:\(Double(armNames.count) - 0.4)]
            \(plots.joined(separator: "\n"))
            unset multiplot
            """, data: [("outcome_rates.dat", data.bytes)], width: 1100, height: 480))

        // Lift by segment for the segment outcome, each treated arm against control.
        let seg = r.segmentLifts
        let outcome = spec.outcomes.first { $0.name == params.segmentOutcome }!
        let scale = outcome.type == .binary ? 100.0 : 1.0
        let rows = try seg.rows(where: ["outcome": params.segmentOutcome])
        var labels: [String] = []
        for i in rows {
            let label = "\(try seg.text("feature", i)) = \(try seg.text("level", i))"
            if !labels.contains(label) { labels.append(label) }
        }
        let treatedArms = armNames.dropFirst()
        var segData = GnuplotData(comment: "index per arm; columns: y label lift ci_low ci_high")
        var segPlots: [String] = []
        for (k, arm) in treatedArms.enumerated() {
            if k > 0 { segData.nextBlock() }
            for i in rows where try seg.text("arm", i) == arm {
                let label = "\(try seg.text("feature", i)) = \(try seg.text("level", i))"
                let y = labels.count - 1 - labels.firstIndex(of: label)!
                segData.row([String(y), label, formatDouble(try seg.number("abs_lift", i) * scale),
                             formatDouble(try seg.number("abs_ci_low", i) * scale), formatDouble(try seg.number("abs_ci_high", i) * scale)])
            }
            let offset = (Double(k) - Double(treatedArms.count - 1) / 2) * 0.25
            segPlots.append("'segment_lift.dat' index \(k) using 3:($1\(offset >= 0 ? "+" : "")\(offset)):4:5\(k == 0 ? ":ytic(2)" : "") with xerrorbars lt \(k + 2) pt 7 ps 0.8 title \"\(arm)\"")
        }
        figs.append(Figure(name: "segment_lift", script: """
            \(colours)
            set title "Lift in \(outcome.name)\(outcome.type == .binary ? " (percentage points)" : "") vs control by segment, \(Int(params.confidenceLevel * 100))% CI"
            set key outside bottom center horizontal
            set grid xtics
            set ytics nomirror font ",9"
            set yrange [-0.7:\(Double(labels.count) - 0.3)]
            set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb "gray40" dt 2
            plot \(segPlots.joined(separator: ", \\\n     "))
            """, data: [("segment_lift.dat", segData.bytes)], width: 1000, height: max(420, 26 * labels.count + 140)))

        // Distribution of positive continuous outcomes (spend among buyers), per arm.
        let hist = r.positiveDistribution
        for o in spec.outcomes where o.type == .continuous {
            var h = GnuplotData(comment: "index per arm; columns: bin_mid share")
            var hp: [String] = []
            for (k, arm) in armNames.enumerated() {
                if k > 0 { h.nextBlock() }
                for i in try hist.rows(where: ["outcome": o.name, "arm": arm]) {
                    let mid = (try hist.number("bin_low", i) + hist.number("bin_high", i)) / 2
                    h.row([formatDouble(mid), formatDouble(try hist.number("share", i) * 100)])
                }
                hp.append("'\(o.name)_positive.dat' index \(k) using 1:2 with histeps lw 2 lt \(k + 1) title \"\(arm)\"")
            }
            figs.append(Figure(name: "\(o.name)_positive", script: """
                \(colours)
                set title "Distribution of \(o.name) where it is positive, per arm"
                set xlabel "\(o.name)"
                set ylabel "share of positive rows (%)"
                set logscale y
                set grid
                set key top right
                plot \(hp.joined(separator: ", \\\n     "))
                """, data: [("\(o.name)_positive.dat", h.bytes)]))
        }
        return figs
    }
}

/// The EDA Markdown report. Every number in it is read from the computed tables.
public enum EDAReport {
    public static func build(_ r: EDAResult, spec: DatasetSpec, params: EDAParams, figureDir: String, tableDir: String) throws -> String {
        let armNames = try r.arms.strings("arm").values
        let treated = Array(armNames.dropFirst())
        let comparisons = try r.lifts.strings("arm").levels
        let level = "\(Int((params.confidenceLevel * 100).rounded()))%"
        let total = try (0..<r.arms.rowCount).reduce(0) { $0 + Int(try r.arms.number("n", $1)) }
        let srmP = try r.srm.number("p_value", 0)
        var md = Markdown()
        md.heading(1, "Experiment analysis: \(spec.name)")
        md.paragraph("Randomized campaign with \(Fmt.int(total)) customers in \(armNames.count) arms (\(armNames.joined(separator: ", "))); control arm: **\(spec.controlArm)**. Outcomes: \(spec.outcomes.map { "\($0.name) (\($0.type.rawValue))" }.joined(separator: ", ")). All intervals are \(level) confidence intervals.")

        // Plain-language summary.
        md.heading(2, "Summary")
        var bullets: [String] = []
        bullets.append(srmP < 0.01
            ? "**Sample ratio mismatch**: arm sizes differ from equal allocation more than chance allows (chi-square p = \(Fmt.pValue(srmP))). Check the randomization before trusting the lifts."
            : "Arm sizes are consistent with equal allocation (sample-ratio chi-square p = \(Fmt.pValue(srmP))).")
        let smd = try r.balance.doubles("smd_vs_control").filter { !$0.isNaN }
        let maxSMD = smd.map(abs).max() ?? 0
        bullets.append("Covariates are \(maxSMD < 0.1 ? "balanced" : "**not** balanced") across arms: the largest absolute standardized mean difference against control is \(Fmt.fixed(maxSMD, 3)) (the usual threshold is 0.1).")
        for o in spec.outcomes {
            var parts: [String] = []
            for arm in comparisons {
                let i = try r.lifts.row(where: ["outcome": o.name, "arm": arm])
                let lift = try r.lifts.number("abs_lift", i), lo = try r.lifts.number("abs_ci_low", i), hi = try r.lifts.number("abs_ci_high", i)
                let rel = try r.lifts.number("rel_lift", i), p = try r.lifts.number("p_value", i)
                let f: (Double) -> String = o.type == .binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
                parts.append("\(arm) \(f(lift)) \(Fmt.interval(lo, hi, f)), \(Fmt.signedPercent(rel)) relative, p = \(Fmt.pValue(p))")
            }
            let c = try r.outcomes.row(where: ["outcome": o.name, "arm": spec.controlArm])
            let base = try r.outcomes.number("mean", c)
            bullets.append("**\(o.name)** (control \(o.type == .binary ? Fmt.percent(base) : Fmt.fixed(base, 3))): " + parts.joined(separator: "; ") + ".")
        }
        // Strongest segment response in the segment outcome, per treated arm.
        let seg = r.segmentLifts
        let outcome = spec.outcomes.first { $0.name == params.segmentOutcome }!
        let fmtSeg: (Double) -> String = outcome.type == .binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
        for arm in treated {
            let rows = try seg.rows(where: ["outcome": params.segmentOutcome, "arm": arm])
            guard !rows.isEmpty else { continue }
            let best = try rows.max { try seg.number("abs_lift", $0) < seg.number("abs_lift", $1) }!
            let worst = try rows.min { try seg.number("abs_lift", $0) < seg.number("abs_lift", $1) }!
            bullets.append("\(arm), \(params.segmentOutcome) by segment: largest lift where \(try seg.text("feature", best)) = \(try seg.text("level", best)) (\(fmtSeg(try seg.number("abs_lift", best))), p = \(Fmt.pValue(try seg.number("p_value", best)))); smallest where \(try seg.text("feature", worst)) = \(try seg.text("level", worst)) (\(fmtSeg(try seg.number("abs_lift", worst))), p = \(Fmt.pValue(try seg.number("p_value", worst)))). Segment lifts are many comparisons: treat single p-values near 0.05 as hints, not findings.")
        }
        // Power for the first binary outcome other than the most common one: use the segment outcome.
        for arm in treated {
            let i = try r.power.row(where: ["outcome": params.segmentOutcome, "arm": arm])
            let mde = try r.power.number("mde_abs", i), observed = try r.power.number("observed_lift", i)
            let needed = try r.power.number("n_per_arm_for_observed", i), achieved = try r.power.number("power_at_observed", i)
            bullets.append("Power (\(arm), \(params.segmentOutcome)): with these arm sizes the smallest lift detectable at \(Int(params.power * 100))% power and alpha \(params.alpha) is \(fmtSeg(mde)); the observed lift is \(fmtSeg(observed)) (power \(Fmt.percent(achieved, 0)) to detect it), and detecting it at \(Int(params.power * 100))% power needs about \(Fmt.int(needed)) customers per arm.")
        }
        md.bullets(bullets)

        // Arms.
        md.heading(2, "Arms and sample ratio")
        var armRows: [[String]] = []
        for i in 0..<r.arms.rowCount {
            armRows.append([try r.arms.text("arm", i), Fmt.int(try r.arms.number("n", i)),
                            Fmt.percent(try r.arms.number("share", i)), Fmt.percent(try r.arms.number("expected_share", i))])
        }
        md.table(["arm", "customers", "share", "expected share"], armRows, rightAligned: [false, true, true, true])
        md.paragraph("Chi-square test against equal allocation: statistic \(Fmt.fixed(try r.srm.number("statistic", 0), 3)) on \(Fmt.fixed(try r.srm.number("df", 0), 0)) degrees of freedom, p = \(Fmt.pValue(srmP)).")

        // Balance.
        md.heading(2, "Covariate balance")
        md.paragraph("Mean of each numeric feature and share of each category level per arm; standardized mean difference (SMD) of each e-mail arm against control.")
        var balanceRows: [[String]] = []
        let bFeature = try r.balance.strings("feature"), bLevel = try r.balance.strings("level")
        var seen = Set<String>()
        for i in 0..<r.balance.rowCount {
            let key = bFeature[i] + "\u{1}" + bLevel[i]
            guard seen.insert(key).inserted else { continue }
            var row = [bFeature[i], bLevel[i]]
            let isShare = !bLevel[i].isEmpty
            for arm in armNames {
                let j = try r.balance.row(where: ["feature": bFeature[i], "level": bLevel[i], "arm": arm])
                let v = try r.balance.number("mean", j)
                row.append(isShare ? Fmt.percent(v, 1) : Fmt.fixed(v, 3))
            }
            for arm in treated {
                let j = try r.balance.row(where: ["feature": bFeature[i], "level": bLevel[i], "arm": arm])
                row.append(Fmt.fixed(try r.balance.number("smd_vs_control", j), 3))
            }
            balanceRows.append(row)
        }
        md.table(["feature", "level"] + armNames + treated.map { "SMD \($0)" }, balanceRows,
                 rightAligned: [false, false] + Array(repeating: true, count: armNames.count + treated.count))

        // Outcomes.
        md.heading(2, "Outcomes per arm")
        var outcomeRows: [[String]] = []
        for i in 0..<r.outcomes.rowCount {
            let name = try r.outcomes.text("outcome", i)
            let binary = spec.outcomes.first { $0.name == name }?.type == .binary
            let f: (Double) -> String = binary ? { Fmt.percent($0) } : { Fmt.fixed($0, 3) }
            outcomeRows.append([name, try r.outcomes.text("arm", i), Fmt.int(try r.outcomes.number("n", i)),
                                f(try r.outcomes.number("mean", i)),
                                Fmt.interval(try r.outcomes.number("ci_low", i), try r.outcomes.number("ci_high", i), f)])
        }
        md.table(["outcome", "arm", "n", "mean", "\(level) CI"], outcomeRows, rightAligned: [false, false, true, true, true])
        md.paragraph("Binary outcomes: Wilson score intervals. Continuous outcomes: t intervals.")
        md.image("Outcomes per arm", figureDir + "/outcome_rates.png")

        // Lifts.
        md.heading(2, "Lift of each e-mail against control")
        var liftRows: [[String]] = []
        for i in 0..<r.lifts.rowCount {
            let name = try r.lifts.text("outcome", i)
            let binary = spec.outcomes.first { $0.name == name }?.type == .binary
            let f: (Double) -> String = binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
            liftRows.append([name, try r.lifts.text("arm", i), f(try r.lifts.number("abs_lift", i)),
                             Fmt.interval(try r.lifts.number("abs_ci_low", i), try r.lifts.number("abs_ci_high", i), f),
                             Fmt.signedPercent(try r.lifts.number("rel_lift", i)),
                             Fmt.interval(try r.lifts.number("rel_ci_low", i), try r.lifts.number("rel_ci_high", i), { Fmt.signedPercent($0) }),
                             try r.lifts.text("test", i), Fmt.pValue(try r.lifts.number("p_value", i))])
        }
        md.table(["outcome", "arm", "absolute lift", "\(level) CI", "relative lift", "\(level) CI", "test", "p-value"], liftRows,
                 rightAligned: [false, false, true, true, true, true, false, true])
        md.paragraph("Binary outcomes: two-proportion z test (pooled) with an unpooled Wald interval for the difference. Spend: Welch's t test. Relative lifts use a delta-method interval. \"\(EDA.pooledArm)\" pools all e-mail arms.")

        // Power.
        md.heading(2, "Power")
        md.paragraph("Minimum detectable effect (MDE) at \(Int(params.power * 100))% power, two-sided alpha \(params.alpha), with the control arm's outcome spread; the power the test had for the lift actually observed; and the sample size per arm needed to detect the observed lift.")
        var powerRows: [[String]] = []
        for i in 0..<r.power.rowCount {
            let name = try r.power.text("outcome", i)
            let binary = spec.outcomes.first { $0.name == name }?.type == .binary
            let f: (Double) -> String = binary ? { Fmt.points($0, 3) } : { Fmt.fixed($0, 3) }
            powerRows.append([name, try r.power.text("arm", i), Fmt.int(try r.power.number("n_arm", i)), Fmt.int(try r.power.number("n_control", i)),
                              f(try r.power.number("mde_abs", i)), Fmt.signedPercent(try r.power.number("mde_rel", i)),
                              f(try r.power.number("observed_lift", i)), Fmt.percent(try r.power.number("power_at_observed", i), 1),
                              Fmt.int(try r.power.number("n_per_arm_for_observed", i))])
        }
        md.table(["outcome", "arm", "n arm", "n control", "MDE", "MDE relative", "observed lift", "power at observed", "n per arm needed"], powerRows,
                 rightAligned: [false, false, true, true, true, true, true, true, true])

        // Segments.
        md.heading(2, "Lift by segment: \(params.segmentOutcome)")
        md.paragraph("Each e-mail arm against control within each level of \(params.segmentFeatures.joined(separator: ", ")). All outcomes are in `\(tableDir)/segment_lifts.csv`.")
        var segRows: [[String]] = []
        for i in try seg.rows(where: ["outcome": params.segmentOutcome]) {
            segRows.append([try seg.text("feature", i), try seg.text("level", i), try seg.text("arm", i),
                            Fmt.int(try seg.number("n_arm", i)), Fmt.int(try seg.number("n_control", i)),
                            outcome.type == .binary ? Fmt.percent(try seg.number("mean_control", i)) : Fmt.fixed(try seg.number("mean_control", i), 3),
                            fmtSeg(try seg.number("abs_lift", i)),
                            Fmt.interval(try seg.number("abs_ci_low", i), try seg.number("abs_ci_high", i), fmtSeg),
                            Fmt.pValue(try seg.number("p_value", i))])
        }
        md.table(["feature", "level", "arm", "n arm", "n control", "control", "lift", "\(level) CI", "p-value"], segRows,
                 rightAligned: [false, false, false, true, true, true, true, true, true])
        md.image("Lift by segment", figureDir + "/segment_lift.png")

        for o in spec.outcomes where o.type == .continuous {
            md.heading(2, "Distribution of \(o.name) where positive")
            md.image("Distribution of \(o.name)", figureDir + "/\(o.name)_positive.png")
        }

        md.heading(2, "Files")
        md.paragraph("Tables (CSV) in `\(tableDir)/`: arms, srm, balance, outcomes, lifts, power, segment_lifts, positive_distribution. Each figure's data and gnuplot script sit beside its PNG in `\(figureDir)/`.")
        return md.text
    }
}
