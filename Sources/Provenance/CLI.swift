import ArgumentParser
import Foundation
import Tabular

/// Exit codes shared by every pipeline command: 0 success, 1 failure, 2 bad input or usage.
public enum ExitStatus {
    public static let failure: Int32 = 1
    public static let badInput: Int32 = 2
}

extension ParsableCommand {
    /// Entry point with the project's exit-code convention. Errors are one clear line on stderr.
    public static func pipelineMain(_ arguments: [String]? = nil) {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let error as DataError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(ExitStatus.badInput)
        } catch let error as ProvenanceError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(ExitStatus.failure)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty {
                FileHandle.standardError.write(Data("\(message)\n".utf8))
            }
            if error is ValidationError || code == .validationFailure {
                Foundation.exit(ExitStatus.badInput)
            }
            Foundation.exit(code.rawValue == ExitCode.failure.rawValue ? ExitStatus.failure : code.rawValue)
        }
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
