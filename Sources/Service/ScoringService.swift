import Base
import Economics
import Foundation
import Hummingbird
import Logging
import NIOCore
import Scoring
import Tabular
import Uplift

/// The scoring service: every route of `serve`, over the model loaded once at start-up. Nothing is
/// shared between requests but that read-only model; each request has its own temporary folder.
public struct ScoringService: Sendable {
    public let loaded: LoadedModel
    public let maxBody: Int
    let started: ContinuousClock.Instant
    /// Rows of the contact list returned in a JSON answer.
    public static let previewRows = 20
    public static let curvePoints = 200

    /// Where each request's folder (upload, scored file) is made.
    public let scratchRoot: String

    public init(models: String, maxBody: Int = 50 << 20, scratchRoot: String = FileManager.default.temporaryDirectory.path) throws {
        loaded = try LoadedModel(directory: models)
        self.scratchRoot = scratchRoot
        // The defaults must resolve: a model directory whose economics cannot score fails at start-up.
        _ = try Scorer(loaded: loaded, idColumn: nil)
        self.maxBody = maxBody
        started = .now
    }

    /// The Hummingbird application on `host:port` (port 0: the kernel's choice, told through `onRunning`).
    public func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        Application(
            responder: ServiceResponder(service: self),
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "serve"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    // MARK: routes

    static let routes: [(path: String, methods: [HTTPRequest.Method])] = [
        ("/", [.get]), ("/health", [.get]), ("/score", [.post]), ("/openapi.json", [.get]), ("/sample.csv", [.get]),
        ("/app.js", [.get]), ("/app.css", [.get]),
    ]

    /// The routes and their methods, for clients and tests (HEAD is answered wherever GET is).
    public static var routeTable: [(path: String, methods: [String])] { routes.map { ($0.path, $0.methods.map(\.rawValue)) } }

    /// The answer and, for /score, the number of rows scored (for the request log).
    func route(_ request: Request) async throws -> (Response, rows: Int?) {
        let path = request.uri.path
        guard let route = Self.routes.first(where: { $0.path == path }) else {
            throw ServiceError.plain(404, "no route \(path) (routes: \(Self.routes.map(\.path).joined(separator: ", ")))")
        }
        guard route.methods.contains(request.method) || (request.method == .head && route.methods.contains(.get)) else {
            let allow = route.methods.map(\.rawValue).joined(separator: ", ")
            throw ServiceError.plain(405, "\(request.method.rawValue) is not allowed on \(path) (allowed: \(allow))", allow: allow)
        }
        switch path {
        case "/health": return (json(health()), nil)
        case "/openapi.json": return (json(OpenAPIDocument.document), nil)
        case "/": return (text(SimulatorPage.html, type: "text/html; charset=utf-8"), nil)
        case "/app.js": return (text(SimulatorPage.script, type: "text/javascript; charset=utf-8"), nil)
        case "/app.css": return (text(SimulatorPage.style, type: "text/css; charset=utf-8"), nil)
        case "/sample.csv": return (text(SampleList.csv(loaded), type: "text/csv; charset=utf-8"), nil)
        default: return try await score(request)
        }
    }

    func health() -> JSONValue {
        let economics = try? Scorer(loaded: loaded, idColumn: nil)
        var defaults: [String: JSONValue] = [:]
        if let e = economics {
            defaults = [
                "margin": .number(e.economics.margin), "policy": .string(e.policy.rawValue),
                "costs": .object(Dictionary(uniqueKeysWithValues: zip(e.economics.arms, e.economics.costs.map { JSONValue.number($0) }))),
                "arms": .array(e.economics.arms.map { .string($0) }),
            ]
        }
        let uptime = ContinuousClock.now - started
        return .object([
            "status": .string("ok"),
            "model_format_version": .number(Double(loaded.meta.formatVersion)),
            "model_checksum": .string(loaded.checksum),
            "learner": .string(loaded.meta.learner),
            "uptime_seconds": .number(Double(uptime.components.seconds) + Double(uptime.components.attoseconds) * 1e-18),
            "economics": .object(defaults),
            "required_columns": .array(loaded.model.encoder.requiredColumns.map { .string($0.name) }),
        ])
    }

    func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.rendered() + "\n")))
    }

    func text(_ value: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: value)))
    }

    // MARK: /score

    func score(_ request: Request) async throws -> (Response, rows: Int?) {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBody {
            throw ServiceError.plain(413, "the body is \(length) bytes; the limit is \(maxBody) (serve --max-body)")
        }
        let contentType = request.headers[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var settings = ScoreSettings()
        for (key, value) in request.uri.queryParameters { try settings.set(String(key), String(value)) }
        let folder = try RequestFolder(root: scratchRoot)
        var name = "upload.csv"
        let upload: UploadFile
        switch mediaType {
        case "text/csv":
            upload = try UploadFile(path: folder.path + "/upload.csv")
            for try await buffer in request.body {
                guard upload.bytes + buffer.readableBytes <= maxBody else { throw tooLarge() }
                try buffer.withUnsafeReadableBytes { try upload.write($0) }
            }
        case "multipart/form-data":
            guard let boundary = MultipartParser.boundary(contentType: contentType) else {
                throw ServiceError.badInput("multipart/form-data without a boundary parameter")
            }
            (upload, name) = try await receiveForm(request.body, boundary: boundary, folder: folder, settings: &settings)
        default:
            throw ServiceError.plain(
                415, "content type '\(contentType)' is not accepted: send the CSV as text/csv or as the field 'file' of a multipart/form-data form")
        }
        try upload.close()
        let wantsCSV = (request.headers[.accept] ?? "").lowercased().contains("text/csv")
        return try await run(input: upload.path, name: name, folder: folder, settings: settings, csv: wantsCSV)
    }

    func tooLarge() -> ServiceError { .plain(413, "the body is larger than the limit of \(maxBody) bytes (serve --max-body)") }

    /// Streams a form to disk: the part `file` into the upload file, the other fields into the settings.
    func receiveForm(_ body: RequestBody, boundary: String, folder: RequestFolder, settings: inout ScoreSettings) async throws -> (UploadFile, String) {
        var parser = MultipartParser(boundary: boundary)
        var upload: UploadFile? = nil
        var name = "upload.csv"
        var current: String? = nil
        var field: [UInt8] = []
        var fields: [(String, String)] = []
        var received = 0
        for try await buffer in body {
            received += buffer.readableBytes
            guard received <= maxBody else { throw tooLarge() }
            try buffer.withUnsafeReadableBytes { bytes in
                try parser.feed(bytes) { event in
                    switch event {
                    case .partStart(let partName, let filename):
                        current = partName
                        field = []
                        if partName == "file" {
                            guard upload == nil else { throw ServiceError.badInput("the form has more than one field 'file'") }
                            if let filename, !filename.isEmpty { name = Self.displayName(filename) }
                            upload = try UploadFile(path: folder.path + "/upload.csv")
                        }
                    case .partBytes(let bytes):
                        if current == "file" {
                            try upload!.write(bytes)
                        } else {
                            field += bytes
                            guard field.count <= 4096 else { throw ServiceError.badInput("form field '\(current ?? "")' is longer than 4096 bytes") }
                        }
                    case .partEnd:
                        if let c = current, c != "file" { fields.append((c, String(decoding: field, as: UTF8.self))) }
                        current = nil
                    }
                }
            }
        }
        do { try parser.finish() } catch let e as MultipartError { throw ServiceError.badInput(e.description) }
        for (key, value) in fields where !value.isEmpty { try settings.set(key, value) }
        guard let upload else { throw ServiceError.badInput("the form has no field 'file' with the CSV") }
        return (upload, name)
    }

    /// A client's file name as errors show it: the last path component, printable characters only.
    static func displayName(_ filename: String) -> String {
        let last = filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? filename
        let clean = String(last.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }.map(Character.init))
        return clean.isEmpty ? "upload.csv" : String(clean.prefix(200))
    }

    /// Scores the uploaded file with the CLI's run (so the scored CSV is the CLI's, byte for byte),
    /// on a thread of its own: the run is blocking work that must not hold an event loop.
    func run(input: String, name: String, folder: RequestFolder, settings: ScoreSettings, csv: Bool) async throws -> (Response, rows: Int?) {
        let output = folder.path + "/scored.csv"
        let options = ScoreOptions(
            input: input, output: output, models: loaded.directory, economics: settings.override, topN: settings.topN,
            drift: folder.path + "/drift.json", maxRowsInMemory: 200_000)
        let loaded = self.loaded
        let (summary, warnings) = try await withCheckedThrowingContinuation { (c: CheckedContinuation<(ScoreSummary, [String]), Error>) in
            Thread.detachNewThread {
                var warnings: [String] = []
                do {
                    let summary = try ScoreRun.run(options, loaded: loaded) { warnings.append($0) }
                    c.resume(returning: (summary, warnings))
                } catch let e as DataError {
                    c.resume(throwing: ServiceError.data(e, temporaryPath: input, name: name))
                } catch let e as ClassifiedError where e.isBadInput {
                    c.resume(throwing: ServiceError.badInput(e.description))
                } catch {
                    c.resume(throwing: error)
                }
            }
        }
        if csv {
            let response = Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"scored.csv\""],
                body: ResponseBody { writer in
                    // The folder lives until the file is written out.
                    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: output))
                    defer { withExtendedLifetime(folder) { try? handle.close() } }
                    while let data = try handle.read(upToCount: 1 << 16), !data.isEmpty {
                        try await writer.write(ByteBuffer(bytes: data))
                    }
                    try await writer.finish(nil)
                })
            return (response, summary.rows)
        }
        let economics = try Scorer(loaded: loaded, economics: settings.override, idColumn: nil).economics
        let preview = try ScoredPreview(path: output, ranked: summary.policy.needsRanking, rows: Self.previewRows, points: Self.curvePoints)
        var perArm: [String: JSONValue] = [:]
        for (k, arm) in summary.arms.enumerated() { perArm[arm] = .number(Double(summary.armContacts[k])) }
        var used: [String: JSONValue] = [
            "margin": .number(economics.margin), "policy": .string(summary.policy.rawValue),
            "costs": .object(Dictionary(uniqueKeysWithValues: zip(economics.arms, economics.costs.map { JSONValue.number($0) }))),
        ]
        if let n = settings.topN { used["topn"] = .number(Double(n)) }
        let body: JSONValue = .object([
            "summary": .object([
                "rows": .number(Double(summary.rows)), "contacts": .number(Double(summary.contacts)), "contacts_per_arm": .object(perArm),
                "expected_incremental_revenue": .number(summary.expectedRevenue), "cost": .number(summary.cost),
                "expected_profit": .number(summary.expectedProfit), "unknown_category_rows": .number(Double(summary.unknownCategoryRows)),
            ]),
            "settings": .object(used),
            "profit_curve": .array(preview.curve.map { .object(["contacts": .number(Double($0.contacts)), "profit": .number($0.profit)]) }),
            "columns": .array(preview.columns.map { .string($0) }),
            "rows": .array(preview.rows.map { .array($0.map { .string($0) }) }),
            "warnings": .array(warnings.map { .string($0) }),
        ])
        return (json(body), summary.rows)
    }
}

