import CCSVKernel
import Foundation
import Testing

@testable import Tabular

private func read(_ text: String, _ schema: CSVSchema) throws -> Table {
    try CSVReader.read(bytes: Array(text.utf8), source: "t.csv", schema: schema)
}

private func dataError(_ body: () throws -> Void) -> DataError? {
    do { try body() } catch let e as DataError { return e } catch { return nil }
    return nil
}

/// Draws for the randomized tests (SplitMix64: small, fixed, the same on every machine).
private struct Draws {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}

@Suite("CSV reader")
struct CSVReaderTests {
    let schema = CSVSchema([ColumnSpec("id", .int), ColumnSpec("name", .string), ColumnSpec("value", .double)])

    @Test("plain rows become typed columns")
    func plain() throws {
        let t = try read("id,name,value\n1,a,1.5\n2,b,-0.25\n", schema)
        #expect(t.rowCount == 2)
        #expect(try t.ints("id") == [1, 2])
        #expect(try t.strings("name").values == ["a", "b"])
        #expect(try t.doubles("value") == [1.5, -0.25])
    }

    @Test("quoted fields with commas, doubled quotes and line breaks")
    func quoted() throws {
        let text = "id,name,value\n1,\"7) $1,000 +\",2\n2,\"say \"\"hi\"\"\",3\n3,\"two\nlines\",4\n"
        let t = try read(text, schema)
        #expect(try t.strings("name").values == ["7) $1,000 +", "say \"hi\"", "two\nlines"])
        #expect(try t.ints("id") == [1, 2, 3])
    }

