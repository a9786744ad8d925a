import CCLVKernel
import Foundation
import Tabular

/// Errors raised for invalid inputs or failed fits.
public enum CLVError: ClassifiedError, Equatable, Sendable {
    /// The customer summaries or arguments are not usable; the message says which value and why.
    case invalidInput(String)
    /// The maximum-likelihood fit could not produce any finite solution.
    case fitFailed(String)

    public var description: String {
        switch self {
        case .invalidInput(let m): return "invalid input: \(m)"
        case .fitFailed(let m): return "fit failed: \(m)"
        }
    }

    public var isBadInput: Bool {
        if case .invalidInput = self { return true }
        return false
    }
}

/// A prediction that the model cannot make for these parameters (instead of returning an infinity or a
/// meaningless number). `reason` says why, e.g. "a = 0.79 <= 1: expected lifetime transactions are infinite".
public struct ModelUndefined: ClassifiedError, Equatable, Sendable {
    public var quantity: String
    public var reason: String
    public init(quantity: String, reason: String) {
        self.quantity = quantity
        self.reason = reason
    }
    public var description: String { "\(quantity) is undefined: \(reason)" }
    public var isBadInput: Bool { false }
}

/// Per-customer RFM summaries, the input of every model in this module.
///
/// * `frequency` x: number of repeat transactions (whole number >= 0).
/// * `recency` t_x: time of the last repeat transaction, measured from the first transaction (0 when x = 0).
/// * `age` T: time between the first transaction and the end of the calibration period (> 0).
/// * `monetary` m: mean value of the repeat transactions; NaN when x = 0 (zeros given for x = 0 are
///   stored as NaN). Only the Gamma-Gamma model uses it; when not available the whole column is NaN.
///
/// Recency and age are in one time unit of the caller's choosing (weeks in the CDNOW examples); the model
/// scale parameters (alpha, beta) come out in that unit. See `discountedCLV` for how the unit is declared.
public struct CustomerSummaries: Sendable, Equatable {
    public let frequency: [Double]
    public let recency: [Double]
    public let age: [Double]
    public let monetary: [Double]

    public var count: Int { frequency.count }
    /// True when a monetary value was supplied for the customers with repeat transactions.
    public var hasMonetary: Bool { zip(frequency, monetary).contains { $0.0 > 0 && !$0.1.isNaN } }

    /// Validates and stores the summaries. Throws `CLVError.invalidInput` naming the first bad customer (0-based
    /// index) and the rule it breaks.
    public init(frequency: [Double], recency: [Double], age: [Double], monetary: [Double]? = nil) throws {
        let n = frequency.count
        guard recency.count == n, age.count == n else {
            throw CLVError.invalidInput("frequency, recency and age must have equal length (got \(n), \(recency.count), \(age.count))")
        }
        if let m = monetary, m.count != n {
            throw CLVError.invalidInput("monetary has \(m.count) values but there are \(n) customers")
        }
        guard n > 0 else { throw CLVError.invalidInput("no customers") }
        var mon = monetary ?? [Double](repeating: .nan, count: n)
        for i in 0..<n {
            let x = frequency[i], tx = recency[i], T = age[i]
            guard x.isFinite, x >= 0, x == x.rounded() else {
                throw CLVError.invalidInput("customer \(i): frequency \(x) is not a whole number >= 0")
            }
            guard T.isFinite, T > 0 else {
                throw CLVError.invalidInput("customer \(i): age T = \(T) must be finite and > 0")
            }
            guard tx.isFinite, tx >= 0 else {
                throw CLVError.invalidInput("customer \(i): recency t_x = \(tx) must be finite and >= 0")
            }
            guard tx <= T * (1 + 1e-12) else {
                throw CLVError.invalidInput("customer \(i): recency t_x = \(tx) exceeds age T = \(T)")
            }
            if x == 0 && tx != 0 {
                throw CLVError.invalidInput("customer \(i): frequency 0 requires recency 0 (got \(tx))")
            }
            if monetary != nil {
                let m = mon[i]
                if x == 0 {
                    guard m.isNaN || m == 0 else {
                        throw CLVError.invalidInput("customer \(i): frequency 0 but monetary value \(m) (expected NaN or 0)")
                    }
                    mon[i] = .nan
                } else {
                    guard m.isNaN || (m.isFinite && m > 0) else {
                        throw CLVError.invalidInput("customer \(i): monetary value \(m) must be > 0 (or NaN when unknown)")
                    }
                }
            }
        }
        self.frequency = frequency
        self.recency = recency.enumerated().map { min($0.element, age[$0.offset]) }
        self.age = age
        self.monetary = mon
    }

