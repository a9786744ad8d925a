import Base
import Foundation
import Tabular
import Yams

/// Loads a stage's parameter file (YAML). Returns the typed parameters and the raw tree
/// (recorded verbatim in the stage's manifest).
///
/// Every mistake is bad input (`DataError`, exit 2) naming the file, and where the file has one,
/// the line and column: a YAML syntax error, a value of the wrong type, a missing parameter, and a
/// parameter the stage does not know (with the nearest valid name and the valid names at that
/// place). Keys of dictionary-valued parameters (`arm_costs: {<arm>: 0.06}`) are data
/// and are never flagged.
public enum Params {
    public static func load<T: Decodable>(_ type: T.Type, from path: String) throws -> (T, JSONValue) {
        let text = try readText(path)
        let typed = try ParamsDecoding.decode(T.self, yaml: text, file: path)
        do {
            // The manifests record this tree; it is built exactly as before the typed decoding changed.
            return (typed, JSONValue(any: try Yams.load(yaml: text)))
        } catch let error as YamlError {
            throw ParamsDecoding.syntaxError(error, file: path)
        }
    }

    /// The file's text: it must exist and be UTF-8 (YAML's encoding here), or the error says where it is not.
    static func readText(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(file: path, message: "no such parameter file")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, message: "cannot read parameter file")
        }
        let bytes = [UInt8](data)
        if let bad = firstInvalidUTF8(bytes) {
            let lineStart = bytes[..<bad].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            let line = bytes[..<bad].count(where: { $0 == 0x0A }) + 1
            let column = String(decoding: bytes[lineStart..<bad], as: UTF8.self).unicodeScalars.count + 1
            throw DataError(
                file: path, line: line, column: column,
                message: "not UTF-8 text (byte 0x\(String(bytes[bad], radix: 16, uppercase: true))); save the parameter file as UTF-8")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Offset of the first byte that is not part of a valid UTF-8 sequence, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}

/// Decodes a parameter tree with `ParamsNodeDecoder` and turns what went wrong into one message.
enum ParamsDecoding {
    /// An unknown key, as reported.
    struct UnknownKey {
        var parentPath: String
        var name: String
        var position: SourcePosition?
        /// Set when the key was taken for a misspelling of a required key (decoding was retried with it).
        var correction: String?

        var path: String { ParamsPath.joined(parentPath, name) }
    }

    static func decode<T: Decodable>(_ type: T.Type, yaml: String, file: String) throws -> T {
        let root: Node
        do {
            // The resolver YAMLDecoder uses (merge keys only: scalars keep their text until a type reads them).
            let parser = try Parser(yaml: yaml, resolver: Resolver.basic.appending(.merge))
            guard let document = try parser.singleRoot() else {
                throw DataError(file: file, message: "the parameter file is empty; expected the stage's parameters (name: value lines)")
            }
            root = document
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        }

        // A required key that is missing while the same mapping holds a near miss ('test_fracton' for
        // 'test_fraction') is a misspelling: decoding is retried with the key read as the required
        // name, so the report can name every valid key of that mapping, then the key is reported.
        var renames: [SourcePosition: String] = [:]
        var corrected: [UnknownKey] = []
        var log = ParamsDecodingLog(renames: renames)
        for _ in 0..<64 {
            log = ParamsDecodingLog(renames: renames)
            let decoder = ParamsNodeDecoder(node: root, codingPath: [], log: log)
            log.visit([], node: root, keyPosition: nil)
            do {
                let value = try decoder.decodeValue(T.self)
                let unknown = corrected + unknownKeys(log)
                if !unknown.isEmpty { throw unknownKeyError(unknown, log: log, file: file) }
                return value
            } catch let error as DecodingError {
                if case .keyNotFound(let key, let context) = error {
                    let parent = ParamsPath.text(context.codingPath)
                    // A correction that leaves its original name missing was a wrong guess: the key is missing.
                    if let wrong = corrected.first(where: { $0.parentPath == parent && $0.name == key.stringValue }) {
                        throw missingKeyError(wrong.correction!, parentPath: context.codingPath, log: log, file: file)
                    }
                    if let guess = nearMiss(for: key.stringValue, parentPath: parent, log: log), let position = guess.position {
                        renames[position] = key.stringValue
                        corrected.append(guess)
                        continue
                    }
                }
                if !corrected.isEmpty { throw unknownKeyError(corrected, log: log, file: file) }
                if case .dataCorrupted(let context) = error, let typo = misspelling(beside: context.codingPath, log: log) {
                    throw unknownKeyError([typo], log: log, file: file)
                }
                throw translate(error, log: log, file: file)
            }
        }
        throw unknownKeyError(corrected, log: log, file: file)
    }

    /// Keys of decoded mappings that no type asked for, in file order.
    static func unknownKeys(_ log: ParamsDecodingLog) -> [UnknownKey] {
        var found: [UnknownKey] = []
        for pathText in log.useOrder {
            guard let use = log.uses[pathText], !use.freeForm else { continue }
            for entry in use.entries where entry.name.map({ !use.asked.contains($0) }) ?? true {
                found.append(UnknownKey(parentPath: pathText, name: entry.name ?? "<\(ParamsNodeDecoder.found(entry.key))>", position: entry.position))
            }
        }
        return found
    }

