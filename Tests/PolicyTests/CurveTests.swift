import Foundation
import Stats
import Testing

@testable import Policy

@Suite struct CurveTests {
    /// Uplift and costs on a grid of quarters, so every sum is exact and ties really are ties.
    func randomCase(_ g: inout SeededGenerator) throws -> (ArmMatrix, ProfitModel) {
        let n = g.next(below: 9), k = 1 + g.next(below: 3)
        let u = (0..<(n * k)).map { _ in Double(g.next(below: 17) - 8) * 0.25 }
        let costs = (0..<k).map { _ in Double(g.next(below: 5)) * 0.25 }
        return (try ArmMatrix(rows: n, arms: k, values: u, name: "uplift"), try ProfitModel(margin: Double(1 + g.next(below: 2)), costs: costs))
    }

    @Test func argmaxEqualsBruteForce() throws {
        var g = SeededGenerator(seed: 99)
        for _ in 0..<300 {
            let (u, model) = try randomCase(&g)
            let p = try model.profit(uplift: u)
            let curve = try ProfitCurve(uplift: u, profit: p)
            var best = 0, bestProfit = 0.0
            for m in 0...u.rows {
                let value = try Targeting.bestN(uplift: u, profit: p, count: m).profit(p)
                #expect(value == curve.cumulative[m])
                if value > bestProfit { best = m; bestProfit = value }
            }
            #expect(curve.argmax == best)
            #expect(curve.maximum == bestProfit)
            #expect(curve.assignment(contacts: best) == (try Targeting.bestN(uplift: u, profit: p, count: best)))
        }
    }

    @Test func rankingBreaksTiesByIndexAndArm() throws {
        let u = try ArmMatrix(columns: [[1, 2, 2, 0], [2, 1, 2, -1]], name: "uplift")
        let p = try ProfitModel(margin: 1, costs: [0, 0]).profit(uplift: u)
        #expect(try Targeting.ranking(uplift: u) == [0, 1, 2, 3])
        #expect(try Targeting.bestN(uplift: u, profit: p, count: 2).arms == [1, 0, nil, nil])
        #expect(try Targeting.bestN(uplift: u, profit: p, count: 9).arms == [1, 0, 0, 0])
        // A pooled score ranks; the arm is still each customer's best.
        #expect(try Targeting.bestN(uplift: u, profit: p, count: 1, rankBy: [0, 0, 0, 5]).arms == [nil, nil, nil, 0])
        #expect(throws: PolicyError.self) { try Targeting.bestN(uplift: u, profit: p, count: -1) }
    }

    @Test func sampledCurveKeepsThePeak() throws {
        let u = try ArmMatrix(columns: [[5, 4, 3, 2, 1, -1, -2]], name: "uplift")
        let curve = try ProfitCurve(uplift: u, profit: ProfitModel(margin: 1, costs: [1.5]).profit(uplift: u))
        #expect(curve.argmax == 4)
        #expect(curve.maximum == 3.5 + 2.5 + 1.5 + 0.5)
        let pts = try curve.sampled(points: 3)
        #expect(pts.map(\.contacts) == [0, 2, 4, 5, 7])
        #expect(pts[2].profit == 8 && pts[2].share == 4.0 / 7)
        #expect(try curve.sampled(points: 3, includeMaximum: false).map(\.contacts) == [0, 2, 5, 7])
    }

    @Test func sensitivityGridMatchesCurves() throws {
        var g = SeededGenerator(seed: 5)
        let n = 500
        let u = try ArmMatrix(rows: n, arms: 2, values: (0..<(2 * n)).map { _ in 3 * g.nextUnit() - 1 }, name: "uplift")
        let margins = [0.2, 0.5, 1.0], costs = [0.0, 0.1, 0.4, 5.0]
        let grid = try Sensitivity.grid(uplift: u, margins: margins, costsPerContact: costs, threads: 3)
        #expect(grid == (try Sensitivity.grid(uplift: u, margins: margins, costsPerContact: costs, threads: 1)))
        #expect(grid.count == 12)
        for cell in grid {
            let model = try ProfitModel(margin: cell.margin, costPerContact: cell.costPerContact, arms: 2)
            let curve = try ProfitCurve(uplift: u, profit: model.profit(uplift: u))
            #expect(cell.bestContacts == curve.argmax)
            #expect(cell.bestProfit == curve.maximum)
            #expect(cell.bestShare == Double(curve.argmax) / Double(n))
        }
        #expect(grid.first { $0.margin == 0.2 && $0.costPerContact == 5 }!.bestContacts == 0)
    }

    @Test func sensitivityWithArmCostsChoosesTheArmByProfit() throws {
        // Customer 0's larger uplift is arm 1, but arm 1 costs three times as much: arm 0 earns more.
        let u = try ArmMatrix(columns: [[1.0, 0.5, -0.25], [1.25, 0.25, 0.5]], name: "uplift")
        let grid = try Sensitivity.grid(
            uplift: u, margins: [1], costs: [.init(label: 0.25, costs: [0.25, 0.75]), .init(label: 0.25, costs: [0.25, 0.25])])
        // Own costs: profits 0.75 (arm 0), 0.25 (arm 0), -0.25 (arm 1) in rank order: the best N is 2.
        #expect(grid[0].bestContacts == 2 && grid[0].bestProfit == 1.0 && grid[0].costs == [0.25, 0.75])
        // One cost for both: 1.0, 0.25, 0.25: everybody.
        #expect(grid[1].bestContacts == 3 && grid[1].bestProfit == 1.5)
    }

    @Test func sensitivityWithArmCostsMatchesTheCurves() throws {
        var g = SeededGenerator(seed: 6)
        let n = 400
        let u = try ArmMatrix(rows: n, arms: 2, values: (0..<(2 * n)).map { _ in 3 * g.nextUnit() - 1 }, name: "uplift")
        let rank = (0..<n).map { _ in g.nextUnit() }
        let scenarios = [0.05, 0.2, 0.6].map { Sensitivity.CostScenario(label: $0, costs: [$0, 4 * $0]) }
        let grid = try Sensitivity.grid(uplift: u, margins: [0.3, 1.0], costs: scenarios, rankBy: rank, threads: 3)
        #expect(grid == (try Sensitivity.grid(uplift: u, margins: [0.3, 1.0], costs: scenarios, rankBy: rank, threads: 1)))
        let uniform = try Sensitivity.grid(uplift: u, margins: [0.3, 1.0], costsPerContact: [0.05, 0.2, 0.6], rankBy: rank)
        for (cell, same) in zip(grid, uniform) {
            let curve = try ProfitCurve(uplift: u, profit: ProfitModel(margin: cell.margin, costs: cell.costs).profit(uplift: u), rankBy: rank)
            #expect(cell.bestContacts == curve.argmax)
            #expect(cell.bestProfit == curve.maximum)
            // A dearer second arm never earns more than one price for both.
            #expect(cell.bestProfit <= same.bestProfit)
        }
        #expect(zip(grid, uniform).contains { $0.bestProfit < $1.bestProfit })
    }
}
