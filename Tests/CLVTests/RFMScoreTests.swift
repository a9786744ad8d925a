import Foundation
import Tabular
import Testing

@testable import CLVAnalysis
@testable import Transactions

/// The segments of stages/clv/params.yaml.
let defaultSegments: [RFMRule] = [
    RFMRule(name: "champions", r: [4, 5], f: [4, 5]), RFMRule(name: "loyal", r: [3, 3], f: [4, 5]),
    RFMRule(name: "potential loyalists", r: [4, 5], f: [2, 3]), RFMRule(name: "new", r: [4, 5], f: [1, 1]),
    RFMRule(name: "at risk", r: [1, 2], f: [3, 5]), RFMRule(name: "need attention", r: [3, 3], f: [1, 3]),
    RFMRule(name: "hibernating", r: [2, 2], f: [1, 2]), RFMRule(name: "lost", r: [1, 1], f: [1, 2]),
]

@Suite("RFM scores")
struct RFMScoreTests {
    @Test("quintiles of the value distribution: ties share a score, the lowest value scores 1")
    func quintilesWithTies() {
        // Strictly smaller values: 0 → 0 of 10, 1 → 4, 2 → 6, 3 → 7, 4 → 8, 5 → 9; score 1 + ⌊5 · share⌋.
        #expect(CLVAnalysis.quintileScores([0, 0, 0, 0, 1, 1, 2, 3, 4, 5]) == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5])
        #expect(CLVAnalysis.quintileScores([3, 1, 0, 5, 0, 2, 0, 4, 1, 0]) == [4, 3, 1, 5, 1, 4, 1, 5, 3, 1])
        #expect(CLVAnalysis.quintileScores([7, 7, 7]) == [1, 1, 1])
        #expect(CLVAnalysis.quintileScores([1, 2, 3, 4, 5]) == [1, 2, 3, 4, 5])
    }

    /// Ten customers over days 0-100: pairs of identical ones, and recent one-time buyers.
    static func customers(reversed: Bool) -> RFMSummaries {
        var purchases: [(String, [Int])] = [
            ("a", [10]), ("b", [10]), ("c", [95]), ("d", [95]), ("e", [5, 50, 90]), ("f", [5, 50, 90]), ("g", [20, 99]),
            ("h", [30, 60]), ("i", [1, 40, 80, 98]), ("j", [2, 70]),
        ]
        if reversed { purchases.reverse() }
        var offsets = [0], days: [Int] = []
        for (_, d) in purchases {
            days += d
            offsets.append(days.count)
        }
        let log = CustomerDays(
            customerIDs: purchases.map(\.0), offsets: offsets, days: days, values: [Double](repeating: 10, count: days.count))
        return RFMSummaries.build(log, calibrationEnd: 100, observationEnd: 100, unitDays: 7)
    }

    @Test("identical customers get identical scores whatever their order; a recent one-time buyer is 'new'")
    func identicalCustomers() {
        var byCustomer: [[String: [Int]]] = []
        var segments: [[String: String]] = []
        for reversed in [false, true] {
            let s = Self.customers(reversed: reversed)
            let revenue = (0..<s.count).map { 10 * (s.frequency[$0] + 1) }
            let (r, f, m, segment) = CLVAnalysis.rfmScores(s, revenue: revenue, rules: defaultSegments)
            byCustomer.append(Dictionary(uniqueKeysWithValues: s.customerIDs.indices.map { (s.customerIDs[$0], [r[$0], f[$0], m[$0]]) }))
            segments.append(Dictionary(uniqueKeysWithValues: s.customerIDs.indices.map { (s.customerIDs[$0], segment[$0]) }))
        }
        #expect(byCustomer[0] == byCustomer[1])
        #expect(segments[0] == segments[1])
        let scores = byCustomer[0]
        for (x, y) in [("a", "b"), ("c", "d"), ("e", "f")] { #expect(scores[x] == scores[y], "\(x) and \(y) are identical") }
        // Days since the last purchase 90 90 5 5 10 10 1 40 2 30; repeats 0 0 0 0 2 2 1 1 3 1; equal spend.
        #expect(scores["a"] == [1, 1, 1] && scores["c"] == [4, 1, 1] && scores["e"] == [3, 4, 1] && scores["g"] == [5, 3, 1])
        #expect(scores["h"] == [2, 3, 1] && scores["i"] == [5, 5, 1] && scores["j"] == [2, 3, 1])
        #expect(segments[0]["c"] == "new" && segments[0]["d"] == "new")
        #expect(segments[0]["a"] == "lost" && segments[0]["e"] == "loyal" && segments[0]["i"] == "champions")
    }

    @Test("a segment that the segments before it cover entirely is a params error")
    func unreachableSegment() throws {
        func params(_ rules: [RFMRule]) -> CLVParams {
            CLVParams(
                retail: TransactionSpec(name: "shop", file: "orders.csv", format: .csv, customer: "c", date: "d", value: "v"), unitDays: 7,
                holdoutWeeks: 39, observationEnd: nil, horizonWeeks: 52, margin: 0.3, annualDiscountRate: 0.1, clvYears: 1, models: nil,
                productionModel: "auto", topCustomers: 20, calibrationGroups: 7, cdnow: nil, rfmSegments: rules)
        }
        try params(defaultSegments).validate(source: "params.yaml")
        var shadowed = defaultSegments
        shadowed.insert(RFMRule(name: "recent", r: [4, 5], f: [1, 5]), at: 0)
        #expect(throws: DataError.self) { try params(shadowed).validate(source: "params.yaml") }
        do {
            try params(shadowed).validate(source: "params.yaml")
        } catch let e as DataError {
            #expect(e.message == "rfm segment 'champions' can never be reached: the segments before it take all its score pairs")
        }
    }
}
