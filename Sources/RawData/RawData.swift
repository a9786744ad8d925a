import Base
import Foundation
import Provenance
import Tabular
import Workbook

/// Where one raw file comes from.
public struct RawFileSource: Codable, Sendable, Equatable {
    public struct WorkbookSource: Codable, Sendable, Equatable {
        public var url: String
        /// The .xlsx inside the downloaded zip.
        public var member: String
        /// Published SHA-256 of the workbook.
        public var sha256: String
    }

    public var name: String
    public var url: String?
    /// When `url` is a zip: the member to extract.
    public var zipMember: String?
    public var workbook: WorkbookSource?

    enum CodingKeys: String, CodingKey {
        case name, url, workbook
        case zipMember = "zip_member"
    }
}

public struct DataParams: Codable, Sendable, Equatable {
    public var files: [RawFileSource]
}

/// What happened to one file.
public struct FetchRecord: Sendable, Equatable {
    public enum Origin: String, Sendable { case cached, mirror, download, workbook }
    public var name: String
    public var origin: Origin
    public var sha256: String
    /// Checked against data/SHA256SUMS (false for CSVs converted from a workbook, whose checksum is recorded instead).
    public var verified: Bool
    public var detail: String
}

/// Parses a `sha256sum`-style file: "<hex>  <name>" per line.
public func readChecksums(_ path: String) throws -> [String: String] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DataError(file: path, message: "cannot read checksum list")
    }
    var sums: [String: String] = [:]
    for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        let parts = trimmed.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) else {
            throw DataError(file: path, line: i + 1, message: "expected '<64 hex digits>  <file name>'")
        }
        sums[parts[1].hasPrefix("*") ? String(parts[1].dropFirst()) : parts[1]] = parts[0].lowercased()
    }
    return sums
}

/// Gets raw files into a directory: cached copy, data mirror, or public download (with zip
/// extraction and workbook conversion), verifying checksums. Never leaves a partial file.
public struct RawDataFetcher {
    public var rawDir: String
    public var mirror: String?
    public var checksums: [String: String]
    public var checksumFile: String
    public var progress: ProgressReporter

    public init(rawDir: String, mirror: String?, checksumFile: String) throws {
        self.rawDir = rawDir
        self.mirror = mirror
        self.checksumFile = checksumFile
        self.checksums = try readChecksums(checksumFile)
        self.progress = ProgressReporter()
    }

    public func fetch(_ source: RawFileSource) throws -> FetchRecord {
        let target = rawDir + "/" + source.name
        try FileManager.default.createDirectory(atPath: rawDir, withIntermediateDirectories: true)
        guard let expected = checksums[source.name] else {
            // A CSV converted from a workbook cannot be pinned in advance: the workbook is checked instead.
            if let workbook = source.workbook {
                return try cachedConversion(target: target, workbook: workbook)
                    ?? convertWorkbook(source: source, workbook: workbook, target: target)
            }
            throw DataError(file: checksumFile, message: "no checksum listed for \(source.name)")
        }
        if FileManager.default.fileExists(atPath: target), try SHA256.hex(ofFile: target) == expected {
            return FetchRecord(name: source.name, origin: .cached, sha256: expected, verified: true, detail: "already present")
        }
        if let mirrored = mirrorPath(source.name) {
            progress.say("data: copying \(source.name) from \(mirrored)")
            try AtomicFile.copy(from: mirrored, to: target)
            try verify(target, expected: expected, origin: mirrored)
            return FetchRecord(name: source.name, origin: .mirror, sha256: expected, verified: true, detail: mirrored)
        }
        if let workbook = source.workbook {
            return try cachedConversion(target: target, workbook: workbook)
                ?? convertWorkbook(source: source, workbook: workbook, target: target)
        }
        guard let url = source.url else {
            throw DataError(file: source.name, message: "not in the data mirror and no download URL is configured")
        }
        if let member = source.zipMember {
            let zipPath = rawDir + "/" + URL(fileURLWithPath: url).lastPathComponent
            try download(url, to: zipPath)
            try ZipArchiveReader.extract(member: member, from: zipPath, to: target)
        } else {
            try download(url, to: target)
        }
        try verify(target, expected: expected, origin: url)
        return FetchRecord(name: source.name, origin: .download, sha256: expected, verified: true, detail: url)
    }

    func mirrorPath(_ name: String) -> String? {
        guard let mirror else { return nil }
        let path = mirror + "/" + name
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    func verify(_ path: String, expected: String, origin: String) throws {
        let actual = try SHA256.hex(ofFile: path)
        guard actual == expected else {
            let bad = path + ".bad"
            try? FileManager.default.removeItem(atPath: bad)
            try? FileManager.default.moveItem(atPath: path, toPath: bad)
            throw DataError(
                file: path,
                message:
                    "checksum mismatch (from \(origin)): expected \(expected), got \(actual). The file is not the published data set; it was moved to \(bad).")
        }
    }

    /// The workbook conversion is cached: a marker beside the CSV records which workbook it came from.
    func cachedConversion(target: String, workbook: RawFileSource.WorkbookSource) throws -> FetchRecord? {
        let marker = target + ".source"
        guard FileManager.default.fileExists(atPath: target),
            let recorded = FileManager.default.contents(atPath: marker).map({ String(decoding: $0, as: UTF8.self) }),
            recorded.trimmingCharacters(in: .whitespacesAndNewlines) == "workbook \(workbook.sha256)"
        else { return nil }
        return FetchRecord(
            name: URL(fileURLWithPath: target).lastPathComponent, origin: .cached, sha256: try SHA256.hex(ofFile: target),
            verified: false, detail: "converted earlier from workbook \(workbook.sha256)")
    }

    func convertWorkbook(source: RawFileSource, workbook: RawFileSource.WorkbookSource, target: String) throws -> FetchRecord {
        let xlsx = rawDir + "/" + workbook.member
        let haveWorkbook = try FileManager.default.fileExists(atPath: xlsx) && SHA256.hex(ofFile: xlsx) == workbook.sha256
        if !haveWorkbook {
            let zipPath = rawDir + "/" + URL(fileURLWithPath: workbook.url).lastPathComponent
            if !FileManager.default.fileExists(atPath: zipPath) {
                try download(workbook.url, to: zipPath)
            }
            try ZipArchiveReader.extract(member: workbook.member, from: zipPath, to: xlsx)
            try verify(xlsx, expected: workbook.sha256, origin: workbook.url)
        }
        progress.say("data: converting \(workbook.member) to \(source.name)")
        let result = try Workbook.convertToCSV(xlsxPath: xlsx, csvPath: target)
        try AtomicFile.write("workbook \(workbook.sha256)\n", to: target + ".source")
        return FetchRecord(
            name: source.name, origin: .workbook, sha256: try SHA256.hex(ofFile: target), verified: false,
            detail: "converted from \(workbook.member) (sheets: \(result.sheets.joined(separator: ", ")); \(result.rows) rows)")
    }

    func download(_ url: String, to path: String) throws {
        progress.say("data: downloading \(url)")
        let tmp = path + ".part"
        let quiet = progress.enabled ? "-#" : "-sS"
        let result = try Shell.run(["curl", "-fL", quiet, "--retry", "3", "--connect-timeout", "30", "-o", tmp, url])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            throw DataError(
                file: url,
                message:
                    "download failed (curl exit \(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)). Set DATA_MIRROR to a folder holding the files to work offline."
            )
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError(file: path, message: "cannot move the download into place: \(reason)")
        }
    }
}
