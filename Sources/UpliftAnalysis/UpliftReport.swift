import Foundation
import Reporting
import Stats
import Tabular
import Uplift

public enum UpliftFigures {
    static let colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
        .enumerated().map { "set linetype \($0.offset + 1) lc rgb \"\($0.element)\"" }.joined(separator: "\n")

    public static func figures(_ r: UpliftResult, params p: UpliftParams, words: CampaignWords) -> [Figure] {
        var figs: [Figure] = []
        for o in r.outcomes {
            let label = words.label(o.outcome)
            // Uplift curve (IPW incremental outcome per customer of the test population).
            var data = GnuplotData(comment: "columns: share_targeted, then per learner incremental \(label) per customer; last: random targeting")
            let curves = o.learners.map(\.upliftCurve)
            for i in curves[0].indices {
                let share = curves[0][i].share
                data.row([formatDouble(share)] + curves.map { formatDouble($0[i].value) } + [formatDouble(share * o.testATE)])
            }
            let plots =
                o.learners.enumerated().map {
                    "'uplift_\(o.outcome).dat' using 1:\($0.offset + 2) with lines lw 2 lt \($0.offset + 1) title \"\($0.element.learner.title)\""
                }
                + ["'' using 1:\(o.learners.count + 2) with lines lw 1 dt 2 lc rgb \"#444444\" title \"random targeting\""]
            figs.append(
                Figure(
                    name: "uplift_curve_\(o.outcome)",
                    script: """
                        \(colours)
                        set title "Uplift curve on the held-out test split: \(label) (inverse-propensity weighted)"
                        set xlabel "share of customers targeted (ranked by predicted uplift)"
                        set ylabel "incremental \(label) per customer of the population"
                        set key bottom right
                        set grid
                        plot \(plots.joined(separator: ", \\\n     "))
                        """, data: [("uplift_\(o.outcome).dat", data.bytes)]))

            if o.binary {
                var q = GnuplotData(comment: "columns: share_targeted, then per learner Qini value (incremental responders); last: random targeting")
                let qc = o.learners.map { $0.qiniCurve! }
                let total = qc[0].last!.value
                for i in qc[0].indices {
                    q.row([formatDouble(qc[0][i].share)] + qc.map { formatDouble($0[i].value) } + [formatDouble(qc[0][i].share * total)])
                }
                let qp =
                    o.learners.enumerated().map {
                        "'qini_\(o.outcome).dat' using 1:\($0.offset + 2) with lines lw 2 lt \($0.offset + 1) title \"\($0.element.learner.title)\""
                    }
                    + ["'' using 1:\(o.learners.count + 2) with lines lw 1 dt 2 lc rgb \"#444444\" title \"random targeting\""]
                figs.append(
                    Figure(
                        name: "qini_\(o.outcome)",
                        script: """
                            \(colours)
                            set title "Qini curve on the held-out test split: \(label)"
                            set xlabel "share of customers targeted (ranked by predicted uplift)"
                            set ylabel "incremental responders (Qini)"
                            set key bottom right
                            set grid
                            plot \(qp.joined(separator: ", \\\n     "))
                            """, data: [("qini_\(o.outcome).dat", q.bytes)]))
            }
        }
        // Calibration by decile for every learner on the primary outcome.
        if let o = r.outcomes.first(where: { $0.outcome == p.primaryOutcome }) {
            for l in o.learners {
                var d = GnuplotData(comment: "columns: decile, mean predicted uplift, observed uplift, CI lower, CI upper")
                for dec in l.deciles {
                    d.row([
                        String(dec.index), formatDouble(dec.meanPredicted), formatDouble(dec.observed), formatDouble(dec.observedCI.lower),
                        formatDouble(dec.observedCI.upper),
                    ])
                }
                let name = "deciles_\(o.outcome)_\(l.learner.key)"
                figs.append(
                    Figure(
                        name: name,
                        script: """
                            \(colours)
                            set title "\(l.learner.title): predicted vs observed uplift in \(words.label(o.outcome)) by decile (test split)"
                            set xlabel "decile of predicted uplift (1 = highest)"
                            set ylabel "uplift in \(words.label(o.outcome)) per customer"
                            set xrange [0.5:\(Double(l.deciles.count) + 0.5)]
                            set xtics 1
                            set key top right
                            set grid
                            set style fill solid 0.5
                            set boxwidth 0.4
                            plot '\(name).dat' using ($1-0.2):2 with boxes lt 1 title "predicted (mean)", \\
                                 '' using ($1+0.2):3:4:5 with yerrorbars lt 4 pt 7 lw 1.5 title "observed, \(Int((p.confidenceLevel * 100).rounded()))% CI", \\
                                 0 with lines lc rgb "#444444" notitle
                            """, data: [("\(name).dat", d.bytes)]))
            }
        }
        return figs
    }
}

