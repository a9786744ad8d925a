#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// A small byte-level XML tokenizer for the SpreadsheetML parts a workbook reader needs. It builds
// no tree and no String per node: it hands byte slices of tags and text to a handler. It checks
// that tags nest properly and that tokens are complete, which is what "malformed" means here;
// it does not validate names, namespaces or DTDs.

typealias XMLBytes = UnsafeBufferPointer<UInt8>

/// Receives the tokens of a document. Names are local names (any `prefix:` removed).
protocol XMLEventHandler {
    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws
    mutating func endElement(_ name: XMLBytes) throws
    /// Character data between tags, still entity-encoded unless `isCDATA` (then it is literal).
    mutating func characters(_ text: XMLBytes, isCDATA: Bool) throws
}

/// Malformed XML at a byte offset of the part being read.
struct XMLSyntaxError: Error {
    var offset: Int
    var message: String
}

/// A problem with the content of a part (well-formed XML, but not what a workbook should hold).
struct PartContentError: Error {
    var message: String
}

// MARK: - Byte helpers

/// Index of the first `byte` in `p[from..<n]`, or nil. Short distances (the usual case between
/// tags) are scanned inline; longer ones go to the vectorized `memchr`.
@inline(__always) func findByte(_ byte: UInt8, _ p: UnsafePointer<UInt8>, _ from: Int, _ n: Int) -> Int? {
    var k = from
    let inlineEnd = min(n, from + 24)
    while k < inlineEnd {
        if p[k] == byte { return k }
        k += 1
    }
    guard k < n, let hit = memchr(p + k, Int32(byte), n - k) else { return nil }
    return UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p
}

/// Byte-wise equality of short ranges without a call.
@inline(__always) func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    if n > 16 { return memcmp(a, b, n) == 0 }
    var k = 0
    while k < n {
        if a[k] != b[k] { return false }
        k += 1
    }
    return true
}

@inline(__always) func isXMLSpace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
}

extension UnsafeBufferPointer where Element == UInt8 {
    @inline(__always) func slice(_ from: Int, _ to: Int) -> XMLBytes {
        XMLBytes(start: baseAddress! + from, count: to - from)
    }

    /// Equality with an ASCII literal.
    @inline(__always) func equals(_ s: StaticString) -> Bool {
        guard count == s.utf8CodeUnitCount else { return false }
        if count == 0 { return true }
        return bytesEqual(baseAddress!, s.utf8Start, count)
    }

    /// Without leading and trailing XML white space.
    func trimmingXMLSpace() -> XMLBytes {
        var a = 0, b = count
        while a < b && isXMLSpace(self[a]) { a += 1 }
        while b > a && isXMLSpace(self[b - 1]) { b -= 1 }
        return a == 0 && b == count ? self : slice(a, b)
    }

    /// The part after the last ':' (the local name of a qualified name).
    @inline(__always) func localName() -> XMLBytes {
        var i = count - 1
        while i >= 0 {
            if self[i] == 0x3A { return slice(i + 1, count) }
            i -= 1
        }
        return self
    }

    var utf8String: String { String(decoding: self, as: UTF8.self) }
}

// MARK: - Attributes

/// The raw attribute text of a start tag, scanned on demand: `while let (name, value) = try attrs.next()`.
struct XMLAttributes {
    let raw: XMLBytes
    private var position = 0

    init(raw: XMLBytes) {
        self.raw = raw
    }

    /// The next (qualified name, raw value) pair, or nil at the end. Throws on syntax that is not
    /// `name = "value"` / `name = 'value'`.
    mutating func next() throws -> (name: XMLBytes, value: XMLBytes)? {
        let n = raw.count
        var i = position
        while i < n && isXMLSpace(raw[i]) { i += 1 }
        if i >= n { position = n; return nil }
        let nameStart = i
        while i < n && raw[i] != 0x3D && !isXMLSpace(raw[i]) { i += 1 }
        let name = raw.slice(nameStart, i)
        while i < n && isXMLSpace(raw[i]) { i += 1 }
        guard i < n, raw[i] == 0x3D, name.count > 0 else {
            throw PartContentError(message: "malformed attribute list '\(raw.utf8String)'")
        }
        i += 1
        while i < n && isXMLSpace(raw[i]) { i += 1 }
        guard i < n, raw[i] == 0x22 || raw[i] == 0x27 else {
            throw PartContentError(message: "attribute '\(name.utf8String)' has no quoted value")
        }
        let quote = raw[i]
        i += 1
        let valueStart = i
        while i < n && raw[i] != quote { i += 1 }
        guard i < n else {
            throw PartContentError(message: "unterminated value of attribute '\(name.utf8String)'")
        }
        position = i + 1
        return (name, raw.slice(valueStart, i))
    }

