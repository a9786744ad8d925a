import Tabular

/// Excel serial date-times (days since an epoch, with the time of day as the fraction).
public enum ExcelDate {
    /// `YYYY-MM-DD HH:MM:SS` for a serial date-time, rounded to the nearest second; nil when the
    /// serial is not a displayable date (negative, not finite, or past 9999-12-31).
    ///
    /// The 1900 date system counts 1900-01-01 as day 1 and, like Lotus 1-2-3, has a fictitious
    /// 1900-02-29 as day 60, so days from 61 on are counted from 1899-12-30 and day 61 is
    /// 1900-03-01. Day 60 is shown as `1900-02-29`, as Excel shows it. The 1904 system
    /// (`date1904`) counts days from 1904-01-01 with no such quirk.
    public static func string(serial: Double, date1904: Bool = false) -> String? {
        let out = ByteBuffer(capacity: 32)
        return append(serial: serial, date1904: date1904, to: out) ? out.string : nil
    }

    /// `HH:MM:SS` for the time-of-day part of a serial (used for time-only formats), rounded to the
    /// nearest second; nil for negative or non-finite serials.
    public static func timeString(serial: Double) -> String? {
        let out = ByteBuffer(capacity: 16)
        return appendTime(serial: serial, to: out) ? out.string : nil
    }

    /// Appends what `string(serial:date1904:)` returns; false (appending nothing) when that is nil.
    static func append(serial: Double, date1904: Bool, to out: ByteBuffer) -> Bool {
        guard let (days, seconds) = split(serial) else { return false }
        var y = 0, m = 0, d = 0
        if date1904 {
            (y, m, d) = CalendarDay.civil(CalendarDay.days(year: 1904, month: 1, day: 1) + days)
        } else if days >= 61 {
            (y, m, d) = CalendarDay.civil(CalendarDay.days(year: 1899, month: 12, day: 30) + days)
        } else if days == 60 {
            (y, m, d) = (1900, 2, 29)
        } else {
            (y, m, d) = CalendarDay.civil(CalendarDay.days(year: 1899, month: 12, day: 31) + days)
        }
        guard y <= 9999 else { return false }
        put(y, 4, out); out.append(0x2D)
        put(m, 2, out); out.append(0x2D)
        put(d, 2, out); out.append(0x20)
        putTime(seconds, out)
        return true
    }

    /// Appends what `timeString(serial:)` returns; false (appending nothing) when that is nil.
    static func appendTime(serial: Double, to out: ByteBuffer) -> Bool {
        guard let (_, seconds) = split(serial) else { return false }
        putTime(seconds, out)
        return true
    }

    /// Whole days and seconds into the day, after rounding to the nearest second.
    private static func split(_ serial: Double) -> (Int, Int)? {
        guard serial.isFinite, serial >= 0, serial < 2_958_466 else { return nil }
        let total = Int((serial * 86_400).rounded(.toNearestOrAwayFromZero))
        return (total / 86_400, total % 86_400)
    }

    private static func putTime(_ seconds: Int, _ out: ByteBuffer) {
        put(seconds / 3600, 2, out); out.append(0x3A)
        put(seconds / 60 % 60, 2, out); out.append(0x3A)
        put(seconds % 60, 2, out)
    }

    @inline(__always) private static func put(_ value: Int, _ width: Int, _ out: ByteBuffer) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(0x30 + v / divisor % 10))
            v %= divisor
            divisor /= 10
        }
    }
}

/// How a numeric cell is shown, as far as conversion to text cares.
public enum NumberFormatKind: UInt8, Sendable {
    /// A plain number.
    case number
    /// A date or date-time: converted to `YYYY-MM-DD HH:MM:SS`.
    case dateTime
    /// A time of day without a date part: converted to `HH:MM:SS` (or a full date-time when the
    /// value is a day or more).
    case time

    /// The kind of a built-in number format id (ECMA-376 Part 1, 18.8.30): 14–17 and 22 are dates,
    /// 18–21 and 45–47 are times; the rest are numbers or text.
    public init(builtinFormatId id: Int) {
        switch id {
        case 14...17, 22: self = .dateTime
        case 18...21, 45...47: self = .time
        default: self = .number
        }
    }

    /// The kind of a custom format code: a date if it has date/time tokens (y, m, d, h, s) outside
    /// quoted text, `[...]` brackets (colours, locales, conditions), escaped (`\x`) and
    /// padding/fill (`_x`, `*x`) characters. Codes with h or s but no y or d are times.
    public init(formatCode code: String) {
        var hasDate = false, hasMonthOrMinute = false, hasTime = false
        let b = Array(code.utf8)
        var i = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case 0x22:  // "quoted text"
                i += 1
                while i < b.count && b[i] != 0x22 { i += 1 }
            case 0x5B:  // [bracketed]
                while i < b.count && b[i] != 0x5D { i += 1 }
            case 0x5C, 0x5F, 0x2A:  // \x, _x, *x
                i += 1
            case 0x41, 0x61:  // AM/PM or A/P marker: not a month
                if i + 4 < b.count, b[i + 1] | 0x20 == 0x6D, b[i + 2] == 0x2F { i += 4 }
            default:
                switch c | 0x20 {  // lower case
                case 0x79, 0x64: hasDate = true  // y d
                case 0x6D: hasMonthOrMinute = true  // m
                case 0x68, 0x73: hasTime = true  // h s
                default: break
                }
            }
            i += 1
        }
        if hasDate { self = .dateTime } else if hasTime { self = .time } else if hasMonthOrMinute { self = .dateTime } else { self = .number }
    }
}
