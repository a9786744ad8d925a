import ArgumentParser
import Base
import CLV
import CLVAnalysis
import Foundation
import PipelineCLI
import ProjectSpec
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
            "Reads the order log (and the CDNOW replication's files) named by the project file's 'orders' and 'replication' (--project), or by the params' 'retail' and 'cdnow' without one. Writes tables, fit_<model>.json and manifest.json into --out, figures into --figures and the report to --report."
    )

    static let stage = "clv"
    @OptionGroup var files: StageFiles

    @Option(help: "Project file (YAML) whose 'orders' is the order log and whose optional 'replication' is the CDNOW replication.")
    var project: String?

    func run() throws {
        let (p, raw) = try resolvedParams()
        let run = StageRun(stage: "clv", manifestPath: out + "/manifest.json", gnuplot: true)
        run.parameters = raw
        guard let retail = p.retail else { throw DataError(file: params, message: "no order log") }
        for path in [params] + (project.map { [$0] } ?? []) + [retail.file] + (p.cdnow.map { [$0.sampleFile, $0.master.file] } ?? []) {
            run.input(path)
        }
        let progress = ProgressReporter()
        let result = try CLVAnalysis.run(p) { progress.say($0) }

        progress.say("clv: writing tables and fits")
        for (name, table) in CLVOutputs.tables(result) { try run.write(table, to: "\(out)/\(name).csv") }
        for (key, json) in CLVOutputs.fitFiles(result) { try run.write(json, to: "\(out)/fit_\(key).json") }
        progress.say("clv: rendering figures")
        _ = try Figure.renderAll(CLVFigures.figures(result), into: figures) { bytes, path in try run.write(bytes, to: path) }
        let markdown = CLVReport.build(result, params: p, figureDir: relativePath(from: report, to: figures), tableDir: relativePath(from: report, to: out))
        try run.write(markdown, to: report)
        progress.say("clv: writing the manifest")
        try run.finish()
        print("clv: \(result.calibration.count) calibration customers, production model \(result.productionModel), report \(report)")
    }
}

extension CLVStage {
    /// The params with the order log and the replication: from the project file (then the params
    /// must not give them) or from the params themselves. The raw tree, recorded in the manifest,
    /// holds them under the params' names either way.
    func resolvedParams() throws -> (CLVParams, JSONValue) {
        var (p, raw) = try Params.load(CLVParams.self, from: params)
        if let project {
            for (key, projectKey) in [("retail", "orders"), ("cdnow", "replication")] where raw[key] != nil {
                throw DataError(
                    file: params, message: "'\(key)' is given here and as '\(projectKey)' in the project file \(project); keep one (the project's)")
            }
            let (file, fileRaw) = try Params.load(ProjectFile.self, from: project)
            p.retail = file.orders
            p.cdnow = file.replication
            if case .object(var fields) = raw {
                fields["retail"] = fileRaw["orders"]
                if let replication = fileRaw["replication"] { fields["cdnow"] = replication }
                raw = .object(fields)
            }
        } else if p.retail == nil {
            throw DataError(file: params, message: "missing parameter 'retail' (or run with --project, whose 'orders' is the order log)")
        }
        try p.validate(source: params)
        return (p, raw)
    }
}

CLVStage.pipelineMain()
