import Foundation
import Policy
import Reporting
import Stats
import Tabular
import Uplift

public enum PolicyReport {
    /// The campaign's words as the uplift stage recorded them in the model's meta.json.
    public static func words(_ meta: ModelMeta) -> CampaignWords {
        CampaignWords(noun: meta.treatment.noun ?? "treatment", nounPlural: meta.treatment.nounPlural, outcomeLabels: meta.outcomeLabels ?? [:])
    }

    static func money(_ v: Double) -> String { Fmt.money(v) }
    /// A positive amount to two significant digits, with thousands separators (an error of an error).
    static func twoSignificant(_ v: Double) -> String {
        guard v.isFinite, v > 0 else { return Fmt.fixed(v, 0) }
        let exponent = Int(floor(log10(v))) - 1
        return exponent >= 0 ? Fmt.grouped((v / pow(10, Double(exponent))).rounded() * pow(10, Double(exponent)), 0) : Fmt.fixed(v, -exponent)
    }
    static func value(_ e: PolicyEstimate) -> EstimatorValue { e.dr ?? e.ipw }
    /// A profit with its interval, to the digits the interval supports.
    static func ci(_ e: EstimatorValue) -> String { Fmt.withInterval(e.profit, e.profitCI.lower, e.profitCI.upper) }
    static func diff(_ d: (value: Double, ci: Interval)?) -> String {
        guard let d else { return "–" }
        return Fmt.withInterval(d.value, d.ci.lower, d.ci.upper, signed: true)
    }
    static func levelText(_ level: Double) -> String { Fmt.significant(level * 100, 3, maxDecimals: 1) + "%" }

