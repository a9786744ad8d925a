import Foundation
import Base
import Tabular
import Yams

/// Loads a stage's parameter file (YAML). Returns the typed parameters and the raw tree
/// (recorded verbatim in the stage's manifest).
public enum Params {
    public static func load<T: Decodable>(_ type: T.Type, from path: String) throws -> (T, JSONValue) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, message: "cannot read parameter file")
        }
        let text = String(decoding: data, as: UTF8.self)
        do {
            let typed = try YAMLDecoder().decode(T.self, from: text)
            let raw = JSONValue(any: try Yams.load(yaml: text))
            return (typed, raw)
        } catch let error as YamlError {
            throw DataError(file: path, message: "invalid YAML: \(error)")
        } catch let error as DecodingError {
            throw DataError(file: path, message: describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String {
            p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            let at = path(ctx.codingPath)
            return "missing parameter '\(at.isEmpty ? "" : at + ".")\(key.stringValue)'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
            return "parameter '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        case .dataCorrupted(let ctx):
            return "parameter '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