public enum UpliftReport {
    /// An estimate with its interval, to the digits the interval supports.
    static func est(_ e: Estimate) -> String { Fmt.withInterval(e.value, e.ci.lower, e.ci.upper) }

    static func signed(_ e: Estimate) -> String { Fmt.withInterval(e.value, e.ci.lower, e.ci.upper, signed: true) }

    public static func build(
        _ r: UpliftResult, params p: UpliftParams, words: CampaignWords, figureDir: String, tableDir: String, modelDir: String,
        modelFiles: [(String, String)]
    ) -> String {
        var md = Markdown()
        let level = "\(Int((p.confidenceLevel * 100).rounded()))%"
        let design = zip(r.armNames, r.designShares).map { "\($0.0) \(Fmt.percent($0.1, 2))" }.joined(separator: ", ")
        md.heading(1, "Uplift: who responds to the \(words.noun) because of it")
        md.paragraph(
            """
            Models of the *incremental* effect of the \(words.noun), trained on the \(Fmt.int(r.trainRows)) rows of the training split and \
            evaluated only on the \(Fmt.int(r.testRows)) held-out rows of the randomized test split. Treated = any treated arm \
            (\(r.armNames.dropFirst().joined(separator: ", "))); control = \(r.armNames[0]). The propensity is known from \
            the design's allocation (\(design)): \(Fmt.percent(r.propensity, 2)) of customers are treated. Primary outcome: \
            **\(words.label(p.primaryOutcome))**; also evaluated: \(p.outcomes.filter { $0 != p.primaryOutcome }.map(words.label).joined(separator: ", ")). Intervals are \(level) \
            percentile intervals from \(p.bootstrapReplicates) bootstrap replicates of the test split (seeded; every learner is \
            evaluated on the same replicates, so differences between learners are paired).
            """)
        if r.unknownInTest.total > 0 {
            md.paragraph(
                "Categories not seen in training (scored as all-zero one-hot): "
                    + r.unknownInTest.counts.map { "\($0.input): \($0.rows) rows (\($0.categories.joined(separator: ", ")))" }.joined(separator: "; ") + ".")
        } else {
            md.paragraph("Every category in the test split was seen in training (no unknown categories).")
        }

        selectionSection(&md, r, params: p, words: words, tableDir: tableDir)

        md.heading(2, "Learners")
        // Each learner described from its descriptor, configured as on the primary outcome.
        let described = r.outcomes.first { $0.outcome == p.primaryOutcome }?.learners ?? []
        md.bullets(
            described.map { l in
                "**\(l.learner.title)**" + (l.learner.citation.map { " (\($0))" } ?? "") + ": " + l.learner.explanation(l.settings)
            } + [
                "Per-arm uplift (\(r.armNames.dropFirst().joined(separator: ", ")) each vs control) comes from the same learner fitted on that arm and the control rows; the policy stage uses it to choose which arm each customer gets."
            ])
        md.paragraph(
            """
            Metrics (definitions in `Sources/Uplift/Evaluation.swift`): the **uplift curve** is the inverse-propensity-weighted \
            incremental outcome among the customers ranked highest by predicted uplift; the **normalized AUUC** is the area \
            between that curve and random targeting divided by the same area for the best possible ranking of the test rows \
            (1 = perfect, 0 = random). The **Qini coefficient** is the same ratio for the Qini curve of a binary outcome.
            """)

        for o in r.outcomes where o.outcome == p.primaryOutcome {
            md.heading(2, "Held-out check on \(words.label(o.outcome)) (primary; the test split, used once)")
            md.paragraph(
                "Average effect of any \(words.noun) on \(words.label(o.outcome)) in the test split (IPW): \(Fmt.withInterval(o.testATE, o.testATE - 1.96 * o.testATEStandardError, o.testATE + 1.96 * o.testATEStandardError)) per customer (95% normal interval). Differences against the baseline are paired and their intervals adjusted for \(p.learners.count - 1) comparisons (Bonferroni, \(adjustedLevelText(r.adjustedLevel)))."
            )
            md.table(
                [
                    "learner", "normalized AUUC [\(level) CI]", "vs baseline (paired) [\(adjustedLevelText(r.adjustedLevel)) CI]", "mean predicted uplift",
                    "decile correlation", "settings",
                ],
                o.learners.map { l in
                    [
                        l.learner.title, est(l.auuc), l.learner == LearnerRegistry.baseline ? "–" : signed(l.auucVsBaseline),
                        Fmt.fixed(l.meanPredicted, 4), Fmt.fixed(l.decileCorrelation, 2), l.settings.label,
                    ]
                }, rightAligned: [false, true, true, true, true, false])
            md.image("Uplift curve, \(words.label(o.outcome))", "\(figureDir)/uplift_curve_\(o.outcome).png")
            let armRows = o.learners.flatMap { l in l.armAUUC.map { [l.learner.title, $0.arm, est($0.estimate)] } }
            if !armRows.isEmpty {
                md.heading(3, "Per-arm uplift (each arm vs control, on that arm's and the control's test rows)")
                md.table(["learner", "arm", "normalized AUUC [\(level) CI]"], armRows, rightAligned: [false, false, true])
            }
            md.heading(3, "Tuning (training split only, out-of-bag error)")
            md.table(
                ["max depth", "min leaf", "OOB MSE control", "OOB MSE treated", "weighted", "chosen"],
                o.tuning.map { t in
                    [
                        t.settings.maxDepth.map(String.init) ?? "full", String(t.settings.minSamplesLeaf), Fmt.fixed(t.oobControl, 3),
                        Fmt.fixed(t.oobTreated, 3), Fmt.fixed(t.score, 3),
                        t.settings.maxDepth == o.tuned.maxDepth && t.settings.minSamplesLeaf == o.tuned.minSamplesLeaf ? "✓" : "",
                    ]
                }, rightAligned: [true, true, true, true, true, false])
            if let first = o.tuning.first, first.settings.maxFeatures == nil {
                md.paragraph(
                    "Per leaf size, one forest of \(first.settings.nTrees) trees is grown to the grid's deepest depth and each shallower depth's error is read from its trees cut at that depth: with every feature tried at every split, those are the trees a forest limited to that depth grows, so the errors are the same as one forest per depth."
                )
            }
            let depths = Set(o.tuning.compactMap(\.settings.maxDepth)), leaves = Set(o.tuning.map(\.settings.minSamplesLeaf))
            var edge: [String] = []
            if let d = o.tuned.maxDepth, d == depths.min() || d == depths.max() { edge.append("depth \(d)") }
            if o.tuned.minSamplesLeaf == leaves.min() || o.tuned.minSamplesLeaf == leaves.max() { edge.append("leaf size \(o.tuned.minSamplesLeaf)") }
            if !edge.isEmpty {
                let scores = o.tuning.map(\.score)
                let spread = (scores.max()! - scores.min()!) / scores.min()!
                md.paragraph(
                    "The chosen \(edge.joined(separator: " and ")) \(edge.count > 1 ? "lie" : "lies") on the edge of the grid. The weighted out-of-bag errors of the whole grid lie within \(Fmt.percent(spread, 2)) of each other: the outcome models gain little from any feature, and the most regularized forests fit best. Widening the grid in `stages/uplift/params.yaml` is cheap."
                )
            }
            if let prod = o.learners.first(where: { $0.learner == r.productionLearner }) {
                md.heading(3, "Calibration in the large")
                md.paragraph(calibration(prod, o, words: words))
                md.heading(3, "Calibration of the production learner by decile")
                md.table(
                    ["decile", "rows (treated/control)", "mean predicted", "observed [\(level) CI]"],
                    prod.deciles.map { d in
                        [
                            String(d.index), "\(Fmt.int(d.rows)) (\(Fmt.int(d.treatedRows))/\(Fmt.int(d.controlRows)))", Fmt.fixed(d.meanPredicted, 3),
                            Fmt.withInterval(d.observed, d.observedCI.lower, d.observedCI.upper),
                        ]
                    }, rightAligned: [true, true, true, true])
                md.paragraph("Decile figures of every learner:")
                md.bullets(o.learners.map { "[\($0.learner.title)](\(figureDir)/deciles_\(o.outcome)_\($0.learner.key).png)" })
                md.image("Deciles, production learner", "\(figureDir)/deciles_\(o.outcome)_\(prod.learner.key).png")
            }
        }

        let secondary = r.outcomes.filter { $0.outcome != p.primaryOutcome }
        if !secondary.isEmpty {
            md.heading(2, CampaignWords.capitalized(CampaignWords.list(secondary.map { words.label($0.outcome) })))
            md.paragraph("Each learner is also fitted on each binary outcome (same configurations, tuned separately) and evaluated by its Qini coefficient.")
            var rows: [[String]] = []
            for o in secondary {
                for l in o.learners {
                    rows.append([
                        words.label(o.outcome), l.learner.title, l.qini.map { est($0) } ?? "–",
                        l.learner == LearnerRegistry.baseline ? "–" : (l.qiniVsBaseline.map { signed($0) } ?? "–"), est(l.auuc),
                    ])
                }
            }
            md.table(
                ["outcome", "learner", "Qini coefficient [\(level) CI]", "vs baseline (paired)", "normalized AUUC"], rows,
                rightAligned: [false, false, true, true, true])
            for o in secondary where o.binary { md.image("Qini curve, \(words.label(o.outcome))", "\(figureDir)/qini_\(o.outcome).png") }
        }

        comparableSection(&md, r, params: p, words: words)

        md.heading(2, "The held-out check in words")
        md.paragraph(choice(r, params: p, words: words))

        md.heading(2, "Frozen model")
        md.paragraph(
            """
            `\(modelDir)/` holds what the shipped scorer loads: `meta.json` (features, categories, treatment definition, target, \
            learner and parameters, SHA-256 of the training file and of the forests, format version), `encoder.json` and \
            `forests.bin` (the binary forest format of `docs/forest-format.md`, with its own SHA-256 trailer). Every score is a \
            fixed linear combination of forest predictions recorded in `meta.json`, so the scorer needs no learner-specific code. \
            The pipeline's own scores of the test split are in `\(tableDir)/test_scores.csv`.
            """)
        md.table(["file in `\(modelDir)/`", "SHA-256"], modelFiles.map { ["`\($0.0)`", "`\($0.1)`"] })
        md.paragraph(
            "Tables: `\(tableDir)/selection.csv` (the cross-fitted choice), `comparison.csv`, `arm_comparison.csv`, `comparable_metrics.csv`, `deciles.csv`, `curves.csv`, `tuning.csv`, `test_scores.csv`, `crossfit_scores.csv` (every randomized row, scored by a model that never saw it)."
        )
        return md.text
    }

