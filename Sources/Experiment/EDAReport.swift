import Foundation
import Reporting
import Stats
import Tabular

/// Figures of the EDA report.
public enum EDAFigures {
    static let palette = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]

    /// Renders every figure into `directory`, passing each file to `write`.
    public static func render(
        _ r: EDAResult, spec: DatasetSpec, params: EDAParams, directory: String,
        write: ([UInt8], String) throws -> Void
    ) throws {
        _ = try Figure.renderAll(try figures(r, spec: spec, params: params), into: directory, write: write)
    }

    public static func figures(_ r: EDAResult, spec: DatasetSpec, params: EDAParams) throws -> [Figure] {
        let armNames = r.armNames
        let words = spec.words
        var figs: [Figure] = []

        // Outcome means per arm with confidence intervals, one panel per outcome.
        var data = GnuplotData(comment: "index per outcome; columns: x arm mean ci_low ci_high (binary outcomes in %)")
        var plots: [String] = []
        for (k, o) in spec.outcomes.enumerated() {
            if k > 0 { data.nextBlock() }
            let scale = o.type == .binary ? 100.0 : 1.0
            for (x, arm) in armNames.enumerated() {
                let summary = try r.outcome(o.name, arm: arm)
                data.row([
                    String(x), arm, formatDouble(summary.mean * scale),
                    formatDouble(summary.ci.lower * scale), formatDouble(summary.ci.upper * scale),
                ])
            }
            plots.append(
                """
                set title "\(words.label(o.name))\(o.type == .binary ? " rate (%)" : " per customer")"
                plot 'outcome_rates.dat' index \(k) using 1:3:($1+1):xtic(2) with boxes lc variable notitle, \\
                     '' index \(k) using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.5 notitle
                """)
        }
        let colours = palette.enumerated().map { "set linetype \($0.offset + 1) lc rgb \"\($0.element)\"" }.joined(separator: "\n")
        figs.append(
            Figure(
                name: "outcome_rates",
                script: """
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
        let outcome = spec.outcomes.first { $0.name == params.segmentOutcome }!
        let scale = outcome.type == .binary ? 100.0 : 1.0
        let rows = r.segmentLifts(params.segmentOutcome)
        var labels: [String] = []
        for s in rows where !labels.contains(s.label) { labels.append(s.label) }
        let treatedArms = armNames.dropFirst()
        var segData = GnuplotData(comment: "index per arm; columns: y label lift ci_low ci_high")
        var segPlots: [String] = []
        for (k, arm) in treatedArms.enumerated() {
            if k > 0 { segData.nextBlock() }
            for s in rows where s.lift.arm == arm {
                let y = labels.count - 1 - labels.firstIndex(of: s.label)!
                segData.row([
                    String(y), s.label, formatDouble(s.lift.absolute * scale),
                    formatDouble(s.lift.absoluteCI.lower * scale), formatDouble(s.lift.absoluteCI.upper * scale),
                ])
            }
            let offset = (Double(k) - Double(treatedArms.count - 1) / 2) * 0.25
            segPlots.append(
                "'segment_lift.dat' index \(k) using 3:($1\(offset >= 0 ? "+" : "")\(offset)):4:5\(k == 0 ? ":ytic(2)" : "") with xerrorbars lt \(k + 2) pt 7 ps 0.8 title \"\(arm)\""
            )
        }
        figs.append(
            Figure(
                name: "segment_lift",
                script: """
                    \(colours)
                    set title "Lift in \(words.label(outcome.name))\(outcome.type == .binary ? " (percentage points)" : "") vs control by segment, \(Int(params.confidenceLevel * 100))% CI"
                    set key outside bottom center horizontal
                    set grid xtics
                    set ytics nomirror font ",9"
                    set yrange [-0.7:\(Double(labels.count) - 0.3)]
                    set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb "gray40" dt 2
                    plot \(segPlots.joined(separator: ", \\\n     "))
                    """, data: [("segment_lift.dat", segData.bytes)], width: 1000, height: max(420, 26 * labels.count + 140)))

        // Distribution of positive continuous outcomes (e.g. revenue among buyers), per arm.
        for o in spec.outcomes where o.type == .continuous {
            var h = GnuplotData(comment: "index per arm; columns: bin_mid share")
            var hp: [String] = []
            for (k, arm) in armNames.enumerated() {
                if k > 0 { h.nextBlock() }
                for bin in r.positiveDistribution(o.name, arm: arm) {
                    h.row([formatDouble((bin.low + bin.high) / 2), formatDouble(bin.share * 100)])
                }
                hp.append("'\(o.name)_positive.dat' index \(k) using 1:2 with histeps lw 2 lt \(k + 1) title \"\(arm)\"")
            }
            figs.append(
                Figure(
                    name: "\(o.name)_positive",
                    script: """
                        \(colours)
                        set title "Distribution of \(words.label(o.name)) where it is positive, per arm"
                        set xlabel "\(words.label(o.name))"
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

/// The EDA Markdown report. Every number in it is read from the typed result.
public enum EDAReport {
    public static func build(_ r: EDAResult, spec: DatasetSpec, params: EDAParams, figureDir: String, tableDir: String) throws -> String {
        let armNames = r.armNames
        let treated = Array(armNames.dropFirst())
        let level = "\(Int((params.confidenceLevel * 100).rounded()))%"
        let total = r.arms.reduce(0) { $0 + $1.n }
        let srmP = r.sampleRatio.pValue
        let words = spec.words
        // Equal shares are "equal allocation"; a planned one is named with its shares.
        let design =
            r.sampleRatio.plannedAllocation
            ? "the planned allocation (" + r.arms.map { "\($0.arm) \(shareText($0.expectedShare))" }.joined(separator: ", ") + ")"
            : "equal allocation"
        var md = Markdown()
        md.heading(1, "Experiment analysis: \(spec.name)")
        md.paragraph(
            "Randomized campaign with \(Fmt.int(total)) customers in \(armNames.count) arms (\(armNames.joined(separator: ", "))); control arm: **\(spec.controlArm)**. Outcomes: \(spec.outcomes.map { $0.displayLabel == $0.name ? "\($0.name) (\($0.type.rawValue))" : "\($0.displayLabel) (`\($0.name)`, \($0.type.rawValue))" }.joined(separator: ", ")). All intervals are \(level) confidence intervals."
        )

        // Plain-language summary.
        md.heading(2, "Summary")
        var bullets: [String] = []
        bullets.append(
            srmP < 0.01
                ? "**Sample ratio mismatch**: arm sizes differ from \(design) more than chance allows (chi-square p = \(Fmt.pValue(srmP))). Check the randomization before trusting the lifts."
                : "Arm sizes are consistent with \(design) (sample-ratio chi-square p = \(Fmt.pValue(srmP))).")
        let smd = r.balance.map(\.smdVsControl).filter { !$0.isNaN }
        let maxSMD = smd.map(abs).max() ?? 0
        bullets.append(
            "Covariates are \(maxSMD < 0.1 ? "balanced" : "**not** balanced") across arms: the largest absolute standardized mean difference against control is \(Fmt.fixed(maxSMD, 3)) (the usual threshold is 0.1)."
        )
        for o in spec.outcomes {
            var parts: [String] = []
            for arm in r.comparisonArms {
                let l = try r.lift(o.name, arm: arm)
                let f: (Double) -> String = o.type == .binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
                parts.append(
                    "\(arm) \(f(l.absolute)) \(Fmt.interval(l.absoluteCI.lower, l.absoluteCI.upper, f)), \(Fmt.signedPercent(l.relative)) relative, p = \(Fmt.pValue(l.pValue))"
                )
            }
            let base = try r.outcome(o.name, arm: spec.controlArm).mean
            bullets.append(
                "**\(words.label(o.name))** (control \(o.type == .binary ? Fmt.percent(base) : Fmt.fixed(base, 3))): " + parts.joined(separator: "; ") + ".")
        }
        // Segment highlights come only from adjusted p-values: with this many lifts, the largest
        // and smallest raw ones are the most likely to be chance.
        let outcome = spec.outcomes.first { $0.name == params.segmentOutcome }!
        let fmtSeg: (Double) -> String = outcome.type == .binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
        let alphaText = Fmt.percent(params.alpha, 0)
        let holmCount = r.segmentLifts.filter { $0.pHolm <= params.alpha }.count
        let bhCount = r.segmentLifts.filter { $0.pBH <= params.alpha }.count
        bullets.append(
            "Lifts by segment: \(Fmt.int(r.segmentFamilySize)) lifts tested, adjusted as one family (every outcome, segment and comparison with control). At \(alphaText), \(Fmt.int(holmCount)) remain significant after Holm's adjustment (family-wise error) and \(Fmt.int(bhCount)) after Benjamini–Hochberg's (false discovery rate). A significant segment lift says the \(words.noun) works in that segment, not that it works better there than elsewhere."
        )
        for arm in treated {
            let rows = r.segmentLifts(params.segmentOutcome, arm: arm)
            guard let largest = rows.max(by: { $0.lift.absolute < $1.lift.absolute }) else { continue }
            let holm = rows.filter { $0.pHolm <= params.alpha }.sorted { $0.lift.absolute > $1.lift.absolute }
            let bh = rows.filter { $0.pBH <= params.alpha }.count
            let describe: (EDAResult.SegmentLift) -> String = {
                "\(fmtSeg($0.lift.absolute)) where \($0.label) (Holm p = \(Fmt.pValue($0.pHolm)))"
            }
            var text = "\(arm), \(words.label(params.segmentOutcome)) by segment: "
            switch holm.count {
            case 0: text += "none of the \(rows.count) segment lifts is significant after Holm's adjustment"
            case 1, 2: text += "\(holm.count) of \(rows.count) segment lifts significant after Holm's adjustment: \(holm.map(describe).joined(separator: "; "))"
            default:
                text +=
                    "\(holm.count) of \(rows.count) segment lifts significant after Holm's adjustment, from \(describe(holm.first!)) to \(describe(holm.last!))"
            }
            text += "; \(bh) after Benjamini–Hochberg's."
            if largest.pHolm > params.alpha {
                text +=
                    " The largest lift, \(fmtSeg(largest.lift.absolute)) where \(largest.label) (p = \(Fmt.pValue(largest.lift.pValue)) unadjusted), is not significant after Holm (p = \(Fmt.pValue(largest.pHolm)))\(largest.pBH > params.alpha ? " nor after Benjamini–Hochberg (p = \(Fmt.pValue(largest.pBH)))" : ""): a hint, not a finding."
            }
            bullets.append(text)
        }
        for arm in treated {
            let p = try r.power(params.segmentOutcome, arm: arm)
            bullets.append(
                "Power (\(arm), \(words.label(params.segmentOutcome))): with these arm sizes and each arm's own spread, the smallest lift detectable at \(Int(params.power * 100))% power and alpha \(params.alpha) is \(fmtSeg(p.mdeAbsolute)) (\(Fmt.signedPercent(p.mdeRelative)) relative)."
            )
        }
        md.bullets(bullets)

        // Arms.
        md.heading(2, "Arms and sample ratio")
        let armRows = r.arms.map { [$0.arm, Fmt.int($0.n), Fmt.percent($0.share), Fmt.percent($0.expectedShare)] }
        md.table(["arm", "customers", "share", "expected share"], armRows, rightAligned: [false, true, true, true])
        md.paragraph(
            "Chi-square test against \(design): statistic \(Fmt.fixed(r.sampleRatio.statistic, 3)) on \(Fmt.fixed(r.sampleRatio.degreesOfFreedom, 0)) degrees of freedom, p = \(Fmt.pValue(srmP))."
        )

        // Balance.
        md.heading(2, "Covariate balance")
        md.paragraph(
            "Mean of each numeric feature and share of each category level per arm; standardized mean difference (SMD) of each \(words.noun) arm against control."
        )
        var balanceRows: [[String]] = []
        var seen = Set<String>()
        for b in r.balance {
            guard seen.insert(b.feature + "\u{1}" + b.level).inserted else { continue }
            var row = [b.feature, b.level]
            let isShare = !b.level.isEmpty
            for arm in armNames {
                let v = try r.balance(b.feature, level: b.level, arm: arm).mean
                row.append(isShare ? Fmt.percent(v, 1) : Fmt.fixed(v, 3))
            }
            for arm in treated {
                row.append(Fmt.fixed(try r.balance(b.feature, level: b.level, arm: arm).smdVsControl, 3))
            }
            balanceRows.append(row)
        }
        md.table(
            ["feature", "level"] + armNames + treated.map { "SMD \($0)" }, balanceRows,
            rightAligned: [false, false] + Array(repeating: true, count: armNames.count + treated.count))

        // Outcomes.
        md.heading(2, "Outcomes per arm")
        let outcomeRows = r.outcomes.map { s -> [String] in
            let f: (Double) -> String = isBinary(s.outcome, spec) ? { Fmt.percent($0) } : { Fmt.fixed($0, 3) }
            return [words.label(s.outcome), s.arm, Fmt.int(s.n), f(s.mean), Fmt.interval(s.ci.lower, s.ci.upper, f)]
        }
        md.table(["outcome", "arm", "n", "mean", "\(level) CI"], outcomeRows, rightAligned: [false, false, true, true, true])
        md.paragraph("Binary outcomes: Wilson score intervals. Continuous outcomes: t intervals.")
        md.image("Outcomes per arm", figureDir + "/outcome_rates.png")

        // Lifts.
        md.heading(2, "Lift of each \(words.noun) against control")
        let liftRows = r.lifts.map { l -> [String] in
            let f: (Double) -> String = isBinary(l.outcome, spec) ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
            return [
                words.label(l.outcome), l.arm, f(l.absolute), Fmt.interval(l.absoluteCI.lower, l.absoluteCI.upper, f),
                Fmt.signedPercent(l.relative), Fmt.interval(l.relativeCI.lower, l.relativeCI.upper, { Fmt.signedPercent($0) }),
                l.test.rawValue, Fmt.pValue(l.pValue),
            ]
        }
        md.table(
            ["outcome", "arm", "absolute lift", "\(level) CI", "relative lift", "\(level) CI", "test", "p-value"], liftRows,
            rightAligned: [false, false, true, true, true, true, false, true])
        let continuous = spec.outcomes.filter { $0.type == .continuous }.map(\.displayLabel)
        md.paragraph(
            "Binary outcomes: two-proportion z test (pooled) with an unpooled Wald interval for the difference; Fisher's exact test (two-sided) instead where a cell of the 2×2 table is expected to hold fewer than \(Fmt.int(EDA.minimumExpectedCount)) customers."
                + (continuous.isEmpty ? "" : " \(CampaignWords.capitalized(CampaignWords.list(continuous))): Welch's t test.")
                + " Relative lifts use a delta-method interval. \"\(EDA.pooledArm)\" pools all \(words.noun) arms."
        )

        // Power.
        md.heading(2, "Power")
        md.paragraph(
            "Minimum detectable effect (MDE) at \(Int(params.power * 100))% power, two-sided alpha \(params.alpha): (z₁₋α/₂ + z_power) · √(SD arm² / n arm + SD control² / n control), each group with its own observed spread. There is no power \"at the observed lift\": it is a function of the p-value and says nothing the test does not."
        )
        let powerRows = r.power.map { p -> [String] in
            let f: (Double) -> String = isBinary(p.outcome, spec) ? { Fmt.points($0, 3) } : { Fmt.fixed($0, 3) }
            return [
                words.label(p.outcome), p.arm, Fmt.int(p.nArm), Fmt.int(p.nControl), Fmt.fixed(p.sdArm, 3), Fmt.fixed(p.sdControl, 3),
                f(p.mdeAbsolute), Fmt.signedPercent(p.mdeRelative),
            ]
        }
        md.table(
            ["outcome", "arm", "n arm", "n control", "SD arm", "SD control", "MDE", "MDE relative"], powerRows,
            rightAligned: [false, false, true, true, true, true, true, true])
        if !r.powerAtEffects.isEmpty {
            md.heading(3, "Power at planned effects")
            md.paragraph(
                "Effects set in advance (`power_effects` in the params), not the lifts observed: the power this experiment's arm sizes had for each, and the customers per arm (equal arms) a new test needs for \(Int(params.power * 100))% power at two-sided alpha \(params.alpha), n = (z₁₋α/₂ + z_power)² · (SD arm² + SD control²) / effect². Binary outcomes: SD = √(p(1 − p)) at the control rate and at the control rate plus the effect. Continuous outcomes: each group's observed SD, so an arm that varies more than control needs more customers than the control's spread alone suggests."
            )
            let rows = r.powerAtEffects.map { e -> [String] in
                let binary = isBinary(e.outcome, spec)
                let f: (Double) -> String = binary ? { Fmt.points($0, 3) } : { ($0 >= 0 ? "+" : "") + Fmt.fixed($0, 3) }
                return [
                    words.label(e.outcome), e.arm, e.scale.rawValue, f(e.absoluteEffect), Fmt.signedPercent(e.relativeEffect),
                    Fmt.fixed(e.sdArm, 3), Fmt.fixed(e.sdControl, 3), Fmt.percent(e.powerNow, 1), Fmt.int(e.nPerArm),
                ]
            }
            md.table(
                ["outcome", "arm", "set as", "effect", "relative", "SD arm", "SD control", "power with these arms", "n per arm needed"], rows,
                rightAligned: [false, false, false, true, true, true, true, true, true])
        }

        // Segments.
        md.heading(2, "Lift by segment: \(words.label(params.segmentOutcome))")
        md.paragraph(
            "Each \(words.noun) arm against control within each level of \(params.segmentFeatures.joined(separator: ", ")). All outcomes are in `\(tableDir)/segment_lifts.csv`. The adjusted p-values treat all \(Fmt.int(r.segmentFamilySize)) segment lifts of the stage as one family (every outcome, segment and comparison with control, this table's and the CSV's): Holm's step-down adjustment controls the chance of any false finding, Benjamini–Hochberg's the expected share of false findings among those declared. Judge a segment by its adjusted p-values; the intervals are not adjusted. Test: \(outcome.type == .binary ? "two-proportion z, or Fisher's exact test (marked †) where a cell of the 2×2 table is expected to hold fewer than \(Fmt.int(EDA.minimumExpectedCount)) customers" : "Welch's t")."
        )
        let segRows = r.segmentLifts(params.segmentOutcome).map { s -> [String] in
            let l = s.lift
            return [
                s.feature, s.level, l.arm, Fmt.int(l.nArm), Fmt.int(l.nControl),
                outcome.type == .binary ? Fmt.percent(l.meanControl) : Fmt.fixed(l.meanControl, 3),
                fmtSeg(l.absolute), Fmt.interval(l.absoluteCI.lower, l.absoluteCI.upper, fmtSeg),
                Fmt.pValue(l.pValue) + (l.test == .fisherExact ? " †" : ""), Fmt.pValue(s.pHolm), Fmt.pValue(s.pBH),
            ]
        }
        md.table(
            ["feature", "level", "arm", "n arm", "n control", "control", "lift", "\(level) CI", "p-value", "Holm p", "BH p"], segRows,
            rightAligned: [false, false, false, true, true, true, true, true, true, true, true])
        md.image("Lift by segment", figureDir + "/segment_lift.png")

        for o in spec.outcomes where o.type == .continuous {
            md.heading(2, "Distribution of \(words.label(o.name)) where positive")
            md.image("Distribution of \(words.label(o.name))", figureDir + "/\(o.name)_positive.png")
        }

        md.heading(2, "Files")
        md.paragraph(
            "Tables (CSV) in `\(tableDir)/`: \(EDAOutputs.tables(r).map(\.name).joined(separator: ", ")). Each figure's data and gnuplot script sit beside its PNG in `\(figureDir)/`."
        )
        return md.text
    }

    /// A planned share as the report prints it: whole percents when exact ("50%"), else one decimal.
    static func shareText(_ share: Double) -> String {
        let percent = share * 100
        return abs(percent - percent.rounded()) < 1e-9 ? Fmt.percent(share, 0) : Fmt.percent(share, 1)
    }

    static func isBinary(_ outcome: String, _ spec: DatasetSpec) -> Bool {
        spec.outcomes.first { $0.name == outcome }?.type == .binary
    }
}

extension EDAResult.SegmentLift {
    /// "feature = level", as the figure's axis and the summary name the segment.
    var label: String { "\(feature) = \(level)" }
}
