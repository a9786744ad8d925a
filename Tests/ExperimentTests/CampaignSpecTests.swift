import Foundation
import Reporting
import Stats
import Tabular
import Testing

@testable import Experiment

/// A three-arm offer campaign that is nothing like the default project: its own arms, outcome
/// labels and treatment noun, a 50/25/25 design and a numeric feature with many values.
private enum Offers {
    static let arms = ["control", "discount", "free_shipping"]

    static func spec(allocation: [String: Double]? = ["control": 0.5, "discount": 0.25, "free_shipping": 0.25]) throws -> DatasetSpec {
        DatasetSpec(
            name: "offers", file: "offers.csv", armColumn: "offer_group", controlArm: "control",
            outcomes: [.init(name: "purchased", type: .binary, label: "Purchase"), .init(name: "revenue", type: .continuous, label: "Revenue")],
            features: [.init(name: "basket_value", type: .numeric), .init(name: "region", type: .categorical)],
            allocation: try allocation.map(DatasetSpec.Allocation.init), treatmentNoun: "offer")
    }

    /// `counts[k]` rows of arm k; outcomes and features vary deterministically with the row.
    static func table(counts: [Int]) throws -> Table {
        var csv = "basket_value,region,offer_group,purchased,revenue\n"
        var row = 0
        for (k, count) in counts.enumerated() {
            for i in 0..<count {
                let bought = (i * 7 + k) % 5 == 0 || (k > 0 && i % 9 == 0)
                csv +=
                    "\(formatDouble(Double(row % 97) * 1.5)),\(["north", "south"][row % 2]),\(arms[k]),\(bought ? 1 : 0),\(bought ? formatDouble(10 + Double(i % 13)) : "0")\n"
                row += 1
            }
        }
        return try CSVReader.read(bytes: Array(csv.utf8), source: "offers.csv", schema: try spec().rawSchema)
    }

    static let params = EDAParams(segmentFeatures: ["region", "basket_value"], segmentOutcome: "purchased", histogramBins: 5, segmentBins: 4)
}

@Suite("Planned allocation: the sample-ratio test against the design's shares")
struct PlannedAllocationTests {
    @Test("a 50/25/25 sample of a 50/25/25 design is no mismatch; against equal shares it is one")
    func unequalDesign() throws {
        let table = try Offers.table(counts: [2000, 1000, 1000])
        let planned = try EDA.analyse(table, spec: try Offers.spec(), params: Offers.params)
        let designShares: [Double] = [0.5, 0.25, 0.25]
        #expect(planned.arms.map(\.expectedShare) == designShares)
        #expect(planned.sampleRatio.statistic == 0 && planned.sampleRatio.pValue > 0.999)
        #expect(planned.sampleRatio.test == "chi-square vs planned allocation")

        let equal = try EDA.analyse(table, spec: try Offers.spec(allocation: nil), params: Offers.params)
        let thirds: [Double] = [1.0 / 3, 1.0 / 3, 1.0 / 3]
        #expect(equal.arms.map(\.expectedShare) == thirds)
        #expect(equal.sampleRatio.pValue < 1e-100)
        #expect(equal.sampleRatio.test == "chi-square vs equal allocation")
    }

    @Test("a real departure from the design is a mismatch, with the statistic computed from the design's expected counts")
    func realMismatch() throws {
        let counts = [2200, 900, 900]
        let r = try EDA.analyse(try Offers.table(counts: counts), spec: try Offers.spec(), params: Offers.params)
        let expected = [2000.0, 1000, 1000]
        let statistic = zip(counts, expected).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) / $1.1 }
        #expect(abs(r.sampleRatio.statistic - statistic) < 1e-9)
        #expect(r.sampleRatio.pValue < 0.01)
        let report = try EDAReport.build(r, spec: try Offers.spec(), params: Offers.params, figureDir: "f", tableDir: "t")
        #expect(report.contains("**Sample ratio mismatch**: arm sizes differ from the planned allocation (control 50%, discount 25%, free_shipping 25%)"))
    }

    @Test("the design's shares follow the data's arm order and are checked against the data's arms")
    func designShares() throws {
        let spec = try Offers.spec()
        #expect(try spec.designShares(arms: ["control", "free_shipping", "discount"], source: "d.csv") == [0.5, 0.25, 0.25])
        #expect(try Offers.spec(allocation: nil).designShares(arms: Offers.arms, source: "d.csv") == [1.0 / 3, 1.0 / 3, 1.0 / 3])
        #expect(throws: DataError.self) { try spec.designShares(arms: ["control", "discount"], source: "d.csv") }
        #expect(throws: DataError.self) { try spec.designShares(arms: Offers.arms + ["gift"], source: "d.csv") }
        #expect(throws: (any Error).self) { try DatasetSpec.Allocation(["control": 0.5, "discount": 0.4]) }
        #expect(throws: (any Error).self) { try DatasetSpec.Allocation(["control": 1.5, "discount": -0.5]) }
    }
}