    public static func build(_ r: PolicyResult, params p: PolicyParams, words: CampaignWords, figureDir: String, tableDir: String) -> String {
        var md = Markdown()
        let level = "\(Int((p.confidenceLevel * 100).rounded()))%"
        let noun = words.noun, outcome = words.label(p.outcome)
        let c = r.primary
        let rec = r.recommended, best = c.rows[c.bestSimple]
        md.heading(1, "Policy: whom to contact, with which \(noun)")

        md.heading(2, "Recommendation")
        md.paragraph(recommendation(r, p: p, words: words))

        md.paragraph(
            """
            Expected profit of sending \(noun) k to customer i: uplift_ik × margin − cost_k, with margin \(Fmt.fixed(p.margin, 2)) and cost \
            \(zip(r.armNames, r.costs).map { "\($0.0) \(Fmt.fixed($0.1, 2))" }.joined(separator: ", ")) per contact; uplift_ik is the \
            production uplift model's prediction of incremental \(outcome). Policies are built and evaluated on \(c.label)\
            \(r.all == nil ? "" : ": each training customer scored by the production learner fitted on the other folds of the training split, each test customer by the production model, so no customer is scored by a model that saw them"). \
            The *model's expectation* sums the predicted profits of the customers a policy contacts; it is what the notebooks reported \
            and it is biased upward for the customers a model picks. The *held-out estimates* use only the randomized assignment and \
            the observed \(outcome): inverse-propensity weighting (IPW) and the doubly robust (DR) estimator, each with a \(level) \
            bootstrap interval (\(p.bootstrapReplicates) replicates, the same for every policy, so differences are paired). Propensities \
            (the design's arm shares): \(zip(["control"] + r.armNames, r.propensities).map { "\($0.0) \(Fmt.percent($0.1, 1))" }.joined(separator: ", ")).
            """)

        md.heading(2, "Policies compared on \(c.label)")
        comparisonTable(&md, c, r: r, level: level, full: true)
        md.paragraph(limitsText(c, p: p, noun: noun, scaled: r.all != nil))
        md.image("Model's expectation vs held-out estimate per policy", "\(figureDir)/policy_profit.png")

        if r.all != nil {
            md.heading(2, "The simple check: the test split alone")
            md.paragraph(
                "The same policies built from the production model's scores of the \(Fmt.int(r.test.customers)) test customers (budget and caps as in the params) and evaluated on those rows only:"
            )
            comparisonTable(&md, r.test, r: r, level: level, full: false)
            let recTest = r.test.rows.first { $0.key == rec.key }
            if let recTest {
                let wAll = value(rec.estimate).profitCI.upper - value(rec.estimate).profitCI.lower
                let wTest = value(recTest.estimate).profitCI.upper - value(recTest.estimate).profitCI.lower
                let per = { (w: Double, n: Int) in Fmt.significant(w / Double(n), 2) }
                md.paragraph(
                    "Interval widths of the recommended policy (\(rec.name)): \(Fmt.int(wAll)) on all \(Fmt.int(c.customers)) rows against \(Fmt.int(wTest)) on the \(Fmt.int(r.test.customers)) test rows; per customer, \(per(wAll, c.customers)) against \(per(wTest, r.test.customers)) (\(Fmt.fixed(Double(c.customers) / Double(r.test.customers), 1))× the rows; √ of that would shrink it by \(Fmt.fixed(1 / (Double(c.customers) / Double(r.test.customers)).squareRoot(), 2))×, observed \(Fmt.fixed((wAll / Double(c.customers)) / (wTest / Double(r.test.customers)), 2))×). The test split's best simple policy is \(r.test.rows[r.test.bestSimple].name), and it would recommend \(r.test.rows[r.test.recommended].name)."
                )
            }
        }

        md.heading(2, "Calibration in the large")
        md.paragraph(calibrationText(c, words: words))

        md.heading(2, "Profit curve (model's expectation)")
        md.paragraph(
            "Customers ranked by predicted uplift (any \(noun)), each sent the \(noun) with the larger expected profit (uplift × margin − that \(noun)'s cost; with equal costs, the larger predicted uplift). The model's expected profit peaks at N = \(Fmt.int(c.bestN)) contacts (\(Fmt.percent(Double(c.bestN) / Double(c.customers), 1)) of the list) with \(money(c.curve.maximum)); rescaled to the observed average effect, \(money(c.calibration.factor * (c.curve.maximum + (c.rows.first { $0.key == "best_n" }?.cost ?? 0)) - (c.rows.first { $0.key == "best_n" }?.cost ?? 0)))."
        )
        md.image("Profit curve", "\(figureDir)/profit_curve.png")

        if c.limits.budget != nil || c.limits.armCaps.contains(where: { $0 != nil }) {
            md.heading(2, "Constrained assignment")
            let s = c.solution
            let caps = zip(r.armNames, c.limits.armCaps).compactMap { a, cap in cap.map { "\(a) ≤ \(Fmt.int($0))" } }
            md.paragraph(
                """
                At most one \(noun) per customer; total contact cost ≤ \(c.limits.budget.map(money) ?? "unlimited")\
                \(caps.isEmpty ? "" : "; caps: " + caps.joined(separator: ", ")). \
                Solved as an integer program with GLPK (`glp_intopt`, warm-started from the greedy solution; one choice variable per \
                customer and \(noun), and an integer count per \(noun) that carries the budget and the caps, so the rest of the program \
                is a matching whose relaxation has whole-number solutions; pairs that cannot help are fixed to zero first): status **\(s.status.text)**, objective \(money(s.objective)), \
                LP bound \(money(s.bound)), relative gap \(s.relativeGap < 1e-9 ? "below 1e-9" : Fmt.significant(s.relativeGap, 2))\(s.timeLimitReached ? " (time limit reached)" : ""); \
                \(Fmt.int(s.variables)) customer–\(noun) pairs in the program after \(Fmt.int(s.fixedToZero)) were fixed to zero up front (no positive profit, or dominated by an uncapped \(noun) for the same customer). \
                The greedy heuristic (profit per cost, descending) reaches \(money(c.greedyObjective)); the program's optimum is \
                \(s.objective >= c.greedyObjective - 1e-9 ? "at least as good" : "WORSE — this should not happen")\
                \(abs(s.objective - c.greedyObjective) < 0.005 ? " (equal to the cent)" : ", \(money(s.objective - c.greedyObjective)) higher").
                """)
        }

        md.heading(2, "Sensitivity to margin and cost")
        md.image("Best contact share by margin and cost", "\(figureDir)/sensitivity.png")
        let margins = p.sensitivity.margins
        md.table(
            ["cost \\ margin"] + margins.map { Fmt.fixed($0, 2) },
            p.sensitivity.costs.map { cost in
                [Fmt.fixed(cost, 2)]
                    + margins.map { m in
                        let row = r.sensitivity.first { $0.cell.margin == m && $0.cell.costPerContact == cost }!
                        return "\(Fmt.percent(row.cell.bestShare, 0)) / \(Fmt.int(row.cell.bestProfit)) / \(Fmt.int(row.heldOutProfit))"
                    }
            }, rightAligned: [true] + margins.map { _ in true })
        var cellNote =
            "Each cell: the best share of customers to contact by the model's ranking, the model's expected profit there, and the held-out (DR) profit of that same policy on \(c.label), in whole units (the held-out profits' intervals are thousands wide; see the table above). Where the two disagree, trust the held-out one; the rescaled expectations are in `policy_sensitivity.csv`."
        if r.sensitivityHasOwnCosts {
            cellNote +=
                " The cost is that of any \(noun) without its own cost; each \(noun) with its own cost keeps its ratio to it ("
                + r.armNames.indices.filter { k in r.sensitivity.contains { $0.cell.costs[k] != $0.cell.costPerContact } }
                .map { "\(r.armNames[$0]) \(Fmt.fixed(r.costs[$0] / p.cost, 2))×" }.joined(separator: ", ")
                + "), and each customer is sent the \(noun) with the larger expected profit at the cell's costs."
        }
        md.paragraph(cellNote)

        md.heading(2, "Predicted vs observed uplift by decile")
        md.table(
            ["decile", "rows", "mean predicted uplift", "observed uplift [\(level) CI]"],
            c.deciles.map { d in
                [String(d.index), Fmt.int(d.rows), Fmt.fixed(d.meanPredicted, 3), Fmt.withInterval(d.observed, d.observedCI.lower, d.observedCI.upper)]
            }, rightAligned: [true, true, true, true])

        md.heading(2, "How to confirm this")
        md.paragraph(confirmText(r, p: p, words: words))

        md.paragraph(
            "Tables: `\(tableDir)/policy_evaluation.csv` (every policy on both sets of rows), `policy_curve.csv`, `policy_sensitivity.csv`, `contact_list.csv` (the recommended policy on the test split's customers), `policy_summary.json`; the spreadsheet pack `policy_pack.xlsx`. Best simple policy on these rows: \(best.name)."
        )
        return md.text
    }

