import Base
import Experiment
import Forest
import Foundation
import Provenance
import Tabular
import Uplift

/// The stage's CSV tables and model files, built from a result.
public enum UpliftOutputs {
    static func f(_ v: Double) -> String { formatDouble(v) }

    public static func comparison(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: [
            "outcome", "learner", "normalized_auuc", "auuc_ci_lower", "auuc_ci_upper",
            "auuc_vs_baseline", "auuc_vs_baseline_ci_lower", "auuc_vs_baseline_ci_upper",
            "qini", "qini_ci_lower", "qini_ci_upper", "qini_vs_baseline", "qini_vs_baseline_ci_lower", "qini_vs_baseline_ci_upper",
            "mean_predicted_uplift", "test_ipw_ate", "decile_correlation", "settings",
        ])
        for o in r.outcomes {
            for l in o.learners {
                w.writeRow([
                    o.outcome, l.learner.key, f(l.auuc.value), f(l.auuc.ci.lower), f(l.auuc.ci.upper),
                    f(l.auucVsBaseline.value), f(l.auucVsBaseline.ci.lower), f(l.auucVsBaseline.ci.upper),
                    f(l.qini?.value ?? .nan), f(l.qini?.ci.lower ?? .nan), f(l.qini?.ci.upper ?? .nan),
                    f(l.qiniVsBaseline?.value ?? .nan), f(l.qiniVsBaseline?.ci.lower ?? .nan), f(l.qiniVsBaseline?.ci.upper ?? .nan),
                    f(l.meanPredicted), f(o.testATE), f(l.decileCorrelation), l.settings.label,
                ])
            }
        }
        return w.bytes
    }

    public static func arms(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: ["outcome", "learner", "arm", "normalized_auuc", "ci_lower", "ci_upper"])
        for o in r.outcomes {
            for l in o.learners {
                for a in l.armAUUC {
                    w.writeRow([o.outcome, l.learner.key, a.arm, f(a.estimate.value), f(a.estimate.ci.lower), f(a.estimate.ci.upper)])
                }
            }
        }
        return w.bytes
    }

    /// scikit-uplift's metrics beside the project's, one row per outcome, learner and metric
    /// (`k` and `strategy` empty where they do not apply).
    public static func comparable(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: ["outcome", "learner", "metric", "k", "strategy", "value"])
        for o in r.outcomes {
            for l in o.learners {
                w.writeRow([o.outcome, l.learner.key, "normalized_auuc", "", "", f(l.auuc.value)])
                if let q = l.qini { w.writeRow([o.outcome, l.learner.key, "qini_coefficient", "", "", f(q.value)]) }
                w.writeRow([o.outcome, l.learner.key, "sklift_qini_auc_score", "", "", f(l.comparable.qiniAUCScore)])
                if let u = l.comparable.upliftAUCScore { w.writeRow([o.outcome, l.learner.key, "sklift_uplift_auc_score", "", "", f(u)]) }
                for a in l.comparable.upliftAtK {
                    w.writeRow([o.outcome, l.learner.key, "sklift_uplift_at_k", f(a.k), SkliftMetrics.Strategy.overall.rawValue, f(a.overall)])
                    w.writeRow([o.outcome, l.learner.key, "sklift_uplift_at_k", f(a.k), SkliftMetrics.Strategy.byGroup.rawValue, f(a.byGroup)])
                }
            }
        }
        return w.bytes
    }

    public static func deciles(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: [
            "outcome", "learner", "decile", "rows", "treated_rows", "control_rows", "mean_predicted_uplift",
            "observed_uplift", "observed_ci_lower", "observed_ci_upper",
        ])
        for o in r.outcomes {
            for l in o.learners {
                for d in l.deciles {
                    w.writeRow([
                        o.outcome, l.learner.key, String(d.index), String(d.rows), String(d.treatedRows), String(d.controlRows),
                        f(d.meanPredicted), f(d.observed), f(d.observedCI.lower), f(d.observedCI.upper),
                    ])
                }
            }
        }
        return w.bytes
    }

    public static func curves(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: ["outcome", "learner", "curve", "share_targeted", "value"])
        for o in r.outcomes {
            for l in o.learners {
                for pt in l.upliftCurve { w.writeRow([o.outcome, l.learner.key, "uplift_per_customer", f(pt.share), f(pt.value)]) }
                for pt in l.qiniCurve ?? [] { w.writeRow([o.outcome, l.learner.key, "qini", f(pt.share), f(pt.value)]) }
            }
        }
        return w.bytes
    }

    public static func tuning(_ r: UpliftResult) -> [UInt8] {
        var w = CSVWriter(header: ["outcome", "n_trees", "max_depth", "min_samples_leaf", "oob_mse_control", "oob_mse_treated", "oob_mse_weighted", "chosen"])
        for o in r.outcomes {
            for t in o.tuning {
                let chosen = t.settings.maxDepth == o.tuned.maxDepth && t.settings.minSamplesLeaf == o.tuned.minSamplesLeaf
                w.writeRow([
                    o.outcome, String(t.settings.nTrees), t.settings.maxDepth.map(String.init) ?? "", String(t.settings.minSamplesLeaf),
                    f(t.oobControl), f(t.oobTreated), f(t.score), chosen ? "1" : "0",
                ])
            }
        }
        return w.bytes
    }

    /// Scores of the test split by the production model, computed in the training process.
    public static func testScores(ids: [String], scores: UpliftScores, outputs: ModelOutputs, idColumn: String) -> [UInt8] {
        var w = CSVWriter(header: [idColumn, "y1_hat", "y0_hat", "uplift_hat"] + outputs.arms.map(\.column))
        for i in 0..<ids.count {
            w.writeRow([ids[i], f(scores.y1[i]), f(scores.y0[i]), f(scores.uplift[i])] + scores.armUplift.map { f($0[i]) })
        }
        return w.bytes
    }

    /// The cross-fitted comparison of the learners on the training split, one row per learner and seed.
    public static func selection(_ r: UpliftResult) -> [UInt8] {
        let s = r.selection
        var w = CSVWriter(header: [
            "outcome", "learner", "seed", "cv_normalized_auuc", "auuc_ci_lower", "auuc_ci_upper", "auuc_vs_baseline",
            "auuc_vs_baseline_ci_lower", "auuc_vs_baseline_ci_upper", "adjusted_level", "qini", "qini_ci_lower", "qini_ci_upper",
            "chosen", "model_nodes", "standard_error_vs_best",
        ])
        for row in s.rows {
            for (seed, auuc) in row.seedAUUC.enumerated() {
                let first = seed == 0
                func g(_ v: Double) -> String { first ? f(v) : "" }
                w.writeRow([
                    s.outcome, row.learner.key, String(seed + 1), f(auuc), g(row.auuc.ci.lower), g(row.auuc.ci.upper),
                    g(row.auucVsBaseline.value), g(row.auucVsBaseline.ci.lower), g(row.auucVsBaseline.ci.upper), g(s.adjustedLevel),
                    g(row.qini?.value ?? .nan), g(row.qini?.ci.lower ?? .nan), g(row.qini?.ci.upper ?? .nan),
                    row.learner == s.chosen ? "1" : "0", g(row.modelNodes), g(row.standardErrorVsBest),
                ])
            }
        }
        return w.bytes
    }

    /// Every randomized row scored by a model that never saw it: the training rows by the
    /// production learner fitted on the other folds, the test rows by the production model.
    public static func crossFitScores(_ r: UpliftResult, idColumn: String) -> [UInt8] {
        var w = CSVWriter(header: [idColumn, "split", "fold", "y1_hat", "y0_hat", "uplift_hat"] + r.production.outputs.arms.map(\.column))
        let c = r.crossFitScores
        for i in 0..<r.trainIDs.count {
            w.writeRow(
                [r.trainIDs[i], "train", String(r.selection.fold[i] + 1), f(c.y1[i]), f(c.y0[i]), f(c.uplift[i])] + c.armUplift.map { f($0[i]) })
        }
        let t = r.testScores
        for i in 0..<r.testIDs.count {
            w.writeRow([r.testIDs[i], "test", "test", f(t.y1[i]), f(t.y0[i]), f(t.uplift[i])] + t.armUplift.map { f($0[i]) })
        }
        return w.bytes
    }

    /// `column,type` of the inputs a file to be scored must have.
    public static func requiredFeatures(_ encoder: FeatureEncoder) -> [UInt8] {
        var w = CSVWriter(header: ["column", "type"])
        for i in encoder.inputs { w.writeRow([i.name, i.kind.rawValue]) }
        return w.bytes
    }

    /// The stage's tables by file name (without `.csv`), in writing order.
    public static func tables(_ r: UpliftResult, idColumn: String) -> [(name: String, bytes: [UInt8])] {
        [
            ("comparison", comparison(r)), ("arm_comparison", arms(r)), ("comparable_metrics", comparable(r)), ("deciles", deciles(r)), ("curves", curves(r)),
            ("tuning", tuning(r)), ("selection", selection(r)),
            ("crossfit_scores", crossFitScores(r, idColumn: idColumn)),
            ("test_scores", testScores(ids: r.testIDs, scores: r.testScores, outputs: r.production.outputs, idColumn: idColumn)),
        ]
    }

    /// Freezes the production model into `directory` (see `UpliftModel.save`): its metadata
    /// names the training file by `trainingFile` and checksum, and the drift reference is taken
    /// from `train`, the rows it was fitted on.
    @discardableResult
    public static func freezeModel(
        _ r: UpliftResult, spec: DatasetSpec, params: UpliftParams, train: Table, trainingFile: String,
        into directory: String,
        write: ([UInt8], String) throws -> Void = { try AtomicFile.writeIfChanged($0, to: $1) }
    ) throws -> UpliftModel.Saved {
        let trainingSHA256 = try SHA256.hex(ofFile: trainingFile)
        let drift = try DriftReference(training: train, encoder: r.encoder)
        return try r.production.save(to: directory, drift: drift, write: write) { forestsSHA256 in
            meta(r, spec: spec, params: params, trainingFile: trainingFile, trainingSHA256: trainingSHA256, forestsSHA256: forestsSHA256)
        }
    }

    public static func meta(
        _ r: UpliftResult, spec: DatasetSpec, params: UpliftParams, trainingFile: String, trainingSHA256: String,
        forestsSHA256: String
    ) -> ModelMeta {
        let enc = r.encoder
        var categories: [String: [String]] = [:]
        for i in enc.inputs where i.kind == .categorical { categories[i.name] = i.categories ?? [] }
        var learnerParams = r.productionConfig.json
        if case .object(var o) = learnerParams {
            o["name"] = .string(r.productionLearner.key)
            o["seed"] = .string(String(params.seed))
            learnerParams = .object(o)
        }
        let treatedArms = r.armNames.dropFirst().joined(separator: ", ")
        return ModelMeta(
            formatVersion: UpliftModel.formatVersion, dataset: spec.name, idColumn: spec.preparedIdColumn,
            featureCols: enc.featureNames,
            numCols: enc.inputs.filter { $0.kind == .numeric }.map(\.name),
            catCols: enc.inputs.filter { $0.kind == .categorical }.map(\.name),
            categories: categories,
            treatment: .init(
                armColumn: spec.armColumn, controlArm: spec.controlArm, arms: r.armNames, treatmentColumn: spec.treatmentColumn,
                definition:
                    "treated = \(spec.armColumn) is any of [\(treatedArms)]; control = \(spec.controlArm). y1_hat and uplift_hat refer to any treatment; uplift_<arm> to that arm vs control.",
                propensity: r.productionFit.propensity, armPropensities: r.productionFit.armPropensities,
                allocation: Dictionary(uniqueKeysWithValues: zip(r.armNames, r.designShares)), noun: spec.words.noun, nounPlural: spec.words.nounPlural),
            target: params.primaryOutcome, learner: r.productionLearner.key, learnerParams: learnerParams,
            trainingFile: trainingFile, trainingFileSHA256: trainingSHA256, trainingRows: r.trainRows,
            forestsFile: UpliftModel.forestsFile, forestsSHA256: forestsSHA256, forestFormatVersion: Int(ForestFormat.version),
            outputs: r.production.outputs, outcomeLabels: spec.words.outcomeLabels)
    }
}
