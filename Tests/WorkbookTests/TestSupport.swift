import Foundation
import Tabular

/// Paths of the committed fixtures.
enum Fixture {
    static func path(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            fatalError("missing test fixture Fixtures/\(name)")
        }
        return url.path
    }

    static var xlsx: String { path("online_retail_sample.xlsx") }
    static var zip: String { path("online_retail_sample.zip") }
    static var expectedCSV: String { path("online_retail_sample.expected.csv") }
}

/// A fresh temporary directory per test.
func makeTempDir() throws -> String {
    let dir = NSTemporaryDirectory() + "WorkbookTests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes a zip archive with stored (uncompressed) members, in the given order. Small and
/// self-contained so tests can build workbooks from XML strings without other tools.
func writeZip(_ members: [(String, String)], to path: String) throws {
    var out: [UInt8] = []
    var central: [UInt8] = []
    func u16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: UInt32, _ a: inout [UInt8]) { for k in 0..<4 { a.append(UInt8(v >> (8 * UInt32(k)) & 0xFF)) } }
    for (name, text) in members {
        let data = Array(text.utf8)
        let nameBytes = Array(name.utf8)
        let crc = crc32(data)
        let offset = UInt32(out.count)
        // Local file header.
        u32(0x0403_4B50, &out); u16(20, &out); u16(0x0800, &out); u16(0, &out); u16(0, &out); u16(0x21, &out)
        u32(crc, &out); u32(UInt32(data.count), &out); u32(UInt32(data.count), &out)
        u16(nameBytes.count, &out); u16(0, &out)
        out += nameBytes
        out += data
        // Central directory entry.
        u32(0x0201_4B50, &central); u16(0x031E, &central); u16(20, &central); u16(0x0800, &central); u16(0, &central)
        u16(0, &central); u16(0x21, &central)
        u32(crc, &central); u32(UInt32(data.count), &central); u32(UInt32(data.count), &central)
        u16(nameBytes.count, &central); u16(0, &central); u16(0, &central); u16(0, &central); u16(0, &central)
        u32(0o100644 << 16, &central); u32(offset, &central)
        central += nameBytes
    }
    let cdOffset = UInt32(out.count)
    out += central
    u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
    u32(UInt32(central.count), &out); u32(cdOffset, &out); u16(0, &out)
    try Data(out).write(to: URL(fileURLWithPath: path))
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[i] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

/// Builds a minimal .xlsx from sheet XML bodies (the content of `<sheetData>`), plus optional
/// shared strings (`<si>` items) and styles (a whole `styles.xml`).
func makeXLSX(
    at path: String,
    sheets: [(name: String, sheetData: String)],
    sharedStrings: [String]? = nil,
    styles: String? = nil,
    rawSheetXML: [Int: String] = [:],
    workbookPr: String = ""
) throws {
    let ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    let rns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    let relType = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    var members: [(String, String)] = []
    members.append(
        (
            "[Content_Types].xml",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>
            """
        ))
    members.append(
        (
            "_rels/.rels",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
              <Relationship Id="rId1" Type="\(relType)/officeDocument" Target="xl/workbook.xml"/>
            </Relationships>
            """
        ))
    var sheetList = ""
    var rels = ""
    for (i, sheet) in sheets.enumerated() {
        let escaped = sheet.name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
        sheetList += "<sheet name=\"\(escaped)\" sheetId=\"\(i + 1)\" r:id=\"rId\(i + 10)\"/>"
        rels += "<Relationship Id=\"rId\(i + 10)\" Type=\"\(relType)/worksheet\" Target=\"worksheets/sheet\(i + 1).xml\"/>"
    }
    if sharedStrings != nil {
        rels += "<Relationship Id=\"rId1\" Type=\"\(relType)/sharedStrings\" Target=\"sharedStrings.xml\"/>"
    }
    if styles != nil {
        rels += "<Relationship Id=\"rId2\" Type=\"\(relType)/styles\" Target=\"/xl/styles.xml\"/>"
    }
    members.append(
        (
            "xl/workbook.xml",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="\(ns)" xmlns:r="\(rns)">\(workbookPr)<sheets>\(sheetList)</sheets></workbook>
            """
        ))
    members.append(
        (
            "xl/_rels/workbook.xml.rels",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\(rels)</Relationships>
            """
        ))
    for (i, sheet) in sheets.enumerated() {
        let xml =
            rawSheetXML[i] ?? """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <worksheet xmlns="\(ns)" xmlns:r="\(rns)"><sheetData>\(sheet.sheetData)</sheetData></worksheet>
                """
        members.append(("xl/worksheets/sheet\(i + 1).xml", xml))
    }
    if let sharedStrings {
        members.append(
            (
                "xl/sharedStrings.xml",
                """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <sst xmlns="\(ns)" count="\(sharedStrings.count)" uniqueCount="\(sharedStrings.count)">\(sharedStrings.joined())</sst>
                """
            ))
    }
    if let styles {
        members.append(("xl/styles.xml", styles))
    }
    try writeZip(members, to: path)
}

/// A row of inline-string cells (`t="inlineStr"`), for headers.
func inlineRow(_ r: Int, _ values: [String]) -> String {
    var xml = "<row r=\"\(r)\">"
    for (i, v) in values.enumerated() {
        xml += "<c r=\"\(columnLetters(i))\(r)\" t=\"inlineStr\"><is><t>\(v)</t></is></c>"
    }
    return xml + "</row>"
}

func columnLetters(_ i: Int) -> String {
    var n = i + 1
    var s = ""
    while n > 0 {
        n -= 1
        s = String(UnicodeScalar(UInt8(65 + n % 26))) + s
        n /= 26
    }
    return s
}

/// Runs `body` and returns the `DataError` it throws (nil if it throws nothing or something else).
func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        return nil
    } catch let e as DataError {
        return e
    } catch {
        return nil
    }
}
