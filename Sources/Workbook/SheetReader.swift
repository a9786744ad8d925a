import Tabular

/// Streams the rows of a worksheet part (`<sheetData><row><c>...`) as text values.
struct SheetHandler: XMLEventHandler {
    typealias RowBody = (_ rowNumber: Int, _ values: [String]) throws -> Void

    private enum CellType { case number, sharedString, string, inlineString, boolean, error, isoDate }

    let sharedStrings: [String]
    let formatKinds: [NumberFormatKind]
    let date1904: Bool
    let body: RowBody

    private var inSheetData = false
    private var inRow = false
    private var rowNumber = 0
    private var lastColumn = -1
    private var values: [String] = []

    private var inCell = false
    private var cellColumn = 0
    private var cellType = CellType.number
    private var cellStyle = 0
    private var inInlineString = false
    private var phoneticDepth = 0
    private var capturing = false
    private var sawValue = false
    private var text: [UInt8] = []

    // Consecutive rows often share a timestamp: remember the last conversion.
    private var lastDateRaw: [UInt8] = []
    private var lastDateKind = NumberFormatKind.number
    private var lastDateText = ""

    /// Excel's limit (column XFD); a reference beyond it is corrupt, not a wide sheet.
    static let maxColumns = 16_384

    init(sharedStrings: [String], formatKinds: [NumberFormatKind], date1904: Bool, body: @escaping RowBody) {
        self.sharedStrings = sharedStrings
        self.formatKinds = formatKinds
        self.date1904 = date1904
        self.body = body
        values.reserveCapacity(16)
        text.reserveCapacity(256)
    }

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        let n = name.count
        let first = n > 0 ? name[0] : 0
        if n == 1 && first == 0x63 { // c
            guard inRow else { return }
            try startCell(attributes)
        } else if n == 1 && first == 0x76 { // v
            if inCell && !inInlineString {
                capturing = true
                sawValue = true
                text.removeAll(keepingCapacity: true)
            }
        } else if n == 1 && first == 0x74 { // t
            if inInlineString && phoneticDepth == 0 {
                capturing = true
                sawValue = true
            }
        } else if n == 3 && name.equals("row") {
            guard inSheetData else { return }
            try startRow(attributes)
        } else if n == 2 && name.equals("is") {
            if inCell {
                inInlineString = true
                text.removeAll(keepingCapacity: true)
            }
        } else if n == 3 && name.equals("rPh") {
            phoneticDepth += 1
        } else if n == 9 && name.equals("sheetData") {
            inSheetData = true
        }
    }

    mutating func endElement(_ name: XMLBytes) throws {
        let n = name.count
        let first = n > 0 ? name[0] : 0
        if n == 1 && (first == 0x76 || first == 0x74) { // v, t
            capturing = false
        } else if n == 1 && first == 0x63 { // c
            if inCell { try endCell() }
        } else if n == 3 && name.equals("row") {
            if inRow { try endRow() }
        } else if n == 2 && name.equals("is") {
            inInlineString = false
        } else if n == 3 && name.equals("rPh") {
            phoneticDepth -= 1
        } else if n == 9 && name.equals("sheetData") {
            inSheetData = false
        }
    }

    mutating func characters(_ raw: XMLBytes, isCDATA: Bool) throws {
        guard capturing else { return }
        if isCDATA { text.append(contentsOf: raw) } else { try XMLText.decode(raw, into: &text) }
    }

    // MARK: Rows

    private mutating func startRow(_ attributes: XMLAttributes) throws {
        var number: Int? = nil
        try attributes.forEach { name, value in
            if name.count == 1 && name[0] == 0x72 { // r
                guard let r = parseDecimalInt(value.trimmingXMLSpace()), r >= 1 else {
                    throw PartContentError(message: "row has an invalid number r=\"\(value.utf8String)\"")
                }
                number = r
                return false
            }
            return true
        }
        rowNumber = number ?? rowNumber + 1
        inRow = true
        lastColumn = -1
        values.removeAll(keepingCapacity: true)
    }

    private mutating func endRow() throws {
        inRow = false
        while let last = values.last, last.isEmpty { values.removeLast() }
        if !values.isEmpty { try body(rowNumber, values) }
    }

    // MARK: Cells

    private mutating func startCell(_ attributes: XMLAttributes) throws {
        var column: Int? = nil
        var type = CellType.number
        var style = 0
        try attributes.forEach { name, value in
            guard name.count == 1 else { return true }
            switch name[0] {
            case 0x72: // r="B3"
                column = try parseColumn(value)
            case 0x74: // t
                switch value.count {
                case 1 where value[0] == 0x73: type = .sharedString
                case 1 where value[0] == 0x6E: type = .number
                case 1 where value[0] == 0x62: type = .boolean
                case 1 where value[0] == 0x65: type = .error
                case 1 where value[0] == 0x64: type = .isoDate
                case 3 where value.equals("str"): type = .string
                case 9 where value.equals("inlineStr"): type = .inlineString
                default:
                    throw PartContentError(message: "cell \(cellReference(column ?? lastColumn + 1)) has unknown type t=\"\(value.utf8String)\"")
                }
            case 0x73: // s
                style = parseDecimalInt(value.trimmingXMLSpace()) ?? 0
            default:
                break
            }
            return true
        }
        cellColumn = column ?? lastColumn + 1
        guard cellColumn < Self.maxColumns else {
            throw PartContentError(message: "row \(rowNumber) has a cell beyond column XFD (the last column a sheet can have)")
        }
        lastColumn = cellColumn
        cellType = type
        cellStyle = style
        inCell = true
        inInlineString = false
        phoneticDepth = 0
        capturing = false
        sawValue = false
        text.removeAll(keepingCapacity: true)
    }

    /// Column index (0-based) of a reference like `B3` (letters, then the row number).
    private func parseColumn(_ ref: XMLBytes) throws -> Int {
        var col = 0
        var i = 0
        while i < ref.count {
            let c = ref[i] | 0x20 // lower case
            guard c >= 0x61 && c <= 0x7A else { break }
            col = col * 26 + Int(c - 0x60)
            if col > Self.maxColumns { break }
            i += 1
        }
        guard i > 0, col <= Self.maxColumns else {
            throw PartContentError(message: "row \(rowNumber) has a cell with an invalid reference r=\"\(ref.utf8String)\"")
        }
        return col - 1
    }

    private mutating func endCell() throws {
        inCell = false
        capturing = false
        let value: String
        if !sawValue {
            value = ""
        } else {
            switch cellType {
            case .sharedString:
                let index = text.withUnsafeBufferPointer { parseDecimalInt($0.trimmingXMLSpace()) }
                guard let index, index < sharedStrings.count else {
                    throw PartContentError(message: "cell \(cellReference(cellColumn)) refers to shared string \(String(decoding: text, as: UTF8.self)), but the table has \(sharedStrings.count) strings")
                }
                value = sharedStrings[index]
            case .number:
                value = try numberText()
            case .string, .error:
                value = String(decoding: text, as: UTF8.self)
            case .inlineString:
                XMLText.decodeOOXMLEscapes(&text)
                value = String(decoding: text, as: UTF8.self)
            case .boolean:
                switch text.count == 1 ? text[0] : 0 {
                case 0x31: value = "TRUE"
                case 0x30: value = "FALSE"
                default:
                    throw PartContentError(message: "cell \(cellReference(cellColumn)) is boolean but holds '\(String(decoding: text, as: UTF8.self))'")
                }
            case .isoDate:
                value = isoDateText()
            }
        }
        if cellColumn < values.count {
            values[cellColumn] = value
        } else if !value.isEmpty {
            while values.count < cellColumn { values.append("") }
            values.append(value)
        }
    }

    private mutating func numberText() throws -> String {
        let parsed: Double? = text.withUnsafeBufferPointer { buf in
            let t = buf.trimmingXMLSpace()
            return t.count == 0 ? .nan : NumberParsing.parseDouble(t)
        }
        guard let number = parsed else {
            throw PartContentError(message: "cell \(cellReference(cellColumn)) is numeric but holds '\(String(decoding: text, as: UTF8.self))'")
        }
        if number.isNaN { return "" }
        let kind = cellStyle < formatKinds.count ? formatKinds[cellStyle] : .number
        if kind == .number { return formatDouble(number) }
        if kind == lastDateKind && text == lastDateRaw { return lastDateText }
        let formatted: String?
        if kind == .time && number < 1 {
            formatted = ExcelDate.timeString(serial: number)
        } else {
            formatted = ExcelDate.string(serial: number, date1904: date1904)
        }
        // A value that is no valid date (negative, too large) is shown as the number, as Excel would
        // show '#####' rather than invent a date.
        let result = formatted ?? formatDouble(number)
        lastDateRaw = text
        lastDateKind = kind
        lastDateText = result
        return result
    }

    /// `t="d"` cells hold ISO 8601 text: shown as `YYYY-MM-DD HH:MM:SS` like serial dates.
    private func isoDateText() -> String {
        var b = text
        if b.count == 10 { b.append(contentsOf: Array(" 00:00:00".utf8)) }
        if b.count >= 19 && b[10] == 0x54 { // T
            b[10] = 0x20
            b.removeSubrange(19...)
        }
        return String(decoding: b, as: UTF8.self)
    }

    private func cellReference(_ column: Int) -> String {
        Workbook.columnName(column) + String(rowNumber)
    }
}
