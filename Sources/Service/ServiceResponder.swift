import Base
import Foundation
import Hummingbird
import Logging

/// Dispatch, errors as JSON bodies, and one structured log line per request (method, path,
/// status, rows, duration).
struct ServiceResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let service: ScoringService

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        var rows: Int? = nil
        do {
            (response, rows) = try await service.route(request)
        } catch let e as ServiceError {
            response = service.json(e.body, status: HTTPResponse.Status(code: e.status))
            if let allow = e.allow { response.headers[.allow] = allow }
        } catch let e as HTTPError where e.status == .contentTooLarge {
            response = service.json(ServiceError.plain(413, "the body is larger than the limit of \(service.maxBody) bytes").body, status: .contentTooLarge)
        } catch {
            // A body cut off by the client ends here too; the connection is gone, so the answer is for the log.
            log(context.logger, request, status: 500, rows: nil, start: start, error: "\(error)")
            throw error
        }
        // An upload refused before its body was read is not drained: the connection closes instead.
        if response.status == .contentTooLarge || response.status == .unsupportedMediaType { response.headers[.connection] = "close" }
        log(context.logger, request, status: Int(response.status.code), rows: rows, start: start, error: nil)
        return response
    }

    func log(_ logger: Logger, _ request: Request, status: Int, rows: Int?, start: ContinuousClock.Instant, error: String?) {
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "path": .string(request.uri.path), "status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.3f", ms)),
        ]
        if let rows { metadata["rows"] = .stringConvertible(rows) }
        if let error { metadata["error"] = .string(error) }
        logger.info("request", metadata: metadata)
    }
}
