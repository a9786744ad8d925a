import Base

/// The binary forest bundle, version 1 (docs/forest-format.md): little-endian, magic
/// "UPLFRST\0", u32 version, u32 forest count, the forests sorted by name bytes, then a
/// SHA-256 of everything before it.
public enum ForestFormat {
    public static let version: UInt32 = 1
    static let magic: [UInt8] = Array("UPLFRST".utf8) + [0]

    /// A bundle of named forests in one file. Names sorted (by UTF-8 bytes) for determinism;
    /// names must be distinct.
    public static func encode(_ forests: [(name: String, forest: RandomForest)]) -> [UInt8] {
        let sorted = forests.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        for i in sorted.indices.dropFirst() {
            precondition(sorted[i].name != sorted[i - 1].name, "ForestFormat.encode: duplicate forest name \(sorted[i].name)")
        }
        var out = ByteWriter()
        out.bytes.reserveCapacity(64 + forests.reduce(0) { $0 + $1.forest.trees.reduce(0) { $0 + 4 + 28 * $1.nodeCount } })
        out.bytes += magic
        out.u32(version)
        out.u32(sorted.count)
        for (name, forest) in sorted {
            let nameBytes = Array(name.utf8)
            out.u32(nameBytes.count)
            out.bytes += nameBytes
            out.u32(forest.featureCount)
            out.u32(forest.trees.count)
            for tree in forest.trees {
                let n = tree.nodeCount
                precondition(
                    tree.threshold.count == n && tree.left.count == n && tree.right.count == n && tree.value.count == n,
                    "ForestFormat.encode: tree node arrays differ in length")
                out.u32(n)
                for v in tree.feature { out.u32(UInt32(bitPattern: v)) }
                for v in tree.threshold { out.u64(v.bitPattern) }
                for v in tree.left { out.u32(UInt32(bitPattern: v)) }
                for v in tree.right { out.u32(UInt32(bitPattern: v)) }
                for v in tree.value { out.u64(v.bitPattern) }
            }
        }
        out.bytes += sha256(out.bytes[...])
        return out.bytes
    }

    /// Reads a bundle, checking in this order: magic, version, that the structure fits the file
    /// exactly (else truncated / trailing bytes), the checksum, then names and node indices.
    /// Errors name `source`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> [(name: String, forest: RandomForest)] {
        func fail(_ message: String) -> ForestError { ForestError("\(source): \(message)") }
        guard bytes.count >= magic.count else {
            if bytes.elementsEqual(magic.prefix(bytes.count)) {
                throw fail("truncated forest file (\(bytes.count) bytes, the header alone is 16)")
            }
            throw fail("not a forest file (bad magic)")
        }
        guard bytes.prefix(magic.count).elementsEqual(magic) else { throw fail("not a forest file (bad magic)") }
        var reader = ByteReader(bytes: bytes, offset: magic.count)
        func truncated(_ what: String) -> ForestError {
            fail("truncated forest file: \(bytes.count) bytes end inside \(what)")
        }
        guard let fileVersion = reader.u32() else { throw truncated("the header") }
        guard fileVersion == version else { throw fail("format version \(fileVersion), this program reads \(version)") }
        guard let forestCount = reader.u32() else { throw truncated("the header") }

        var forests: [(name: String, nameBytes: [UInt8], forest: RandomForest)] = []
        for fi in 0..<Int(forestCount) {
            guard let nameLength = reader.u32(), let nameBytes = reader.take(Int(nameLength)) else {
                throw truncated("the name of forest \(fi)")
            }
            guard let featureCount = reader.u32(), let treeCount = reader.u32() else { throw truncated("the header of forest \(fi)") }
            var trees: [RegressionTree] = []
            for ti in 0..<Int(treeCount) {
                // The size check comes before any allocation, so a corrupt count cannot ask for gigabytes.
                guard let nodeCount = reader.u32(), reader.remaining >= 28 * Int(nodeCount) else {
                    throw truncated("tree \(ti) of forest \(fi)")
                }
                let n = Int(nodeCount)
                let feature = (0..<n).map { _ in Int32(bitPattern: reader.u32()!) }
                let threshold = (0..<n).map { _ in Double(bitPattern: reader.u64()!) }
                let left = (0..<n).map { _ in Int32(bitPattern: reader.u32()!) }
                let right = (0..<n).map { _ in Int32(bitPattern: reader.u32()!) }
                let value = (0..<n).map { _ in Double(bitPattern: reader.u64()!) }
                trees.append(RegressionTree(feature: feature, threshold: threshold, left: left, right: right, value: value))
            }
            forests.append(
                (
                    String(decoding: nameBytes, as: UTF8.self), nameBytes,
                    RandomForest(featureCount: Int(featureCount), trees: trees)
                ))
        }
        let body = reader.offset
        if reader.remaining < 32 { throw truncated("the checksum") }
        if reader.remaining > 32 { throw fail("\(reader.remaining - 32) trailing bytes after the checksum") }
        guard sha256(bytes[..<body]).elementsEqual(bytes[body...]) else { throw fail("corrupt: checksum mismatch") }

        for (fi, entry) in forests.enumerated() {
            guard Array(entry.name.utf8) == entry.nameBytes else { throw fail("forest \(fi): name is not valid UTF-8") }
            if fi > 0 {
                let previous = forests[fi - 1].nameBytes
                guard previous.lexicographicallyPrecedes(entry.nameBytes) else {
                    throw fail("forest \(fi) (\(entry.name)): names are not sorted and distinct")
                }
            }
            if entry.forest.trees.isEmpty { throw fail("forest \(entry.name) has no trees") }
            for (ti, tree) in entry.forest.trees.enumerated() {
                if let problem = tree.structuralProblem(featureLimit: entry.forest.featureCount) {
                    throw fail("forest \(entry.name), tree \(ti): \(problem)")
                }
            }
        }
        return forests.map { (name: $0.name, forest: $0.forest) }
    }

    static func sha256(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var h = SHA256()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }
}

private struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
    mutating func u32(_ v: Int) {
        precondition(v >= 0 && v <= Int(UInt32.max), "ForestFormat.encode: count \(v) does not fit in u32")
        u32(UInt32(v))
    }
    mutating func u64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    var remaining: Int { bytes.count - offset }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }
    mutating func u64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }
    mutating func take(_ count: Int) -> [UInt8]? {
        guard remaining >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