    @Test("CRLF line ends, a UTF-8 byte-order mark and no final newline")
    func crlfBOM() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("id,name,value\r\n1,é,3\r\n2,x,4".utf8)
        let t = try CSVReader.read(bytes: bytes, source: "t.csv", schema: schema)
        #expect(try t.ints("id") == [1, 2])
        #expect(try t.strings("name").values == ["é", "x"])
        #expect(try t.doubles("value") == [3, 4])
    }

    @Test("columns not in the schema are skipped; order follows the schema")
    func extraColumns() throws {
        let t = try read("value,skip,name,id\n1.25,zzz,a,7\n", schema)
        #expect(t.names == ["id", "name", "value"])
        #expect(try t.ints("id") == [7])
    }

    @Test("doubles parse exactly like strtod")
    func doublesExact() throws {
        let samples = ["0.1", "142.44", "6.95", "-0.000001", "1e-5", "3.14159265358979323846", "123456789012345678", "2.5E+10", "0", "-0", "00012.500"]
        for s in samples {
            let expected = strtod(s, nil)
            let got = NumberParsing.parseDouble(s)
            #expect(got?.bitPattern == expected.bitPattern, "\(s)")
        }
        #expect(NumberParsing.parseDouble("nan") == nil)
        #expect(NumberParsing.parseDouble("inf") == nil)
        #expect(NumberParsing.parseDouble("0x10") == nil)
        #expect(NumberParsing.parseDouble("1.2.3") == nil)
        #expect(NumberParsing.parseInt("-42") == -42)
        #expect(NumberParsing.parseInt("99999999999999999999") == nil)
    }

    /// Number columns are converted by a C loop that stops at any field it does not take (more
    /// digits, exponents, signs alone, doubled quotes, text), which Swift then converts or reports:
    /// every value gives strtod's double or Swift's Int, or an error naming its line and column,
    /// wherever it sits in a block.
    @Test("number columns: the fast loop and the fallback agree with strtod and Int")
    func numberColumns() throws {
        var draws = Draws(state: 0x853C_49E6_748F_EA9B)
        func next(_ bound: Int) -> Int { draws.next(bound) }
        var doubles = [
            "0.1", "142.44", "6.95", "-0.000001", "1e-5", "2.5E+10", "0", "-0", "+7", "00012.500", "1.", ".5", "-.5",
            "123456789012345", "1234567890123456", "12345678901234567890", "0.000000000000001", "9007199254740993",
            "000000000000000000001.5", "1.7976931348623157e308", "4.9e-324", "\"3.25\"",
        ]
        for _ in 0..<2000 {
            var digits = String((0..<(1 + next(18))).map { _ in Character(String(next(10))) })
            if next(3) > 0 { digits.insert(".", at: digits.index(digits.startIndex, offsetBy: next(digits.count + 1))) }
            doubles.append(["", "-", "+"][next(3)] + digits)
        }
        let doubleSchema = CSVSchema([ColumnSpec("x", .double)])
        for (k, value) in doubles.enumerated() {
            let rows = ["1.5"] + Array(repeating: "2", count: k % 7) + [value, "3.75"]
            let table = try read("x\n" + rows.joined(separator: "\n") + "\n", doubleSchema)
            let unquoted = value.replacingOccurrences(of: "\"", with: "")
            let expected = rows.map { $0 == value ? strtod(unquoted, nil) : strtod($0, nil) }
            #expect(try table.doubles("x").map(\.bitPattern) == expected.map(\.bitPattern), "\(value)")
        }
        let ints =
            [
                "0", "-0", "+12", "-42", "999999999999999999", "9223372036854775807", "-9223372036854775808", "000000000000000000007",
                "\"15\"",
            ] + (0..<500).map { _ in ["", "-", "+"][next(3)] + String((0..<(1 + next(18))).map { _ in Character(String(next(10))) }) }
        let intSchema = CSVSchema([ColumnSpec("n", .int)])
        for (k, value) in ints.enumerated() {
            let rows = ["1"] + Array(repeating: "2", count: k % 7) + [value, "3"]
            let table = try read("n\n" + rows.joined(separator: "\n") + "\n", intSchema)
            #expect(try table.ints("n") == rows.map { Int($0.replacingOccurrences(of: "\"", with: ""))! }, "\(value)")
        }
        for (bad, kind) in [
            ("9223372036854775808", intSchema), ("1-2", intSchema), ("-", intSchema), ("\"1\"\"2\"", intSchema), ("12 ", intSchema),
            ("1.2.3", doubleSchema), ("nan", doubleSchema), ("-", doubleSchema), ("1e", doubleSchema), ("", doubleSchema), ("0x10", doubleSchema),
        ] {
            let name = kind.columns[0].name
            let text = "\(name)\n1\n2\n\(bad)\n4\n"
            let error = dataError { _ = try read(text, kind) }
            #expect(error?.line == 4, "\(bad)")
            #expect(error?.column == 1, "\(bad)")
        }
    }

    @Test("shortest round-trip formatting reads back bit-identically")
    func roundTrip() {
        var g: UInt64 = 12345
        for _ in 0..<2000 {
            g = g &* 6364136223846793005 &+ 1442695040888963407
            let v = Double(bitPattern: g >> 2)
            guard v.isFinite else { continue }
            let text = formatDouble(v)
            #expect(NumberParsing.parseDouble(text)?.bitPattern == v.bitPattern, "\(text)")
        }
        #expect(formatDouble(3) == "3")
        #expect(formatDouble(142.44) == "142.44")
    }

    @Test("missing column names the column and the header")
    func missingColumn() {
        let e = dataError { _ = try read("id,value\n1,2\n", schema) }
        #expect(e?.line == 1)
        #expect(e?.columnName == "name")
        #expect(e?.description.contains("missing column 'name'") == true)
    }

    @Test("unparsable number names file, line and column")
    func badNumber() {
        let e = dataError { _ = try read("id,name,value\n1,a,2\n2,b,abc\n", schema) }
        #expect(e?.file == "t.csv")
        #expect(e?.line == 3)
        #expect(e?.column == 3)
        #expect(e?.columnName == "value")
        #expect(e?.description == "t.csv:3:3 (column 'value'): cannot parse 'abc' as a finite number")
    }

    @Test("line numbers count line breaks inside quoted fields")
    func lineAfterQuotedNewline() {
        let e = dataError { _ = try read("id,name,value\n1,\"a\nb\",2\nx,c,3\n", schema) }
        #expect(e?.line == 4)
        #expect(e?.column == 1)
    }

    @Test("ragged rows are rejected with their line")
    func ragged() {
        let short = dataError { _ = try read("id,name,value\n1,a,2\n2,b\n", schema) }
        #expect(short?.line == 3)
        #expect(short?.message.contains("expected 3 fields") == true)
        let long = dataError { _ = try read("id,name,value\n1,a,2,9\n", schema) }
        #expect(long?.line == 2)
        #expect(long?.message.contains("found 4") == true)
    }

    @Test("empty files and empty required numbers are errors")
    func empty() {
        #expect(dataError { _ = try read("", schema) }?.message.contains("empty file") == true)
        #expect(dataError { _ = try CSVReader.read(bytes: [0xEF, 0xBB, 0xBF, 0x0A], source: "t.csv", schema: schema) }?.message.contains("empty file") == true)
        let e = dataError { _ = try read("id,name,value\n,a,2\n", schema) }
        #expect(e?.message == "empty value where an integer is required")
        #expect(e?.column == 1)
    }

    @Test("nullable doubles read empty fields as NaN")
    func nullable() throws {
        let s = CSVSchema([ColumnSpec("x", .double, nullable: true)])
        let t = try read("x\n1\n\n2\n", s)
        // A blank line in a one-column file is an empty field.
        let v = try t.doubles("x")
        #expect(v.count == 3 && v[0] == 1 && v[1].isNaN && v[2] == 2)
    }

    @Test("unterminated quote is reported")
    func unterminated() {
        let e = dataError { _ = try read("id,name,value\n1,\"abc,2\n", schema) }
        #expect(e?.message.contains("unterminated") == true)
        #expect(e?.line == 2)
    }

    @Test("writer quotes only when needed and round-trips through the reader")
    func writerRoundTrip() throws {
        let t = Table(
            names: ["id", "name", "value"],
            columns: [
                .int([1, 2, 3]), .string(StringColumn(["plain", "a,b", "q\"uote"])), .double([0.1, 1e-300, 12]),
            ])
        let bytes = CSVWriter.encode(t)
        #expect(String(decoding: bytes, as: UTF8.self) == "id,name,value\n1,plain,0.1\n2,\"a,b\",1e-300\n3,\"q\"\"uote\",12\n")
        let back = try CSVReader.read(bytes: bytes, source: "w.csv", schema: schema)
        #expect(back == Table(source: "w.csv", names: t.names, columns: t.columns))
    }

    @Test("atomic writes leave no temporary file and replace the target")
    func atomic() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)").path
        let path = dir + "/out.csv"
        try AtomicFile.write("one", to: path)
        try AtomicFile.write("two", to: path)
        #expect(String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.csv"])
        #expect(try AtomicFile.writeIfChanged(Array("two".utf8), to: path) == false)
        try FileManager.default.removeItem(atPath: dir)
    }
}