    /// An unasked key of the mapping at `parentPath` close enough to `missing` to be its misspelling.
    static func nearMiss(for missing: String, parentPath: String, log: ParamsDecodingLog) -> UnknownKey? {
        guard let use = log.uses[parentPath], !use.freeForm else { return nil }
        let candidates = use.entries.compactMap { entry -> (MappingEntry, String, Int)? in
            guard let name = entry.name, !use.asked.contains(name) else { return nil }
            return (entry, name, editDistance(name, missing))
        }
        guard let best = candidates.min(by: { $0.2 < $1.2 }), best.2 <= tolerance(missing) else { return nil }
        return UnknownKey(parentPath: parentPath, name: best.1, position: best.0.position, correction: missing)
    }

    /// A key of the mapping that holds `path` that no type asked for and that is a near miss of an
    /// optional key the mapping lacks. A value that is invalid only beside other keys (a decimal comma
    /// with the default ',' delimiter) is then most likely the misspelling's doing (`delimitr: ';'`),
    /// so the misspelling is reported instead.
    static func misspelling(beside path: [CodingKey], log: ParamsDecodingLog) -> UnknownKey? {
        let parent = ParamsPath.text(Array(path.dropLast()))
        guard let use = log.uses[parent], !use.freeForm else { return nil }
        let present = Set(use.entries.compactMap(\.name))
        let absent = use.asked.filter { !present.contains($0) }
        for entry in use.entries {
            guard let name = entry.name, !use.asked.contains(name) else { continue }
            if absent.contains(where: { editDistance(name, $0) <= tolerance($0) }) {
                return UnknownKey(parentPath: parent, name: name, position: entry.position)
            }
        }
        return nil
    }

    /// How many edits still read as a misspelling of `name`.
    static func tolerance(_ name: String) -> Int { max(1, min(3, name.count / 3)) }

    static func unknownKeyError(_ keys: [UnknownKey], log: ParamsDecodingLog, file: String) -> DataError {
        let sorted = keys.sorted { ($0.position ?? SourcePosition(line: .max, column: 0)) < ($1.position ?? SourcePosition(line: .max, column: 0)) }
        let first = sorted[0]
        let use = log.uses[first.parentPath]
        let valid = use?.asked ?? []
        let present = Set(use?.entries.compactMap(\.name) ?? [])
        let suggestion =
            first.correction
            ?? valid
            .filter { !present.contains($0) }
            .map { ($0, editDistance(first.name, $0)) }
            .filter { $0.1 <= tolerance($0.0) }
            .min { $0.1 < $1.1 }?.0
        var hint: [String] = []
        if let suggestion { hint.append("did you mean '\(suggestion)'?") }
        if !valid.isEmpty { hint.append("valid here: " + valid.joined(separator: ", ")) }
        var message = "unknown parameter '\(first.path)'" + (hint.isEmpty ? "" : " (" + hint.joined(separator: " ") + ")")
        if sorted.count > 1 {
            message += "; also unknown: " + sorted.dropFirst().map { "'\($0.path)'" + ($0.position.map { " at \($0.text)" } ?? "") }.joined(separator: ", ")
        }
        return DataError(file: file, line: first.position?.line, column: first.position?.column, message: message)
    }

    static func missingKeyError(_ name: String, parentPath: [CodingKey], log: ParamsDecodingLog, file: String) -> DataError {
        let parent = ParamsPath.text(parentPath)
        // Point at the key that holds the mapping (`split:`) or the list item; the top level has no such place.
        let place = parent.isEmpty ? nil : log.nodes[parent].flatMap { $0.keyPosition ?? SourcePosition($0.node.mark) }
        return DataError(file: file, line: place?.line, column: place?.column, message: "missing parameter '\(ParamsPath.joined(parent, name))'")
    }

    static func translate(_ error: DecodingError, log: ParamsDecodingLog, file: String) -> DataError {
        switch error {
        case .keyNotFound(let key, let context):
            return missingKeyError(key.stringValue, parentPath: context.codingPath, log: log, file: file)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = ParamsPath.text(context.codingPath)
            let place = log.nodes[path].flatMap { SourcePosition($0.node.mark) ?? $0.keyPosition }
            let message = path.isEmpty ? context.debugDescription : "parameter '\(path)': \(context.debugDescription)"
            return DataError(file: file, line: place?.line, column: place?.column, message: message)
        @unknown default:
            return DataError(file: file, message: "\(error)")
        }
    }

    static func syntaxError(_ error: YamlError, file: String) -> DataError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return DataError(file: file, line: mark.line, column: mark.column, message: "YAML syntax error: \(problem)\(during)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return DataError(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "YAML syntax error: " + duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ") + " given more than once in one mapping")
        case .reader(let problem, let offset, _, let yaml):
            let place = offset.map { o -> SourcePosition in
                let prefix = yaml.prefix(o)
                let line = prefix.count(where: { $0 == "\n" }) + 1
                let column = prefix.distance(from: prefix.lastIndex(of: "\n").map { prefix.index(after: $0) } ?? prefix.startIndex, to: prefix.endIndex) + 1
                return SourcePosition(line: line, column: column)
            }
            return DataError(file: file, line: place?.line, column: place?.column, message: "YAML syntax error: \(problem)")
        default:
            return DataError(file: file, message: "YAML error: \(error)")
        }
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