/// What a JSON answer shows of a scored file: the first rows as written, and the profit curve.
struct ScoredPreview {
    var columns: [String]
    var rows: [[String]]
    var curve: [ProfitCurve.Point]

    init(path: String, ranked: Bool, rows count: Int, points: Int) throws {
        columns = try CSVReader.header(path: path)
        // The head of the file, cut after the wanted rows; a quoted line break in an id makes the
        // cut land inside a field, and then the whole file is read.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        let head = [UInt8](try handle.read(upToCount: 1 << 18) ?? Data())
        try? handle.close()
        var newlines = 0, end = head.count
        for (i, b) in head.enumerated() where b == 10 {
            newlines += 1
            if newlines == count + 1 { end = i + 1; break }
        }
        let schema = CSVSchema(columns.map { ColumnSpec($0, .string) })
        let table: Table
        do { table = try CSVReader.read(bytes: Array(head[0..<end]), source: path, schema: schema) } catch {
            table = try CSVReader.read(path: path, schema: schema)
        }
        let strings = try columns.map { try table.strings($0) }
        rows = (0..<min(count, table.rowCount)).map { i in strings.map { $0[i] } }
        let numbers = try CSVReader.read(path: path, schema: CSVSchema([ColumnSpec("uplift_hat", .double), ColumnSpec("expected_profit", .double)]))
        let profit = try numbers.doubles("expected_profit")
        let order = ranked ? Array(profit.indices) : ProfitCurve.rankOrder(uplift: try numbers.doubles("uplift_hat"))
        curve = ProfitCurve.sampled(profitsInRankOrder: order.map { profit[$0] }, maxPoints: points)
    }
}
