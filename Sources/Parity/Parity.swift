import Base
import Foundation
import Reporting
import Stats
import Tabular

/// The parity gate: the shipped scorer must reproduce the pipeline's own scores exactly and make
/// the policy stage's contact decisions from the economics recorded with the model.
public enum Parity {
    /// Scores must be identical; the correlation allows only the last bits of a sum.
    public static let correlationTolerance = 1e-12

    public struct Column: Sendable, Equatable {
        public var name: String
        public var pearson: Double
        public var maxAbsDiff: Double
        public var pass: Bool { pearson >= 1 - Parity.correlationTolerance && maxAbsDiff == 0 }
    }

    public struct Overlap: Sendable, Equatable {
        public var n: Int
        public var overlap: Double
    }

    /// One policy's decisions: per row, the arm contacted ("" = none), scorer against policy stage.
    public struct Decisions: Sendable, Equatable {
        public var policy: String
        public var rows: Int
        public var agreeing: Int
        /// The first row (in the policy stage's order) where they differ, described.
        public var firstDifference: String?
        public var pass: Bool { firstDifference == nil }
    }

    public struct Scores: Sendable, Equatable {
        public var expectedRows: Int
        public var scoredRows: Int
        public var rowsInCommon: Int
        public var sameRows: Bool
        public var columns: [Column]
        public var overlaps: [Overlap]
        public var pass: Bool { sameRows && columns.allSatisfy(\.pass) && overlaps.allSatisfy { $0.overlap >= 1 } }
        public var minPearson: Double { columns.map { $0.pearson.isNaN ? -1 : $0.pearson }.min() ?? 1 }
        public var maxAbsDiff: Double { columns.map(\.maxAbsDiff).max() ?? 0 }
    }

