import Base
import Foundation
import LoopbackHTTP
import Scoring
import Service
import Tabular
import TestSupport
import Testing

/// The service over loopback: every endpoint and every error status, the CLI's bytes and messages,
/// streamed and cut-off uploads, a slow client, and the OpenAPI document kept true.
@Suite("serve", .serialized)
struct ServiceTests {
    let f: ServiceFixture
    init() throws { f = try ServiceFixture() }

    static let csvHeaders = [("Content-Type", "text/csv"), ("Accept", "text/csv")]

    @Test func healthNamesTheModel() async throws {
        try await withServer(models: f.models) { port in
            let r = try await request("GET", port, "/health")
            #expect(r.status == 200)
            let h = try json(r)
            let loaded = try LoadedModel(directory: f.models)
            #expect(h["status"]?.stringValue == "ok")
            #expect(h["model_checksum"]?.stringValue == loaded.checksum)
            #expect(h["learner"]?.stringValue == "t")
            #expect(h["model_format_version"]?.numberValue == Double(loaded.meta.formatVersion))
            #expect((h["uptime_seconds"]?.numberValue ?? -1) >= 0)
            #expect(h["economics"]?["margin"]?.numberValue == 0.30)
        }
    }

    /// The scored CSV is the CLI's, byte for byte, for every policy and economics override, as a
    /// text/csv body and as a multipart form.
    @Test(
        arguments: [
            ([String](), ""), (["--policy", "positive"], "policy=positive"), (["--policy", "topn", "--topn", "17"], "policy=topn&topn=17"),
            (["--margin", "0.21", "--arm-cost", "Mens E-Mail=0.11"], "margin=0.21&cost=Mens%20E-Mail%3D0.11"),
            (["--cost", "0.5", "--policy", "positive"], "cost=0.5&policy=positive"),
        ])
    func scoredCSVIsTheCLIs(args: [String], query: String) async throws {
        let input = try f.write(f.contacts(rows: 700, seed: 3), "in.csv")
        let cli = try f.cli(args, input: input)
        #expect(cli.status == 0, "\(cli.stderr)")
        let body = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input)))
        try await withServer(models: f.models) { port in
            let plain = try await request("POST", port, "/score" + (query.isEmpty ? "" : "?" + query), headers: Self.csvHeaders, body: body)
            #expect(plain.status == 200, "\(plain.text)")
            #expect(plain.body == cli.output)
            var fields: [(String, String)] = []
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding! }
                fields.append((kv[0], kv[1]))
            }
            let form = LoopbackHTTP.multipart(fields: fields, file: ("file", "in.csv", body))
            let multipart = try await request("POST", port, "/score", headers: [("Content-Type", form.contentType), ("Accept", "text/csv")], body: form.body)
            #expect(multipart.status == 200, "\(multipart.text)")
            #expect(multipart.body == cli.output)
        }
    }

    /// The JSON answer: the summary is the CLI run's (the same doubles), the rows are the file's
    /// first rows, the curve ends at every row contacted and passes through the chosen N.
    @Test func jsonSummaryCurveAndRows() async throws {
        let input = try f.write(f.contacts(rows: 1500, seed: 5), "in.csv")
        let summary = try ScoreRun.run(ScoreOptions(input: input, output: f.dir + "/j.csv", models: f.models)) { _ in }
        let scored = try CSVReader.read(path: f.dir + "/j.csv", schema: CSVSchema(try CSVReader.header(path: f.dir + "/j.csv").map { ColumnSpec($0, .string) }))
        let body = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input)))
        try await withServer(models: f.models) { port in
            let r = try await request("POST", port, "/score", headers: [("Content-Type", "text/csv; charset=utf-8")], body: body)
            #expect(r.status == 200)
            #expect(r.header("Content-Type") == "application/json")
            let j = try json(r)
            let s = j["summary"]
            #expect(s?["rows"]?.numberValue == 1500)
            #expect(s?["contacts"]?.numberValue == Double(summary.contacts))
            #expect(s?["expected_profit"]?.numberValue?.bitPattern == summary.expectedProfit.bitPattern)
            #expect(s?["expected_incremental_revenue"]?.numberValue?.bitPattern == summary.expectedRevenue.bitPattern)
            #expect(s?["cost"]?.numberValue?.bitPattern == summary.cost.bitPattern)
            for (k, arm) in summary.arms.enumerated() { #expect(s?["contacts_per_arm"]?[arm]?.numberValue == Double(summary.armContacts[k])) }
            guard case .array(let rows)? = j["rows"], case .array(let curve)? = j["profit_curve"] else {
                Issue.record("no rows or curve")
                return
            }
            #expect(rows.count == ScoringService.previewRows)
            for (i, row) in rows.enumerated() {
                guard case .array(let cells) = row else { continue }
                #expect(cells.map { $0.stringValue ?? "" } == (try scored.names.map { try scored.strings($0)[i] }))
            }
            #expect(curve.count == 200)
            #expect(curve.first?["contacts"]?.numberValue == 0 && curve.last?["contacts"]?.numberValue == 1500)
            // The best N's profit is the curve's highest point (best-N maximizes the same cumulative sum).
            let highest = curve.compactMap { $0["profit"]?.numberValue }.max() ?? .infinity
            #expect(highest <= summary.expectedProfit)
        }
    }

    /// Bad input: the CLI's file, line, column and message (the upload's name in place of the path), as 400.
    @Test(
        arguments: [
            ("row_id,channel,recency,history,zip_code\n1,Web,3,120,Urban\n2,Web,x,99,Rural\n", [String]()),
            ("row_id,channel,recency,zip_code\n1,Web,3,Urban\n", []),
            ("row_id,channel,recency,history,zip_code\n1,Web,3,120,Urban\n", ["--margin", "1.5"]),
            ("row_id,channel,recency,history,zip_code\n1,Web,3,120,Urban\n", ["--arm-cost", "Kids E-Mail=0.1"]),
            ("row_id;recency;history;zip_code\n1;3;120;Urban\n", []),
        ])
    func badInputIsTheCLIsMessage(text: String, args: [String]) async throws {
        let input = try f.write(text, "bad.csv")
        let cli = try f.cli(args, input: input)
        #expect(cli.status == 2)
        let query = stride(from: 0, to: args.count, by: 2).map { i -> String in
            let name = args[i] == "--arm-cost" ? "cost" : String(args[i].dropFirst(2))
            return name + "=" + args[i + 1].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }.joined(separator: "&")
        try await withServer(models: f.models) { port in
            let form = LoopbackHTTP.multipart(fields: [], file: ("file", "bad.csv", Array(text.utf8)))
            let r = try await request(
                "POST", port, "/score" + (query.isEmpty ? "" : "?" + query), headers: [("Content-Type", form.contentType)], body: form.body)
            #expect(r.status == 400)
            let e = try json(r)["error"]
            let expected = cli.stderr.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: input, with: "bad.csv")
            let text = e?["text"]?.stringValue ?? e?["message"]?.stringValue
            #expect("error: " + (text ?? "") == expected)
            if expected.hasPrefix("error: bad.csv:") {
                #expect(e?["file"]?.stringValue == "bad.csv")
                #expect(e?["line"]?.numberValue != nil)
            }
        }
    }

    @Test func errorStatuses() async throws {
        try await withServer(models: f.models, maxBody: 4096) { port in
            let small = Array(f.contacts(rows: 10, seed: 1).utf8)
            let big = Array(f.contacts(rows: 400, seed: 1).utf8)
            #expect(try await request("GET", port, "/nowhere").status == 404)
            let notAllowed = try await request("GET", port, "/score")
            #expect(notAllowed.status == 405)
            #expect(notAllowed.header("Allow") == "POST")
            #expect(try await request("DELETE", port, "/health").status == 405)
            #expect(try await request("POST", port, "/score", headers: [("Content-Type", "application/json")], body: Array("{}".utf8)).status == 415)
            #expect(try await request("POST", port, "/score", body: small).status == 415)
            #expect(try await request("POST", port, "/score", headers: [("Content-Type", "text/csv")], body: big).status == 413)
            #expect(try await request("POST", port, "/score", headers: [("Content-Type", "text/csv")], body: small).status == 200)
            #expect(try await request("POST", port, "/score?margn=0.2", headers: [("Content-Type", "text/csv")], body: small).status == 400)
            // Without a length: the limit is enforced while the body streams in.
            let chunked = try await blocking { () -> LoopbackResponse in
                let c = try LoopbackConnection(port: port)
                try c.send(Array("POST /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
                for piece in stride(from: 0, to: big.count, by: 1000) {
                    let part = Array(big[piece..<min(big.count, piece + 1000)])
                    try c.send(Array((String(part.count, radix: 16) + "\r\n").utf8) + part + Array("\r\n".utf8))
                }
                try? c.send(Array("0\r\n\r\n".utf8))
                return try c.readResponse()
            }
            #expect(chunked.status == 413)
            // A form whose closing boundary never comes.
            var form = LoopbackHTTP.multipart(fields: [], file: ("file", "a.csv", small)).body
            form.removeLast(8)
            #expect(
                try await request("POST", port, "/score", headers: [("Content-Type", "multipart/form-data; boundary=loopback-boundary-7d3f")], body: form)
                    .status == 400)
            #expect(try await request("GET", port, "/health").status == 200)
        }
    }

    /// A client that goes away mid-upload: the server carries on, and the request's files are gone.
    @Test func anUploadCutOffMidBody() async throws {
        let body = Array(f.contacts(rows: 2000, seed: 2).utf8)
        let root = f.dir + "/requests"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try await withServer(models: f.models, scratchRoot: root) { port in
            let inFlight = try await blocking { () -> Int in
                let c = try LoopbackConnection(port: port)
                let head = LoopbackHTTP.requestHead("POST", path: "/score", headers: [("Content-Type", "text/csv")], bodyLength: body.count, port: port)
                try c.send(head + Array(body[0..<(body.count / 2)]))
                Thread.sleep(forTimeInterval: 0.3)
                let folders = requestFolders(root).count
                c.abort()
                return folders
            }
            // The half-received upload was on disk: the check below would see its folder if it stayed.
            #expect(inFlight == 1)
            #expect(try await request("GET", port, "/health").status == 200)
            let cleaned = try await blocking { () -> Bool in
                for _ in 0..<50 {
                    if requestFolders(root).isEmpty { return true }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                return false
            }
            #expect(cleaned, "request folders left behind: \(requestFolders(root))")
            // And it still scores.
            #expect(try await request("POST", port, "/score", headers: [("Content-Type", "text/csv")], body: body).status == 200)
        }
    }

    /// A slow client: its upload trickles in while other requests are answered at once, and its
    /// answer is still the CLI's.
    @Test func aSlowClient() async throws {
        let input = try f.write(f.contacts(rows: 300, seed: 8), "slow.csv")
        let cli = try f.cli([], input: input)
        let body = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input)))
        try await withServer(models: f.models) { port in
            async let slow: LoopbackResponse = blocking {
                let c = try LoopbackConnection(port: port)
                try c.send(LoopbackHTTP.requestHead("POST", path: "/score", headers: Self.csvHeaders, bodyLength: body.count, port: port))
                let pieces = 10
                for k in 0..<pieces {
                    Thread.sleep(forTimeInterval: 0.2)
                    try c.send(Array(body[(k * body.count / pieces)..<((k + 1) * body.count / pieces)]))
                }
                return try c.readResponse()
            }
            try await Task.sleep(for: .milliseconds(300))
            let start = ContinuousClock.now
            #expect(try await request("GET", port, "/health").status == 200)
            #expect(ContinuousClock.now - start < .seconds(1))
            let r = try await slow
            #expect(r.status == 200)
            #expect(r.body == cli.output)
        }
    }

    /// Every route and every status the service answers is in the OpenAPI document, and the
    /// document has nothing the service does not answer.
    @Test func openAPIDocumentIsTrue() async throws {
        let csv = Array(f.contacts(rows: 5, seed: 4).utf8)
        let form = LoopbackHTTP.multipart(fields: [("margin", "0.2")], file: ("file", "a.csv", csv))
        let cases: [(method: String, path: String, headers: [(String, String)], body: [UInt8]?, status: Int)] = [
            ("GET", "/health", [], nil, 200), ("GET", "/openapi.json", [], nil, 200), ("GET", "/", [], nil, 200),
            ("GET", "/app.js", [], nil, 200), ("GET", "/app.css", [], nil, 200), ("GET", "/sample.csv", [], nil, 200),
            ("POST", "/score", [("Content-Type", "text/csv")], csv, 200), ("POST", "/score", [("Content-Type", form.contentType)], form.body, 200),
            ("POST", "/score", [("Content-Type", "text/csv")], Array("a,b\n1,2\n".utf8), 400),
            ("POST", "/score", [("Content-Type", "text/csv")], [UInt8](repeating: 65, count: 5000), 413),
            ("POST", "/score", [("Content-Type", "text/plain")], csv, 415),
        ]
        try await withServer(models: f.models, maxBody: 4096) { port in
            let doc = try json(try await request("GET", port, "/openapi.json"))
            #expect(doc["openapi"]?.stringValue == "3.1.0")
            guard case .object(let paths)? = doc["paths"] else {
                Issue.record("no paths")
                return
            }
            // The document's routes are the service's routes, method for method.
            var documented: Set<String> = []
            for (path, item) in paths { if case .object(let ops) = item { for m in ops.keys { documented.insert(m.uppercased() + " " + path) } } }
            let served = Set(ScoringService.routeTable.flatMap { r in r.methods.map { $0 + " " + r.path } })
            #expect(documented == served)
            for c in cases {
                let r = try await request(c.method, port, c.path, headers: c.headers, body: c.body)
                #expect(r.status == c.status, "\(c.method) \(c.path): \(r.status) \(r.text.prefix(300))")
                #expect(paths[c.path]?[c.method.lowercased()]?["responses"]?[String(r.status)] != nil, "\(c.method) \(c.path) \(r.status) is not documented")
            }
            // 404 and 405 on every documented operation (the router's own answers).
            for path in paths.keys {
                #expect(
                    paths[path]?.objectKeys.allSatisfy { paths[path]?[$0]?["responses"]?["404"] != nil && paths[path]?[$0]?["responses"]?["405"] != nil }
                        == true)
            }
            let wrongMethod = try await request("PUT", port, "/health")
            #expect(wrongMethod.status == 405)
            #expect(try await request("GET", port, "/missing").status == 404)
        }
    }

    @Test func theSampleListScores() async throws {
        try await withServer(models: f.models) { port in
            let sample = try await request("GET", port, "/sample.csv")
            #expect(sample.status == 200)
            let r = try await request("POST", port, "/score", headers: [("Content-Type", "text/csv")], body: sample.body)
            #expect(r.status == 200, "\(r.text)")
            #expect(try json(r)["summary"]?["rows"]?.numberValue == 200)
            let page = try await request("GET", port, "/")
            #expect(page.text.contains("<script src=\"/app.js\">") && !page.text.contains("http"))
        }
    }
}

extension JSONValue {
    var objectKeys: [String] {
        if case .object(let o) = self { return Array(o.keys) }
        return []
    }
}
