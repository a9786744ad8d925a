import Forest
import Foundation

/// The contract between a learner and the frozen model: every score (y1_hat, y0_hat, uplift_hat,
/// uplift_<arm>) is a fixed linear combination of forest predictions, `Σ weight × forest(x)`,
/// listed in `ModelOutputs`. The shipped scorer evaluates those terms and nothing else, so a
/// learner whose own prediction is anything more (a clip, a product, a propensity that depends
/// on x, a forest it forgot to keep) would be scored differently from how it was evaluated.
/// `check` rejects such a learner when it is fitted, before anything is frozen.
public enum LearnerContract {
    public struct Violation: Error, CustomStringConvertible, Sendable {
        public let learner: String
        public let problems: [String]
        public var description: String {
            "learner '\(learner)' breaks the scoring contract (every score a linear combination of its forests): " + problems.joined(separator: "; ")
        }
    }

    /// Checks a fit on `sample` (rows encoded like the training data): every term names a
    /// forest of the fit that reads the sample's features and has a finite weight; the arm
    /// outputs are distinct, named `uplift_<arm slug>` and have a propensity in (0, 1), as does
    /// the pooled treatment; and each output combined from its terms exactly as the scorer does
    /// equals the learner's own prediction (`LearnerFit.prediction`) on every sample row, up to
    /// the rounding of summing the same products in another order.
    public static func check(
        _ fit: LearnerFit, sample: FeatureMatrix, learner: String,
        threads: Int = ForestTrainer.defaultThreads
    ) throws {
        var problems: [String] = []
        let outputs = fit.outputs
        let named: [(String, [OutputTerm])] =
            [("y1", outputs.y1), ("y0", outputs.y0), ("uplift", outputs.uplift)]
            + outputs.arms.map { ($0.column, $0.uplift) }

        for (name, terms) in named {
            if terms.isEmpty { problems.append("output \(name) has no terms") }
            for t in terms {
                if fit.forests[t.forest] == nil { problems.append("output \(name) uses forest '\(t.forest)', which the fit does not have") }
                if !t.weight.isFinite { problems.append("output \(name) weights forest '\(t.forest)' by \(t.weight)") }
            }
        }
        for (forestName, forest) in fit.forests.sorted(by: { $0.key < $1.key }) where forest.featureCount != sample.columnCount {
            problems.append("forest '\(forestName)' reads \(forest.featureCount) features, the data has \(sample.columnCount)")
        }
        if Set(outputs.arms.map(\.arm)).count != outputs.arms.count || Set(outputs.arms.map(\.column)).count != outputs.arms.count {
            problems.append("arm outputs repeat an arm or a column: \(outputs.arms.map(\.column))")
        }
        for arm in outputs.arms {
            if arm.column != "uplift_" + slug(arm.arm) { problems.append("arm '\(arm.arm)' has column '\(arm.column)', expected 'uplift_\(slug(arm.arm))'") }
            if let e = fit.armPropensities[arm.arm] {
                if !(e > 0 && e < 1) { problems.append("arm '\(arm.arm)' has propensity \(e), outside (0, 1)") }
            } else {
                problems.append("arm '\(arm.arm)' has no propensity")
            }
        }
        if !(fit.propensity > 0 && fit.propensity < 1) { problems.append("propensity \(fit.propensity) is outside (0, 1)") }
        // The scores can only be compared when every term can be evaluated.
        guard problems.isEmpty else { throw Violation(learner: learner, problems: problems) }

        let own = fit.prediction(sample, threads)
        let ownNamed = [own.y1, own.y0, own.uplift] + own.armUplift
        guard ownNamed.count == named.count else {
            throw Violation(learner: learner, problems: ["the learner predicts \(own.armUplift.count) arm uplifts, its outputs list \(outputs.arms.count)"])
        }
        var predictions: [String: [Double]] = [:]
        for name in outputs.forestNames { predictions[name] = fit.forests[name]!.predict(sample, threads: threads) }
        for ((name, terms), expected) in zip(named, ownNamed) {
            guard expected.count == sample.rowCount else {
                problems.append("the learner's own \(name) has \(expected.count) values for \(sample.rowCount) rows")
                continue
            }
            let combined = ModelOutputs.combine(terms, predictions: predictions, rows: sample.rowCount)
            for row in 0..<sample.rowCount {
                // Two sums of the same k products, each within k·ε·Σ|products| of the exact sum.
                let magnitude = terms.reduce(0.0) { $0 + abs($1.weight * predictions[$1.forest]![row]) }
                let allowed = 2 * Double(terms.count + 1) * Double.ulpOfOne * magnitude
                guard expected[row].isFinite, combined[row].isFinite, abs(combined[row] - expected[row]) <= allowed else {
                    problems.append("output \(name) at sample row \(row): the terms give \(combined[row]), the learner predicts \(expected[row])")
                    break
                }
            }
        }
        guard problems.isEmpty else { throw Violation(learner: learner, problems: problems) }
    }
}
