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

    /// A value quoted for a message, cut short when long (a 5 MB field is not echoed whole).
    public static func quoted(_ value: String, limit: Int = 60) -> String {
        guard value.utf8.count > limit else { return "'\(value)'" }
        return "'\(value.prefix(limit))…' (\(value.utf8.count) bytes)"
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

extension ExitStatus {
    /// The reader of standard output went away (`score … --out - | head`): the run stops quietly
    /// with the status a shell reports for a process ended by SIGPIPE, so pipelines behave as with
    /// any Unix tool, but temporary files are removed first.
    public static let outputClosed: Int32 = 141
}

/// Standard output was closed by its reader.
public struct OutputClosed: Error, Sendable {
    public init() {}
}
