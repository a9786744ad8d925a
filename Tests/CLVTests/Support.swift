import Foundation
import Testing
import Stats
@testable import CLV

/// |a - b| <= tol * max(1, |b|)
func close(_ a: Double, _ b: Double, _ tol: Double) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }
func relClose(_ a: Double, _ b: Double, _ tol: Double) -> Bool { abs(a - b) <= tol * abs(b) }

/// Rounds to `decimals` decimals (for comparing with published numbers).
func rounded(_ v: Double, _ decimals: Int) -> Double {
    let f = pow(10.0, Double(decimals))
    return (v * f).rounded() / f
}

enum TestData {
    static var packageRoot: URL {
        // <root>/Tests/CLVTests/Support.swift
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The CDNOW 2,357-customer summary: $DATA_MIRROR, else <root>/../shared/data, else <root>/data/raw.
    /// Returns nil (and the caller fails the test) when none exists.
    static func cdnowPath() -> (path: String?, tried: [String]) {
        var dirs: [String] = []
        if let m = ProcessInfo.processInfo.environment["DATA_MIRROR"], !m.isEmpty { dirs.append(m) }
        dirs.append(packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").path)
        dirs.append(packageRoot.appendingPathComponent("data/raw").path)
        let tried = dirs.map { ($0 as NSString).appendingPathComponent("cdnow_customers_summary.csv") }
        return (tried.first { FileManager.default.fileExists(atPath: $0) }, tried)
    }

    static func cdnow() throws -> CustomerSummaries {
        let (path, tried) = cdnowPath()
        guard let path else {
            Issue.record("cdnow_customers_summary.csv not found; looked at: \(tried.joined(separator: ", ")). Set DATA_MIRROR to the data mirror directory.")
            throw CLVError.invalidInput("CDNOW data missing")
        }
        return try CustomerSummaries.read(path: path)
    }
}