    /// scikit-uplift's metrics of the production learner and the baseline beside the project's,
    /// with what each normalization means.
    static func comparableSection(_ md: inout Markdown, _ r: UpliftResult, params p: UpliftParams, words: CampaignWords) {
        let shown = [r.productionLearner, LearnerRegistry.baseline].reduce(into: [LearnerDescriptor]()) { if !$0.contains($1) { $0.append($1) } }
        let pct: (Double) -> String = { "\(Int(($0 * 100).rounded()))%" }
        md.heading(2, "Comparable metrics (scikit-uplift's definitions)")
        md.paragraph(
            """
            The normalized AUUC above is this project's own: its ceiling is an oracle that sorts the test rows by their realised \
            inverse-propensity-weighted outcome, noise included, so no model comes near 1 and the value depends on the test \
            split's noise; it ranks learners on the same rows but cannot be compared with numbers published elsewhere. \
            For that, the same test scores are measured below as scikit-uplift 0.5.1 measures them (`Sources/Uplift/SkliftMetrics.swift`; \
            the test `SkliftMetricsTests` reproduces sklift's values). Rows are ranked by predicted uplift; curves step where the \
            score changes and their areas are trapezoids.
            """)
        md.bullets([
            "**Qini coefficient** (this project) and **`qini_auc_score`** (sklift): area between the Qini curve (treated responders minus control responders scaled to the treated count, among the customers targeted) and random targeting, divided by the same area for the ranking that puts treated responders first and control responders last. The two differ only in how they integrate (per row here, trapezoids at score changes in sklift), so they agree closely; on \(words.label(p.primaryOutcome)) sklift's formula reads amounts in place of responders (sklift itself accepts only binary outcomes).",
            "**`uplift_auc_score`** (sklift, binary outcomes): area between the uplift curve (difference in response rates times the number targeted) and random targeting, divided by the same area for sklift's perfect ranking, which orders customers by 2·[outcome = treated] plus the outcome or the treatment flag. Its ceiling is defined for binary outcomes only, so it is not given for \(words.label(p.primaryOutcome)).",
            "**Uplift at k** (`uplift_at_k`): mean outcome of the treated minus the control customers among the top k share by predicted uplift, in the outcome's unit; 'overall' takes the top k of all customers, 'by group' the top k of the treated and of the control customers separately. Compare it with the average effect on the whole test split (k = 100%); it is not normalized.",
        ])
        var areas: [[String]] = []
        var atK: [[String]] = []
        for o in r.outcomes {
            let f: (Double) -> String = o.binary ? { Fmt.points($0) } : { Fmt.fixed($0, 3) }
            for l in o.learners where shown.contains(l.learner) {
                areas.append([
                    words.label(o.outcome), l.learner.title, Fmt.fixed(l.auuc.value, 3), l.qini.map { Fmt.fixed($0.value, 3) } ?? "–",
                    Fmt.fixed(l.comparable.qiniAUCScore, 3), l.comparable.upliftAUCScore.map { Fmt.fixed($0, 3) } ?? "–",
                ])
                for strategy in SkliftMetrics.Strategy.allCases {
                    atK.append(
                        [words.label(o.outcome), l.learner.title, strategy == .overall ? "overall" : "by group"]
                            + l.comparable.upliftAtK.map { f(strategy == .overall ? $0.overall : $0.byGroup) } + [f(o.testATE)])
                }
            }
        }
        md.table(
            ["outcome", "learner", "normalized AUUC (project)", "Qini coefficient (project)", "qini_auc_score (sklift)", "uplift_auc_score (sklift)"],
            areas, rightAligned: [false, false, true, true, true, true])
        md.table(
            ["outcome", "learner", "strategy"] + ComparableMetrics.shares.map { "uplift at \(pct($0))" } + ["average effect (all rows)"], atK,
            rightAligned: [false, false, false] + ComparableMetrics.shares.map { _ in true } + [true])
        md.paragraph(
            "Point values on the held-out test split, without intervals; the average effect is the inverse-propensity-weighted one of the comparison tables. Every learner's values are in `comparable_metrics.csv`."
        )
    }