@Suite("CSV reader blocks and threads")
struct CSVBlockTests {
    /// A file with quoted fields, doubled quotes and embedded line breaks, so that block
    /// boundaries fall in every kind of place.
    static func sample(rows: Int) -> [UInt8] {
        var text = "id,name,value,skip\r\n"
        for i in 0..<rows {
            let name: String
            switch i % 5 {
            case 0: name = "\"a,\(i)\""
            case 1: name = "\"say \"\"\(i)\"\"\""
            case 2: name = "\"two\nlines \(i)\""
            default: name = "plain\(i % 7)"
            }
            text += "\(i),\(name),\(Double(i) / 8),x\r\n"
        }
        return Array(text.utf8)
    }

    static let schema = CSVSchema([ColumnSpec("id", .int), ColumnSpec("name", .string), ColumnSpec("value", .double)])

    func parse(_ bytes: [UInt8], block: Int, threads: Int, chunk: Int = 1) throws -> Table {
        try bytes.withUnsafeBufferPointer {
            try CSVReader.parse(
                $0, source: "b.csv", schema: Self.schema, delimiter: UInt8(ascii: ","), blockBytes: block, threads: threads,
                minimumChunkBytes: chunk)
        }
    }

    @Test("any block size, chunk count and thread count gives the same table")
    func sameTable() throws {
        let bytes = Self.sample(rows: 3000)
        let whole = try parse(bytes, block: 1 << 30, threads: 1)
        #expect(whole.rowCount == 3000)
        #expect(try whole.strings("name")[1] == "say \"1\"")
        #expect(try whole.strings("name")[2] == "two\nlines 2")
        for block in [1, 7, 100, 4096] {
            for threads in [1, 2, 3, 7] {
                #expect(try parse(bytes, block: block, threads: threads) == whole, "block \(block), threads \(threads)")
            }
        }
    }

