/// Limits on a campaign. Every customer receives at most one arm (contact fatigue) regardless.
public struct ContactLimits: Sendable, Equatable {
    /// Total contact cost may not exceed this.
    public var budget: Double?
    /// Total number of customers contacted may not exceed this.
    public var maxContacts: Int?
    /// Per arm, the largest number of customers that may receive it; empty means no caps.
    public var armCaps: [Int?]

    public init(budget: Double? = nil, maxContacts: Int? = nil, armCaps: [Int?] = []) {
        self.budget = budget
        self.maxContacts = maxContacts
        self.armCaps = armCaps
    }

    public static let none = ContactLimits()

    func validate(arms: Int) throws {
        if let b = budget {
            guard b.isFinite else { throw PolicyError.nonFinite("budget = \(b)") }
            guard b >= 0 else { throw PolicyError.invalidParameter("budget is negative (\(b))") }
        }
        if let m = maxContacts, m < 0 { throw PolicyError.invalidParameter("maximum number of contacts is negative (\(m))") }
        guard armCaps.isEmpty || armCaps.count == arms else {
            throw PolicyError.dimensionMismatch("\(armCaps.count) arm caps given for \(arms) arms")
        }
        if let k = armCaps.firstIndex(where: { ($0 ?? 0) < 0 }) {
            throw PolicyError.invalidParameter("cap of arm \(k) is negative (\(armCaps[k]!))")
        }
    }

    func cap(_ k: Int) -> Int? { armCaps.isEmpty ? nil : armCaps[k] }
}

/// The unconstrained and heuristic targeting rules. `ConstrainedTargeting` holds the optimal one.
public enum Targeting {
    /// Ranking of customers by their best arm's uplift, descending, ties by lower customer index
    /// (or by `scores` when given, e.g. the pooled "any e-mail" uplift).
    public static func ranking(uplift: ArmMatrix, scores: [Double]? = nil) throws -> [Int] {
        let key: [Double]
        if let s = scores {
            guard s.count == uplift.rows else {
                throw PolicyError.dimensionMismatch("\(s.count) ranking scores for \(uplift.rows) customers")
            }
            if let i = s.firstIndex(where: { !$0.isFinite }) { throw PolicyError.nonFinite("ranking score of customer \(i) = \(s[i])") }
            key = s
        } else {
            key = (0..<uplift.rows).map { uplift[$0, uplift.bestArm($0)] }
        }
        return key.indices.sorted { key[$0] > key[$1] || (key[$0] == key[$1] && $0 < $1) }
    }

    /// Greedy by uplift: the top `count` customers of the ranking, each with their most profitable
    /// arm. `count` above the number of customers contacts everybody.
    public static func bestN(uplift: ArmMatrix, profit: ProfitMatrix, count: Int, rankBy scores: [Double]? = nil) throws -> Assignment {
        guard count >= 0 else { throw PolicyError.invalidParameter("number to contact is negative (\(count))") }
        guard uplift.rows == profit.customers, uplift.arms == profit.arms else {
            throw PolicyError.dimensionMismatch("uplift is \(uplift.rows) × \(uplift.arms), profit \(profit.customers) × \(profit.arms)")
        }
        let order = try ranking(uplift: uplift, scores: scores)
        var arms = [Int?](repeating: nil, count: uplift.rows)
        for i in order.prefix(count) { arms[i] = profit.profit.bestArm(i) }
        return Assignment(arms: arms)
    }

    /// Every customer whose most profitable arm has positive expected profit, with that arm. The arm
    /// is chosen by profit, not uplift, because arms can differ in cost.
    public static func positiveOnly(profit p: ProfitMatrix) -> Assignment {
        Assignment(
            arms: (0..<p.customers).map { i in
                let k = p.profit.bestArm(i)
                return p[i, k] > 0 ? k : nil
            })
    }

    /// Heuristic for the constrained problem: all (customer, arm) pairs with positive profit by profit
    /// per unit cost, descending (free contacts first; ties by profit, then customer, then arm), each
    /// taken when its customer is still free and every limit still allows it. It serves as a check
    /// on the integer program, which can never do worse.
    public static func greedy(profit p: ProfitMatrix, limits: ContactLimits = .none) throws -> Assignment {
        try limits.validate(arms: p.arms)
        return greedyFill(profit: p, limits: limits, start: Array(repeating: nil, count: p.customers), usage: Usage(arms: p.arms))
    }

    /// Greedy completion of a partial assignment `start` whose resource use is `usage`.
    /// Orders the solver tries for its warm start: profit per cost suits a budget, profit suits a
    /// contact limit, and regret (profit over the customer's next-best arm) suits arm caps.
    enum GreedyOrder { case profitPerCost, profit, regret }

    static func greedyFill(
        profit p: ProfitMatrix, limits: ContactLimits, start: [Int?], usage: Usage,
        order: GreedyOrder = .profitPerCost
    ) -> Assignment {
        var pairs: [(i: Int, k: Int, profit: Double, ratio: Double)] = []
        for i in 0..<p.customers where start[i] == nil {
            for k in 0..<p.arms where p[i, k] > 0 {
                let key: Double
                switch order {
                case .profitPerCost: key = p.costs[k] > 0 ? p[i, k] / p.costs[k] : .infinity
                case .profit: key = p[i, k]
                case .regret:
                    var alternative = 0.0
                    for o in 0..<p.arms where o != k { alternative = max(alternative, p[i, o]) }
                    key = p[i, k] - alternative
                }
                pairs.append((i, k, p[i, k], key))
            }
        }
        pairs.sort { a, b in
            if a.ratio != b.ratio { return a.ratio > b.ratio }
            if a.profit != b.profit { return a.profit > b.profit }
            return a.i != b.i ? a.i < b.i : a.k < b.k
        }
        var arms = start, used = usage
        for pair in pairs where arms[pair.i] == nil {
            if let m = limits.maxContacts, used.contacts >= m { break }
            guard used.allows(arm: pair.k, cost: p.costs[pair.k], limits: limits) else { continue }
            arms[pair.i] = pair.k
            used.add(arm: pair.k, cost: p.costs[pair.k])
        }
        return Assignment(arms: arms)
    }
}