    /// Reads the named columns of a table (for example one read with `CSVReader`).
    public init(
        table: Table, frequency: String = "frequency", recency: String = "recency", age: String = "T",
        monetary: String? = nil
    ) throws {
        try self.init(
            frequency: try table.doubles(frequency), recency: try table.doubles(recency),
            age: try table.doubles(age), monetary: try monetary.map { try table.doubles($0) })
    }

    /// Reads a CSV file with the given column names (default `frequency,recency,T` as in the CDNOW summary).
    public static func read(
        path: String, frequency: String = "frequency", recency: String = "recency",
        age: String = "T", monetary: String? = nil
    ) throws -> CustomerSummaries {
        var cols = [ColumnSpec(frequency, .double), ColumnSpec(recency, .double), ColumnSpec(age, .double)]
        if let m = monetary { cols.append(ColumnSpec(m, .double, nullable: true)) }
        let table = try CSVReader.read(path: path, schema: CSVSchema(cols))
        return try CustomerSummaries(table: table, frequency: frequency, recency: recency, age: age, monetary: monetary)
    }

    /// The customers at the given indices.
    public func subset(_ indices: [Int]) throws -> CustomerSummaries {
        try CustomerSummaries(
            frequency: indices.map { frequency[$0] }, recency: indices.map { recency[$0] },
            age: indices.map { age[$0] }, monetary: indices.map { monetary[$0] })
    }
}

/// Compressed form of the summaries for the likelihood loops: identical (x, t_x, T) triples are merged with a
/// weight, and every distinct time value is stored once so that log(alpha + t) is computed once per value.
/// A transaction model's likelihood (`TransactionModel.logLikelihoodFunction`) is written over this form.
public struct CompressedSummaries: Sendable {
    public let customers: Int
    /// Distinct values of t_x and T (sorted); always contains 0.
    public let times: [Double]
    public let x: [Int32]
    public let txIndex: [Int32]
    public let TIndex: [Int32]
    public let weight: [Double]
    public let maxX: Int
    public let meanAge: Double
    public let meanFrequency: Double

    init(_ s: CustomerSummaries) {
        customers = s.count
        let n = s.count
        // The distinct times (0, every t_x and T), sorted; each customer's times become indices into them, and the
        // customers are sorted by (x, index of T, index of t_x) (the order of the values, as the indices are
        // monotone in them) and identical keys merged: radix sorts in C (`clv_compress`), which keep this small
        // next to the fit.
        var times = [Double](repeating: 0, count: 2 * n + 1)
        var xs = [Int32](repeating: 0, count: n), itx = [Int32](repeating: 0, count: n)
        var iT = [Int32](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
        var distinct = 0
        let rows = clv_compress(n, s.frequency, s.recency, s.age, &times, &distinct, &xs, &itx, &iT, &w)
        guard rows > 0 else { fatalError("CompressedSummaries: out of memory") }
        times.removeLast(times.count - distinct)
        xs.removeLast(n - rows)
        itx.removeLast(n - rows)
        iT.removeLast(n - rows)
        w.removeLast(n - rows)
        self.times = times
        self.x = xs
        self.txIndex = itx
        self.TIndex = iT
        self.weight = w
        self.maxX = Int(xs.max() ?? 0)
        self.meanAge = s.age.reduce(0, +) / Double(s.count)
        self.meanFrequency = s.frequency.reduce(0, +) / Double(s.count)
    }
}