    /// The raw (still entity-encoded) value of the attribute with this local name.
    func value(_ localName: StaticString) throws -> XMLBytes? {
        var it = XMLAttributes(raw: raw)
        while let (name, value) = try it.next() {
            if name.localName().equals(localName) { return value }
        }
        return nil
    }

    /// The decoded value of the attribute with this local name.
    func string(_ localName: StaticString) throws -> String? {
        guard let v = try value(localName) else { return nil }
        let out = ByteBuffer(capacity: v.count)
        try XMLText.decode(v, into: out)
        return out.string
    }

    func int(_ localName: StaticString) throws -> Int? {
        guard let v = try value(localName) else { return nil }
        return parseDecimalInt(v.trimmingXMLSpace())
    }
}

/// A growable byte buffer that is cheap to clear and refill (unlike an Array, whose
/// `removeAll(keepingCapacity:)` is comparatively slow in a per-cell loop).
final class ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) func reset() { count = 0 }

    @inline(__always) func append(_ byte: UInt8) {
        if count == capacity { grow(count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always) func append(_ bytes: XMLBytes) {
        let n = bytes.count
        guard n > 0 else { return }
        if count + n > capacity { grow(count + n) }
        let src = bytes.baseAddress!
        let dst = base + count
        if n <= 16 {
            var k = 0
            while k < n {
                dst[k] = src[k]
                k += 1
            }
        } else {
            dst.update(from: src, count: n)
        }
        count += n
    }

    func append(_ other: ByteBuffer) { append(other.bytes) }

    func truncate(to n: Int) { count = min(count, n) }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: base, count: count)
        base.deallocate()
        base = p
        capacity = c
    }

    @inline(__always) var bytes: XMLBytes { XMLBytes(start: base, count: count) }
    var string: String { String(decoding: bytes, as: UTF8.self) }

    func equals(_ other: ByteBuffer) -> Bool {
        count == other.count && (count == 0 || bytesEqual(base, other.base, count))
    }

    func copy(from other: ByteBuffer) {
        reset()
        append(other.bytes)
    }

    /// Overwrites byte `i` (which must be below `count`).
    @inline(__always) func set(_ i: Int, _ byte: UInt8) { base[i] = byte }
    @inline(__always) subscript(i: Int) -> UInt8 { base[i] }
}

/// Non-negative decimal integer; nil if empty, not all digits or absurdly long.
@inline(__always) func parseDecimalInt(_ b: XMLBytes) -> Int? {
    guard b.count > 0 && b.count <= 18 else { return nil }
    var v = 0
    for c in b {
        let d = Int(c) &- 48
        guard d >= 0 && d <= 9 else { return nil }
        v = v &* 10 &+ d
    }
    return v
}

// MARK: - Entities

enum XMLText {
    /// Appends `raw` to `out` with the five predefined entities and character references decoded and
    /// line ends normalized (CR LF and lone CR become LF), as an XML parser would.
    static func decode(_ raw: XMLBytes, into out: ByteBuffer) throws {
        let n = raw.count
        guard n > 0 else { return }
        var i = 0
        var runStart = 0
        while i < n {
            let b = raw[i]
            if b == 0x26 {  // &
                if i > runStart { out.append(raw.slice(runStart, i)) }
                var j = i + 1
                while j < n && raw[j] != 0x3B && j - i < 12 { j += 1 }
                guard j < n, raw[j] == 0x3B else {
                    throw PartContentError(message: "unterminated entity reference '\(raw.slice(i, min(n, i + 12)).utf8String)'")
                }
                let name = raw.slice(i + 1, j)
                if name.equals("amp") {
                    out.append(0x26)
                } else if name.equals("lt") {
                    out.append(0x3C)
                } else if name.equals("gt") {
                    out.append(0x3E)
                } else if name.equals("quot") {
                    out.append(0x22)
                } else if name.equals("apos") {
                    out.append(0x27)
                } else if name.count >= 2 && name[0] == 0x23 {  // &#...;
                    guard let scalar = parseCharRef(name.slice(1, name.count)) else {
                        throw PartContentError(message: "invalid character reference '&\(name.utf8String);'")
                    }
                    appendUTF8(scalar, to: out)
                } else {
                    throw PartContentError(message: "unknown entity '&\(name.utf8String);'")
                }
                i = j + 1
                runStart = i
            } else if b == 0x0D {  // CR
                if i > runStart { out.append(raw.slice(runStart, i)) }
                out.append(0x0A)
                i += 1
                if i < n && raw[i] == 0x0A { i += 1 }
                runStart = i
            } else {
                i += 1
            }
        }
        if n > runStart { out.append(raw.slice(runStart, n)) }
    }