    static func comparisonTable(_ md: inout Markdown, _ c: PolicyComparison, r: PolicyResult, level: String, full: Bool) {
        let adjusted = levelText(c.adjustedLevel)
        var header = ["policy", "kind"]
        if full { header += ["contacts"] + r.armNames.map { "of which \($0)" } + ["cost", "model's expected profit", "rescaled expectation"] }
        header += ["held-out profit, DR [\(level) CI]", "held-out profit, IPW [\(level) CI]", "DR vs best simple (paired) [\(adjusted) CI]"]
        md.table(
            header,
            c.rows.enumerated().map { i, row in
                var kind = row.simple ? "simple" : "model"
                if !row.withinLimits { kind += ", over the limits" }
                if i == c.bestSimple { kind += ", best simple" }
                if i == c.recommended { kind += ", **recommended**" }
                var cells = [row.name, kind]
                if full {
                    cells += [Fmt.int(row.contacts)] + row.armContacts.map { Fmt.int($0) }
                    cells += [money(row.cost), Fmt.int(row.modelExpectedProfit), Fmt.int(row.rescaledExpectedProfit)]
                }
                return cells + [row.estimate.dr.map(ci) ?? "–", ci(row.estimate.ipw), i == c.bestSimple ? "–" : diff(row.vsBestSimple)]
            }, rightAligned: [false, false] + Array(repeating: true, count: header.count - 2))
    }

