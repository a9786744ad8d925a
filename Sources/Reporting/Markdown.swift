import Foundation
import Tabular

/// A small Markdown document builder.
public struct Markdown {
    public private(set) var text = ""

    public init() {}

    public mutating func heading(_ level: Int, _ title: String) {
        separate()
        text += String(repeating: "#", count: level) + " " + title + "\n"
    }

    public mutating func paragraph(_ body: String) {
        separate()
        text += body + "\n"
    }

    public mutating func bullets(_ items: [String]) {
        separate()
        for i in items { text += "- " + i + "\n" }
    }

    public mutating func image(_ alt: String, _ path: String) {
        separate()
        text += "![\(alt)](\(path))\n"
    }

    public mutating func code(_ body: String, language: String = "") {
        separate()
        text += "```\(language)\n" + body + (body.hasSuffix("\n") ? "" : "\n") + "```\n"
    }

    /// A pipe table; columns whose `rightAligned` flag is set are aligned right (numbers).
    public mutating func table(_ header: [String], _ rows: [[String]], rightAligned: [Bool]? = nil) {
        separate()
        let align = rightAligned ?? header.map { _ in false }
        text += "| " + header.map(Markdown.escape).joined(separator: " | ") + " |\n"
        text += "|" + align.map { $0 ? "---:" : "---" }.joined(separator: "|") + "|\n"
        for r in rows {
            text += "| " + r.map(Markdown.escape).joined(separator: " | ") + " |\n"
        }
    }

