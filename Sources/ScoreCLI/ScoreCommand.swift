import ArgumentParser
import Economics
import Foundation
import PipelineCLI
import Scoring
import Tabular

extension ContactPolicy: ExpressibleByArgument {}

/// The `score` command: the CLI shell over `ScoreRun` (a library, so tests run it in-process).
public struct ScoreCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Scores a contact list with the frozen uplift model and chooses whom to contact with which arm.",
        discussion: """
            Reads a CSV with the model's feature columns (data/schema/required_features_schema.csv), writes per customer: \
            the id (under the input's id column's name; row_id for row numbers), uplift_hat, y1_hat, y0_hat, the per-arm uplifts, the best arm (the one with the largest expected \
            profit), the expected incremental revenue (uplift of the best arm), the expected profit per contact \
            (revenue × margin − cost of that arm) and the contact flag.

            Economics: by default the margin, the per-arm costs and the policy the policy stage decided with, recorded in \
            <models>/economics.json, so the scorer's contact decisions are the policy stage's. --margin, --cost, --arm-cost and \
            --policy override them.

            Policies: positive (contact where the expected profit is positive; rows stay in input order and every row's output \
            depends only on that row, so chunks of a file can be scored separately and concatenated), bestN (rank by uplift_hat \
            and contact the top N that maximizes the cumulative expected profit) and topn (rank by uplift_hat, contact the top \
            --topn). The ranking policies add a rank column and write rows in rank order; they sort beyond memory with temporary \
            run files.

            Drift: the population stability index of every feature against the training data is written to a sidecar JSON \
            (default <out>.drift.json) and a warning is printed above 0.2.

            Files: an output that would overwrite the input, a model file or the other output is refused before anything is \
            read. Outputs are written as <file>.partial-<pid> and renamed when complete; partial files and the spill folder \
            are removed on every exit, Ctrl-C included, and a later run removes what a killed one left.

            Exit codes: 0 success, 1 failure, 2 bad input or usage, 141 when the reader of standard output closed it \
            (`score ... --out - | head`: the run stops quietly, as a Unix tool ended by SIGPIPE does).
            """)

    @Option(name: .customLong("in"), help: "Input CSV ('-' for standard input).")
    var input: String

    @Option(help: "Output CSV ('-' for standard output).")
    var out: String

    @Option(help: "Directory of the frozen model (meta.json, encoder.json, forests.bin, drift_reference.json).")
    var models = "models"

    @Option(help: "Contact policy: bestN, positive or topn (default: the one recorded in <models>/economics.json, else bestN).")
    var policy: ContactPolicy?

    @Option(help: "Share of incremental revenue that is profit, in (0, 1] (default: recorded in <models>/economics.json).")
    var margin: Double?

    @Option(help: "Cost per contact, every arm (default: the per-arm costs recorded in <models>/economics.json).")
    var cost: Double?

    @Option(
        name: .customLong("arm-cost"),
        help: ArgumentHelp(
            "Cost per contact of one treated arm, as NAME=COST (the arm as the model names it); repeat per arm. Wins over --cost.", valueName: "name=cost"))
    var armCosts: [String] = []

    @Option(help: "Number of customers to contact with --policy topn.")
    var topn: Int?

    @Option(
        name: .customLong("id-col"),
        help: ArgumentHelp(
            "The input's id column, carried through under its name (default: the model's id column, recorded in meta.json, when the input has it, else row_id if present, else the 0-based row number as row_id).",
            valueName: "name"))
    var idCol: String?

    @Option(name: .customLong("first-row-id"), help: "Row number of the first data row when ids are created from row numbers (for scoring chunks).")
    var firstRowID = 0

    @Option(help: "Where to write the drift report (default: <out>.drift.json; none when writing to standard output).")
    var drift: String?

    @Option(name: .customLong("max-rows-in-memory"), help: "Rows held in memory before the ranking policies spill a sorted run to disk.")
    var maxRowsInMemory = 1_000_000

    @Option(name: .customLong("chunk-bytes"), help: "Bytes of input parsed at a time (memory use scales with it).")
    var chunkBytes = 4 << 20

    public func validate() throws {
        if chunkBytes < 1024 { throw ValidationError("--chunk-bytes must be at least 1024") }
        if maxRowsInMemory < 1 { throw ValidationError("--max-rows-in-memory must be at least 1") }
        if firstRowID < 0 { throw ValidationError("--first-row-id must be at least 0") }
    }

    func armCostTable() throws -> [String: Double] {
        var table: [String: Double] = [:]
        for item in armCosts {
            guard let eq = item.lastIndex(of: "="), let value = Double(item[item.index(after: eq)...]), !item[..<eq].isEmpty else {
                throw ValidationError("--arm-cost '\(item)' is not NAME=COST")
            }
            let name = String(item[..<eq])
            guard table[name] == nil else { throw ValidationError("--arm-cost gives '\(name)' twice") }
            table[name] = value
        }
        return table
    }

    public func run() throws {
        // Before anything opens a file (which could take descriptor 0 and pass for standard input).
        if input == "-" && fcntl(STDIN_FILENO, F_GETFD) == -1 { throw DataError(file: "<stdin>", message: "standard input is closed") }
        let economics = EconomicsOverride(margin: margin, cost: cost, armCosts: try armCostTable(), policy: policy)
        let options = ScoreOptions(
            input: input, output: out, models: models, economics: economics, topN: topn,
            idColumn: idCol, firstRowID: firstRowID, drift: drift, chunkBytes: chunkBytes, maxRowsInMemory: maxRowsInMemory)
        // Partial outputs and spilled runs are removed however the run ends, Ctrl-C included.
        let scratch = ScratchFiles()
        scratch.removeOnSignals()
        defer { scratch.stopHandlingSignals() }
        let summary = try ScoreRun.run(options, scratch: scratch) { Console.error($0) }
        if out == "-" { Console.error(summary.line) } else { Console.out(summary.line) }
    }
}
