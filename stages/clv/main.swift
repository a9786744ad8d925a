import ArgumentParser
import Base
import CLV
import CLVAnalysis
import Foundation
import PipelineCLI
import Provenance
import Reporting
import Stats
import Tabular
import Transactions

struct CLVStage: AnalysisStage {
    static let configuration = CommandConfiguration(
        commandName: "stage-clv",
        abstract:
            "Fits transaction models (\(TransactionModelRegistry.standard.models.map { $0.displayName }.joined(separator: ", "))) and Gamma-Gamma on a cleaned transaction log, validates them on a holdout, predicts CLV, scores RFM segments, and, when the params have a cdnow block, replicates the published CDNOW estimates.",
        discussion:
            "Reads the transaction logs named in --params. Writes tables, fit_<model>.json and manifest.json into --out, figures into --figures and the report to --report."
    )

    static let stage = "clv"
    @OptionGroup var files: StageFiles

    func run() throws {
        let (p, raw) = try Params.load(CLVParams.self, from: params)
        try p.validate(source: params)
        let run = StageRun(stage: "clv", manifestPath: out + "/manifest.json", gnuplot: true)
        run.parameters = raw
        for path in [params, p.retail.file] + (p.cdnow.map { [$0.sampleFile, $0.master.file] } ?? []) { run.input(path) }
        let progress = ProgressReporter()
        let result = try CLVAnalysis.run(p) { progress.say($0) }

        progress.say("clv: writing tables and fits")
        for (name, table) in CLVOutputs.tables(result) { try run.write(table, to: "\(out)/\(name).csv") }
        for (key, json) in CLVOutputs.fitFiles(result) { try run.write(json, to: "\(out)/fit_\(key).json") }
        progress.say("clv: rendering figures")
        for figure in CLVFigures.figures(result) {
            _ = try figure.render(into: figures) { bytes, path in try run.write(bytes, to: path) }
        }
        let markdown = CLVReport.build(result, params: p, figureDir: relativePath(from: report, to: figures), tableDir: relativePath(from: report, to: out))
        try run.write(markdown, to: report)
        progress.say("clv: writing the manifest")
        try run.finish()
        print("clv: \(result.calibration.count) calibration customers, production model \(result.productionModel), report \(report)")
    }
}

CLVStage.pipelineMain()
