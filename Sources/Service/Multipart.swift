import Foundation

/// A streaming multipart/form-data parser: bytes go in as they arrive and the parts' contents come
/// out through the sink, so an uploaded file goes to disk without being held in memory.
struct MultipartParser {
    enum Event {
        case partStart(name: String, filename: String?)
        case partBytes(ArraySlice<UInt8>)
        case partEnd
    }

    private enum State { case preamble, afterDelimiter, headers, body, done }

    /// "\r\n--boundary": the first delimiter has no line break before it, so one is fed first.
    private let delimiter: [UInt8]
    private var buffer: [UInt8] = [13, 10]
    private var state = State.preamble
    static let maxHeaderBytes = 16 << 10

    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// The boundary parameter of a multipart/form-data content type.
    static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 70 ? nil : value
        }
        return nil
    }

    var isDone: Bool { state == .done }

    mutating func feed(_ bytes: some Collection<UInt8>, _ sink: (Event) throws -> Void) throws {
        buffer.append(contentsOf: bytes)
        var start = 0
        defer { buffer.removeFirst(start) }
        while true {
            switch state {
            case .preamble:
                guard let i = find(delimiter, from: start) else {
                    // Keep what could be the start of a delimiter.
                    start = max(start, buffer.count - delimiter.count + 1)
                    return
                }
                start = i + delimiter.count
                state = .afterDelimiter
            case .afterDelimiter:
                guard buffer.count - start >= 2 else { return }
                if buffer[start] == 45 && buffer[start + 1] == 45 {  // "--": the closing delimiter
                    state = .done
                    start = buffer.count
                    return
                }
                guard buffer[start] == 13 && buffer[start + 1] == 10 else { throw MultipartError("a boundary is not followed by a line break") }
                start += 2
                state = .headers
            case .headers:
                guard let end = find([13, 10, 13, 10], from: start) else {
                    if buffer.count - start > Self.maxHeaderBytes { throw MultipartError("a part's headers are longer than \(Self.maxHeaderBytes) bytes") }
                    return
                }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = end + 4
                let (name, filename) = try Self.disposition(text)
                try sink(.partStart(name: name, filename: filename))
                state = .body
            case .body:
                if let i = find(delimiter, from: start) {
                    if i > start { try sink(.partBytes(buffer[start..<i])) }
                    try sink(.partEnd)
                    start = i + delimiter.count
                    state = .afterDelimiter
                } else {
                    let safe = buffer.count - delimiter.count + 1
                    if safe > start {
                        try sink(.partBytes(buffer[start..<safe]))
                        start = safe
                    }
                    return
                }
            case .done:
                start = buffer.count
                return
            }
        }
    }

    /// The end of the body: a form that never closed was cut off.
    func finish() throws {
        guard state == .done else { throw MultipartError("the form ends before its closing boundary (the upload was cut off?)") }
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        let n = needle.count
        guard buffer.count - start >= n else { return nil }
        let first = needle[0]
        return buffer.withUnsafeBufferPointer { b -> Int? in
            var i = start
            let last = b.count - n
            while i <= last {
                if b[i] == first {
                    var k = 1
                    while k < n && b[i + k] == needle[k] { k += 1 }
                    if k == n { return i }
                }
                i += 1
            }
            return nil
        }
    }

    /// The field name and file name of a part's Content-Disposition header.
    static func disposition(_ headers: String) throws -> (name: String, filename: String?) {
        for line in headers.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-disposition" else { continue }
            var name: String? = nil, filename: String? = nil
            for item in line[line.index(after: colon)...].split(separator: ";").dropFirst() {
                let pair = item.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                var value = pair[1].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch pair[0].trimmingCharacters(in: .whitespaces).lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name else { throw MultipartError("a part's Content-Disposition has no name") }
            return (name, filename)
        }
        throw MultipartError("a part has no Content-Disposition header")
    }
}

struct MultipartError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "multipart form: " + description }
}
