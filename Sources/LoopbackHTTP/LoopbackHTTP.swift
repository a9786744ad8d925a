import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client for servers on this machine's loopback interface: one request per
/// connection (`Connection: close`), blocking sockets. It is what the tests, the parity stage and
/// the browser test (WebDriver is JSON over HTTP) need, without an HTTP client library.
public struct LoopbackResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

public struct LoopbackError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One connection; `send` may be called several times (a slow client sends a body in pieces).
public final class LoopbackConnection {
    private var fd: Int32

    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 120) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError("socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw LoopbackError("'\(host)' is not an IPv4 address")
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw LoopbackError("connect to \(host):\(port): \(message)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw LoopbackError("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Closes the connection without reading (a client that gives up mid-upload).
    public func abort() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Reads one response: until its length is complete (Content-Length or the last chunk), or
    /// until the server closes the connection; some servers keep it open despite `Connection: close`.
    public func readResponse() throws -> LoopbackResponse {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !LoopbackHTTP.isComplete(data) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                if errno == EINTR { continue }
                throw LoopbackError("recv: \(String(cString: strerror(errno)))")
            }
            data.append(contentsOf: chunk[0..<n])
        }
        return try LoopbackHTTP.parse(data)
    }
}

public enum LoopbackHTTP {
    public static func request(
        _ method: String, port: Int, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil, host: String = "127.0.0.1",
        timeout: Double = 300
    ) throws -> LoopbackResponse {
        let connection = try LoopbackConnection(host: host, port: port, timeout: timeout)
        try connection.send(requestHead(method, path: path, headers: headers, bodyLength: body?.count, host: host, port: port) + (body ?? []))
        return try connection.readResponse()
    }

    /// The request line and headers, with Host, Connection: close and Content-Length.
    public static func requestHead(_ method: String, path: String, headers: [(String, String)], bodyLength: Int?, host: String = "127.0.0.1", port: Int)
        -> [UInt8]
    {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let bodyLength { head += "Content-Length: \(bodyLength)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    /// A multipart/form-data body: the fields, then the file part.
    public static func multipart(
        fields: [(String, String)], file: (name: String, filename: String, bytes: [UInt8])?, boundary: String = "loopback-boundary-7d3f"
    )
        -> (contentType: String, body: [UInt8])
    {
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
            body += file.bytes
            body += Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return ("multipart/form-data; boundary=\(boundary)", body)
    }

    /// Whether `data` holds a whole response whose end is marked by its length or its last chunk.
    static func isComplete(_ data: [UInt8]) -> Bool {
        guard let end = firstIndex(of: [13, 10, 13, 10], in: data, from: 0) else { return false }
        let head = String(decoding: data[0..<end], as: UTF8.self).lowercased()
        let lines = head.components(separatedBy: "\r\n")
        let bodyBytes = data.count - end - 4
        if lines.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }) {
            return data.count >= 5 && data.suffix(5).elementsEqual([48, 13, 10, 13, 10]) && (try? dechunk(Array(data[(end + 4)...]))) != nil
        }
        if let line = lines.first(where: { $0.hasPrefix("content-length:") }), let n = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) {
            return bodyBytes >= n
        }
        // No length: a 1xx, 204 or 304 has no body; anything else ends when the connection closes.
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        return status == 204 || status == 304 || (100..<200).contains(status)
    }

    static func parse(_ data: [UInt8]) throws -> LoopbackResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = firstIndex(of: separator, in: data, from: 0) else {
            throw LoopbackError("no complete response head in \(data.count) bytes")
        }
        let head = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw LoopbackError("bad status line '\(head[0])'") }
        var headers: [(name: String, value: String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(data[(end + 4)...])
        let response = LoopbackResponse(status: status, headers: headers, body: body)
        if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            body = try dechunk(body)
        } else if let length = response.header("content-length").flatMap(Int.init), length < body.count {
            body = Array(body[0..<length])
        }
        return LoopbackResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = firstIndex(of: [13, 10], in: data, from: i) else { throw LoopbackError("truncated chunked body") }
            let sizeText = String(decoding: data[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw LoopbackError("bad chunk size '\(sizeText)'") }
            i = lineEnd + 2
            if size == 0 { return out }
            guard i + size <= data.count else { throw LoopbackError("truncated chunk") }
            out.append(contentsOf: data[i..<(i + size)])
            i += size + 2
        }
    }

    static func firstIndex(of needle: [UInt8], in data: [UInt8], from start: Int) -> Int? {
        guard data.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= data.count {
            if data[i] == needle[0] && data[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// A free TCP port on loopback (the kernel's choice; free when this returns).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return -1 }
                return getsockname(fd, p, &length)
            }
        }
        guard bound == 0 else { throw LoopbackError("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
