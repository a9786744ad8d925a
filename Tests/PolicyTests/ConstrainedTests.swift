import Foundation
import Stats
import Testing

@testable import Policy

func profits(_ rows: [[Double]], costs: [Double]) throws -> ProfitMatrix {
    try ProfitMatrix(profit: ArmMatrix(rows: rows.count, arms: rows.first?.count ?? 1, values: rows.flatMap { $0 }, name: "profit"), costs: costs)
}

/// Best total profit over every assignment (3^n for two arms) that satisfies the limits.
func bruteForce(_ p: ProfitMatrix, _ limits: ContactLimits) -> Double {
    let n = p.customers, choices = p.arms + 1
    var best = 0.0
    var code = [Int](repeating: 0, count: n)
    var total = 1
    for _ in 0..<n { total *= choices }
    for _ in 0..<total {
        var profit = 0.0, cost = 0.0, contacts = 0
        var perArm = [Int](repeating: 0, count: p.arms)
        for i in 0..<n where code[i] > 0 {
            let k = code[i] - 1
            profit += p[i, k]; cost += p.costs[k]; contacts += 1; perArm[k] += 1
        }
        var ok = true
        if let b = limits.budget, cost > b + 1e-9 * max(1, b) { ok = false }
        if let m = limits.maxContacts, contacts > m { ok = false }
        for k in 0..<p.arms { if let c = limits.cap(k), perArm[k] > c { ok = false } }
        if ok { best = max(best, profit) }
        var i = 0
        while i < n { code[i] += 1; if code[i] < choices { break }; code[i] = 0; i += 1 }
    }
    return best
}

func satisfies(_ a: Assignment, _ p: ProfitMatrix, _ limits: ContactLimits) -> Bool {
    if let b = limits.budget, a.cost(p.costs) > b + 1e-9 * max(1, b) { return false }
    if let m = limits.maxContacts, a.contacts > m { return false }
    for k in 0..<p.arms { if let c = limits.cap(k), a.contacts(arm: k) > c { return false } }
    return true
}