    /// Every field quoted and holding line breaks: most guessed cuts fall inside a quoted field and
    /// have to be caught (the chunk before a bad cut does not end on it) and parsed again.
    @Test("cuts inside quoted line breaks are caught")
    func badCuts() throws {
        var text = "id,name,value\n"
        for i in 0..<500 {
            text += "\(i),\"line \(i % 9)\n\n,\",\"\(i)\"\n"
        }
        let bytes = Array(text.utf8)
        let schema = CSVSchema([ColumnSpec("id", .int), ColumnSpec("name", .string), ColumnSpec("value", .double)])
        let read = { (threads: Int) in
            try bytes.withUnsafeBufferPointer {
                try CSVReader.parse($0, source: "q.csv", schema: schema, delimiter: UInt8(ascii: ","), threads: threads, minimumChunkBytes: 1)
            }
        }
        let one = try read(1)
        #expect(one.rowCount == 500)
        #expect(try one.strings("name")[10] == "line 1\n\n,")
        #expect(try one.ints("id") == Array(0..<500))
        for threads in [2, 3, 5, 16, 64] {
            #expect(try read(threads) == one, "threads \(threads)")
        }
    }

    /// A quoted field longer than the window the guess looks at, full of line breaks and without
    /// quotes: the guess takes a line break inside it for a record end; the chunk before the cut
    /// runs past the cut, and the rest is parsed again from where that chunk ended.
    @Test("a wrong cut is parsed again")
    func wrongCut() throws {
        let long = String(repeating: "text\n", count: 40_000)
        let text = "id,name,value\n1,a,1\n2,\"\(long)\",2\n3,b,3\n4,c,4\n"
        let bytes = Array(text.utf8)
        let cut = bytes.withUnsafeBufferPointer { likelyRecordStart($0.baseAddress!, count: $0.count, from: bytes.count / 2, delimiter: UInt8(ascii: ",")) }
        #expect(cut.map { bytes[$0 - 2] } == UInt8(ascii: "t"), "the guess falls inside the long field")
        let schema = CSVSchema([ColumnSpec("id", .int), ColumnSpec("name", .string), ColumnSpec("value", .double)])
        for threads in [1, 2, 3] {
            let table = try bytes.withUnsafeBufferPointer {
                try CSVReader.parse($0, source: "w.csv", schema: schema, delimiter: UInt8(ascii: ","), threads: threads, minimumChunkBytes: 1)
            }
            #expect(try table.ints("id") == [1, 2, 3, 4], "threads \(threads)")
            #expect(try table.strings("name")[1] == long)
            #expect(try table.doubles("value") == [1, 2, 3, 4])
        }
    }

    @Test("a likely record start is read off the quotes near the cut")
    func likelyStart() {
        func start(_ text: String, from: Int) -> Int? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { likelyRecordStart($0.baseAddress!, count: $0.count, from: from, delimiter: UInt8(ascii: ",")) }
        }
        // Outside quotes: the next line.
        #expect(start("a,b\nc,d\n", from: 1) == 4)
        // Inside a quoted field: its closing quote (after an ordinary byte, before a delimiter) tells.
        let text = "1,\"x\ny\nz\",2\n3,w,4\n"
        #expect(start(text, from: 4) == 12)
        // Before an opening quote (followed by an ordinary byte): outside.
        #expect(start("1,2\n3,\"a\nb\",4\n", from: 1) == 4)
        // Right after an opening quote: the doubled-quote rule (\"\" then an ordinary byte) says inside.
        #expect(start("1,\"ab \"\"q\"\" c\nd\",2\n9,9,9\n", from: 4) == 19)
        // No line feed after the cut.
        #expect(start("a,b,c", from: 1) == nil)
    }

    @Test("errors in later blocks name the right physical line")
    func laterBlockErrors() throws {
        var bytes = Self.sample(rows: 200)
        // Row 153 (0-based) gets a bad value; the rows before it hold 31 embedded line breaks
        // (rows 2, 7, ..., 152), so it sits on line 2 + 153 + 31.
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "153,plain6,19.125,x", with: "153,plain6,oops,x")
        #expect(text.contains("oops"))
        bytes = Array(text.utf8)
        for block in [50, 1 << 30] {
            for threads in [1, 2, 5] {
                do {
                    _ = try parse(bytes, block: block, threads: threads)
                    Issue.record("expected an error")
                } catch let e as DataError {
                    #expect(e.line == 186, "block \(block), threads \(threads)")
                    #expect(e.column == 3)
                }
            }
        }
    }
}

