import Experiment
import Foundation
import Policy
import Stats
import Tabular
import Testing
import Uplift
import UpliftAnalysis

@testable import PolicyAnalysis

/// A small campaign keyed by customer strings (one with a comma), from prepare through the uplift
/// stage's test scores to the policy stage's contact list and decisions: every list names the
/// customers by the campaign's own id column, and every id stays with its own row's scores.
@Suite("Campaign ids from prepare to the contact list")
struct CampaignIdFlowTests {
    static let spec = DatasetSpec(
        name: "keyed", file: "campaign.csv", armColumn: "arm", controlArm: "none", idColumn: "customer_key",
        outcomes: [.init(name: "spend", type: .continuous)],
        features: [.init(name: "x", type: .numeric), .init(name: "seg", type: .categorical)])

    static func campaign(rows n: Int) -> String {
        var g = SeededGenerator(seed: 11)
        var text = "customer_key,x,seg,arm,spend\n"
        let arms = ["none", "a", "b"]
        for i in 0..<n {
            // Keys in no particular order, not numbers, one needing quotes.
            let key = i == 37 ? "\"Smith, J.\"" : "K\((i * 7919) % 100_003)"
            let x = g.nextUnit(), arm = g.next(below: 3)
            let effect = arm == 0 ? 0 : (arm == 1 ? 2 * x : 2 * x + 0.25)
            text += "\(key),\(formatDouble(x)),\(i % 3 == 0 ? "p" : "q"),\(arms[arm]),\(formatDouble(effect + g.nextUnit()))\n"
        }
        return text
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    @Test func idsFlowThroughScoresAndContactLists() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("id-flow-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(Self.campaign(rows: 900), to: dir + "/campaign.csv")

        // Prepare, and the split files as the later stages read them.
        let (table, arms) = try Prepare.loadRaw(spec: Self.spec, path: dir + "/campaign.csv")
        let split = Prepare.stratifiedSplit(strata: arms.index, strataCount: arms.count, testFraction: 0.3, seed: 5)
        let schema = Self.spec.preparedSchema
        let train = try CSVReader.read(bytes: CSVWriter.encode(table.gather(split.train)), source: "train.csv", schema: schema)
        let test = try CSVReader.read(bytes: CSVWriter.encode(table.gather(split.test)), source: "test.csv", schema: schema)
        let testKeys = try test.strings("customer_key").values
        let trainKeys = try train.strings("customer_key").values
        #expect(Set(testKeys + trainKeys).contains("Smith, J.") && Set(testKeys + trainKeys).count == 900)

        let upliftParams = try Self.decode(
            UpliftParams.self,
            """
            {"seed": 3, "primary_outcome": "spend", "outcomes": ["spend"],
             "baseline": {"n_trees": 8, "max_depth": 3, "min_samples_leaf": 20, "max_features": null},
             "tuning": {"n_trees": 4, "max_depth": [2], "min_samples_leaf": [40], "max_features": null, "final_trees": 4},
             "learners": ["t_baseline"], "selection": {"folds": 2, "seeds": 1, "rule": "best_supported"}, "dr_folds": 2,
             "bootstrap_replicates": 200, "confidence_level": 0.9, "deciles": 4, "curve_points": 10}
            """)
        let uplift = try UpliftAnalysis.run(upliftParams, spec: Self.spec, train: train, test: test, threads: 2)
        #expect(uplift.testIDs == testKeys)
        let scoresBytes = UpliftOutputs.testScores(
            ids: uplift.testIDs, scores: uplift.testScores, outputs: uplift.production.outputs, idColumn: Self.spec.preparedIdColumn)
        let header = try CSVReader.header(bytes: scoresBytes, source: "test_scores.csv")
        #expect(header.first == "customer_key")
        let scores = try CSVReader.read(
            bytes: scoresBytes, source: "test_scores.csv", schema: CSVSchema(header.map { ColumnSpec($0, $0 == "customer_key" ? .string : .double) }))
        #expect(try scores.strings("customer_key").values == testKeys)
        let meta = UpliftOutputs.meta(uplift, spec: Self.spec, params: upliftParams, trainingFile: "train.csv", trainingSHA256: "-", forestsSHA256: "-")
        #expect(meta.idColumn == "customer_key")

        // The policy stage: arm b is dearer, so the grid lists each e-mail's cost.
        let policyParams = try Self.decode(
            PolicyParams.self,
            """
            {"seed": 1, "outcome": "spend", "margin": 0.5, "cost": 0.05, "arm_costs": {"b": 0.2}, "budget": null, "arm_caps": {},
             "solver_time_limit_seconds": 10, "confirming_test": {"alpha": 0.05, "power": 0.8, "minimum_difference": 0.1},
             "sensitivity": {"margins": [0.5], "costs": [0.05, 0.1]},
             "bootstrap_replicates": 200, "confidence_level": 0.9, "curve_points": 10, "deciles": 4, "contact_list_sample": 10}
            """)
        let result = try PolicyAnalysis.run(
            policyParams, meta: meta, scores: scores, test: test, threads: 2)
        #expect(result.idColumn == "customer_key")

        let list = PolicyOutputs.contactList(result)
        #expect(list.names.first == "customer_key")
        #expect(list.rowCount > 0)
        // Each contact's uplift is its own row's score for the e-mail it is sent.
        let row = Dictionary(uniqueKeysWithValues: testKeys.enumerated().map { ($1, $0) })
        let listKeys = try list.strings("customer_key").values, listArms = try list.strings("arm").values, listUplift = try list.doubles("uplift")
        for j in 0..<list.rowCount {
            let i = try #require(row[listKeys[j]])
            #expect(try scores.doubles("uplift_" + slug(listArms[j]))[i] == listUplift[j])
        }
        let decisions = PolicyOutputs.decisions(result)
        #expect(decisions.names == ["customer_key", "best_n", "positive"])
        #expect(try decisions.strings("customer_key").values == testKeys)

        let grid = PolicyOutputs.sensitivity(result)
        #expect(
            grid.names == [
                "margin", "cost_per_contact", "cost_a", "cost_b", "best_contacts", "best_share", "best_expected_profit", "rescaled_expected_profit",
                "held_out_dr_profit",
            ])
        #expect(try grid.doubles("cost_a") == [0.05, 0.1])
        #expect(try grid.doubles("cost_b") == [0.2, 0.2 * (0.1 / 0.05)])

        // Every randomized row, cross-fitted: the training rows' out-of-fold scores and the test rows'
        // scores, each under its own id; the policies are evaluated on all 900 customers.
        let crossBytes = UpliftOutputs.crossFitScores(uplift, idColumn: "customer_key")
        let crossHeader = try CSVReader.header(bytes: crossBytes, source: "crossfit_scores.csv")
        let cross = try CSVReader.read(
            bytes: crossBytes, source: "crossfit_scores.csv",
            schema: CSVSchema(crossHeader.map { ColumnSpec($0, ["customer_key", "split", "fold"].contains($0) ? .string : .double) }))
        #expect(Set(try cross.strings("customer_key").values) == Set(testKeys + trainKeys))
        let everyRow = try PolicyAnalysis.run(policyParams, meta: meta, scores: scores, test: test, crossFit: cross, train: train, threads: 2)
        #expect(everyRow.all?.customers == 900 && everyRow.test.customers == testKeys.count)
        #expect(everyRow.primary.customers == 900)
        // The contact list and the decisions stay on the test split's customers.
        #expect(Set(try PolicyOutputs.contactList(everyRow).strings("customer_key").values).isSubset(of: Set(testKeys)))
        #expect(try PolicyOutputs.decisions(everyRow).strings("customer_key").values == testKeys)

        // A score row given twice is named with its line and the first one's.
        let twice = scores.gather([0, 1, 0] + Array(3..<scores.rowCount))
        do {
            _ = try PolicyAnalysis.run(policyParams, meta: meta, scores: twice, test: test, threads: 2)
            Issue.record("a repeated id must be an error")
        } catch let e as DataError {
            #expect(e.line == 4 && e.columnName == "customer_key" && e.message.contains("first on line 2"), "\(e)")
        }
    }