    static func adjustedLevelText(_ level: Double) -> String {
        Fmt.significant(level * 100, 3, maxDecimals: 1) + "%"
    }

    /// A learner's size for the tables ("–" when it is not a number).
    static func nodes(_ row: SelectionRow) -> String {
        row.modelNodes.isFinite ? Fmt.int(Int(row.modelNodes.rounded())) : "–"
    }

    static func ordinal(_ k: Int) -> String {
        switch k {
        case 1: "first"
        case 2: "second"
        case 3: "third"
        case 4: "fourth"
        case 5: "fifth"
        default: "\(k)" + ([11, 12, 13].contains(k % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][k % 10] ?? "th")
        }
    }

    /// The cross-fitted choice on the training split: the table, the rule and what it chose.
    static func selectionSection(_ md: inout Markdown, _ r: UpliftResult, params p: UpliftParams, words: CampaignWords, tableDir: String) {
        let s = r.selection
        let level = "\(Int((p.confidenceLevel * 100).rounded()))%"
        let base = s.rows.first { $0.learner == LearnerRegistry.baseline }!
        let chosen = s.rows.first { $0.learner == s.chosen }!
        md.heading(2, "Which learner goes to production, and why")
        let ruleText =
            switch s.rule {
            case .bestSupported:
                "the learner with the highest cross-fitted AUUC (mean over the seeds) among those whose paired difference against the notebook's baseline has an adjusted lower bound above zero, and the baseline itself when none has"
            case .bestMean: "the learner with the highest cross-fitted AUUC (mean over the seeds)"
            case .supportedOrSimplest:
                "the learner with the highest cross-fitted AUUC (mean over the seeds) among those whose paired difference against the notebook's baseline has an adjusted lower bound above zero; when none has, the evidence does not single out a better learner, and it applies the one-standard-error rule: the smallest model (fewest tree nodes) among the learners whose mean AUUC is within one standard error of the best mean (the paired bootstrap's standard deviation of their difference)"
            }
        md.paragraph(
            """
            **\(chosen.learner.title)** goes to production, chosen on the \(Fmt.int(s.trainingRows)) rows of the training split alone: \
            each learner was fitted \(s.folds) times on \(s.folds - 1) of \(s.folds) folds (stratified by arm) and scored the fold it did not \
            see, for \(s.seeds) forest seed\(s.seeds == 1 ? "" : "s"). The rule (`selection.rule: \(s.rule.rawValue)` in the params) takes \
            \(ruleText). The test split was not used for this choice (nor for tuning); it measures the chosen learner once, below.
            """)
        md.table(
            [
                "learner", "cross-fitted AUUC, seed 1 [\(level) CI]", "over \(s.seeds) seeds: mean (min – max)", "seed-to-seed SD",
                "vs baseline (paired) [\(adjustedLevelText(s.adjustedLevel)) CI]", "supported", "model size (tree nodes)",
            ],
            s.rows.map { row in
                let spread = row.seedAUUC
                let sd = row.seedSD
                let d = Fmt.decimals(row.auuc.value, standardError: Fmt.standardError(lower: row.auuc.ci.lower, upper: row.auuc.ci.upper))
                return [
                    row.learner.title + (row.learner == s.chosen ? " ✓" : ""), est(row.auuc),
                    "\(Fmt.fixed(row.meanOverSeeds, d)) (\(Fmt.fixed(spread.min()!, d)) – \(Fmt.fixed(spread.max()!, d)))",
                    sd.isFinite ? Fmt.significant(sd, 2) : "–",
                    row.learner == LearnerRegistry.baseline ? "–" : signed(row.auucVsBaseline),
                    row.learner == LearnerRegistry.baseline ? "–" : (s.supported.contains(row.learner) ? "yes" : "no"),
                    nodes(row),
                ]
            }, rightAligned: [false, true, true, true, true, false, true])
        var text =
            "The interval of each difference is a paired bootstrap over the training rows (\(p.bootstrapReplicates) replicates), adjusted for \(s.comparisons) comparison\(s.comparisons == 1 ? "" : "s") with the baseline (Bonferroni: \(adjustedLevelText(s.adjustedLevel)) intervals). "
        text +=
            "The seed-to-seed columns refit every learner with other forest seeds on the same folds: a learner whose AUUC moves with the seed by as much as its distance to another learner cannot be told apart from it, whatever the bootstrap says. "
        if s.supported.isEmpty {
            text += "No learner beats the baseline beyond the adjusted interval on the training split"
            switch s.rule {
            case .bestSupported: text += ", so the rule keeps the notebook's baseline. "
            case .bestMean: text += ". "
            case .supportedOrSimplest:
                let within = UpliftAnalysis.withinOneStandardError(s.rows)
                let top = s.rows[UpliftAnalysis.bestByMean(s.rows)]
                // The best mean to the digits the learners' distances from it support.
                let spread = s.rows.map(\.standardErrorVsBest).filter { $0.isFinite && $0 > 0 }.min() ?? .nan
                let rank = s.rows.filter { $0.meanOverSeeds > chosen.meanOverSeeds }.count + 1
                text +=
                    ", so the rule takes the smallest of the learners within one standard error of the best mean (\(top.learner.title), \(Fmt.estimate(top.meanOverSeeds, standardError: spread))): \(CampaignWords.list(within.map(\.learner.title))). "
                if s.chosen == LearnerRegistry.baseline {
                    text += "The baseline is the smallest of them, so it stays. "
                } else {
                    text +=
                        "\(chosen.learner.title) has \(nodes(chosen)) tree nodes per fold's pooled model against the baseline's \(nodes(base)): a model \(Fmt.significant(base.modelNodes / chosen.modelNodes, 2))× smaller. "
                    if s.chosen != top.learner {
                        text +=
                            "It is \(ordinal(rank)) of the \(s.rows.count) learners on the mean AUUC, \(Fmt.estimate(top.meanOverSeeds - chosen.meanOverSeeds, standardError: chosen.standardErrorVsBest)) below the best, within the \(Fmt.significant(chosen.standardErrorVsBest, 2)) standard error of that difference. "
                    }
                    if chosen.seedSD.isFinite && base.seedSD.isFinite && chosen.seedSD < base.seedSD {
                        text +=
                            "Its AUUC also moves less with the forest seed than the baseline's (seed-to-seed SD \(Fmt.significant(chosen.seedSD, 2)) against \(Fmt.significant(base.seedSD, 2))). "
                    }
                }
            }
        } else {
            text +=
                "\(CampaignWords.capitalized(CampaignWords.list(s.supported.map(\.title)))) \(s.supported.count == 1 ? "beats" : "beat") the baseline beyond the adjusted interval. "
        }
        let others = s.rows.filter { $0.learner != s.chosen && $0.learner != LearnerRegistry.baseline }
        if let runnerUp = others.max(by: { $0.meanOverSeeds < $1.meanOverSeeds }) {
            let gap = chosen.meanOverSeeds - runnerUp.meanOverSeeds
            let noise = max(chosen.seedSD.isFinite ? chosen.seedSD : 0, runnerUp.seedSD.isFinite ? runnerUp.seedSD : 0)
            let d = Fmt.decimals(gap, standardError: noise > 0 ? noise : .nan, maxSignificant: 2)
            text +=
                "The closest other learner, \(runnerUp.learner.title), is \(Fmt.fixed(abs(gap), max(d, 3))) \(gap >= 0 ? "below" : "above") the chosen one on the seeds' mean"
            text += noise > 0 && abs(gap) < 2 * noise ? ", within twice the larger seed-to-seed SD: the two are interchangeable on this evidence. " : ". "
        }
        text += "Baseline's cross-fitted AUUC: \(est(base.auuc)). Per learner and seed: `\(tableDir)/selection.csv`."
        md.paragraph(text)
    }

