import Base
import Economics
import Foundation
import Scoring
import Tabular

#if canImport(Glibc)
    import Glibc
#endif

/// The settings of one /score request: query parameters, or form fields of a multipart upload.
/// Names follow the CLI's flags; what is not given comes from the economics recorded with the model.
struct ScoreSettings {
    var margin: Double?
    var cost: Double?
    var armCosts: [String: Double] = [:]
    var policy: ContactPolicy?
    var topN: Int?

    static let names = ["margin", "cost", "policy", "topn"]

    /// `cost` is either one number (every arm) or NAME=COST (one arm; repeatable), as --cost and --arm-cost.
    mutating func set(_ name: String, _ raw: String) throws {
        let value = raw.trimmingCharacters(in: .whitespaces)
        switch name {
        case "margin":
            guard let v = Double(value) else { throw ServiceError.badInput("margin '\(raw)' is not a number") }
            margin = v
        case "cost":
            if let v = Double(value) {
                cost = v
            } else if let eq = value.lastIndex(of: "="), let v = Double(value[value.index(after: eq)...]), !value[..<eq].isEmpty {
                let arm = String(value[..<eq])
                guard armCosts[arm] == nil else { throw ServiceError.badInput("cost gives '\(arm)' twice") }
                armCosts[arm] = v
            } else {
                throw ServiceError.badInput("cost '\(raw)' is neither a number nor NAME=COST")
            }
        case "policy":
            guard let p = ContactPolicy(rawValue: value) else {
                throw ServiceError.badInput("policy '\(raw)' is not one of \(ContactPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            policy = p
        case "topn":
            guard let n = Int(value) else { throw ServiceError.badInput("topn '\(raw)' is not a whole number") }
            topN = n
        default:
            throw ServiceError.badInput("unknown parameter '\(name)' (valid: \(Self.names.joined(separator: ", ")), and the form field 'file')")
        }
    }

    var override: EconomicsOverride { EconomicsOverride(margin: margin, cost: cost, armCosts: armCosts, policy: policy) }
}

/// An error with the HTTP status it answers with and a JSON body.
struct ServiceError: Error {
    var status: Int
    var body: JSONValue
    var allow: String? = nil

    static func badInput(_ message: String) -> ServiceError {
        ServiceError(status: 400, body: .object(["error": .object(["message": .string(message)])]))
    }

    static func plain(_ status: Int, _ message: String, allow: String? = nil) -> ServiceError {
        ServiceError(status: status, body: .object(["error": .object(["message": .string(message)])]), allow: allow)
    }

    /// A data error as the CLI words it, with the uploaded file's name in place of the temporary path.
    static func data(_ e: DataError, temporaryPath: String, name: String) -> ServiceError {
        var e = e
        if e.file == temporaryPath { e.file = name }
        var error: [String: JSONValue] = ["file": .string(e.file), "message": .string(e.message), "text": .string(e.description)]
        if let line = e.line { error["line"] = .number(Double(line)) }
        if let column = e.column { error["column"] = .number(Double(column)) }
        if let columnName = e.columnName { error["column_name"] = .string(columnName) }
        return ServiceError(status: 400, body: .object(["error": .object(error)]))
    }
}

/// One request's temporary folder: the upload, the scored file and the drift report. It is removed
/// when the last reference goes (after the response body is written, or when the request fails).
final class RequestFolder: @unchecked Sendable {
    let path: String

    init(root: String) throws {
        path = root + "/serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Appends bytes to a file through a descriptor (no Foundation buffering, no copy kept).
final class UploadFile {
    let path: String
    private var fd: Int32
    private(set) var bytes = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServiceError.plain(500, "cannot create the upload file: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func write(_ chunk: ArraySlice<UInt8>) throws {
        try chunk.withUnsafeBytes { try write($0) }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        bytes += buffer.count
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ServiceError.plain(500, "cannot write the upload file: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func close() throws {
        guard fd >= 0 else { return }
        let status = Glibc.close(fd)
        fd = -1
        guard status == 0 else { throw ServiceError.plain(500, "cannot write the upload file: \(String(cString: strerror(errno)))") }
    }
}
