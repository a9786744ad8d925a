import Foundation
import Tabular

// How a shop writes its order log: the field delimiter and quote character, the date format and
// time zone, and the decimal separator. Each type checks its value when it is decoded, so a bad
// spec is a parameter error at its line (the strict params decoder turns `dataCorrupted` into
// file:line:column) before any data is read.

/// A spec value that is not valid; `DecodingError.dataCorrupted` carries it at decoding time.
public struct LogFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A spec value written as one string and checked by `init(text:)` when decoded.
public protocol TextValidated: Codable {
    init(text: String) throws(LogFormatError)
    var text: String { get }
}

extension TextValidated {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// One ASCII byte that separates fields (`delimiter:`) or encloses them (`quote:`).
public struct FieldCharacter: TextValidated, Sendable, Equatable {
    public let byte: UInt8
    public static let comma = FieldCharacter(byte: UInt8(ascii: ","))
    public static let doubleQuote = FieldCharacter(byte: UInt8(ascii: "\""))

    init(byte: UInt8) { self.byte = byte }

    /// One ASCII character; a tab may be written `"\t"` or `tab`. Line breaks cannot separate or enclose fields.
    public init(text: String) throws(LogFormatError) {
        let bytes = Array(text.utf8)
        if text == "tab" || text == "\\t" {
            byte = 0x09
        } else if bytes.count == 1, bytes[0] < 0x80, bytes[0] != 0x0A, bytes[0] != 0x0D {
            byte = bytes[0]
        } else {
            throw LogFormatError("'\(text)' is not one character (give one ASCII character such as ';', ',', '|' or \"\\t\" / tab)")
        }
    }

    public var text: String { byte == 0x09 ? "tab" : String(UnicodeScalar(byte)) }
}

/// The character between a number's whole part and its fraction.
public enum DecimalSeparator: String, Codable, Sendable, Equatable {
    case point = "."
    case comma = ","

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = DecimalSeparator(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "decimal_separator must be '.' or ',', not '\(text)'")
        }
        self = value
    }

    /// Parses a number written with this separator.
    ///
    /// With `,` a `.` may only group thousands: `1.234,50` and `1.234.567` read as 1234.5 and 1234567,
    /// and every group after the first has exactly three digits. Anything else with a `.` (`12.5`,
    /// `1.23,4`) is nil, so a log written with decimal points under a decimal-comma spec fails on
    /// its first price instead of reading 12.5 as 125. Exponents are not accepted with `,`.
    public func parse(_ text: String) -> Double? {
        guard self == .comma else { return NumberParsing.parseDouble(text) }
        var bytes = Array(text.utf8)
        var start = 0
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { start = 1 }
        let comma = bytes.lastIndex(of: UInt8(ascii: ",")) ?? bytes.count
        let whole = bytes[start..<comma]
        let groups = whole.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard let firstGroup = groups.first, !firstGroup.isEmpty else { return nil }
        if groups.count > 1 {
            guard firstGroup.count <= 3, groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
        }
        func digits<C: Collection<UInt8>>(_ c: C) -> Bool { c.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard groups.allSatisfy(digits) else { return nil }
        if comma < bytes.count {
            let fraction = bytes[(comma + 1)...]
            guard !fraction.isEmpty, digits(fraction) else { return nil }
        }
        // Now only digits, thousands points and at most one comma: drop the points, the comma becomes a point.
        bytes.removeAll { $0 == UInt8(ascii: ".") }
        if let c = bytes.firstIndex(of: UInt8(ascii: ",")) { bytes[c] = UInt8(ascii: ".") }
        return bytes.withUnsafeBufferPointer { NumberParsing.parseDouble($0) }
    }

    /// What a number looks like, for messages.
    public var example: String { self == .point ? "1234.5" : "1234,5 or 1.234,5" }
}

