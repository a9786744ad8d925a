import ArgumentParser
import Base
import Economics
import Foundation
import Parity
import PipelineCLI
import Provenance
import Reporting
import Stats
import Tabular
import Uplift

struct ParityStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-parity",
        abstract: "Runs the shipped scorer on the test split and checks it reproduces the pipeline's own scores exactly (the CI gate).",
        discussion: """
            Compares the scorer's output with the uplift stage's test_scores.csv: rows in common, Pearson correlation and maximum \
            absolute difference of every score column, and the overlap of the top N by uplift_hat; and the scorer's contact \
            decisions (run with no economics flags, so from models/economics.json) with the policy stage's best-N and \
            positive-profit decisions. Writes parity.json, manifest.json and the report. Exits 1 if the rows differ, a \
            correlation is below 1 − 1e-12, any absolute difference is above 0, an overlap is below 1, or a decision differs.
            """)

    @Option(help: "The scorer executable.")
    var scorer = ".build/release/score"

    @Option(help: "The scoring service executable: the test split is also scored through it and must give the scorer's bytes.")
    var serve = ".build/release/serve"

    @Option(help: "The frozen model directory.")
    var models = "models"

    @Option(help: "The test split to score.")
    var test = "data/processed/prepare/test.csv"

    @Option(help: "The pipeline's own scores of the test split.")
    var expected = "data/processed/uplift/test_scores.csv"

    @Option(help: "Output directory for parity.json, the scorer's output and the manifest.")
    var out = "data/processed/parity"

    @Option(help: "Markdown report to write.")
    var report = "reports/parity.md"

    @Option(help: "The policy stage's decisions (the campaign's id, best_n, positive) the scorer must reproduce from the recorded economics.")
    var decisions = "data/processed/policy/policy_decisions.csv"

    @Option(name: .customLong("top"), parsing: .upToNextOption, help: "Top-N sizes for the overlap check.")
    var tops: [Int] = [100, 1000, 5000]

    func run() throws {
        let run = StageRun(stage: "parity", manifestPath: out + "/manifest.json")
        let modelFiles = ["meta.json", "encoder.json", "forests.bin", "drift_reference.json", RecordedEconomics.file].map { models + "/" + $0 }
        for path in [scorer, serve] + modelFiles + [test, expected, decisions] { run.input(path) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        // Scores in input order (positive policy), the default run (no economics or policy flags:
        // the recorded policy) and, when that is not best-N, a best-N run: every policy's decisions.
        let recorded = try RecordedEconomics.load(directory: models)
        let defaultPolicy = recorded?.scorerPolicy ?? "bestN"
        // Rows are matched by the campaign's id column, which the scorer is told by name.
        let id = try UpliftModel.decodeJSON(ModelMeta.self, path: models + "/" + UpliftModel.metaFile).idColumn
        let scored = out + "/scored_test.csv", ranked = out + "/scored_test_default.csv", bestN = out + "/scored_test_bestn.csv"
        var commands = [
            [scorer, "--in", test, "--out", scored, "--models", models, "--id-col", id, "--policy", "positive", "--drift", out + "/scored_test.drift.json"],
            [scorer, "--in", test, "--out", ranked, "--models", models, "--id-col", id, "--drift", out + "/scored_test_default.drift.json"],
        ]
        if defaultPolicy != "bestN" {
            commands.append([
                scorer, "--in", test, "--out", bestN, "--models", models, "--id-col", id, "--policy", "bestN", "--drift", out + "/scored_test_bestn.drift.json",
            ])
        }
        var summary = ""
        for command in commands {
            let result = try Shell.run(command)
            guard result.status == 0 else {
                throw PipelineError("the scorer failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            if summary.isEmpty { summary = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        for command in commands {
            run.recordOutput(command[4])
            run.recordOutput(command.last!)
        }

        let expectedTable = try CSVReader.read(
            path: expected, schema: CSVSchema(try CSVReader.header(path: expected).map { ColumnSpec($0, $0 == id ? .string : .double) }))
        let scoreColumns = expectedTable.names.filter { $0 != id }
        let decisionSchema = [ColumnSpec("best_arm", .string), ColumnSpec("contact", .int)]
        let actualTable = try CSVReader.read(
            path: scored, schema: CSVSchema([ColumnSpec(id, .string)] + scoreColumns.map { ColumnSpec($0, .double) } + decisionSchema))
        let rankedTable = try CSVReader.read(path: ranked, schema: CSVSchema([ColumnSpec(id, .string)] + decisionSchema))
        let decisionTable = try CSVReader.read(
            path: decisions, schema: CSVSchema([ColumnSpec(id, .string), ColumnSpec("best_n", .string), ColumnSpec("positive", .string)]))
        let scores = try Parity.compare(expected: expectedTable, actual: actualTable, idColumn: id, tops: tops)
        let defaultColumn = defaultPolicy == "positive" ? "positive" : "best_n"
        var checks = [
            try Parity.compareDecisions(
                policy: "default (\(defaultPolicy)) vs \(defaultColumn == "best_n" ? "best-N" : "positive")", expected: decisionTable, column: defaultColumn,
                scored: rankedTable, idColumn: id),
            try Parity.compareDecisions(policy: "positive", expected: decisionTable, column: "positive", scored: actualTable, idColumn: id),
        ]
        if defaultPolicy != "bestN" {
            let bestNTable = try CSVReader.read(path: bestN, schema: CSVSchema([ColumnSpec(id, .string)] + decisionSchema))
            checks.append(try Parity.compareDecisions(policy: "bestN", expected: decisionTable, column: "best_n", scored: bestNTable, idColumn: id))
        }
        // The same runs through the service: its query string for each command above, in their order.
        let queries = ["policy=positive", "", "policy=bestN"]
        let service = try ServiceParity.check(serve: serve, models: models, test: test, runs: commands.indices.map { (queries[$0], commands[$0][4]) })
        try run.write(Parity.json(scores, decisions: checks, commands: commands).rendered() + "\n", to: out + "/parity.json")
        try run.write(service.json.rendered() + "\n", to: out + "/service_parity.json")
        try run.write(
            Parity.report(scores, decisions: checks, commands: commands, models: models, expected: expected, scorerSummary: summary) + service.report,
            to: report)
        // A failed gate's report says what differed: it outlives the abandoned run (which leaves no manifest).
        run.keepOnFailure(out + "/parity.json", out + "/service_parity.json", report)
        guard scores.pass, checks.allSatisfy(\.pass), service.pass else {
            let failed = checks.filter { !$0.pass }.map { "\($0.policy): \($0.firstDifference!)" }
            throw PipelineError(
                "parity FAILED: rows same \(scores.sameRows), min Pearson \(scores.minPearson), max |diff| \(scores.maxAbsDiff)"
                    + (failed.isEmpty ? "" : "; decisions: " + failed.joined(separator: "; "))
                    + (service.pass ? "" : "; the service's scores differ from the CLI's (see \(out)/service_parity.json)") + "; see \(out)/parity.json")
        }
        try run.finish()
        print(
            "parity: PASS on \(scores.rowsInCommon) rows (max |diff| \(formatDouble(scores.maxAbsDiff)), min Pearson \(formatDouble(scores.minPearson))); "
                + checks.map { "\($0.policy): \($0.agreeing)/\($0.rows) decisions" }.joined(separator: ", ")
                + "; service: \(service.runs.count) runs byte-identical")
    }
}

ParityStage.pipelineMain()
