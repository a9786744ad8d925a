import Economics
import Forest
import Foundation
import Stats
import Tabular
import Uplift

/// Contact policies of the scorer.
public enum ContactPolicy: String, Sendable, CaseIterable {
    /// Rank by predicted uplift; contact the top N where N maximizes the cumulative expected profit.
    case bestN
    /// Contact every customer whose best arm has positive expected profit (per row; no ranking).
    case positive
    /// Rank by predicted uplift; contact the top `--topn`.
    case topn

    public var needsRanking: Bool { self != .positive }
}

/// What a caller says about the economics; anything left nil comes from the model directory's
/// `economics.json` (what the policy stage decided with).
public struct EconomicsOverride: Sendable, Equatable {
    public var margin: Double?
    /// One cost for every arm.
    public var cost: Double?
    /// Per-arm costs by arm name; they win over `cost`.
    public var armCosts: [String: Double]
    public var policy: ContactPolicy?

    public init(margin: Double? = nil, cost: Double? = nil, armCosts: [String: Double] = [:], policy: ContactPolicy? = nil) {
        self.margin = margin
        self.cost = cost
        self.armCosts = armCosts
        self.policy = policy
    }

    public static let none = EconomicsOverride()
}

/// The frozen-artifact scorer: one code path for the CLI, the parity stage and a server. It takes
/// rows and returns typed scores and contact decisions; reading, writing and spilling are the
/// callers' (`ScoreRun` for files). Per-row results depend only on the row, so chunks can be scored
/// independently.
public struct Scorer: Sendable {
    public let model: UpliftModel
    public let meta: ModelMeta
    public let drift: DriftReference
    /// The economics in force: recorded with the model, with the caller's overrides applied.
    public let economics: CampaignEconomics
    public let policy: ContactPolicy
    /// What the model directory recorded (nil for a model directory without economics.json).
    public let recorded: RecordedEconomics?
    /// The input's id column the caller named (`--id-col`); nil: see `schema(header:source:)`.
    public let idColumn: String?

    public init(modelDirectory: String, economics override: EconomicsOverride = .none, idColumn: String?) throws {
        (model, meta) = try UpliftModel.load(from: modelDirectory)
        drift = try UpliftModel.decodeJSON(DriftReference.self, path: modelDirectory + "/" + DriftReference.file)
        recorded = try RecordedEconomics.load(directory: modelDirectory)
        let arms = model.outputs.arms.isEmpty ? ["any"] : model.outputs.arms.map(\.arm)
        economics = try Self.resolve(recorded: recorded, override: override, arms: arms, directory: modelDirectory)
        if let p = override.policy {
            policy = p
        } else if let name = recorded?.scorerPolicy {
            guard let p = ContactPolicy(rawValue: name) else {
                throw EconomicsError("\(modelDirectory)/\(RecordedEconomics.file): unknown scorer policy '\(name)'")
            }
            policy = p
        } else {
            policy = .bestN
        }
        self.idColumn = idColumn
    }

    /// The recorded economics with the caller's overrides; an arm the model does not have, or a
    /// value that is not given anywhere, is an error that says where to give it.
    static func resolve(recorded: RecordedEconomics?, override o: EconomicsOverride, arms: [String], directory: String) throws -> CampaignEconomics {
        let file = directory + "/" + RecordedEconomics.file
        // Flags are checked by their own names, so the message says which one to correct.
        if let m = o.margin, !(m.isFinite && m > 0 && m <= 1) {
            throw EconomicsError("--margin \(formatDouble(m)) is not a share of revenue in (0, 1] (0.30 means 30%)")
        }
        if let c = o.cost, !(c.isFinite && c >= 0) { throw EconomicsError("--cost \(formatDouble(c)) must be finite and non-negative") }
        if let (arm, c) = o.armCosts.sorted(by: { $0.key < $1.key }).first(where: { !($0.value.isFinite && $0.value >= 0) }) {
            throw EconomicsError("--arm-cost '\(arm)=\(formatDouble(c))': the cost must be finite and non-negative")
        }
        if let unknown = o.armCosts.keys.sorted().first(where: { !arms.contains($0) }) {
            throw EconomicsError("no arm '\(unknown)' in the model (its arms: \(arms.joined(separator: ", ")))")
        }
        var base: CampaignEconomics? = nil
        if let r = recorded {
            guard r.economics.arms == arms else {
                throw EconomicsError("\(file): arms \(r.economics.arms) differ from the model's \(arms)")
            }
            base = r.economics
        }
        guard let margin = o.margin ?? base?.margin else {
            throw EconomicsError("\(file) is missing (the policy stage writes it): give --margin and --cost")
        }
        let costs: [Double] = try arms.enumerated().map { k, arm in
            guard let c = o.armCosts[arm] ?? o.cost ?? base?.costs[k] else {
                throw EconomicsError("\(file) is missing (the policy stage writes it): give --cost or --arm-cost for '\(arm)'")
            }
            return c
        }
        return try CampaignEconomics(margin: margin, arms: arms, costs: costs)
    }

