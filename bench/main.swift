import ArgumentParser
import CLV
import CLVAnalysis
import Forest
import Foundation
import PipelineCLI
import ProjectSpec
import Provenance
import Reporting
import Stats
import Tabular
import Transactions

/// Benchmarks of the pipeline's hot paths. Figures are measured in this run on this machine;
/// compare tools with ratios from the same run (`make bench-compare`), never with fixed times.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline-bench",
        abstract: "Benchmarks: CSV parse throughput (MB/s, rows/s) and peak memory on the real data files.")

    @Option(help: "Folder with the raw data files.")
    var raw = "data/raw"

    @Option(help: "Timed repetitions per file (the median is reported).")
    var repeats = 5

    @Option(help: "Internal: parse one file in this process and print its peak memory.")
    var parseOne: String?

    static let schemas: [String: CSVSchema] = [
        "hillstrom.csv": CSVSchema([
            ColumnSpec("recency", .int), ColumnSpec("history_segment", .string), ColumnSpec("history", .double),
            ColumnSpec("mens", .int), ColumnSpec("womens", .int), ColumnSpec("zip_code", .string), ColumnSpec("newbie", .int),
            ColumnSpec("channel", .string), ColumnSpec("segment", .string), ColumnSpec("visit", .int),
            ColumnSpec("conversion", .int), ColumnSpec("spend", .double),
        ]),
        "online_retail_II.csv": CSVSchema([
            ColumnSpec("Invoice", .string), ColumnSpec("StockCode", .string), ColumnSpec("Description", .string),
            ColumnSpec("Quantity", .int), ColumnSpec("InvoiceDate", .string), ColumnSpec("Price", .double),
            ColumnSpec("Customer ID", .double, nullable: true), ColumnSpec("Country", .string),
        ]),
    ]

    @Option(help: "With --parse-one: read only these columns (repeatable), to see what each costs.")
    var column: [String] = []

    @Flag(
        help:
            "With --parse-one: parse once untimed first and time the second parse (the thread pool, the runtime and the code warm, as a peer's interpreter is); the peak memory then covers both."
    )
    var warm = false

    @Option(help: "Rows of the generated contact list for the scorer benchmark.")
    var scorerRows = 1_000_000

    @Option(help: "The scorer executable.")
    var scorer = ".build/release/score"

    @Option(help: "The frozen model directory.")
    var models = "models"

    @Option(help: "Rows to sample contacts from (the Hillstrom schema).")
    var contactSource = "data/processed/prepare/test.csv"

    @Flag(help: "Internal: only write the generated contact list and print its path.")
    var makeContacts = false

    // Internal modes of `make bench-compare` (bench/compare.py runs them as child processes).

    @Option(help: "Internal: write the CLV stage's Online Retail II summaries (retail_calibration.csv, retail_spend.csv) into this folder.")
    var clvInputs: String?

    @Option(help: "Internal: fit this CLV model (bgnbd, paretonbd, gammagamma) on --summaries once warm, once timed.")
    var fitClv: String?

    @Option(help: "With --fit-clv: the summaries (frequency,recency,T; for gammagamma frequency,monetary).")
    var summaries: String?

    @Option(help: "With --fit-clv: timed fits after the warm-up (the median and the fastest are reported).")
    var fitRepeats = 1

    @Flag(help: "Internal: train the T-learner's two forests (control and treated rows of --train) with the given settings.")
    var trainForests = false

    @Flag(help: "Internal: the uplift evaluation of --scores on --test (AUUC, Qini) with a paired bootstrap.")
    var evaluateUplift = false

    @Option(help: "Training split (prepared).")
    var train = "data/processed/prepare/train.csv"

    @Option(help: "Test split (prepared).")
    var test = "data/processed/prepare/test.csv"

    @Option(help: "With --train-forests: the feature encoder (the frozen model's).")
    var encoder = "models/encoder.json"

    @Option(help: "Outcome the forests are trained on.")
    var target = "spend"

    @Option(help: "0/1 treatment column of the prepared splits.")
    var treatment = "treatment"

    @Option(help: "With --train-forests: trees per forest.")
    var trees = 300

    @Option(help: "With --train-forests: maximum depth (absent: fully grown).")
    var maxDepth: Int?

    @Option(help: "With --train-forests: minimum (weighted) samples per leaf.")
    var minSamplesLeaf = 1

    @Option(help: "Seed of the forests or the bootstrap.")
    var seed: UInt64 = 20_190_601

    @Option(help: "Propensity of treatment in the test split (the design's share).")
    var propensity = 2.0 / 3.0

    @Option(help: "Worker threads (default: FOREST_THREADS or the number of cores).")
    var threads: Int?

    @Flag(help: "With --train-forests: also score --test and print the held-out AUUC (untimed).")
    var heldOut = false

    @Option(help: "With --evaluate-uplift: the scores file (row_id and --score-column, in the test split's row order).")
    var scores = "data/processed/uplift/test_scores.csv"

    @Option(help: "With --evaluate-uplift: the score column.")
    var scoreColumn = "uplift_hat"

    @Option(help: "With --evaluate-uplift: an outcome to evaluate (repeatable).")
    var outcome: [String] = []

    @Option(help: "With --evaluate-uplift: an outcome that is binary, so it also gets the Qini coefficient (repeatable).")
    var binary: [String] = []

    @Option(help: "With --evaluate-uplift: bootstrap replicates.")
    var replicates = 500

    @Option(help: "With --evaluate-uplift: print this many replicates' values (for the reference check).")
    var show = 0

    @Flag(help: "Write reports/bench.md (and its figures) from the benchmark tables in --bench-dir.")
    var report = false

    @Option(help: "With --report: the folder with compare.csv, checks.csv, compare_info.json and scale.csv.")
    var benchDir = "data/processed/bench"

    @Option(help: "With --report: the report to write.")
    var reportFile = "reports/bench.md"

    @Option(help: "With --report: the figure folder.")
    var figures = "reports/figures/bench"

    func run() throws {
        if makeContacts {
            print(try contactList())
            return
        }
        if report {
            try BenchReport.write(benchDirectory: benchDir, report: reportFile, figures: figures)
            return
        }
        if let dir = clvInputs {
            try CompareTasks.writeCLVInputs(raw: raw, into: dir)
            return
        }
        if let model = fitClv {
            guard let summaries else { throw ValidationError("--fit-clv needs --summaries") }
            try CompareTasks.fitCLV(model: model, path: summaries, repeats: fitRepeats)
            return
        }
        let workers = threads ?? ForestTrainer.defaultThreads
        if trainForests {
            let params = ForestParams(nTrees: trees, maxDepth: maxDepth, minSamplesLeaf: minSamplesLeaf, seed: seed)
            try CompareTasks.trainForests(
                train: train, test: heldOut ? test : nil, encoder: encoder, target: target, treatment: treatment, params: params,
                propensity: propensity, threads: workers)
            return
        }
        if evaluateUplift {
            try CompareTasks.evaluateUplift(
                test: test, scores: scores, scoreColumn: scoreColumn, treatment: treatment, outcomes: outcome.isEmpty ? [target] : outcome,
                binary: Set(binary), propensity: propensity, replicates: replicates, seed: seed, show: show, threads: workers)
            return
        }
        if let file = parseOne {
            var schema = Bench.schemas[file]!
            if !column.isEmpty { schema.columns = schema.columns.filter { column.contains($0.name) } }
            if warm { _ = try CSVReader.read(path: raw + "/" + file, schema: schema) }
            let t0 = DispatchTime.now()
            let table = try CSVReader.read(path: raw + "/" + file, schema: schema)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            print("\(table.rowCount) \(seconds) \(usage.ru_maxrss)")
            return
        }
        print(
            "CSV reader (release build, \(ProcessInfo.processInfo.activeProcessorCount) cores), median of \(repeats) parses; peak memory from a separate process per file"
        )
        print(row(["file", "MB", "seconds", "rows", "MB/s", "rows/s", "peak/file"]))
        for file in ["hillstrom.csv", "online_retail_II.csv"] {
            let path = raw + "/" + file
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.doubleValue else {
                throw DataError(file: path, message: "missing; run `make data` first")
            }
            var times: [Double] = []
            var rows = 0
            for _ in 0..<repeats {
                let t0 = DispatchTime.now()
                let table = try CSVReader.read(path: path, schema: Bench.schemas[file]!)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
                rows = table.rowCount
            }
            times.sort()
            let median = times[times.count / 2]
            let me = CommandLine.arguments[0]
            let child = try Shell.run([me, "--raw", raw, "--parse-one", file])
            let peakKB = Double(child.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? .nan
            let mb = size / 1e6
            print(
                row([
                    file, Fmt.fixed(mb, 1), Fmt.fixed(median, 4), String(rows), Fmt.fixed(mb / median, 1),
                    Fmt.fixed(Double(rows) / median, 0), Fmt.fixed(peakKB * 1024 / size, 2) + "x",
                ]))
        }
        try clvBenchmarks()
        try scorerBenchmarks()
    }

    /// A contact list of `scorerRows` rows in the Hillstrom schema: rows drawn with a fixed seed
    /// from the test split, numbered afresh. Written once under .build/bench/.
    func contactList() throws -> String {
        let path = ".build/bench/contacts_\(scorerRows).csv"
        if FileManager.default.fileExists(atPath: path) { return path }
        let text = try String(contentsOfFile: contactSource, encoding: .utf8)
        var lines = text.split(separator: "\n")
        let header = lines.removeFirst()
        guard let comma = header.firstIndex(of: ","), header[..<comma] == "row_id" else {
            throw DataError(file: contactSource, line: 1, message: "expected row_id as the first column")
        }
        var g = SeededGenerator(seed: 1_000_003)
        var out: [UInt8] = Array(header.utf8) + [10]
        out.reserveCapacity(scorerRows * (lines[0].utf8.count + 4))
        for i in 0..<scorerRows {
            let line = lines[g.next(below: lines.count)]
            let rest = line[line.firstIndex(of: ",")!...]
            out += Array(String(i).utf8) + Array(rest.utf8) + [10]
        }
        try FileManager.default.createDirectory(atPath: ".build/bench", withIntermediateDirectories: true)
        try AtomicFile.write(out, to: path)
        return path
    }

    /// End-to-end scorer throughput (parse, encode, score, write), median of 3 runs.
    func scorerBenchmarks() throws {
        let input = try contactList()
        let size = (try FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.doubleValue ?? 0
        print("")
        print("Scorer end to end on \(scorerRows) generated rows (\(Fmt.fixed(size / 1e6, 1)) MB), median of 3 runs")
        print(row(["policy", "seconds", "rows/s"]))
        for policy in ["positive", "bestN"] {
            var times: [Double] = []
            for _ in 0..<3 {
                let t0 = DispatchTime.now()
                let r = try Shell.run([scorer, "--in", input, "--out", ".build/bench/scored.csv", "--models", models, "--policy", policy])
                guard r.status == 0 else { throw DataError(file: input, message: "scorer failed: \(r.stderr)") }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
            }
            let median = times.sorted()[1]
            print(row([policy, Fmt.fixed(median, 3), Fmt.fixed(Double(scorerRows) / median, 0)]))
        }
    }

    /// Fit times (median of repeated fits) and the whole CLV analysis on Online Retail II.
    func clvBenchmarks() throws {
        func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<runs {
                let t0 = DispatchTime.now()
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
            }
            return times.sorted()[runs / 2]
        }
        let sample = try CustomerSummaries.read(path: raw + "/cdnow_customers_summary.csv")
        let bg = try median(21) { _ = try BGNBD.fit(sample) }
        let pareto = try median(7) { _ = try ParetoNBD.fit(sample) }
        print("")
        print("CLV fits on the 2,357-customer CDNOW sample (median of repeated fits)")
        print(row(["model", "ms"]))
        print(row(["BG/NBD", Fmt.fixed(bg * 1000, 2)]))
        print(row(["Pareto/NBD", Fmt.fixed(pareto * 1000, 2)]))
        // The default project's order log and replication, read from the raw folder in use.
        var (params, _) = try Params.load(CLVParams.self, from: "stages/clv/params.yaml")
        let (project, _) = try Params.load(ProjectFile.self, from: "project.yaml")
        params.retail = project.orders
        params.cdnow = project.replication
        params.retail?.file = raw + "/online_retail_II.csv"
        params.cdnow?.sampleFile = raw + "/cdnow_customers_summary.csv"
        params.cdnow?.master.file = raw + "/CDNOW_master.txt"
        let whole = try median(3) { _ = try CLVAnalysis.run(params) }
        print(row(["CLV analysis (s)", Fmt.fixed(whole, 2)]))
        // The whole stage as `make clv` runs it (process start, analysis, tables, figures, report, manifest
        // with checksums), into a scratch directory so the pipeline's own outputs are left alone.
        let stage = (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/stage-clv"
        let scratch = ".build/bench/clv"
        let projectFile = scratch + "/project.yaml"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var yaml = try String(contentsOfFile: "project.yaml", encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "data/raw", with: raw)
        try AtomicFile.write(Array(yaml.utf8), to: projectFile)
        let stageSeconds = try median(3) {
            let r = try Shell.run([
                stage, "--project", projectFile, "--params", "stages/clv/params.yaml", "--out", scratch + "/out", "--figures", scratch + "/figures", "--report",
                scratch + "/clv.md",
            ])
            guard r.status == 0 else { throw DataError(file: stage, message: "stage-clv failed: \(r.stderr)") }
        }
        print(row(["whole stage-clv (s)", Fmt.fixed(stageSeconds, 2)]))
    }
}
/// A table row: first column left-aligned in 24 characters, the rest right-aligned in 12.
func row(_ cells: [String]) -> String {
    cells.enumerated().map { i, c in
        let width = i == 0 ? 24 : 12
        let pad = String(repeating: " ", count: max(0, width - c.count))
        return i == 0 ? c + pad : pad + c
    }.joined(separator: " ")
}

Bench.pipelineMain()
