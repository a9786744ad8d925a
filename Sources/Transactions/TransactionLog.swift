import Foundation
import Tabular

/// Describes a transaction log: which file and format, how its fields, dates and numbers are
/// written, which columns hold the customer, the date and the money, and which cleaning rules
/// apply. Another retailer needs another spec, not new code.
public struct TransactionSpec: Codable, Sendable, Equatable {
    public enum Format: String, Codable, Sendable { case csv, whitespace }

    public struct Cleaning: Codable, Sendable, Equatable {
        /// Invoices starting with this prefix are cancellations and are dropped.
        public var cancellationPrefix: String?
        public var dropMissingCustomer: Bool
        public var dropNonPositiveQuantity: Bool
        public var dropNonPositivePrice: Bool
        /// Product codes that are not merchandise (postage, fees, adjustments): dropped.
        public var nonMerchandiseCodes: [String]

        enum CodingKeys: String, CodingKey {
            case cancellationPrefix = "cancellation_prefix"
            case dropMissingCustomer = "drop_missing_customer"
            case dropNonPositiveQuantity = "drop_nonpositive_quantity"
            case dropNonPositivePrice = "drop_nonpositive_price"
            case nonMerchandiseCodes = "non_merchandise_codes"
        }

        public init(
            cancellationPrefix: String? = nil, dropMissingCustomer: Bool = true, dropNonPositiveQuantity: Bool = true,
            dropNonPositivePrice: Bool = true, nonMerchandiseCodes: [String] = []
        ) {
            self.cancellationPrefix = cancellationPrefix
            self.dropMissingCustomer = dropMissingCustomer
            self.dropNonPositiveQuantity = dropNonPositiveQuantity
            self.dropNonPositivePrice = dropNonPositivePrice
            self.nonMerchandiseCodes = nonMerchandiseCodes
        }
    }

    public var name: String
    public var file: String
    public var format: Format
    /// Field delimiter of a csv log (default `,`).
    public var delimiter: FieldCharacter
    /// Quote character of a csv log (default `"`); nil: fields are never quoted.
    public var quote: FieldCharacter?
    /// nil: `YYYY-MM-DD[ HH:MM:SS]` or `YYYYMMDD`, the day as written.
    public var dateFormat: DateFormat?
    /// The zone whose calendar days transactions fall on (timestamps with an offset are converted into it).
    public var timeZone: LogTimeZone
    public var decimalSeparator: DecimalSeparator
    /// Column names of a headerless (whitespace) file, in order.
    public var columnNames: [String]?
    public var customer: String
    public var date: String
    public var quantity: String?
    /// Unit price; line value = quantity × price.
    public var price: String?
    /// Line value given directly (used when there is no price column).
    public var value: String?
    public var invoice: String?
    public var product: String?
    public var cleaning: Cleaning

    enum CodingKeys: String, CodingKey {
        case name, file, format, delimiter, quote, customer, date, quantity, price, value, invoice, product, cleaning
        case dateFormat = "date_format"
        case timeZone = "time_zone"
        case decimalSeparator = "decimal_separator"
        case columnNames = "column_names"
    }

