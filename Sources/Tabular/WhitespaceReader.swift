import Foundation

/// Reader for headerless, whitespace-separated files (such as CDNOW_master.txt): the column
/// names are given; fields are separated by runs of spaces or tabs; LF or CRLF line ends.
public enum WhitespaceReader {
    public static func read(path: String, names: [String], schema: CSVSchema) throws -> Table {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DataError(file: path, message: "cannot read file: \(error.localizedDescription)")
        }
        var slotOfField = [Int](repeating: -1, count: names.count)
        var builders: [ColumnBuilder] = []
        for spec in schema.columns {
            guard let i = names.firstIndex(of: spec.name) else {
                throw DataError(file: path, columnName: spec.name, message: "column '\(spec.name)' is not among the declared columns \(names)")
            }
            slotOfField[i] = builders.count
            builders.append(ColumnBuilder(spec: spec, field: i))
        }
        try data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            let n = b.count
            var p = 0, line = 1
            if n == 0 { throw DataError(file: path, line: 1, message: "empty file") }
            while p < n {
                var field = 0
                var q = p
                while true {
                    while q < n && (b[q] == 0x20 || b[q] == 0x09) { q += 1 }
                    if q >= n || b[q] == 0x0A || b[q] == 0x0D { break }
                    let start = q
                    while q < n && b[q] != 0x20 && b[q] != 0x09 && b[q] != 0x0A && b[q] != 0x0D { q += 1 }
                    if field < names.count, slotOfField[field] >= 0 {
                        try builders[slotOfField[field]].append(UnsafeBufferPointer(rebasing: b[start..<q]), line: line, source: path)
                    }
                    field += 1
                }
                if field != 0 && field != names.count {
                    throw DataError(
                        file: path, line: line, column: min(field, names.count + 1),
                        message: "expected \(names.count) whitespace-separated fields (\(names.joined(separator: " "))), found \(field)")
                }
                if field == 0 && q < n {
                    // Blank lines are allowed only at the end.
                    var r = q
                    while r < n && (b[r] == 0x0A || b[r] == 0x0D || b[r] == 0x20 || b[r] == 0x09) { r += 1 }
                    if r < n { throw DataError(file: path, line: line, message: "blank line inside the data") }
                    break
                }
                if q < n && b[q] == 0x0D { q += 1 }
                if q < n && b[q] == 0x0A { q += 1 }
                p = q
                line += 1
            }
        }
        var table = Table(source: path)
        for bld in builders { table.append(bld.spec.name, bld.finish()) }
        return table
    }
}