    /// Mean predicted uplift of the production learner against the observed average effect.
    static func calibration(_ prod: LearnerEvaluation, _ o: OutcomeEvaluation, words: CampaignWords) -> String {
        let se = o.testATEStandardError
        let lo = o.testATE - 1.96 * se, hi = o.testATE + 1.96 * se
        let d = Fmt.decimals(o.testATE, standardError: se)
        var s =
            "The production learner predicts an average uplift of \(Fmt.fixed(prod.meanPredicted, d)) in \(words.label(o.outcome)) per customer of the test split; the observed average effect there is \(Fmt.withInterval(o.testATE, lo, hi)) (IPW, 95% normal interval), and \(Fmt.fixed(o.trainingATE, d)) on the training split the model was fitted on. "
        if prod.meanPredicted < lo || prod.meanPredicted > hi {
            s +=
                "The prediction lies outside the test split's interval: the model's level is \(Fmt.fixed(prod.meanPredicted / o.testATE, 2))× what the held-out rows show, so expected profits computed from it are off by about that factor. "
        } else {
            s += "The prediction lies inside the test split's interval: the level is consistent with the held-out rows. "
        }
        s +=
            "The training and test splits are random parts of one experiment: their effects differ by chance alone (the test split's standard error is \(Fmt.significant(se, 2))), so a model that matches the training split's average is as well calibrated as the data allow; the policy stage shows the expected profits beside the held-out ones."
        return s
    }