    public init(
        name: String, file: String, format: Format, delimiter: FieldCharacter = .comma, quote: FieldCharacter? = .doubleQuote,
        dateFormat: DateFormat? = nil, timeZone: LogTimeZone = .utc, decimalSeparator: DecimalSeparator = .point,
        columnNames: [String]? = nil, customer: String, date: String, quantity: String? = nil, price: String? = nil,
        value: String? = nil, invoice: String? = nil, product: String? = nil, cleaning: Cleaning = Cleaning()
    ) {
        self.name = name
        self.file = file
        self.format = format
        self.delimiter = delimiter
        self.quote = quote
        self.dateFormat = dateFormat
        self.timeZone = timeZone
        self.decimalSeparator = decimalSeparator
        self.columnNames = columnNames
        self.customer = customer
        self.date = date
        self.quantity = quantity
        self.price = price
        self.value = value
        self.invoice = invoice
        self.product = product
        self.cleaning = cleaning
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        file = try c.decode(String.self, forKey: .file)
        format = try c.decode(Format.self, forKey: .format)
        delimiter = try c.decodeIfPresent(FieldCharacter.self, forKey: .delimiter) ?? .comma
        // Absent: the usual double quote; null: no quoting at all.
        quote = c.contains(.quote) ? try c.decodeIfPresent(FieldCharacter.self, forKey: .quote) : .doubleQuote
        dateFormat = try c.decodeIfPresent(DateFormat.self, forKey: .dateFormat)
        timeZone = try c.decodeIfPresent(LogTimeZone.self, forKey: .timeZone) ?? .utc
        decimalSeparator = try c.decodeIfPresent(DecimalSeparator.self, forKey: .decimalSeparator) ?? .point
        columnNames = try c.decodeIfPresent([String].self, forKey: .columnNames)
        customer = try c.decode(String.self, forKey: .customer)
        date = try c.decode(String.self, forKey: .date)
        quantity = try c.decodeIfPresent(String.self, forKey: .quantity)
        price = try c.decodeIfPresent(String.self, forKey: .price)
        value = try c.decodeIfPresent(String.self, forKey: .value)
        invoice = try c.decodeIfPresent(String.self, forKey: .invoice)
        product = try c.decodeIfPresent(String.self, forKey: .product)
        cleaning = try c.decode(Cleaning.self, forKey: .cleaning)
        func bad(_ key: CodingKeys, _ message: String) -> DecodingError { .dataCorruptedError(forKey: key, in: c, debugDescription: message) }
        if format == .whitespace {
            for key in [CodingKeys.delimiter, .quote] where c.contains(key) {
                throw bad(key, "a whitespace-separated log has no \(key.stringValue) (it applies to format: csv)")
            }
        }
        if let quote, quote == delimiter { throw bad(.quote, "the quote character is the delimiter '\(delimiter.text)'") }
        if format == .csv {
            let d = delimiter.byte
            if (0x30...0x39).contains(d) || [UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+")].contains(d) {
                throw bad(.delimiter, "'\(delimiter.text)' cannot separate fields: numbers are written with it")
            }
            if decimalSeparator == .comma && d == UInt8(ascii: ",") {
                throw bad(.decimalSeparator, "decimal_separator ',' needs another delimiter (such as ';'): ',' already separates the fields")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(file, forKey: .file)
        try c.encode(format, forKey: .format)
        try c.encode(delimiter, forKey: .delimiter)
        if let quote { try c.encode(quote, forKey: .quote) } else { try c.encodeNil(forKey: .quote) }
        try c.encodeIfPresent(dateFormat, forKey: .dateFormat)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(decimalSeparator, forKey: .decimalSeparator)
        try c.encodeIfPresent(columnNames, forKey: .columnNames)
        try c.encode(customer, forKey: .customer)
        try c.encode(date, forKey: .date)
        try c.encodeIfPresent(quantity, forKey: .quantity)
        try c.encodeIfPresent(price, forKey: .price)
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(invoice, forKey: .invoice)
        try c.encodeIfPresent(product, forKey: .product)
        try c.encode(cleaning, forKey: .cleaning)
    }

    /// How dates are read, for messages.
    public var dateFormatDescription: String { dateFormat?.description ?? "YYYY-MM-DD[ HH:MM:SS] or YYYYMMDD" }

    /// The calendar day of a date text, or nil when it does not match the spec's format.
    public func calendarDay(_ text: String) -> Int? {
        guard let dateFormat else { return CalendarDay.parse(text) }
        return dateFormat.calendarDay(text, zone: timeZone)
    }
}

/// What one cleaning rule removed.
public struct CleaningStep: Sendable, Equatable {
    public var rule: String
    public var rows: Int
    /// Customers who had rows before the rule and none after it.
    public var customers: Int
    /// Sum of the removed rows' line values.
    public var revenue: Double
}

/// Rows and revenue dropped per non-merchandise product code.
public struct DroppedCode: Sendable, Equatable {
    public var code: String
    public var rows: Int
    public var revenue: Double
}

/// A cleaned log: one entry per customer per day with that day's total value, customers in
/// first-seen order, each customer's days ascending.
public struct CustomerDays: Sendable {
    public var customerIDs: [String]
    /// Start of each customer's run in `days`/`values` (count + 1 entries).
    public var offsets: [Int]
    public var days: [Int]
    public var values: [Double]

    public var customerCount: Int { customerIDs.count }
    public func range(_ customer: Int) -> Range<Int> { offsets[customer]..<offsets[customer + 1] }
    public var firstDay: Int { days.min() ?? 0 }
    public var lastDay: Int { days.max() ?? 0 }
}

public struct CleanedLog: Sendable {
    public var rawRows: Int
    public var rawCustomers: Int
    public var rawRevenue: Double
    public var steps: [CleaningStep]
    public var droppedCodes: [DroppedCode]
    public var keptRows: Int
    public var keptRevenue: Double
    public var customerDays: CustomerDays
}

public enum TransactionLog {
    /// Reads and cleans a transaction log, then aggregates it to one transaction per customer-day.
    public static func load(_ spec: TransactionSpec) throws -> CleanedLog {
        var columns = [ColumnSpec(spec.customer, .string), ColumnSpec(spec.date, .string)]
        // Decimal commas are read as text and converted once per distinct value (`clean`); the
        // default goes through the reader's number parser.
        let numberKind: ColumnKind = spec.decimalSeparator == .point ? .double : .string
        if let q = spec.quantity { columns.append(ColumnSpec(q, numberKind)) }
        if let p = spec.price { columns.append(ColumnSpec(p, numberKind)) }
        if let v = spec.value { columns.append(ColumnSpec(v, numberKind)) }
        if let i = spec.invoice { columns.append(ColumnSpec(i, .string)) }
        if let c = spec.product { columns.append(ColumnSpec(c, .string)) }
        guard spec.value != nil || (spec.quantity != nil && spec.price != nil) else {
            throw DataError(file: spec.file, message: "transaction spec '\(spec.name)' needs a value column or both quantity and price")
        }
        let table: Table
        let header: [String]
        switch spec.format {
        case .csv:
            table = try CSVReader.read(path: spec.file, schema: CSVSchema(columns), delimiter: spec.delimiter.byte, quote: spec.quote?.byte)
            header = try CSVReader.header(path: spec.file, delimiter: spec.delimiter.byte, quote: spec.quote?.byte)
        case .whitespace:
            guard let names = spec.columnNames else {
                throw DataError(file: spec.file, message: "a whitespace-separated log needs column_names in its spec")
            }
            table = try WhitespaceReader.read(path: spec.file, names: names, schema: CSVSchema(columns))
            header = names
        }
        return try clean(table, spec: spec, header: header)
    }

    /// A number column: as the reader parsed it, or, read as text (decimal commas), converted once per
    /// distinct value; a value that is not a number names its line.
    static func numbers(_ table: Table, _ name: String, spec: TransactionSpec, header: [String]?) throws -> [Double] {
        guard case .string(let text) = try table.column(name) else { return try table.doubles(name) }
        var valueOfLevel = [Double](repeating: 0, count: text.levels.count)
        for (k, level) in text.levels.enumerated() {
            guard let v = spec.decimalSeparator.parse(level) else {
                let row = text.codes.firstIndex(of: Int32(k)) ?? 0
                throw DataError(
                    file: table.source, line: row + 2, column: header?.firstIndex(of: name).map { $0 + 1 }, columnName: name,
                    message: level.isEmpty
                        ? "empty value where a number is required"
                        : "cannot parse \(DataError.quoted(level)) as a number with decimal separator '\(spec.decimalSeparator.rawValue)' (such as \(spec.decimalSeparator.example))"
                )
            }
            valueOfLevel[k] = v
        }
        return text.codes.map { valueOfLevel[Int($0)] }
    }

    /// `header`: the file's column names, so that errors can give the column's number.
    public static func clean(_ table: Table, spec: TransactionSpec, header: [String]? = nil) throws -> CleanedLog {
        let n = table.rowCount
        let customer = try table.strings(spec.customer)
        let dateText = try table.strings(spec.date)
        // Dates repeat a lot: parse each distinct text once.
        var dayOfLevel = [Int](repeating: 0, count: dateText.levels.count)
        for (k, text) in dateText.levels.enumerated() {
            guard let d = spec.calendarDay(text) else {
                let row = dateText.codes.firstIndex(of: Int32(k)) ?? 0
                throw DataError(
                    file: table.source, line: row + 2, column: header?.firstIndex(of: spec.date).map { $0 + 1 }, columnName: spec.date,
                    message: "cannot parse \(DataError.quoted(text)) as a date (expected \(spec.dateFormatDescription))")
            }
            dayOfLevel[k] = d
        }
        let quantity = try spec.quantity.map { try numbers(table, $0, spec: spec, header: header) }
        let price = try spec.price.map { try numbers(table, $0, spec: spec, header: header) }
        let lineValue: [Double] =
            try spec.value.map { try numbers(table, $0, spec: spec, header: header) }
            ?? (0..<n).map { quantity![$0] * price![$0] }

        var keep = [Bool](repeating: true, count: n)
        let missingCode = customer.levels.firstIndex { $0.trimmingCharacters(in: .whitespaces).isEmpty }.map(Int32.init)
        func distinctCustomers() -> Int {
            var seen = [Bool](repeating: false, count: customer.levels.count)
            var count = 0
            for r in 0..<n where keep[r] {
                let c = Int(customer.codes[r])
                if !seen[c] && Int32(c) != missingCode { seen[c] = true; count += 1 }
            }
            return count
        }
        let rawCustomers = distinctCustomers()
        let rawRevenue = lineValue.reduce(0, +)
        var steps: [CleaningStep] = []
        func apply(_ rule: String, _ drop: (Int) -> Bool) {
            let before = distinctCustomers()
            var rows = 0
            var revenue = 0.0
            for r in 0..<n where keep[r] && drop(r) {
                keep[r] = false
                rows += 1
                revenue += lineValue[r]
            }
            steps.append(CleaningStep(rule: rule, rows: rows, customers: before - distinctCustomers(), revenue: revenue))
        }

        let c = spec.cleaning
        if let prefix = c.cancellationPrefix, let inv = spec.invoice {
            let invoice = try table.strings(inv)
            let cancelled = invoice.levels.map { $0.hasPrefix(prefix) }
            apply("cancellation (invoice starts with '\(prefix)')") { cancelled[Int(invoice.codes[$0])] }
        }
        if c.dropMissingCustomer, let missingCode {
            apply("no customer id") { customer.codes[$0] == missingCode }
        }
        if c.dropNonPositiveQuantity, let quantity {
            apply("quantity <= 0") { quantity[$0] <= 0 }
        }
        if c.dropNonPositivePrice {
            if let price {
                apply("price <= 0") { price[$0] <= 0 }
            } else {
                apply("value <= 0") { lineValue[$0] <= 0 }
            }
        }
        var droppedCodes: [DroppedCode] = []
        if !c.nonMerchandiseCodes.isEmpty, let productColumn = spec.product {
            let product = try table.strings(productColumn)
            let listed = Set(c.nonMerchandiseCodes)
            let isListed = product.levels.map { listed.contains($0) }
            var rowsByCode = [Int](repeating: 0, count: product.levels.count)
            var revenueByCode = [Double](repeating: 0, count: product.levels.count)
            for r in 0..<n where keep[r] && isListed[Int(product.codes[r])] {
                rowsByCode[Int(product.codes[r])] += 1
                revenueByCode[Int(product.codes[r])] += lineValue[r]
            }
            for code in c.nonMerchandiseCodes {
                if let k = product.levels.firstIndex(of: code) {
                    droppedCodes.append(DroppedCode(code: code, rows: rowsByCode[k], revenue: revenueByCode[k]))
                } else {
                    droppedCodes.append(DroppedCode(code: code, rows: 0, revenue: 0))
                }
            }
            apply("non-merchandise product code") { isListed[Int(product.codes[$0])] }
        }

        // One transaction per customer per day, value = the day's sum.
        var denseOf = [Int](repeating: -1, count: customer.levels.count)
        var ids: [String] = []
        var perCustomer: [[(Int, Double)]] = []
        var keptRows = 0
        var keptRevenue = 0.0
        for r in 0..<n where keep[r] {
            let code = Int(customer.codes[r])
            if denseOf[code] < 0 {
                denseOf[code] = ids.count
                ids.append(customer.levels[code])
                perCustomer.append([])
            }
            perCustomer[denseOf[code]].append((dayOfLevel[Int(dateText.codes[r])], lineValue[r]))
            keptRows += 1
            keptRevenue += lineValue[r]
        }
        var offsets = [0]
        var days: [Int] = []
        var values: [Double] = []
        for var entries in perCustomer {
            // Stable sort by day keeps the file order of lines within a day, so sums are reproducible.
            entries = entries.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element)
            var i = 0
            while i < entries.count {
                let day = entries[i].0
                var sum = 0.0
                while i < entries.count && entries[i].0 == day {
                    sum += entries[i].1
                    i += 1
                }
                days.append(day)
                values.append(sum)
            }
            offsets.append(days.count)
        }
        return CleanedLog(
            rawRows: n, rawCustomers: rawCustomers, rawRevenue: rawRevenue, steps: steps,
            droppedCodes: droppedCodes, keptRows: keptRows, keptRevenue: keptRevenue,
            customerDays: CustomerDays(customerIDs: ids, offsets: offsets, days: days, values: values))
    }
}