    static func limitsText(_ c: PolicyComparison, p: PolicyParams, noun: String, scaled: Bool) -> String {
        var s =
            "Random targeting contacts the stated volume at random with the stated \(noun) mix; its value is computed in expectation over the draw. The response model ranks customers by their predicted \(p.outcome) if contacted (the control prediction plus the \(noun)'s uplift), the classic alternative to uplift targeting. "
        if let b = c.limits.budget {
            s +=
                "Limits: contact cost ≤ \(money(b))"
                + (scaled
                    ? " (\(money(p.budget ?? b)) per \(Fmt.int(Double(c.customers) * (p.budget ?? b) / b)) customers of the test split, scaled to these rows)"
                    : "")
            let caps = c.limits.armCaps.compactMap { $0 }
            if !caps.isEmpty { s += " and the caps of the params" }
            s += scaled ? " (scaled in the same way). " : ". "
            s += "A policy over the limits is shown for comparison but cannot be recommended. "
        }
        s +=
            "Differences against the best simple policy are paired (the same bootstrap replicates); those of the model policies are adjusted for the number of model policies compared (Bonferroni, \(levelText(c.adjustedLevel))). "
        if let mc = c.rows.map(\.ciMonteCarloError).filter(\.isFinite).max() {
            s +=
                "With \(p.bootstrapReplicates) replicates the interval ends carry a Monte Carlo error of up to ±\(twoSignificant(mc)) (from the spread of the order statistics around each end), which is why they are rounded as shown; more replicates (`bootstrap_replicates`) shrink it."
        }
        return s
    }

