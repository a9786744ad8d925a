import Foundation
import Tabular

/// Describes a transaction log: which file and format, how its fields, dates and numbers are
/// written, which columns hold the customer, the date and the money, and which cleaning rules
/// apply. Another retailer needs another spec, not new code.
public struct TransactionSpec: Codable, Sendable, Equatable {
    public enum Format: String, Codable, Sendable { case csv, whitespace }

    public struct Cleaning: Codable, Sendable, Equatable {
        /// What a cancellation line does to the order it reverses.
        public enum CancellationRule: String, Codable, Sendable, Equatable {
            /// The cancellation lines are dropped; the orders they reverse are kept (the old rule).
            case drop
            /// A cancellation removes the order line it reverses, or reduces earlier lines' quantities
            /// (`TransactionLog.netCancellations`); then it is dropped.
            case net
        }

        /// Lines equal in every column the spec reads (customer, date, quantity, price or value, invoice, product).
        public enum DuplicateRule: String, Codable, Sendable, Equatable {
            case keep
            /// Every copy after the first in the file is dropped.
            case drop
        }

        /// Invoices starting with this prefix are cancellations.
        public var cancellationPrefix: String?
        /// Default `drop`, so that specs written before netting keep their meaning.
        public var cancellations: CancellationRule
        /// Default `keep`, so that specs written before this rule keep their meaning.
        public var duplicateLines: DuplicateRule
        public var dropMissingCustomer: Bool
        public var dropNonPositiveQuantity: Bool
        public var dropNonPositivePrice: Bool
        /// Product codes that are not merchandise (postage, fees, adjustments): dropped.
        public var nonMerchandiseCodes: [String]

        enum CodingKeys: String, CodingKey {
            case cancellations
            case cancellationPrefix = "cancellation_prefix"
            case duplicateLines = "duplicate_lines"
            case dropMissingCustomer = "drop_missing_customer"
            case dropNonPositiveQuantity = "drop_nonpositive_quantity"
            case dropNonPositivePrice = "drop_nonpositive_price"
            case nonMerchandiseCodes = "non_merchandise_codes"
        }

        public init(
            cancellationPrefix: String? = nil, cancellations: CancellationRule = .drop, duplicateLines: DuplicateRule = .keep,
            dropMissingCustomer: Bool = true, dropNonPositiveQuantity: Bool = true, dropNonPositivePrice: Bool = true,
            nonMerchandiseCodes: [String] = []
        ) {
            self.cancellationPrefix = cancellationPrefix
            self.cancellations = cancellations
            self.duplicateLines = duplicateLines
            self.dropMissingCustomer = dropMissingCustomer
            self.dropNonPositiveQuantity = dropNonPositiveQuantity
            self.dropNonPositivePrice = dropNonPositivePrice
            self.nonMerchandiseCodes = nonMerchandiseCodes
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            cancellationPrefix = try c.decodeIfPresent(String.self, forKey: .cancellationPrefix)
            func choice<T: RawRepresentable<String>>(_ key: CodingKeys, _ all: [T]) throws -> T? {
                guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
                guard let value = T(rawValue: text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: c,
                        debugDescription: "\(key.stringValue) must be \(all.map { "'\($0.rawValue)'" }.joined(separator: " or ")), not '\(text)'")
                }
                return value
            }
            cancellations = try choice(.cancellations, [CancellationRule.drop, .net]) ?? .drop
            duplicateLines = try choice(.duplicateLines, [DuplicateRule.keep, .drop]) ?? .keep
            dropMissingCustomer = try c.decode(Bool.self, forKey: .dropMissingCustomer)
            dropNonPositiveQuantity = try c.decode(Bool.self, forKey: .dropNonPositiveQuantity)
            dropNonPositivePrice = try c.decode(Bool.self, forKey: .dropNonPositivePrice)
            nonMerchandiseCodes = try c.decode([String].self, forKey: .nonMerchandiseCodes)
            if cancellations == .net && cancellationPrefix == nil {
                throw DecodingError.dataCorruptedError(
                    forKey: .cancellations, in: c, debugDescription: "cancellations: net needs the cancellation_prefix that marks cancellation invoices")
            }
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
        if let missing = missingNettingColumns.first {
            throw bad(.cleaning, "cancellations: net matches a cancellation to its order by customer, product and quantity: the spec needs '\(missing)'")
        }
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

    /// The columns that netting cancellations needs and the spec does not name (empty when it does not net).
    var missingNettingColumns: [String] {
        guard cleaning.cancellations == .net else { return [] }
        return [("invoice", invoice), ("product", product), ("quantity", quantity)].compactMap { $0.1 == nil ? $0.0 : nil }
    }

