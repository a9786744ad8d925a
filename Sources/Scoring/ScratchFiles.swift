import Dispatch
import Foundation
import Tabular

/// Where a run may write, checked before anything is read: an output must not be an input or
/// another output (the same file by device and inode, or by resolved path where it does not
/// exist yet), must not be a directory, and its folder must exist.
public enum OutputPaths {
    /// A file's identity: device and inode when it exists, else its resolved path.
    enum Identity: Equatable {
        case inode(dev: UInt64, ino: UInt64)
        case path(String)
    }

    static func identity(ofDescriptor fd: Int32) -> Identity? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return .inode(dev: UInt64(info.st_dev), ino: UInt64(info.st_ino))
    }

    static func identity(_ path: String) -> Identity {
        var info = stat()
        if stat(path, &info) == 0 { return .inode(dev: UInt64(info.st_dev), ino: UInt64(info.st_ino)) }
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let dir = realpath(parent, &resolved) != nil ? String(cString: resolved) : parent
        return .path(dir + "/" + url.lastPathComponent)
    }

    /// The file a path finally names: symbolic links followed, also a dangling one (writing
    /// replaces that file, not the link).
    public static func resolve(_ path: String) -> String {
        var current = path
        for _ in 0..<32 {
            var info = stat()
            guard lstat(current, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK else { return current }
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &target, Int(PATH_MAX))
            guard n > 0 else { return current }
            let link = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent(link).path
        }
        return current
    }

    /// Refuses an output path that would destroy an input or another output, or that cannot be
    /// written at all, and returns the files the outputs finally name (symbolic links followed).
    /// `inputs` are paths ("-": standard input); `outputs` pairs a flag name with the path it
    /// names ("-": standard output, not checked).
    @discardableResult
    public static func check(inputs: [String], outputs: [(flag: String, path: String)]) throws -> [String] {
        var seen: [(flag: String, path: String, id: Identity)] = []
        var resolved: [String] = []
        let inputIDs: [(String, Identity)] = inputs.compactMap { path in
            if path == "-" { return identity(ofDescriptor: STDIN_FILENO).map { ("standard input", $0) } }
            return (path, identity(path))
        }
        for (flag, given) in outputs {
            guard given != "-" else {
                resolved.append(given)
                continue
            }
            let path = resolve(given)
            var info = stat()
            if stat(path, &info) == 0 {
                let kind = info.st_mode & S_IFMT
                if kind != S_IFREG && kind != S_IFDIR {
                    throw DataError(file: given, message: "\(flag) names a device, FIFO or socket; give a regular file path (or - for standard output)")
                }
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw DataError(file: path, message: "\(flag) names a directory; give a file path")
            }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw DataError(file: path, message: "\(flag): the folder \(folder) does not exist")
            }
            let id = identity(path)
            if let (input, _) = inputIDs.first(where: { $0.1 == id }) {
                throw DataError(file: path, message: "\(flag) is the input \(input): refusing to overwrite it")
            }
            if let other = seen.first(where: { $0.id == id }) {
                throw DataError(file: path, message: "\(flag) and \(other.flag) name the same file")
            }
            seen.append((flag, path, id))
            resolved.append(path)
        }
        return resolved
    }
}

/// The files a run writes before they are complete: partial outputs beside their targets and one
/// scratch folder for spilled runs. All are removed when the run ends, on success, on an error
/// and on SIGINT, SIGTERM or SIGHUP; what a SIGKILLed run left is removed by the next run.
public final class ScratchFiles: @unchecked Sendable {
    /// Suffix of a partial output: `<output>.partial-<pid>`.
    public static let partialMarker = ".partial-"
    /// Prefix of a scratch folder in the temporary directory: `score-scratch-<pid>-<uuid>`.
    public static let scratchPrefix = "score-scratch-"

    private let lock = NSLock()
    private var paths: [String] = []
    private var directories: [String] = []

    public init() {}