@Suite("Numeric segment features: binned")
struct SegmentBinningTests {
    @Test("quantile bins keep equal values together and drop cuts that ties make redundant")
    func quantilesWithTies() {
        // 12 values: five zeros, then 1…7. Quartile cuts at sorted[3], [6], [9] = 0, 2, 5: the cut at
        // 0 (the minimum) would leave an empty first bin and is dropped.
        let values: [Double] = [0, 3, 0, 7, 1, 0, 5, 0, 2, 6, 0, 4]
        let bins = SegmentBins(quantilesOf: values, bins: 4)
        #expect(bins.cuts == [2, 5])
        #expect(bins.labels == ["[0, 2)", "[2, 5)", "[5, 7]"])
        let expected: [Int] = [0, 1, 0, 2, 0, 0, 2, 0, 1, 2, 0, 1]
        #expect(values.map(bins.index) == expected)

        // Every value equal: one bin.
        let flat = SegmentBins(quantilesOf: [4, 4, 4, 4], bins: 5)
        #expect(flat.cuts.isEmpty && flat.labels == ["[4, 4]"])

        // Many ties at one cut: the tied values all fall in the bin the cut opens.
        let tied = SegmentBins(quantilesOf: [1, 2, 3, 3, 3, 3, 3, 3, 9, 10], bins: 5)
        #expect(tied.cuts == [3, 9])
        #expect(Set([3.0, 3, 3].map(tied.index)).count == 1)
    }

    @Test("explicit edges give bins below, between and above them")
    func explicitEdges() {
        let bins = SegmentBins(edges: [10, 100])
        #expect(bins.labels == ["< 10", "[10, 100)", "≥ 100"])
        let values: [Double] = [0, 9.99, 10, 99.99, 100, 1e6]
        let expected: [Int] = [0, 0, 1, 1, 2, 2]
        #expect(values.map(bins.index) == expected)
    }

    @Test("a numeric feature with many values gets segment lifts per bin; a categorical one keeps its levels")
    func segmentLiftsPerBin() throws {
        let r = try EDA.analyse(try Offers.table(counts: [2000, 1000, 1000]), spec: try Offers.spec(), params: Offers.params)
        let levels = r.segmentLifts("purchased", arm: "discount")
        #expect(levels.filter { $0.feature == "region" }.map(\.level) == ["north", "south"])
        let basket = levels.filter { $0.feature == "basket_value" }
        #expect(basket.count == 4)
        #expect(basket.first?.level.hasPrefix("[0, ") == true && basket.last?.level.hasSuffix(", 144]") == true, "\(basket.map(\.level))")
        // The bins partition the arm's rows.
        #expect(basket.map(\.lift.nArm).reduce(0, +) == 1000)

        var edges = Offers.params
        edges.segmentBinEdges = ["basket_value": [50, 100]]
        let fixed = try EDA.analyse(try Offers.table(counts: [2000, 1000, 1000]), spec: try Offers.spec(), params: edges)
        #expect(fixed.segmentLifts("purchased", arm: "discount").filter { $0.feature == "basket_value" }.map(\.level) == ["< 50", "[50, 100)", "≥ 100"])
    }