    /// Decodes `_xHHHH_` escapes (ECMA-376 ST_Xstring) in place. `_x005F_` is an escaped underscore.
    static func decodeOOXMLEscapes(_ buf: ByteBuffer) {
        let n = buf.count
        guard n >= 7 else { return }
        // Fast exit: most strings have no '_'.
        guard memchr(buf.base, 0x5F, n) != nil else { return }
        var r = 0, w = 0
        var scalarBytes = [UInt8]()
        while r < n {
            if buf[r] == 0x5F, r + 6 < n, buf[r + 1] == 0x78, buf[r + 6] == 0x5F {
                var v: UInt32 = 0
                var ok = true
                for q in (r + 2)..<(r + 6) {
                    guard let h = hexValue(buf[q]) else { ok = false; break }
                    v = v << 4 | UInt32(h)
                }
                if ok, let scalar = Unicode.Scalar(v) {
                    // The UTF-8 form (at most 3 bytes for a BMP code point) is shorter than the 7-byte escape.
                    scalarBytes.removeAll(keepingCapacity: true)
                    for u in String(Character(scalar)).utf8 { scalarBytes.append(u) }
                    for u in scalarBytes { buf.set(w, u); w += 1 }
                    r += 7
                    continue
                }
            }
            buf.set(w, buf[r])
            w += 1
            r += 1
        }
        buf.truncate(to: w)
    }

    private static func parseCharRef(_ s: XMLBytes) -> Unicode.Scalar? {
        guard s.count > 0 else { return nil }
        var v: UInt32 = 0
        if s[0] == 0x78 || s[0] == 0x58 {  // x
            guard s.count > 1, s.count <= 7 else { return nil }
            for c in s.slice(1, s.count) {
                guard let h = hexValue(c) else { return nil }
                v = v << 4 | UInt32(h)
            }
        } else {
            guard s.count <= 8 else { return nil }
            for c in s {
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + UInt32(c - 0x30)
            }
        }
        return Unicode.Scalar(v)
    }

    @inline(__always) private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    static func appendUTF8(_ scalar: Unicode.Scalar, to out: ByteBuffer) {
        let v = scalar.value
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }
}

// MARK: - Tokenizer

/// Push tokenizer: feed it buffers; it reports every complete token and says how many bytes it
/// used, so the caller keeps the rest (an incomplete token) and prepends it to the next buffer.
struct XMLTokenizer {
    /// Bytes of the document consumed before the current buffer (for error offsets).
    private(set) var consumedBefore = 0
    /// Open elements: their qualified names concatenated, with the lengths alongside.
    private let openNames = ByteBuffer(capacity: 256)
    private var openLengths: [Int] = []
    private(set) var sawRoot = false

    init() {
        openLengths.reserveCapacity(32)
    }

    private func fail(_ pos: Int, _ message: String) -> XMLSyntaxError {
        XMLSyntaxError(offset: consumedBefore + pos, message: message)
    }