    /// A partial file for `output`, after removing partials of the same output whose process is gone.
    public func partial(for output: String) -> String {
        Self.removeStale(
            in: URL(fileURLWithPath: output).deletingLastPathComponent().path,
            prefix: URL(fileURLWithPath: output).lastPathComponent + Self.partialMarker)
        let path = output + Self.partialMarker + String(getpid())
        unlink(path)
        lock.lock(); paths.append(path); lock.unlock()
        return path
    }

    /// A new scratch folder, after removing scratch folders of runs whose process is gone.
    public func scratchDirectory() throws -> String {
        let tmp = FileManager.default.temporaryDirectory.path
        Self.removeStale(in: tmp, prefix: Self.scratchPrefix)
        let dir = tmp + "/" + Self.scratchPrefix + "\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        lock.lock(); directories.append(dir); lock.unlock()
        return dir
    }

    /// The file is complete and renamed: no longer ours to remove.
    public func release(_ path: String) {
        lock.lock(); paths.removeAll { $0 == path }; lock.unlock()
    }

    /// Removes every partial file and scratch folder still held.
    public func removeAll() {
        lock.lock()
        let (p, d) = (paths, directories)
        paths = []
        directories = []
        lock.unlock()
        for path in p { unlink(path) }
        for dir in d { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// On SIGINT, SIGTERM or SIGHUP: remove what is held, then end by the same signal. The handler
    /// only writes the signal number to a pipe; a thread waiting on the pipe removes the files
    /// (not async-signal-safe work) and re-sends the signal with its default action.
    public func removeOnSignals() {
        SignalCleanup.install(self)
    }

    /// Stops handling signals (the run is over; the default actions are back).
    public func stopHandlingSignals() {
        SignalCleanup.uninstall()
    }

    deinit { removeAll() }

    /// Entries of `folder` named `<prefix><pid>…` whose process no longer exists.
    static func removeStale(in folder: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            // Only names this program makes: `<prefix><pid>` or `<prefix><pid>-<UUID>`.
            let rest = name.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isNumber }
            let tail = rest.dropFirst(digits.count)
            guard tail.isEmpty || (tail.first == "-" && UUID(uuidString: String(tail.dropFirst())) != nil) else { continue }
            guard let pid = Int32(digits), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}

/// The process-wide signal hook of `ScratchFiles`: signal dispositions are per process, so this is
/// the one piece of global state here, touched only by the CLI's main thread and the handler.
enum SignalCleanup {
    static let signals = [SIGINT, SIGTERM, SIGHUP]
    nonisolated(unsafe) static var pipeWrite: Int32 = -1
    nonisolated(unsafe) static var owner: ScratchFiles?

    /// The signals this run handles: those its parent did not ask it to ignore (`nohup`, `trap ''`
    /// keep working).
    nonisolated(unsafe) static var handled: [Int32] = []

    static func ignored(_ sig: Int32) -> Bool {
        var old = sigaction()
        guard sigaction(sig, nil, &old) == 0 else { return false }
        let handler = old.__sigaction_handler.sa_handler.map { unsafeBitCast($0, to: Int.self) } ?? 0
        return handler == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    static func install(_ files: ScratchFiles) {
        handled = signals.filter { !ignored($0) }
        // A parent may have left these blocked (a blocked mask is inherited across exec); a
        // blocked signal would never reach the handler.
        var set = sigset_t()
        sigemptyset(&set)
        for sig in handled { sigaddset(&set, sig) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        owner = files
        pipeWrite = fds[1]
        let readEnd = fds[0]
        let thread = Thread {
            var sig: Int32 = 0
            let got = withUnsafeMutableBytes(of: &sig) { Foundation.read(readEnd, $0.baseAddress!, 4) }
            guard got == 4 else { return }
            owner?.removeAll()
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigaction(sig, &action, nil)
            kill(getpid(), sig)
        }
        thread.start()
        for sig in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var s = sig
                _ = withUnsafeBytes(of: &s) { Foundation.write(SignalCleanup.pipeWrite, $0.baseAddress!, 4) }
            }
            sigaction(sig, &action, nil)
        }
    }

    static func uninstall() {
        for sig in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigaction(sig, &action, nil)
        }
        owner = nil
    }
}
