import Tabular

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The non-empty cells of one row, as byte spans of their display text in a shared buffer,
/// sorted by column (each column at most once).
struct RowCells {
    let bytes: ByteBuffer
    fileprivate(set) var columns: [Int] = []
    fileprivate(set) var starts: [Int] = []
    fileprivate(set) var ends: [Int] = []
    fileprivate(set) var count = 0

    init(bytes: ByteBuffer) {
        self.bytes = bytes
    }

    @inline(__always) func text(_ k: Int) -> XMLBytes {
        bytes.bytes.slice(starts[k], ends[k])
    }

    /// Values from column A up to the last non-empty cell, "" where there is no cell.
    func strings() -> [String] {
        guard count > 0 else { return [] }
        var values = [String](repeating: "", count: columns[count - 1] + 1)
        for k in 0..<count { values[columns[k]] = text(k).utf8String }
        return values
    }

    fileprivate mutating func reset() {
        count = 0
        bytes.reset()
    }

    fileprivate mutating func add(column: Int, start: Int, end: Int) {
        if count < columns.count {
            columns[count] = column
            starts[count] = start
            ends[count] = end
        } else {
            columns.append(column)
            starts.append(start)
            ends.append(end)
        }
        count += 1
    }

    /// Sorts cells by column, keeping the last of any duplicates (only needed for files whose
    /// cells are out of order, which Excel never writes).
    fileprivate mutating func normalize() {
        let order = (0..<count).sorted { columns[$0] < columns[$1] || (columns[$0] == columns[$1] && $0 < $1) }
        var c: [Int] = [], s: [Int] = [], e: [Int] = []
        for k in order {
            if let last = c.last, last == columns[k] {
                s[s.count - 1] = starts[k]
                e[e.count - 1] = ends[k]
            } else {
                c.append(columns[k]); s.append(starts[k]); e.append(ends[k])
            }
        }
        columns = c; starts = s; ends = e; count = c.count
    }
}

/// Receives the rows of a sheet that have at least one non-empty cell.
protocol RowSink {
    mutating func row(_ rowNumber: Int, _ cells: RowCells) throws
}

/// Streams the rows of a worksheet part (`<sheetData><row><c>...`) as display text.
struct SheetHandler<Sink: RowSink>: XMLEventHandler {
    private enum CellType { case number, sharedString, string, inlineString, boolean, error, isoDate }

    let sharedStrings: SharedStringTable
    let formatKinds: [NumberFormatKind]
    let date1904: Bool
    var sink: Sink

    private var inSheetData = false
    private var inRow = false
    private var rowNumber = 0
    private var lastColumn = -1
    private var lastStoredColumn = -1
    private var ordered = true
    private var cells: RowCells

    private var inCell = false
    private var cellColumn = 0
    private var cellType = CellType.number
    private var cellStyle = 0
    private var inInlineString = false
    private var phoneticDepth = 0
    private var capturing = false
    private var sawValue = false
    private let text = ByteBuffer()

    // Consecutive rows often share a timestamp: remember the last conversion.
    private let lastDateRaw = ByteBuffer(capacity: 32)
    private var lastDateKind = NumberFormatKind.number
    private let lastDateText = ByteBuffer(capacity: 32)

    /// Excel's limit (column XFD); a reference beyond it is corrupt, not a wide sheet.
    static var maxColumns: Int { 16_384 }

