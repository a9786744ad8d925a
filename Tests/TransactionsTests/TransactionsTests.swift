import Foundation
import Tabular
import TestSupport
import Testing

@testable import Transactions

private func scratchFile(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tx-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/" + name
    try AtomicFile.write(text, to: path)
    return path
}

private func retailSpec(_ file: String) -> TransactionSpec {
    TransactionSpec(
        name: "retail", file: file, format: .csv, customer: "Customer ID", date: "InvoiceDate",
        quantity: "Quantity", price: "Price", invoice: "Invoice", product: "StockCode",
        cleaning: .init(cancellationPrefix: "C", nonMerchandiseCodes: ["POST", "M"]))
}

@Suite("Transaction logs")
struct TransactionTests {
    @Test("calendar days round-trip and reject impossible dates")
    func days() {
        #expect(CalendarDay.parse("1970-01-01") == 0)
        #expect(CalendarDay.parse("2009-12-01 07:45:00") == CalendarDay.days(year: 2009, month: 12, day: 1))
        #expect(CalendarDay.parse("19970101") == CalendarDay.days(year: 1997, month: 1, day: 1))
        #expect(CalendarDay.string(CalendarDay.days(year: 2011, month: 12, day: 9)) == "2011-12-09")
        #expect(CalendarDay.parse("2011-02-29") == nil)
        #expect(CalendarDay.parse("2012-02-29") != nil)
        #expect(CalendarDay.parse("2011-13-01") == nil)
        #expect(CalendarDay.parse("yesterday") == nil)
        #expect(CalendarDay.parse("2011-01-01 xx") == nil)
    }

