import Foundation
import Tabular

/// A read-only Office Open XML spreadsheet (.xlsx), read with a streaming byte-level XML scanner:
/// sheets are decompressed and scanned chunk by chunk, so even sheets of hundreds of MB of XML
/// never sit in memory whole.
///
/// Cell values become text the way a CSV export should show them: numbers in shortest round-trip
/// form (`13085`, `6.95`), cells with a date/time number format as `YYYY-MM-DD HH:MM:SS` (time-only
/// formats as `HH:MM:SS` for values under a day), booleans as `TRUE`/`FALSE`, error cells as their
/// code (`#N/A`), and empty or missing cells as "".
public final class Workbook {
    /// The .xlsx file.
    public let path: String
    /// Sheet names in workbook (tab) order.
    public let sheetNames: [String]
    /// Whether the workbook uses the 1904 date system (Mac Excel 2008 and older) instead of 1900.
    public let date1904: Bool

    private let zip: ZipContainer
    private let sheetParts: [String]
    private let sharedStringsPart: String?
    private let stylesPart: String?
    private var cachedSharedStrings: SharedStringTable? = nil
    private var cachedFormatKinds: [NumberFormatKind]? = nil

    private static let relationshipTypeSuffix = (
        officeDocument: "/officeDocument",
        worksheet: "/worksheet",
        sharedStrings: "/sharedStrings",
        styles: "/styles"
    )

    /// Opens a workbook and reads its sheet list; cell data is read only when asked for.
    public static func open(path: String) throws -> Workbook {
        try Workbook(path: path)
    }

    private init(path: String) throws {
        self.path = path
        let zip = try ZipContainer(path: path, kind: "an .xlsx workbook")
        self.zip = zip

        // The package relationships name the main part (normally xl/workbook.xml).
        var workbookPart = "xl/workbook.xml"
        if zip.contains("_rels/.rels") {
            let rels = try Self.parse(zip, path, "_rels/.rels", RelationshipsHandler()).relationships
            if let main = rels.first(where: { $0.type.hasSuffix(Self.relationshipTypeSuffix.officeDocument) && !$0.external }) {
                workbookPart = Self.resolve(main.target, relativeTo: "")
            }
        }
        guard zip.contains(workbookPart) else {
            throw DataError(file: path, message: "not an .xlsx workbook: the archive has no workbook part '\(workbookPart)'")
        }
        let book = try Self.parse(zip, path, workbookPart, WorkbookPartHandler())
        date1904 = book.date1904

        let baseDir = workbookPart.contains("/") ? String(workbookPart[..<workbookPart.lastIndex(of: "/")!]) : ""
        let fileName = workbookPart.split(separator: "/").last.map(String.init) ?? workbookPart
        let relsPart = (baseDir.isEmpty ? "" : baseDir + "/") + "_rels/" + fileName + ".rels"
        guard zip.contains(relsPart) else {
            throw DataError(file: path, message: "broken .xlsx workbook: missing part '\(relsPart)' (the workbook's relationships)")
        }
        let rels = try Self.parse(zip, path, relsPart, RelationshipsHandler()).relationships
        var byId: [String: Relationship] = [:]
        for r in rels { byId[r.id] = r }

        var parts: [String] = []
        for sheet in book.sheets {
            guard let rel = byId[sheet.relationshipId] else {
                throw DataError(
                    file: path,
                    message: "broken .xlsx workbook: sheet '\(sheet.name)' refers to relationship '\(sheet.relationshipId)', which \(relsPart) does not define")
            }
            guard rel.type.hasSuffix(Self.relationshipTypeSuffix.worksheet) else {
                throw DataError(
                    file: path,
                    message: "sheet '\(sheet.name)' is not a worksheet (relationship type \(rel.type)); chart sheets and dialog sheets hold no cells")
            }
            let part = Self.resolve(rel.target, relativeTo: baseDir)
            guard zip.contains(part) else {
                throw DataError(file: path, message: "broken .xlsx workbook: missing part '\(part)' of sheet '\(sheet.name)'")
            }
            parts.append(part)
        }
        sheetNames = book.sheets.map(\.name)
        sheetParts = parts

        func optionalPart(_ suffix: String, _ fallback: String) -> String? {
            if let rel = rels.first(where: { $0.type.hasSuffix(suffix) && !$0.external }) {
                let part = Self.resolve(rel.target, relativeTo: baseDir)
                if zip.contains(part) { return part }
            }
            return zip.contains(fallback) ? fallback : nil
        }
        sharedStringsPart = optionalPart(Self.relationshipTypeSuffix.sharedStrings, "xl/sharedStrings.xml")
        stylesPart = optionalPart(Self.relationshipTypeSuffix.styles, "xl/styles.xml")
    }

    // MARK: - Reading rows

    /// Streams the rows of a sheet that have at least one non-empty cell, in file order.
    /// `values` holds one entry per column from A up to the row's last non-empty cell (cells
    /// missing from the sparse XML are ""); `rowNumber` is the 1-based row number in the sheet.
    public func forEachRow(sheet: String, _ body: (_ rowNumber: Int, _ values: [String]) throws -> Void) throws {
        try withoutActuallyEscaping(body) { body in
            _ = try scan(sheet: sheet, sink: StringRowSink(body: body))
        }
    }

