import Tabular
import Testing

@testable import Parity

@Suite struct ParityTests {
    func scores(_ ids: [String], _ uplift: [Double], _ y1: [Double], id: String = "row_id") -> Table {
        Table(names: [id, "uplift_hat", "y1_hat"], columns: [.string(StringColumn(ids)), .double(uplift), .double(y1)])
    }

    @Test func identicalScoresPassInAnyRowOrder() throws {
        let e = scores(["1", "2", "3", "4"], [0.5, -0.25, 1.5, 0], [1, 2, 3, 4])
        let a = scores(["3", "1", "4", "2"], [1.5, 0.5, 0, -0.25], [3, 1, 4, 2])
        let r = try Parity.compare(expected: e, actual: a, idColumn: "row_id", tops: [1, 2, 10])
        #expect(r.pass)
        #expect(r.sameRows && r.rowsInCommon == 4)
        #expect(r.columns.map(\.maxAbsDiff) == [0, 0])
        #expect(r.overlaps.map(\.overlap) == [1, 1, 1])
    }

    @Test func rowsAreMatchedByTheCampaignsIdColumn() throws {
        // String keys under their own name; the scorer's rows in another order.
        let e = scores(["C-003", "C-010", "C-002"], [0.5, -0.25, 1.5], [1, 2, 3], id: "customer_key")
        let a = scores(["C-002", "C-003", "C-010"], [1.5, 0.5, -0.25], [3, 1, 2], id: "customer_key")
        let r = try Parity.compare(expected: e, actual: a, idColumn: "customer_key", tops: [1, 2])
        #expect(r.pass && r.rowsInCommon == 3)
        #expect(r.columns.map(\.name) == ["uplift_hat", "y1_hat"])
        // The same scores under other keys share no rows.
        let other = scores(["C-2", "C-3", "C-10"], [1.5, 0.5, -0.25], [3, 1, 2], id: "customer_key")
        let miss = try Parity.compare(expected: e, actual: other, idColumn: "customer_key", tops: [1])
        #expect(!miss.pass && miss.rowsInCommon == 0)
        // A scorer output without the campaign's id column is an error naming it.
        #expect(throws: DataError.self) { try Parity.compare(expected: e, actual: self.scores(["C-002"], [1.5], [3]), idColumn: "customer_key", tops: [1]) }
    }

    @Test func theLastBitFails() throws {
        let e = scores(["1", "2", "3"], [0.5, 0.25, 1.5], [1, 2, 3])
        let a = scores(["1", "2", "3"], [0.5, 0.25, 1.5.nextUp], [1, 2, 3])
        let r = try Parity.compare(expected: e, actual: a, idColumn: "row_id", tops: [1])
        #expect(!r.pass)
        #expect(r.columns[0].maxAbsDiff == 1.5.nextUp - 1.5)
        #expect(r.columns[1].pass)
    }

    @Test func missingOrExtraRowsFail() throws {
        let e = scores(["1", "2", "3"], [0.5, 0.25, 1.5], [1, 2, 3])
        #expect(!(try Parity.compare(expected: e, actual: scores(["1", "2"], [0.5, 0.25], [1, 2]), idColumn: "row_id", tops: [1])).pass)
        #expect(
            !(try Parity.compare(expected: e, actual: scores(["1", "2", "3", "3"], [0.5, 0.25, 1.5, 1.5], [1, 2, 3, 3]), idColumn: "row_id", tops: [1])).pass)
    }

    @Test func topNOverlapSeesASwapAtTheBoundary() throws {
        // Same values, two rows exchanged: every column keeps its multiset but the top-1 differs.
        let e = scores(["1", "2"], [0.5, 0.25], [1, 1])
        let a = scores(["1", "2"], [0.25, 0.5], [1, 1])
        let r = try Parity.compare(expected: e, actual: a, idColumn: "row_id", tops: [1])
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
            policy: "best-N", expected: expected, column: "best_n", scored: scored(["Womens", "Mens", "Womens"], [1, 1, 0]), idColumn: "row_id")
        #expect(same.pass && same.agreeing == 3)
        let otherArm = try Parity.compareDecisions(
            policy: "best-N", expected: expected, column: "best_n", scored: scored(["Mens", "Mens", "Womens"], [1, 1, 0]), idColumn: "row_id")
        #expect(otherArm.firstDifference == "row_id 3: policy stage 'Womens', scorer 'Mens'")
        let contacted = try Parity.compareDecisions(
            policy: "positive", expected: expected, column: "positive", scored: scored(["Womens", "Mens", "Womens"], [1, 1, 0]), idColumn: "row_id")
        #expect(contacted.firstDifference == "row_id 2: policy stage 'Womens', scorer no contact")
        #expect(contacted.agreeing == 2)
    }
}