    @Test("each cleaning rule removes its rows, customers and revenue; days are aggregated")
    func cleaning() throws {
        let path = try scratchFile(
            "t.csv",
            """
            Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
            1,A,a,2,2010-01-01 10:00:00,1.5,100,UK
            1,B,b,1,2010-01-01 10:00:00,4,100,UK
            2,A,a,1,2010-01-01 15:00:00,1.5,100,UK
            C3,A,a,-1,2010-01-02 10:00:00,1.5,100,UK
            4,A,a,3,2010-01-05 10:00:00,1.5,,UK
            5,A,a,-2,2010-01-06 10:00:00,1.5,200,UK
            6,A,a,1,2010-01-06 10:00:00,0,300,UK
            7,POST,postage,1,2010-01-07 10:00:00,18,400,UK
            8,A,a,4,2010-01-08 10:00:00,2,100,UK

            """)
        let log = try TransactionLog.load(retailSpec(path))
        #expect(log.rawRows == 9)
        #expect(log.rawCustomers == 4)
        #expect(
            log.steps.map(\.rule) == [
                "cancellation (invoice starts with 'C')", "no customer id", "quantity <= 0", "price <= 0", "non-merchandise product code",
            ])
        #expect(log.steps.map(\.rows) == [1, 1, 1, 1, 1])
        #expect(log.steps.map(\.customers) == [0, 0, 1, 1, 1])
        #expect(log.steps.map(\.revenue) == [-1.5, 4.5, -3, 0, 18])
        #expect(log.droppedCodes == [DroppedCode(code: "POST", rows: 1, revenue: 18), DroppedCode(code: "M", rows: 0, revenue: 0)])
        let days = log.customerDays
        #expect(days.customerIDs == ["100"])
        #expect(days.days == [CalendarDay.parse("2010-01-01")!, CalendarDay.parse("2010-01-08")!])
        #expect(days.values == [3 + 4 + 1.5, 8])
        #expect(log.keptRows == 4)
    }

    @Test("netting: a cancellation removes its order line or reduces earlier ones; duplicates drop; the table counts each rule")
    func netting() throws {
        let path = try scratchFile(
            "net.csv",
            """
            Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
            1,A,a,10,2010-01-01 10:00:00,2,100,UK
            1,B,b,5,2010-01-01 10:00:00,3,100,UK
            1,B,b,5,2010-01-01 10:00:00,3,100,UK
            C2,A,a,-10,2010-01-01 10:12:00,2,100,UK
            3,A,a,10,2010-01-03 09:00:00,2,100,UK
            C4,B,b,-2,2010-01-04 09:00:00,3,100,UK
            C5,A,a,-4,2009-12-01 09:00:00,2,200,UK
            5,A,a,4,2010-01-05 09:00:00,2,200,UK
            6,C,c,3,2010-01-06 09:00:00,1,100,UK
            6,C,c,2,2010-01-06 09:00:00,1,100,UK
            C7,C,c,-4,2010-01-07 09:00:00,1,100,UK
            8,D,d,6,2010-01-08 09:00:00,1,300,UK
            9,D,d,6,2010-01-09 09:00:00,1,300,UK
            C10,D,d,-6,2010-01-10 09:00:00,1,300,UK
            11,A,a,10,2010-01-11 09:00:00,2,400,UK
            C12,A,a,-10,2010-01-11 09:05:00,2,,UK

            """)
        var spec = retailSpec(path)
        spec.cleaning.cancellations = .net
        spec.cleaning.duplicateLines = .drop
        let log = try TransactionLog.load(spec)
        #expect(
            log.steps.map(\.rule) == [
                "duplicate line (equal in every column read)", "cancelled order line (same customer, product and quantity)",
                "partly cancelled order line (quantity reduced)", "cancellation netted (invoice starts with 'C')",
                "cancellation not matched to an earlier order line (invoice starts with 'C')", "no customer id", "quantity <= 0", "price <= 0",
                "non-merchandise product code",
            ])
        // The second B line repeats the first. C2 removes A × 10 of invoice 1 (not the later one of invoice 3);
        // C10 removes the latest earlier D × 6 (invoice 9, not 8). C4 finds no B line of 2, so it takes 2 of B's 5;
        // C7 finds no C line of 4, so it empties the latest (2) and takes the other 2 from the 3. C5 comes before
        // customer 200's only order and C12 has no customer: neither matches.
        #expect(log.steps.map(\.rows) == [1, 2, 1, 4, 2, 0, 0, 0, 0])
        #expect(log.steps.map(\.rowsReduced) == [0, 0, 2, 0, 0, 0, 0, 0, 0])
        // Partial: 2 of B at 3, 2 of C at 1 (the emptied line) and 2 of C at 1. Netted: C2, C4, C7, C10; not matched: C5, C12.
        let removedRevenue: [Double] = [15, 26, 10, -36, -28, 0, 0, 0, 0]
        #expect(log.steps.map(\.revenue) == removedRevenue)
        // Customer 400's order has no customer on its cancellation, so nothing nets it: 400 keeps it.
        #expect(log.steps.map(\.customers) == [0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(log.keptRows == 6)
        #expect(log.keptRows + log.steps.map(\.rows).reduce(0, +) == log.rawRows)
        #expect(log.keptRevenue + log.steps.map(\.revenue).reduce(0, +) == log.rawRevenue)
        let days = log.customerDays
        let day = { (text: String) in CalendarDay.parse(text)! }
        #expect(days.customerIDs == ["100", "200", "300", "400"])
        #expect(days.offsets == [0, 3, 4, 5, 6])
        #expect(days.days == [day("2010-01-01"), day("2010-01-03"), day("2010-01-06"), day("2010-01-05"), day("2010-01-08"), day("2010-01-11")])
        // 100: B 3 × 3 on the first day (A cancelled), A 10 × 2, then C 1 × 1 left of 3 + 2.
        #expect(days.values == [9, 20, 1, 8, 6, 20])
        #expect(log.keptRevenue == 64)

        // The old rule (the default) drops the cancellation lines only.
        var dropping = retailSpec(path)
        dropping.cleaning.cancellations = .drop
        let old = try TransactionLog.load(dropping)
        #expect(old.steps.first?.rule == "cancellation (invoice starts with 'C')" && old.steps.first?.rows == 6)
        #expect(old.keptRows == 10)
    }

    @Test("netting orders lines by time of day, ties in file order, under a date format with offsets")
    func nettingOrder() throws {
        // Written out of time order: the cancellation comes first in the file but 30 minutes after the order
        // in UTC (09:00+02:00 is 07:00Z; 07:30Z); the order placed after the cancellation is not cancelled.
        let path = try scratchFile(
            "order.csv",
            """
            Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID
            C2,A,-1,2010-01-01T07:30:00Z,5,7
            1,A,1,2010-01-01T09:00:00+02:00,5,7
            3,A,1,2010-01-01T08:00:00Z,5,7

            """)
        var spec = retailSpec(path)
        spec.dateFormat = try DateFormat(text: "iso8601")
        spec.cleaning.cancellations = .net
        let log = try TransactionLog.load(spec)
        #expect(log.steps[0].rows == 1 && log.steps[0].revenue == 5)
        #expect(log.keptRows == 1 && log.keptRevenue == 5)
    }

    @Test("summaries: frequency, recency, age, monetary and holdout counts")
    func summaries() {
        // Customer a: days 0, 7, 14 (calibration), 30 (holdout). b: day 21 only. c: born in holdout.
        let log = CustomerDays(customerIDs: ["a", "b", "c"], offsets: [0, 4, 5, 6], days: [0, 7, 14, 30, 21, 29], values: [10, 20, 40, 5, 7, 9])
        let s = RFMSummaries.build(log, calibrationEnd: 28, observationEnd: 35, unitDays: 7)
        #expect(s.customerIDs == ["a", "b"])
        #expect(s.frequency == [2, 0])
        #expect(s.recency == [2, 0])
        #expect(s.age == [4, 1])
        #expect(s.monetary[0] == 30 && s.monetary[1].isNaN)
        #expect(s.holdoutTransactions == [1, 0])
        #expect(s.holdoutValue == [5, 0])
        #expect(s.holdoutLength == 1)
        let weekly = RFMSummaries.repeatTransactionsByPeriod(log, customers: Set(s.customerIDs), start: 0, end: 34, periodDays: 7)
        #expect(weekly == [0, 1, 1, 0, 1])
    }

    @Test("bad files: missing columns and unparsable dates name file, line and column")
    func badFiles() throws {
        let missing = try scratchFile("m.csv", "Invoice,StockCode,Quantity,InvoiceDate,Price\n1,A,1,2010-01-01,2\n")
        #expect(throws: DataError.self) { try TransactionLog.load(retailSpec(missing)) }
        do { _ = try TransactionLog.load(retailSpec(missing)) } catch let e as DataError {
            #expect(e.description.contains("missing column 'Customer ID'"))
        }
        let badDate = try scratchFile("d.csv", "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID\n1,A,1,2010-01-01,2,5\n2,A,1,01/02/2010,2,5\n")
        do {
            _ = try TransactionLog.load(retailSpec(badDate))
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.line == 3 && e.column == 4)
            #expect(e.columnName == "InvoiceDate")
            #expect(e.message.contains("'01/02/2010'"))
        }
        let badNumber = try scratchFile("n.csv", "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID\n1,A,x,2010-01-01,2,5\n")
        do {
            _ = try TransactionLog.load(retailSpec(badNumber))
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.line == 2 && e.column == 3)
        }
    }

    @Test("whitespace logs (CDNOW format) with CRLF line ends")
    func whitespace() throws {
        let path = try scratchFile("cd.txt", "00001 19970101 1 11.77\r\n00002 19970112  1  12.00\r\n00002 19970112 5 77.00\r\n")
        let spec = TransactionSpec(
            name: "cdnow", file: path, format: .whitespace, columnNames: ["customer", "date", "cds", "value"],
            customer: "customer", date: "date", quantity: "cds", value: "value")
        let log = try TransactionLog.load(spec)
        #expect(log.customerDays.customerIDs == ["00001", "00002"])
        #expect(log.customerDays.values == [11.77, 89])
        let ragged = try scratchFile("r.txt", "00001 19970101 1 11.77\n00002 19970112 1\n")
        do {
            _ = try TransactionLog.load(
                TransactionSpec(
                    name: "cdnow", file: ragged, format: .whitespace, columnNames: ["customer", "date", "cds", "value"],
                    customer: "customer", date: "date", value: "value"))
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.line == 2)
        }
    }

    @Test("Online Retail II (integration): raw rows, customers and the cleaning totals add up")
    func onlineRetail() throws {
        let log = try TransactionLog.load(retailSpec(try realDataFile("online_retail_II.csv")))
        #expect(log.rawRows == 1_067_370)
        #expect(log.rawCustomers == 5_942)
        #expect(log.keptRows + log.steps.map(\.rows).reduce(0, +) == log.rawRows)
        #expect(abs(log.keptRevenue + log.steps.map(\.revenue).reduce(0, +) - log.rawRevenue) < 1e-6 * abs(log.rawRevenue))
        #expect(log.customerDays.customerCount <= 5_942)
        #expect(CalendarDay.string(log.customerDays.lastDay) == "2011-12-09")
        #expect(CalendarDay.string(log.customerDays.firstDay) == "2009-12-01")
    }
}