/// The time zone whose calendar days the log's transactions fall on: `UTC` (the default), a fixed
/// offset (`+01:00`, `-0530`) or an IANA name (`Europe/Berlin`, resolved by Foundation).
public struct LogTimeZone: TextValidated, Sendable, Equatable {
    public let text: String
    public let zone: TimeZone
    public static let utc = try! LogTimeZone(text: "UTC")

    public init(text: String) throws(LogFormatError) {
        self.text = text
        if text == "UTC" || text == "Z" {
            zone = TimeZone(secondsFromGMT: 0)!
        } else if let offset = DateFormat.offsetSeconds(Array(text.utf8)[...]), offset.consumed == text.utf8.count,
            let fixed = TimeZone(secondsFromGMT: offset.seconds)
        {
            zone = fixed
        } else if text.contains("/"), let named = TimeZone(identifier: text) {
            // Only region names: Foundation also resolves abbreviations such as "CEST" to a fixed
            // offset, which would silently ignore daylight saving time.
            zone = named
        } else {
            throw LogFormatError("unknown time zone '\(text)' (give UTC, an offset such as +01:00, or an IANA name such as Europe/Berlin)")
        }
    }

    /// The calendar day, in this zone, of the instant `seconds` after 1970-01-01T00:00Z.
    func day(ofInstant seconds: Int) -> Int {
        let local = seconds + zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))
        return local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    }
}

/// How dates are written: `iso8601` or a strftime-style pattern such as `%d/%m/%Y %H:%M`.
///
/// Directives: `%Y` (four-digit year), `%y` (two digits: 69-99 are 19xx, 00-68 20xx), `%m`, `%d`,
/// `%H`, `%I` (12-hour, with `%p`), `%M`, `%S` (one or two digits), `%b`/`%B` (English month name,
/// abbreviated or full, any case), `%p` (AM/PM), `%f` (fraction of a second: digits), `%z` (`Z`,
/// `+01:00`, `+0100` or `+01`), `%T` (`%H:%M:%S`), `%%`. Any other character must appear as written.
/// A timestamp with an offset is converted into the spec's time zone before its day is taken; one
/// without is local time in that zone, so its day is the date written.
public struct DateFormat: TextValidated, Sendable, Equatable, CustomStringConvertible {
    enum Token: Equatable, Sendable {
        case literal(UInt8)
        case year4, year2, month, monthName, day, hour24, hour12, minute, second, fraction, meridiem, offset
    }

    public let text: String
    /// nil: ISO 8601.
    let tokens: [Token]?

    public static let directives = "%Y %y %m %d %b %B %H %I %M %S %f %p %z %T %%"