@Suite("String interning")
struct InternerTests {
    /// Values of every length 0...40 that differ from each other in exactly one byte (at every position):
    /// each gets its own code, and the same bytes again get the same code (the hash and the equality test
    /// read short and partial words with overlapping loads).
    @Test func everyLengthAndPosition() {
        var interner = ByteInterner()
        var expected: [[UInt8]: Int32] = [:]
        var values: [[UInt8]] = []
        for n in 0...40 {
            let base = (0..<n).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            values.append(base)
            for k in 0..<n {
                var v = base
                v[k] = UInt8(ascii: "#")
                values.append(v)
            }
        }
        for round in 0..<2 {
            for v in values {
                let code = v.withUnsafeBufferPointer { interner.code(for: $0, previous: nil) }!
                if round == 0 && expected[v] == nil { expected[v] = code }
                #expect(code == expected[v], "\(String(decoding: v, as: UTF8.self)) (length \(v.count))")
            }
        }
        #expect(interner.count == Set(values).count)
        #expect(interner.makeLevels() == values.map { String(decoding: $0, as: UTF8.self) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } })
        #expect(Set(expected.values).count == expected.count)
    }

    /// A slot holds lengths up to 254 exactly and 255 for all longer ones: a long value whose slot
    /// carries the hash bits of another long value (a collision the table must survive) is not
    /// taken for it, even where the other is its prefix in the store.
    @Test("values of 255 bytes and more are compared with their own length")
    func longValues() {
        let w = [UInt8](repeating: UInt8(ascii: "a"), count: 300), y = [UInt8](repeating: UInt8(ascii: "b"), count: 100)
        let store = w + y, offsets = [0, 300, 400]
        let v = w + y  // W followed by the start of the next stored value: 400 bytes equal to the store's first 400
        let h = csv_hash(v, v.count)
        var slots = [UInt64](repeating: 0, count: 2 * 16)
        let i = Int(h & 15)
        slots[2 * i] = csv_slot_key(h, w.count) | 1  // code 0 (W), with V's hash bits
        slots[2 * i + 1] = 0  // W's offset in the store
        var slot = -1
        #expect(csv_dict_find(slots, 15, store, offsets, v, v.count, h, &slot) == -1)
        #expect(slot == (i + 1) & 15)
        // Through the dictionary: both are added, each found again with its own code.
        var interner = ByteInterner()
        let codes = [w, v, w, v].map { value in value.withUnsafeBufferPointer { interner.code(for: $0, previous: nil)! } }
        #expect(codes == [0, 1, 0, 1])
    }

