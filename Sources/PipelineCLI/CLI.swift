import ArgumentParser
import Foundation
import Tabular

extension ParsableCommand {
    /// Entry point with the project's conventions: one `error: …` line on stderr for every failure,
    /// exit 2 for bad input or usage (any `ClassifiedError` that says so, a validation or parsing
    /// error), 1 for every other failure, 0 for success and for `--help`.
    public static func pipelineMain(_ arguments: [String]? = nil) {
        Foundation.exit(pipelineRun(arguments))
    }

    /// Parses and runs the command in-process and returns its exit status; messages go through
    /// `Console` (tests call this inside `Console.capturing` instead of running a binary).
    public static func pipelineRun(_ arguments: [String]?) -> Int32 {
        let report = Console.error
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return ExitStatus.success
        } catch is OutputClosed {
            return ExitStatus.outputClosed
        } catch let error as ClassifiedError {
            report("error: \(error)")
            return error.isBadInput ? ExitStatus.badInput : ExitStatus.failure
        } catch {
            let code = exitCode(for: error)
            if let exit = error as? ExitCode { return exit.rawValue }
            let message = fullMessage(for: error)
            if code == .success {
                // --help, --version: the text goes to stdout.
                if !message.isEmpty { Console.out(message) }
                return ExitStatus.success
            }
            if error is ValidationError || code == .validationFailure {
                report(message.hasPrefix("Error: ") ? "error: " + message.dropFirst(7) : message)
                return ExitStatus.badInput
            }
            // Errors from Foundation (a file that cannot be read or written) and anything else.
            let text = message.isEmpty ? String(describing: error) : message
            report(text.hasPrefix("Error: ") ? "error: " + text.dropFirst(7) : "error: " + text)
            return ExitStatus.failure
        }
    }
}

/// Where a command's messages go: stdout and stderr, or, inside `Console.capturing`, a buffer a
/// test reads (commands run in-process by tests must not write to the test runner's streams).
public enum Console {
    public final class Capture: @unchecked Sendable {
        private let lock = NSLock()
        private var outText = "", errText = ""
        public init() {}
        public var stdout: String { lock.lock(); defer { lock.unlock() }; return outText }
        public var stderr: String { lock.lock(); defer { lock.unlock() }; return errText }
        func append(_ s: String, error: Bool) {
            lock.lock()
            if error { errText += s } else { outText += s }
            lock.unlock()
        }
    }

    @TaskLocal static var capture: Capture?

    /// Runs `body` with the command messages of this task going to a new capture.
    public static func capturing<T>(_ body: () throws -> T) rethrows -> (T, Capture) {
        let c = Capture()
        let value = try $capture.withValue(c) { try body() }
        return (value, c)
    }

    /// A line on stdout (a newline is added).
    public static func out(_ line: String) {
        if let c = capture { c.append(line + "\n", error: false) } else { print(line) }
    }

    /// A line on stderr (a newline is added).
    public static func error(_ line: String) {
        if let c = capture { c.append(line + "\n", error: true) } else { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// An analysis stage: it names itself and declares `@OptionGroup var files: StageFiles`, and gets
/// `params`, `out`, `figures` and `report` with the defaults derived from its name.
public protocol AnalysisStage: ParsableCommand {
    static var stage: String { get }
    var files: StageFiles { get }
}

extension AnalysisStage {
    public var params: String { files.params(Self.stage) }
    public var out: String { files.out(Self.stage) }
    public var figures: String { files.figures(Self.stage) }
    public var report: String { files.report(Self.stage) }
}

/// The options every analysis stage has, with defaults derived from the stage's name.
public struct StageFiles: ParsableArguments {
    @Option(help: "Stage parameters (YAML). Default: stages/<stage>/params.yaml.")
    public var params: String?

    @Option(help: "Output directory for tables and the manifest. Default: data/processed/<stage>.")
    public var out: String?

    @Option(help: "Directory for figures (PNG with their data and gnuplot scripts). Default: reports/figures/<stage>.")
    public var figures: String?

    @Option(help: "Markdown report to write. Default: reports/<stage>.md.")
    public var report: String?

    public init() {}

    public func params(_ stage: String) -> String { params ?? "stages/\(stage)/params.yaml" }
    public func out(_ stage: String) -> String { out ?? "data/processed/\(stage)" }
    public func figures(_ stage: String) -> String { figures ?? "reports/figures/\(stage)" }
    public func report(_ stage: String) -> String { report ?? "reports/\(stage).md" }
}
