import Base
import Economics
import Foundation
import Stats
import Tabular
import Uplift

/// One scoring run: input CSV → scored CSV, streamed in chunks.
public struct ScoreOptions: Sendable {
    public var input: String
    public var output: String
    public var models: String
    /// Economics and policy; what is nil comes from the model directory's economics.json.
    public var economics: EconomicsOverride
    public var topN: Int?
    public var idColumn: String?
    /// Id of the first data row when the input has no id column (so chunks can be numbered).
    public var firstRowID: Int
    public var drift: String?
    public var chunkBytes: Int
    public var maxRowsInMemory: Int

    public init(
        input: String, output: String, models: String, economics: EconomicsOverride = .none, topN: Int? = nil,
        idColumn: String? = nil, firstRowID: Int = 0, drift: String? = nil, chunkBytes: Int = 4 << 20, maxRowsInMemory: Int = 1_000_000
    ) {
        self.input = input
        self.output = output
        self.models = models
        self.economics = economics
        self.topN = topN
        self.idColumn = idColumn
        self.firstRowID = firstRowID
        self.drift = drift
        self.chunkBytes = chunkBytes
        self.maxRowsInMemory = maxRowsInMemory
    }
}

public struct ScoreSummary: Sendable {
    public var rows: Int
    public var contacts: Int
    /// Contacts per arm, in the order of `arms`.
    public var armContacts: [Int]
    public var arms: [String]
    public var policy: ContactPolicy
    public var expectedRevenue: Double
    public var cost: Double
    public var expectedProfit: Double
    public var unknownCategoryRows: Int
    public var unknownDetail: [String: Int]
    public var psi: [(feature: String, psi: Double)]

    public var line: String {
        "scored \(rows) rows; contacts \(contacts); expected incremental revenue \(String(format: "%.2f", expectedRevenue)); "
            + "cost \(String(format: "%.2f", cost)); expected profit \(String(format: "%.2f", expectedProfit))"
    }
}

public enum ScoreRun {
    public static let psiWarning = 0.2

    /// The model's files: inputs that no output may overwrite.
    static func modelFiles(_ directory: String) -> [String] {
        [UpliftModel.metaFile, UpliftModel.encoderFile, UpliftModel.forestsFile, DriftReference.file, RecordedEconomics.file]
            .map { directory + "/" + $0 }
    }

    /// `scratch` holds the partial outputs and the spill folder; the caller may have it remove
    /// them on signals too (the CLI does). It removes them when the run ends, however it ends.
    public static func run(_ o: ScoreOptions, scratch: ScratchFiles = ScratchFiles(), warn: (String) -> Void) throws -> ScoreSummary {
        try run(o, loaded: nil, scratch: scratch, warn: warn)
    }

