import Foundation
import Testing

@testable import Tabular

// The quote character is a reader option (order logs of other shops): another quote byte must
// give, at every scan level, block size and thread count, the table the usual '"' gives on the
// same document with the two characters swapped; without quoting, quotes are ordinary text.
@Suite("CSV reader: quote character")
struct CSVQuoteTests {
    static let levels = [-1] + Array(0...FieldIndex.bestLevel)

    static func parse(_ bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ","), quote: Int, level: Int, block: Int, threads: Int) throws -> Table {
        try bytes.withUnsafeBufferPointer {
            try CSVReader.parse(
                $0, source: "q.csv", schema: CSVBlockTests.schema, delimiter: delimiter, quote: quote, blockBytes: block, threads: threads,
                minimumChunkBytes: 1, scanLevel: level)
        }
    }

    static func swapQuotes(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 == 0x22 ? 0x27 : $0 == 0x27 ? 0x22 : $0 }
    }

    @Test("another quote byte reads as '\"' does on the swapped document")
    func singleQuotes() throws {
        let usual = CSVBlockTests.sample(rows: 2000)
        #expect(!usual.contains(0x27))
        let reference = try Self.parse(usual, quote: 0x22, level: -1, block: 1 << 30, threads: 1)
        let swapped = Self.swapQuotes(usual)
        for level in Self.levels {
            for (block, threads) in [(1 << 30, 1), (100, 3), (4096, 7)] {
                let t = try Self.parse(swapped, quote: 0x27, level: level, block: block, threads: threads)
                #expect(try t.ints("id") == reference.ints("id"), "level \(level), block \(block), threads \(threads)")
                #expect(try t.doubles("value") == reference.doubles("value"))
                #expect(
                    try t.strings("name").values == reference.strings("name").values.map { String(decoding: Self.swapQuotes(Array($0.utf8)), as: UTF8.self) })
            }
        }
        // With the usual quote, the swapped document's single quotes are text: its quoted commas split fields.
        #expect(throws: DataError.self) { try Self.parse(swapped, quote: 0x22, level: -1, block: 1 << 30, threads: 1) }
    }

    @Test("without quoting, a quote is ordinary text wherever it stands")
    func noQuoting() throws {
        var text = "id,name,value,skip\n"
        var names: [String] = []
        for i in 0..<1500 {
            let name = ["\"open\(i)", "say \"hi\"", "12\" LP", "\"\"", "plain\(i)"][i % 5]
            names.append(name)
            text += "\(i),\(name),\(Double(i) / 4),\"x\n"
        }
        let bytes = Array(text.utf8)
        for level in Self.levels {
            for (block, threads) in [(1 << 30, 1), (64, 2), (1000, 5)] {
                let t = try Self.parse(bytes, quote: -1, level: level, block: block, threads: threads)
                #expect(try t.ints("id") == Array(0..<1500), "level \(level), block \(block), threads \(threads)")
                #expect(try t.strings("name").values == names)
                #expect(try t.doubles("value") == (0..<1500).map { Double($0) / 4 })
            }
        }
        // The public entry point: nil means no quoting.
        let t = try CSVReader.read(bytes: bytes, source: "n.csv", schema: CSVBlockTests.schema, quote: nil)
        #expect(try t.strings("name").values == names)
    }

    @Test("a ';' delimiter with single quotes holding ';' and line breaks")
    func semicolons() throws {
        let text = "id;name;value;skip\n1;'a;b';1,5;x\n2;'two\nlines';2;y\n3;'it''s';3;z\n"
        let schema = CSVSchema([ColumnSpec("id", .int), ColumnSpec("name", .string), ColumnSpec("skip", .string)])
        let t = try CSVReader.read(bytes: Array(text.utf8), source: "s.csv", schema: schema, delimiter: UInt8(ascii: ";"), quote: UInt8(ascii: "'"))
        #expect(try t.strings("name").values == ["a;b", "two\nlines", "it's"])
        #expect(try t.strings("skip").values == ["x", "y", "z"])
    }
}
