import Foundation
import Tabular

/// The package root (this file is <root>/Tests/TestSupport/RealData.swift).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A real data file for integration tests: from $DATA_MIRROR (relative paths are taken from the
/// package root), else <root>/../shared/data, else <root>/data/raw (filled by `make data`).
/// Throws, naming every place it looked, when none has it: integration tests fail, never skip.
public func realDataFile(_ name: String) throws -> String {
    var candidates: [String] = []
    if let m = ProcessInfo.processInfo.environment["DATA_MIRROR"], !m.isEmpty {
        candidates.append(m.hasPrefix("/") ? m : packageRoot + "/" + m)
    }
    candidates += [packageRoot + "/../shared/data", packageRoot + "/data/raw"]
    for dir in candidates where FileManager.default.fileExists(atPath: dir + "/" + name) {
        return dir + "/" + name
    }
    throw DataError(file: name, message: "real data not found in \(candidates); set DATA_MIRROR or run `make data`")
}
