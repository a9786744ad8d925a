import Base
import Foundation
import Provenance
import Tabular
import Testing

@testable import RawData

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
private let fixtures = root + "/Tests/WorkbookTests/Fixtures"

private func scratch() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir + "/mirror", withIntermediateDirectories: true)
    return dir
}

@Suite("Raw data fetching")
struct RawDataTests {
    @Test("checksum lists parse, and malformed lines name their line")
    func checksumList() throws {
        let dir = try scratch()
        try AtomicFile.write("\(String(repeating: "ab", count: 32))  a.csv\n\n", to: dir + "/ok")
        #expect(try readChecksums(dir + "/ok") == ["a.csv": String(repeating: "ab", count: 32)])
        try AtomicFile.write("\(String(repeating: "ab", count: 32))  a.csv\nnot a checksum\n", to: dir + "/bad")
        do {
            _ = try readChecksums(dir + "/bad")
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.line == 2)
        }
        try FileManager.default.removeItem(atPath: dir)
    }

    @Test("files come from the mirror, are verified, and are cached afterwards")
    func mirrorAndCache() throws {
        let dir = try scratch()
        try AtomicFile.write("x,y\n1,2\n", to: dir + "/mirror/t.csv")
        try AtomicFile.write("\(SHA256.hex(of: Data("x,y\n1,2\n".utf8)))  t.csv\n", to: dir + "/SUMS")
        let fetcher = try RawDataFetcher(rawDir: dir + "/raw", mirror: dir + "/mirror", checksumFile: dir + "/SUMS")
        let first = try fetcher.fetch(RawFileSource(name: "t.csv", url: nil, zipMember: nil, workbook: nil))
        #expect(first.origin == .mirror && first.verified)
        let second = try fetcher.fetch(RawFileSource(name: "t.csv", url: nil, zipMember: nil, workbook: nil))
        #expect(second.origin == .cached)
        try FileManager.default.removeItem(atPath: dir)
    }

    @Test("a checksum mismatch stops with a clear message and leaves no file under the real name")
    func mismatch() throws {
        let dir = try scratch()
        try AtomicFile.write("tampered\n", to: dir + "/mirror/t.csv")
        try AtomicFile.write("\(String(repeating: "0", count: 64))  t.csv\n", to: dir + "/SUMS")
        let fetcher = try RawDataFetcher(rawDir: dir + "/raw", mirror: dir + "/mirror", checksumFile: dir + "/SUMS")
        do {
            _ = try fetcher.fetch(RawFileSource(name: "t.csv", url: nil, zipMember: nil, workbook: nil))
            Issue.record("expected a checksum error")
        } catch let e as DataError {
            #expect(e.message.contains("checksum mismatch"))
            #expect(e.message.contains(String(repeating: "0", count: 64)))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/raw/t.csv"))
        try FileManager.default.removeItem(atPath: dir)
    }

    @Test("the workbook path: zip download, workbook checksum, both sheets to one CSV, cached")
    func workbookPath() throws {
        let dir = try scratch()
        try AtomicFile.write("", to: dir + "/SUMS")
        let fetcher = try RawDataFetcher(rawDir: dir + "/raw", mirror: dir + "/mirror", checksumFile: dir + "/SUMS")
        let workbookHash = try SHA256.hex(ofFile: fixtures + "/online_retail_sample.xlsx")
        let source = RawFileSource(
            name: "online_retail_II.csv", url: nil, zipMember: nil,
            workbook: .init(
                url: "file://" + fixtures + "/online_retail_sample.zip", member: "online_retail_sample.xlsx", sha256: workbookHash))
        let record = try fetcher.fetch(source)
        #expect(record.origin == .workbook)
        #expect(!record.verified)
        let expected = FileManager.default.contents(atPath: fixtures + "/online_retail_sample.expected.csv")!
        let csv = FileManager.default.contents(atPath: dir + "/raw/online_retail_II.csv")!
        #expect(csv == expected)
        #expect(record.sha256 == SHA256.hex(of: expected))
        #expect(try fetcher.fetch(source).origin == .cached)

        // A workbook whose checksum is not the published one is refused.
        try FileManager.default.removeItem(atPath: dir + "/raw")
        let wrong = RawFileSource(
            name: "online_retail_II.csv", url: nil, zipMember: nil,
            workbook: .init(
                url: "file://" + fixtures + "/online_retail_sample.zip", member: "online_retail_sample.xlsx", sha256: String(repeating: "1", count: 64)))
        #expect(throws: DataError.self) { try fetcher.fetch(wrong) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/raw/online_retail_II.csv"))
        try FileManager.default.removeItem(atPath: dir)
    }
}
