import Base
import Foundation
import LoopbackHTTP
import PipelineCLI

/// The service half of the parity gate: the same test split scored through a running `serve`
/// (started here on a free loopback port and stopped with SIGTERM) must give the CLI's bytes.
struct ServiceParity {
    struct Run {
        var query: String
        var cliOutput: String
        var bytes: Int
        var identical: Bool
        /// 1-based line of the first difference, when there is one.
        var firstDifferentLine: Int?
    }

    var runs: [Run]
    var exitStatus: Int32
    var pass: Bool { exitStatus == 0 && runs.allSatisfy(\.identical) }

    /// `runs`: the query string of each request and the CLI output it must equal byte for byte.
    static func check(serve: String, models: String, test: String, runs wanted: [(query: String, cliOutput: String)]) throws -> ServiceParity {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: serve)
        process.arguments = ["--host", "127.0.0.1", "--port", "0", "--models", models]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let port = try listeningPort(stdout.fileHandleForReading, process: process)
        let body = [UInt8](try Data(contentsOf: URL(fileURLWithPath: test)))
        var runs: [Run] = []
        for (query, cliOutput) in wanted {
            let response = try LoopbackHTTP.request(
                "POST", port: port, path: "/score" + (query.isEmpty ? "" : "?" + query), headers: [("Content-Type", "text/csv"), ("Accept", "text/csv")],
                body: body)
            guard response.status == 200 else {
                throw PipelineError("the service answered \(response.status) to POST /score?\(query): \(response.text.prefix(500))")
            }
            let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cliOutput)))
            let identical = response.body == expected
            var line: Int? = nil
            if !identical {
                let n = zip(response.body, expected).prefix { $0 == $1 }.count
                line = 1 + expected.prefix(n).filter { $0 == 10 }.count
            }
            runs.append(Run(query: query, cliOutput: cliOutput, bytes: response.body.count, identical: identical, firstDifferentLine: line))
        }
        // A clean stop is part of the check: SIGTERM drains and exits 0.
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return ServiceParity(runs: runs, exitStatus: process.terminationStatus)
    }

    /// The port from serve's first line on stdout ("serve: listening on http://host:port").
    static func listeningPort(_ handle: FileHandle, process: Process) throws -> Int {
        var text = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let data = handle.availableData
            if data.isEmpty {
                throw PipelineError("serve exited before listening (status \(process.isRunning ? "running" : String(process.terminationStatus)))")
            }
            text += String(decoding: data, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                return port
            }
        }
        throw PipelineError("serve did not say where it listens within 120 s")
    }

    var json: JSONValue {
        .object([
            "pass": .bool(pass), "serve_exit_status": .number(Double(exitStatus)),
            "runs": .array(
                runs.map { r in
                    var o: [String: JSONValue] = [
                        "query": .string(r.query), "cli_output": .string(r.cliOutput), "bytes": .number(Double(r.bytes)), "identical": .bool(r.identical),
                    ]
                    if let l = r.firstDifferentLine { o["first_different_line"] = .number(Double(l)) }
                    return .object(o)
                }),
        ])
    }

    var report: String {
        var s = "\n## The scoring service\n\n"
        s += "The test split scored through a running `serve` (started by this stage on a free loopback port, stopped with SIGTERM: "
        s += "exit status \(exitStatus)), as a text/csv upload answered with the scored CSV, against the CLI's output for the same settings.\n\n"
        s += "| query | CLI output | bytes | identical |\n|---|---|---:|---|\n"
        for r in runs {
            s += "| `\(r.query.isEmpty ? "(none)" : r.query)` | `\(r.cliOutput)` | \(r.bytes) | "
            s += r.identical ? "yes |\n" : "**no** (first difference on line \(r.firstDifferentLine ?? 0)) |\n"
        }
        s += "\nService parity: **\(pass ? "PASS" : "FAIL")**.\n"
        return s
    }
}
