import Base
import Foundation
import Provenance
import Tabular

/// Describes a randomized campaign data set: which file, which column holds the arm and which
/// arm is the control, the outcomes and the features. Hillstrom is one instance; another
/// campaign needs another spec, not new code.
public struct DatasetSpec: Codable, Sendable, Equatable {
    public enum OutcomeKind: String, Codable, Sendable { case binary, continuous }
    public enum FeatureKind: String, Codable, Sendable { case numeric, categorical }

    public struct Outcome: Codable, Sendable, Equatable {
        public var name: String
        public var type: OutcomeKind
        public init(name: String, type: OutcomeKind) {
            self.name = name
            self.type = type
        }
    }

    public struct Feature: Codable, Sendable, Equatable {
        public var name: String
        public var type: FeatureKind
        public init(name: String, type: FeatureKind) {
            self.name = name
            self.type = type
        }
    }

    public var name: String
    public var file: String
    /// Column of the raw file holding the experiment arm.
    public var armColumn: String
    /// The arm that received nothing.
    public var controlArm: String
    /// Name of the binary column (1 = any treatment) that prepare adds.
    public var treatmentColumn: String
    /// The campaign file's column of customer ids (text: string and integer ids both work; each
    /// value non-empty and unique), carried through prepare, the test scores, the contact lists,
    /// parity and the scorer under its own name. Nil when the data set has no id: prepare then
    /// adds `row_id`, the 0-based row number in the raw file.
    public var idColumn: String?
    public var outcomes: [Outcome]
    public var features: [Feature]

    enum CodingKeys: String, CodingKey {
        case name, file, outcomes, features
        case armColumn = "arm_column"
        case controlArm = "control_arm"
        case treatmentColumn = "treatment_column"
        case idColumn = "id_column"
    }

    public init(
        name: String, file: String, armColumn: String, controlArm: String, treatmentColumn: String = "treatment",
        idColumn: String? = nil, outcomes: [Outcome], features: [Feature]
    ) {
        self.name = name
        self.file = file
        self.armColumn = armColumn
        self.controlArm = controlArm
        self.treatmentColumn = treatmentColumn
        self.idColumn = idColumn
        self.outcomes = outcomes
        self.features = features
    }

    /// The column prepare adds when the data set has no id of its own.
    public static let rowNumberColumn = "row_id"

    /// The id column of prepare's train and test files: the campaign's own, else `row_id`.
    public var preparedIdColumn: String { idColumn ?? Self.rowNumberColumn }

    /// The schema of the raw file: the id column when there is one, features, arm and outcomes.
    public var rawSchema: CSVSchema {
        var cols: [ColumnSpec] = []
        // Ids are read as text, so "007" stays "007" and string keys work like integer ones.
        if let idColumn { cols.append(ColumnSpec(idColumn, .string)) }
        for f in features {
            cols.append(ColumnSpec(f.name, f.type == .numeric ? .double : .string))
        }
        cols.append(ColumnSpec(armColumn, .string))
        for o in outcomes {
            cols.append(ColumnSpec(o.name, .double))
        }
        return CSVSchema(cols)
    }

    /// The schema of prepare's train/test files: the id first (as text), the raw columns, the treatment.
    public var preparedSchema: CSVSchema {
        var s = rawSchema
        if idColumn == nil { s.columns.insert(ColumnSpec(preparedIdColumn, .string), at: 0) }
        s.columns.append(ColumnSpec(treatmentColumn, .int))
        return s
    }

    /// The spec the prepare stage resolved, from `<prepared>/dataset.json`, and that file's path.
    public static func load(prepared: String) throws -> (spec: DatasetSpec, path: String) {
        let path = prepared + "/dataset.json"
        let dataset = try JSONValue.parse(file: path)
        guard let specValue = dataset["spec"] else { throw PipelineError("\(path): no 'spec' entry") }
        return (try JSONDecoder().decode(DatasetSpec.self, from: Data(specValue.rendered().utf8)), path)
    }

    /// Checks the spec is internally consistent (names unique, something to analyse).
    public func validate(source: String) throws {
        var seen = Set<String>()
        if idColumn?.isEmpty == true {
            throw DataError(file: source, message: "dataset spec has an empty id_column (leave it out when the data set has no id)")
        }
        for n in features.map(\.name) + outcomes.map(\.name) + [armColumn, treatmentColumn, preparedIdColumn] {
            if !seen.insert(n).inserted {
                throw DataError(file: source, message: "dataset spec names column '\(n)' more than once")
            }
        }
        if outcomes.isEmpty { throw DataError(file: source, message: "dataset spec lists no outcomes") }
        if controlArm.isEmpty { throw DataError(file: source, message: "dataset spec has an empty control_arm") }
    }
}

/// The arms of an experiment in a fixed order: control first, then the others sorted by name.
public struct Arms: Sendable, Equatable {
    public var names: [String]
    /// Arm index (into `names`) per row.
    public var index: [Int]

    public init(column: StringColumn, control: String, source: String, columnName: String) throws {
        guard column.levels.contains(control) else {
            throw DataError(
                file: source, columnName: columnName,
                message: "control arm '\(control)' does not occur; arms found: \(column.levels.sorted().joined(separator: ", "))")
        }
        names = [control] + column.levels.filter { $0 != control }.sorted()
        let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let levelToArm = column.levels.map { position[$0]! }
        index = column.codes.map { levelToArm[Int($0)] }
    }

    public var count: Int { names.count }
    public var treatedArms: Range<Int> { 1..<names.count }
}
