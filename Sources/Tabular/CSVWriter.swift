import Foundation

/// Builds RFC 4180 CSV text in memory (LF line ends; fields quoted only when needed).
public struct CSVWriter {
    public private(set) var bytes: [UInt8] = []

    public init(header: [String]) {
        writeRow(header)
    }

    public init() {}

    public mutating func writeRow(_ fields: [String]) {
        for (i, f) in fields.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            appendField(f)
        }
        bytes.append(0x0A)
    }

    public mutating func appendField(_ field: String) {
        CSVWriter.appendField(field, to: &bytes)
    }

    /// Appends one field to `bytes`, quoted only when it contains a comma, quote or line break.
    public static func appendField(_ field: String, to bytes: inout [UInt8]) {
        var needsQuotes = false
        for b in field.utf8 where b == 0x2C || b == 0x22 || b == 0x0A || b == 0x0D {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            bytes.append(contentsOf: field.utf8)
            return
        }
        bytes.append(0x22)
        for b in field.utf8 {
            if b == 0x22 { bytes.append(0x22) }
            bytes.append(b)
        }
        bytes.append(0x22)
    }

    /// Writes a whole table, row by row.
    public static func encode(_ table: Table) -> [UInt8] {
        var w = CSVWriter(header: table.names)
        var row = [String](repeating: "", count: table.names.count)
        for r in 0..<table.rowCount {
            for (c, column) in table.columns.enumerated() {
                switch column {
                case .int(let v): row[c] = String(v[r])
                case .double(let v): row[c] = formatDouble(v[r])
                case .string(let v): row[c] = v[r]
                }
            }
            w.writeRow(row)
        }
        return w.bytes
    }

    public func write(to path: String) throws {
        try AtomicFile.write(bytes, to: path)
    }
}

/// Writes files so that a reader never sees a partial one: the bytes go to a temporary file in
/// the same directory, which is then renamed over the target (rename is atomic within a file system).
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let ok = FileManager.default.createFile(atPath: tmp, contents: Data(bytes))
        guard ok else {
            // A failed write (a full disk) may leave part of the temporary file behind.
            unlink(tmp)
            throw DataError(file: path, message: "cannot write temporary file \(tmp)")
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError(file: path, message: "cannot move the finished file into place: \(reason)")
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Writes only when the content differs, so an unchanged output keeps its modification time
    /// and `make` does not re-run what depends on it.
    @discardableResult
    public static func writeIfChanged(_ bytes: [UInt8], to path: String) throws -> Bool {
        // Compared as memory (comparing a `Data` element by element goes byte by byte through its iterator).
        if let existing = FileManager.default.contents(atPath: path), existing.count == bytes.count,
            existing.withUnsafeBytes({ old in bytes.withUnsafeBytes { new in old.count == 0 || memcmp(old.baseAddress!, new.baseAddress!, old.count) == 0 } })
        {
            return false
        }
        try write(bytes, to: path)
        return true
    }

    /// Copies a file atomically (used to place large raw files).
    public static func copy(from source: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        do {
            try FileManager.default.copyItem(atPath: source, toPath: tmp)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw DataError(file: source, message: "cannot copy to \(path): \(error.localizedDescription)")
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError(file: path, message: "cannot move the copied file into place: \(reason)")
        }
    }
}
