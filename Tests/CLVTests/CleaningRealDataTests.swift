import CLV
import Foundation
import Tabular
import TestSupport
import Testing
import Transactions

@testable import CLVAnalysis

/// The order-log spec of project.yaml's 'orders'.
func onlineRetailSpec(_ file: String) -> TransactionSpec {
    TransactionSpec(
        name: "Online Retail II", file: file, format: .csv, customer: "Customer ID", date: "InvoiceDate", quantity: "Quantity",
        price: "Price", invoice: "Invoice", product: "StockCode",
        cleaning: .init(
            cancellationPrefix: "C", cancellations: .net, duplicateLines: .drop,
            nonMerchandiseCodes: [
                "POST", "DOT", "C2", "C3", "M", "m", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2", "B", "TEST001",
                "TEST002", "GIFT", "gift_0001_10", "gift_0001_20", "gift_0001_30", "gift_0001_40", "gift_0001_50", "gift_0001_60",
                "gift_0001_70", "gift_0001_80", "gift_0001_90",
            ]))
}

@Suite("Cleaning on the real logs (integration)")
struct CleaningRealDataTests {
    @Test("Online Retail II: cancellations net against their orders, duplicates drop; 16446's cancelled order is gone")
    func onlineRetailNetting() throws {
        let log = try TransactionLog.load(onlineRetailSpec(try realDataFile("online_retail_II.csv")))
        // Counts re-computed independently (Python, the same rules) while developing.
        #expect(log.steps.map(\.rows) == [34_337, 6_494, 435, 16_217, 2_887, 234_437, 0, 67, 2_645])
        #expect(log.steps.map(\.rowsReduced) == [0, 0, 8_899, 0, 0, 0, 0, 0, 0])
        #expect(log.steps.map(\.customers) == [0, 0, 0, 14, 74, 0, 0, 3, 12])
        let revenue = [432_268.72, 710_751.16, 130_052.01, -788_973.42, -673_077.19, 2_942_780.04, 0, 0, 195_711.75]
        for (step, expected) in zip(log.steps, revenue) { #expect(abs(step.revenue - expected) < 0.01, "\(step.rule): \(step.revenue)") }
        #expect(log.keptRows == 769_851 && log.customerDays.customerCount == 5_839)
        #expect(abs(log.keptRevenue - 16_337_719.50) < 0.01)
        #expect(log.keptRows + log.steps.map(\.rows).reduce(0, +) == log.rawRows)
        #expect(abs(log.keptRevenue + log.steps.map(\.revenue).reduce(0, +) - log.rawRevenue) < 1e-6 * abs(log.rawRevenue))
        let days = log.customerDays
        func revenueOf(_ id: String) -> Double {
            guard let c = days.customerIDs.firstIndex(of: id) else { return 0 }
            return days.range(c).reduce(0) { $0 + days.values[$1] }
        }
        // 16446: invoice 581483 (80,995 units, 168,469.60) was cancelled by C581484; 12346's 74,215 units likewise.
        #expect(abs(revenueOf("16446") - 2.90) < 1e-9)
        #expect(abs(revenueOf("12346") - 169.36) < 1e-9)
    }

    @Test("Online Retail II: every segment of the default rules holds customers, 'new' among them")
    func onlineRetailSegments() throws {
        let log = try TransactionLog.load(onlineRetailSpec(try realDataFile("online_retail_II.csv")))
        let end = log.customerDays.lastDay
        let full = RFMSummaries.build(log.customerDays, calibrationEnd: end, observationEnd: end, unitDays: 7)
        let revenue = (0..<full.count).map { full.firstValue[$0] + full.spendFrequency[$0] * (full.spendFrequency[$0] > 0 ? full.monetary[$0] : 0) }
        let (r, f, _, segment) = CLVAnalysis.rfmScores(full, revenue: revenue, rules: defaultSegments)
        for rule in defaultSegments {
            let n = segment.count { $0 == rule.name }
            print("segment \(rule.name): \(n)")
            #expect(n > 0, "\(rule.name) is empty")
        }
        // One-time buyers all score F = 1.
        #expect(Set(full.frequency.indices.filter { full.frequency[$0] == 0 }.map { f[$0] }) == [1])
        #expect(Set(r) == [1, 2, 3, 4, 5] && Set(f).isSuperset(of: [1, 5]))
    }

    @Test("CDNOW master: zero-value lines are purchase occasions; the spend model leaves them out")
    func cdnowZeroValueLines() throws {
        func summaries(dropZero: Bool) throws -> RFMSummaries {
            let spec = TransactionSpec(
                name: "CDNOW master", file: try realDataFile("CDNOW_master.txt"), format: .whitespace,
                columnNames: ["customer", "date", "cds", "value"], customer: "customer", date: "date", quantity: "cds", value: "value",
                cleaning: .init(dropNonPositiveQuantity: false, dropNonPositivePrice: dropZero))
            let log = try TransactionLog.load(spec)
            return RFMSummaries.build(
                log.customerDays, calibrationEnd: CalendarDay.parse("1997-09-30")!, observationEnd: CalendarDay.parse("1998-06-30")!, unitDays: 7)
        }
        let kept = try summaries(dropZero: false), dropped = try summaries(dropZero: true)
        #expect(kept.count == 23_570)
        #expect(dropped.count == 23_500)
        let free = kept.frequency.indices.filter { kept.spendFrequency[$0] < kept.frequency[$0] }
        #expect(!free.isEmpty)
        let spend = try CLVAnalysis.spendSummaries(kept)
        #expect(spend.frequency == kept.spendFrequency)
        let (gg, fit) = try GammaGamma.fit(spend)
        #expect(fit.converged && gg.p > 0)
        print("CDNOW master: \(kept.count) customers (\(dropped.count) without zero-value lines); \(free.count) with a zero-value repeat day")
    }
}
