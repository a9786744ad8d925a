// Pass 2: typed columns from the field ranges.

import CCSVKernel
import Foundation

/// Accumulates one typed column.
struct ColumnBuilder {
    let spec: ColumnSpec
    let field: Int
    var ints: [Int] = []
    var doubles: [Double] = []
    var codes: [Int32] = []
    var interner = ByteInterner()

    init(spec: ColumnSpec, field: Int) {
        self.spec = spec
        self.field = field
    }

    /// Reserves room for `n` values. Large columns ask for huge pages: a column is written once
    /// front to back, and on a 4 KiB page every 512 Int64 values cost a page fault.
    mutating func reserve(_ n: Int) {
        switch spec.kind {
        case .int:
            ints.reserveCapacity(n)
            ints.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: ints.capacity * 8) }
        case .double:
            doubles.reserveCapacity(n)
            doubles.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: doubles.capacity * 8) }
        case .string:
            codes.reserveCapacity(n)
            codes.withUnsafeBufferPointer { adviseHugePages($0.baseAddress, bytes: codes.capacity * 4) }
        }
    }

    /// Appends one field (used by readers that convert as they scan).
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String) throws {
        switch spec.kind {
        case .int:
            guard let v = NumberParsing.parseInt(bytes) else { throw error(bytes, line: line, source: source, what: "an integer") }
            ints.append(v)
        case .double:
            if bytes.isEmpty && spec.nullable {
                doubles.append(.nan)
                return
            }
            guard let v = NumberParsing.parseDouble(bytes) else { throw error(bytes, line: line, source: source, what: "a finite number") }
            doubles.append(v)
        case .string:
            guard let code = interner.code(for: bytes, previous: codes.last) else {
                throw DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: "text is not valid UTF-8")
            }
            codes.append(code)
        }
    }

    func error(_ bytes: UnsafeBufferPointer<UInt8>, line: Int, source: String, what: String) -> DataError {
        error(ConversionFailure(row: 0, offset: 0, text: String(decoding: bytes, as: UTF8.self), what: what), line: line, source: source)
    }

    func error(_ f: ConversionFailure, line: Int, source: String) -> DataError {
        let message: String
        if spec.kind == .string {
            message = "text is not valid UTF-8"
        } else {
            message = f.text.isEmpty ? "empty value where \(f.what) is required" : "cannot parse \(DataError.quoted(f.text)) as \(f.what)"
        }
        return DataError(file: source, line: line, column: field + 1, columnName: spec.name, message: message)
    }

    /// Pass 2: converts this column's fields of one block, writing into storage grown once per
    /// block. On failure the block's rows of this column are dropped (the read stops anyway).
    mutating func appendBlock(_ buffer: UnsafeBufferPointer<UInt8>, index: FieldIndex, column c: Int) -> ConversionFailure? {
        let rows = index.rows
        let stride = 2
        let spans = index.spans + 2 * c * index.capacityRows
        let origin = index.origin
        let hasEscapes = index.escaped[c]
        let quote = index.quote
        guard rows > 0 else { return nil }
        var scratch: [UInt8] = []
        /// `body` of the field's bytes (unescaped into `scratch` when it has doubled quotes).
        @inline(__always) func withField<T>(_ r: Int, _ scratch: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
            let start = origin + Int(spans[r * stride]), rawEnd = spans[r * stride + 1]
            if !hasEscapes || rawEnd & FieldIndex.escapedBit == 0 {
                return body(UnsafeBufferPointer(rebasing: buffer[start..<(origin + Int(rawEnd))]))
            }
            scratch.removeAll(keepingCapacity: true)
            var k = start
            let stop = origin + Int(rawEnd ^ FieldIndex.escapedBit)
            while k < stop {
                scratch.append(buffer[k])
                k += Int(buffer[k]) == quote ? 2 : 1
            }
            return scratch.withUnsafeBufferPointer(body)
        }
        func failure(_ r: Int, _ what: String) -> ConversionFailure {
            var s: [UInt8] = []
            let text = withField(r, &s) { String(decoding: $0, as: UTF8.self) }
            return ConversionFailure(row: r, offset: origin + Int(spans[r * stride]), text: text, what: what)
        }
        /// Converts the block's fields of a number column into `values`: plain numbers in C
        /// (`csv_parse_numbers`), each field the C loop stops at here by `fallback`, and the C loop
        /// goes on after it. Returns the row of a bad field (`fallback` gave nil; nothing is added).
        func convert<T: Numeric>(
            _ values: inout [T], integers: Bool, nullable: Bool = false,
            _ fallback: (UnsafeBufferPointer<UInt8>) -> T?
        ) -> Int? {
            let base = values.count
            values.append(contentsOf: repeatElement(0, count: rows))
            var numbers = csv_numbers(
                origin: buffer.baseAddress.map { UnsafePointer($0 + origin) }, spans: UnsafePointer(spans),
                values: nil, row: 0, rows: rows, integers: integers ? 1 : 0, nullable: nullable ? 1 : 0)
            let failed: Int? = values.withUnsafeMutableBufferPointer { out in
                numbers.values = UnsafeMutableRawPointer(out.baseAddress! + base)
                while csv_parse_numbers(&numbers) != 0 {
                    let r = numbers.row
                    guard let v = withField(r, &scratch, fallback) else { return r }
                    out[base + r] = v
                    numbers.row = r + 1
                }
                return nil
            }
            if failed != nil { values.removeLast(rows) }
            return failed
        }
        switch spec.kind {
        case .int:
            if let r = convert(&ints, integers: true, NumberParsing.parseInt) { return failure(r, "an integer") }
        case .double:
            let nullable = spec.nullable
            if let r = convert(&doubles, integers: false, nullable: nullable, { b in b.isEmpty && nullable ? Double.nan : NumberParsing.parseDouble(b) }) {
                return failure(r, "a finite number")
            }
        case .string:
            let base = codes.count
            codes.append(contentsOf: repeatElement(0, count: rows))
            guard let file = buffer.baseAddress else { return nil }
            // The C loop codes rows until a value new to the dictionary or a field with doubled
            // quotes; those are added here, and the loop goes on after them.
            var coder = csv_coder()
            coder.origin = UnsafePointer(file + origin)
            coder.spans = UnsafePointer(spans)
            coder.rows = rows
            coder.previous = base > 0 ? codes[base - 1] : -1
            var previousInStore = true
            var failed: Int?
            while coder.row < rows {
                let status = codes.withUnsafeMutableBufferPointer { out in
                    coder.codes = out.baseAddress! + base
                    return interner.run(&coder, previousInStore: previousInStore)
                }
                if status == Int32(CSV_CODE_DONE) { break }
                let r = coder.row
                let code: Int32?
                if status == Int32(CSV_CODE_NEW) {
                    let start = Int(spans[r * stride]), count = Int(spans[r * stride + 1]) - start
                    let value = UnsafeBufferPointer(start: file + origin + start, count: count)
                    code = interner.insert(value, hash: coder.hash, slot: coder.slot)
                    coder.previous_bytes = value.baseAddress
                    coder.previous_count = count
                    previousInStore = false
                } else {
                    let previous = coder.previous >= 0 ? coder.previous : nil
                    code = withField(r, &scratch) { interner.code(for: $0, previous: previous) }
                    previousInStore = true
                }
                guard let code else {
                    failed = r
                    break
                }
                codes[base + r] = code
                coder.previous = code
                coder.row = r + 1
            }
            if let r = failed {
                codes.removeLast(rows)
                return failure(r, "valid UTF-8 text")
            }
        }
        return nil
    }

    var count: Int {
        switch spec.kind {
        case .int: ints.count
        case .double: doubles.count
        case .string: codes.count
        }
    }

    /// Appends the rows of a builder of the same column that read a later part of the file: its
    /// string codes are translated into this builder's dictionary (new levels keep their order).
    mutating func append(_ other: ColumnBuilder, last: Bool) {
        switch spec.kind {
        case .int: ints.append(contentsOf: other.ints)
        case .double: doubles.append(contentsOf: other.doubles)
        case .string:
            let translate = interner.absorb(other.interner, indexing: !last)
            let base = codes.count
            codes.append(contentsOf: repeatElement(0, count: other.codes.count))
            codes.withUnsafeMutableBufferPointer { out in
                other.codes.withUnsafeBufferPointer { source in
                    translate.withUnsafeBufferPointer { t in
                        for i in source.indices { out[base + i] = t[Int(source[i])] }
                    }
                }
            }
        }
    }

    func finish() -> ColumnData {
        switch spec.kind {
        case .int: return .int(ints)
        case .double: return .double(doubles)
        case .string:
            var interner = interner
            return .string(StringColumn(codes: codes, levels: interner.makeLevels()))
        }
    }
}
