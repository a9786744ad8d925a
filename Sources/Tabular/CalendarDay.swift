/// Calendar days as integers (days since 1970-01-01, proleptic Gregorian), for transaction logs.
public enum CalendarDay {
    /// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public static func string(_ days: Int) -> String {
        let (y, m, d) = civil(days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))"
    }

    /// Parses the date part of `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or `YYYYMMDD`; nil if malformed.
    public static func parse(_ text: String) -> Int? {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                let d = Int(b[i]) - 48
                guard d >= 0 && d <= 9 else { return nil }
                v = v * 10 + d
            }
            return v
        }
        var y: Int?, m: Int?, d: Int?
        if b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") {
            (y, m, d) = (digits(0, 4), digits(5, 2), digits(8, 2))
            if b.count > 10 {
                // A time of day may follow; it must look like one.
                guard b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"), b.count >= 16,
                    digits(11, 2) != nil, b[13] == UInt8(ascii: ":"), digits(14, 2) != nil
                else { return nil }
            }
        } else if b.count == 8 {
            (y, m, d) = (digits(0, 4), digits(4, 2), digits(6, 2))
        }
        guard let y, let m, let d, (1...12).contains(m), d >= 1 else { return nil }
        let monthDays = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= monthDays[m - 1] else { return nil }
        return days(year: y, month: m, day: d)
    }
}
