import Forest
import Foundation
import Tabular

/// Turns the campaign's feature columns into the numeric matrix the forests see: numeric
/// features as they are, categorical features one-hot with the categories seen in training.
/// A category unknown at scoring time encodes as all zeros and is counted, never dropped.
public struct FeatureEncoder: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case numeric, categorical }

    public struct Input: Codable, Sendable, Equatable {
        public var name: String
        public var kind: Kind
        /// Learned categories in byte order (categorical inputs only).
        public var categories: [String]?

        public init(name: String, kind: Kind, categories: [String]? = nil) {
            self.name = name
            self.kind = kind
            self.categories = categories
        }
    }

    public var inputs: [Input]

    public init(inputs: [Input]) { self.inputs = inputs }

    /// Learns the categories of each categorical input from `table` (the training rows).
    public init(fitting table: Table, features: [(name: String, categorical: Bool)]) throws {
        inputs = try features.map { f in
            if f.categorical {
                let column = try table.strings(f.name)
                let used = Set(column.codes.map { column.levels[Int($0)] })
                return Input(name: f.name, kind: .categorical, categories: used.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            }
            _ = try numbers(table, f.name)
            return Input(name: f.name, kind: .numeric)
        }
    }

    /// Names of the encoded columns in matrix order: `name` for numeric inputs,
    /// `name=category` for each category of a categorical input.
    public var featureNames: [String] {
        inputs.flatMap { input -> [String] in
            input.kind == .numeric ? [input.name] : (input.categories ?? []).map { "\(input.name)=\($0)" }
        }
    }

    public var featureCount: Int { featureNames.count }

    /// The input columns a file must have, with their CSV types.
    public var requiredColumns: [ColumnSpec] {
        inputs.map { ColumnSpec($0.name, $0.kind == .numeric ? .double : .string) }
    }

    /// Per categorical input, how many rows had a category not seen in training.
    public struct UnknownCounts: Sendable, Equatable {
        public var counts: [(input: String, rows: Int, categories: [String])]
        public var total: Int { counts.reduce(0) { $0 + $1.rows } }
        public static func == (a: UnknownCounts, b: UnknownCounts) -> Bool {
            a.counts.elementsEqual(b.counts) { $0.input == $1.input && $0.rows == $1.rows && $0.categories == $1.categories }
        }
    }

    public func encode(_ table: Table) throws -> (matrix: FeatureMatrix, unknown: UnknownCounts) {
        let n = table.rowCount
        var values = [Double](repeating: 0, count: n * featureCount)
        var column = 0
        var unknown: [(String, Int, [String])] = []
        for input in inputs {
            switch input.kind {
            case .numeric:
                let v = try numbers(table, input.name)
                for (row, x) in v.enumerated() {
                    guard x.isFinite else {
                        throw DataError(file: table.source, line: row + 2, columnName: input.name, message: "feature value must be a finite number")
                    }
                    values[column * n + row] = x
                }
                column += 1
            case .categorical:
                let categories = input.categories ?? []
                let position = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })
                let strings = try table.strings(input.name)
                let levelPosition = strings.levels.map { position[$0] ?? -1 }
                var missing = 0
                var missingLevels = Set<Int32>()
                for (row, code) in strings.codes.enumerated() {
                    let p = levelPosition[Int(code)]
                    if p < 0 {
                        missing += 1
                        missingLevels.insert(code)
                    } else {
                        values[(column + p) * n + row] = 1
                    }
                }
                if missing > 0 {
                    unknown.append((input.name, missing, missingLevels.map { strings.levels[Int($0)] }.sorted()))
                }
                column += categories.count
            }
        }
        return (FeatureMatrix(rowCount: n, columnCount: featureCount, values: values), UnknownCounts(counts: unknown))
    }
}

private func numbers(_ table: Table, _ name: String) throws -> [Double] {
    guard let v = try table.column(name).asDoubles else {
        throw DataError(file: table.source, columnName: name, message: "numeric feature column holds text")
    }
    return v
}