    /// The same run with a model loaded once by a long-running caller (`o.models` must be its directory).
    public static func run(_ o: ScoreOptions, loaded: LoadedModel?, scratch: ScratchFiles = ScratchFiles(), warn: (String) -> Void) throws -> ScoreSummary {
        defer { scratch.removeAll() }
        let toStdout = o.output == "-"
        let driftPath = o.drift ?? (toStdout ? nil : o.output + ".drift.json")
        // Before anything is read: no output may destroy an input or another output. Outputs are
        // written to the files they finally name (through symbolic links).
        let targets = try OutputPaths.check(
            inputs: [o.input] + modelFiles(o.models),
            outputs: [("--out", o.output)] + (driftPath.map { [("--drift", $0)] } ?? []))
        let outputTarget = targets[0], driftTarget = driftPath == nil ? nil : targets[1]
        guard o.firstRowID >= 0 else { throw EconomicsError("--first-row-id must be at least 0") }
        let scorer =
            try loaded.map { try Scorer(loaded: $0, economics: o.economics, idColumn: o.idColumn) }
            ?? Scorer(modelDirectory: o.models, economics: o.economics, idColumn: o.idColumn)
        let policy = scorer.policy
        if policy == .topn && o.topN == nil { throw EconomicsError("--policy topn needs --topn N") }
        if policy != .topn && o.topN != nil { throw EconomicsError("--topn applies only to --policy topn (the policy is \(policy.rawValue))") }
        if let n = o.topN, n < 0 { throw EconomicsError("--topn must be at least 0") }
        let economics = scorer.economics
        let reader = try ChunkedCSVReader(path: o.input, chunkBytes: o.chunkBytes)
        let (schema, idSource) = try scorer.schema(header: reader.header, source: reader.source)

        // Outputs go to partial files beside their targets and are renamed at the end, so a
        // failure never leaves a complete-looking file behind.
        let partial = toStdout ? "-" : scratch.partial(for: outputTarget)

        let drift = DriftBox(DriftAccumulator(reference: scorer.drift))
        var unknown: [String: Int] = [:]
        var rows = 0, contacts = 0
        var revenue = 0.0, profit = 0.0, cost = 0.0
        var armContacts = [Int](repeating: 0, count: economics.arms.count)
        // Only the ranking policies spill; the scratch folder is made when they do.
        let spill = RankedSpill(maxRowsInMemory: o.maxRowsInMemory) { try scratch.scratchDirectory() }
        var writer: BufferedWriter? = nil
        var output = AsyncWriter(nil)
        if !policy.needsRanking {
            writer = try BufferedWriter(path: partial)
            try writer!.write(CSVWriter(header: scorer.rowColumns(id: idSource) + ["contact"]).bytes)
            output = AsyncWriter(writer)
        }
        // The next chunk is read and parsed while the current one is scored.
        func prefetch() -> BackgroundWork<Table?> {
            BackgroundWork {
                guard let table = try reader.next(schema: schema)?.table else { return nil }
                try drift.value.add(table)
                return table
            }
        }
        var upcoming = prefetch()
        while true {
            guard let table = try upcoming.value() else { break }
            upcoming = prefetch()
            // Ids from row numbers: the last one of the chunk must fit in 64 bits.
            let (_, overflow) = o.firstRowID.addingReportingOverflow(rows + table.rowCount - 1)
            if idSource == nil && overflow {
                throw DataError(file: reader.source, message: "--first-row-id \(o.firstRowID) plus \(rows + table.rowCount) rows overflows a 64-bit row id")
            }
            let r = try scorer.score(table, idColumn: idSource, firstRow: idSource == nil ? o.firstRowID + rows : 0)
            for u in r.unknown.counts { unknown[u.input, default: 0] += u.rows }
            if policy.needsRanking {
                let lines = scorer.lines(r, suffix: { _ in "" })
                for i in 0..<table.rowCount {
                    var idField: [UInt8] = []
                    CSVWriter.appendField(r.ids[i], to: &idField)
                    try spill.add(
                        .init(
                            key: r.scores.uplift[i], seq: Int64(rows + i), profit: r.expectedProfit[i],
                            revenue: r.expectedRevenue[i], arm: UInt32(r.bestArm[i]), idLength: UInt32(idField.count), line: lines[i]))
                }
            } else {
                for i in 0..<table.rowCount where r.contactIfProfitable(i) {
                    contacts += 1
                    armContacts[r.bestArm[i]] += 1
                    revenue += r.expectedRevenue[i]
                    profit += r.expectedProfit[i]
                    cost += economics.costs[r.bestArm[i]]
                }
                try output.write(scorer.text(r, suffix: { r.contactIfProfitable($0) ? ",1\n" : ",0\n" }))
            }
            rows += table.rowCount
        }

        if policy.needsRanking {
            // Pass 1 over the sorted rows: how many to contact.
            var n: Int
            if let topN = o.topN {
                n = min(topN, spill.count)
            } else {
                var best = BestN()
                try spill.forEachSorted { best.add($0.profit) }
                n = best.count
            }
            // Pass 2: write in rank order with rank and contact flag.
            let w = try BufferedWriter(path: partial)
            let columns = scorer.rowColumns(id: idSource)
            try w.write(CSVWriter(header: [columns[0], "rank"] + columns.dropFirst() + ["contact"]).bytes)
            var rank = 0
            var block: [UInt8] = []
            block.reserveCapacity(1 << 20)
            try spill.forEachSorted { r in
                rank += 1
                let contact = rank <= n
                if contact {
                    contacts += 1
                    armContacts[Int(r.arm)] += 1
                    profit += r.profit
                    revenue += r.revenue
                    cost += economics.costs[Int(r.arm)]
                }
                let id = Int(r.idLength)
                block.append(contentsOf: r.line[0..<id])
                block.append(contentsOf: Array(",\(rank)".utf8))
                block.append(contentsOf: r.line[id...])
                block.append(contentsOf: contact ? Array(",1\n".utf8) : Array(",0\n".utf8))
                if block.count >= 1 << 20 { try w.write(block); block.removeAll(keepingCapacity: true) }
            }
            try w.write(block)
            writer = w
        }
        try output.finish()
        try writer?.close()

        let driftAcc = drift.value
        let psi = driftAcc.psi
        for (feature, value) in psi where value > psiWarning {
            warn("warning: input drift: PSI of '\(feature)' is \(String(format: "%.3f", value)) (> \(psiWarning)) against the training data")
        }
        let unknownTotal = unknown.values.reduce(0, +)
        if unknownTotal > 0 {
            warn(
                "warning: \(unknownTotal) values had categories not seen in training and were scored as all-zero one-hot: "
                    + unknown.keys.sorted().map { "\($0) \(unknown[$0]!)" }.joined(separator: ", "))
        }
        guard revenue.isFinite, profit.isFinite, cost.isFinite else {
            throw EconomicsError("the expected totals overflow (revenue \(revenue), cost \(cost), profit \(profit)): check --margin and the costs")
        }
        // Both outputs are complete as partial files before either is renamed.
        var driftPartial: String? = nil
        if let driftPath {
            var features: [String: JSONValue] = [:]
            for (k, f) in scorer.drift.features.enumerated() {
                features[f.name] = .object([
                    "psi": .number(psi[k].psi), "training_shares": .array(f.shares.map { .number($0) }),
                    "input_counts": .array(driftAcc.counts[k].map { .number($0) }),
                    "warning": .bool(psi[k].psi > psiWarning),
                ])
            }
            let doc = JSONValue.object(["rows": .number(Double(rows)), "threshold": .number(psiWarning), "features": .object(features)])
            let path = scratch.partial(for: driftTarget!)
            let w = try BufferedWriter(path: path)
            try w.write(Array((doc.rendered() + "\n").utf8))
            try w.close()
            driftPartial = path
        }
        // The drift report first: a new output never sits beside an old report.
        for (path, target) in [(driftPartial, driftTarget ?? ""), (toStdout ? nil : partial, outputTarget)] {
            guard let path else { continue }
            // A file being replaced keeps its permissions (a restricted contact list stays restricted).
            var existing = stat()
            if stat(target, &existing) == 0 { chmod(path, existing.st_mode & 0o7777) }
            guard rename(path, target) == 0 else {
                throw PipelineError("\(target): cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
            scratch.release(path)
        }
        return ScoreSummary(
            rows: rows, contacts: contacts, armContacts: armContacts, arms: economics.arms, policy: policy,
            expectedRevenue: revenue, cost: cost, expectedProfit: profit,
            unknownCategoryRows: unknownTotal, unknownDetail: unknown, psi: psi)
    }
}

/// The drift counts, filled on the reading thread (one read at a time) and read after the last one.
final class DriftBox: @unchecked Sendable {
    var value: DriftAccumulator
    init(_ value: DriftAccumulator) { self.value = value }
}

/// Writes chunks in order on a serial queue; the first error is kept and rethrown.
struct AsyncWriter {
    final class State: @unchecked Sendable {
        let writer: BufferedWriter?
        var error: Error?
        init(_ writer: BufferedWriter?) { self.writer = writer }
    }
    let state: State
    let queue = DispatchQueue(label: "score.output")

    init(_ writer: BufferedWriter?) { state = State(writer) }

    func write(_ bytes: [UInt8]) throws {
        if let e = queue.sync(execute: { state.error }) { throw e }
        let s = state
        queue.async {
            guard s.error == nil else { return }
            do { try s.writer?.write(bytes) } catch { s.error = error }
        }
    }

    func finish() throws {
        if let e = queue.sync(execute: { state.error }) { throw e }
    }
}
