import Foundation
import Yams

// A `Decoder` over Yams' composed node tree. Yams' own `YAMLDecoder` answers only the keys a type
// asks for, so a misspelled or stray parameter was silently ignored; this one remembers, per
// mapping, which keys the type asked for (`decode`, `decodeIfPresent`, `contains`) and whether it
// read `allKeys` (a dictionary-valued parameter, whose keys are data). After decoding, a key no
// type asked for is an unknown parameter. No key lists are kept by hand: the types' own
// `CodingKeys` are the truth. Scalars are built with Yams' `ScalarConstructible`, exactly as
// `YAMLDecoder` built them, so every file it accepted decodes to the same values.

/// A key's or node's place in the file: 1-based line and column.
struct SourcePosition: Hashable, Comparable {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init?(_ mark: Mark?) {
        guard let mark else { return nil }
        self.init(line: mark.line, column: mark.column)
    }

    static func < (a: SourcePosition, b: SourcePosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    var text: String { "\(line):\(column)" }
}

/// A list position in a coding path (printed `[i]`, unlike dictionary keys that look like numbers).
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
}

struct NamedKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

enum ParamsPath {
    /// `split.seed`, `rfm_segments[2].f`, "" for the top level.
    static func text(_ path: [CodingKey]) -> String {
        var out = ""
        for key in path {
            if key is IndexKey {
                out += "[\(key.intValue ?? 0)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out
    }

    static func joined(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : parent + "." + name
    }
}

/// One key of a mapping as decoding sees it: merge keys (`<<: *base`) are resolved, and a key
/// may carry a corrected name (see `ParamsDecoding`).
struct MappingEntry {
    var name: String?
    var key: Node
    var value: Node
    var position: SourcePosition? { SourcePosition(key.mark) }
}

/// What one decoding pass saw.
final class ParamsDecodingLog {
    struct MappingUse {
        var path: [CodingKey]
        var entries: [MappingEntry]
        /// Keys the type asked for, in the order it asked (its declaration order for synthesized code).
        var asked: [String] = []
        /// `allKeys` was read: the keys are data (a dictionary), not parameter names.
        var freeForm = false
    }

    /// Corrected key names by the key's position (a misspelling of a required key, see `ParamsDecoding`).
    let renames: [SourcePosition: String]
    private(set) var uses: [String: MappingUse] = [:]
    private(set) var useOrder: [String] = []
    /// Every node decoding visited, by path, with the position of the key that leads to it.
    private(set) var nodes: [String: (node: Node, keyPosition: SourcePosition?)] = [:]

    init(renames: [SourcePosition: String]) {
        self.renames = renames
    }

    func visit(_ path: [CodingKey], node: Node, keyPosition: SourcePosition?) {
        nodes[ParamsPath.text(path)] = (node, keyPosition)
    }

    func open(_ path: [CodingKey], entries: [MappingEntry]) {
        let text = ParamsPath.text(path)
        if uses[text] == nil {
            uses[text] = MappingUse(path: path, entries: entries)
            useOrder.append(text)
        }
    }

    func ask(_ path: [CodingKey], _ name: String) {
        let text = ParamsPath.text(path)
        if uses[text]?.asked.contains(name) == false { uses[text]?.asked.append(name) }
    }

    func readAllKeys(_ path: [CodingKey]) {
        uses[ParamsPath.text(path)]?.freeForm = true
    }

    /// The entries of a mapping: own keys first (they override merged ones, as YAML says), then
    /// keys merged in with `<<`, earlier merge sources first.
    func entries(of mapping: Node.Mapping) -> [MappingEntry] {
        var own: [MappingEntry] = [], merged: [MappingEntry] = []
        for (key, value) in mapping {
            if case .scalar(let s) = key, s.string == "<<", s.style == .plain || s.style == .any {
                switch value {
                case .mapping(let source):
                    merged += entries(of: source)
                    continue
                case .sequence(let sources) where sources.allSatisfy({ $0.mapping != nil }):
                    for case .mapping(let source) in sources { merged += entries(of: source) }
                    continue
                default:
                    break  // not a merge: an ordinary (and unknown) key
                }
            }
            let name = SourcePosition(key.mark).flatMap { renames[$0] } ?? key.scalar?.string
            own.append(MappingEntry(name: name, key: key, value: value))
        }
        var seen = Set(own.compactMap(\.name))
        return own + merged.filter { $0.name.map { seen.insert($0).inserted } ?? true }
    }
}

/// Decodes any `Decodable` from a node, recording what it asked for in a `ParamsDecodingLog`.
struct ParamsNodeDecoder: Decoder, SingleValueDecodingContainer {
    let node: Node
    let codingPath: [CodingKey]
    let log: ParamsDecodingLog
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func child(_ node: Node, key: CodingKey, keyPosition: SourcePosition?) -> ParamsNodeDecoder {
        let path = codingPath + [key]
        log.visit(path, node: node, keyPosition: keyPosition)
        return ParamsNodeDecoder(node: node, codingPath: path, log: log)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else { throw mismatch("a mapping (name: value lines)") }
        let entries = log.entries(of: mapping)
        log.open(codingPath, entries: entries)
        return KeyedDecodingContainer(ParamsKeyedContainer<Key>(decoder: self, entries: entries))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else { throw mismatch("a list") }
        return ParamsUnkeyedContainer(decoder: self, items: Array(sequence))
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    // MARK: single value

    func decodeNil() -> Bool { ParamsNodeDecoder.isNull(node) }

    /// Scalars through Yams' `ScalarConstructible` (as `YAMLDecoder` does), everything else through its `init(from:)`.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let constructible = type as? ScalarConstructible.Type {
            guard case .scalar(let scalar) = node else { throw mismatch(ParamsNodeDecoder.expectation(type)) }
            guard let value = constructible.construct(from: scalar) as? T else { throw mismatch(ParamsNodeDecoder.expectation(type)) }
            return value
        }
        return try T(from: self)
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }
    func decode(_ type: Bool.Type) throws -> Bool { try decodeValue(type) }
    func decode(_ type: String.Type) throws -> String { try decodeValue(type) }
    func decode(_ type: Double.Type) throws -> Double { try decodeValue(type) }
    func decode(_ type: Float.Type) throws -> Float { try decodeValue(type) }
    func decode(_ type: Int.Type) throws -> Int { try decodeValue(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeValue(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeValue(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeValue(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeValue(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeValue(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeValue(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeValue(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeValue(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeValue(type) }

    // MARK: helpers

    /// YAML's null as Yams reads it: a plain `~`, `null`, `Null`, `NULL` or nothing.
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func expectation(_ type: Any.Type) -> String {
        if type == Bool.self { return "true or false" }
        if type == String.self { return "a string" }
        if let integer = type as? any BinaryInteger.Type { return integer.isSigned ? "a whole number" : "a whole number ≥ 0" }
        if type is any BinaryFloatingPoint.Type || type == Decimal.self { return "a number" }
        return "a value of type \(type)"
    }

    static func found(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return isNull(node) ? "nothing" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, DecodingError.Context(codingPath: codingPath, debugDescription: "expected \(expected), found \(ParamsNodeDecoder.found(node))"))
    }
}

struct ParamsKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: ParamsNodeDecoder
    let entries: [MappingEntry]

    var codingPath: [CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        decoder.log.readAllKeys(codingPath)
        return entries.compactMap { $0.name.flatMap(Key.init(stringValue:)) }
    }

    private func entry(_ key: Key) -> MappingEntry? {
        decoder.log.ask(codingPath, key.stringValue)
        return entries.first { $0.name == key.stringValue }
    }

    private func child(_ key: Key) throws -> ParamsNodeDecoder {
        guard let e = entry(key) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no value for '\(key.stringValue)'"))
        }
        return decoder.child(e.value, key: key, keyPosition: e.position)
    }

    func contains(_ key: Key) -> Bool { entry(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        guard let key = Key(stringValue: "super") else {
            throw DecodingError.keyNotFound(NamedKey("super"), DecodingError.Context(codingPath: codingPath, debugDescription: "no 'super' key"))
        }
        return try child(key)
    }

    func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
}

struct ParamsUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: ParamsNodeDecoder
    let items: [Node]
    private(set) var currentIndex = 0

    init(decoder: ParamsNodeDecoder, items: [Node]) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next<T>(_ type: T.Type) throws -> ParamsNodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: codingPath + [IndexKey(currentIndex)],
                    debugDescription: "the list has only \(items.count) items"))
        }
        let item = items[currentIndex]
        let child = decoder.child(item, key: IndexKey(currentIndex), keyPosition: nil)
        currentIndex += 1
        return child
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { _ = try next(Any?.self); return false }
        if ParamsNodeDecoder.isNull(items[currentIndex]) {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decode(type) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next(type).decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type).decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type).decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next(type).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        try next([Any].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder { try next(Any.self) }
}
