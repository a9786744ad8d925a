import Foundation
import Tabular
import Testing

@testable import Workbook

@Suite("Workbook writer")
struct WorkbookWriterTests {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ww-\(UUID().uuidString)-\(name)").path
    }

    @Test func writtenWorkbookReadsBackWithTheProjectReader() throws {
        var w = WorkbookWriter()
        try w.addSheet(
            name: "curve", header: ["contacted", "profit"],
            rows: [[.number(0), .number(0)], [.number(100), .number(12.345678901234567)], [.number(200), .number(-0.5)]])
        try w.addSheet(
            name: "notes & <text>", header: ["key", "value"],
            rows: [[.text("a, \"quoted\" & <tagged>"), .text("line\nbreak")], [.text("ünïcødé"), .empty]])
        let path = tempPath("pack.xlsx")
        try w.write(to: path)
        let book = try Workbook.open(path: path)
        #expect(book.sheetNames == ["curve", "notes & <text>"])
        #expect(try book.rows(sheet: "curve") == [["contacted", "profit"], ["0", "0"], ["100", "12.345678901234567"], ["200", "-0.5"]])
        let notes = try book.rows(sheet: "notes & <text>")
        #expect(notes[1] == ["a, \"quoted\" & <tagged>", "line\nbreak"])
        #expect(notes[2].first == "ünïcødé")
    }

    @Test func bytesAreDeterministic() throws {
        var w = WorkbookWriter()
        try w.addSheet(name: "s", header: ["x"], rows: [[.number(1)]])
        #expect(try w.bytes() == (try w.bytes()))
    }

    @Test func badSheetNamesAreRejected() throws {
        var w = WorkbookWriter()
        #expect(throws: DataError.self) { try w.addSheet(name: "a/b", header: [], rows: []) }
        #expect(throws: DataError.self) { try w.addSheet(name: String(repeating: "x", count: 32), header: [], rows: []) }
        try w.addSheet(name: "Same", header: [], rows: [])
        #expect(throws: DataError.self) { try w.addSheet(name: "same", header: [], rows: []) }
        #expect(throws: DataError.self) { try WorkbookWriter().bytes() }
    }
}
