import Foundation
import Tabular
import ZIPFoundation

/// Writes a small .xlsx workbook (SpreadsheetML in a zip): one sheet per table, a header row and
/// rows of numbers or text (inline strings, so no shared-string table is needed). The bytes are
/// deterministic: entries in a fixed order with a fixed modification date.
public struct WorkbookWriter {
    public enum Cell: Sendable, Equatable {
        case number(Double)
        case text(String)
        case empty
    }

    struct Sheet {
        var name: String
        var rows: [[Cell]]
    }

    private var sheets: [Sheet] = []

    public init() {}

    /// Adds a sheet; the header becomes its first row. Names must be unique, 1–31 characters,
    /// without any of `[]:*?/\`.
    public mutating func addSheet(name: String, header: [String], rows: [[Cell]]) throws {
        guard !name.isEmpty, name.count <= 31, name.rangeOfCharacter(from: CharacterSet(charactersIn: "[]:*?/\\")) == nil else {
            throw DataError(file: name, message: "invalid sheet name (1–31 characters, none of []:*?/\\)")
        }
        guard !sheets.contains(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw DataError(file: name, message: "duplicate sheet name")
        }
        sheets.append(Sheet(name: name, rows: [header.map { .text($0) }] + rows))
    }

    /// A sheet from a CSV-shaped table: numeric columns as numbers, the others as text.
    public mutating func addSheet(name: String, table: Table) throws {
        var rows: [[Cell]] = []
        for r in 0..<table.rowCount {
            rows.append(
                table.columns.map { column -> Cell in
                    switch column {
                    case .int(let v): return .number(Double(v[r]))
                    case .double(let v): return v[r].isNaN ? .empty : .number(v[r])
                    case .string(let v): return .text(v[r])
                    }
                })
        }
        try addSheet(name: name, header: table.names, rows: rows)
    }

    /// Writes the workbook atomically (temporary file in the same directory, then rename).
    public func write(to path: String) throws {
        try AtomicFile.write(try bytes(), to: path)
    }

    public func bytes() throws -> [UInt8] {
        guard !sheets.isEmpty else { throw DataError(file: "workbook", message: "a workbook needs at least one sheet") }
        let archive: Archive
        do { archive = try Archive(data: Data(), accessMode: .create) } catch {
            throw DataError(file: "workbook", message: "cannot create the zip archive: \(error)")
        }
        var parts: [(String, String)] = [
            ("[Content_Types].xml", contentTypes()),
            (
                "_rels/.rels",
                """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>
                """
            ),
            ("xl/workbook.xml", workbookXML()),
            ("xl/_rels/workbook.xml.rels", workbookRels()),
        ]
        for (i, sheet) in sheets.enumerated() { parts.append(("xl/worksheets/sheet\(i + 1).xml", sheetXML(sheet))) }
        let date = Date(timeIntervalSince1970: 946_728_000)  // 2000-01-01 12:00 UTC: fixed, so the bytes do not depend on the run
        for (path, text) in parts {
            let data = Data(text.utf8)
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: date,
                compressionMethod: .deflate
            ) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let out = archive.data else { throw DataError(file: "workbook", message: "the zip archive has no data") }
        return [UInt8](out)
    }

    private func contentTypes() -> String {
        var s = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
            """
        for i in sheets.indices {
            s +=
                "<Override PartName=\"/xl/worksheets/sheet\(i + 1).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        }
        return s + "</Types>"
    }

    private func workbookXML() -> String {
        var s = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>
            """
        for (i, sheet) in sheets.enumerated() {
            s += "<sheet name=\"\(Self.escape(sheet.name))\" sheetId=\"\(i + 1)\" r:id=\"rId\(i + 1)\"/>"
        }
        return s + "</sheets></workbook>"
    }

    private func workbookRels() -> String {
        var s = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            """
        for i in sheets.indices {
            s +=
                "<Relationship Id=\"rId\(i + 1)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet\(i + 1).xml\"/>"
        }
        return s + "</Relationships>"
    }

    private func sheetXML(_ sheet: Sheet) -> String {
        var s = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
            """
        for (r, row) in sheet.rows.enumerated() {
            s += "<row r=\"\(r + 1)\">"
            for (c, cell) in row.enumerated() {
                let ref = Workbook.columnName(c) + String(r + 1)
                switch cell {
                case .number(let v) where v.isFinite: s += "<c r=\"\(ref)\"><v>\(formatDouble(v))</v></c>"
                case .number, .empty: break
                case .text(let t): s += "<c r=\"\(ref)\" t=\"inlineStr\"><is><t xml:space=\"preserve\">\(Self.escape(t))</t></is></c>"
                }
            }
            s += "</row>"
        }
        return s + "</sheetData></worksheet>"
    }

    /// XML text escaping; characters XML 1.0 cannot carry become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                if u.value < 0x20 && u != "\t" && u != "\n" && u != "\r" { out += "\u{FFFD}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
