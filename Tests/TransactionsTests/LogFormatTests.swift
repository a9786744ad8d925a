import Foundation
import Tabular
import TestSupport
import Testing

@testable import Transactions

private func scratch(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("logformat-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/" + name
    try AtomicFile.write(text, to: path)
    return path
}

/// A spec decoded from JSON the way a params file gives it (keys as in YAML).
private func decodeSpec(_ object: [String: Any]) throws -> TransactionSpec {
    var base: [String: Any] = [
        "name": "shop", "file": "orders.csv", "format": "csv", "customer": "client", "date": "order_date", "quantity": "qty",
        "price": "unit_price",
        "cleaning": ["drop_missing_customer": true, "drop_nonpositive_quantity": true, "drop_nonpositive_price": true, "non_merchandise_codes": []],
    ]
    base.merge(object) { $1 }
    return try JSONDecoder().decode(TransactionSpec.self, from: JSONSerialization.data(withJSONObject: base))
}

/// One order line of the hand-made log.
private struct Line {
    var order: String
    var sku: String
    var quantity: Int
    /// Unit price in cents.
    var cents: Int
    var year: Int, month: Int, day: Int, hour: Int, minute: Int
    var client: String
}

private let lines: [Line] = [
    Line(order: "1001", sku: "A1", quantity: 2, cents: 1_250, year: 2023, month: 1, day: 5, hour: 9, minute: 15, client: "K1"),
    Line(order: "1001", sku: "SHIP", quantity: 1, cents: 495, year: 2023, month: 1, day: 5, hour: 9, minute: 15, client: "K1"),
    Line(order: "1002", sku: "B7", quantity: 1, cents: 123_450, year: 2023, month: 1, day: 12, hour: 17, minute: 2, client: "K2"),
    Line(order: "1003", sku: "A1", quantity: 3, cents: 99, year: 2023, month: 2, day: 1, hour: 8, minute: 0, client: "K1"),
    Line(order: "R1003", sku: "A1", quantity: -1, cents: 99, year: 2023, month: 2, day: 3, hour: 10, minute: 30, client: "K1"),
    Line(order: "1004", sku: "C3", quantity: 1, cents: 4_999, year: 2023, month: 2, day: 28, hour: 23, minute: 59, client: ""),
    Line(order: "1005", sku: "B7", quantity: 2, cents: 250_000, year: 2023, month: 3, day: 14, hour: 12, minute: 0, client: "K2"),
    Line(order: "1006", sku: "A1", quantity: 1, cents: 1_250, year: 2023, month: 3, day: 14, hour: 13, minute: 45, client: "K2"),
    Line(order: "1007", sku: "D4", quantity: 5, cents: 10, year: 2023, month: 12, day: 31, hour: 0, minute: 5, client: "K3"),
]

private func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

@Suite("Order-log formats: delimiter, quote, date format, time zone, decimal separator")
struct LogFormatTests {
    private let cleaning = TransactionSpec.Cleaning(cancellationPrefix: "R", nonMerchandiseCodes: ["SHIP"])

    @Test("a ';' log with DD/MM/YYYY HH:MM dates and decimal commas gives the customer days of the ',' ISO log")
    func europeanLogMatchesTheDefaultOne() throws {
        var plain = "order_no,sku,qty,unit_price,order_date,client\n"
        var european = "order_no;sku;qty;unit_price;order_date;client\n"
        for l in lines {
            let price = "\(l.cents / 100).\(two(l.cents % 100))"
            // Thousands grouped with '.' as such exports do: 1.234,50.
            let whole = l.cents / 100
            let grouped = whole >= 1000 ? "\(whole / 1000).\(String(format: "%03d", whole % 1000))" : "\(whole)"
            plain += "\(l.order),\(l.sku),\(l.quantity),\(price),\(l.year)-\(two(l.month))-\(two(l.day)) \(two(l.hour)):\(two(l.minute)):00,\(l.client)\n"
            european +=
                "\(l.order);\(l.sku);\(l.quantity);\(grouped),\(two(l.cents % 100));\(two(l.day))/\(two(l.month))/\(l.year) \(two(l.hour)):\(two(l.minute));\(l.client)\n"
        }
        let defaultSpec = TransactionSpec(
            name: "plain", file: try scratch("plain.csv", plain), format: .csv, customer: "client", date: "order_date", quantity: "qty",
            price: "unit_price", invoice: "order_no", product: "sku", cleaning: cleaning)
        var europeanSpec = try decodeSpec([
            "delimiter": ";", "decimal_separator": ",", "date_format": "%d/%m/%Y %H:%M", "time_zone": "Europe/Berlin", "invoice": "order_no",
            "product": "sku",
            "cleaning": [
                "cancellation_prefix": "R", "non_merchandise_codes": ["SHIP"], "drop_missing_customer": true,
                "drop_nonpositive_quantity": true, "drop_nonpositive_price": true,
            ],
        ])
        europeanSpec.file = try scratch("european.csv", european)
        #expect(europeanSpec.delimiter.byte == UInt8(ascii: ";") && europeanSpec.decimalSeparator == .comma)

        let a = try TransactionLog.load(defaultSpec), b = try TransactionLog.load(europeanSpec)
        #expect(a.customerDays.customerIDs == ["K1", "K2", "K3"])
        #expect(b.customerDays.customerIDs == a.customerDays.customerIDs)
        #expect(b.customerDays.offsets == a.customerDays.offsets)
        #expect(b.customerDays.days == a.customerDays.days)
        #expect(b.customerDays.values == a.customerDays.values)
        #expect(a.customerDays.values.contains(1234.5))
        #expect(b.steps == a.steps && b.droppedCodes == a.droppedCodes && b.rawRevenue == a.rawRevenue)
        let end = CalendarDay.days(year: 2023, month: 12, day: 31)
        let sa = RFMSummaries.build(a.customerDays, calibrationEnd: end - 200, observationEnd: end)
        let sb = RFMSummaries.build(b.customerDays, calibrationEnd: end - 200, observationEnd: end)
        #expect(sb.customerIDs == sa.customerIDs && sb.frequency == sa.frequency && sb.recency == sa.recency && sb.age == sa.age)
        #expect(sb.firstValue == sa.firstValue && sb.holdoutValue == sa.holdoutValue)
    }

    @Test("ISO 8601 timestamps with offsets land on the day of the spec's zone; naive ones on the day written")
    func isoOffsetsCrossMidnight() throws {
        let iso = try DateFormat(text: "iso8601")
        let berlin = try LogTimeZone(text: "Europe/Berlin"), utc = LogTimeZone.utc, newYork = try LogTimeZone(text: "-05:00")
        func day(_ y: Int, _ m: Int, _ d: Int) -> Int { CalendarDay.days(year: y, month: m, day: d) }
        let cases: [(String, LogTimeZone, Int)] = [
            // Winter: Berlin is UTC+1, so 23:30Z is 00:30 the next day.
            ("2011-12-09T23:30:00Z", berlin, day(2011, 12, 10)),
            ("2011-12-09T22:59:59Z", berlin, day(2011, 12, 9)),
            // Summer time: UTC+2, so 22:30Z is already tomorrow, 21:59Z is not.
            ("2024-07-01T22:30:00Z", berlin, day(2024, 7, 2)),
            ("2024-07-01T21:59:00Z", berlin, day(2024, 7, 1)),
            // An offset east of UTC read in UTC: the day before.
            ("2011-12-09T00:30:00+01:00", utc, day(2011, 12, 8)),
            ("2011-12-09T00:30:00+0100", utc, day(2011, 12, 8)),
            ("2011-12-09T01:30:00+01", utc, day(2011, 12, 9)),
            ("2011-12-31T23:30:00-02:00", utc, day(2012, 1, 1)),
            ("2011-12-09T03:00:00.250Z", newYork, day(2011, 12, 8)),
            // Naive: local time in the zone, whatever the zone.
            ("2011-12-09T23:30:00", berlin, day(2011, 12, 9)),
            ("2011-12-09 00:10", newYork, day(2011, 12, 9)),
            ("2011-12-09", utc, day(2011, 12, 9)),
        ]
        for (text, zone, expected) in cases {
            #expect(iso.calendarDay(text, zone: zone) == expected, "\(text) in \(zone.text)")
        }
        for bad in ["2011-12-09T", "2011-12-09T24:00:00", "2011-12-09T12:00:00+1", "2011-12-09T12:00:00 Z", "2011-02-29T12:00:00Z", "09/12/2011"] {
            #expect(iso.calendarDay(bad, zone: utc) == nil, "\(bad)")
        }
        // The same through a log: the ';' file's dates carry offsets.
        var spec = try decodeSpec(["delimiter": ";", "date_format": "iso8601", "time_zone": "Europe/Berlin"])
        spec.file = try scratch(
            "iso.csv", "qty;unit_price;order_date;client\n1;10;2011-12-09T23:30:00Z;a\n1;5;2011-12-10T08:00:00+01:00;a\n1;7;2011-12-09T12:00:00+0100;b\n")
        let log = try TransactionLog.load(spec)
        #expect(log.customerDays.days == [day(2011, 12, 10), day(2011, 12, 9)])
        #expect(log.customerDays.values == [15, 7])
    }

    @Test("strftime-style patterns: directives, month names, 12-hour clocks, two-digit years")
    func patterns() throws {
        let utc = LogTimeZone.utc
        let d = CalendarDay.days(year: 2011, month: 12, day: 9)
        let cases: [(String, String)] = [
            ("%d/%m/%Y %H:%M", "09/12/2011 12:50"), ("%d/%m/%Y %H:%M", "9/12/2011 7:05"), ("%m/%d/%y %I:%M %p", "12/09/11 12:50 am"),
            ("%d-%b-%Y", "09-Dec-2011"), ("%d %B %Y", "9 DECEMBER 2011"), ("%Y%m%d", "20111209"), ("%Y-%m-%dT%T%z", "2011-12-09T12:50:00+01:00"),
            ("%d.%m.%Y %H:%M:%S.%f", "09.12.2011 12:50:00.123"), ("%Y-%m-%d 100%%", "2011-12-09 100%"),
        ]
        for (pattern, text) in cases {
            #expect(try DateFormat(text: pattern).calendarDay(text, zone: utc) == d, "\(pattern): \(text)")
        }
        #expect(try DateFormat(text: "%d/%m/%y").calendarDay("01/01/69", zone: utc) == CalendarDay.days(year: 1969, month: 1, day: 1))
        #expect(try DateFormat(text: "%d/%m/%y").calendarDay("01/01/68", zone: utc) == CalendarDay.days(year: 2068, month: 1, day: 1))
        for (pattern, text) in [
            ("%d/%m/%Y", "12/31/2011"), ("%d/%m/%Y", "09/12/2011 12:50"), ("%d/%m/%Y %H:%M", "09/12/2011 24:00"), ("%m/%d/%Y %I:%M %p", "12/09/2011 13:00 PM"),
            ("%d-%b-%Y", "09-Dez-2011"), ("%Y%m%d", "201112"), ("%d/%m/%Y", "29/02/2011"),
        ] {
            #expect(try DateFormat(text: pattern).calendarDay(text, zone: utc) == nil, "\(pattern): \(text)")
        }
    }

    @Test("invalid spec values are decoding errors that say what is wrong")
    func invalidValues() throws {
        let cases: [([String: Any], String)] = [
            (["date_format": "%d/%m/%Q"], "unknown directive '%Q'"), (["date_format": ""], "empty"), (["date_format": "%d/%m"], "exactly one year"),
            (["date_format": "%d/%m/%Y %H:%M %p"], "go together"), (["date_format": "%d/%m/%Y %"], "lone '%'"),
            (["time_zone": "Europe/Berln"], "unknown time zone"), (["time_zone": "CEST"], "unknown time zone"), (["delimiter": ";;"], "not one character"),
            (["delimiter": "."], "numbers are written with it"), (["decimal_separator": ","], "needs another delimiter"),
            (["decimal_separator": "·"], "must be '.' or ','"), (["delimiter": ";", "quote": ";"], "quote character is the delimiter"),
            (["format": "whitespace", "column_names": ["client"], "delimiter": ";"], "whitespace-separated log has no delimiter"),
        ]
        for (object, fragment) in cases {
            do {
                _ = try decodeSpec(object)
                Issue.record("accepted \(object)")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription.contains(fragment), "\(object): \(context.debugDescription)")
            }
        }
        #expect(try decodeSpec(["delimiter": "\t"]).delimiter.byte == 0x09)
        #expect(try decodeSpec(["delimiter": "tab"]).delimiter.byte == 0x09)
        #expect(try decodeSpec(["quote": NSNull()]).quote == nil)
        #expect(try decodeSpec([:]).quote == .doubleQuote)
        #expect(try decodeSpec(["time_zone": "+05:30"]).timeZone.zone.secondsFromGMT() == 19_800)
    }

    @Test("decimal commas: thousands points only in groups of three; anything else is an error naming line and column")
    func decimalCommas() throws {
        let comma = DecimalSeparator.comma
        for (text, value) in [("1.234,50", 1234.5), ("1234,5", 1234.5), ("-0,99", -0.99), ("12.345.678", 12_345_678), ("7", 7), ("+3,25", 3.25)] {
            #expect(comma.parse(text) == value, "\(text)")
        }
        for text in ["12.5", "1.23,4", "1,234,5", ",5", "5,", "1.2345,0", "1e3", "", "-", "1.234.56", " 5"] {
            #expect(comma.parse(text) == nil, "\(text)")
        }
        var spec = try decodeSpec(["delimiter": ";", "decimal_separator": ","])
        spec.file = try scratch("n.csv", "client;order_date;qty;unit_price\na;2011-01-01;1;2,50\nb;2011-01-02;1;2.50\n")
        do {
            _ = try TransactionLog.load(spec)
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.file == spec.file && e.line == 3 && e.column == 4 && e.columnName == "unit_price", "\(e)")
            #expect(e.message.contains("'2.50'") && e.message.contains("decimal separator ','"), "\(e)")
        }
    }

    @Test("a date that does not match the pattern names the file, the line, the column and the pattern")
    func nonMatchingDate() throws {
        var spec = try decodeSpec(["delimiter": ";", "date_format": "%d/%m/%Y %H:%M"])
        spec.file = try scratch("d.csv", "client;order_date;qty;unit_price\na;09/12/2011 12:50;1;2\na;09/12/2011 12:50;1;2\nb;2011-12-09 12:50;1;2\n")
        do {
            _ = try TransactionLog.load(spec)
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.file == spec.file && e.line == 4 && e.column == 2 && e.columnName == "order_date", "\(e)")
            #expect(e.description.contains("cannot parse '2011-12-09 12:50' as a date (expected %d/%m/%Y %H:%M)"), "\(e)")
        }
    }

    @Test("quoting: another quote character, or none (a quote is then ordinary text)")
    func quoting() throws {
        var single = try decodeSpec(["delimiter": ";", "quote": "'"])
        single.file = try scratch("q.csv", "client;order_date;qty;unit_price\n'a;1';2011-01-01;1;2\n'say \"hi\"';2011-01-01;1;3\n")
        #expect(try TransactionLog.load(single).customerDays.customerIDs == ["a;1", "say \"hi\""])
        var none = try decodeSpec(["quote": NSNull()])
        none.file = try scratch("n.csv", "client,order_date,qty,unit_price\n\"a,2011-01-01,1,2\n12\" LP,2011-01-01,1,3\n")
        #expect(try TransactionLog.load(none).customerDays.customerIDs == ["\"a", "12\" LP"])
    }

    @Test("cleaning keys: netting and duplicate rules default to the old behaviour; a bad value or a missing column is an error")
    func cleaningRules() throws {
        let base: [String: Any] = [
            "drop_missing_customer": true, "drop_nonpositive_quantity": true, "drop_nonpositive_price": true, "non_merchandise_codes": [],
        ]
        let old = try decodeSpec(["cleaning": base.merging(["cancellation_prefix": "R"]) { $1 }])
        #expect(old.cleaning.cancellations == .drop && old.cleaning.duplicateLines == .keep)
        let netting = try decodeSpec([
            "invoice": "order_no", "product": "sku",
            "cleaning": base.merging(["cancellation_prefix": "R", "cancellations": "net", "duplicate_lines": "drop"]) { $1 },
        ])
        #expect(netting.cleaning.cancellations == .net && netting.cleaning.duplicateLines == .drop)
        func failure(_ object: [String: Any]) -> String {
            do {
                _ = try decodeSpec(object)
                return "no error"
            } catch let DecodingError.dataCorrupted(context) {
                return context.debugDescription
            } catch {
                return "\(error)"
            }
        }
        #expect(
            failure(["cleaning": base.merging(["cancellation_prefix": "R", "cancellations": "nett"]) { $1 }])
                == "cancellations must be 'drop' or 'net', not 'nett'")
        #expect(
            failure(["cleaning": base.merging(["duplicate_lines": "remove"]) { $1 }]) == "duplicate_lines must be 'keep' or 'drop', not 'remove'")
        #expect(
            failure(["invoice": "order_no", "product": "sku", "cleaning": base.merging(["cancellations": "net"]) { $1 }])
                == "cancellations: net needs the cancellation_prefix that marks cancellation invoices")
        #expect(
            failure(["invoice": "order_no", "cleaning": base.merging(["cancellation_prefix": "R", "cancellations": "net"]) { $1 }])
                == "cancellations: net matches a cancellation to its order by customer, product and quantity: the spec needs 'product'")
    }
}