    static func escape(_ cell: String) -> String {
        cell.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    private mutating func separate() {
        if !text.isEmpty && !text.hasSuffix("\n\n") { text += "\n" }
    }
}

/// Number formatting for reports: fixed decimals, percentages, p-values, thousands separators.
public enum Fmt {
    public static func fixed(_ v: Double, _ digits: Int) -> String {
        if v.isNaN { return "–" }
        if v.isInfinite { return v > 0 ? "∞" : "−∞" }
        let s = String(format: "%.\(digits)f", v)
        return s == "-0" || s.hasPrefix("-0.") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    public static func percent(_ v: Double, _ digits: Int = 2) -> String {
        v.isNaN ? "–" : fixed(v * 100, digits) + "%"
    }

    /// Percentage points, signed.
    public static func points(_ v: Double, _ digits: Int = 2) -> String {
        v.isNaN ? "–" : (v >= 0 ? "+" : "") + fixed(v * 100, digits) + " pp"
    }

    public static func signedPercent(_ v: Double, _ digits: Int = 1) -> String {
        v.isNaN ? "–" : (v >= 0 ? "+" : "") + fixed(v * 100, digits) + "%"
    }

    public static func pValue(_ p: Double) -> String {
        if p.isNaN { return "–" }
        if p < 1e-4 { return String(format: "%.1e", p) }
        return String(format: "%.4f", p)
    }

    public static func int(_ v: Int) -> String {
        let s = String(abs(v))
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (v < 0 ? "-" : "") + out
    }

    public static func int(_ v: Double) -> String {
        v.isFinite ? int(Int(v.rounded())) : "∞"
    }

    /// Decimals that show `v` to the precision its standard error supports: two significant digits
    /// of the error, and never more than `maxSignificant` significant digits of `v`. Without a finite
    /// positive error, `maxSignificant` significant digits. The project's rule for estimates.
    public static func decimals(_ v: Double, standardError se: Double, maxSignificant: Int = 6) -> Int {
        guard v.isFinite else { return 0 }
        // An exact zero with no spread (contacting nobody earns nothing) has no digits to show.
        if v == 0 && se == 0 { return 0 }
        let top = v == 0 ? 0 : Int(floor(log10(abs(v))))
        var lowest = top - (maxSignificant - 1)
        if se.isFinite && se > 0 { lowest = max(lowest, Int(floor(log10(se))) - 1) }
        return max(0, -lowest)
    }

    /// `v` to the digits its standard error supports (`decimals(_:standardError:)`).
    public static func estimate(_ v: Double, standardError se: Double) -> String {
        fixed(v, decimals(v, standardError: se))
    }

    /// `v` with at most `digits` significant digits and at most `maxDecimals` decimals.
    public static func significant(_ v: Double, _ digits: Int = 6, maxDecimals: Int = 6) -> String {
        guard v.isFinite, v != 0 else { return fixed(v, 0) }
        let top = Int(floor(log10(abs(v))))
        return fixed(v, min(maxDecimals, max(0, digits - 1 - top)))
    }

    /// An amount of money in a report: to the cent below 1,000, in whole units with thousands
    /// separators from 1,000, and in millions with two decimals ("19.29 M") from 1,000,000, so no
    /// amount shows more than six significant digits.
    public static func money(_ v: Double) -> String {
        guard v.isFinite else { return fixed(v, 0) }
        let a = abs(v)
        if a >= 999_999.5 { return fixed(v / 1e6, 2) + " M" }
        if a >= 999.995 { return int(v) }
        return fixed(v, 2)
    }

    /// The standard error an interval implies for the precision rule: its width / 4 (a 95%
    /// interval spans about four standard errors; a wider, adjusted one gives fewer digits, which
    /// errs on the side of modesty).
    public static func standardError(lower: Double, upper: Double) -> Double {
        lower.isFinite && upper.isFinite ? abs(upper - lower) / 4 : .nan
    }

    /// `v [lower, upper]`, all three to the decimals the interval supports (`decimals`), with
    /// thousands separators; `signed` puts a + before a positive value.
    /// An error of tens or more rounds the three to tens, hundreds, … as well (two significant
    /// digits of the error: 2,816 [1,485, 4,211] reads 2,820 [1,490, 4,210]).
    public static func withInterval(_ v: Double, _ lower: Double, _ upper: Double, signed: Bool = false) -> String {
        let se = standardError(lower: lower, upper: upper)
        let d = decimals(v, standardError: se)
        var unit = 1.0
        if d == 0, se.isFinite, se >= 100 { unit = pow(10, floor(log10(se)) - 1) }
        func f(_ x: Double) -> String { unit > 1 && x.isFinite ? grouped((x / unit).rounded() * unit, 0) : grouped(x, d) }
        return (signed && v > 0 ? "+" : "") + f(v) + " [\(f(lower)), \(f(upper))]"
    }

    /// `v` to the decimals its standard error supports, with thousands separators.
    public static func amount(_ v: Double, standardError se: Double) -> String {
        grouped(v, decimals(v, standardError: se))
    }

    /// `v` with `digits` decimals and thousands separators in the whole part.
    public static func grouped(_ v: Double, _ digits: Int) -> String {
        let s = fixed(v, digits)
        guard v.isFinite else { return s }
        let negative = s.hasPrefix("-")
        let body = negative ? String(s.dropFirst()) : s
        let parts = body.split(separator: ".", maxSplits: 1)
        guard let whole = Int(parts[0]) else { return s }
        return (negative ? "-" : "") + int(whole) + (parts.count > 1 ? "." + parts[1] : "")
    }

    public static func interval(_ lo: Double, _ hi: Double, _ f: (Double) -> String) -> String {
        "[\(f(lo)), \(f(hi))]"
    }
}

/// Path of `target` relative to the directory holding `file` (both relative to the same root),
/// for links from a report to its figures and tables.
public func relativePath(from file: String, to target: String) -> String {
    let fromParts = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.pathComponents
    let toParts = URL(fileURLWithPath: target).standardizedFileURL.pathComponents
    var common = 0
    while common < min(fromParts.count, toParts.count) && fromParts[common] == toParts[common] { common += 1 }
    let ups = Array(repeating: "..", count: fromParts.count - common)
    let joined = (ups + Array(toParts[common...])).joined(separator: "/")
    return joined.isEmpty ? "." : joined
}
