import Reporting
import Testing

/// The reports' shared precision rule: estimates to two significant digits of their standard
/// error (at most six of their own), money to the cent below 1,000, whole units from 1,000 and
/// millions from 1,000,000.
@Suite("Report precision: estimates from their standard errors, money by size")
struct PrecisionFormatTests {
    @Test("an estimate shows two significant digits of its standard error, never more than six of its own")
    func estimates() {
        #expect(Fmt.estimate(468.8730, standardError: 41.7564) == "469")
        #expect(Fmt.estimate(0.73584, standardError: 0.0222) == "0.736")
        #expect(Fmt.estimate(0.0015121, standardError: 0.000277) == "0.00151")
        #expect(Fmt.estimate(10.0003, standardError: 0.3675) == "10.00")
        // A tiny error cannot buy more than six significant digits.
        #expect(Fmt.estimate(12345.678912, standardError: 1e-9) == "12345.7")
        // Without a usable error: six significant digits.
        #expect(Fmt.estimate(3.14159265, standardError: .nan) == "3.14159")
        #expect(Fmt.decimals(2.5, standardError: 35) == 0)
    }

    @Test("significant digits with a cap on decimals")
    func significant() {
        #expect(Fmt.significant(-47173.6432, 6, maxDecimals: 1) == "-47173.6")
        #expect(Fmt.significant(170338.31, 6, maxDecimals: 1) == "170338")
        #expect(Fmt.significant(-9582.4256, 6, maxDecimals: 2) == "-9582.43")
        #expect(Fmt.significant(0.012557, 2) == "0.013")
        #expect(Fmt.significant(0, 2) == "0")
    }

    @Test("money: cents below 1,000, whole units with separators from 1,000, millions from 1,000,000")
    func money() {
        #expect(Fmt.money(468.873) == "468.87")
        #expect(Fmt.money(999.994) == "999.99")
        #expect(Fmt.money(999.996) == "1,000")
        #expect(Fmt.money(432_268.72) == "432,269")
        #expect(Fmt.money(-788_973.42) == "-788,973")
        #expect(Fmt.money(999_999.4) == "999,999")
        #expect(Fmt.money(19_287_232.57) == "19.29 M")
        #expect(Fmt.money(-2_942_780.04) == "-2.94 M")
    }

    @Test("a value with its interval: every end to the decimals the interval's width supports, with separators")
    func withInterval() {
        // Width 3,971 → standard error about 993 → two significant digits of it: tens.
        #expect(Fmt.withInterval(1629.39, -92.48, 3878.80) == "1,630 [-90, 3,880]")
        #expect(Fmt.withInterval(12_660.4, 6_554, 18_939) == "12,700 [6,600, 18,900]")
        // Below 100, whole units.
        #expect(Fmt.withInterval(625.2, 300, 620) == "625 [300, 620]")
        #expect(Fmt.withInterval(0.158, 0.051, 0.264) == "0.158 [0.051, 0.264]")
        #expect(Fmt.withInterval(0.1875, 0.0102, 0.3351, signed: true) == "+0.188 [0.010, 0.335]")
        #expect(Fmt.withInterval(-0.5, -1.25, 0.25, signed: true) == "-0.50 [-1.25, 0.25]")
        #expect(Fmt.grouped(-1234567.891, 2) == "-1,234,567.89")
        #expect(Fmt.grouped(0.5, 0) == "0")
        #expect(Fmt.amount(12_345.6, standardError: 250) == "12,346")
    }
}
