import ArgumentParser
import Foundation
import Logging
import PipelineCLI
import Service
import Tabular

/// `serve`: the scoring service's thin main. It loads the model once, then serves until SIGTERM
/// or SIGINT, when it stops accepting connections, finishes the requests in flight and exits 0.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the frozen uplift model over HTTP: /health, /score, /openapi.json and the campaign simulator page at /.",
        discussion: """
            Loads <models> once at start-up and fails at once with the reason when it is missing or damaged. POST /score takes \
            a CSV (multipart field 'file' or a text/csv body) with optional margin, cost (a number, or NAME=COST per arm), policy \
            and topn, and answers JSON (summary, profit curve, first rows) or, with Accept: text/csv, the scored CSV that \
            `score --out -` writes for the same settings. Request logs go to stderr, one line per request. --port 0 lets the \
            kernel choose; the first line on stdout says where the service listens.
            """)

    @Option(help: "Address to bind (loopback by default).")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0: any free port).")
    var port = 8080

    @Option(help: "Directory of the frozen model (meta.json, encoder.json, forests.bin, drift_reference.json, economics.json).")
    var models = "models"

    @Option(name: .customLong("max-body"), help: "Largest accepted request body in bytes (default 50 MB); larger uploads get 413.")
    var maxBody = 50 << 20

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxBody > 0 else { throw ValidationError("--max-body must be positive") }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: models, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(file: models, message: "no model directory here (the uplift and policy stages write it; or give --models)")
        }
        let service = try ScoringService(models: models, maxBody: maxBody)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "serve")
        logger.logLevel = .info
        let app = service.application(host: host, port: port, logger: logger) { [host] bound in
            // Unbuffered, so a parent reading the pipe learns the port at once.
            FileHandle.standardOutput.write(Data("serve: listening on http://\(host):\(bound)\n".utf8))
        }
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do { try await app.runService() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }
}

final class ErrorBox: @unchecked Sendable {
    var error: Error?
}

ServeCommand.pipelineMain()
