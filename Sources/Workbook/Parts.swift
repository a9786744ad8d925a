// Handlers for the small workbook parts: relationships, workbook.xml, styles.xml, sharedStrings.xml.

struct Relationship {
    var id: String
    var type: String
    var target: String
    var external: Bool
}

/// `*.rels` parts: `<Relationship Id Type Target TargetMode>`.
struct RelationshipsHandler: XMLEventHandler {
    var relationships: [Relationship] = []

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        guard name.equals("Relationship") else { return }
        relationships.append(
            Relationship(
                id: try attributes.string("Id") ?? "",
                type: try attributes.string("Type") ?? "",
                target: try attributes.string("Target") ?? "",
                external: try attributes.string("TargetMode") == "External"))
    }

    mutating func endElement(_ name: XMLBytes) throws {}
    mutating func characters(_ text: XMLBytes, isCDATA: Bool) throws {}
}

/// `xl/workbook.xml`: the sheet list (in tab order) and the date system.
struct WorkbookPartHandler: XMLEventHandler {
    var sheets: [(name: String, relationshipId: String)] = []
    var date1904 = false
    private var inSheets = false

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        if name.equals("sheets") {
            inSheets = !isEmpty
        } else if name.equals("sheet") && inSheets {
            guard let sheetName = try attributes.string("name") else {
                throw PartContentError(message: "<sheet> without a name")
            }
            guard let rid = try attributes.string("id") else {
                throw PartContentError(message: "sheet '\(sheetName)' has no relationship id (r:id)")
            }
            sheets.append((sheetName, rid))
        } else if name.equals("workbookPr") {
            if let v = try attributes.string("date1904") {
                date1904 = v == "1" || v == "true"
            }
        }
    }

    mutating func endElement(_ name: XMLBytes) throws {
        if name.equals("sheets") { inSheets = false }
    }

    mutating func characters(_ text: XMLBytes, isCDATA: Bool) throws {}
}

/// `xl/styles.xml`: which cell formats (`cellXfs` indexes, the `s` attribute of cells) are dates.
struct StylesHandler: XMLEventHandler {
    private var customFormats: [Int: String] = [:]
    private var xfFormatIds: [Int] = []
    private var inNumFmts = false
    private var inCellXfs = false

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        if name.equals("numFmts") {
            inNumFmts = !isEmpty
        } else if name.equals("cellXfs") {
            inCellXfs = !isEmpty
        } else if inNumFmts && name.equals("numFmt") {
            if let id = try attributes.int("numFmtId") {
                customFormats[id] = try attributes.string("formatCode") ?? ""
            }
        } else if inCellXfs && name.equals("xf") {
            xfFormatIds.append(try attributes.int("numFmtId") ?? 0)
        }
    }

    mutating func endElement(_ name: XMLBytes) throws {
        if name.equals("numFmts") { inNumFmts = false }
        if name.equals("cellXfs") { inCellXfs = false }
    }

    mutating func characters(_ text: XMLBytes, isCDATA: Bool) throws {}

    /// The format kind of each cell style index. A custom `numFmt` overrides a built-in id.
    var cellFormatKinds: [NumberFormatKind] {
        xfFormatIds.map { id in
            if let code = customFormats[id] { return NumberFormatKind(formatCode: code) }
            return NumberFormatKind(builtinFormatId: id)
        }
    }
}

/// The shared string table, stored flat: item i is `bytes[offsets[i] ..< offsets[i + 1]]`.
struct SharedStringTable {
    let bytes: ByteBuffer
    let offsets: [Int]

    static func empty() -> SharedStringTable { SharedStringTable(bytes: ByteBuffer(capacity: 16), offsets: [0]) }

    init(bytes: ByteBuffer, offsets: [Int]) {
        self.bytes = bytes
        self.offsets = offsets
    }

    init(_ strings: [String]) {
        let buffer = ByteBuffer()
        var offsets = [0]
        for var s in strings {
            s.withUTF8 { buffer.append($0) }
            offsets.append(buffer.count)
        }
        self.bytes = buffer
        self.offsets = offsets
    }

    var count: Int { offsets.count - 1 }

    @inline(__always) func item(_ i: Int) -> XMLBytes {
        bytes.bytes.slice(offsets[i], offsets[i + 1])
    }

    var strings: [String] { (0..<count).map { item($0).utf8String } }
}

/// `xl/sharedStrings.xml`: `<si>` items, each plain `<t>` text or rich-text `<r><t>` runs.
/// Phonetic runs (`<rPh>`) are not part of the text.
struct SharedStringsHandler: XMLEventHandler {
    private let bytes = ByteBuffer(capacity: 1 << 16)
    private var offsets: [Int] = [0]
    private var inItem = false
    private var phoneticDepth = 0
    private var capturing = false
    private let text = ByteBuffer()

    var table: SharedStringTable { SharedStringTable(bytes: bytes, offsets: offsets) }

    mutating func startElement(_ name: XMLBytes, attributes: XMLAttributes, isEmpty: Bool) throws {
        if name.equals("si") {
            inItem = true
            text.reset()
        } else if name.equals("t") {
            capturing = inItem && phoneticDepth == 0 && !isEmpty
        } else if name.equals("rPh") {
            phoneticDepth += 1
        } else if name.equals("sst") {
            if let count = try attributes.int("uniqueCount") {
                offsets.reserveCapacity(min(count, 4_000_000) + 1)
            }
        }
    }

    mutating func endElement(_ name: XMLBytes) throws {
        if name.equals("t") {
            capturing = false
        } else if name.equals("si") {
            XMLText.decodeOOXMLEscapes(text)
            bytes.append(text)
            offsets.append(bytes.count)
            inItem = false
        } else if name.equals("rPh") {
            phoneticDepth -= 1
        }
    }

    mutating func characters(_ raw: XMLBytes, isCDATA: Bool) throws {
        guard capturing else { return }
        if isCDATA { text.append(raw) } else { try XMLText.decode(raw, into: text) }
    }
}