    @Test func sensitivityCostsKeepEachEmailsRatio() throws {
        func params(cost: Double, armCosts: [String: Double]) throws -> PolicyParams {
            var p = try Self.decode(
                PolicyParams.self,
                """
                {"seed": 1, "outcome": "spend", "margin": 0.3, "cost": 0.05, "arm_costs": {}, "budget": null, "arm_caps": {},
                 "solver_time_limit_seconds": 10, "confirming_test": {"alpha": 0.05, "power": 0.8, "minimum_difference": 0.1},
                 "sensitivity": {"margins": [0.3], "costs": [0.03, 0.05, 0.15]},
                 "bootstrap_replicates": 200, "confidence_level": 0.9, "curve_points": 10, "deciles": 4, "contact_list_sample": 10}
                """)
            p.cost = cost
            p.armCosts = armCosts
            return p
        }
        // No own costs: every e-mail costs the axis value, as the grid always had it.
        let uniform = try params(cost: 0.05, armCosts: [:]).sensitivityCosts(arms: ["a", "b"], source: "p.yaml")
        #expect(uniform.map(\.costs) == [[0.03, 0.03], [0.05, 0.05], [0.15, 0.15]])
        // An own cost keeps its ratio to `cost`, and is exactly itself at c = cost.
        let own = try params(cost: 0.05, armCosts: ["b": 0.07]).sensitivityCosts(arms: ["a", "b"], source: "p.yaml")
        #expect(own.map(\.label) == [0.03, 0.05, 0.15])
        #expect(own.map { $0.costs[0] } == [0.03, 0.05, 0.15])
        #expect(own[1].costs[1] == 0.07)
        #expect(own[0].costs[1] == 0.07 * (0.03 / 0.05) && own[2].costs[1] == 0.07 * (0.15 / 0.05))
        // A zero `cost` gives no ratio to keep.
        #expect(throws: DataError.self) { try params(cost: 0, armCosts: ["b": 0.07]).sensitivityCosts(arms: ["a", "b"], source: "p.yaml") }
        #expect(try params(cost: 0, armCosts: [:]).sensitivityCosts(arms: ["a", "b"], source: "p.yaml").count == 3)
    }
}
