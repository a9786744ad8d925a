import Foundation

/// Weeks in a year (Julian year, 365.25 days).
public let weeksPerYear = 365.25 / 7

/// Discounted customer lifetime value over a finite horizon, per customer:
///
///   CLV_i = sum_{k=1..K} [E_i(tau_k) - E_i(tau_{k-1})] * v_i * margin / (1 + annualDiscountRate)^(k / stepsPerYear)
///
/// where E_i(tau) is the transaction model's conditional expected number of transactions in (T_i, T_i + tau],
/// v_i the Gamma-Gamma conditional expected value per transaction (the population mean for x = 0), K =
/// horizonYears * stepsPerYear, and tau_k the end of step k in model time units. Cash flows of a step are
/// discounted at the step's end.
///
/// Units: the summaries (recency, age) and hence the model's alpha/beta are in one time unit; `weeksPerUnit`
/// says how many weeks that unit is (1 for weeks, 1/7 for days, 365.25/12/7 for months). A year is 365.25 days,
/// so one step is (weeksPerYear / stepsPerYear) / weeksPerUnit model units. `annualDiscountRate` is an
/// effective annual rate (0.1 = 10% a year). Monetary values are in the currency of the summaries' `monetary`.
public func discountedCLV(
    transactions: some TransactionModel, value: GammaGamma, customers: CustomerSummaries,
    horizonYears: Double, stepsPerYear: Int = 12, annualDiscountRate: Double,
    margin: Double = 1, weeksPerUnit: Double
) throws -> [Double] {
    guard horizonYears > 0, horizonYears.isFinite else { throw CLVError.invalidInput("horizonYears = \(horizonYears) must be finite and > 0") }
    guard stepsPerYear > 0 else { throw CLVError.invalidInput("stepsPerYear = \(stepsPerYear) must be > 0") }
    guard annualDiscountRate > -1, annualDiscountRate.isFinite else { throw CLVError.invalidInput("annualDiscountRate = \(annualDiscountRate) must be > -1") }
    guard weeksPerUnit > 0, weeksPerUnit.isFinite else { throw CLVError.invalidInput("weeksPerUnit = \(weeksPerUnit) must be finite and > 0") }
    guard margin.isFinite else { throw CLVError.invalidInput("margin = \(margin) must be finite") }
    let stepsD = horizonYears * Double(stepsPerYear)
    let steps = Int(stepsD.rounded())
    guard steps >= 1, abs(stepsD - Double(steps)) < 1e-9 * max(1, stepsD) else {
        throw CLVError.invalidInput("horizonYears * stepsPerYear = \(stepsD) must be a whole number of steps")
    }
    let unitsPerStep = weeksPerYear / Double(stepsPerYear) / weeksPerUnit
    let logDiscount = log1p(annualDiscountRate)
    let factors = (1...steps).map { exp(-logDiscount * Double($0) / Double(stepsPerYear)) }
    var out: [Double] = []
    out.reserveCapacity(customers.count)
    for i in 0..<customers.count {
        let x = customers.frequency[i], tx = customers.recency[i], T = customers.age[i]
        let v = try value.conditionalExpectedValue(x: x, m: x > 0 ? customers.monetary[i] : .nan)
        var previous = 0.0, clv = 0.0
        for k in 1...steps {
            let cumulative = try transactions.conditionalExpectedTransactions(Double(k) * unitsPerStep, x: x, tx: tx, T: T)
            clv += (cumulative - previous) * factors[k - 1]
            previous = cumulative
        }
        out.append(clv * v * margin)
    }
    return out
}
