import CCSVKernel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level number parsing and shortest round-trip formatting.
public enum NumberParsing {
    /// Decimal integer with optional sign. nil on empty, non-digits or overflow.
    @inline(__always)
    public static func parseInt(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = bytes.count
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if bytes[0] == 0x2D || bytes[0] == 0x2B {
            negative = bytes[0] == 0x2D
            i = 1
            guard n > 1 else { return nil }
        }
        var value = 0
        while i < n {
            let d = Int(bytes[i]) &- 48
            guard d >= 0 && d <= 9 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return value
    }

    /// A finite decimal number. Plain decimals with at most 15 significant digits take an exact
    /// fast path (an integer divided by an exact power of ten rounds correctly); everything else
    /// goes through `strtod`. Either way the result is the correctly rounded double.
    @inline(__always)
    public static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = bytes.count
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if bytes[0] == 0x2D || bytes[0] == 0x2B {
            negative = bytes[0] == 0x2D
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var sawDigit = false
        var sawPoint = false
        var simple = true
        while i < n {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 {
                sawDigit = true
                if mantissa == 0 && b == 0x30 {
                    // Leading zeros do not count toward significant digits.
                } else {
                    digits += 1
                }
                mantissa = mantissa &* 10 &+ UInt64(b - 0x30)
                if sawPoint { fractionDigits += 1 }
            } else if b == 0x2E && !sawPoint {
                sawPoint = true
            } else {
                simple = false
                break
            }
            i += 1
        }
        if simple && sawDigit && digits <= 15 && fractionDigits <= 22 {
            let v = Double(mantissa) / csv_exact_power_of_ten(Int32(fractionDigits))
            return negative ? -v : v
        }
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
