import ArgumentParser
import Base
import Foundation
import PipelineCLI
import PolicyAnalysis
import Provenance
import Reporting
import Tabular
import Uplift

struct PlanStage: AnalysisStage {
    static let configuration = CommandConfiguration(
        commandName: "stage-plan",
        abstract:
            "Plans the experiment that confirms the policy stage's recommendation: sample sizes, and a contact list split between the recommendation and the best alternative by a salted hash of the customer id.",
        discussion:
            "Reads policy_summary.json (the recommendation, the alternative, the estimated difference and the spreads) and a contact list (any CSV with the id column). Writes assignment.csv and manifest.json into --out and the report to --report. The same list and salt give the same file on every run, whatever the row order."
    )

    static let stage = "plan"
    @OptionGroup var files: StageFiles

    @Option(help: "The policy stage's summary.")
    var summary = "data/processed/policy/policy_summary.json"

    @Option(help: "The contact list to split (CSV with a header).")
    var list = "data/processed/prepare/test.csv"

    @Option(help: "The frozen model directory (its meta.json names the default id column).")
    var models = "models"

    func run() throws {
        let (p, raw) = try Params.load(PlanParams.self, from: params)
        let run = StageRun(stage: "plan", manifestPath: out + "/manifest.json")
        run.parameters = raw
        let metaPath = models + "/" + UpliftModel.metaFile
        for path in [params, summary, list, metaPath] { run.input(path) }
        let idColumn = try p.idColumn ?? UpliftModel.decodeJSON(ModelMeta.self, path: metaPath).idColumn
        let summaryJSON = try JSONValue.parse(file: summary)
        let recorded = try RecordedPlan(summary: summaryJSON, source: summary)
        let header = try CSVReader.header(path: list)
        guard header.contains(idColumn) else {
            throw DataError(file: list, line: 1, message: "no id column '\(idColumn)' (columns: \(header.joined(separator: ", "))); set id_column in \(params)")
        }
        let table = try CSVReader.read(path: list, schema: CSVSchema([ColumnSpec(idColumn, .string)]))
        let result = try PlanAnalysis.run(p, paramsSource: params, recorded: recorded, list: table, idColumn: idColumn)
        let assignment = out + "/assignment.csv"
        try run.write(PlanAnalysis.assignmentFile(result), to: assignment)
        try run.write(
            PlanAnalysis.report(
                result, assignmentPath: relativePath(from: report, to: assignment),
                policyReport: relativePath(from: report, to: (report as NSString).deletingLastPathComponent + "/policy.md")), to: report)
        try run.finish()
        print(
            "plan: \(result.ids.count) customers: \(result.counts[0]) \(recorded.recommended), \(result.counts[1]) \(recorded.alternative); \(assignment)"
        )
    }
}

PlanStage.pipelineMain()
