import Foundation
import Tabular
import Testing
import Transactions

@testable import Synthetic

@Suite("Synthetic example data")
struct SyntheticTests {
    static let campaign = SyntheticCampaign.Spec(
        customers: 1000, arms: [.init(name: "control", share: 0.5), .init(name: "discount", share: 0.25), .init(name: "free_shipping", share: 0.25)])
    static let orders = SyntheticOrderLog.Spec(
        customers: 200, start: "2024-01-01", weeks: 52, acquisitionWeeks: 13, bgnbd: .init(r: 0.8, alpha: 6, a: 0.9, b: 3.5),
        gammaGamma: .init(p: 4, q: 3.5, gamma: 60), guestOrderShare: 0.05, returnShare: 0.04, shippingFee: 4.95)

    static func rows(_ bytes: [UInt8], separator: Character) -> [[String]] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: separator, omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let a = try SyntheticCampaign.generate(Self.campaign, seed: 7), b = try SyntheticCampaign.generate(Self.campaign, seed: 7)
        #expect(a.campaign == b.campaign && a.truth == b.truth)
        #expect(try SyntheticCampaign.generate(Self.campaign, seed: 8).campaign != a.campaign)
        #expect(try SyntheticOrderLog.generate(Self.orders, seed: 7) == SyntheticOrderLog.generate(Self.orders, seed: 7))
    }

    @Test func campaignHasTheDesignedSharesUniqueKeysAndATruthRowPerCustomer() throws {
        let (campaign, truth) = try SyntheticCampaign.generate(Self.campaign, seed: 11)
        let rows = Self.rows(campaign, separator: ","), truthRows = Self.rows(truth, separator: ",")
        #expect(rows[0] == SyntheticCampaign.header)
        let arm = rows[0].firstIndex(of: "offer_group")!
        let counts = Dictionary(grouping: rows.dropFirst(), by: { $0[arm] }).mapValues(\.count)
        #expect(counts == ["control": 500, "discount": 250, "free_shipping": 250])
        let keys = rows.dropFirst().map { $0[0] }
        #expect(Set(keys).count == 1000)
        #expect(truthRows.dropFirst().map { $0[0] } == keys)
        #expect(truthRows[0] == ["customer_key", "true_uplift_discount", "true_uplift_free_shipping"])
    }

    @Test func badSharesAreRefused() {
        var spec = Self.campaign
        spec.arms[0].share = 0.6
        #expect(throws: SyntheticError.self) { try SyntheticCampaign.generate(spec, seed: 1) }
    }

    @Test func orderLogIsSemicolonDelimitedWithEuropeanDatesAndDecimalCommas() throws {
        let rows = Self.rows(try SyntheticOrderLog.generate(Self.orders, seed: 3), separator: ";")
        #expect(rows[0] == SyntheticOrderLog.header)
        let body = rows.dropFirst()
        #expect(body.allSatisfy { $0.count == 7 })
        let date = try Regex(#"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$"#), price = try Regex(#"^-?\d+,\d{2}$"#)
        #expect(body.allSatisfy { $0[4].wholeMatch(of: date) != nil && $0[3].wholeMatch(of: price) != nil })
        #expect(body.contains { $0[5].isEmpty }, "guest orders")
        #expect(body.contains { $0[1] == SyntheticOrderLog.shippingCode }, "shipping fees")
        #expect(body.contains { $0[0].hasPrefix(SyntheticOrderLog.returnPrefix) && $0[2].hasPrefix("-") }, "returns")
    }

    @Test func returnsNetAgainstTheLinesTheyReturn() throws {
        let bytes = try SyntheticOrderLog.generate(Self.orders, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(String(decoding: bytes, as: UTF8.self), to: dir + "/orders.csv")
        // The order-log spec of examples/synthetic/project.yaml.
        let spec = TransactionSpec(
            name: "Synthetic shop", file: dir + "/orders.csv", format: .csv, delimiter: try FieldCharacter(text: ";"),
            dateFormat: try DateFormat(text: "%d/%m/%Y %H:%M"), timeZone: try LogTimeZone(text: "Europe/Berlin"), decimalSeparator: .comma,
            customer: "client", date: "order_date", quantity: "qty", price: "unit_price", invoice: "order_no", product: "sku",
            cleaning: .init(cancellationPrefix: "R", cancellations: .net, duplicateLines: .drop, nonMerchandiseCodes: ["SHIP"]))
        let log = try TransactionLog.load(spec)
        let returns = Self.rows(bytes, separator: ";").dropFirst().filter { $0[0].hasPrefix(SyntheticOrderLog.returnPrefix) }
        let customerReturns = returns.filter { !$0[5].isEmpty }.count
        #expect(customerReturns > 0)
        func rows(_ prefix: String) -> Int { log.steps.first { $0.rule.hasPrefix(prefix) }?.rows ?? -1 }
        // Every return of a customer's order nets against its line (one unit: the whole line when it had one);
        // only guest orders' returns, without a customer, match nothing.
        #expect(rows("cancellation netted") == customerReturns)
        #expect(rows("cancellation not matched") == returns.count - customerReturns)
        #expect(rows("duplicate line") == 0)
        let exact = rows("cancelled order line"), partial = log.steps.first { $0.rule.hasPrefix("partly cancelled") }
        #expect(exact > 0 && (partial?.rowsReduced ?? 0) > 0 && partial?.rows == 0)
        #expect(exact + (partial?.rowsReduced ?? 0) == customerReturns)
    }
}
