import Economics
import Foundation
import Stats

/// Expected profit of contacting the top m customers of the best-arm-uplift ranking, each with their
/// most profitable arm (the scorer's rule: `CampaignEconomics.bestArm`), for m = 0…n. The ranking is fixed by the uplift model, not by profit, because
/// that is the list a campaign manager would cut: the curve answers "how deep into the list".
public struct ProfitCurve: Sendable, Equatable {
    /// Customers in ranking order.
    public let order: [Int]
    /// The arm given to `order[j]`.
    public let arms: [Int]
    /// `cumulative[m]` is the expected profit of contacting `order[0..<m]`; `cumulative[0] = 0`.
    public let cumulative: [Double]

    public init(uplift: ArmMatrix, profit: ProfitMatrix, rankBy scores: [Double]? = nil) throws {
        guard uplift.rows == profit.customers, uplift.arms == profit.arms else {
            throw PolicyError.dimensionMismatch("uplift is \(uplift.rows) × \(uplift.arms), profit \(profit.customers) × \(profit.arms)")
        }
        order = try Targeting.ranking(uplift: uplift, scores: scores)
        arms = order.map { profit.profit.bestArm($0) }
        var c = [Double](repeating: 0, count: order.count + 1)
        for (j, i) in order.enumerated() { c[j + 1] = c[j] + profit[i, arms[j]] }
        cumulative = c
    }

    public var customers: Int { order.count }

    /// The smallest number of contacts that reaches the curve's maximum.
    public var argmax: Int { BestN.argmax(curve: cumulative) }
    public var maximum: Double { cumulative[argmax] }

    /// Contacts the top `m` customers with their arms (identical to `Targeting.bestN`).
    public func assignment(contacts m: Int) -> Assignment {
        var a = [Int?](repeating: nil, count: customers)
        for j in 0..<min(max(m, 0), customers) { a[order[j]] = arms[j] }
        return Assignment(arms: a)
    }

    public struct Point: Sendable, Equatable {
        public var share: Double
        public var contacts: Int
        public var profit: Double
    }

    /// The curve at shares 0, 1/points, …, 1 (contacts rounded to the nearest customer), plus the
    /// exact maximum when it falls between samples, so a plot never misses the peak.
    public func sampled(points: Int, includeMaximum: Bool = true) throws -> [Point] {
        guard points >= 1 else { throw PolicyError.invalidParameter("at least one curve segment is needed (got \(points))") }
        let n = customers
        var out: [Point] = (0...points).map { p in
            let m = Int((Double(n) * Double(p) / Double(points)).rounded())
            return Point(share: Double(p) / Double(points), contacts: m, profit: cumulative[m])
        }
        let best = argmax
        if includeMaximum, n > 0, !out.contains(where: { $0.contacts == best }) {
            out.append(Point(share: Double(best) / Double(n), contacts: best, profit: cumulative[best]))
            out.sort { $0.contacts < $1.contacts }
        }
        return out
    }
}

/// One cell of the margin × cost-per-contact grid.
public struct SensitivityCell: Sendable, Equatable {
    public var margin: Double
    /// The cell's value on the cost axis (see `Sensitivity.CostScenario`).
    public var costPerContact: Double
    /// The cost of each arm in this cell.
    public var costs: [Double]
    public var bestContacts: Int
    public var bestShare: Double
    public var bestProfit: Double
}

public enum Sensitivity {
    /// One value of the grid's cost axis: the number the axis shows and the cost of each arm there.
    public struct CostScenario: Sendable, Equatable {
        public var label: Double
        public var costs: [Double]
        public init(label: Double, costs: [Double]) {
            self.label = label
            self.costs = costs
        }
    }

    /// For every (margin, cost) pair, margins outermost, the peak of the profit curve when every
    /// contact costs the same. The ranking does not depend on margin or cost, so it is computed once.
    public static func grid(
        uplift: ArmMatrix, margins: [Double], costsPerContact: [Double], rankBy scores: [Double]? = nil,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [SensitivityCell] {
        try grid(
            uplift: uplift, margins: margins,
            costs: costsPerContact.map { CostScenario(label: $0, costs: Array(repeating: $0, count: uplift.arms)) },
            rankBy: scores, threads: threads)
    }

    /// For every (margin, cost scenario) pair, margins outermost, the peak of the profit curve
    /// `ProfitCurve` draws with those economics: customers in the same ranking, each given their
    /// most profitable arm at the cell's costs (which is not their largest uplift when arms differ
    /// in cost).
    public static func grid(
        uplift: ArmMatrix, margins: [Double], costs scenarios: [CostScenario], rankBy scores: [Double]? = nil,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [SensitivityCell] {
        if let m = margins.first(where: { !$0.isFinite }) { throw PolicyError.nonFinite("margin = \(m)") }
        for s in scenarios {
            guard s.costs.count == uplift.arms else {
                throw PolicyError.dimensionMismatch("\(s.costs.count) costs given for \(uplift.arms) arms")
            }
            try validateCosts(s.costs)
        }
        let order = try Targeting.ranking(uplift: uplift, scores: scores)
        let n = order.count, arms = uplift.arms
        let cells = margins.flatMap { m in scenarios.map { (m, $0) } }
        return parallelMap(count: cells.count, threads: threads) { c in
            let (margin, scenario) = cells[c]
            let costs = scenario.costs
            var top = BestN()
            for i in order {
                let k = firstArgmax(arms) { CampaignEconomics.profit(uplift: uplift[i, $0], margin: margin, cost: costs[$0]) }
                top.add(CampaignEconomics.profit(uplift: uplift[i, k], margin: margin, cost: costs[k]))
            }
            return SensitivityCell(
                margin: margin, costPerContact: scenario.label, costs: costs, bestContacts: top.count,
                bestShare: n > 0 ? Double(top.count) / Double(n) : 0, bestProfit: top.profit)
        }
    }
}
