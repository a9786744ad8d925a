import Economics
import Foundation
import Tabular

/// Why a policy computation refused its input or failed. Every case carries a message that names
/// the offending input, so a stage can print it and exit with "bad input".
public enum PolicyError: ClassifiedError, Equatable, LocalizedError {
    case dimensionMismatch(String)
    case nonFinite(String)
    case invalidParameter(String)
    /// GLPK returned `code` (a `GLP_E…` value, or a solution status when no solution exists).
    case solver(code: Int32, message: String)

    public var description: String {
        switch self {
        case .dimensionMismatch(let m): return "dimension mismatch: \(m)"
        case .nonFinite(let m): return "non-finite value: \(m)"
        case .invalidParameter(let m): return "invalid parameter: \(m)"
        case .solver(let code, let m): return "GLPK failed (code \(code)): \(m)"
        }
    }

    public var errorDescription: String? { description }

    /// Every case names a value the user gave (costs, budget, caps) or a table that does not fit;
    /// a solver failure is the program's.
    public var isBadInput: Bool {
        if case .solver = self { return false }
        return true
    }
}

/// A dense customers × arms matrix of finite numbers, row-major so one customer's arms are adjacent.
/// Finiteness is checked once here, so every policy can trust its input (NaN would silently break
/// sorting and would make GLPK's behaviour undefined).
public struct ArmMatrix: Sendable, Equatable {
    public let rows: Int
    public let arms: Int
    public let values: [Double]

    public init(rows: Int, arms: Int, values: [Double], name: String = "matrix") throws {
        guard rows >= 0, arms >= 1 else {
            throw PolicyError.invalidParameter("\(name) needs at least one arm and a non-negative row count (got \(rows) × \(arms))")
        }
        guard values.count == rows * arms else {
            throw PolicyError.dimensionMismatch("\(name) has \(values.count) values, expected \(rows) × \(arms) = \(rows * arms)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw PolicyError.nonFinite("\(name)[\(bad / arms)][\(bad % arms)] = \(values[bad])")
        }
        self.rows = rows
        self.arms = arms
        self.values = values
    }

    /// One column per arm, as the uplift stage writes them (e.g. `UpliftScores.armUplift`).
    public init(columns: [[Double]], name: String = "matrix") throws {
        guard let n = columns.first?.count else {
            throw PolicyError.invalidParameter("\(name) needs at least one arm column")
        }
        if let k = columns.firstIndex(where: { $0.count != n }) {
            throw PolicyError.dimensionMismatch("\(name) column \(k) has \(columns[k].count) rows, column 0 has \(n)")
        }
        var v = [Double](repeating: 0, count: n * columns.count)
        for (k, col) in columns.enumerated() {
            for i in 0..<n { v[i * columns.count + k] = col[i] }
        }
        try self.init(rows: n, arms: columns.count, values: v, name: name)
    }

    @inline(__always)
    public subscript(_ i: Int, _ k: Int) -> Double { values[i * arms + k] }

    /// The arm with the largest value in row `i`; ties go to the lower arm index so results do not
    /// depend on floating-point noise in the order arms were listed.
    @inline(__always)
    public func bestArm(_ i: Int) -> Int { firstArgmax(arms) { values[i * arms + $0] } }
}

/// Economics of a campaign: revenue margin and cost of one contact with each treated arm.
/// The profit of sending arm k to customer i is `uplift[i][k] × margin − costs[k]`.
public struct ProfitModel: Sendable, Equatable {
    public let margin: Double
    public let costs: [Double]

    public init(margin: Double, costs: [Double]) throws {
        guard margin.isFinite else { throw PolicyError.nonFinite("margin = \(margin)") }
        guard !costs.isEmpty else { throw PolicyError.invalidParameter("at least one arm cost is needed") }
        try validateCosts(costs)
        self.margin = margin
        self.costs = costs
    }

    /// The same cost for each of `arms` arms (the sensitivity grid's uniform cost per contact).
    public init(margin: Double, costPerContact: Double, arms: Int) throws {
        try self.init(margin: margin, costs: Array(repeating: costPerContact, count: max(arms, 0)))
    }

