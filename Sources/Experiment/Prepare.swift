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

    /// Reads the raw experiment file, checks it, and adds the row id and the binary treatment.
    public static func loadRaw(spec: DatasetSpec, path: String) throws -> (table: Table, arms: Arms) {
        let raw = try CSVReader.read(path: path, schema: spec.rawSchema)
        let arms = try Arms(column: try raw.strings(spec.armColumn), control: spec.controlArm, source: path, columnName: spec.armColumn)
        _ = try spec.designShares(arms: arms.names, source: path)  // the planned allocation names exactly the data's arms
        try validateOutcomes(raw, spec: spec, source: path)
        var out = Table(source: path)
        out.append(spec.idColumn, .int(Array(0..<raw.rowCount)))
        for (name, column) in zip(raw.names, raw.columns) { out.append(name, column) }
        out.append(spec.treatmentColumn, .int(arms.index.map { $0 == 0 ? 0 : 1 }))
        return (out, arms)
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
