import Foundation
import LoopbackHTTP
import TestSupport
import Testing

/// The `serve` binary of the same build: start-up failures and draining on SIGTERM.
@Suite("serve process", .serialized)
struct ServeProcessTests {
    let f: ServiceFixture
    init() throws { f = try ServiceFixture() }

    struct Started {
        let process: Process
        let port: Int
        let stderr: Pipe
    }

    func start(_ args: [String]) throws -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("serve"))
        process.arguments = ["--port", "0"] + args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let port = text.split(separator: "\n").first?.split(separator: ":").last.flatMap({ Int($0) }) else {
            process.waitUntilExit()
            throw LoopbackError("serve did not start: \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
        return Started(process: process, port: port, stderr: err)
    }

    func failure(_ args: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("serve"))
        process.arguments = ["--port", "0"] + args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func missingOrDamagedModelsFailAtStartUp() throws {
        let missing = try failure(["--models", f.dir + "/nothing"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("error: \(f.dir)/nothing: no model directory"))
        try "{\"format_version\": 1".write(toFile: f.models + "/meta.json", atomically: true, encoding: .utf8)
        let damaged = try failure(["--models", f.models])
        #expect(damaged.status != 0)
        #expect(damaged.stderr.hasPrefix("error: ") && damaged.stderr.contains("meta.json"), "\(damaged.stderr)")
        #expect(damaged.stderr.split(separator: "\n").count == 1)
    }

    /// SIGTERM while an upload is in flight: the request completes, then the process exits 0; the
    /// log has one structured line per request.
    @Test func sigtermDrainsInFlightRequests() async throws {
        let s = try start(["--models", f.models])
        let body = Array(f.contacts(rows: 400, seed: 6).utf8)
        let port = s.port
        // The request is under way (connected, head and part of the body sent) before the signal:
        // a connection the server has not accepted yet would rightly be refused after SIGTERM.
        let started = DispatchSemaphore(value: 0)
        async let slow: LoopbackResponse = blocking {
            let c: LoopbackConnection
            do {
                c = try LoopbackConnection(port: port)
                try c.send(LoopbackHTTP.requestHead("POST", path: "/score", headers: [("Content-Type", "text/csv")], bodyLength: body.count, port: port))
                try c.send(Array(body[0..<100]))
            } catch {
                started.signal()
                throw error
            }
            started.signal()
            Thread.sleep(forTimeInterval: 1.0)
            try c.send(Array(body[100...]))
            return try c.readResponse()
        }
        try await blocking { started.wait() }
        // Time for the server to read the head, so the connection is mid-request, not idle.
        try await Task.sleep(for: .milliseconds(400))
        kill(s.process.processIdentifier, SIGTERM)
        let r = try await slow
        #expect(r.status == 200)
        let status = try await blocking { () -> Int32 in
            s.process.waitUntilExit()
            return s.process.terminationStatus
        }
        #expect(status == 0)
        let log = String(decoding: s.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let line = log.split(separator: "\n").first { $0.contains("path=/score") }
        #expect(line != nil, "\(log)")
        for key in ["method=POST", "status=200", "rows=400", "duration_ms="] { #expect(line?.contains(key) == true, "\(log)") }
    }
}
