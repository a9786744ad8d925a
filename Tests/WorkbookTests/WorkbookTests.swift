import Foundation
import Tabular
import Testing

@testable import Workbook

private let header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]

// MARK: - The LibreOffice fixture

@Test func fixtureConvertsToTheExpectedCSVByteForByte() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let csvPath = dir + "/out/online_retail.csv"
    let result = try Workbook.convertToCSV(xlsxPath: Fixture.xlsx, csvPath: csvPath)
    #expect(result.rows == 12)
    #expect(result.sheets == ["Year 2009-2010", "Year 2010-2011"])
    let actual = try Data(contentsOf: URL(fileURLWithPath: csvPath))
    let expected = try Data(contentsOf: URL(fileURLWithPath: Fixture.expectedCSV))
    #expect(actual == expected, "\(String(decoding: actual, as: UTF8.self))")
    // Written atomically: no temporary files left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out") == ["online_retail.csv"])
}

@Test func fixtureSheetNamesAreInWorkbookOrder() throws {
    let book = try Workbook.open(path: Fixture.xlsx)
    #expect(book.sheetNames == ["Year 2009-2010", "Year 2010-2011"])
    #expect(book.date1904 == false)
}

@Test func fixtureRowsAreSparseAndNumbered() throws {
    let book = try Workbook.open(path: Fixture.xlsx)
    var numbered: [(Int, [String])] = []
    try book.forEachRow(sheet: "Year 2009-2010") { numbered.append(($0, $1)) }
    #expect(numbered.map(\.0) == Array(1...8))
    #expect(numbered[0].1 == header)
    #expect(numbered[1].1 == ["489434", "85048", "15CM CHRISTMAS GLASS BALL 20 LIGHTS", "12", "2009-12-01 07:45:00", "6.95", "13085", "United Kingdom"])
    // The missing Customer ID cell (G7) is an empty value between F and H.
    #expect(numbered[6].1 == ["489465", "84997C", "WHITE CHERRY LIGHTS ", "1", "2009-12-01 10:53:00", "0.29", "", "United Kingdom"])
    // Rich-text runs are joined.
    #expect(numbered[7].1[2] == "LOVE BUILDING BLOCK WORD")

    let rows = try book.rows(sheet: "Year 2010-2011")
    #expect(rows.count == 6)
    #expect(rows[3] == ["536414", "22139", "", "56", "2010-12-01 11:52:00", "0", "", "United Kingdom"])
    #expect(rows[4][2] == "CRÈME BRÛLÉE DISH, SET OF 2 – €")
}

@Test func unknownSheetNameIsAnError() throws {
    let book = try Workbook.open(path: Fixture.xlsx)
    let error = dataError { _ = try book.rows(sheet: "Sheet1") }
    #expect(error?.file == Fixture.xlsx)
    #expect(error?.message.contains("no sheet 'Sheet1'") == true)
    #expect(error?.message.contains("'Year 2009-2010'") == true)
}

// MARK: - Zip archives

@Test func zipMembersAreListed() throws {
    #expect(try ZipArchiveReader.members(of: Fixture.zip) == ["online_retail_sample.xlsx"])
}

@Test func zipMemberIsExtractedAndConverts() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let target = dir + "/raw/online_retail_sample.xlsx"
    try ZipArchiveReader.extract(member: "online_retail_sample.xlsx", from: Fixture.zip, to: target)
    let extracted = try Data(contentsOf: URL(fileURLWithPath: target))
    #expect(extracted == (try Data(contentsOf: URL(fileURLWithPath: Fixture.xlsx))))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/raw") == ["online_retail_sample.xlsx"])
    // Extracting again replaces the file.
    try ZipArchiveReader.extract(member: "online_retail_sample.xlsx", from: Fixture.zip, to: target)
    #expect(try ZipArchiveReader.data(member: "online_retail_sample.xlsx", from: Fixture.zip) == extracted)

    let csvPath = dir + "/online_retail.csv"
    let result = try Workbook.convertToCSV(xlsxPath: target, csvPath: csvPath)
    #expect(result.rows == 12)
    #expect(try Data(contentsOf: URL(fileURLWithPath: csvPath)) == (try Data(contentsOf: URL(fileURLWithPath: Fixture.expectedCSV))))
}