    @Test(
        "bad binning and power-effect parameters name the key",
        arguments: [
            (EDAParams(segmentFeatures: ["basket_value"], segmentOutcome: "purchased", segmentBins: 1), "'segment_bins'"),
            (
                EDAParams(segmentFeatures: ["basket_value"], segmentOutcome: "purchased", segmentBinEdges: ["basket_value": [5, 5]]),
                "'segment_bin_edges.basket_value'"
            ),
            (EDAParams(segmentFeatures: ["basket_value"], segmentOutcome: "purchased", segmentBinEdges: ["region": [1]]), "'segment_bin_edges.region'"),
            (EDAParams(segmentFeatures: ["basket"], segmentOutcome: "purchased"), "'segment_features'"),
            (EDAParams(segmentFeatures: [], segmentOutcome: "purchased", powerEffects: [.init(outcome: "sales", relative: [0.1])]), "'power_effects[0]'"),
            (
                EDAParams(
                    segmentFeatures: [], segmentOutcome: "purchased",
                    powerEffects: [.init(outcome: "purchased", relative: [0.1]), .init(outcome: "purchased")]), "'power_effects[1]'"
            ),
            (EDAParams(segmentFeatures: [], segmentOutcome: "purchased", powerEffects: [.init(outcome: "purchased", absolute: [0])]), "'power_effects[0]'"),
            // A planned rate beyond 1 depends on the data: named when the table is analysed.
            (EDAParams(segmentFeatures: [], segmentOutcome: "purchased", powerEffects: [.init(outcome: "purchased", relative: [1000])]), "'power_effects'"),
        ])
    func badBinning(params: EDAParams, key: String) throws {
        // Also the planned effects of the power table.
        do {
            _ = try EDA.analyse(try Offers.table(counts: [20, 10, 10]), spec: try Offers.spec(), params: params, paramsSource: "eda.yaml")
            Issue.record("accepted \(params)")
        } catch let error as DataError {
            #expect(error.file == "eda.yaml" && error.message.hasPrefix(key), "\(error)")
        }
    }
}

@Suite("Report words from the campaign spec")
struct ReportWordsTests {
    @Test("the EDA report and figures speak of the campaign's offers, arms and outcome labels")
    func edaWords() throws {
        let spec = try Offers.spec()
        let r = try EDA.analyse(try Offers.table(counts: [2000, 1000, 1000]), spec: spec, params: Offers.params)
        let report = try EDAReport.build(r, spec: spec, params: Offers.params, figureDir: "f", tableDir: "t")
        for phrase in [
            "Arm sizes are consistent with the planned allocation (control 50%, discount 25%, free_shipping 25%)",
            "Lift of each offer against control", "SMD) of each offer arm", "pools all offer arms", "Each offer arm against control",
            "## Lift by segment: Purchase", "**Revenue** (control", "Revenue: Welch's t test", "Power (discount, Purchase)",
            "Distribution of Revenue where positive", "Purchase (`purchased`, binary)",
        ] {
            #expect(report.contains(phrase), "eda.md lacks \(phrase)")
        }
        let scripts = try EDAFigures.figures(r, spec: spec, params: Offers.params).map(\.script).joined()
        #expect(scripts.contains("Lift in Purchase") && scripts.contains("Distribution of Revenue"))
        for word in ["e-mail", "E-Mail", "spend", "visit", "conversion", "Hillstrom"] {
            #expect(!report.contains(word) && !scripts.contains(word), "the report or a figure says '\(word)'")
        }
    }

    @Test("words default to 'treatment' and the outcome's name; labels capitalize and list")
    func defaults() throws {
        let words = try Offers.spec(allocation: nil).words
        #expect(words.noun == "offer" && words.nounPlural == "offers")
        #expect(words.label("revenue") == "Revenue")
        #expect(words.label("other") == "other")
        let plain = CampaignWords()
        #expect(plain.noun == "treatment" && plain.nounPlural == "treatments")
        #expect(CampaignWords.capitalized(CampaignWords.list(["visit", "conversion"])) == "Visit and conversion")
        #expect(CampaignWords.list(["a", "b", "c"]) == "a, b and c")
    }
}