    /// Reports the complete tokens of `buf` to `handler`; returns the number of bytes used.
    /// With `isFinal`, everything must be used and all elements closed.
    mutating func scan<H: XMLEventHandler>(_ buf: XMLBytes, isFinal: Bool, handler: inout H) throws -> Int {
        let n = buf.count
        guard n > 0, let p = buf.baseAddress else {
            if isFinal { try finish(at: 0) }
            return 0
        }
        var i = 0
        scanning: while i < n {
            if p[i] != 0x3C {  // text up to the next '<'
                guard let j = findByte(0x3C, p, i, n) else {
                    if !isFinal { break scanning }
                    if !openLengths.isEmpty {
                        try handler.characters(buf.slice(i, n), isCDATA: false)
                    } else {
                        try checkSpaceOutsideRoot(p, i, n)
                    }
                    i = n
                    break scanning
                }
                if !openLengths.isEmpty {
                    try handler.characters(buf.slice(i, j), isCDATA: false)
                } else {
                    try checkSpaceOutsideRoot(p, i, j)
                }
                i = j
                continue
            }
            // p[i] == '<'
            guard i + 1 < n else {
                if isFinal { throw fail(i, "document ends inside a tag") }
                break scanning
            }
            let next = p[i + 1]
            if next == 0x2F {  // </name>
                guard let g = findByte(0x3E, p, i + 2, n) else {
                    if isFinal { throw fail(i, "unterminated end tag") }
                    break scanning
                }
                let qname = buf.slice(i + 2, g).trimmingXMLSpace()
                try popElement(qname, at: i)
                try handler.endElement(qname.localName())
                i = g + 1
            } else if next == 0x3F {  // <? ... ?>
                guard let end = find2(p, from: i + 2, n, 0x3F, 0x3E) else {
                    if isFinal { throw fail(i, "unterminated processing instruction") }
                    break scanning
                }
                i = end + 2
            } else if next == 0x21 {  // <!-- -->, <![CDATA[ ]]>, <!DOCTYPE >
                guard i + 3 < n else {
                    if isFinal { throw fail(i, "document ends inside a markup declaration") }
                    break scanning
                }
                if p[i + 2] == 0x2D && p[i + 3] == 0x2D {
                    guard let end = find3(p, from: i + 4, n, 0x2D, 0x2D, 0x3E) else {
                        if isFinal { throw fail(i, "unterminated comment") }
                        break scanning
                    }
                    i = end + 3
                } else if p[i + 2] == 0x5B {  // <![CDATA[
                    guard i + 9 <= n else {
                        if isFinal { throw fail(i, "document ends inside a markup declaration") }
                        break scanning
                    }
                    guard memcmp(p + i, "<![CDATA[", 9) == 0 else { throw fail(i, "malformed markup declaration") }
                    guard let end = find3(p, from: i + 9, n, 0x5D, 0x5D, 0x3E) else {
                        if isFinal { throw fail(i, "unterminated CDATA section") }
                        break scanning
                    }
                    guard !openLengths.isEmpty else { throw fail(i, "CDATA outside the root element") }
                    try handler.characters(buf.slice(i + 9, end), isCDATA: true)
                    i = end + 3
                } else {  // <!DOCTYPE ...> (possibly with an internal subset in [ ])
                    var k = i + 2
                    var depth = 0
                    var quote: UInt8 = 0
                    while k < n {
                        let c = p[k]
                        if quote != 0 {
                            if c == quote { quote = 0 }
                        } else if c == 0x22 || c == 0x27 {
                            quote = c
                        } else if c == 0x5B {
                            depth += 1
                        } else if c == 0x5D {
                            depth -= 1
                        } else if c == 0x3E && depth <= 0 {
                            break
                        }
                        k += 1
                    }
                    guard k < n else {
                        if isFinal { throw fail(i, "unterminated markup declaration") }
                        break scanning
                    }
                    i = k + 1
                }
            } else {  // start tag <name attr="v" ...> or <name/>
                var k = i + 1
                var quote: UInt8 = 0
                var nameEnd = -1
                while k < n {
                    let c = p[k]
                    if quote != 0 {
                        if c == quote { quote = 0 }
                    } else if c == 0x3E {
                        break
                    } else if c == 0x22 || c == 0x27 {
                        quote = c
                    } else if nameEnd < 0 && (isXMLSpace(c) || c == 0x2F) {
                        nameEnd = k
                    }
                    k += 1
                }
                guard k < n else {
                    if isFinal { throw fail(i, "unterminated start tag") }
                    break scanning
                }
                if nameEnd < 0 { nameEnd = k }
                let isEmpty = p[k - 1] == 0x2F && k - 1 >= i + 1 && quote == 0
                let qname = buf.slice(i + 1, nameEnd)
                guard qname.count > 0, !isXMLSpace(qname[0]) else { throw fail(i, "start tag without a name") }
                let attrEnd = isEmpty ? k - 1 : k
                let attributes = XMLAttributes(raw: nameEnd < attrEnd ? buf.slice(nameEnd, attrEnd) : XMLBytes(start: nil, count: 0))
                if openLengths.isEmpty {
                    if sawRoot { throw fail(i, "more than one root element") }
                    sawRoot = true
                }
                if !isEmpty { pushElement(qname) }
                try handler.startElement(qname.localName(), attributes: attributes, isEmpty: isEmpty)
                if isEmpty { try handler.endElement(qname.localName()) }
                i = k + 1
            }
        }
        if isFinal {
            try finish(at: i)
        }
        consumedBefore += i
        return i
    }

