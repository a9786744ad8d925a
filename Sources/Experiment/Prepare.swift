import Base
import Foundation
import Stats
import Tabular

public struct SplitParams: Codable, Sendable, Equatable {
    /// Share of each arm that goes to the test split.
    public var testFraction: Double
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case testFraction = "test_fraction"
        case seed
    }

    public init(testFraction: Double, seed: UInt64) {
        self.testFraction = testFraction
        self.seed = seed
    }
}

/// The prepare stage's parameters (stages/prepare/params.yaml): the split, and the data set spec
/// unless the project file gives it (its `campaign`).
public struct PrepareParams: Codable, Sendable, Equatable {
    public var dataset: DatasetSpec?
    public var split: SplitParams
}

public enum Prepare {
    /// Stratified split: within each arm, rows are shuffled with a generator derived from the
    /// seed and the arm's index, and round(n · fraction) of them go to test. Both index lists
    /// come back in ascending row order.
    public static func stratifiedSplit(strata: [Int], strataCount: Int, testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        precondition(testFraction >= 0 && testFraction <= 1)
        var members = [[Int]](repeating: [], count: strataCount)
        for (row, s) in strata.enumerated() { members[s].append(row) }
        var train: [Int] = [], test: [Int] = []
        for s in 0..<strataCount {
            var rows = members[s]
            var g = SeededGenerator.derived(seed: seed, index: UInt64(s))
            g.shuffle(&rows)
            let nTest = Int((Double(rows.count) * testFraction).rounded())
            test.append(contentsOf: rows[0..<nTest])
            train.append(contentsOf: rows[nTest...])
        }
        return (train.sorted(), test.sorted())
    }

    /// Reads the raw experiment file, checks it, and adds the binary treatment and, when the data
    /// set has no id of its own, the row number as `row_id`. The id comes first.
    public static func loadRaw(spec: DatasetSpec, path: String) throws -> (table: Table, arms: Arms) {
        if spec.idColumn == nil, try CSVReader.header(path: path).contains(DatasetSpec.rowNumberColumn) {
            // Prepare would put row numbers under the file's own column's name: say so instead.
            throw DataError(
                file: path, line: 1, columnName: DatasetSpec.rowNumberColumn,
                message:
                    "the file has a column '\(DatasetSpec.rowNumberColumn)' but the dataset spec names no id_column; name it there to use it as the id (prepare adds row numbers under that name only when the data set has no id)"
            )
        }
        let raw = try CSVReader.read(path: path, schema: spec.rawSchema)
        let arms = try Arms(column: try raw.strings(spec.armColumn), control: spec.controlArm, source: path, columnName: spec.armColumn)
        _ = try spec.designShares(arms: arms.names, source: path)  // the planned allocation names exactly the data's arms
        try validateOutcomes(raw, spec: spec, source: path)
        var out = Table(source: path)
        if let idColumn = spec.idColumn {
            try validateIDs(try raw.strings(idColumn), column: idColumn, source: path)
        } else {
            out.append(DatasetSpec.rowNumberColumn, .int(Array(0..<raw.rowCount)))
        }
        for (name, column) in zip(raw.names, raw.columns) { out.append(name, column) }
        out.append(spec.treatmentColumn, .int(arms.index.map { $0 == 0 ? 0 : 1 }))
        return (out, arms)
    }

    /// Ids name customers in contact lists, so each must be there and name one row. The message
    /// names the second occurrence's line and the first's.
    public static func validateIDs(_ ids: StringColumn, column: String, source: String) throws {
        // By text, not by code: a column need not have one level per distinct value.
        var firstRow: [String: Int] = [:]
        firstRow.reserveCapacity(ids.levels.count)
        for row in 0..<ids.count {
            let id = ids[row]
            // Data lines start at line 2 (after the header).
            if id.isEmpty { throw DataError(file: source, line: row + 2, columnName: column, message: "empty id") }
            if let first = firstRow.updateValue(row, forKey: id) {
                throw DataError(
                    file: source, line: row + 2, columnName: column, message: "duplicate id \(DataError.quoted(id)), first on line \(first + 2)")
            }
        }
    }

    /// Train and test together in id order: numeric when every id is an integer (for row numbers,
    /// the raw file's order), else by the ids' UTF-8 bytes. Ids are unique, so the order does not
    /// depend on the files' row order.
    public static func rejoined(train: Table, test: Table, idColumn: String) throws -> Table {
        let all = try train.concatenated(with: test)
        return all.gather(idOrder(try all.strings(idColumn)))
    }

    /// Row indices sorted by id (see `rejoined`); equal ids, which prepare does not let through, by row.
    public static func idOrder(_ ids: StringColumn) -> [Int] {
        let text = ids.levels.map { Array($0.utf8) }
        let number = ids.levels.map { Int($0) }
        // Integer ids by value ("7" before "07" by text when both occur); any other id makes the order textual.
        let numeric = number.allSatisfy { $0 != nil }
        return ids.codes.indices.sorted { a, b in
            let ca = Int(ids.codes[a]), cb = Int(ids.codes[b])
            if numeric, number[ca]! != number[cb]! { return number[ca]! < number[cb]! }
            if text[ca] != text[cb] { return text[ca].lexicographicallyPrecedes(text[cb]) }
            return a < b
        }
    }

    /// The spec as `dataset.json` records it for the later stages: as given, with `id_column`
    /// naming the id column of the prepared files (`row_id` when prepare added it).
    public static func resolvedSpec(_ given: JSONValue, spec: DatasetSpec) -> JSONValue {
        guard case .object(var fields) = given else { return given }
        fields["id_column"] = .string(spec.preparedIdColumn)
        return .object(fields)
    }

    /// Binary outcomes must be 0 or 1; continuous outcomes must be finite.
    public static func validateOutcomes(_ table: Table, spec: DatasetSpec, source: String) throws {
        for o in spec.outcomes {
            let values = try table.doubles(o.name)
            for (row, v) in values.enumerated() {
                let bad = o.type == .binary ? (v != 0 && v != 1) : !v.isFinite
                if bad {
                    // Data lines start at line 2 (after the header).
                    throw DataError(
                        file: source, line: row + 2, columnName: o.name,
                        message: o.type == .binary
                            ? "binary outcome must be 0 or 1, found \(formatDouble(v))"
                            : "outcome must be a finite number")
                }
            }
        }
    }
}