    static func recommendation(_ r: PolicyResult, p: PolicyParams, words: CampaignWords) -> String {
        let c = r.primary
        let rec = r.recommended, best = c.rows[c.bestSimple]
        var text = ""
        let models = c.rows.filter { !$0.simple && $0.withinLimits }
        var thin = ""
        if c.recommended == c.bestSimple {
            text +=
                "**Model targeting does not beat a simple policy here.** On \(c.label), no model policy within the limits earns more than **\(best.name)** beyond the paired, adjusted interval"
            if let top = models.max(by: { value($0.estimate).profit < value($1.estimate).profit }) {
                text += " (the best of them, \(top.name), differs by \(diff(top.vsBestSimple)))"
            }
            text += ". Recommended: **\(best.name)**"
        } else {
            text +=
                "**Recommended: \(rec.name).** On \(c.label) it earns \(diff(rec.vsBestSimple).replacingOccurrences(of: "+", with: "")) more than the best simple policy, \(best.name) (paired, adjusted interval above zero)"
            // Without it, the next supported model policy (by held-out value), else the best simple one.
            let next = c.supported.filter { $0 != c.recommended }.max { value(c.rows[$0].estimate).profit < value(c.rows[$1].estimate).profit }
            let fallback = next.map { c.rows[$0].name } ?? best.name
            if let lower = rec.vsBestSimple?.ci.lower, rec.vsBestSimpleMonteCarloError.isFinite, lower < 2 * rec.vsBestSimpleMonteCarloError {
                thin =
                    "The support for it is thin: the lower end of the paired difference lies within two Monte Carlo errors (±\(twoSignificant(rec.vsBestSimpleMonteCarloError)) with \(Fmt.int(p.bootstrapReplicates)) bootstrap replicates) of zero, so other bootstrap draws could put it below zero, and the recommendation would then fall back to \(fallback); more replicates (`bootstrap_replicates`) settle it. "
            }
        }
        text += ": \(Fmt.int(rec.contacts)) contacts ("
        text += zip(r.armNames, rec.armContacts).map { "\($0.0) \(Fmt.int($0.1))" }.joined(separator: ", ")
        text += ") at a cost of \(money(rec.cost)), held-out profit \(ci(value(rec.estimate))) (DR). "
        if value(rec.estimate).profitCI.lower > 0 {
            text += "The interval lies above zero: the campaign earns money beyond its cost. "
        } else if rec.key != "nobody" {
            text += "The interval includes zero: the held-out data cannot rule out that it only covers its cost. "
        }
        text += thin
        if let over = c.rows.filter({ !$0.withinLimits }).max(by: { value($0.estimate).profit < value($1.estimate).profit }),
            value(over.estimate).profit > value(rec.estimate).profit
        {
            text +=
                "Without the budget and caps, \(over.name) would earn \(ci(value(over.estimate))) at a cost of \(money(over.cost)). "
        }
        if rec.simple && rec.key.hasPrefix("everybody_") {
            text +=
                "A simple policy needs no scorer: send every customer on the list the \(rec.name.replacingOccurrences(of: "everybody, ", with: "")). The scorer (`score`, the service) still ranks by uplift with best-N for anyone who wants to target; on this evidence targeting adds nothing. "
        } else if rec.simple && rec.key.hasPrefix("random") {
            text += "Random targeting draws its customers by a salted hash of their ids (`contact_list.csv`). "
        } else if !rec.simple && !PolicyAnalysis.scorerRuns(rec.key) {
            text +=
                "The scorer (`score`, the service) does not run this policy on another list: it ranks by uplift (`\(PolicyAnalysis.scorerPolicy(rec.key))`, as `scorer_policy` in `models/economics.json` records) and knows no budget or caps. The test split's customers have the policy's own list in `contact_list.csv`"
            let recipe = rec.key == "response" ? responseRecipe(c, p: p, armColumns: r.armColumns, noun: words.noun, testCustomers: r.test.customers) : nil
            text += recipe.map { "; for another list, " + $0 } ?? ". "
        }
        text += "The model's own expectation for it was \(money(rec.modelExpectedProfit)); see the calibration below."
        return text
    }

    /// How to apply the response-model policy to another list from the scorer's columns, as
    /// `Targeting.greedy` builds it (profit per unit cost, descending; free contacts first).
    static func responseRecipe(_ c: PolicyComparison, p: PolicyParams, armColumns: [String], noun: String, testCustomers: Int) -> String {
        let columns = armColumns.map { "`\($0)`" }
        var s =
            "take every customer–\(noun) pair of the scorer's rows whose response profit ((`y0_hat` + that \(noun)'s uplift, \(CampaignWords.list(columns))) × margin − cost) is positive, in descending order of that profit per unit of cost (free contacts first), and give each customer the first pair "
        let hasLimits = c.limits.budget != nil || c.limits.armCaps.contains { $0 != nil }
        if hasLimits {
            let amounts = [p.budget.map { "budget, \(money($0))," }, p.armCaps.isEmpty ? nil : "caps"].compactMap { $0 }
            s +=
                "the budget and caps still allow (the params' \(amounts.joined(separator: " and ")) are for the \(Fmt.int(testCustomers)) customers of the test split; scale them by the list's size, as this comparison does). "
        } else {
            let volume = c.rows.first { $0.key == "response" }?.contacts ?? 0
            s += "until best-N's \(Fmt.int(volume)) contacts are given (on these rows; in proportion on another list). "
        }
        return s
    }

