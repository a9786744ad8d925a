import ArgumentParser
import Base
import Experiment
import Foundation
import PipelineCLI
import ProjectSpec
import Provenance
import Tabular

struct PrepareStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-prepare",
        abstract: "Adds row ids and the binary treatment to a randomized campaign file and splits it into train and test, stratified by arm.",
        discussion: "Writes train.csv, test.csv, dataset.json (the resolved data set spec with its arms) and manifest.json into --out.")

    @Option(help: "Stage parameters (YAML): the split, and the data set spec ('dataset') when no project gives it.")
    var params = "stages/prepare/params.yaml"

    @Option(help: "Project file (YAML) whose 'campaign' is the data set spec.")
    var project: String?

    @Option(help: "Output directory.")
    var out = "data/processed/prepare"

    func run() throws {
        let (p, paramsRaw) = try Params.load(PrepareParams.self, from: params)
        let (dataset, datasetRaw, specSource) = try datasetSpec(p, raw: paramsRaw)
        try dataset.validate(source: specSource)
        var raw = paramsRaw
        if case .object(var fields) = raw {
            fields["dataset"] = datasetRaw
            raw = .object(fields)
        }
        guard p.split.testFraction > 0 && p.split.testFraction < 1 else {
            throw DataError(file: params, message: "split.test_fraction must be strictly between 0 and 1, got \(p.split.testFraction)")
        }
        let run = StageRun(stage: "prepare", manifestPath: out + "/manifest.json")
        run.parameters = raw
        run.input(params)
        if let project { run.input(project) }
        run.input(dataset.file)

        let (table, arms) = try Prepare.loadRaw(spec: dataset, path: dataset.file)
        let split = Prepare.stratifiedSplit(
            strata: arms.index, strataCount: arms.count,
            testFraction: p.split.testFraction, seed: p.split.seed)
        try run.write(table.gather(split.train), to: out + "/train.csv")
        try run.write(table.gather(split.test), to: out + "/test.csv")

        var armCounts: [String: JSONValue] = [:]
        for (k, name) in arms.names.enumerated() {
            let inTrain = split.train.filter { arms.index[$0] == k }.count
            let inTest = split.test.filter { arms.index[$0] == k }.count
            armCounts[name] = .object(["train": .number(Double(inTrain)), "test": .number(Double(inTest))])
        }
        let resolved: JSONValue = .object([
            "spec": Prepare.resolvedSpec(datasetRaw, spec: dataset),
            "arms": .array(arms.names.map { .string($0) }),
            "arm_counts": .object(armCounts),
            "rows": .object(["all": .number(Double(table.rowCount)), "train": .number(Double(split.train.count)), "test": .number(Double(split.test.count))]),
            "split": raw["split"] ?? .null,
        ])
        try run.write(resolved.rendered() + "\n", to: out + "/dataset.json")
        try run.finish()
        Console.out("prepare: \(table.rowCount) rows -> train \(split.train.count), test \(split.test.count) (\(out))")
    }
}

extension PrepareStage {
    /// The data set spec: the project's `campaign`, or the params' `dataset`; exactly one of them.
    func datasetSpec(_ p: PrepareParams, raw: JSONValue) throws -> (DatasetSpec, JSONValue, String) {
        switch (p.dataset, project) {
        case (let spec?, nil):
            return (spec, raw["dataset"] ?? .null, params)
        case (nil, let project?):
            let (file, fileRaw) = try Params.load(ProjectFile.self, from: project)
            return (file.campaign, fileRaw["campaign"] ?? .null, project)
        case (.some, let project?):
            throw DataError(file: params, message: "'dataset' is given here and as 'campaign' in the project file \(project); keep one")
        case (nil, nil):
            throw DataError(file: params, message: "missing parameter 'dataset' (or run with --project, whose 'campaign' is the data set spec)")
        }
    }
}

PrepareStage.pipelineMain()