    /// String columns read from random documents equal the values written, coded in order of first
    /// appearance, for any block size and thread count: runs of repeats (compared with the row before,
    /// also across blocks and chunks), doubled quotes (coded in Swift between runs of the C loop),
    /// values new to a chunk, non-ASCII text, empty values, values of every length around 8 bytes.
    @Test("coded string columns equal the values written")
    func codedColumns() throws {
        var draws = Draws(state: 0x2545_F491_4F6C_DD1D)
        func next(_ bound: Int) -> Int { draws.next(bound) }
        let pool = [
            "", "a", "Q1", "2009-12-01 07:45:00", "2009-12-01 07:45:01", "12345678", "123456789", "1234567", "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER", "café crème", "Ünïcödé", "say \"hi\"", "\"\"", "x,y", "line\nbreak", "ab\"c",
        ]
        let schema = CSVSchema([ColumnSpec("a", .string), ColumnSpec("b", .string)])
        for document in 0..<40 {
            var a: [String] = [], b: [String] = []
            var text = "a,n,b\n"
            var current = pool[0]
            for row in 0..<(200 + next(400)) {
                if next(4) == 0 { current = next(3) == 0 ? "v\(next(1000))-\(document)" : pool[next(pool.count)] }
                let other = pool[next(pool.count)] + (next(2) == 0 ? "" : String(next(50)))
                a.append(current)
                b.append(other)
                func field(_ v: String) -> String {
                    v.contains(where: { $0 == "\"" || $0 == "," || $0 == "\n" }) || next(5) == 0
                        ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
                }
                text += field(current) + "," + String(row) + "," + field(other) + "\n"
            }
            let bytes = Array(text.utf8)
            for (block, threads) in [(CSVReader.blockBytes, 1), (64, 1), (300, 2), (1000, 3)] {
                let table = try bytes.withUnsafeBufferPointer {
                    try CSVReader.parse(
                        $0, source: "s.csv", schema: schema, delimiter: UInt8(ascii: ","), blockBytes: block, threads: threads,
                        minimumChunkBytes: 1)
                }
                #expect(try table.strings("a") == StringColumn(a), "document \(document), block \(block), threads \(threads)")
                #expect(try table.strings("b") == StringColumn(b), "document \(document), block \(block), threads \(threads)")
            }
        }
    }

    @Test("invalid UTF-8 in a string column names its line and column")
    func invalidUTF8() {
        var bytes = Array("a,b\nok,x\nok,x\nok,y\n".utf8)
        bytes += [UInt8(ascii: "o"), UInt8(ascii: "k"), UInt8(ascii: ","), 0xC3, 0x28, 0x0A]
        let error = dataError {
            _ = try CSVReader.read(bytes: bytes, source: "u.csv", schema: CSVSchema([ColumnSpec("a", .string), ColumnSpec("b", .string)]))
        }
        #expect(error?.line == 5)
        #expect(error?.column == 2)
        #expect(error?.message.contains("UTF-8") == true)
    }
}

@Suite("CSV vector scan")
struct CSVVectorScanTests {
    enum Outcome: Equatable {
        case table(Table)
        case error(DataError)
    }

    static func read(_ bytes: [UInt8], schema: CSVSchema, level: Int, block: Int = CSVReader.blockBytes, threads: Int = 1) -> Outcome {
        do {
            return .table(
                try bytes.withUnsafeBufferPointer {
                    try CSVReader.parse(
                        $0, source: "v.csv", schema: schema, delimiter: UInt8(ascii: ","), blockBytes: block, threads: threads,
                        minimumChunkBytes: 1, scanLevel: level)
                })
        } catch let e as DataError {
            return .error(e)
        } catch {
            return .error(DataError(file: "?", message: "\(error)"))
        }
    }

    /// Every classification this CPU can run (the portable C one always; SSE2 and AVX2 on x86).
    static var levels: [Int] { Array(0...FieldIndex.bestLevel) }

