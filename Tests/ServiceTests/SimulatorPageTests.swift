import Base
import Economics
import Foundation
import LoopbackHTTP
import PipelineCLI
import ScoreCLI
import Scoring
import Service
import Tabular
import TestSupport
import Testing

/// WebDriver over loopback: JSON over HTTP to chromedriver, no automation library.
struct WebDriver {
    let port: Int
    var session = ""
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    @discardableResult
    func call(_ method: String, _ path: String, _ body: JSONValue? = nil) throws -> JSONValue {
        let bytes = body.map { Array($0.rendered().utf8) }
        let r = try LoopbackHTTP.request(
            method, port: port, path: path, headers: bytes == nil ? [] : [("Content-Type", "application/json")], body: bytes ?? (method == "POST" ? [] : nil))
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(r.body))
        guard r.status == 200 else { throw LoopbackError("WebDriver \(method) \(path): \(r.status) \(r.text.prefix(400))") }
        return value["value"] ?? .null
    }

    func s(_ path: String) -> String { "/session/\(session)" + path }

    func find(_ css: String) throws -> String {
        guard let id = try call("POST", s("/element"), .object(["using": .string("css selector"), "value": .string(css)]))[Self.elementKey]?.stringValue
        else { throw LoopbackError("no element \(css)") }
        return id
    }

    func text(_ css: String) throws -> String { try call("GET", s("/element/\(try find(css))/text")).stringValue ?? "" }
    func attribute(_ css: String, _ name: String) throws -> String? { try call("GET", s("/element/\(try find(css))/attribute/\(name)")).stringValue }
    func type(_ css: String, _ text: String) throws { try call("POST", s("/element/\(try find(css))/value"), .object(["text": .string(text)])) }
    func clear(_ css: String) throws { try call("POST", s("/element/\(try find(css))/clear"), .object([:])) }
    func click(_ css: String) throws { try call("POST", s("/element/\(try find(css))/click"), .object([:])) }
    func script(_ source: String) throws -> JSONValue { try call("POST", s("/execute/sync"), .object(["script": .string(source), "args": .array([])])) }

    /// Polls `condition` until it holds (the page works asynchronously).
    func wait(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw LoopbackError("timed out waiting for \(what)")
    }
}

/// The simulator page in headless Chromium: upload the test split, change the margin, read the
/// summary and the first rows from the page and compare them with the CLI's for the same settings.
@Suite("simulator page", .serialized)
struct SimulatorPageTests {
    static let models = packageRoot + "/models"
    static let testSplit = packageRoot + "/data/processed/prepare/test.csv"
    static let screenshot = packageRoot + "/reports/figures/serve/simulator.png"

