import Base
import Foundation
import Provenance
import Reporting
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
        /// How reports call the outcome ("Revenue"); the column name when absent.
        public var label: String?
        public init(name: String, type: OutcomeKind, label: String? = nil) {
            self.name = name
            self.type = type
            self.label = label
        }

        public var displayLabel: String { label ?? name }
    }

    /// The design's assignment probabilities: each arm's planned share of the customers. Checked
    /// while decoding (so a params or project file error carries its line): every share in (0, 1],
    /// summing to 1. Whether the arms are the data's is checked against the data (`designShares`).
    public struct Allocation: Codable, Sendable, Equatable {
        public private(set) var shares: [String: Double]

        public init(_ shares: [String: Double]) throws {
            if let problem = Self.problem(shares) { throw PipelineError("allocation: \(problem)") }
            self.shares = shares
        }

        public init(from decoder: Decoder) throws {
            let shares = try decoder.singleValueContainer().decode([String: Double].self)
            if let problem = Self.problem(shares) {
                throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: problem))
            }
            self.shares = shares
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(shares)
        }

        static func problem(_ shares: [String: Double]) -> String? {
            if shares.isEmpty { return "lists no arms (leave 'allocation' out for equal shares)" }
            for arm in shares.keys.sorted() where !(shares[arm]!.isFinite && shares[arm]! > 0 && shares[arm]! <= 1) {
                return "the share of '\(arm)' must lie in (0, 1], got \(formatDouble(shares[arm]!))"
            }
            // Shares are written with a few decimals; a sum off by more than rounding is a mistake, not noise.
            let sum = shares.keys.sorted().reduce(0.0) { $0 + shares[$1]! }
            if abs(sum - 1) > 1e-9 * Double(shares.count) {
                // 12 significant digits: 0.4 + 0.3 + 0.2 reads "0.9", as the user wrote it, not 0.8999999999999999.
                return "the shares sum to \(String(format: "%.12g", sum)), not 1 (leave 'allocation' out for equal shares)"
            }
            return nil
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
    /// The design's share of each arm; absent means equal shares.
    public var allocation: Allocation?
    /// What a treated customer receives, as the reports call it ("e-mail", "offer"); default "treatment".
    public var treatmentNoun: String?
    /// Its plural; default the noun + "s".
    public var treatmentNounPlural: String?

    enum CodingKeys: String, CodingKey {
        case name, file, outcomes, features, allocation
        case armColumn = "arm_column"
        case controlArm = "control_arm"
        case treatmentColumn = "treatment_column"
        case idColumn = "id_column"
        case treatmentNoun = "treatment_noun"
        case treatmentNounPlural = "treatment_noun_plural"
    }

    public init(
        name: String, file: String, armColumn: String, controlArm: String, treatmentColumn: String = "treatment",
        idColumn: String? = nil, outcomes: [Outcome], features: [Feature],
        allocation: Allocation? = nil, treatmentNoun: String? = nil, treatmentNounPlural: String? = nil
    ) {
        self.name = name
        self.file = file
        self.armColumn = armColumn
        self.controlArm = controlArm
        self.treatmentColumn = treatmentColumn
        self.idColumn = idColumn
        self.outcomes = outcomes
        self.features = features
        self.allocation = allocation
        self.treatmentNoun = treatmentNoun
        self.treatmentNounPlural = treatmentNounPlural
    }

    /// The campaign's words for reports: the treatment noun and the outcome labels.
    public var words: CampaignWords {
        CampaignWords(
            noun: treatmentNoun ?? "treatment", nounPlural: treatmentNounPlural,
            outcomeLabels: Dictionary(outcomes.map { ($0.name, $0.displayLabel) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Each arm's planned share, in the order of `arms`: the allocation's shares, or equal shares
    /// without one. The allocation must list exactly the arms found in the data (`source`).
    public func designShares(arms: [String], source: String) throws -> [Double] {
        guard let allocation else { return arms.map { _ in 1 / Double(arms.count) } }
        if let missing = arms.first(where: { allocation.shares[$0] == nil }) {
            throw DataError(
                file: source, columnName: armColumn,
                message: "arm '\(missing)' is not in the campaign's allocation (which lists \(allocation.shares.keys.sorted().joined(separator: ", ")))")
        }
        if let extra = allocation.shares.keys.sorted().first(where: { !arms.contains($0) }) {
            throw DataError(
                file: source, columnName: armColumn,
                message: "the campaign's allocation lists arm '\(extra)', which does not occur (arms found: \(arms.joined(separator: ", ")))")
        }
        let total = arms.reduce(0.0) { $0 + allocation.shares[$1]! }
        return arms.map { allocation.shares[$0]! / total }
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
        for (key, word) in [("treatment_noun", treatmentNoun), ("treatment_noun_plural", treatmentNounPlural)]
            + outcomes.map({ ("label of '\($0.name)'", $0.label) })
        where word.map({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) ?? false {
            throw DataError(file: source, message: "dataset spec has an empty \(key)")
        }
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
