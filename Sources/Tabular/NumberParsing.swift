import CCSVKernel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte-level number parsing and shortest round-trip formatting.
public enum NumberParsing {
    /// Decimal integer with optional sign. nil on empty, non-digits or overflow (the parser is
    /// `csv_parse_int`, shared with the CSV reader's C loops).
    @inline(__always)
    public static func parseInt(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var value: Int64 = 0
        return csv_parse_int(bytes.baseAddress, bytes.count, &value) != 0 ? Int(value) : nil
    }

    /// A finite decimal number. Plain decimals of at most 15 digits take the exact path of
    /// `csv_parse_decimal` (an integer divided by an exact power of ten rounds correctly; shared
    /// with the CSV reader's C loops); everything else goes through `strtod`. Either way the result
    /// is the correctly rounded double.
    @inline(__always)
    public static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty else { return nil }
        var value = 0.0
        if csv_parse_decimal(bytes.baseAddress, bytes.count, &value) != 0 { return value }
        return parseWithStrtod(bytes)
    }

    static func parseWithStrtod(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        // strtod accepts forms we do not want (hex floats, nan, inf, leading spaces): allow only
        // the characters of a decimal number in plain or scientific notation.
        for b in bytes {
            switch b {
            case 0x30...0x39, 0x2B, 0x2D, 0x2E, 0x45, 0x65: continue
            default: return nil
            }
        }
        var local = [CChar](repeating: 0, count: bytes.count + 1)
        for k in 0..<bytes.count { local[k] = CChar(bitPattern: bytes[k]) }
        return local.withUnsafeMutableBufferPointer { p -> Double? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(p.baseAddress!, &end)
            guard let end, end - p.baseAddress! == bytes.count, v.isFinite else { return nil }
            return v
        }
    }

    public static func parseDouble(_ text: String) -> Double? {
        var s = text
        return s.withUTF8 { parseDouble($0) }
    }

    public static func parseInt(_ text: String) -> Int? {
        var s = text
        return s.withUTF8 { parseInt($0) }
    }
}

/// Shortest text that reads back as the same double ("0.1", "142.44", "1e-05"); integral values
/// print without a fraction ("3" rather than "3.0") so counts stay readable. NaN prints empty.
public func formatDouble(_ v: Double) -> String {
    if v.isNaN { return "" }
    if v == v.rounded() && abs(v) < 1e15 {
        if v == 0 { return v.sign == .minus ? "-0" : "0" }
        return String(Int64(v))
    }
    return v.description
}
