import Base
import CGSL
import Foundation
import Stats
import Tabular

/// Runs an external command and captures its standard output.
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(_ arguments: [String], input: [UInt8]? = nil, directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        if input != nil { process.standardInput = inPipe } else { process.standardInput = FileHandle.nullDevice }
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input))
            try? inPipe.fileHandleForWriting.close()
        }
        // Read both pipes fully before waiting so a chatty child cannot block on a full pipe.
        let errData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// First line of a command's output, or nil when the command is missing or fails.
    public static func firstLine(_ arguments: [String]) -> String? {
        guard let r = try? run(arguments), r.status == 0 else { return nil }
        let text = r.stdout.isEmpty ? r.stderr : r.stdout
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Versions of the tools that produced an artifact.
public enum ToolVersions {
    public static var swift: String {
        if let v = ProcessInfo.processInfo.environment["PIPELINE_SWIFT_VERSION"], !v.isEmpty { return v }
        #if compiler(>=6.3)
            return "Swift compiler >= 6.3"
        #else
            return "Swift compiler < 6.3"
        #endif
    }

    public static var gsl: String { String(cString: cgsl_runtime_version()) }

    public static var gnuplot: String { Shell.firstLine(["gnuplot", "--version"]) ?? "not found" }

    public static func current(gnuplot useGnuplot: Bool = false, extra: [String: String] = [:]) -> [String: String] {
        var tools = ["swift": swift, "gsl": gsl]
        if useGnuplot { tools["gnuplot"] = gnuplot }
        for (k, v) in extra { tools[k] = v }
        return tools
    }
}

/// The provenance of one stage run: inputs, parameters, code version, tools, outputs and wall time.
/// Outputs are written atomically through it; `finish()` writes `manifest.json` last, so a stage
/// whose manifest exists completed.
///
/// A run that does not finish leaves nothing that looks complete. Starting a run removes the
/// stage's previous manifest (its outputs are about to change, and a run killed outright must not
/// leave a manifest describing files it half replaced). A run that ends any other way than through
/// `finish()` (an error thrown anywhere, or `finish()` itself failing) is abandoned when it is
/// released: every output it recorded is removed (except the ones `keepOnFailure` names), and no
/// manifest is left. Abandoning on release rather than in `pipelineMain`'s error path keeps it
/// where the outputs are known: every way out of a stage's `run()` other than `finish()` unwinds
/// and releases the run (`pipelineMain` exits only after `run()` has returned or thrown), tests
/// and benchmarks that drive a stage in-process get the same guarantee, and no global registry of
/// live runs is needed. `abandon()` does the same explicitly.
public final class StageRun {
    public let stage: String
    public let manifestPath: String
    public var parameters: JSONValue = .object([:])
    public var tools: [String: String]
    public private(set) var inputs: [String] = []
    public private(set) var outputs: [String] = []
    public var notes: [String: JSONValue] = [:]
    public private(set) var isFinished = false
    private var keptOnFailure: Set<String> = []
    private let started = Date()
    private let startedClock = DispatchTime.now()
    /// The code version, asked of git while the stage works (two processes the manifest would
    /// otherwise wait for at the end; the stage's outputs are not tracked, so the answer is the same).
    private let code = BackgroundWork { GitInfo.current() }

    public init(stage: String, manifestPath: String, gnuplot: Bool = false, extraTools: [String: String] = [:]) {
        self.stage = stage
        self.manifestPath = manifestPath
        self.tools = ToolVersions.current(gnuplot: gnuplot, extra: extraTools)
        StageRun.remove(manifestPath)
    }

    deinit {
        if !isFinished { abandon() }
    }

    public func input(_ path: String) {
        if !inputs.contains(path) { inputs.append(path) }
    }

    public func recordOutput(_ path: String) {
        if !outputs.contains(path) { outputs.append(path) }
    }

    /// Outputs that explain a failure (a gate's report of what differed) survive an abandoned run;
    /// the manifest never does, so they cannot pass for a completed stage.
    public func keepOnFailure(_ paths: String...) {
        keptOnFailure.formUnion(paths)
    }

    /// Removes every output this run recorded (but those kept on failure) and the manifest; the
    /// run can no longer finish. Called when an unfinished run is released.
    public func abandon() {
        guard !isFinished else { return }
        for path in outputs where !keptOnFailure.contains(path) { StageRun.remove(path) }
        StageRun.remove(manifestPath)
        outputs.removeAll()
        isFinished = true
    }

    /// Files only: a directory in an output's place is not the run's to delete.
    private static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// Writes an output atomically, leaving an identical existing file untouched (so its
    /// modification time, and what `make` decides from it, do not change).
    public func write(_ bytes: [UInt8], to path: String) throws {
        precondition(!isFinished, "stage run \(stage) already finished or abandoned")
        // Recorded first: a write that fails after replacing nothing still names a path the run
        // owned, and removing a path that does not exist is harmless.
        recordOutput(path)
        try AtomicFile.writeIfChanged(bytes, to: path)
    }

    public func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    public func write(_ table: Table, to path: String) throws {
        try write(CSVWriter.encode(table), to: path)
    }

    public static func fileEntry(_ path: String) throws -> JSONValue {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        return .object(["path": .string(path), "sha256": .string(try SHA256.hex(ofFile: path)), "bytes": .number(Double(size))])
    }

    public func manifest() throws -> JSONValue {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - startedClock.uptimeNanoseconds) / 1e9
        let formatter = ISO8601DateFormatter()
        var object: [String: JSONValue] = [
            "stage": .string(stage),
            "parameters": parameters,
            "inputs": .array(try inputs.map(StageRun.fileEntry)),
            "outputs": .array(try outputs.map(StageRun.fileEntry)),
            "tools": .object(tools.mapValues { .string($0) }),
            "code": try code.value(),
            "started_at": .string(formatter.string(from: started)),
            "wall_seconds": .number((seconds * 1000).rounded() / 1000),
        ]
        if !notes.isEmpty { object["notes"] = .object(notes) }
        return .object(object)
    }

    public func finish() throws {
        precondition(!isFinished, "stage run \(stage) already finished or abandoned")
        try AtomicFile.write(try manifest().rendered() + "\n", to: manifestPath)
        isFinished = true
    }
}

public enum GitInfo {
    public static func current() -> JSONValue {
        guard let commit = Shell.firstLine(["git", "rev-parse", "HEAD"]) else {
            return .object(["git_commit": .string("unknown (not a git checkout)")])
        }
        let status = (try? Shell.run(["git", "status", "--porcelain", "--untracked-files=no"]))?.stdout ?? ""
        return .object(["git_commit": .string(commit), "git_dirty": .bool(!status.isEmpty)])
    }
}

/// Progress lines on stderr, each with the seconds since the reporter was made: only when stderr
/// is a terminal, or when the environment sets `PIPELINE_PROGRESS=1` (to see where a stage spends
/// its time in a log).
public struct ProgressReporter: Sendable {
    public let enabled: Bool
    private let started = DispatchTime.now()
    public init() {
        enabled = isatty(STDERR_FILENO) != 0 || ProcessInfo.processInfo.environment["PIPELINE_PROGRESS"] == "1"
    }
    public func say(_ message: String) {
        guard enabled else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        FileHandle.standardError.write(Data(("[" + String(format: "%6.2f", seconds) + " s] " + message + "\n").utf8))
    }
}
