import Economics
import Foundation
import Testing

@Suite struct EconomicsTests {
    @Test func bestArmIsChosenByProfitNotUplift() throws {
        let e = try CampaignEconomics(margin: 0.5, arms: ["cheap", "dear"], costs: [0.1, 1.0])
        // The dear arm has the larger uplift (2 > 1.5) but the smaller profit (0 < 0.65).
        #expect(e.bestArm { [1.5, 2.0][$0] } == 0)
        #expect(e.profit(uplift: 2, arm: 1) == 0)
        // Ties go to the lower arm.
        let same = try CampaignEconomics(margin: 1, arms: ["a", "b", "c"], costs: [0, 0, 0])
        #expect(same.bestArm { [1, 3, 3][$0] } == 1)
    }

    @Test func bestNIsTheFirstPrefixWithTheLargestProfit() {
        var b = BestN()
        for p in [2.0, -1, 1, -3, 0.5] { b.add(p) }
        #expect(b.count == 1 && b.profit == 2)  // the prefix of 3 earns as much, not more
        #expect(BestN.argmax(curve: [0, 2, 1, 2, -1, -0.5]) == 1)
        var none = BestN()
        for p in [-1.0, -2] { none.add(p) }
        #expect(none.count == 0 && none.profit == 0)
    }

    @Test func economicsThatMeanNothingAreRejected() {
        #expect(throws: EconomicsError.self) { try CampaignEconomics(margin: 30, arms: ["a"], costs: [0.1]) }
        #expect(throws: EconomicsError.self) { try CampaignEconomics(margin: .nan, arms: ["a"], costs: [0.1]) }
        #expect(throws: EconomicsError.self) { try CampaignEconomics(margin: 0.3, arms: ["a"], costs: [.infinity]) }
        #expect(throws: EconomicsError.self) { try CampaignEconomics(margin: 0.3, arms: ["a", "b"], costs: [0.1]) }
    }

    @Test func theRecordRoundTrips() throws {
        let e = try CampaignEconomics(margin: 0.3, arms: ["Mens E-Mail", "Womens E-Mail"], costs: [0.05, 0.07])
        let r = RecordedEconomics(economics: e, scorerPolicy: "bestN", recommendedPolicy: "constrained", outcome: "spend")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("econ-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try RecordedEconomics.load(directory: dir) == nil)
        FileManager.default.createFile(atPath: dir + "/" + RecordedEconomics.file, contents: Data(r.jsonBytes()))
        #expect(try RecordedEconomics.load(directory: dir) == r)
        FileManager.default.createFile(atPath: dir + "/" + RecordedEconomics.file, contents: Data("{\"format_version\": 1}".utf8))
        #expect(throws: EconomicsError.self) { try RecordedEconomics.load(directory: dir) }
    }
}