    /// The production choice in words, from the comparison numbers.
    static func choice(_ r: UpliftResult, params p: UpliftParams, words: CampaignWords) -> String {
        guard let o = r.outcomes.first(where: { $0.outcome == p.primaryOutcome }),
            let chosen = o.learners.first(where: { $0.learner == r.productionLearner }),
            let base = o.learners.first(where: { $0.learner == LearnerRegistry.baseline })
        else { return "" }
        let best = o.learners.max { $0.auuc.value < $1.auuc.value }!
        var s =
            "On the held-out test split, the cross-fitted choice **\(chosen.learner.title)** has a normalized AUUC on \(words.label(o.outcome)) of \(est(chosen.auuc))"
        if chosen.learner != LearnerRegistry.baseline {
            s += ", against \(est(base.auuc)) for the notebook's baseline; the paired difference is \(signed(chosen.auucVsBaseline))"
            let d = chosen.auucVsBaseline
            s +=
                d.ci.lower > 0
                ? ", better than the baseline beyond the adjusted bootstrap interval. "
                : d.ci.upper < 0 ? ", worse than the baseline. " : ", not distinguishable from the baseline at this sample size. "
        } else {
            s += ". "
        }
        if best.learner == chosen.learner {
            s += "It has the highest AUUC of the \(o.learners.count) learners. "
        } else {
            s += "The highest AUUC is \(best.learner.title)'s (\(est(best.auuc))); the chosen learner's AUUC lies "
            s +=
                best.auuc.ci.lower <= chosen.auuc.value
                ? "inside that interval, so the two are not distinguishable on this test split. " : "below that interval. "
        }
        s += "Its decile calibration correlation is \(Fmt.fixed(chosen.decileCorrelation, 2)) (baseline \(Fmt.fixed(base.decileCorrelation, 2))): "
        s +=
            chosen.decileCorrelation > base.decileCorrelation
            ? "its predicted uplift tracks the observed uplift across deciles more closely. "
            : "the baseline's deciles track the observed uplift at least as closely. "
        for sec in r.outcomes where sec.binary && sec.outcome != p.primaryOutcome {
            if let l = sec.learners.first(where: { $0.learner == r.productionLearner }), let q = l.qini,
                let bq = sec.learners.first(where: { $0.learner == LearnerRegistry.baseline })?.qini
            {
                s += "On \(words.label(sec.outcome)), its Qini coefficient is \(est(q)) (baseline \(est(bq))). "
            }
        }
        s +=
            "These test-split numbers did not choose the learner, so they are not flattered by the choice. "
        s +=
            "The ranking, not the level, drives targeting; the policy stage converts these uplifts into expected profit and estimates the profit a policy really earns on every randomized row, each scored by a model that never saw it."
        return s
    }
}
