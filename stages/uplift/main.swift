import ArgumentParser
import Base
import Experiment
import Forest
import Foundation
import PipelineCLI
import Provenance
import Reporting
import Stats
import Tabular
import Uplift
import UpliftAnalysis

struct UpliftStage: AnalysisStage {
    static let configuration = CommandConfiguration(
        commandName: "stage-uplift",
        abstract: "Fits uplift learners (T, X, DR) with the forest engine, evaluates them on the held-out test split, and freezes the production model.",
        discussion: """
            Reads the prepare stage's train.csv, test.csv and dataset.json. Writes tables, test_scores.csv and manifest.json into \
            --out, the frozen model (meta.json, encoder.json, forests.bin) into --models, the required-features schema to --schema, \
            figures into --figures and the report to --report. Threads: FOREST_THREADS (default: all cores); results do not depend on it.
            """)

    static let stage = "uplift"
    @OptionGroup var files: StageFiles

    @Option(help: "The prepare stage's output directory.")
    var prepared = "data/processed/prepare"

    @Option(help: "Directory for the frozen production model.")
    var models = "models"

    @Option(help: "Where to write the required-features schema (column,type).")
    var schema = "data/schema/required_features_schema.csv"

    func run() throws {
        let (p, raw) = try Params.load(UpliftParams.self, from: params)
        let (spec, datasetPath) = try DatasetSpec.load(prepared: prepared)

        let run = StageRun(stage: "uplift", manifestPath: out + "/manifest.json", gnuplot: true)
        run.parameters = raw
        let trainPath = prepared + "/train.csv", testPath = prepared + "/test.csv"
        for path in [params, datasetPath, trainPath, testPath] { run.input(path) }

        let progress = ProgressReporter()
        let train = try CSVReader.read(path: trainPath, schema: spec.preparedSchema)
        let test = try CSVReader.read(path: testPath, schema: spec.preparedSchema)
        let result = try UpliftAnalysis.run(p, paramsSource: params, spec: spec, train: train, test: test, progress: { progress.say($0) })

        progress.say("uplift: writing tables and the frozen model")
        for (name, bytes) in UpliftOutputs.tables(result, idColumn: spec.preparedIdColumn) { try run.write(bytes, to: "\(out)/\(name).csv") }
        let saved = try UpliftOutputs.freezeModel(result, spec: spec, params: p, train: train, trainingFile: trainPath, into: models) { bytes, path in
            try run.write(bytes, to: path)
        }

        try FileManager.default.createDirectory(atPath: (schema as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try run.write(UpliftOutputs.requiredFeatures(result.encoder), to: schema)

        progress.say("uplift: figures and report")
        _ = try Figure.renderAll(UpliftFigures.figures(result, params: p, words: spec.words), into: figures) { bytes, path in
            try run.write(bytes, to: path)
        }
        let modelFiles = [saved.forests, saved.encoder, saved.metaFile].map { ($0.name, $0.sha256) }
        let markdown = UpliftReport.build(
            result, params: p, words: spec.words, figureDir: relativePath(from: report, to: figures),
            tableDir: relativePath(from: report, to: out), modelDir: relativePath(from: report, to: models),
            modelFiles: modelFiles)
        try run.write(markdown, to: report)
        progress.say("uplift: manifest (checksums of every output)")
        try run.finish()
        let prod = result.outcomes.first { $0.outcome == p.primaryOutcome }!.learners.first { $0.learner == result.productionLearner }!
        print(
            "uplift: \(result.outcomes.count) outcomes × \(p.learners.count) learners; production \(result.productionLearner.key) (cross-fitted choice), test AUUC \(formatDouble((prod.auuc.value * 1000).rounded() / 1000)); models in \(models)"
        )
    }
}

UpliftStage.pipelineMain()