@Suite struct ConstrainedTests {
    /// Costs 1 (arm 0) and 1.5 (arm 1), budget 2.5: two arm-1 contacts (3.0) do not fit, so the
    /// candidates are one arm-0 plus one arm-1 contact, two arm-0 contacts, or a single contact.
    ///   arm 1 to c2 (7) + arm 0 to c0 (5) = 12   ← optimum
    ///   arm 1 to c0 (6) + arm 0 to c1 (4) = 10
    ///   arm 0 to c0 (5) + arm 0 to c1 (4) =  9
    /// Three contacts would cost at least 3. Fixed to 0 up front: c3's arm 0 (negative profit) and
    /// c1's arm 1 (arm 0 earns more and costs less).
    @Test func budgetBinding() throws {
        let p = try profits([[5, 6], [4, 1], [3, 7], [-1, 2]], costs: [1, 1.5])
        let s = try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(budget: 2.5))
        #expect(s.assignment.arms == [0, nil, 1, nil])
        #expect(abs(s.objective - 12) < 1e-9)
        #expect(s.isProvenOptimal)
        #expect(s.fixedToZero == 2 && s.variables == 6)
        #expect(s.bound >= s.objective - 1e-9)
        #expect(s.relativeGap >= 0)
        let g = try Targeting.greedy(profit: p, limits: ContactLimits(budget: 2.5))
        #expect(g.profit(p) <= s.objective + 1e-9 && s.greedyObjective == g.profit(p))
    }

    /// Caps of one contact per arm, no budget. Pairs of (arm-0 customer, arm-1 customer):
    ///   (c1, c0) = 6 + 4.5 = 10.5   ← optimum
    ///   (c0, c1) = 5 + 5   = 10
    ///   (c1, c2) = 6 + 3   =  9
    /// and every other pair is lower.
    @Test func armCapsBinding() throws {
        let p = try profits([[5, 4.5], [6, 5], [1, 3], [2.2, 1]], costs: [1, 1])
        let limits = ContactLimits(armCaps: [1, 1])
        let s = try ConstrainedTargeting.solve(profit: p, limits: limits)
        #expect(s.assignment.arms == [1, 0, nil, nil])
        #expect(abs(s.objective - 10.5) < 1e-9)
        // Only arm 0 capped: everybody gets arm 1 (13.5) except the one customer who gains most by
        // switching to arm 0: c0 +0.5, c1 +1, c2 −2, c3 +1.2 → c3, total 14.7.
        let loose = try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(armCaps: [1, nil]))
        #expect(loose.assignment.arms == [1, 1, 1, 0])
        #expect(abs(loose.objective - 14.7) < 1e-9)
        #expect(abs(loose.objective - bruteForce(p, ContactLimits(armCaps: [1, nil]))) < 1e-9)
    }

    /// At most two contacts: each customer's best profit is c0 8.7, c1 4.5, c2 3, c3 0.5, so the top
    /// two are c0 and c1 with arm 1: 13.2. Greedy by profit per cost picks the cheap arm-0 contacts
    /// of c1 (4/1) and c2 (3/1) before c0's arm 1 (8.7/3 = 2.9) and ends at 7, which is why the
    /// integer program is needed.
    @Test func maxContactsBinding() throws {
        let p = try profits([[2, 8.7], [4, 4.5], [3, 1], [-1, 0.5]], costs: [1, 3])
        let limits = ContactLimits(maxContacts: 2)
        let s = try ConstrainedTargeting.solve(profit: p, limits: limits)
        #expect(s.assignment.arms == [1, 1, nil, nil])
        #expect(abs(s.objective - 13.2) < 1e-9)
        let g = try Targeting.greedy(profit: p, limits: limits)
        #expect(g.arms == [nil, 0, 0, nil])
        #expect(abs(g.profit(p) - 7) < 1e-12)
    }

    @Test func allProfitsNegativeContactsNobody() throws {
        let p = try profits([[-1, -2], [-0.5, -3], [0, -1]], costs: [1, 2])
        let s = try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(budget: 10))
        #expect(s.assignment == .nobody(customers: 3))
        #expect(s.objective == 0)
        #expect(s.variables == 0 && s.fixedToZero == 6)
        #expect(Targeting.positiveOnly(profit: p) == .nobody(customers: 3))
    }

    @Test func unconstrainedEqualsPositiveOnly() throws {
        let p = try profits([[1, 2], [3, -1], [-1, -1], [0.5, 0.25]], costs: [0.5, 1])
        let s = try ConstrainedTargeting.solve(profit: p)
        #expect(s.assignment == Targeting.positiveOnly(profit: p))
        #expect(s.assignment.arms == [1, 0, nil, 0])
    }

    @Test func invalidInputIsAClearError() throws {
        let p = try profits([[1, 2], [3, 4]], costs: [1, 1])
        #expect(throws: PolicyError.invalidParameter("budget is negative (-1.0)")) {
            try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(budget: -1))
        }
        #expect(throws: PolicyError.nonFinite("budget = nan")) {
            try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(budget: .nan))
        }
        #expect(throws: PolicyError.invalidParameter("maximum number of contacts is negative (-2)")) {
            try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(maxContacts: -2))
        }
        #expect(throws: PolicyError.invalidParameter("cap of arm 1 is negative (-1)")) {
            try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(armCaps: [nil, -1]))
        }
        #expect(throws: PolicyError.dimensionMismatch("3 arm caps given for 2 arms")) {
            try ConstrainedTargeting.solve(profit: p, limits: ContactLimits(armCaps: [1, 1, 1]))
        }
        #expect(throws: PolicyError.nonFinite("profit[1][0] = nan")) {
            try profits([[1, 2], [.nan, 4]], costs: [1, 1])
        }
        #expect(throws: PolicyError.dimensionMismatch("profit has 2 arms, 3 costs given")) {
            try profits([[1, 2], [3, 4]], costs: [1, 1, 1])
        }
        #expect(throws: PolicyError.invalidParameter("cost of arm 0 is negative (-1.0)")) {
            try profits([[1, 2], [3, 4]], costs: [-1, 1])
        }
        #expect(throws: PolicyError.nonFinite("uplift[0][1] = inf")) {
            try ArmMatrix(columns: [[1, 2], [.infinity, 0]], name: "uplift")
        }
        #expect(throws: PolicyError.dimensionMismatch("uplift has 2 arms, the profit model 1 costs")) {
            try ProfitModel(margin: 0.3, costs: [1]).profit(uplift: ArmMatrix(columns: [[1], [2]], name: "uplift"))
        }
        let e = PolicyError.invalidParameter("budget is negative (-1.0)")
        #expect(e.description == "invalid parameter: budget is negative (-1.0)")
    }

    @Test func bruteForceOnRandomInstances() throws {
        var g = SeededGenerator(seed: 20240611)
        for trial in 0..<150 {
            let n = 1 + g.next(below: 7)
            let costs = [0.5 + g.nextUnit(), 0.5 + 2 * g.nextUnit()]
            let rows = (0..<n).map { _ in [4 * g.nextUnit() - 1, 5 * g.nextUnit() - 1.5] }
            let p = try profits(rows, costs: costs)
            var limits = ContactLimits()
            switch trial % 4 {
            case 0: limits.budget = Double(g.next(below: 6)) * 0.7
            case 1: limits.maxContacts = g.next(below: n + 1)
            case 2: limits.armCaps = [g.next(below: 3), g.next(below: 2) == 0 ? nil : g.next(below: 3)]
            default:
                limits.budget = 1 + 3 * g.nextUnit()
                limits.maxContacts = g.next(below: n + 1)
                limits.armCaps = [g.next(below: 4), nil]
            }
            let s = try ConstrainedTargeting.solve(profit: p, limits: limits, options: SolverOptions(presolve: trial % 5 == 0))
            let brute = bruteForce(p, limits)
            let greedy = try Targeting.greedy(profit: p, limits: limits)
            #expect(s.isProvenOptimal)
            #expect(satisfies(s.assignment, p, limits))
            #expect(satisfies(greedy, p, limits))
            #expect(abs(s.objective - brute) < 1e-9, "trial \(trial): IP \(s.objective), brute force \(brute)")
            #expect(abs(s.assignment.profit(p) - s.objective) < 1e-9)
            #expect(greedy.profit(p) <= s.objective + 1e-9)
            #expect(s.bound >= s.objective - 1e-9)
        }
    }

    @Test func bruteForceWithThreeArms() throws {
        var g = SeededGenerator(seed: 77)
        for trial in 0..<60 {
            let n = 1 + g.next(below: 5)
            let costs = [0.5, 1.0, 0.5 + g.nextUnit()]
            let p = try profits((0..<n).map { _ in (0..<3).map { _ in 3 * g.nextUnit() - 0.8 } }, costs: costs)
            let limits = ContactLimits(
                budget: trial % 2 == 0 ? 0.5 + 2 * g.nextUnit() : nil,
                maxContacts: trial % 3 == 0 ? g.next(below: n + 1) : nil,
                armCaps: trial % 4 < 2 ? [g.next(below: 3), nil, g.next(below: 2)] : [])
            let s = try ConstrainedTargeting.solve(profit: p, limits: limits)
            #expect(s.isProvenOptimal)
            #expect(satisfies(s.assignment, p, limits))
            #expect(abs(s.objective - bruteForce(p, limits)) < 1e-9, "trial \(trial)")
        }
    }

    @Test func solverOptionsAreValidated() throws {
        let p = try profits([[1, 2]], costs: [1, 1])
        #expect(throws: PolicyError.invalidParameter("time limit must be positive (0.0 s)")) {
            try ConstrainedTargeting.solve(profit: p, options: SolverOptions(timeLimitSeconds: 0))
        }
        #expect(throws: PolicyError.invalidParameter("relative gap tolerance must be non-negative (-1.0)")) {
            try ConstrainedTargeting.solve(profit: p, options: SolverOptions(relativeGapTolerance: -1))
        }
        #expect(!ConstrainedTargeting.glpkVersion.isEmpty)
    }

    /// 16,000 customers × 2 arms with a budget that covers about a third of the profitable contacts.
    @Test func largeInstanceSolvesQuickly() throws {
        var g = SeededGenerator(seed: 7)
        let n = 16_000
        var u = [Double](repeating: 0, count: 2 * n)
        for i in 0..<(2 * n) { u[i] = (g.nextUnit() - 0.3) * 3 }
        let model = try ProfitModel(margin: 0.5, costs: [0.10, 0.12])
        let p = try model.profit(uplift: ArmMatrix(rows: n, arms: 2, values: u, name: "uplift"))
        let positive = Targeting.positiveOnly(profit: p)
        let budget = positive.cost(p.costs) / 3
        let limits = ContactLimits(budget: budget)
        let s = try ConstrainedTargeting.solve(profit: p, limits: limits)
        let greedy = try Targeting.greedy(profit: p, limits: limits)
        print(
            "16000 × 2, budget \(budget): \(s.status.text), \(s.variables) pair variables (\(s.fixedToZero) fixed to 0), "
                + "objective \(s.objective), LP bound \(s.bound), gap \(s.relativeGap), greedy \(greedy.profit(p)), \(s.seconds) s")
        #expect(s.status.code == 5)
        #expect(!s.timeLimitReached)
        #expect(satisfies(s.assignment, p, limits))
        #expect(s.assignment.cost(p.costs) > budget - 0.2)
        #expect(greedy.profit(p) <= s.objective + 1e-7)
        #expect(s.relativeGap < 1e-4)
        #expect(s.seconds < 5)
    }
}