    /// All non-empty rows of a sheet (see `forEachRow`), without their row numbers.
    public func rows(sheet: String) throws -> [[String]] {
        var result: [[String]] = []
        try forEachRow(sheet: sheet) { _, values in result.append(values) }
        return result
    }

    /// The shared string table (empty when the workbook has none).
    public func sharedStrings() throws -> [String] {
        try sharedStringTable().strings
    }

    private func sharedStringTable() throws -> SharedStringTable {
        if let cachedSharedStrings { return cachedSharedStrings }
        var table = SharedStringTable.empty()
        if let part = sharedStringsPart {
            table = try Self.parse(zip, path, part, SharedStringsHandler()).table
        }
        cachedSharedStrings = table
        return table
    }

    /// How each cell style (the `s` attribute of a cell) shows numbers.
    func formatKinds() throws -> [NumberFormatKind] {
        if let cachedFormatKinds { return cachedFormatKinds }
        var kinds: [NumberFormatKind] = []
        if let part = stylesPart {
            kinds = try Self.parse(zip, path, part, StylesHandler()).cellFormatKinds
        }
        cachedFormatKinds = kinds
        return kinds
    }

    /// Streams a sheet's rows into `sink` and returns the sink.
    private func scan<S: RowSink>(sheet: String, sink: S) throws -> S {
        guard let index = sheetNames.firstIndex(of: sheet) else {
            throw DataError(file: path, message: "the workbook has no sheet '\(sheet)' (sheets: \(sheetNames.map { "'\($0)'" }.joined(separator: ", ")))")
        }
        let handler = SheetHandler(sharedStrings: try sharedStringTable(), formatKinds: try formatKinds(), date1904: date1904, sink: sink)
        var stream = XMLStream(handler: handler)
        let part = sheetParts[index]
        try Self.translatingErrors(path, "sheet '\(sheet)' (\(part))") {
            try zip.stream(part) { try stream.feed($0) }
            try stream.finish()
        }
        return stream.handler.sink
    }

    // MARK: - CSV

    /// Converts sheets (all, in workbook order, unless `sheets` names some) into one CSV: the
    /// header row of the first sheet, then the data rows of each sheet in turn. Every sheet's first
    /// non-empty row is its header and must equal the first sheet's. Rows without any value are
    /// skipped; shorter rows are padded with empty fields; a value to the right of the header's
    /// last column is an error. The file is written atomically.
    /// - Returns: the number of data rows written and the sheets they came from.
    @discardableResult
    public static func convertToCSV(xlsxPath: String, csvPath: String, sheets: [String]? = nil) throws -> (rows: Int, sheets: [String]) {
        let book = try open(path: xlsxPath)
        let (bytes, rows, names) = try book.csv(sheets: sheets)
        try AtomicFile.write(bytes, to: csvPath)
        return (rows, names)
    }

    /// The CSV text `convertToCSV` writes, with the data row count and sheet names.
    public func csv(sheets: [String]? = nil) throws -> (bytes: [UInt8], rows: Int, sheets: [String]) {
        let names = sheets ?? sheetNames
        guard !names.isEmpty else {
            throw DataError(file: path, message: "the workbook has no sheets to convert")
        }
        let out = ByteBuffer(capacity: 1 << 20)
        var header: [[UInt8]]? = nil
        var rowCount = 0
        for name in names {
            let sink = CSVRowSink(out: out, file: path, sheet: name, header: header, headerSheet: names[0])
            let done = try scan(sheet: name, sink: sink)
            guard done.sawHeader else {
                throw DataError(file: path, message: "sheet '\(name)' is empty: it has no header row")
            }
            header = done.header
            rowCount += done.dataRows
        }
        return (Array(out.bytes), rowCount, names)
    }

    // MARK: - Helpers

    /// The letters of a 0-based column index: 0 → A, 25 → Z, 26 → AA.
    public static func columnName(_ index: Int) -> String {
        var n = index + 1
        var letters: [UInt8] = []
        while n > 0 {
            n -= 1
            letters.append(UInt8(0x41 + n % 26))
            n /= 26
        }
        return String(decoding: letters.reversed(), as: UTF8.self)
    }

    /// A relationship target resolved against the directory of the part that owns the relationships.
    static func resolve(_ target: String, relativeTo baseDir: String) -> String {
        var segments: [Substring] = []
        let full = target.hasPrefix("/") ? String(target.dropFirst()) : (baseDir.isEmpty ? target : baseDir + "/" + target)
        for s in full.split(separator: "/", omittingEmptySubsequences: true) {
            if s == "." { continue }
            if s == ".." { _ = segments.popLast(); continue }
            segments.append(s)
        }
        return segments.joined(separator: "/")
    }

    private static func parse<H: XMLEventHandler>(_ zip: ZipContainer, _ file: String, _ part: String, _ handler: H) throws -> H {
        let bytes = try zip.read(part)
        return try translatingErrors(file, part) { try XMLStream.parse(bytes, handler: handler) }
    }

    /// Turns scanner and content errors into `DataError`s naming the file and part.
    private static func translatingErrors<T>(_ file: String, _ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as XMLSyntaxError {
            throw DataError(file: file, message: "malformed XML in \(what) at byte offset \(e.offset): \(e.message)")
        } catch let e as PartContentError {
            throw DataError(file: file, message: "\(what): \(e.message)")
        }
    }
}
