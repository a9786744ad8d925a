import Foundation
import Stats
import TestSupport
import Testing

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
    /// The CDNOW 2,357-customer summary, found by `realDataFile` (which names every place it looked).
    static func cdnowPath() throws -> String { try realDataFile("cdnow_customers_summary.csv") }

    static func cdnow() throws -> CustomerSummaries {
        try CustomerSummaries.read(path: try cdnowPath())
    }
}