    public init(text: String) throws(LogFormatError) {
        self.text = text
        if text.lowercased() == "iso8601" {
            tokens = nil
            return
        }
        guard !text.isEmpty else { throw LogFormatError("date_format is empty (give iso8601 or a pattern such as %d/%m/%Y %H:%M)") }
        var tokens: [Token] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%") else {
                tokens.append(.literal(bytes[i]))
                i += 1
                continue
            }
            guard i + 1 < bytes.count else { throw LogFormatError("date_format '\(text)' ends with a lone '%' (write %% for a percent sign)") }
            let directive = Character(UnicodeScalar(bytes[i + 1]))
            switch directive {
            case "Y": tokens.append(.year4)
            case "y": tokens.append(.year2)
            case "m": tokens.append(.month)
            case "b", "B": tokens.append(.monthName)
            case "d": tokens.append(.day)
            case "H": tokens.append(.hour24)
            case "I": tokens.append(.hour12)
            case "M": tokens.append(.minute)
            case "S": tokens.append(.second)
            case "f": tokens.append(.fraction)
            case "p": tokens.append(.meridiem)
            case "z": tokens.append(.offset)
            case "T": tokens += [.hour24, .literal(UInt8(ascii: ":")), .minute, .literal(UInt8(ascii: ":")), .second]
            case "%": tokens.append(.literal(UInt8(ascii: "%")))
            default:
                let shown = bytes[i + 1] < 0x80 ? "%" + String(directive) : "%…"
                throw LogFormatError("date_format '\(text)' has an unknown directive '\(shown)' (known: \(Self.directives))")
            }
            i += 2
        }
        func count(_ kinds: [Token]) -> Int { tokens.count(where: { kinds.contains($0) }) }
        for (kinds, name) in [
            ([Token.year4, .year2], "year (%Y or %y)"), ([.month, .monthName], "month (%m or %b)"), ([.day], "day (%d)"),
        ] where count(kinds) != 1 {
            throw LogFormatError("date_format '\(text)' needs exactly one \(name)")
        }
        for (kinds, name) in [
            ([Token.hour24, .hour12], "hour"), ([.minute], "minute (%M)"), ([.second], "second (%S)"), ([.fraction], "fraction (%f)"),
            ([.meridiem], "AM/PM (%p)"), ([.offset], "offset (%z)"),
        ] where count(kinds) > 1 {
            throw LogFormatError("date_format '\(text)' has more than one \(name)")
        }
        if count([.hour12]) != count([.meridiem]) { throw LogFormatError("date_format '\(text)': %I (12-hour clock) and %p (AM/PM) go together") }
        if count([.hour24]) + count([.meridiem]) > 1 { throw LogFormatError("date_format '\(text)': %H is a 24-hour clock; %p goes with %I") }
        self.tokens = tokens
    }

    public var description: String { tokens == nil ? "ISO 8601 (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM])" : text }

    /// A timestamp's local date, seconds since local midnight, and its offset from UTC in seconds if it has one.
    struct Reading {
        var day: Int
        var seconds: Int
        var offset: Int?
    }

    /// The calendar day of `text` in `zone`, or nil when `text` does not match this format.
    public func calendarDay(_ text: String, zone: LogTimeZone) -> Int? {
        guard let r = read(Array(text.utf8)) else { return nil }
        guard let offset = r.offset else { return r.day }
        return zone.day(ofInstant: r.day * 86_400 + r.seconds - offset)
    }

    func read(_ b: [UInt8]) -> Reading? {
        tokens.map { read(b, $0) } ?? readISO(b)
    }

    /// 1...`maxCount` digits at `i` (as many as there are, up to `maxCount`), or exactly `maxCount` when `exact`.
    static func number(_ b: [UInt8], _ i: inout Int, maxCount: Int, exact: Bool = false) -> Int? {
        var v = 0, n = 0
        while n < maxCount, i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            v = v * 10 + Int(b[i] - 0x30)
            i += 1
            n += 1
        }
        return n == 0 || (exact && n != maxCount) ? nil : v
    }

    static let monthNames = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    /// `Z`, `±HH:MM`, `±HHMM` or `±HH` at the start of `b`: the offset in seconds east of UTC and the bytes used.
    static func offsetSeconds(_ b: ArraySlice<UInt8>) -> (seconds: Int, consumed: Int)? {
        let s = Array(b)
        guard let sign = s.first else { return nil }
        if sign == UInt8(ascii: "Z") { return (0, 1) }
        guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        var i = 1
        guard let hours = number(s, &i, maxCount: 2, exact: true), hours <= 23 else { return nil }
        var minutes = 0
        if i < s.count {
            if s[i] == UInt8(ascii: ":") { i += 1 }
            let before = i
            guard let m = number(s, &i, maxCount: 2, exact: true), m <= 59, i == before + 2 else { return nil }
            minutes = m
        }
        return ((sign == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60), i)
    }

    static func validDay(year: Int, month: Int, day: Int) -> Int? {
        guard (1...12).contains(month), day >= 1 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= monthDays[month - 1] else { return nil }
        return CalendarDay.days(year: year, month: month, day: day)
    }

    func read(_ b: [UInt8], _ tokens: [Token]) -> Reading? {
        var i = 0
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offset: Int?
        var pm: Bool?
        for token in tokens {
            switch token {
            case .literal(let c):
                guard i < b.count, b[i] == c else { return nil }
                i += 1
            case .year4:
                guard let v = Self.number(b, &i, maxCount: 4, exact: true) else { return nil }
                year = v
            case .year2:
                guard let v = Self.number(b, &i, maxCount: 2, exact: true) else { return nil }
                year = v < 69 ? 2000 + v : 1900 + v
            case .month:
                guard let v = Self.number(b, &i, maxCount: 2) else { return nil }
                month = v
            case .monthName:
                var letters = i
                while letters < b.count, (b[letters] | 0x20) >= UInt8(ascii: "a"), (b[letters] | 0x20) <= UInt8(ascii: "z") { letters += 1 }
                let word = String(decoding: b[i..<letters], as: UTF8.self).lowercased()
                guard let k = Self.monthNames.firstIndex(where: { $0 == word || (word.count == 3 && $0.hasPrefix(word)) }) else { return nil }
                month = k + 1
                i = letters
            case .day:
                guard let v = Self.number(b, &i, maxCount: 2) else { return nil }
                day = v
            case .hour24:
                guard let v = Self.number(b, &i, maxCount: 2), v <= 23 else { return nil }
                hour = v
            case .hour12:
                guard let v = Self.number(b, &i, maxCount: 2), (1...12).contains(v) else { return nil }
                hour = v % 12
            case .minute:
                guard let v = Self.number(b, &i, maxCount: 2), v <= 59 else { return nil }
                minute = v
            case .second:
                guard let v = Self.number(b, &i, maxCount: 2), v <= 60 else { return nil }
                second = v
            case .fraction:
                guard Self.number(b, &i, maxCount: .max) != nil else { return nil }
            case .meridiem:
                guard i + 2 <= b.count, (b[i + 1] | 0x20) == UInt8(ascii: "m") else { return nil }
                switch b[i] | 0x20 {
                case UInt8(ascii: "a"): pm = false
                case UInt8(ascii: "p"): pm = true
                default: return nil
                }
                i += 2
            case .offset:
                guard let o = Self.offsetSeconds(b[i...]) else { return nil }
                offset = o.seconds
                i += o.consumed
            }
        }
        guard i == b.count, let d = Self.validDay(year: year, month: month, day: day) else { return nil }
        if pm == true { hour += 12 }
        return Reading(day: d, seconds: hour * 3600 + minute * 60 + second, offset: offset)
    }

    /// `YYYY-MM-DD`, then optionally `T` (or a space) `HH:MM[:SS[.fff]]` and an offset.
    func readISO(_ b: [UInt8]) -> Reading? {
        var i = 0
        guard let year = Self.number(b, &i, maxCount: 4, exact: true), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let month = Self.number(b, &i, maxCount: 2, exact: true), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let dayOfMonth = Self.number(b, &i, maxCount: 2, exact: true), let day = Self.validDay(year: year, month: month, day: dayOfMonth) else {
            return nil
        }
        if i == b.count { return Reading(day: day, seconds: 0, offset: nil) }
        guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = Self.number(b, &i, maxCount: 2, exact: true), hour <= 23, i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        guard let minute = Self.number(b, &i, maxCount: 2, exact: true), minute <= 59 else { return nil }
        var second = 0
        if i < b.count, b[i] == UInt8(ascii: ":") {
            i += 1
            guard let s = Self.number(b, &i, maxCount: 2, exact: true), s <= 60 else { return nil }
            second = s
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                i += 1
                guard Self.number(b, &i, maxCount: .max) != nil else { return nil }
            }
        }
        var offset: Int?
        if i < b.count {
            guard let o = Self.offsetSeconds(b[i...]), i + o.consumed == b.count else { return nil }
            offset = o.seconds
            i += o.consumed
        }
        return Reading(day: day, seconds: hour * 3600 + minute * 60 + second, offset: offset)
    }
}
