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

    static func money(_ v: Double) -> String { Fmt.fixed(v, 2) }
    static func ci(_ e: EstimatorValue) -> String { "\(money(e.profit)) [\(money(e.profitCI.lower)), \(money(e.profitCI.upper))]" }

    public static func build(_ r: PolicyResult, params p: PolicyParams, words: CampaignWords, figureDir: String, tableDir: String) -> String {
        var md = Markdown()
        let level = "\(Int((p.confidenceLevel * 100).rounded()))%"
        let noun = words.noun, outcome = words.label(p.outcome)
        md.heading(1, "Policy: whom to contact, with which \(noun)")
        md.paragraph(
            """
            Expected profit of sending \(noun) k to customer i: uplift_ik × margin − cost_k, with margin \(Fmt.fixed(p.margin, 2)) and cost \
            \(zip(r.armNames, r.costs).map { "\($0.0) \(Fmt.fixed($0.1, 2))" }.joined(separator: ", ")) per contact; uplift_ik is the \
            production uplift model's prediction of incremental \(outcome). Every number below refers to the \(Fmt.int(r.customers)) customers of \
            the held-out test split, which the models never saw. The *model's expectation* sums the predicted profits of the customers a \
            policy contacts; it is what the notebooks reported and it is biased upward for the customers a model picks. The *held-out \
            estimates* use only the randomized assignment and the observed \(outcome): inverse-propensity weighting (IPW) and the doubly robust \
            (DR) estimator, each with a \(level) bootstrap interval (\(p.bootstrapReplicates) replicates, the same for every policy). \
            Propensities (the design's arm shares): \(zip(["control"] + r.armNames, r.propensities).map { "\($0.0) \(Fmt.percent($0.1, 1))" }.joined(separator: ", ")).
            """)

        md.heading(2, "Recommendation")
        let rec = r.recommended
        let dr = rec.estimate.dr ?? rec.estimate.ipw
        let everybody = r.rows.filter { $0.key.hasPrefix("everybody_") }
        let bestEverybody = everybody.max { ($0.estimate.dr ?? $0.estimate.ipw).profit < ($1.estimate.dr ?? $1.estimate.ipw).profit }!
        let bestEverybodyDR = bestEverybody.estimate.dr ?? bestEverybody.estimate.ipw
        var text = "Use the **\(rec.name)**: contact \(Fmt.int(rec.contacts)) of \(Fmt.int(r.customers)) customers ("
        text += zip(r.armNames, rec.armContacts).map { "\($0.0) \(Fmt.int($0.1))" }.joined(separator: ", ")
        text += ") at a cost of \(money(rec.cost)). The model expects a profit of \(money(rec.modelExpectedProfit)); on the held-out split the "
        text += "doubly robust estimate is \(ci(dr)) and the IPW estimate \(ci(rec.estimate.ipw)). "
        if dr.profitCI.lower > 0 {
            text += "The interval lies above zero: the campaign earns money beyond its cost. "
        } else {
            text += "The interval includes zero: the held-out data cannot rule out that the campaign only covers its cost. "
        }
        text +=
            "For comparison, contacting everybody with the better single \(noun) (\(bestEverybody.name)) gives \(ci(bestEverybodyDR)) (DR) at a cost of \(money(bestEverybody.cost))."
        md.paragraph(text)

        md.heading(2, "Policies compared")
        md.table(
            ["policy", "contacts"] + r.armNames.map { "of which \($0)" } + [
                "cost", "model's expected profit", "held-out profit, IPW [\(level) CI]", "held-out profit, DR [\(level) CI]",
            ],
            r.rows.map { row in
                [row.name, Fmt.int(row.contacts)] + row.armContacts.map { Fmt.int($0) }
                    + [money(row.cost), money(row.modelExpectedProfit), ci(row.estimate.ipw), row.estimate.dr.map(ci) ?? "–"]
            }, rightAligned: [false] + Array(repeating: true, count: r.armNames.count + 5))
        md.image("Model's expectation vs held-out estimate per policy", "\(figureDir)/policy_profit.png")
        md.paragraph(
            "Random targeting contacts the best-N number of customers at random with best-N's \(noun) mix; its value is computed in expectation over the random draw."
        )

        md.heading(2, "Profit curve")
        md.paragraph(
            "Customers ranked by predicted uplift (any \(noun)), each sent the \(noun) with the larger expected profit (uplift × margin − that \(noun)'s cost; with equal costs, the larger predicted uplift). The model's expected profit peaks at N = \(Fmt.int(r.bestN)) contacts (\(Fmt.percent(Double(r.bestN) / Double(r.customers), 1)) of the list) with \(money(r.curve.maximum))."
        )
        md.image("Profit curve", "\(figureDir)/profit_curve.png")

        md.heading(2, "Constrained assignment")
        let s = r.solution
        md.paragraph(
            """
            At most one \(noun) per customer; total contact cost ≤ \(p.budget.map(money) ?? "unlimited")\
            \(p.armCaps.isEmpty ? "" : "; caps: " + p.armCaps.keys.sorted().map { "\($0) ≤ \(Fmt.int(p.armCaps[$0]!))" }.joined(separator: ", ")). \
            Solved as an integer program with GLPK (`glp_intopt`, warm-started from the greedy solution; one choice variable per \
            customer and \(noun), and an integer count per \(noun) that carries the budget and the caps, so the rest of the program \
            is a matching whose relaxation has whole-number solutions; pairs that cannot help are fixed to zero first): status **\(s.status.text)**, objective \(money(s.objective)), \
            LP bound \(money(s.bound)), relative gap \(Fmt.fixed(s.relativeGap, 6))\(s.timeLimitReached ? " (time limit reached)" : ""); \
            \(Fmt.int(s.variables)) customer–\(noun) pairs in the program after \(Fmt.int(s.fixedToZero)) were fixed to zero up front (no positive profit, or dominated by an uncapped \(noun) for the same customer). \
            The greedy heuristic (profit per cost, descending) reaches \(money(r.greedyObjective)); the program's optimum is \
            \(s.objective >= r.greedyObjective ? "at least as good" : "WORSE — this should not happen"), \
            \(Fmt.fixed(s.objective - r.greedyObjective, 4)) higher.
            """)

        md.heading(2, "Sensitivity to margin and cost")
        md.image("Best contact share by margin and cost", "\(figureDir)/sensitivity.png")
        let margins = p.sensitivity.margins
        md.table(
            ["cost \\ margin"] + margins.map { Fmt.fixed($0, 2) },
            p.sensitivity.costs.map { c in
                [Fmt.fixed(c, 2)]
                    + margins.map { m in
                        let cell = r.sensitivity.first { $0.margin == m && $0.costPerContact == c }!
                        return "\(Fmt.percent(cell.bestShare, 0)) / \(money(cell.bestProfit))"
                    }
            }, rightAligned: [true] + margins.map { _ in true })
        var cellNote = "Each cell: the best share of customers to contact and the model's expected profit there."
        if r.sensitivityHasOwnCosts {
            cellNote +=
                " The cost is that of any \(noun) without its own cost; each \(noun) with its own cost keeps its ratio to it ("
                + r.armNames.indices.filter { k in r.sensitivity.contains { $0.costs[k] != $0.costPerContact } }
                .map { "\(r.armNames[$0]) \(Fmt.fixed(r.costs[$0] / p.cost, 2))×" }.joined(separator: ", ")
                + "), and each customer is sent the \(noun) with the larger expected profit at the cell's costs."
        }
        md.paragraph(cellNote)

        md.heading(2, "Predicted vs observed uplift by decile")
        md.table(
            ["decile", "rows", "mean predicted uplift", "observed uplift [\(level) CI]"],
            r.deciles.map { d in
                [
                    String(d.index), Fmt.int(d.rows), Fmt.fixed(d.meanPredicted, 3),
                    "\(Fmt.fixed(d.observed, 3)) [\(Fmt.fixed(d.observedCI.lower, 3)), \(Fmt.fixed(d.observedCI.upper, 3))]",
                ]
            }, rightAligned: [true, true, true, true])

        md.paragraph(
            "Tables: `\(tableDir)/policy_curve.csv`, `policy_sensitivity.csv`, `policy_evaluation.csv`, `contact_list.csv` (the recommended policy), `policy_summary.json`; the spreadsheet pack `policy_pack.xlsx`."
        )
        return md.text
    }
}
