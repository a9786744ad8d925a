/// The type a CSV column is parsed into.
public enum ColumnKind: String, Sendable, Codable, Equatable {
    /// 64-bit signed integer; empty fields are an error.
    case int
    /// Double; empty fields are an error unless the column is nullable (then NaN).
    case double
    /// Text, dictionary-encoded (codes into a list of distinct levels in first-seen order).
    case string
}

public struct ColumnSpec: Sendable, Equatable {
    public var name: String
    public var kind: ColumnKind
    public var nullable: Bool

    public init(_ name: String, _ kind: ColumnKind, nullable: Bool = false) {
        self.name = name
        self.kind = kind
        self.nullable = nullable
    }
}

/// The columns a reader requires. Columns of the file not named here are skipped.
public struct CSVSchema: Sendable, Equatable {
    public var columns: [ColumnSpec]
    public init(_ columns: [ColumnSpec]) { self.columns = columns }
}

/// A dictionary-encoded text column: `levels[codes[i]]` is row i's value.
public struct StringColumn: Sendable, Equatable {
    public var codes: [Int32]
    public var levels: [String]

    public init(codes: [Int32], levels: [String]) {
        self.codes = codes
        self.levels = levels
    }

    public init(_ values: [String]) {
        var index: [String: Int32] = [:]
        var levels: [String] = []
        var codes: [Int32] = []
        codes.reserveCapacity(values.count)
        for v in values {
            if let c = index[v] {
                codes.append(c)
            } else {
                let c = Int32(levels.count)
                index[v] = c
                levels.append(v)
                codes.append(c)
            }
        }
        self.codes = codes
        self.levels = levels
    }

    public var count: Int { codes.count }
    public subscript(i: Int) -> String { levels[Int(codes[i])] }
    public var values: [String] { codes.map { levels[Int($0)] } }

    /// Rows selected by `rows`, keeping the level list (codes stay comparable).
    public func gather(_ rows: [Int]) -> StringColumn {
        StringColumn(codes: rows.map { codes[$0] }, levels: levels)
    }
}

public enum ColumnData: Sendable, Equatable {
    case int([Int])
    case double([Double])
    case string(StringColumn)

    public var count: Int {
        switch self {
        case .int(let v): return v.count
        case .double(let v): return v.count
        case .string(let v): return v.count
        }
    }

    public var kind: ColumnKind {
        switch self {
        case .int: return .int
        case .double: return .double
        case .string: return .string
        }
    }

    public func gather(_ rows: [Int]) -> ColumnData {
        switch self {
        case .int(let v): return .int(rows.map { v[$0] })
        case .double(let v): return .double(rows.map { v[$0] })
        case .string(let v): return .string(v.gather(rows))
        }
    }

    /// Numeric view: ints widened to Double; text columns are not numeric.
    public var asDoubles: [Double]? {
        switch self {
        case .int(let v): return v.map(Double.init)
        case .double(let v): return v
        case .string: return nil
        }
    }
}

/// Column-oriented table with named, typed columns of equal length.
public struct Table: Sendable, Equatable {
    public private(set) var names: [String]
    public private(set) var columns: [ColumnData]
    public private(set) var rowCount: Int
    /// Where the table came from, for error messages.
    public var source: String

    public init(source: String = "<memory>") {
        names = []
        columns = []
        rowCount = 0
        self.source = source
    }

    public init(source: String = "<memory>", names: [String], columns: [ColumnData]) {
        precondition(names.count == columns.count)
        precondition(Set(names).count == names.count, "duplicate column names")
        self.names = names
        self.columns = columns
        self.rowCount = columns.first?.count ?? 0
        self.source = source
        precondition(columns.allSatisfy { $0.count == rowCount }, "columns of unequal length")
    }

    public mutating func append(_ name: String, _ data: ColumnData) {
        precondition(!names.contains(name), "duplicate column \(name)")
        if columns.isEmpty { rowCount = data.count }
        precondition(data.count == rowCount, "column \(name) has \(data.count) rows, table has \(rowCount)")
        names.append(name)
        columns.append(data)
    }

    public func index(of name: String) -> Int? { names.firstIndex(of: name) }

    public func column(_ name: String) throws -> ColumnData {
        guard let i = index(of: name) else {
            throw DataError(file: source, columnName: name, message: "missing column '\(name)'")
        }
        return columns[i]
    }

    public func ints(_ name: String) throws -> [Int] {
        switch try column(name) {
        case .int(let v): return v
        default: throw DataError(file: source, columnName: name, message: "column '\(name)' is not an integer column")
        }
    }

    public func doubles(_ name: String) throws -> [Double] {
        guard let v = try column(name).asDoubles else {
            throw DataError(file: source, columnName: name, message: "column '\(name)' is not numeric")
        }
        return v
    }

    public func strings(_ name: String) throws -> StringColumn {
        switch try column(name) {
        case .string(let v): return v
        case .int(let v): return StringColumn(v.map(String.init))
        case .double(let v): return StringColumn(v.map { formatDouble($0) })
        }
    }

    /// The rows given, in that order.
    public func gather(_ rows: [Int]) -> Table {
        Table(source: source, names: names, columns: columns.map { $0.gather(rows) })
    }
}

extension Table {
    /// This table's rows followed by `other`'s (same column names and kinds required).
    public func concatenated(with other: Table) throws -> Table {
        guard names == other.names else {
            throw DataError(
                file: other.source,
                message: "cannot append: columns differ from \(source) (\(names.joined(separator: ",")) vs \(other.names.joined(separator: ",")))")
        }
        var columns: [ColumnData] = []
        for (name, (a, b)) in zip(names, zip(self.columns, other.columns)) {
            switch (a, b) {
            case (.int(let x), .int(let y)): columns.append(.int(x + y))
            case (.double(let x), .double(let y)): columns.append(.double(x + y))
            case (.string(let x), .string(let y)): columns.append(.string(StringColumn(x.values + y.values)))
            default:
                throw DataError(file: other.source, columnName: name, message: "cannot append: column '\(name)' has a different type in \(source)")
            }
        }
        return Table(source: source + " + " + other.source, names: names, columns: columns)
    }

    /// Rows ordered by an integer column (stable).
    public func sorted(byInt name: String) throws -> Table {
        let keys = try ints(name)
        let order = keys.indices.sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
        return gather(order)
    }
}