    init(sharedStrings: SharedStringTable, formatKinds: [NumberFormatKind], date1904: Bool, sink: Sink) {
        self.sharedStrings = sharedStrings
        self.formatKinds = formatKinds
        self.date1904 = date1904
        self.sink = sink
        cells = RowCells(bytes: ByteBuffer(capacity: 1024))
    }

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        let n = name.count
        let first = n > 0 ? name[0] : 0
        if n == 1 && first == 0x63 {  // c
            guard inRow else { return }
            try startCell(attributes)
        } else if n == 1 && first == 0x76 {  // v
            if inCell && !inInlineString {
                capturing = true
                sawValue = true
                text.reset()
            }
        } else if n == 1 && first == 0x74 {  // t
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
                text.reset()
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
        if n == 1 && (first == 0x76 || first == 0x74) {  // v, t
            capturing = false
        } else if n == 1 && first == 0x63 {  // c
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
        if isCDATA { text.append(raw) } else { try XMLText.decode(raw, into: text) }
    }

    // MARK: Rows

    private mutating func startRow(_ attributes: XMLAttributes) throws {
        var number: Int? = nil
        var attrs = attributes
        while let (name, value) = try attrs.next() {
            if name.count == 1 && name[0] == 0x72 {  // r
                guard let r = parseDecimalInt(value.trimmingXMLSpace()), r >= 1 else {
                    throw PartContentError(message: "row has an invalid number r=\"\(value.utf8String)\"")
                }
                number = r
                break
            }
        }
        rowNumber = number ?? rowNumber + 1
        inRow = true
        lastColumn = -1
        lastStoredColumn = -1
        ordered = true
        cells.reset()
    }

    private mutating func endRow() throws {
        inRow = false
        guard cells.count > 0 else { return }
        if !ordered { cells.normalize() }
        try sink.row(rowNumber, cells)
    }

    // MARK: Cells

    private mutating func startCell(_ attributes: XMLAttributes) throws {
        var column: Int? = nil
        var type = CellType.number
        var style = 0
        var attrs = attributes
        while let (name, value) = try attrs.next() {
            guard name.count == 1 else { continue }
            switch name[0] {
            case 0x72:  // r="B3"
                column = try Self.parseColumn(value, row: rowNumber)
            case 0x74:  // t
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
            case 0x73:  // s
                style = parseDecimalInt(value.trimmingXMLSpace()) ?? 0
            default:
                break
            }
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
        text.reset()
    }

    /// Column index (0-based) of a reference like `B3` (letters, then the row number).
    private static func parseColumn(_ ref: XMLBytes, row rowNumber: Int) throws -> Int {
        var col = 0
        var i = 0
        while i < ref.count {
            let c = ref[i] | 0x20  // lower case
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
        guard sawValue else { return }
        let out = cells.bytes
        let start = out.count
        switch cellType {
        case .sharedString:
            guard let index = parseDecimalInt(text.bytes.trimmingXMLSpace()), index < sharedStrings.count else {
                throw PartContentError(
                    message: "cell \(cellReference(cellColumn)) refers to shared string \(text.string), but the table has \(sharedStrings.count) strings")
            }
            out.append(sharedStrings.item(index))
        case .number:
            try appendNumber(to: out)
        case .string, .error:
            out.append(text)
        case .inlineString:
            XMLText.decodeOOXMLEscapes(text)
            out.append(text)
        case .boolean:
            switch text.count == 1 ? text[0] : 0 {
            case 0x31: out.append(0x54); out.append(0x52); out.append(0x55); out.append(0x45)  // TRUE
            case 0x30: out.append(0x46); out.append(0x41); out.append(0x4C); out.append(0x53); out.append(0x45)  // FALSE
            default:
                throw PartContentError(message: "cell \(cellReference(cellColumn)) is boolean but holds '\(text.string)'")
            }
        case .isoDate:
            appendISODate(to: out)
        }
        let end = out.count
        guard end > start else { return }  // empty cells are left out, as if missing
        if cellColumn <= lastStoredColumn { ordered = false }
        lastStoredColumn = cellColumn
        cells.add(column: cellColumn, start: start, end: end)
    }

    private mutating func appendNumber(to out: ByteBuffer) throws {
        let raw = text.bytes.trimmingXMLSpace()
        guard raw.count > 0 else { return }
        let kind = cellStyle < formatKinds.count ? formatKinds[cellStyle] : .number
        if kind == .number && NumberText.isShortestForm(raw) {
            out.append(raw)  // already what formatDouble would print
            return
        }
        guard let number = NumberParsing.parseDouble(raw) else {
            throw PartContentError(message: "cell \(cellReference(cellColumn)) is numeric but holds '\(text.string)'")
        }
        if kind == .number {
            NumberText.append(number, to: out)
            return
        }
        if kind == lastDateKind && text.equals(lastDateRaw) {
            out.append(lastDateText)
            return
        }
        let start = out.count
        let ok: Bool
        if kind == .time && number < 1 {
            ok = ExcelDate.appendTime(serial: number, to: out)
        } else {
            ok = ExcelDate.append(serial: number, date1904: date1904, to: out)
        }
        // A value that is no valid date (negative, too large) is shown as the number, as Excel
        // would show '#####' rather than invent a date.
        if !ok { NumberText.append(number, to: out) }
        lastDateRaw.copy(from: text)
        lastDateKind = kind
        lastDateText.reset()
        lastDateText.append(out.bytes.slice(start, out.count))
    }

    /// `t="d"` cells hold ISO 8601 text: shown as `YYYY-MM-DD HH:MM:SS` like serial dates.
    private func appendISODate(to out: ByteBuffer) {
        var b = Array(text.bytes)
        if b.count == 10 { b.append(contentsOf: Array(" 00:00:00".utf8)) }
        if b.count >= 19 && b[10] == 0x54 {  // T
            b[10] = 0x20
            b.removeSubrange(19...)
        }
        b.withUnsafeBufferPointer { out.append($0) }
    }

    private func cellReference(_ column: Int) -> String {
        Workbook.columnName(column) + String(rowNumber)
    }
}

/// Number text in the form of `Tabular.formatDouble` (shortest round-trip, integral values
/// without a fraction), with a fast path that recognizes input already in that form.
enum NumberText {
    static func append(_ v: Double, to out: ByteBuffer) {
        var s = formatDouble(v)
        s.withUTF8 { out.append($0) }
    }

    /// Whether `raw` is exactly what `formatDouble` prints for the number it denotes: an optional
    /// '-', an integer part without superfluous leading zeros, an optional fraction without
    /// trailing zeros, at most 15 significant digits (so the decimal is the shortest that
    /// round-trips), and not below 0.0001 in magnitude (where the shortest form is exponential).
    @inline(__always) static func isShortestForm(_ raw: XMLBytes) -> Bool {
        let n = raw.count
        var i = 0
        if n > 0 && raw[0] == 0x2D { i = 1 }
        let intStart = i
        while i < n && raw[i] &- 0x30 < 10 { i += 1 }
        let intDigits = i - intStart
        guard intDigits >= 1, intDigits <= 15 else { return false }
        let intIsZero = raw[intStart] == 0x30
        if intIsZero && intDigits > 1 { return false }
        if i == n { return true }
        guard raw[i] == 0x2E else { return false }
        i += 1
        let fracStart = i
        while i < n && raw[i] &- 0x30 < 10 { i += 1 }
        let fracDigits = i - fracStart
        guard i == n, fracDigits >= 1, raw[n - 1] != 0x30 else { return false }
        if intIsZero {
            var zeros = 0
            while raw[fracStart + zeros] == 0x30 { zeros += 1 }
            return zeros <= 3 && fracDigits - zeros <= 15
        }
        return intDigits + fracDigits <= 15
    }
}

// MARK: - Sinks

/// Hands rows to a closure as `[String]`.
struct StringRowSink: RowSink {
    let body: (_ rowNumber: Int, _ values: [String]) throws -> Void

    mutating func row(_ rowNumber: Int, _ cells: RowCells) throws {
        try body(rowNumber, cells.strings())
    }
}

/// Appends rows as CSV (RFC 4180, LF line ends, fields quoted only when they contain a comma,
/// quote, CR or LF: the same text as `Tabular.CSVWriter`) and checks each sheet's header.
struct CSVRowSink: RowSink {
    let out: ByteBuffer
    let file: String
    let sheet: String
    /// The header of the first sheet (nil while reading the first sheet's header).
    private(set) var header: [[UInt8]]?
    let headerSheet: String
    private(set) var sawHeader = false
    private(set) var dataRows = 0

    init(out: ByteBuffer, file: String, sheet: String, header: [[UInt8]]?, headerSheet: String) {
        self.out = out
        self.file = file
        self.sheet = sheet
        self.header = header
        self.headerSheet = headerSheet
    }

    mutating func row(_ rowNumber: Int, _ cells: RowCells) throws {
        if !sawHeader {
            sawHeader = true
            var fields = [[UInt8]](repeating: [], count: cells.columns[cells.count - 1] + 1)
            for k in 0..<cells.count { fields[cells.columns[k]] = Array(cells.text(k)) }
            if let header {
                if fields != header {
                    throw DataError(file: file, message: Self.headerMismatch(sheet, rowNumber, fields, headerSheet, header))
                }
            } else {
                header = fields
                write(cells, width: fields.count)
            }
            return
        }
        let width = header!.count
        let lastColumn = cells.columns[cells.count - 1]
        if lastColumn >= width {
            let value = cells.text(cells.count - 1).utf8String
            throw DataError(
                file: file,
                message:
                    "sheet '\(sheet)', cell \(Workbook.columnName(lastColumn))\(rowNumber): value '\(value)' lies to the right of the header's \(width) columns"
            )
        }
        write(cells, width: width)
        dataRows += 1
    }

    private mutating func write(_ cells: RowCells, width: Int) {
        var next = 0  // fields [0, next) are written
        for k in 0..<cells.count {
            let column = cells.columns[k]
            while next < column {
                if next > 0 { out.append(0x2C) }
                next += 1
            }
            if column > 0 { out.append(0x2C) }
            appendField(cells.text(k))
            next = column + 1
        }
        while next < width {
            if next > 0 { out.append(0x2C) }
            next += 1
        }
        out.append(0x0A)
    }

    @inline(__always) private mutating func appendField(_ field: XMLBytes) {
        var needsQuotes = false
        for b in field where b == 0x2C || b == 0x22 || b == 0x0A || b == 0x0D {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            out.append(field)
            return
        }
        out.append(0x22)
        for b in field {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
    }

    private static func headerMismatch(_ sheet: String, _ row: Int, _ fields: [[UInt8]], _ firstSheet: String, _ header: [[UInt8]]) -> String {
        func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }
        var detail = ""
        if let k = (0..<min(fields.count, header.count)).first(where: { fields[$0] != header[$0] }) {
            detail = "column \(Workbook.columnName(k)) is '\(text(fields[k]))' where '\(firstSheet)' has '\(text(header[k]))'"
        } else {
            detail = "it has \(fields.count) columns where '\(firstSheet)' has \(header.count)"
        }
        return "sheet '\(sheet)' has a different header (row \(row)) than sheet '\(firstSheet)': \(detail); "
            + "all sheets must share the first sheet's header [\(header.map(text).joined(separator: ", "))]"
    }
}
