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

    /// Greedy by uplift: the top `count` customers of the ranking, each with their best-uplift arm.
    /// `count` above the number of customers contacts everybody.
    public static func bestN(uplift: ArmMatrix, count: Int, rankBy scores: [Double]? = nil) throws -> Assignment {
        guard count >= 0 else { throw PolicyError.invalidParameter("number to contact is negative (\(count))") }
        let order = try ranking(uplift: uplift, scores: scores)
        var arms = [Int?](repeating: nil, count: uplift.rows)
        for i in order.prefix(count) { arms[i] = uplift.bestArm(i) }
        return Assignment(arms: arms)
    }

    /// Every customer whose most profitable arm has positive expected profit, with that arm. The arm
    /// is chosen by profit, not uplift, because arms can differ in cost.
    public static func positiveOnly(profit p: ProfitMatrix) -> Assignment {
        Assignment(arms: (0..<p.customers).map { i in
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
        var pairs: [(i: Int, k: Int, profit: Double, ratio: Double)] = []
        for i in 0..<p.customers {
            for k in 0..<p.arms where p[i, k] > 0 {
                let c = p.costs[k]
                pairs.append((i, k, p[i, k], c > 0 ? p[i, k] / c : .infinity))
            }
        }
        pairs.sort { a, b in
            if a.ratio != b.ratio { return a.ratio > b.ratio }
            if a.profit != b.profit { return a.profit > b.profit }
            return a.i != b.i ? a.i < b.i : a.k < b.k
        }
        var arms = [Int?](repeating: nil, count: p.customers)
        var spent = 0.0, contacts = 0
        var perArm = [Int](repeating: 0, count: p.arms)
        for pair in pairs where arms[pair.i] == nil {
            if let m = limits.maxContacts, contacts >= m { break }
            if let b = limits.budget, spent + p.costs[pair.k] > b { continue }
            if let cap = limits.cap(pair.k), perArm[pair.k] >= cap { continue }
            arms[pair.i] = pair.k
            spent += p.costs[pair.k]
            contacts += 1
            perArm[pair.k] += 1
        }
        return Assignment(arms: arms)
    }
}
