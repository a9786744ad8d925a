import Tabular
import Testing

@testable import Parity

@Suite struct ParityTests {
    func scores(_ ids: [String], _ uplift: [Double], _ y1: [Double]) -> Table {
        Table(names: ["row_id", "uplift_hat", "y1_hat"], columns: [.string(StringColumn(ids)), .double(uplift), .double(y1)])
    }

    @Test func identicalScoresPassInAnyRowOrder() throws {
        let e = scores(["1", "2", "3", "4"], [0.5, -0.25, 1.5, 0], [1, 2, 3, 4])
        let a = scores(["3", "1", "4", "2"], [1.5, 0.5, 0, -0.25], [3, 1, 4, 2])
        let r = try Parity.compare(expected: e, actual: a, tops: [1, 2, 10])
        #expect(r.pass)
        #expect(r.sameRows && r.rowsInCommon == 4)
        #expect(r.columns.map(\.maxAbsDiff) == [0, 0])
        #expect(r.overlaps.map(\.overlap) == [1, 1, 1])
    }

    @Test func theLastBitFails() throws {
        let e = scores(["1", "2", "3"], [0.5, 0.25, 1.5], [1, 2, 3])
        let a = scores(["1", "2", "3"], [0.5, 0.25, 1.5.nextUp], [1, 2, 3])
        let r = try Parity.compare(expected: e, actual: a, tops: [1])
        #expect(!r.pass)
        #expect(r.columns[0].maxAbsDiff == 1.5.nextUp - 1.5)
        #expect(r.columns[1].pass)
    }

    @Test func missingOrExtraRowsFail() throws {
        let e = scores(["1", "2", "3"], [0.5, 0.25, 1.5], [1, 2, 3])
        #expect(!(try Parity.compare(expected: e, actual: scores(["1", "2"], [0.5, 0.25], [1, 2]), tops: [1])).pass)
        #expect(!(try Parity.compare(expected: e, actual: scores(["1", "2", "3", "3"], [0.5, 0.25, 1.5, 1.5], [1, 2, 3, 3]), tops: [1])).pass)
    }

    @Test func topNOverlapSeesASwapAtTheBoundary() throws {
        // Same values, two rows exchanged: every column keeps its multiset but the top-1 differs.
        let e = scores(["1", "2"], [0.5, 0.25], [1, 1])
        let a = scores(["1", "2"], [0.25, 0.5], [1, 1])
        let r = try Parity.compare(expected: e, actual: a, tops: [1])
        #expect(r.overlaps[0].overlap == 0)
        #expect(!r.pass)
    }

    @Test func decisionsNameTheFirstDifference() throws {
        let expected = Table(
            names: ["row_id", "best_n", "positive"],
            columns: [
                .string(StringColumn(["1", "2", "3"])), .string(StringColumn(["Mens", "", "Womens"])),
                .string(StringColumn(["Mens", "Womens", "Womens"])),
            ])
        func scored(_ arms: [String], _ contact: [Int]) -> Table {
            Table(names: ["row_id", "best_arm", "contact"], columns: [.string(StringColumn(["3", "1", "2"])), .string(StringColumn(arms)), .int(contact)])
        }
        let same = try Parity.compareDecisions(
            policy: "best-N", expected: expected, column: "best_n", scored: scored(["Womens", "Mens", "Womens"], [1, 1, 0]))
        #expect(same.pass && same.agreeing == 3)
        let otherArm = try Parity.compareDecisions(
            policy: "best-N", expected: expected, column: "best_n", scored: scored(["Mens", "Mens", "Womens"], [1, 1, 0]))
        #expect(otherArm.firstDifference == "row 3: policy stage 'Womens', scorer 'Mens'")
        let contacted = try Parity.compareDecisions(
            policy: "positive", expected: expected, column: "positive", scored: scored(["Womens", "Mens", "Womens"], [1, 1, 0]))
        #expect(contacted.firstDifference == "row 2: policy stage 'Womens', scorer no contact")
        #expect(contacted.agreeing == 2)
    }
}
