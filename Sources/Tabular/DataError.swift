/// An error about input data that a user can act on: it names the file and, where known,
/// the 1-based line and column (with the column's header name).
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var columnName: String?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, columnName: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.columnName = columnName
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        if let columnName { location += " (column '\(columnName)')" }
        return "\(location): \(message)"
    }
}

/// Exit codes shared by every pipeline command: 0 success, 1 failure, 2 bad input or usage.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let badInput: Int32 = 2
}

/// An error that says whose it is: the user's input (a file, a flag, a parameter: exit 2) or the
/// program's or the machine's (exit 1). Every error type of the pipeline conforms, so a command
/// maps any error to its exit code without knowing the modules it came from.
public protocol ClassifiedError: Error, CustomStringConvertible {
    var isBadInput: Bool { get }
}

extension DataError: ClassifiedError {
    public var isBadInput: Bool { true }
}
