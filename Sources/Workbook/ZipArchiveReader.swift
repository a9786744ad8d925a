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
    static let chunkSize = 1 << 18

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

    /// Members at least this large are decompressed on a helper thread while the calling thread
    /// consumes the chunks (inflating and CRC-checking is about a third of converting a sheet).
    static let pipelineThreshold: UInt64 = 1 << 20

    /// Hands the member's decompressed bytes to `body` chunk by chunk, then checks the CRC.
    /// Errors thrown by `body` pass through unchanged.
    func stream(_ member: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let entry = try entry(member)
        if entry.uncompressedSize >= Self.pipelineThreshold {
            try streamPipelined(member, entry, body)
            return
        }
        var bodyError: Error? = nil
        var crc = CRC32Checksum()
        do {
            // ZIPFoundation's own CRC-32 (a byte-wise table on Linux) is skipped for a faster one.
            _ = try archive.extract(entry, bufferSize: Self.chunkSize, skipCRC32: true) { data in
                do {
                    try data.withUnsafeBytes { chunk in
                        crc.update(chunk)
                        try body(chunk)
                    }
                } catch {
                    bodyError = error
                    throw error
                }
            }
        } catch {
            if let bodyError { throw bodyError }
            throw archiveError(member, error)
        }
        guard crc.value == entry.checksum else {
            throw archiveError(member, ChecksumMismatch())
        }
    }

    private func streamPipelined(_ member: String, _ entry: Entry, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let pipe = ChunkPipe()
        let producer = ChunkProducer(archive: archive, entry: entry, pipe: pipe)
        let thread = Thread { producer.run() }
        thread.name = "Workbook.unzip"
        thread.start()
        do {
            while let chunk = pipe.take() {
                try chunk.withUnsafeBytes { try body($0) }
            }
        } catch {
            pipe.cancelAndWait()  // the archive must be idle again before anything else reads it
            throw error
        }
        if let failure = pipe.failure {
            throw archiveError(member, failure)
        }
    }

    private func archiveError(_ member: String, _ error: Error) -> DataError {
        if error is ChecksumMismatch {
            return DataError(file: path, message: "member '\(member)' is corrupted (CRC-32 mismatch)")
        }
        return DataError(file: path, message: "cannot read member '\(member)' (corrupted archive?): \(error)")
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

private struct ChecksumMismatch: Error {}

/// Decompresses one member on its own thread into a `ChunkPipe`. Only this thread touches the
/// archive until the pipe reports the producer finished.
private final class ChunkProducer: @unchecked Sendable {
    let archive: Archive
    let entry: Entry
    let pipe: ChunkPipe

    init(archive: Archive, entry: Entry, pipe: ChunkPipe) {
        self.archive = archive
        self.entry = entry
        self.pipe = pipe
    }

    func run() {
        var crc = CRC32Checksum()
        do {
            _ = try archive.extract(entry, bufferSize: ZipContainer.chunkSize, skipCRC32: true) { data in
                // Copied: a decompressor may reuse the buffer behind `data` for the next chunk.
                let chunk = data.withUnsafeBytes { raw -> [UInt8] in
                    crc.update(raw)
                    return [UInt8](unsafeUninitializedCapacity: raw.count) { buffer, count in
                        if let base = raw.baseAddress, raw.count > 0 {
                            buffer.baseAddress!.update(from: base.assumingMemoryBound(to: UInt8.self), count: raw.count)
                        }
                        count = raw.count
                    }
                }
                try self.pipe.put(chunk)
            }
            pipe.finish(crc.value == entry.checksum ? nil : ChecksumMismatch())
        } catch {
            pipe.finish(error)
        }
    }
}

/// A bounded queue of chunks from one producer thread to one consumer thread.
private final class ChunkPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var producing = true
    private var cancelled = false
    private var producerError: Error?
    private static let capacity = 8

    struct Cancelled: Error {}

    /// Producer: waits while the queue is full; throws once the consumer has cancelled.
    func put(_ chunk: [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        while chunks.count >= Self.capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        chunks.append(chunk)
        condition.broadcast()
    }

    /// Producer: no more chunks; `error` says why if it stopped early.
    func finish(_ error: Error?) {
        condition.lock()
        producerError = error
        producing = false
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next chunk, or nil once the producer has finished and the queue is drained.
    func take() -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && producing { condition.wait() }
        if chunks.isEmpty { return nil }
        let chunk = chunks.removeFirst()
        condition.broadcast()
        return chunk
    }

    /// Consumer: stops the producer and waits until it has finished.
    func cancelAndWait() {
        condition.lock()
        cancelled = true
        chunks.removeAll()
        condition.broadcast()
        while producing { condition.wait() }
        condition.unlock()
    }

    /// Why the producer stopped early (nil if it delivered everything). Read after `take` returned nil.
    var failure: Error? {
        condition.lock()
        defer { condition.unlock() }
        return producerError
    }
}
