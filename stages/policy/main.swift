import ArgumentParser
import Economics
import Foundation
import PipelineCLI
import PolicyAnalysis
import Provenance
import Reporting
import Tabular
import Uplift

struct PolicyStage: AnalysisStage {
    static let configuration = CommandConfiguration(
        commandName: "stage-policy",
        abstract:
            "Chooses whom to contact and with which treatment arm under a profit objective, and estimates on the held-out split what each policy really earns.",
        discussion:
            "Reads the uplift stage's test scores and model metadata (with the design's arm shares, the known propensities) and the prepare stage's test split. Writes tables, the contact list, policy_summary.json, policy_pack.xlsx and manifest.json into --out, figures into --figures and the report to --report."
    )

    static let stage = "policy"
    @OptionGroup var files: StageFiles

    @Option(help: "The prepare stage's output directory.")
    var prepared = "data/processed/prepare"

    @Option(help: "The uplift stage's test scores.")
    var scores = "data/processed/uplift/test_scores.csv"

    @Option(help: "The uplift stage's cross-fitted scores of every randomized row (evaluation on all rows); empty: the test split only.")
    var crossfit = "data/processed/uplift/crossfit_scores.csv"

    @Option(help: "The frozen model directory (reads meta.json; writes economics.json, the economics the scorer decides with).")
    var models = "models"

    func run() throws {
        let (p, raw) = try Params.load(PolicyParams.self, from: params)
        let run = StageRun(stage: "policy", manifestPath: out + "/manifest.json", gnuplot: true, extraTools: ["glpk": PolicyToolVersion.glpk])
        run.parameters = raw
        let metaPath = models + "/" + UpliftModel.metaFile
        let useCrossFit = !crossfit.isEmpty
        for path in [params, scores, metaPath, prepared + "/test.csv"] + (useCrossFit ? [crossfit, prepared + "/train.csv"] : []) { run.input(path) }
        let meta = try UpliftModel.decodeJSON(ModelMeta.self, path: metaPath)
        let scoreHeader = try CSVReader.header(path: scores)
        // Ids are text (the campaign's own keys, or row numbers); the scores are numbers.
        let scoreTable = try CSVReader.read(path: scores, schema: CSVSchema(scoreHeader.map { ColumnSpec($0, $0 == meta.idColumn ? .string : .double) }))
        let testSchema = CSVSchema([ColumnSpec(meta.idColumn, .string), ColumnSpec(meta.treatment.armColumn, .string), ColumnSpec(p.outcome, .double)])
        let test = try CSVReader.read(path: prepared + "/test.csv", schema: testSchema)
        var crossFitTable: Table? = nil, train: Table? = nil
        if useCrossFit {
            let header = try CSVReader.header(path: crossfit)
            crossFitTable = try CSVReader.read(
                path: crossfit, schema: CSVSchema(header.map { ColumnSpec($0, [meta.idColumn, "split", "fold"].contains($0) ? .string : .double) }))
            train = try CSVReader.read(path: prepared + "/train.csv", schema: testSchema)
        }
        let result = try PolicyAnalysis.run(p, paramsSource: params, meta: meta, scores: scoreTable, test: test, crossFit: crossFitTable, train: train)

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try run.write(PolicyOutputs.curve(result, points: p.curvePoints), to: out + "/policy_curve.csv")
        try run.write(PolicyOutputs.sensitivity(result), to: out + "/policy_sensitivity.csv")
        try run.write(PolicyOutputs.contactList(result), to: out + "/contact_list.csv")
        try run.write(PolicyOutputs.decisions(result), to: out + "/policy_decisions.csv")
        try run.write(result.recorded.jsonBytes(), to: models + "/" + RecordedEconomics.file)
        try run.write(PolicyOutputs.evaluation(result), to: out + "/policy_evaluation.csv")
        try run.write(PolicyOutputs.deciles(result), to: out + "/policy_deciles.csv")
        try run.write(PolicyOutputs.summary(result, params: p).rendered() + "\n", to: out + "/policy_summary.json")
        try run.write(try PolicyOutputs.pack(result, params: p), to: out + "/policy_pack.xlsx")
        _ = try Figure.renderAll(try PolicyFigures.figures(result, params: p), into: figures) { bytes, path in try run.write(bytes, to: path) }
        try run.write(
            PolicyReport.build(
                result, params: p, words: PolicyReport.words(meta), figureDir: relativePath(from: report, to: figures),
                tableDir: relativePath(from: report, to: out)), to: report
        )
        try run.finish()
        let dr = result.recommended.estimate.dr ?? result.recommended.estimate.ipw
        print(
            "policy: recommended \(result.recommended.key) on \(result.primary.customers) rows: \(Int(result.recommended.contacts)) contacts, held-out profit \(Fmt.withInterval(dr.profit, dr.profitCI.lower, dr.profitCI.upper)); best simple \(result.primary.rows[result.primary.bestSimple].key)"
        )
    }
}

PolicyStage.pipelineMain()