    /// Outside the root element only white space may appear (and a UTF-8 byte order mark first).
    private func checkSpaceOutsideRoot(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) throws {
        var k = from
        if consumedBefore + from == 0 && to - from >= 3 && p[k] == 0xEF && p[k + 1] == 0xBB && p[k + 2] == 0xBF {
            k += 3
        }
        while k < to {
            if !isXMLSpace(p[k]) { throw fail(k, "text outside the root element") }
            k += 1
        }
    }

    private func finish(at pos: Int) throws {
        if let last = openLengths.last {
            let name = openNames.bytes.slice(openNames.count - last, openNames.count).utf8String
            throw fail(pos, "document ends before element <\(name)> is closed")
        }
        if !sawRoot { throw fail(pos, "no root element (empty document)") }
    }

    @inline(__always) private mutating func pushElement(_ qname: XMLBytes) {
        openNames.append(qname)
        openLengths.append(qname.count)
    }

    @inline(__always) private mutating func popElement(_ qname: XMLBytes, at pos: Int) throws {
        guard let len = openLengths.last else {
            throw fail(pos, "end tag </\(qname.utf8String)> without a start tag")
        }
        let start = openNames.count - len
        let same = len == qname.count && (len == 0 || bytesEqual(openNames.base + start, qname.baseAddress!, len))
        guard same else {
            let open = openNames.bytes.slice(start, openNames.count).utf8String
            throw fail(pos, "end tag </\(qname.utf8String)> does not match start tag <\(open)>")
        }
        openNames.truncate(to: start)
        openLengths.removeLast()
    }

    @inline(__always) private func find2(_ p: UnsafePointer<UInt8>, from: Int, _ n: Int, _ a: UInt8, _ b: UInt8) -> Int? {
        var k = from
        while k + 1 < n {
            if p[k] == a && p[k + 1] == b { return k }
            k += 1
        }
        return nil
    }

    @inline(__always) private func find3(_ p: UnsafePointer<UInt8>, from: Int, _ n: Int, _ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        var k = from
        while k + 2 < n {
            if p[k] == a && p[k + 1] == b && p[k + 2] == c { return k }
            k += 1
        }
        return nil
    }
}

/// Feeds a tokenizer from a sequence of chunks (as they come out of the zip decompressor),
/// carrying incomplete tokens over to the next chunk.
struct XMLStream<H: XMLEventHandler> {
    var handler: H
    private var tokenizer = XMLTokenizer()
    private var pending: [UInt8] = []

    init(handler: H) {
        self.handler = handler
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer) throws {
        guard chunk.count > 0 else { return }
        let bytes = chunk.bindMemory(to: UInt8.self)
        if pending.isEmpty {
            let used = try tokenizer.scan(bytes, isFinal: false, handler: &handler)
            if used < bytes.count { pending.append(contentsOf: bytes.slice(used, bytes.count)) }
        } else {
            // Complete the carried-over token with a prefix of the chunk, then scan the rest of
            // the chunk in place instead of copying all of it behind the carried-over bytes.
            let carried = pending.count
            let prefix = min(bytes.count, 4096)
            pending.append(contentsOf: bytes.slice(0, prefix))
            let used = try pending.withUnsafeBufferPointer { try tokenizer.scan($0, isFinal: false, handler: &handler) }
            if used >= carried {
                pending.removeAll(keepingCapacity: true)
                let offset = used - carried
                let rest = bytes.slice(offset, bytes.count)
                let usedRest = try tokenizer.scan(rest, isFinal: false, handler: &handler)
                if usedRest < rest.count { pending.append(contentsOf: rest.slice(usedRest, rest.count)) }
            } else {
                // A token longer than the prefix (a long text): carry on the simple way.
                pending.removeFirst(used)
                pending.append(contentsOf: bytes.slice(prefix, bytes.count))
                let usedAll = try pending.withUnsafeBufferPointer { try tokenizer.scan($0, isFinal: false, handler: &handler) }
                pending.removeFirst(usedAll)
            }
        }
    }

    mutating func finish() throws {
        _ = try pending.withUnsafeBufferPointer { try tokenizer.scan($0, isFinal: true, handler: &handler) }
        pending = []
    }

    /// Parses a whole document held in memory.
    static func parse(_ bytes: [UInt8], handler: H) throws -> H {
        var tokenizer = XMLTokenizer()
        var h = handler
        _ = try bytes.withUnsafeBufferPointer { try tokenizer.scan($0, isFinal: true, handler: &h) }
        return h
    }
}
