import ArgumentParser
import Experiment
import Foundation
import PipelineCLI
import Provenance
import Reporting
import Stats
import Tabular

struct EDAStage: AnalysisStage {
    static let configuration = CommandConfiguration(
        commandName: "stage-eda",
        abstract: "Analyses the randomized experiment: arm balance, sample-ratio check, outcome rates and lifts with CIs and tests, power, lifts by segment.",
        discussion:
            "Reads the prepare stage's train.csv, test.csv and dataset.json (the full randomized data is their union). Writes CSV tables and manifest.json into --out, figures into --figures and the report to --report."
    )

    static let stage = "eda"
    @OptionGroup var files: StageFiles

    @Option(help: "The prepare stage's output directory.")
    var prepared = "data/processed/prepare"

    func run() throws {
        let (p, raw) = try Params.load(EDAParams.self, from: params)
        let (spec, datasetPath) = try DatasetSpec.load(prepared: prepared)

        let run = StageRun(stage: "eda", manifestPath: out + "/manifest.json", gnuplot: true)
        run.parameters = raw
        for path in [params, datasetPath, prepared + "/train.csv", prepared + "/test.csv"] { run.input(path) }

        let train = try CSVReader.read(path: prepared + "/train.csv", schema: spec.preparedSchema)
        let test = try CSVReader.read(path: prepared + "/test.csv", schema: spec.preparedSchema)
        let full = try Prepare.rejoined(train: train, test: test, idColumn: spec.preparedIdColumn)

        let result = try EDA.analyse(full, spec: spec, params: p, paramsSource: params)
        let tables = EDAOutputs.tables(result)
        for (name, table) in tables { try run.write(table, to: "\(out)/\(name).csv") }

        try EDAFigures.render(result, spec: spec, params: p, directory: figures) { bytes, path in
            try run.write(bytes, to: path)
        }
        let relativeFigures = relativePath(from: report, to: figures)
        let markdown = try EDAReport.build(result, spec: spec, params: p, figureDir: relativeFigures, tableDir: relativePath(from: report, to: out))
        try run.write(markdown, to: report)
        try run.finish()
        print("eda: \(full.rowCount) rows, \(tables.count) tables, report \(report)")
    }
}

EDAStage.pipelineMain()