    /// The name of the output's id column when the input has none: its row numbers.
    public static let rowNumberColumn = "row_id"

    /// Output columns before the ranking columns; the first is the ids, under the input's id
    /// column's name (`id`, from `schema(header:source:)`), or `row_id` for row numbers.
    public func rowColumns(id: String?) -> [String] {
        [id ?? Self.rowNumberColumn] + scoreColumns
    }

    /// The output columns after the id, before the ranking columns.
    public var scoreColumns: [String] {
        ["uplift_hat", "y1_hat", "y0_hat"] + model.outputs.arms.map(\.column) + ["best_arm", "expected_incremental_revenue", "expected_profit"]
    }

    /// Checks the header: every required feature present (all missing ones named at once), the
    /// id column present when one was asked for. Returns the schema to read and the id source:
    /// the column the caller named, else the model's id column (the campaign's, recorded in
    /// meta.json) when the input has it, else `row_id` when present, else nil (row numbers).
    public func schema(header: [String], source: String) throws -> (schema: CSVSchema, id: String?) {
        let required = model.encoder.requiredColumns
        let missing = required.map(\.name).filter { !header.contains($0) }
        if !missing.isEmpty {
            // One column whose name holds another usual delimiter: the file is not comma-separated.
            if header.count == 1, let d = [";", "\t", "|"].first(where: { header[0].contains($0) }) {
                let name = d == "\t" ? "tab" : "'\(d)'"
                throw DataError(
                    file: source, line: 1,
                    message:
                        "the header has one column, \(DataError.quoted(header[0])): the file looks \(name)-separated; the scorer reads comma-separated files")
            }
            throw DataError(
                file: source, line: 1,
                message:
                    "missing required column\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")) (the model needs: \(required.map(\.name).joined(separator: ", ")))"
            )
        }
        var columns = required
        var id: String? = nil
        if let idColumn {
            guard header.contains(idColumn) else {
                throw DataError(file: source, line: 1, message: "id column '\(idColumn)' not in the header")
            }
            id = idColumn
        } else if header.contains(meta.idColumn) {
            id = meta.idColumn
        } else if header.contains(Self.rowNumberColumn) {
            id = Self.rowNumberColumn
        }
        // The output keeps the id column's name, so it may not be one of the output's own columns.
        if let id, (scoreColumns + ["rank", "contact"]).contains(id) {
            throw DataError(file: source, line: 1, message: "id column '\(id)' has the name of an output column; rename it or name another with --id-col")
        }
        if let id, !columns.contains(where: { $0.name == id }) { columns.append(ColumnSpec(id, .string)) }
        return (CSVSchema(columns), id)
    }

    public struct ChunkResult: Sendable {
        public var ids: [String]
        public var scores: UpliftScores
        /// Per row, the most profitable arm (an index into `economics.arms`).
        public var bestArm: [Int]
        public var expectedRevenue: [Double]
        public var expectedProfit: [Double]
        public var unknown: FeatureEncoder.UnknownCounts

        /// The decision of the positive-profit policy for row `i` (per row, no ranking).
        public func contactIfProfitable(_ i: Int) -> Bool { expectedProfit[i] > 0 }
    }

    /// Scores one chunk. `firstRow` numbers rows without an id column (0-based over the input).
    public func score(_ table: Table, idColumn id: String?, firstRow: Int, threads: Int = ForestTrainer.defaultThreads) throws -> ChunkResult {
        let (x, unknown) = try model.encoder.encode(table)
        let scores = model.score(x, threads: threads)
        let ids: [String] = try id.map { try table.strings($0).values } ?? (0..<table.rowCount).map { String(firstRow + $0) }
        var best = [Int](repeating: 0, count: table.rowCount)
        var revenue = [Double](repeating: 0, count: table.rowCount)
        var profit = [Double](repeating: 0, count: table.rowCount)
        let perArm = !scores.armUplift.isEmpty
        for i in 0..<table.rowCount {
            let k = perArm ? economics.bestArm { scores.armUplift[$0][i] } : 0
            let u = perArm ? scores.armUplift[k][i] : scores.uplift[i]
            best[i] = k
            revenue[i] = u
            profit[i] = economics.profit(uplift: u, arm: k)
        }
        return ChunkResult(ids: ids, scores: scores, bestArm: best, expectedRevenue: revenue, expectedProfit: profit, unknown: unknown)
    }

    /// The CSV line of row `i` (per-row fields, then `suffix`), appended to `out`.
    public func appendLine(_ r: ChunkResult, _ i: Int, suffix: String, to out: inout [UInt8]) {
        CSVWriter.appendField(r.ids[i], to: &out)
        func number(_ v: Double) { out.append(0x2C); out += formatDouble(v).utf8 }
        number(r.scores.uplift[i]); number(r.scores.y1[i]); number(r.scores.y0[i])
        for a in r.scores.armUplift { number(a[i]) }
        out.append(0x2C)
        CSVWriter.appendField(economics.arms[r.bestArm[i]], to: &out)
        number(r.expectedRevenue[i]); number(r.expectedProfit[i])
        out += suffix.utf8
    }

    /// All rows of a chunk as CSV text, formatted in parallel slices concatenated in row order.
    public func text(_ r: ChunkResult, suffix: @Sendable (Int) -> String, threads: Int = ForestTrainer.defaultThreads) -> [UInt8] {
        let parts = slices(rows: r.ids.count, threads: threads) { range in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(range.count * 160)
            for i in range { appendLine(r, i, suffix: suffix(i), to: &bytes) }
            return bytes
        }
        // Appending each slice's buffer copies it in one block (`joined()` would copy byte by byte).
        var out: [UInt8] = []
        out.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { out.append(contentsOf: part) }
        return out
    }

    /// The line of every row of a chunk (for the ranking policies, which sort rows), in row order.
    public func lines(_ r: ChunkResult, suffix: @Sendable (Int) -> String, threads: Int = ForestTrainer.defaultThreads) -> [[UInt8]] {
        slices(rows: r.ids.count, threads: threads) { range in
            range.map { i -> [UInt8] in
                var line: [UInt8] = []
                line.reserveCapacity(160)
                appendLine(r, i, suffix: suffix(i), to: &line)
                return line
            }
        }.flatMap { $0 }
    }

    /// `body` over consecutive slices of the rows, in parallel, results in row order.
    private func slices<T: Sendable>(rows n: Int, threads: Int, _ body: @Sendable (Range<Int>) -> T) -> [T] {
        let count = max(1, min(threads * 4, n / 2048))
        return parallelMap(count: count, threads: threads) { k in body((k * n / count)..<((k + 1) * n / count)) }
    }
}

/// Per-feature bin counts of the scored input, for the PSI against the training reference.
public struct DriftAccumulator: Sendable {
    public let reference: DriftReference
    public private(set) var counts: [[Double]]
    public private(set) var rows = 0

    public init(reference: DriftReference) {
        self.reference = reference
        counts = reference.features.map { [Double](repeating: 0, count: $0.shares.count) }
    }

    public mutating func add(_ table: Table) throws {
        for (k, f) in reference.features.enumerated() {
            switch f.kind {
            case .numeric: f.accumulate(numbers: try table.column(f.name).asDoubles!, into: &counts[k])
            case .categorical: f.accumulate(strings: try table.strings(f.name), into: &counts[k])
            }
        }
        rows += table.rowCount
    }

    public var psi: [(feature: String, psi: Double)] {
        reference.features.enumerated().map { ($0.element.name, $0.element.psi(counts: counts[$0.offset])) }
    }
}
