import ArgumentParser
import Experiment
import Forest
import Foundation
import Provenance
import Reporting
import Stats
import Tabular
import Uplift
import UpliftAnalysis

struct UpliftStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-uplift",
        abstract: "Fits uplift learners (T, X, DR) with the forest engine, evaluates them on the held-out test split, and freezes the production model.",
        discussion: """
            Reads the prepare stage's train.csv, test.csv and dataset.json. Writes tables, test_scores.csv and manifest.json into \
            --out, the frozen model (meta.json, encoder.json, forests.bin) into --models, the required-features schema to --schema, \
            figures into --figures and the report to --report. Threads: FOREST_THREADS (default: all cores); results do not depend on it.
            """)

    @Option(help: "Stage parameters (YAML).")
    var params = "stages/uplift/params.yaml"

    @Option(help: "The prepare stage's output directory.")
    var prepared = "data/processed/prepare"

    @Option(help: "Output directory for tables, test scores and the manifest.")
    var out = "data/processed/uplift"

    @Option(help: "Directory for the frozen production model.")
    var models = "models"

    @Option(help: "Where to write the required-features schema (column,type).")
    var schema = "data/schema/required_features_schema.csv"

    @Option(help: "Directory for figures (PNG with their data and gnuplot scripts).")
    var figures = "reports/figures/uplift"

    @Option(help: "Markdown report to write.")
    var report = "reports/uplift.md"

    func run() throws {
        disableGSLAbort()
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

        let tables: [(String, [UInt8])] = [
            ("comparison", UpliftOutputs.comparison(result)), ("arm_comparison", UpliftOutputs.arms(result)),
            ("deciles", UpliftOutputs.deciles(result)), ("curves", UpliftOutputs.curves(result)), ("tuning", UpliftOutputs.tuning(result)),
            ("test_scores", UpliftOutputs.testScores(ids: result.testIDs, scores: result.testScores, outputs: result.production.outputs, idColumn: spec.idColumn)),
        ]
        for (name, bytes) in tables { try run.write(bytes, to: "\(out)/\(name).csv") }

        // The frozen model: forests first, then the metadata that names their checksum.
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        let forestBytes = result.production.forestBytes()
        let forestsPath = models + "/" + UpliftModel.forestsFile
        try run.write(forestBytes, to: forestsPath)
        let encoderPath = models + "/" + UpliftModel.encoderFile
        try run.write(try result.production.encoderJSON(), to: encoderPath)
        let meta = UpliftOutputs.meta(result, spec: spec, params: p, trainingFile: trainPath, trainingSHA256: try SHA256.hex(ofFile: trainPath),
                                      forestsSHA256: SHA256.hex(of: forestBytes))
        let drift = try DriftReference(training: train, encoder: result.encoder)
        try run.write(try UpliftModel.jsonBytes(drift), to: models + "/" + DriftReference.file)
        let metaPath = models + "/" + UpliftModel.metaFile
        try run.write(try UpliftModel.metaJSON(meta), to: metaPath)
        // Reload what was written: a model that does not load must fail here, not in the scorer.
        _ = try UpliftModel.load(from: models)

        try FileManager.default.createDirectory(atPath: (schema as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try run.write(UpliftOutputs.requiredFeatures(result.encoder), to: schema)

        for figure in UpliftFigures.figures(result, params: p) {
            _ = try figure.render(into: figures) { bytes, path in try run.write(bytes, to: path) }
        }
        let modelFiles = try [forestsPath, encoderPath, metaPath].map { (($0 as NSString).lastPathComponent, try SHA256.hex(ofFile: $0)) }
        let markdown = UpliftReport.build(result, params: p, figureDir: relativePath(from: report, to: figures),
                                          tableDir: relativePath(from: report, to: out), modelDir: relativePath(from: report, to: models),
                                          modelFiles: modelFiles)
        try run.write(markdown, to: report)
        try run.finish()
        let prod = result.outcomes.first { $0.outcome == p.primaryOutcome }!.learners.first { $0.learner == p.productionLearner }!
        print("uplift: \(result.outcomes.count) outcomes × \(p.learners.count) learners; production \(p.productionLearner.key), AUUC \(formatDouble((prod.auuc.value * 1000).rounded() / 1000)); models in \(models)")
    }
}

UpliftStage.pipelineMain()
