import Base
import Economics
import Forest
import Foundation
import Hummingbird
import Logging
import LoopbackHTTP
import PipelineCLI
import ScoreCLI
import Service
import Stats
import Tabular
import TestSupport
import Uplift

/// A small model trained here on synthetic data (numeric and categorical features, two e-mails),
/// with recorded economics: what the service loads in these tests.
struct ServiceFixture {
    let dir: String
    let models: String
    static let zips = ["Rural", "Surburban", "Urban"]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tests-\(UUID().uuidString)").path
        models = dir + "/models"
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 42)
        let n = 3000
        var recency = [Double](), history = [Double](), zip = [String](), arm = [Int](), y = [Double]()
        for _ in 0..<n {
            let r = Double(1 + g.next(below: 12)), h = 30 + 500 * g.nextUnit(), z = Self.zips[g.next(below: 3)], a = g.next(below: 3)
            recency.append(r); history.append(h); zip.append(z); arm.append(a)
            let effect = a == 0 ? 0 : (a == 1 ? 0.01 * h : 3 - 0.2 * r)
            y.append(effect + (z == "Urban" ? 1 : 0) + g.nextUnit())
        }
        let table = Table(
            source: "train.csv", names: ["recency", "history", "zip_code"],
            columns: [.double(recency), .double(history), .string(StringColumn(zip))])
        let encoder = try FeatureEncoder(fitting: table, features: [("recency", false), ("history", false), ("zip_code", true)])
        let (x, _) = try encoder.encode(table)
        let fit = try Learners.fit(
            LearnerConfig(kind: .t, outcome: ForestSettings(nTrees: 20, maxDepth: 5, minSamplesLeaf: 10)),
            data: TrainingData(x: x, y: y, arm: arm, armNames: ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]),
            perArm: true, seed: 9)
        let model = UpliftModel(encoder: encoder, forests: fit.forests, outputs: fit.outputs)
        let forests = model.forestBytes()
        let meta = ModelMeta(
            formatVersion: UpliftModel.formatVersion, dataset: "synthetic", idColumn: "row_id", featureCols: encoder.featureNames,
            numCols: ["recency", "history"], catCols: ["zip_code"], categories: ["zip_code": Self.zips],
            treatment: .init(
                armColumn: "segment", controlArm: "No E-Mail", arms: ["No E-Mail", "Mens E-Mail", "Womens E-Mail"],
                treatmentColumn: "treatment", definition: "any e-mail", propensity: fit.propensity,
                armPropensities: fit.armPropensities),
            target: "spend", learner: "t", learnerParams: .null, trainingFile: "train.csv", trainingFileSHA256: "-",
            trainingRows: n, forestsFile: UpliftModel.forestsFile, forestsSHA256: SHA256.hex(of: forests),
            forestFormatVersion: Int(ForestFormat.version), outputs: fit.outputs)
        try AtomicFile.write(forests, to: models + "/forests.bin")
        try AtomicFile.write(try model.encoderJSON(), to: models + "/encoder.json")
        try AtomicFile.write(try UpliftModel.metaJSON(meta), to: models + "/meta.json")
        try AtomicFile.write(try UpliftModel.jsonBytes(try DriftReference(training: table, encoder: encoder)), to: models + "/drift_reference.json")
        let economics = try CampaignEconomics(margin: 0.30, arms: ["Mens E-Mail", "Womens E-Mail"], costs: [0.05, 0.07])
        try AtomicFile.write(
            RecordedEconomics(economics: economics, scorerPolicy: "bestN", recommendedPolicy: "best_n", outcome: "spend").jsonBytes(),
            to: models + "/" + RecordedEconomics.file)
    }

    /// A contact list in the model's schema (plus an id and an unused column).
    func contacts(rows: Int, seed: UInt64) -> String {
        var g = SeededGenerator(seed: seed)
        var text = "row_id,channel,recency,history,zip_code\n"
        for i in 0..<rows {
            let r = Double(1 + g.next(below: 12)), h = 30 + 500 * g.nextUnit()
            text += "\(1000 + i),Web,\(formatDouble(r)),\(formatDouble(h)),\(Self.zips[g.next(below: 3)])\n"
        }
        return text
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The CLI in-process: its exit status, its output file's bytes and its error line.
    func cli(_ args: [String], input: String) throws -> (status: Int32, output: [UInt8], stderr: String) {
        let out = dir + "/cli-\(UUID().uuidString).csv"
        let (status, captured) = Console.capturing { ScoreCommand.pipelineRun(["--models", models, "--in", input, "--out", out] + args) }
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: out))).map { [UInt8]($0) } ?? []
        try? FileManager.default.removeItem(atPath: out)
        try? FileManager.default.removeItem(atPath: out + ".drift.json")
        return (status, bytes, captured.stderr)
    }
}

/// Blocking client calls run on a thread of their own: the server's handlers need the cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread.detachNewThread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}

/// Runs the service in-process on a free loopback port for the duration of `body`.
func withServer(models: String, maxBody: Int = 50 << 20, scratchRoot: String? = nil, _ body: @escaping @Sendable (Int) async throws -> Void)
    async throws
{
    let service = try ScoringService(models: models, maxBody: maxBody, scratchRoot: scratchRoot ?? FileManager.default.temporaryDirectory.path)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "serve-test")
    // Cancelling the server at the end of a test is logged as errors by Hummingbird: not this test's news.
    logger.logLevel = .critical
    let app = service.application(host: "127.0.0.1", port: 0, logger: logger) { continuation.yield($0) }
    let server = Task { try await app.runService(gracefulShutdownSignals: []) }
    defer { server.cancel() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw LoopbackError("the server did not start") }
    try await body(port)
}

func request(
    _ method: String, _ port: Int, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
) async throws -> LoopbackResponse {
    try await blocking { try LoopbackHTTP.request(method, port: port, path: path, headers: headers, body: body) }
}

func json(_ r: LoopbackResponse) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(r.body))
}

/// Folders of requests in flight or left behind under a service's scratch root.
func requestFolders(_ root: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("serve-") }
}