    /// Compares every score column of `expected` (the pipeline's, with the campaign's id column
    /// `idColumn`) with the same columns of `actual` (the scorer's, ids under the same name),
    /// matched by id; and the top-N sets by `uplift_hat`.
    public static func compare(expected: Table, actual: Table, idColumn: String, tops: [Int]) throws -> Scores {
        let eIDs = try expected.strings(idColumn).values, aIDs = try actual.strings(idColumn).values
        let aPosition = Dictionary(aIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let common = eIDs.filter { aPosition[$0] != nil }
        let sameRows = common.count == eIDs.count && aIDs.count == eIDs.count && Set(aIDs).count == aIDs.count
        var columns: [Column] = []
        for c in expected.names where c != idColumn {
            let e = try expected.doubles(c), a = try actual.doubles(c)
            let pairs = eIDs.indices.compactMap { i in aPosition[eIDs[i]].map { (e[i], a[$0]) } }
            let diff = pairs.reduce(0.0) { max($0, abs($1.0 - $1.1)) }
            columns.append(Column(name: c, pearson: pearson(pairs.map(\.0), pairs.map(\.1)), maxAbsDiff: diff))
        }
        let eUplift = try expected.doubles("uplift_hat"), aUplift = try actual.doubles("uplift_hat")
        let overlaps = tops.map { n -> Overlap in
            let te = top(n, ids: eIDs, scores: eUplift), ta = top(n, ids: aIDs, scores: aUplift)
            let k = min(n, eIDs.count)
            return Overlap(n: n, overlap: k == 0 ? 1 : Double(te.intersection(ta).count) / Double(k))
        }
        return Scores(
            expectedRows: eIDs.count, scoredRows: aIDs.count, rowsInCommon: common.count, sameRows: sameRows,
            columns: columns, overlaps: overlaps)
    }

    /// Compares the policy stage's decisions (the id column `idColumn` and one column per policy,
    /// the arm or "") with a scorer output (the same id column, `best_arm`, `contact`).
    public static func compareDecisions(policy: String, expected: Table, column: String, scored: Table, idColumn: String) throws -> Decisions {
        let eIDs = try expected.strings(idColumn).values, eArm = try expected.strings(column).values
        let sIDs = try scored.strings(idColumn).values, sArm = try scored.strings("best_arm").values
        let contact = try scored.ints("contact")
        var scoredArm: [String: String] = [:]
        for i in sIDs.indices { scoredArm[sIDs[i]] = contact[i] == 1 ? sArm[i] : "" }
        var agreeing = 0
        var first: String? = nil
        for i in eIDs.indices {
            guard let s = scoredArm[eIDs[i]] else {
                if first == nil { first = "\(idColumn) \(eIDs[i]) is not in the scorer's output" }
                continue
            }
            if s == eArm[i] {
                agreeing += 1
            } else if first == nil {
                func show(_ a: String) -> String { a.isEmpty ? "no contact" : "'\(a)'" }
                first = "\(idColumn) \(eIDs[i]): policy stage \(show(eArm[i])), scorer \(show(s))"
            }
        }
        if first == nil && sIDs.count != eIDs.count { first = "the scorer wrote \(sIDs.count) rows for \(eIDs.count)" }
        return Decisions(policy: policy, rows: eIDs.count, agreeing: agreeing, firstDifference: first)
    }

    /// The top `n` ids by score, ties by numeric id then id text (the pipeline's order).
    static func top(_ n: Int, ids: [String], scores: [Double]) -> Set<String> {
        let order = ids.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && (Int(ids[$0]) ?? 0, ids[$0]) < (Int(ids[$1]) ?? 0, ids[$1])) }
        return Set(order.prefix(n).map { ids[$0] })
    }

    /// Identical columns correlate exactly 1, also when constant (where Pearson is undefined).
    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        a.map(\.bitPattern) == b.map(\.bitPattern) ? 1 : Inference.pearson(a, b)
    }

    public static func json(_ s: Scores, decisions: [Decisions], commands: [[String]]) -> JSONValue {
        .object([
            "pass": .bool(s.pass && decisions.allSatisfy(\.pass)), "expected_rows": .number(Double(s.expectedRows)),
            "scored_rows": .number(Double(s.scoredRows)), "rows_in_common": .number(Double(s.rowsInCommon)), "same_rows": .bool(s.sameRows),
            "columns": .array(s.columns.map { .object(["column": .string($0.name), "pearson": .number($0.pearson), "max_abs_diff": .number($0.maxAbsDiff)]) }),
            "top_n_overlap": .array(s.overlaps.map { .object(["n": .number(Double($0.n)), "overlap": .number($0.overlap)]) }),
            "min_pearson": .number(s.minPearson), "max_abs_diff": .number(s.maxAbsDiff),
            "decisions": .array(
                decisions.map {
                    .object([
                        "policy": .string($0.policy), "rows": .number(Double($0.rows)), "agreeing": .number(Double($0.agreeing)),
                        "first_difference": $0.firstDifference.map { .string($0) } ?? .null, "pass": .bool($0.pass),
                    ])
                }),
            "scorer_commands": .array(commands.map { .array($0.map { .string($0) }) }),
        ])
    }

    public static func report(
        _ s: Scores, decisions: [Decisions], commands: [[String]], models: String, expected: String,
        scorerSummary: String
    ) -> String {
        let pass = s.pass && decisions.allSatisfy(\.pass)
        var md = Markdown()
        md.heading(1, "Parity: the shipped scorer against the pipeline")
        md.paragraph(
            """
            The scorer CLI loads the frozen model from `\(models)/` and scores the test split; its output is compared with the \
            scores the uplift stage computed in the training process (`\(expected)`), and its contact decisions with the policy \
            stage's, from the economics recorded in `\(models)/economics.json` (no economics flags). \
            **\(pass ? "PASS" : "FAIL")**: \(s.rowsInCommon) of \(s.expectedRows) rows in common (scorer wrote \(s.scoredRows)); the gate \
            needs the same rows, Pearson correlation ≥ 1 − \(correlationTolerance) and maximum absolute difference 0 for every score \
            column, top-N overlap 1, and the same contact and arm for every customer under each policy.
            """)
        md.table(
            ["column", "Pearson correlation", "max absolute difference"],
            s.columns.map { [$0.name, formatDouble($0.pearson), formatDouble($0.maxAbsDiff)] }, rightAligned: [false, true, true])
        md.table(["N", "top-N overlap (by uplift_hat)"], s.overlaps.map { [String($0.n), formatDouble($0.overlap)] }, rightAligned: [true, true])
        md.table(
            ["policy", "customers", "same decision", "first difference"],
            decisions.map { [$0.policy, String($0.rows), String($0.agreeing), $0.firstDifference ?? "none"] },
            rightAligned: [false, true, true, false])
        md.paragraph("Scorer commands: " + commands.map { "`\($0.joined(separator: " "))`" }.joined(separator: "; ") + ".")
        md.paragraph("Scorer summary: \(scorerSummary)")
        return md.text
    }
}