@Test func missingZipMemberIsAnError() throws {
    let error = dataError {
        try ZipArchiveReader.extract(member: "online_retail_II.xlsx", from: Fixture.zip, to: NSTemporaryDirectory() + "/never.xlsx")
    }
    #expect(error?.file == Fixture.zip)
    #expect(error?.message.contains("no member 'online_retail_II.xlsx'") == true)
    #expect(error?.message.contains("online_retail_sample.xlsx") == true)
}

// MARK: - Errors

@Test func nonZipFileIsAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/fake.xlsx"
    try "Invoice,StockCode\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
    let error = dataError { _ = try Workbook.open(path: path) }
    #expect(error?.file == path)
    #expect(error?.message.contains("not an .xlsx workbook") == true)

    let zipError = dataError { _ = try ZipArchiveReader.members(of: path) }
    #expect(zipError?.message.contains("not a zip archive") == true)

    let missing = dataError { _ = try Workbook.open(path: dir + "/nope.xlsx") }
    #expect(missing?.message == "file not found")
}

@Test func zipWithoutWorkbookPartIsAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/other.xlsx"
    try writeZip([("readme.txt", "hello")], to: path)
    let error = dataError { _ = try Workbook.open(path: path) }
    #expect(error?.file == path)
    #expect(error?.message.contains("no workbook part 'xl/workbook.xml'") == true)
}

@Test func malformedWorkbookPartIsAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/badbook.xlsx"
    try writeZip([("xl/workbook.xml", #"<workbook><sheets><sheet name="A" r:id="rId1"></sheets></workbook>"#)], to: path)
    let error = dataError { _ = try Workbook.open(path: path) }
    #expect(error?.file == path)
    #expect(error?.message == "malformed XML in xl/workbook.xml at byte offset 46: end tag </sheets> does not match start tag <sheet>")
}

@Test func missingSheetPartIsAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/broken.xlsx"
    // A workbook whose sheet part is missing from the archive.
    try writeZip(
        [
            ("xl/workbook.xml", #"<workbook xmlns:r="r"><sheets><sheet name="A" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
            (
                "xl/_rels/workbook.xml.rels",
                #"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
            ),
        ], to: path)
    let error = dataError { _ = try Workbook.open(path: path) }
    #expect(error?.message.contains("missing part 'xl/worksheets/sheet1.xml' of sheet 'A'") == true)
}

@Test func sheetsWithDifferentHeadersAreAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/mismatch.xlsx"
    var other = header
    other[2] = "Desc"
    try makeXLSX(
        at: path,
        sheets: [
            (name: "Year 2009-2010", sheetData: inlineRow(1, header) + #"<row r="2"><c r="A2"><v>1</v></c></row>"#),
            (name: "Year 2010-2011", sheetData: inlineRow(1, other) + #"<row r="2"><c r="A2"><v>2</v></c></row>"#),
        ])
    let csvPath = dir + "/out.csv"
    let error = dataError { try Workbook.convertToCSV(xlsxPath: path, csvPath: csvPath) }
    #expect(error?.file == path)
    let message = error?.message ?? ""
    #expect(message.contains("sheet 'Year 2010-2011' has a different header"))
    #expect(message.contains("column C is 'Desc' where 'Year 2009-2010' has 'Description'"))
    #expect(!FileManager.default.fileExists(atPath: csvPath))

    // Converting only the first sheet works.
    let result = try Workbook.convertToCSV(xlsxPath: path, csvPath: csvPath, sheets: ["Year 2009-2010"])
    #expect(result.rows == 1)
    #expect(try String(contentsOfFile: csvPath, encoding: .utf8) == header.joined(separator: ",") + "\n1,,,,,,,\n")

    // A shorter header is a mismatch too.
    try makeXLSX(
        at: path,
        sheets: [
            (name: "A", sheetData: inlineRow(1, header)),
            (name: "B", sheetData: inlineRow(1, Array(header.prefix(7)))),
        ])
    let short = dataError { try Workbook.convertToCSV(xlsxPath: path, csvPath: csvPath) }
    #expect(short?.message.contains("it has 7 columns where 'A' has 8") == true)
}

@Test func emptySheetAndValuesOutsideTheHeaderAreErrors() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/wide.xlsx"
    try makeXLSX(
        at: path,
        sheets: [
            (name: "A", sheetData: inlineRow(1, ["x", "y"]) + #"<row r="2"><c r="A2"><v>1</v></c><c r="D2"><v>4</v></c></row>"#)
        ])
    let wide = dataError { try Workbook.convertToCSV(xlsxPath: path, csvPath: dir + "/out.csv") }
    #expect(wide?.message == "sheet 'A', cell D2: value '4' lies to the right of the header's 2 columns")

    try makeXLSX(at: path, sheets: [(name: "A", sheetData: inlineRow(1, ["x"])), (name: "Empty", sheetData: "")])
    let empty = dataError { try Workbook.convertToCSV(xlsxPath: path, csvPath: dir + "/out.csv") }
    #expect(empty?.message == "sheet 'Empty' is empty: it has no header row")
}

@Test func malformedSheetXMLIsAnError() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/bad.xlsx"
    let cases: [(String, String)] = [
        (#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></row></sheetData></worksheet>"#, "end tag </row> does not match start tag <c>"),
        (#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>"#, "document ends before element <worksheet> is closed"),
        (#"<worksheet><sheetData><row r="1"><c r="A1" t="str"><v>a &bogus; b</v></c></row></sheetData></worksheet>"#, "unknown entity '&bogus;'"),
        (#"<worksheet><sheetData><row r="1"><c r="A1><v>1</v></c></row></sheetData></worksheet>"#, "unterminated start tag"),
        ("", "no root element"),
    ]
    for (xml, expected) in cases {
        try makeXLSX(at: path, sheets: [(name: "S", sheetData: "")], rawSheetXML: [0: xml])
        let book = try Workbook.open(path: path)
        let error = dataError { _ = try book.rows(sheet: "S") }
        #expect(error?.file == path)
        #expect(error?.message.contains("sheet 'S' (xl/worksheets/sheet1.xml)") == true, "\(String(describing: error))")
        #expect(error?.message.contains(expected) == true, "\(String(describing: error)) should mention \(expected)")
    }
}

@Test func badCellContentNamesTheCell() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/cells.xlsx"
    let cases: [(String, String)] = [
        (#"<row r="3"><c r="B3" t="s"><v>7</v></c></row>"#, "cell B3 refers to shared string 7, but the table has 1 strings"),
        (#"<row r="4"><c r="C4"><v>12x</v></c></row>"#, "cell C4 is numeric but holds '12x'"),
        (#"<row r="5"><c r="A5" t="zz"><v>1</v></c></row>"#, "cell A5 has unknown type t=\"zz\""),
        (#"<row r="6"><c r="6A"><v>1</v></c></row>"#, "row 6 has a cell with an invalid reference r=\"6A\""),
    ]
    for (sheetData, expected) in cases {
        try makeXLSX(at: path, sheets: [(name: "S", sheetData: sheetData)], sharedStrings: ["<si><t>only</t></si>"])
        let book = try Workbook.open(path: path)
        let error = dataError { _ = try book.rows(sheet: "S") }
        #expect(error?.message.contains(expected) == true, "\(String(describing: error)) should mention \(expected)")
    }
}

@Test func errorsThrownByTheRowBodyPassThrough() throws {
    struct Stop: Error {}
    let book = try Workbook.open(path: Fixture.xlsx)
    var seen = 0
    #expect(throws: Stop.self) {
        try book.forEachRow(sheet: "Year 2009-2010") { _, _ in
            seen += 1
            if seen == 3 { throw Stop() }
        }
    }
    #expect(seen == 3)
}

// MARK: - Text, cell types and layout

@Test func sharedStringsDecodeEntitiesRunsAndEscapes() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/strings.xlsx"
    let strings = [
        "<si><t>A &amp; B &lt;c&gt; &quot;d&quot; &apos;e&apos;</t></si>",
        "<si><t>&#65;&#x42;&#X43; &#8364;&#x1F600;</t></si>",
        #"<si><r><rPr><b/></rPr><t xml:space="preserve">bold </t></r><r><t>plain</t></r><rPh sb="0" eb="1"><t>ふりがな</t></rPh></si>"#,
        #"<si><t xml:space="preserve">  spaced  </t></si>"#,
        "<si><t>line1\r\nline2_x000D_\nline3 _x005F_x0041_ x_x0041_</t></si>",
        "<si><t><![CDATA[<raw & literal>]]></t></si>",
        "<si><t/></si>",
        "<si><t>Ünïcødé — ok</t></si>",
    ]
    var cells = ""
    for i in strings.indices { cells += "<c r=\"\(columnLetters(i))1\" t=\"s\"><v>\(i)</v></c>" }
    try makeXLSX(at: path, sheets: [(name: "S", sheetData: "<row r=\"1\">\(cells)</row>")], sharedStrings: strings)
    let book = try Workbook.open(path: path)
    #expect(
        try book.sharedStrings() == [
            "A & B <c> \"d\" 'e'",
            "ABC €😀",
            "bold plain",
            "  spaced  ",
            "line1\nline2\r\nline3 _x0041_ xA",
            "<raw & literal>",
            "",
            "Ünïcødé — ok",
        ])
    let rows = try book.rows(sheet: "S")
    #expect(rows == [Array(try book.sharedStrings().prefix(6)) + ["", "Ünïcødé — ok"]])
}

@Test func cellTypesAndSparseLayout() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/types.xlsx"
    let styles = """
        <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
        <numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/><numFmt numFmtId="165" formatCode="0.00&quot;h&quot;"/></numFmts>
        <cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
        <cellXfs count="6"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="165"/><xf numFmtId="20"/><xf numFmtId="2"/></cellXfs>
        </styleSheet>
        """
    let sheetData = """
        <row r="1" spans="1:9">
          <c r="A1" t="inlineStr"><is><t>inline</t></is></c>
          <c r="B1" t="inlineStr"><is><r><t>rich </t></r><r><t>inline</t></r></is></c>
          <c r="C1" t="str"><f>A1&amp;"!"</f><v>inline!</v></c>
          <c r="D1" t="b"><v>1</v></c>
          <c r="E1" t="b"><v>0</v></c>
          <c r="F1" t="e"><v>#N/A</v></c>
          <c r="G1" s="5"><v>1.5</v></c>
          <c r="I1" t="d"><v>2010-12-01T08:26:00</v></c>
        </row>
        <row r="3">
          <c r="A3" s="1"><v>40148.3229166667</v></c>
          <c r="B3" s="2"><v>40148</v></c>
          <c r="C3" s="3"><v>0.5</v></c>
          <c r="D3" s="4"><v>0.75</v></c>
          <c r="E3" s="1"><v>-1</v></c>
          <c r="F3"><v>1E-3</v></c>
          <c r="G3"><v>13085.0</v></c>
          <c r="H3" s="1"/>
          <c r="I3" s="99"><v>7</v></c>
        </row>
        <row><c><v>1</v></c><c/><c><v>3</v></c><c r="E4" t="s"/></row>
        <row r="6"><c r="B6"><v> 2 </v></c></row>
        <row r="7"><c r="A7"/><c r="B7" t="str"><v></v></c></row>
        <row r="8"><c r="AA8"><v>27</v></c></row>
        """
    try makeXLSX(at: path, sheets: [(name: "S", sheetData: sheetData)], styles: styles)
    let book = try Workbook.open(path: path)
    var rows: [(Int, [String])] = []
    try book.forEachRow(sheet: "S") { rows.append(($0, $1)) }
    #expect(rows.map(\.0) == [1, 3, 4, 6, 8])
    #expect(rows[0].1 == ["inline", "rich inline", "inline!", "TRUE", "FALSE", "#N/A", "1.5", "", "2010-12-01 08:26:00"])
    #expect(rows[1].1 == ["2009-12-01 07:45:00", "2009-12-01 00:00:00", "0.5", "18:00:00", "-1", "0.001", "13085", "", "7"])
    #expect(rows[2].1 == ["1", "", "3"])
    #expect(rows[3].1 == ["", "2"])
    #expect(rows[4].1 == Array(repeating: "", count: 26) + ["27"])
}

@Test func date1904WorkbooksUseTheirEpoch() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/mac.xlsx"
    let styles = #"<styleSheet><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="22"/></cellXfs></styleSheet>"#
    try makeXLSX(
        at: path, sheets: [(name: "S", sheetData: #"<row r="1"><c r="A1" s="1"><v>38686.3229166667</v></c></row>"#)],
        styles: styles, workbookPr: #"<workbookPr date1904="1"/>"#)
    let book = try Workbook.open(path: path)
    #expect(book.date1904)
    #expect(try book.rows(sheet: "S") == [["2009-12-01 07:45:00"]])
}

@Test func sheetNamesWithEntitiesAndManySheets() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/names.xlsx"
    try makeXLSX(at: path, sheets: [(name: "R&D \"2010\"", sheetData: ""), (name: "Zeta", sheetData: ""), (name: "Alpha", sheetData: "")])
    #expect(try Workbook.open(path: path).sheetNames == ["R&D \"2010\"", "Zeta", "Alpha"])
}

// MARK: - Dates and number formats

@Test func excelSerialDates() {
    #expect(ExcelDate.string(serial: 40148.3229166667) == "2009-12-01 07:45:00")
    #expect(ExcelDate.string(serial: 40148.4583217593) == "2009-12-01 10:59:59")
    #expect(ExcelDate.string(serial: 40521.5347222222) == "2010-12-09 12:50:00")
    // The 1900 leap-year bug: day 60 is the fictitious 1900-02-29.
    #expect(ExcelDate.string(serial: 1) == "1900-01-01 00:00:00")
    #expect(ExcelDate.string(serial: 59) == "1900-02-28 00:00:00")
    #expect(ExcelDate.string(serial: 60) == "1900-02-29 00:00:00")
    #expect(ExcelDate.string(serial: 61) == "1900-03-01 00:00:00")
    #expect(ExcelDate.string(serial: 61.5) == "1900-03-01 12:00:00")
    #expect(ExcelDate.string(serial: 36526) == "2000-01-01 00:00:00")
    // Rounding to the nearest second, across midnight too.
    #expect(ExcelDate.string(serial: 43100.99999999) == "2018-01-01 00:00:00")
    #expect(ExcelDate.string(serial: 43100.4999999) == "2017-12-31 12:00:00")
    #expect(ExcelDate.string(serial: 2_958_465.99998) == "9999-12-31 23:59:58")
    #expect(ExcelDate.string(serial: -1) == nil)
    #expect(ExcelDate.string(serial: 3_000_000) == nil)
    #expect(ExcelDate.string(serial: .nan) == nil)
    // 1904 date system.
    #expect(ExcelDate.string(serial: 0, date1904: true) == "1904-01-01 00:00:00")
    #expect(ExcelDate.string(serial: 38686.3229166667, date1904: true) == "2009-12-01 07:45:00")
    #expect(ExcelDate.timeString(serial: 0.3229166667) == "07:45:00")
    #expect(ExcelDate.timeString(serial: 0.999999999) == "00:00:00")
}

@Test func numberFormatKinds() {
    #expect(NumberFormatKind(builtinFormatId: 0) == .number)
    #expect(NumberFormatKind(builtinFormatId: 14) == .dateTime)
    #expect(NumberFormatKind(builtinFormatId: 22) == .dateTime)
    #expect(NumberFormatKind(builtinFormatId: 18) == .time)
    #expect(NumberFormatKind(builtinFormatId: 46) == .time)
    #expect(NumberFormatKind(builtinFormatId: 49) == .number)
    #expect(NumberFormatKind(formatCode: "yyyy\\-mm\\-dd\\ hh:mm:ss") == .dateTime)
    #expect(NumberFormatKind(formatCode: "DD/MM/YYYY") == .dateTime)
    #expect(NumberFormatKind(formatCode: "mmm-yy") == .dateTime)
    #expect(NumberFormatKind(formatCode: "[$-409]d-mmm-yy;@") == .dateTime)
    #expect(NumberFormatKind(formatCode: "h:mm AM/PM") == .time)
    #expect(NumberFormatKind(formatCode: "[h]:mm:ss") == .time)
    #expect(NumberFormatKind(formatCode: "mm:ss.0") == .time)
    #expect(NumberFormatKind(formatCode: "General") == .number)
    #expect(NumberFormatKind(formatCode: "0.00") == .number)
    #expect(NumberFormatKind(formatCode: "#,##0.00 [$€-407];[RED]-#,##0.00 [$€-407]") == .number)
    #expect(NumberFormatKind(formatCode: "0\" days\"") == .number)
    #expect(NumberFormatKind(formatCode: "0.00E+00") == .number)
    #expect(NumberFormatKind(formatCode: "#,##0_);\\(#,##0\\)") == .number)
    #expect(NumberFormatKind(formatCode: "@") == .number)
}

@Test func columnNames() {
    #expect(Workbook.columnName(0) == "A")
    #expect(Workbook.columnName(25) == "Z")
    #expect(Workbook.columnName(26) == "AA")
    #expect(Workbook.columnName(16_383) == "XFD")
}

// MARK: - Streaming

/// Collects rows from a sheet scanned through the streaming path, fed in chunks of a given size.
private func scanInChunks(_ xml: String, chunk: Int, strings: [String] = []) throws -> [[String]] {
    var rows: [[String]] = []
    let sink = StringRowSink { _, v in rows.append(v) }
    let handler = SheetHandler(sharedStrings: SharedStringTable(strings), formatKinds: [.number, .dateTime], date1904: false, sink: sink)
    var stream = XMLStream(handler: handler)
    let bytes = Array(xml.utf8)
    var i = 0
    while i < bytes.count {
        let end = min(bytes.count, i + chunk)
        try bytes[i..<end].withUnsafeBytes { try stream.feed($0) }
        i = end
    }
    try stream.finish()
    return rows
}

@Test func streamingIsIndependentOfChunkBoundaries() throws {
    let xml = """
        \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
        <!-- a comment with <tags> -->
        <x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>
        <x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>a &amp; b</x:t></x:is></x:c></x:row>
        <x:row r="2"><x:c r="A2" s="1"><x:v>40148.3229166667</x:v></x:c><x:c r="C2" t="str"><x:v><![CDATA[x]]>y&#x7A;</x:v></x:c></x:row>
        </x:sheetData></x:worksheet>
        """
    let expected: [[String]] = [["shared", "a & b"], ["2009-12-01 07:45:00", "", "xyz"]]
    #expect(try scanInChunks(xml, chunk: 1 << 20, strings: ["shared"]) == expected)
    for chunk in [1, 2, 3, 5, 7, 64] {
        #expect(try scanInChunks(xml, chunk: chunk, strings: ["shared"]) == expected, "chunk size \(chunk)")
    }

    // Texts and tags longer than a chunk, and many rows across chunk boundaries.
    let long = String(repeating: "0123456789 &amp; ", count: 700)
    let longDecoded = String(repeating: "0123456789 & ", count: 700)
    let attrs = String(repeating: " x=\"1\"", count: 1_000)
    var big = "<worksheet><sheetData>"
    var bigExpected: [[String]] = []
    for r in 1...300 {
        big += "<row r=\"\(r)\"\(r % 50 == 0 ? attrs : "")><c r=\"A\(r)\"><v>\(r)</v></c>"
        if r % 40 == 0 {
            big += "<c r=\"B\(r)\" t=\"str\"><v>\(long)</v></c>"
            bigExpected.append([String(r), longDecoded])
        } else {
            bigExpected.append([String(r)])
        }
        big += "</row>"
    }
    big += "</sheetData></worksheet>"
    for chunk in [100, 3_000, 4_097, 9_000, 1 << 18] {
        #expect(try scanInChunks(big, chunk: chunk) == bigExpected, "chunk size \(chunk)")
    }
}

@Test func largeSheetStreamsAcrossManyChunks() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/large.xlsx"
    let n = 20_000
    var sheetData = inlineRow(1, ["Invoice", "Price", "Text"])
    sheetData.reserveCapacity(n * 120)
    for r in 2...(n + 1) {
        sheetData +=
            "<row r=\"\(r)\"><c r=\"A\(r)\"><v>\(r)</v></c><c r=\"B\(r)\"><v>\(Double(r) / 100)</v></c><c r=\"C\(r)\" t=\"s\"><v>\(r % 2)</v></c></row>"
    }
    try makeXLSX(at: path, sheets: [(name: "Big", sheetData: sheetData)], sharedStrings: ["<si><t>even</t></si>", "<si><t>odd, \"quoted\"</t></si>"])
    let book = try Workbook.open(path: path)
    let (bytes, rows, _) = try book.csv()
    #expect(rows == n)
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    #expect(lines.count == n + 1)
    #expect(lines[1] == "2,0.02,even")
    #expect(lines[n] == "\(n + 1),\(formatDouble(Double(n + 1) / 100)),\"odd, \"\"quoted\"\"\"")
}

// MARK: - Fast paths agree with the reference implementations

@Test func numberFastPathMatchesFormatDouble() {
    var samples = [
        "0", "-0", "1", "-1", "10", "100", "6.95", "0.29", "-12", "13085", "0.1", "0.0001", "0.00001",
        "0.001234", "123456789012345", "1234567890123456", "99999999999999.9", "0.000123456789012345",
        "1.5", "1.50", "01", "00", "0.", ".5", "-.5", "1e5", "1E-3", "+3", "2.1000000000000001",
        "0.30000000000000004", "4503599627370496.5", "-0.0001", "-0.00001", "7.0", "1.000000000000001",
    ]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<20_000 {
        let digits = Int.random(in: 1...17, using: &generator)
        var s = Int.random(in: 0...3, using: &generator) == 0 ? "-" : ""
        let point = Int.random(in: 0...digits, using: &generator)
        for k in 0..<digits {
            if k == point && k > 0 { s += "." }
            s += String(Int.random(in: 0...9, using: &generator))
        }
        samples.append(s)
    }
    for sample in samples {
        var bytes = Array(sample.utf8)
        let fast = bytes.withUnsafeMutableBufferPointer { NumberText.isShortestForm(UnsafeBufferPointer($0)) }
        guard fast else { continue }
        let reference = formatDouble(NumberParsing.parseDouble(sample)!)
        #expect(reference == sample, "fast path copies '\(sample)' but formatDouble prints '\(reference)'")
    }
}

@Test func csvQuotingMatchesCSVWriter() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/quoting.xlsx"
    let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", "", " lead", "trail ", "\"", ",", "x"]
    func cell(_ c: Int, _ r: Int, _ v: String) -> String {
        let escaped = v.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "\r", with: "&#13;")
        return "<c r=\"\(columnLetters(c))\(r)\" t=\"inlineStr\"><is><t>\(escaped)</t></is></c>"
    }
    let head = (0..<fields.count).map { "h\($0)" }
    var sheetData = inlineRow(1, head)
    sheetData += "<row r=\"2\">" + fields.enumerated().map { cell($0.offset, 2, $0.element) }.joined() + "</row>"
    sheetData += "<row r=\"3\">" + fields.reversed().enumerated().map { cell($0.offset, 3, $0.element) }.joined() + "</row>"
    try makeXLSX(at: path, sheets: [(name: "Q", sheetData: sheetData)])
    let (bytes, rows, _) = try Workbook.open(path: path).csv()
    #expect(rows == 2)
    var writer = CSVWriter(header: head)
    writer.writeRow(fields)
    writer.writeRow(fields.reversed())
    #expect(bytes == writer.bytes, "\(String(decoding: bytes, as: UTF8.self))")
}

@Test func outOfOrderAndDuplicateCellsAreSorted() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/order.xlsx"
    let sheetData = #"<row r="1"><c r="C1"><v>3</v></c><c r="A1"><v>1</v></c><c r="C1"><v>33</v></c><c r="B1"><v>2</v></c></row>"#
    try makeXLSX(at: path, sheets: [(name: "S", sheetData: sheetData)])
    #expect(try Workbook.open(path: path).rows(sheet: "S") == [["1", "2", "33"]])
}

@Test func corruptedMemberFailsTheCRCCheck() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/corrupt.zip"
    try writeZip([("data.txt", "hello, world")], to: path)
    #expect(try ZipArchiveReader.data(member: "data.txt", from: path) == Data("hello, world".utf8))
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let at = bytes.range(of: Data("hello".utf8))!.lowerBound
    bytes[at] = UInt8(ascii: "j")
    try bytes.write(to: URL(fileURLWithPath: path))
    let error = dataError { _ = try ZipArchiveReader.data(member: "data.txt", from: path) }
    #expect(error?.message == "member 'data.txt' is corrupted (CRC-32 mismatch)")
}

