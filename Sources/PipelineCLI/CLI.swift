import ArgumentParser
import Foundation
import Tabular

extension ParsableCommand {
    /// Entry point with the project's conventions: one `error: …` line on stderr for every failure,
    /// exit 2 for bad input or usage (any `ClassifiedError` that says so, a validation or parsing
    /// error), 1 for every other failure, 0 for success and for `--help`.
    public static func pipelineMain(_ arguments: [String]? = nil) {
        let status = pipelineRun(arguments) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        Foundation.exit(status)
    }

    /// Parses and runs the command in-process and returns its exit status; `report` receives what a
    /// terminal would show on stderr (help goes to stdout). Tests call this instead of a binary.
    public static func pipelineRun(_ arguments: [String]?, report: (String) -> Void) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return ExitStatus.success
        } catch let error as ClassifiedError {
            report("error: \(error)")
            return error.isBadInput ? ExitStatus.badInput : ExitStatus.failure
        } catch {
            let code = exitCode(for: error)
            if let exit = error as? ExitCode { return exit.rawValue }
            let message = fullMessage(for: error)
            if code == .success {
                // --help, --version: the text goes to stdout.
                if !message.isEmpty { print(message) }
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