    @Test("the kernel at every level gives the table of the scalar scanner")
    func sample() throws {
        let bytes = CSVBlockTests.sample(rows: 3000)
        let scalar = Self.read(bytes, schema: CSVBlockTests.schema, level: -1)
        guard case .table(let t) = scalar else {
            Issue.record("the sample must parse")
            return
        }
        #expect(t.rowCount == 3000)
        for level in Self.levels {
            for block in [100, 4096, 1 << 20] {
                for threads in [1, 3] {
                    #expect(
                        Self.read(bytes, schema: CSVBlockTests.schema, level: level, block: block, threads: threads) == scalar,
                        "level \(level), block \(block), threads \(threads)")
                }
            }
        }
    }

    /// Fields the kernel must leave to the scalar scanner (which accepts or rejects them), each in
    /// every field position of a row after and before plain rows.
    @Test("irregular fields: same table or same error at every level")
    func irregular() throws {
        let schema = CSVSchema([ColumnSpec("a", .string), ColumnSpec("c", .string), ColumnSpec("d", .string)])
        let fields = [
            "\"ab\"c", "\"ab\" ", "ab\"c", "ab\"", "\"a\"\"b\"", "\"\"\"\"", "\"\"x", "x\"\"", "\"a\"b\"c\"", "\"\"", "\"", "\"abc",
            // Two stray quotes around a delimiter: not a quoted span (the first is not at a field start).
            "ab\"c,d\"", "ab\"c\nd\"",
        ]
        let plain = String(repeating: "p1,p2,p3,p4\n", count: 30)
        var accepted = 0, rejected = 0
        for field in fields {
            for position in 0..<4 {
                var row = ["f1", "f2", "f3", "f4"]
                row[position] = field
                for ending in ["\n", "\r\n", "\r", ""] {
                    let text = "a,b,c,d\n" + plain + row.joined(separator: ",") + ending + (ending.isEmpty ? "" : plain)
                    let bytes = Array(text.utf8)
                    let scalar = Self.read(bytes, schema: schema, level: -1)
                    if case .table = scalar { accepted += 1 } else { rejected += 1 }
                    for level in Self.levels {
                        #expect(
                            Self.read(bytes, schema: schema, level: level) == scalar,
                            "\(field) at \(position), ending \(ending.debugDescription), level \(level)")
                    }
                }
            }
        }
        // Both kinds of irregular field are there: ones the reader accepts (a doubled quote, a stray
        // quote inside an unquoted field) and ones it rejects (text after a closing quote).
        #expect(accepted > 0)
        #expect(rejected > 0)
    }

    /// Random documents, mostly well formed (plain, quoted, doubled-quote, multi-line and empty
    /// fields; LF, CRLF and lone CR line ends; blank lines), some with one byte changed: the same
    /// table or the same error (message, line and column) at every level.
    @Test("random documents: same table or same error at every level")
    func random() throws {
        var draws = Draws(state: 0x9E37_79B9_7F4A_7C15)
        func next(_ bound: Int) -> Int { draws.next(bound) }
        let schema = CSVSchema([ColumnSpec("a", .string), ColumnSpec("c", .string), ColumnSpec("d", .string)])
        var differences = 0, errors = 0, tables = 0
        for document in 0..<400 {
            var text = "a,b,c,d\n"
            let rows = 1 + next(60)
            for _ in 0..<rows {
                var fields: [String] = []
                for _ in 0..<4 {
                    let word = String(repeating: ["x", "yz", "Q1", "long text "][next(4)], count: 1 + next(12))
                    switch next(8) {
                    case 0: fields.append("")
                    case 1: fields.append("\"\(word)\"")
                    case 2: fields.append("\"\(word),\(word)\"")
                    case 3: fields.append("\"\(word)\"\"\(word)\"")
                    case 4: fields.append("\"\(word)\n\(word)\r\n\"")
                    case 5: fields.append("\"\"")
                    default: fields.append(word)
                    }
                }
                text += fields.joined(separator: ",") + ["\n", "\r\n", "\r", "\n\n"][next(20) == 0 ? 2 + next(2) : next(2)]
            }
            var bytes = Array(text.utf8)
            if document % 3 == 0 {
                // One byte replaced by a quote, delimiter, line break or letter.
                bytes[8 + next(bytes.count - 8)] = [UInt8(ascii: "\""), UInt8(ascii: ","), 0x0A, 0x0D, UInt8(ascii: "k")][next(5)]
            }
            let scalar = Self.read(bytes, schema: schema, level: -1, block: 512)
            if case .table = scalar { tables += 1 } else { errors += 1 }
            for level in Self.levels {
                let vector = Self.read(bytes, schema: schema, level: level, block: 512, threads: 1 + document % 3)
                if vector != scalar {
                    differences += 1
                    Issue.record("document \(document), level \(level): \(vector) != \(scalar)")
                }
            }
        }
        #expect(differences == 0)
        // Both kinds of outcome were exercised.
        #expect(tables > 100)
        #expect(errors > 20)
    }
}