    /// A time of `text` that orders the log's lines (seconds; UTC when the stamp has an offset, else local
    /// time as written), or nil when it does not match the spec's format. A stamp without a time of day is
    /// midnight.
    public func instant(_ text: String) -> Int? {
        guard let dateFormat else {
            guard let day = CalendarDay.parse(text) else { return nil }
            let b = Array(text.utf8)
            func two(_ i: Int) -> Int { i + 2 <= b.count ? (Int(b[i]) - 48) * 10 + Int(b[i + 1]) - 48 : 0 }
            // CalendarDay.parse has checked that a time, when there is one, starts with HH:MM.
            let seconds = b.count >= 16 ? two(11) * 3600 + two(14) * 60 + (b.count >= 19 && b[16] == UInt8(ascii: ":") ? two(17) : 0) : 0
            return day * 86_400 + seconds
        }
        guard let r = dateFormat.read(Array(text.utf8)) else { return nil }
        return r.day * 86_400 + r.seconds - (r.offset ?? 0)
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
    /// Rows the rule kept with a smaller quantity (partial cancellations); their lost value is in `revenue`.
    public var rowsReduced: Int = 0
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

    /// Which rows repeat an earlier row of the file in every column the spec reads (the first copy is not marked).
    static func duplicateLines(
        _ table: Table, spec: TransactionSpec, customer: StringColumn, dateText: StringColumn, numbers: [[Double]?]
    ) throws -> [Bool] {
        struct Key: Hashable {
            var codes: [Int32]
            var numbers: [UInt64]
        }
        let texts = try [spec.invoice, spec.product].compactMap { $0 }.map { try table.strings($0).codes }
        let numberColumns = numbers.compactMap { $0 }
        var seen = Set<Key>()
        seen.reserveCapacity(table.rowCount)
        return (0..<table.rowCount).map { r in
            let key = Key(
                codes: [customer.codes[r], dateText.codes[r]] + texts.map { $0[r] },
                numbers: numberColumns.map { $0[r] == 0 ? 0 : $0[r].bitPattern })
            return !seen.insert(key).inserted
        }
    }

    /// How cancellations net against the lines they reverse.
    struct Netting {
        /// Order lines removed by a cancellation of the same customer, product and (remaining) quantity.
        var exact: [Bool]
        /// Quantity taken off each line by partial cancellations.
        var reducedQuantity: [Double]
        /// Each line's quantity after netting (0 for removed lines).
        var remaining: [Double]
        /// Cancellation lines that took some quantity off an earlier line.
        var netted: [Bool]
    }

    /// Nets each cancellation, in time order (ties in file order), against the order lines still present in
    /// `keep` that are not cancellations, have a customer and a positive quantity, and come before it:
    /// 1. the latest earlier line of the same customer and product whose remaining quantity equals the
    ///    cancellation's |quantity| is removed (an exact match);
    /// 2. without one, the earlier lines of that customer and product lose quantity, most recent first, until
    ///    the cancelled quantity is used up or the lines are;
    /// 3. a cancellation without a customer or without an earlier line takes nothing.
    static func netCancellations(
        customer: [Int32], missingCustomer: Int32?, product: [Int32], time: [Int], quantity: [Double], isCancellation: (Int) -> Bool,
        keep: [Bool]
    ) -> Netting {
        let n = customer.count
        var netting = Netting(
            exact: [Bool](repeating: false, count: n), reducedQuantity: [Double](repeating: 0, count: n), remaining: quantity,
            netted: [Bool](repeating: false, count: n))
        struct Pair: Hashable {
            var customer: Int32
            var product: Int32
        }
        // Lines seen so far (all earlier than the current row), per customer and product, in time order.
        var earlier: [Pair: [Int]] = [:]
        let order = (0..<n).filter { keep[$0] && customer[$0] != missingCustomer }.sorted { (time[$0], $0) < (time[$1], $1) }
        for r in order {
            let pair = Pair(customer: customer[r], product: product[r])
            guard isCancellation(r) else {
                if quantity[r] > 0 { earlier[pair, default: []].append(r) }
                continue
            }
            guard let lines = earlier[pair] else { continue }
            var wanted = abs(quantity[r])
            guard wanted > 0 else { continue }
            if let hit = lines.last(where: { netting.remaining[$0] == wanted }) {
                netting.exact[hit] = true
                netting.remaining[hit] = 0
                netting.netted[r] = true
                continue
            }
            for line in lines.reversed() where netting.remaining[line] > 0 {
                let taken = min(wanted, netting.remaining[line])
                netting.remaining[line] -= taken
                netting.reducedQuantity[line] += taken
                netting.netted[r] = true
                wanted -= taken
                if wanted <= 0 { break }
            }
        }
        return netting
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
        var lineValue: [Double] =
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
        /// `revenue`: the value the rule took away, when it is not that of the rows it removes (reductions).
        func apply(_ rule: String, revenue given: Double? = nil, rowsReduced: Int = 0, _ drop: (Int) -> Bool) {
            let before = distinctCustomers()
            var rows = 0
            var revenue = 0.0
            for r in 0..<n where keep[r] && drop(r) {
                keep[r] = false
                rows += 1
                revenue += lineValue[r]
            }
            steps.append(
                CleaningStep(rule: rule, rows: rows, customers: before - distinctCustomers(), revenue: given ?? revenue, rowsReduced: rowsReduced))
        }

        let c = spec.cleaning
        if c.duplicateLines == .drop {
            let duplicate = try duplicateLines(table, spec: spec, customer: customer, dateText: dateText, numbers: [quantity, price, lineValue])
            apply("duplicate line (equal in every column read)") { duplicate[$0] }
        }
        if let prefix = c.cancellationPrefix, let inv = spec.invoice {
            let invoice = try table.strings(inv)
            let cancelled = invoice.levels.map { $0.hasPrefix(prefix) }
            let isCancellation = { (r: Int) in cancelled[Int(invoice.codes[r])] }
            if c.cancellations == .net {
                guard spec.missingNettingColumns.isEmpty, let quantity, let productColumn = spec.product else {
                    throw DataError(
                        file: spec.file,
                        message:
                            "cancellations: net needs the columns \(spec.missingNettingColumns.map { "'\($0)'" }.joined(separator: ", ")) in spec '\(spec.name)'"
                    )
                }
                var dayOrder = [Int](repeating: 0, count: dateText.levels.count)
                for (k, text) in dateText.levels.enumerated() { dayOrder[k] = spec.instant(text) ?? dayOfLevel[k] * 86_400 }
                let netting = netCancellations(
                    customer: customer.codes, missingCustomer: missingCode, product: try table.strings(productColumn).codes,
                    time: dateText.codes.map { dayOrder[Int($0)] }, quantity: quantity, isCancellation: isCancellation, keep: keep)
                // A line's value is its quantity times its unit value; the value at removal is what the exact rule takes.
                var reducedValue = 0.0
                for r in 0..<n where netting.reducedQuantity[r] > 0 || netting.exact[r] {
                    let unit = quantity[r] != 0 ? lineValue[r] / quantity[r] : 0
                    reducedValue += netting.reducedQuantity[r] * unit
                    lineValue[r] = (netting.exact[r] ? quantity[r] - netting.reducedQuantity[r] : netting.remaining[r]) * unit
                }
                apply("cancelled order line (same customer, product and quantity)") { netting.exact[$0] }
                let reducedRows = (0..<n).count(where: { keep[$0] && netting.reducedQuantity[$0] > 0 && netting.remaining[$0] > 0 })
                apply("partly cancelled order line (quantity reduced)", revenue: reducedValue, rowsReduced: reducedRows) {
                    netting.reducedQuantity[$0] > 0 && netting.remaining[$0] <= 0
                }
                apply("cancellation netted (invoice starts with '\(prefix)')") { isCancellation($0) && netting.netted[$0] }
                apply("cancellation not matched to an earlier order line (invoice starts with '\(prefix)')") { isCancellation($0) }
            } else {
                apply("cancellation (invoice starts with '\(prefix)')") { isCancellation($0) }
            }
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

extension TransactionSpec.Cleaning {
    /// The duplicate and cancellation rules in words, for reports (empty when they change nothing).
    public var explanation: String {
        var sentences: [String] = []
        if duplicateLines == .drop {
            sentences.append(
                "A line equal to an earlier line in every column read (customer, date and time, invoice, product, quantity, price) is a duplicate and is dropped."
            )
        }
        if cancellations == .net, let prefix = cancellationPrefix {
            sentences.append(
                "A cancellation (invoice starting with '\(prefix)') removes the order line it reverses: the latest earlier line of the same customer and product whose quantity equals the cancelled quantity. Without such a line it takes the cancelled quantity off that customer's earlier lines of the product, most recent first (a partial cancellation); a cancellation with no earlier line of the customer and product takes nothing. Every cancellation line is then dropped."
            )
        }
        return sentences.joined(separator: " ")
    }
}
