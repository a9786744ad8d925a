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

/// An executable of this package from the same build as the running tests (SwiftPM builds every
/// product before it runs them), so a test never runs a stale binary of another configuration.
public func builtProduct(_ name: String) throws -> String {
    let dir = (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw DataError(file: name, message: "no executable '\(name)' beside the test bundle in \(dir.path); build the package first")
}
