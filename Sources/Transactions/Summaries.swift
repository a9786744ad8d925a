import Foundation

/// Per-customer RFM summaries for buy-till-you-die models, with a calibration/holdout split.
///
/// Conventions (those of Fader, Hardie & Lee and of `lifetimes`): a customer's first transaction
/// is their birth; frequency x counts the *repeat* transaction days in calibration; recency t_x is
/// the time from the first to the last calibration transaction; age T is the time from the first
/// transaction to the end of calibration; all in `unitDays` days (7 = weeks). Days on or before
/// `calibrationEnd` are calibration; days after it, up to `observationEnd`, are holdout.
/// Customers whose first transaction falls in the holdout, or on the last calibration day itself
/// (age T = 0: no time observed), are not in the summaries.
public struct RFMSummaries: Sendable {
    public var customerIDs: [String]
    public var firstDay: [Int]
    public var frequency: [Double]
    public var recency: [Double]
    public var age: [Double]
    /// Mean value of the repeat transactions in calibration with a positive value (NaN when there are none).
    public var monetary: [Double]
    /// Repeat transactions in calibration with a positive value: the spend model's x. It is the frequency
    /// unless the log keeps zero-value lines, which are purchase occasions without spend.
    public var spendFrequency: [Double]
    /// Value of the first transaction.
    public var firstValue: [Double]
    public var holdoutTransactions: [Double]
    public var holdoutValue: [Double]
    public var calibrationEnd: Int
    public var observationEnd: Int
    public var unitDays: Double

    public var count: Int { customerIDs.count }
    /// Holdout length in model time units.
    public var holdoutLength: Double { Double(observationEnd - calibrationEnd) / unitDays }

    public static func build(_ log: CustomerDays, calibrationEnd: Int, observationEnd: Int, unitDays: Double = 7) -> RFMSummaries {
        var s = RFMSummaries(
            customerIDs: [], firstDay: [], frequency: [], recency: [], age: [], monetary: [], spendFrequency: [], firstValue: [],
            holdoutTransactions: [], holdoutValue: [], calibrationEnd: calibrationEnd,
            observationEnd: observationEnd, unitDays: unitDays)
        for c in 0..<log.customerCount {
            let r = log.range(c)
            guard let first = r.first, log.days[first] < calibrationEnd else { continue }
            var x = 0, last = log.days[first]
            var spendCount = 0
            var repeatValue = 0.0
            var holdoutCount = 0, holdoutValue = 0.0
            for i in r.dropFirst() {
                let d = log.days[i]
                if d <= calibrationEnd {
                    x += 1
                    last = d
                    if log.values[i] > 0 {
                        spendCount += 1
                        repeatValue += log.values[i]
                    }
                } else if d <= observationEnd {
                    holdoutCount += 1
                    holdoutValue += log.values[i]
                }
            }
            s.customerIDs.append(log.customerIDs[c])
            s.firstDay.append(log.days[first])
            s.frequency.append(Double(x))
            s.recency.append(Double(last - log.days[first]) / unitDays)
            s.age.append(Double(calibrationEnd - log.days[first]) / unitDays)
            s.monetary.append(spendCount > 0 ? repeatValue / Double(spendCount) : .nan)
            s.spendFrequency.append(Double(spendCount))
            s.firstValue.append(log.values[first])
            s.holdoutTransactions.append(Double(holdoutCount))
            s.holdoutValue.append(holdoutValue)
        }
        return s
    }

    /// Repeat transactions per period since `calibrationStart` for the tracking plot: entry k counts
    /// repeat transactions of these customers on days in [start + k·period, start + (k+1)·period).
    public static func repeatTransactionsByPeriod(_ log: CustomerDays, customers: Set<String>?, start: Int, end: Int, periodDays: Int = 7) -> [Double] {
        let periods = max(0, (end - start) / periodDays + 1)
        var counts = [Double](repeating: 0, count: periods)
        for c in 0..<log.customerCount {
            if let customers, !customers.contains(log.customerIDs[c]) { continue }
            for i in log.range(c).dropFirst() {
                let d = log.days[i]
                guard d >= start && d <= end else { continue }
                counts[(d - start) / periodDays] += 1
            }
        }
        return counts
    }
}