    public func profit(uplift: ArmMatrix) throws -> ProfitMatrix {
        guard uplift.arms == costs.count else {
            throw PolicyError.dimensionMismatch("uplift has \(uplift.arms) arms, the profit model \(costs.count) costs")
        }
        var v = [Double](repeating: 0, count: uplift.values.count)
        for i in 0..<uplift.rows {
            for k in 0..<uplift.arms { v[i * uplift.arms + k] = CampaignEconomics.profit(uplift: uplift[i, k], margin: margin, cost: costs[k]) }
        }
        return try ProfitMatrix(profit: ArmMatrix(rows: uplift.rows, arms: uplift.arms, values: v, name: "profit"), costs: costs)
    }
}

/// Expected profit per customer and arm, with the contact costs the budget constraint needs.
public struct ProfitMatrix: Sendable, Equatable {
    public let profit: ArmMatrix
    public let costs: [Double]

    public init(profit: ArmMatrix, costs: [Double]) throws {
        guard profit.arms == costs.count else {
            throw PolicyError.dimensionMismatch("profit has \(profit.arms) arms, \(costs.count) costs given")
        }
        try validateCosts(costs)
        self.profit = profit
        self.costs = costs
    }

    public var customers: Int { profit.rows }
    public var arms: Int { profit.arms }
    @inline(__always)
    public subscript(_ i: Int, _ k: Int) -> Double { profit[i, k] }
}

/// Costs are finite and non-negative: a negative cost would make "contact" pay by itself and turn
/// the budget row into a source of money, which no campaign means.
func validateCosts(_ costs: [Double]) throws {
    if let k = costs.firstIndex(where: { !$0.isFinite }) { throw PolicyError.nonFinite("cost of arm \(k) = \(costs[k])") }
    if let k = costs.firstIndex(where: { $0 < 0 }) { throw PolicyError.invalidParameter("cost of arm \(k) is negative (\(costs[k]))") }
}

/// Who is contacted with which treated arm: `arms[i]` is an index into the treated arms, or nil
/// for "not contacted". Off-policy evaluation codes arms as 0 = none, k + 1 = treated arm k
/// (`armCodes`), matching the experiment's arm column with control first.
public struct Assignment: Sendable, Equatable {
    public let arms: [Int?]

    public init(arms: [Int?]) {
        self.arms = arms
    }

    /// Contacts nobody: the baseline every incremental value is measured against.
    public static func nobody(customers n: Int) -> Assignment { Assignment(arms: Array(repeating: nil, count: n)) }

    /// Contacts everybody with arm `k`.
    public static func everybody(customers n: Int, arm k: Int) -> Assignment { Assignment(arms: Array(repeating: k, count: n)) }

    public var count: Int { arms.count }
    public var contacts: Int { arms.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    public func contacts(arm k: Int) -> Int { arms.reduce(0) { $0 + ($1 == k ? 1 : 0) } }

    public var armCodes: [Int] { arms.map { $0.map { $0 + 1 } ?? 0 } }

    public func cost(_ costs: [Double]) -> Double {
        arms.reduce(0.0) { s, a in a.map { s + costs[$0] } ?? s }
    }

    public func profit(_ p: ProfitMatrix) -> Double {
        var s = 0.0
        for (i, a) in arms.enumerated() { if let k = a { s += p[i, k] } }
        return s
    }

    /// Throws unless this assignment has `customers` rows and only arms in 0..<arms.
    public func validate(customers: Int, arms k: Int) throws {
        guard arms.count == customers else {
            throw PolicyError.dimensionMismatch("assignment has \(arms.count) customers, expected \(customers)")
        }
        if let i = arms.firstIndex(where: { $0.map { $0 < 0 || $0 >= k } ?? false }) {
            throw PolicyError.invalidParameter("assignment gives customer \(i) arm \(arms[i]!), but there are \(k) arms")
        }
    }
}