@Test func crc32MatchesKnownValues() {
    func crc(_ s: String) -> UInt32 {
        var c = CRC32Checksum()
        Array(s.utf8).withUnsafeBytes { c.update($0) }
        return c.value
    }
    #expect(crc("") == 0)
    #expect(crc("123456789") == 0xCBF4_3926)
    #expect(crc("The quick brown fox jumps over the lazy dog") == 0x414F_A339)
    // Fed in pieces of every size, the result is the same.
    let text = Array(String(repeating: "Online Retail II, 489434, 6.95\n", count: 40).utf8)
    for piece in [1, 3, 7, 8, 9, 64] {
        var c = CRC32Checksum()
        var i = 0
        while i < text.count {
            let end = min(text.count, i + piece)
            text[i..<end].withUnsafeBytes { c.update($0) }
            i = end
        }
        #expect(c.value == crc32(text))
    }
}

// MARK: - Large members (decompressed on a helper thread)

@Test func largeMemberStopsCleanlyWhenTheBodyThrows() throws {
    struct Stop: Error {}
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/large.xlsx"
    var sheetData = inlineRow(1, ["n"])
    for r in 2...40_001 { sheetData += "<row r=\"\(r)\"><c r=\"A\(r)\"><v>\(r)</v></c></row>" }
    try makeXLSX(at: path, sheets: [(name: "A", sheetData: sheetData), (name: "B", sheetData: sheetData)])
    let book = try Workbook.open(path: path)
    for stopAt in [1, 5_000, 39_999] {
        var seen = 0
        #expect(throws: Stop.self) {
            try book.forEachRow(sheet: "A") { _, _ in
                seen += 1
                if seen == stopAt { throw Stop() }
            }
        }
        #expect(seen == stopAt)
    }
    // The archive is usable again afterwards.
    var last = 0
    try book.forEachRow(sheet: "B") { n, _ in last = n }
    #expect(last == 40_001)
    #expect(try book.csv().rows == 80_000)
}

@Test func largeCorruptedMemberFailsTheCRCCheck() throws {
    let dir = try makeTempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/corrupt-large.zip"
    let text = String(repeating: "0123456789abcdef", count: 200_000) + "THE END"
    try writeZip([("big.txt", text)], to: path)
    #expect(try ZipArchiveReader.data(member: "big.txt", from: path).count == text.utf8.count)
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let at = bytes.range(of: Data("THE END".utf8))!.lowerBound
    bytes[at] = UInt8(ascii: "t")
    try bytes.write(to: URL(fileURLWithPath: path))
    let error = dataError { _ = try ZipArchiveReader.data(member: "big.txt", from: path) }
    #expect(error?.message == "member 'big.txt' is corrupted (CRC-32 mismatch)")
    let target = dir + "/big.txt"
    let extractError = dataError { try ZipArchiveReader.extract(member: "big.txt", from: path, to: target) }
    #expect(extractError?.message == "member 'big.txt' is corrupted (CRC-32 mismatch)")
    #expect(!FileManager.default.fileExists(atPath: target))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["corrupt-large.zip"])
}
