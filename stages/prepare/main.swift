import ArgumentParser
import Base
import Experiment
import Foundation
import PipelineCLI
import Provenance
import Tabular

struct PrepareStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-prepare",
        abstract: "Adds row ids and the binary treatment to a randomized campaign file and splits it into train and test, stratified by arm.",
        discussion: "Writes train.csv, test.csv, dataset.json (the resolved data set spec with its arms) and manifest.json into --out.")

    @Option(help: "Stage parameters (YAML): the data set spec and the split.")
    var params = "stages/prepare/params.yaml"

    @Option(help: "Output directory.")
    var out = "data/processed/prepare"

    func run() throws {
        let (p, raw) = try Params.load(PrepareParams.self, from: params)
        try p.dataset.validate(source: params)
        guard p.split.testFraction > 0 && p.split.testFraction < 1 else {
            throw DataError(file: params, message: "split.test_fraction must be strictly between 0 and 1, got \(p.split.testFraction)")
        }
        let run = StageRun(stage: "prepare", manifestPath: out + "/manifest.json")
        run.parameters = raw
        run.input(params)
        run.input(p.dataset.file)

        let (table, arms) = try Prepare.loadRaw(spec: p.dataset, path: p.dataset.file)
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
            "spec": Prepare.resolvedSpec(raw["dataset"] ?? .null, spec: p.dataset),
            "arms": .array(arms.names.map { .string($0) }),
            "arm_counts": .object(armCounts),
            "rows": .object(["all": .number(Double(table.rowCount)), "train": .number(Double(split.train.count)), "test": .number(Double(split.test.count))]),
            "split": raw["split"] ?? .null,
        ])
        try run.write(resolved.rendered() + "\n", to: out + "/dataset.json")
        try run.finish()
        print("prepare: \(table.rowCount) rows -> train \(split.train.count), test \(split.test.count) (\(out))")
    }
}

PrepareStage.pipelineMain()
