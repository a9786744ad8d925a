import Foundation
import PipelineCLI
import ScoreCLI
import Stats
import Tabular
import TestSupport
import Testing

/// Seeded random mutation of real rows (the head of the Hillstrom file from DATA_MIRROR): the CSV
/// reader and the scorer's whole validation path must answer every mutant with a table, a clean
/// error (exit 2) or a score (exit 0), never a trap, a hang or another exit status. Bounded in
/// count and time so CI stays short; the seed is printed with a failure to replay it.
@Suite("fuzz: mutated copies of the real data", .serialized)
struct FuzzTests {
    static let seed: UInt64 = 20_261_129
    static let timeBudget: TimeInterval = 45

    /// The header and the first `rows` lines of the Hillstrom file.
    static func realHead(rows: Int) throws -> [UInt8] {
        let path = try realDataFile("hillstrom.csv")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Bytes, not String lines: a String splits "\r\n" as one character.
        var end = 0, lines = 0
        while end < bytes.count && lines <= rows {
            if bytes[end] == 0x0A { lines += 1 }
            end += 1
        }
        return Array(bytes[0..<end])
    }

    /// One random edit of the kinds that break parsers: bytes that are structure in CSV (quotes,
    /// delimiters, line ends, NUL), invalid UTF-8, deletions, duplications, truncation and numbers
    /// at the edge of a double.
    static func mutate(_ input: [UInt8], _ g: inout SeededGenerator) -> [UInt8] {
        var b = input
        let edits = 1 + g.next(below: 4)
        for _ in 0..<edits {
            guard !b.isEmpty else { return b }
            let at = g.next(below: b.count)
            switch g.next(below: 10) {
            case 0: b[at] = [0x22, 0x2C, 0x0A, 0x0D, 0x00, 0xFF, 0xC3, 0x3B][g.next(below: 8)]
            case 1: b.insert(contentsOf: [[0x22], [0x22, 0x22], [0x0D], [0x0D, 0x0A], [0x2C, 0x2C], [0xEF, 0xBB, 0xBF]][g.next(below: 6)], at: at)
            case 2: b.removeSubrange(at..<min(b.count, at + 1 + g.next(below: 40)))
            case 3: b = Array(b[0..<at])
            case 4:
                let end = min(b.count, at + 1 + g.next(below: 200))
                b.insert(contentsOf: Array(b[at..<end]), at: g.next(below: b.count))
            case 5: b.insert(contentsOf: Array(["1e308", "-1e400", "NaN", "inf", "9223372036854775808", "-0", "1e-320", ""][g.next(below: 8)].utf8), at: at)
            case 6: b[at] ^= UInt8(1 << g.next(below: 8))
            case 7: b.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "9"), count: 1 + g.next(below: 400)), at: at)
            case 8: b = b.map { $0 == 0x0A ? 0x0D : $0 }
            default: b.insert(contentsOf: [UInt8](repeating: 0x2C, count: 1 + g.next(below: 5)), at: at)
            }
        }
        return b
    }

    static let schema = CSVSchema([
        ColumnSpec("recency", .int), ColumnSpec("history_segment", .string), ColumnSpec("history", .double),
        ColumnSpec("mens", .int), ColumnSpec("womens", .int), ColumnSpec("zip_code", .string), ColumnSpec("newbie", .int),
        ColumnSpec("channel", .string), ColumnSpec("segment", .string), ColumnSpec("visit", .int), ColumnSpec("conversion", .int),
        ColumnSpec("spend", .double),
    ])

    @Test("the CSV reader: a table or a DataError for every mutant")
    func reader() throws {
        let head = try Self.realHead(rows: 300)
        var g = SeededGenerator(seed: Self.seed)
        let started = Date()
        var tables = 0, errors = 0
        for k in 0..<3000 where Date().timeIntervalSince(started) < Self.timeBudget {
            let mutant = Self.mutate(head, &g)
            do {
                let t = try CSVReader.read(bytes: mutant, source: "mutant-\(k)", schema: Self.schema)
                #expect(t.rowCount <= 2 * 300 + 10, "seed \(Self.seed), mutant \(k)")
                tables += 1
            } catch let e as DataError {
                #expect(e.file == "mutant-\(k)")
                #expect(e.description.utf8.count < 600, "seed \(Self.seed), mutant \(k): message of \(e.description.utf8.count) bytes")
                errors += 1
            }
        }
        // Both kinds of answer occur: the mutations reach the parser's error paths and pass through it.
        #expect(tables > 0 && errors > 0, "\(tables) tables, \(errors) errors")
    }

    @Test("the scorer: exit 0 or 2, one error line, nothing left behind, for every mutant")
    func scorer() throws {
        let f = try Fixture()
        let head = try Self.realHead(rows: 200)
        var g = SeededGenerator(seed: Self.seed &+ 1)
        let started = Date()
        var statuses: [Int32: Int] = [:]
        for k in 0..<400 where Date().timeIntervalSince(started) < Self.timeBudget {
            let input = f.dir + "/mutant.csv", out = f.dir + "/mutant-out.csv"
            try Data(Self.mutate(head, &g)).write(to: URL(fileURLWithPath: input))
            let policy = ["positive", "bestN"][k % 2]
            let r = try runScore([
                "--models", f.models, "--in", input, "--out", out, "--policy", policy, "--chunk-bytes", "1024",
                "--max-rows-in-memory", "50",
            ])
            statuses[r.status, default: 0] += 1
            #expect(r.status == 0 || r.status == 2, "seed \(Self.seed &+ 1), mutant \(k): exit \(r.status): \(r.stderr)")
            if r.status == 2 {
                #expect(r.stderr.hasPrefix("error: "), "mutant \(k): \(r.stderr)")
                #expect(!FileManager.default.fileExists(atPath: out), "mutant \(k) left an output")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: f.dir)
            #expect(!names.contains { $0.contains(".partial-") }, "mutant \(k) left \(names)")
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: out + ".drift.json")
        }
        #expect(statuses[0, default: 0] > 0 && statuses[2, default: 0] > 0, "\(statuses)")
    }
}