    /// Why the test cannot run here, if it cannot: with PIPELINE_REQUIRE_BROWSER=1 (CI) that is a failure.
    static func missing() -> String? {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is not installed (apt-get install chromium chromium-driver)"
        }
        for file in [models + "/meta.json", models + "/economics.json", testSplit] where !FileManager.default.fileExists(atPath: file) {
            return "\(file) does not exist (run `make all` first)"
        }
        return nil
    }

    @Test func pageAgreesWithTheCLI() async throws {
        if let reason = Self.missing() {
            if ProcessInfo.processInfo.environment["PIPELINE_REQUIRE_BROWSER"] == "1" {
                Issue.record("the browser test cannot run: \(reason)")
            } else {
                print("simulator page test skipped: \(reason); set PIPELINE_REQUIRE_BROWSER=1 to make this a failure")
            }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let margin = "0.25"
        // The CLI's answer for the same settings: its summary (the run it makes) and its file's first rows.
        let cliOut = dir + "/cli.csv"
        let (status, captured) = Console.capturing {
            ScoreCommand.pipelineRun(["--models", Self.models, "--in", Self.testSplit, "--out", cliOut, "--margin", margin])
        }
        #expect(status == 0, "\(captured.stderr)")
        let summary = try ScoreRun.run(
            ScoreOptions(input: Self.testSplit, output: dir + "/run.csv", models: Self.models, economics: EconomicsOverride(margin: Double(margin)!))
        ) { _ in }
        let cli = try CSVReader.read(path: cliOut, schema: CSVSchema(try CSVReader.header(path: cliOut).map { ColumnSpec($0, .string) }))
        let badFile = dir + "/bad.csv"
        try "row_id,recency\n1,3\n".write(toFile: badFile, atomically: true, encoding: .utf8)
        let badCLI = Console.capturing { ScoreCommand.pipelineRun(["--models", Self.models, "--in", badFile, "--out", dir + "/bad-out.csv"]) }.1.stderr

        try await withServer(models: Self.models) { port in
            try await blocking {
                let driverPort = try LoopbackHTTP.freePort()
                let driver = Process()
                driver.executableURL = URL(fileURLWithPath: "/usr/bin/chromedriver")
                driver.arguments = ["--port=\(driverPort)"]
                driver.standardOutput = FileHandle.nullDevice
                driver.standardError = FileHandle.nullDevice
                try driver.run()
                defer {
                    // chromedriver may outlive SIGTERM for a while: poll, then end it for good.
                    driver.terminate()
                    for _ in 0..<50 where driver.isRunning { Thread.sleep(forTimeInterval: 0.1) }
                    if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
                }
                var wd = WebDriver(port: driverPort)
                try wd.wait("chromedriver") { try wd.call("GET", "/status")["ready"] == .bool(true) }
                let session = try wd.call(
                    "POST", "/session",
                    .object([
                        "capabilities": .object([
                            "alwaysMatch": .object([
                                "browserName": .string("chrome"),
                                "goog:chromeOptions": .object([
                                    "binary": .string("/usr/bin/chromium"),
                                    "args": .array(["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"].map { .string($0) }),
                                ]),
                            ])
                        ])
                    ]))
                wd.session = session["sessionId"]?.stringValue ?? ""
                defer { _ = try? wd.call("DELETE", wd.s("")) }
                try wd.call("POST", wd.s("/url"), .object(["url": .string("http://127.0.0.1:\(port)/")]))
                try wd.wait("the model's economics on the page") { try wd.attribute("#cost-0", "id") == "cost-0" }

                // A bad file: the CLI's message on the page.
                try wd.type("#file", badFile)
                try wd.click("#score")
                try wd.wait("the error message") { !(try wd.text("#error")).isEmpty }
                #expect(
                    "error: " + (try wd.text("#error"))
                        == badCLI.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: badFile, with: "bad.csv"))

                // The test split with another margin.
                try wd.type("#file", Self.testSplit)
                try wd.clear("#margin")
                try wd.type("#margin", margin)
                try wd.click("#score")
                try wd.wait("the summary", seconds: 120) { try wd.text("#status").hasPrefix("Scored") }
                #expect(try wd.text("#error").isEmpty)
                func value(_ id: String) throws -> Double? { try wd.attribute("#" + id, "data-value").flatMap(Double.init) }
                #expect(try value("s-rows") == Double(summary.rows))
                #expect(try value("s-contacts") == Double(summary.contacts))
                #expect(try value("s-revenue")?.bitPattern == summary.expectedRevenue.bitPattern)
                #expect(try value("s-cost")?.bitPattern == summary.cost.bitPattern)
                #expect(try value("s-profit")?.bitPattern == summary.expectedProfit.bitPattern)
                let header = try wd.script("return [...document.querySelectorAll('#rows thead th')].map(c => c.textContent)")
                #expect(header == .array(cli.names.map { .string($0) }))
                let rows = try wd.script("return [...document.querySelectorAll('#rows tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
                guard case .array(let pageRows) = rows else { throw LoopbackError("no rows on the page") }
                #expect(pageRows.count == min(ScoringService.previewRows, cli.rowCount))
                for (i, row) in pageRows.enumerated() {
                    #expect(row == .array(try cli.names.map { .string(try cli.strings($0)[i]) }), "row \(i + 1)")
                }
                #expect(try wd.script("return document.querySelectorAll('#chart polyline').length") == .number(1))

                let png = try wd.call("GET", wd.s("/screenshot")).stringValue.flatMap { Data(base64Encoded: $0) }
                #expect(png?.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
                try FileManager.default.createDirectory(atPath: (Self.screenshot as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try png?.write(to: URL(fileURLWithPath: Self.screenshot), options: .atomic)
            }
        }
    }
}