    static func calibrationText(_ c: PolicyComparison, words: CampaignWords) -> String {
        let k = c.calibration
        let lo = k.observed - 1.96 * k.observedStandardError, hi = k.observed + 1.96 * k.observedStandardError
        let d = Fmt.decimals(k.observed, standardError: k.observedStandardError)
        var s =
            "Mean predicted uplift of any \(words.noun) on \(c.label): \(Fmt.fixed(k.meanPredicted, d)); observed average effect (IPW): \(Fmt.withInterval(k.observed, lo, hi)) (95% normal interval). "
        if k.consistent {
            s += "The prediction lies inside the interval: the model's level agrees with the held-out rows, and its expected profits need no rescaling. "
        } else {
            s +=
                "The prediction lies outside the interval: the model's uplifts are \(Fmt.fixed(1 / k.factor, 2))× the observed level, so its expected profits are too \(k.factor < 1 ? "high" : "low"). The tables therefore also show each expectation rescaled by the observed/predicted ratio \(Fmt.fixed(k.factor, 2)) (uplifts times the factor, costs unchanged); the held-out estimates need no such correction. "
        }
        // The level can be right on average and still far off for the customers a policy picks.
        let picked = c.rows.filter { !$0.simple && $0.contacts > 0 && value($0.estimate).profit > 0 }
        if let worst = picked.max(by: { $0.modelExpectedProfit / value($0.estimate).profit < $1.modelExpectedProfit / value($1.estimate).profit }) {
            let ratio = worst.modelExpectedProfit / value(worst.estimate).profit
            if ratio > 1.5 {
                s +=
                    "Among the customers a model policy picks, however, the model expects far more than the held-out rows show: \(worst.name) was expected to earn \(Fmt.int(worst.modelExpectedProfit)) and earns \(Fmt.int(value(worst.estimate).profit)) held-out (\(Fmt.fixed(ratio, 1))×). Ranking by noisy predictions picks the customers with the largest prediction errors as well as the largest effects (the winner's curse); the decile table below shows it. "
            }
        }
        s +=
            "Rescaling fixes the level, not the ranking: a policy the model ranks well can still earn no more than random targeting, which is what the paired comparison measures."
        return s
    }

    static func confirmText(_ r: PolicyResult, p: PolicyParams, words: CampaignWords) -> String {
        let plan = r.plan
        let pct = "\(Int((plan.power * 100).rounded()))%"
        var s =
            "Run a confirming experiment before rolling out: split a fresh contact list between **\(plan.recommendedName)** (the recommendation) and **\(plan.alternativeName)** (the best alternative), apply each group's policy, and compare the profit per customer (margin × \(p.outcome) − contact cost). "
        let d = Fmt.decimals(plan.difference, standardError: Fmt.standardError(lower: plan.differenceCI.lower, upper: plan.differenceCI.upper))
        s +=
            "The held-out estimate of the difference is \(plan.differenceCI.lower.isFinite ? Fmt.withInterval(plan.difference, plan.differenceCI.lower, plan.differenceCI.upper, signed: true) : Fmt.fixed(plan.difference, max(d, 3))) per customer; profit per customer has a standard deviation of about \(Fmt.significant(plan.sdRecommended, 2)) under the recommendation and \(Fmt.significant(plan.sdAlternative, 2)) under the alternative. "
        s += "A two-sided test at α = \(formatDouble(plan.alpha)) with \(pct) power needs "
        s +=
            plan.perGroupAtEstimate.map { "**\(Fmt.int($0)) customers per group** to detect the estimated difference" }
            ?? "an unbounded number of customers to detect the estimated difference (it is zero)"
        s +=
            " and \(plan.perGroupAtMinimum.map { Fmt.int($0) } ?? "–") per group for a difference of \(formatDouble(plan.minimumDifference)) per customer (`confirming_test.minimum_difference` in the params). "
        s +=
            "`make plan` assigns a contact list to the two groups by a salted hash of the customer id: the same id lands in the same group on every run and machine, whatever the row order, and any split ratio can be set (`stages/plan/params.yaml`). It writes the assignment file and `reports/plan.md`."
        return s
    }
}
