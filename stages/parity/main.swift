import ArgumentParser
import Foundation
import Provenance
import Reporting
import Stats
import Tabular

struct ParityStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-parity",
        abstract: "Runs the shipped scorer on the test split and checks it reproduces the pipeline's own scores exactly (the CI gate).",
        discussion: """
            Compares the scorer's output with the uplift stage's test_scores.csv: rows in common, Pearson correlation and maximum \
            absolute difference of every score column, and the overlap of the top N by uplift_hat. Writes parity.json, \
            manifest.json and the report. Exits 1 if the rows differ, a correlation is below 1 − 1e-12, any absolute difference \
            is above 0, or an overlap is below 1.
            """)

    @Option(help: "The scorer executable.")
    var scorer = ".build/release/score"

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

    /// The gate: scores must be identical; the correlation allows only the last bits of a sum.
    static let correlationTolerance = 1e-12

    @Option(name: .customLong("top"), parsing: .upToNextOption, help: "Top-N sizes for the overlap check.")
    var tops: [Int] = [100, 1000, 5000]

    func run() throws {
        let run = StageRun(stage: "parity", manifestPath: out + "/manifest.json")
        for path in [scorer, models + "/meta.json", models + "/encoder.json", models + "/forests.bin", models + "/drift_reference.json", test, expected] {
            run.input(path)
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let scored = out + "/scored_test.csv"
        let command = [scorer, "--in", test, "--out", scored, "--models", models, "--policy", "positive", "--drift", out + "/scored_test.drift.json"]
        let result = try Shell.run(command)
        guard result.status == 0 else {
            throw ProvenanceError("the scorer failed (exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        run.recordOutput(scored)
        run.recordOutput(out + "/scored_test.drift.json")

        let expectedTable = try CSVReader.read(path: expected, schema: CSVSchema(try CSVReader.header(path: expected).map { ColumnSpec($0, $0 == "row_id" ? .string : .double) }))
        let scoreColumns = expectedTable.names.filter { $0 != "row_id" }
        let actualTable = try CSVReader.read(path: scored, schema: CSVSchema([ColumnSpec("row_id", .string)] + scoreColumns.map { ColumnSpec($0, .double) }))

        let eIDs = try expectedTable.strings("row_id").values, aIDs = try actualTable.strings("row_id").values
        let aPosition = Dictionary(aIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let common = eIDs.filter { aPosition[$0] != nil }
        let sameRows = common.count == eIDs.count && aIDs.count == eIDs.count && Set(aIDs).count == aIDs.count

        var columns: [JSONValue] = []
        var rows: [[String]] = []
        var pass = sameRows
        var worstCorrelation = 1.0, worstDiff = 0.0
        for c in scoreColumns {
            let e = try expectedTable.doubles(c), a = try actualTable.doubles(c)
            let pairs = eIDs.indices.compactMap { i in aPosition[eIDs[i]].map { (e[i], a[$0]) } }
            let r = pearson(pairs.map(\.0), pairs.map(\.1))
            let diff = pairs.reduce(0.0) { max($0, abs($1.0 - $1.1)) }
            worstCorrelation = min(worstCorrelation, r.isNaN ? -1 : r)
            worstDiff = max(worstDiff, diff)
            if !(r >= 1 - Self.correlationTolerance) || diff > 0 { pass = false }
            columns.append(.object(["column": .string(c), "pearson": .number(r), "max_abs_diff": .number(diff)]))
            rows.append([c, formatDouble(r), formatDouble(diff)])
        }
        var overlaps: [JSONValue] = []
        var overlapRows: [[String]] = []
        let eUplift = try expectedTable.doubles("uplift_hat"), aUplift = try actualTable.doubles("uplift_hat")
        for n in tops {
            let te = top(n, ids: eIDs, scores: eUplift), ta = top(n, ids: aIDs, scores: aUplift)
            let k = min(n, eIDs.count)
            let overlap = k == 0 ? 1 : Double(te.intersection(ta).count) / Double(k)
            if overlap < 1 { pass = false }
            overlaps.append(.object(["n": .number(Double(n)), "overlap": .number(overlap)]))
            overlapRows.append([String(n), formatDouble(overlap)])
        }
        let summary: JSONValue = .object([
            "pass": .bool(pass), "expected_rows": .number(Double(eIDs.count)), "scored_rows": .number(Double(aIDs.count)),
            "rows_in_common": .number(Double(common.count)), "same_rows": .bool(sameRows), "columns": .array(columns),
            "top_n_overlap": .array(overlaps), "min_pearson": .number(worstCorrelation), "max_abs_diff": .number(worstDiff),
            "scorer_command": .array(command.map { .string($0) }),
        ])
        try run.write(summary.rendered() + "\n", to: out + "/parity.json")

        var md = Markdown()
        md.heading(1, "Parity: the shipped scorer against the pipeline")
        md.paragraph("""
            The scorer CLI (`\(command.joined(separator: " "))`) loads the frozen model from `\(models)/` and scores the test split; \
            its output is compared with the scores the uplift stage computed in the training process (`\(expected)`). \
            **\(pass ? "PASS" : "FAIL")**: \(common.count) of \(eIDs.count) rows in common (scorer wrote \(aIDs.count)); the gate needs \
            the same rows, Pearson correlation ≥ 1 − \(Self.correlationTolerance) and maximum absolute difference 0 for every score column, and top-N overlap 1.
            """)
        md.table(["column", "Pearson correlation", "max absolute difference"], rows, rightAligned: [false, true, true])
        md.table(["N", "top-N overlap (by uplift_hat)"], overlapRows, rightAligned: [true, true])
        md.paragraph("Scorer summary: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        try run.write(md.text, to: report)
        guard pass else {
            throw ProvenanceError("parity FAILED: rows same \(sameRows), min Pearson \(worstCorrelation), max |diff| \(worstDiff); see \(out)/parity.json")
        }
        try run.finish()
        print("parity: PASS on \(common.count) rows (max |diff| \(formatDouble(worstDiff)), min Pearson \(formatDouble(worstCorrelation)))")
    }

    func top(_ n: Int, ids: [String], scores: [Double]) -> Set<String> {
        let order = ids.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && (Int(ids[$0]) ?? 0, ids[$0]) < (Int(ids[$1]) ?? 0, ids[$1])) }
        return Set(order.prefix(n).map { ids[$0] })
    }

    /// Identical columns correlate exactly 1, also when constant (where Pearson is undefined).
    func pearson(_ a: [Double], _ b: [Double]) -> Double {
        a.map(\.bitPattern) == b.map(\.bitPattern) ? 1 : Inference.pearson(a, b)
    }
}

ParityStage.pipelineMain()
