import Foundation
import Tabular
import ZIPFoundation

/// Reading members of a .zip archive (the UCI download is a zip that holds the .xlsx).
public enum ZipArchiveReader {
    /// The paths of the archive's file members, in archive order (directories are left out).
    public static func members(of zipPath: String) throws -> [String] {
        try ZipContainer(path: zipPath).memberPaths()
    }

    /// Extracts one member to `destinationPath`, atomically: the bytes go to a temporary file in
    /// the destination's directory, which is renamed into place once complete and CRC-checked.
    /// An existing file at `destinationPath` is replaced.
    public static func extract(member: String, from zipPath: String, to destinationPath: String) throws {
        let zip = try ZipContainer(path: zipPath)
        let url = URL(fileURLWithPath: destinationPath)
        let dir = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: destinationPath, message: "cannot create directory \(dir): \(error.localizedDescription)")
        }
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        unlink(tmp)
        guard let out = fopen(tmp, "wb") else {
            throw DataError(file: destinationPath, message: "cannot write temporary file \(tmp): \(String(cString: strerror(errno)))")
        }
        var closed = false
        defer {
            if !closed { fclose(out) }
        }
        do {
            try zip.stream(member) { chunk in
                guard chunk.count > 0 else { return }
                if fwrite(chunk.baseAddress!, 1, chunk.count, out) != chunk.count {
                    throw DataError(file: destinationPath, message: "write failed: \(String(cString: strerror(errno)))")
                }
            }
            closed = true
            if fclose(out) != 0 {
                throw DataError(file: destinationPath, message: "write failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(tmp)
            throw error
        }
        if rename(tmp, destinationPath) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw DataError(file: destinationPath, message: "cannot move the extracted file into place: \(reason)")
        }
    }

    /// The bytes of one member, read into memory.
    public static func data(member: String, from zipPath: String) throws -> Data {
        Data(try ZipContainer(path: zipPath).read(member))
    }
}

/// An open zip archive, with errors reported as `DataError`s naming the archive.
final class ZipContainer {
    let path: String
    private let archive: Archive
    private var entriesByPath: [String: Entry] = [:]
    private var orderedPaths: [String] = []

    /// Size of the chunks the decompressor hands over.
    static let chunkSize = Int(ProcessInfo.processInfo.environment["WB_CHUNK"] ?? "") ?? (1 << 18)
    static let skipCRC = ProcessInfo.processInfo.environment["WB_SKIPCRC"] != nil

    init(path: String, kind: String = "a zip archive") throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(file: path, message: "file not found")
        }
        guard !isDirectory.boolValue else {
            throw DataError(file: path, message: "is a directory, expected \(kind)")
        }
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw DataError(file: path, message: "not \(kind): the file is not a readable zip archive (\(error))")
        }
        for entry in archive {
            if entriesByPath[entry.path] == nil { orderedPaths.append(entry.path) }
            entriesByPath[entry.path] = entry
        }
    }

    func memberPaths() -> [String] {
        orderedPaths.filter { entriesByPath[$0]?.type == .file }
    }

    func contains(_ member: String) -> Bool {
        entriesByPath[member]?.type == .file
    }

    private func entry(_ member: String) throws -> Entry {
        guard let entry = entriesByPath[member], entry.type == .file else {
            let listing = memberPaths()
            let shown = listing.prefix(20).joined(separator: ", ")
            throw DataError(file: path, message: "the archive has no member '\(member)' (members: \(shown)\(listing.count > 20 ? ", ..." : ""))")
        }
        return entry
    }

    /// Hands the member's decompressed bytes to `body` chunk by chunk, then checks the CRC.
    func stream(_ member: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let entry = try entry(member)
        // Errors from `body` pass through unchanged; anything else comes from the archive itself.
        var bodyError: Error? = nil
        let crc: CRC32
        do {
            crc = try archive.extract(entry, bufferSize: Self.chunkSize, skipCRC32: Self.skipCRC) { data in
                do {
                    try data.withUnsafeBytes { try body($0) }
                } catch {
                    bodyError = error
                    throw error
                }
            }
        } catch {
            if let bodyError { throw bodyError }
            throw DataError(file: path, message: "cannot read member '\(member)' (corrupted archive?): \(error)")
        }
        guard Self.skipCRC || crc == entry.checksum else {
            throw DataError(file: path, message: "member '\(member)' is corrupted (CRC-32 mismatch)")
        }
    }

    /// The member's bytes, read into memory.
    func read(_ member: String) throws -> [UInt8] {
        let entry = try entry(member)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 30)))
        try stream(member) { bytes.append(contentsOf: $0) }
        return bytes
    }
}
