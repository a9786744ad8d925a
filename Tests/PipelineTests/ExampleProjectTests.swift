import Base
import Foundation
import Provenance
import Stats
import Tabular
import Testing

// The example second project (examples/synthetic): a campaign and an order log with another
// schema, generated with known true effects and parameters, run end to end by make as a user
// would run their own project. The pipeline must recover what the generator put in.

@Suite("Example project: make all PROJECT=examples/synthetic/project.yaml", .serialized)
struct ExampleProjectTests {
    static let projectFile = "examples/synthetic/project.yaml"
    static let out = "out/synthetic"

    @Test("the whole pipeline runs on the example project, recovers the truth, and keeps to its own folder")
    func endToEnd() throws {
        let project = try ProjectCopy()
        defer { project.remove() }
        let before = try? FileManager.default.attributesOfItem(atPath: project.dir + "/reports/index.md")[.modificationDate] as? Date
        let log = try project.make(["all", "PROJECT=\(Self.projectFile)"])
        #expect(ran(log, "stage-synth") || FileManager.default.fileExists(atPath: project.dir + "/data/raw/synthetic/manifest.json"))
        let after = try? FileManager.default.attributesOfItem(atPath: project.dir + "/reports/index.md")[.modificationDate] as? Date
        #expect(before == after, "the default project's index was rewritten by another project's run")
        let root = project.dir + "/" + Self.out
        for report in ["index", "eda", "clv", "uplift", "policy", "parity"] {
            #expect(FileManager.default.fileExists(atPath: "\(root)/reports/\(report).md"), "\(report).md")
        }
        let again = try project.make(["all", "PROJECT=\(Self.projectFile)"])
        #expect(again.contains("Nothing to be done"), "a second run of the example project did work:\n\(again)")

        try upliftIsRecovered(root: root, raw: project.dir + "/data/raw/synthetic")
        try clvParametersAreInsideTheirIntervals(root: root, raw: project.dir + "/data/raw/synthetic")
        try contactListCarriesTheCampaignsIDs(root: root, raw: project.dir + "/data/raw/synthetic")
        try reportsUseTheCampaignsWords(root: root)
    }

    /// Each treated arm's predicted uplift on the test split follows the true one.
    func upliftIsRecovered(root: String, raw: String) throws {
        let arms = ["discount", "free_shipping"]
        let truth = try CSVReader.read(
            path: raw + "/campaign_truth.csv",
            schema: CSVSchema([ColumnSpec("customer_key", .string)] + arms.map { ColumnSpec("true_uplift_\($0)", .double) }))
        let scores = try CSVReader.read(
            path: root + "/data/processed/uplift/test_scores.csv",
            schema: CSVSchema([ColumnSpec("customer_key", .string)] + arms.map { ColumnSpec("uplift_\($0)", .double) }))
        let row = Dictionary(uniqueKeysWithValues: try truth.strings("customer_key").values.enumerated().map { ($1, $0) })
        let keys = try scores.strings("customer_key").values
        #expect(keys.count > 5000)
        for arm in arms {
            let trueUplift = try truth.doubles("true_uplift_\(arm)"), predicted = try scores.doubles("uplift_\(arm)")
            let matched = try keys.map { key -> Double in
                guard let r = row[key] else { throw PipelineError("test score for \(key), which is not a campaign customer") }
                return trueUplift[r]
            }
            let r = Inference.pearson(predicted, matched)
            #expect(r > 0.7, "Pearson(predicted, true uplift) for \(arm) is \(r)")
        }
    }

    /// The true BG/NBD and Gamma-Gamma parameters lie inside the reported 95% intervals.
    func clvParametersAreInsideTheirIntervals(root: String, raw: String) throws {
        let truth = try JSONValue.parse(file: raw + "/truth.json")
        for (file, model) in [("fit_bgnbd.json", "bgnbd"), ("fit_gammagamma.json", "gamma_gamma")] {
            let fit = try JSONValue.parse(file: root + "/data/processed/clv/" + file)
            guard case .object(let trueParameters)? = truth[model] else { throw PipelineError("truth.json has no \(model)") }
            for period in ["calibration", "whole_period"] {
                for (name, value) in trueParameters {
                    let p = fit[period]?["parameters"]?[name]
                    let low = try #require(p?["ci95_low"]?.numberValue, "\(file) \(period) \(name)")
                    let high = try #require(p?["ci95_high"]?.numberValue, "\(file) \(period) \(name)")
                    let v = try #require(value.numberValue)
                    #expect(low <= v && v <= high, "\(file) \(period): true \(name) = \(v) outside [\(low), \(high)]")
                }
            }
        }
    }

    /// The contact list names customers by the campaign's own key, and only treated arms.
    func contactListCarriesTheCampaignsIDs(root: String, raw: String) throws {
        let path = root + "/data/processed/policy/contact_list.csv"
        let header = try CSVReader.header(path: path)
        #expect(header.first == "customer_key", "\(header)")
        let list = try CSVReader.read(path: path, schema: CSVSchema([ColumnSpec("customer_key", .string), ColumnSpec("arm", .string)]))
        let campaign = try CSVReader.read(path: raw + "/campaign.csv", schema: CSVSchema([ColumnSpec("customer_key", .string)]))
        let known = Set(try campaign.strings("customer_key").values)
        let ids = try list.strings("customer_key").values
        #expect(!ids.isEmpty && ids.allSatisfy(known.contains))
        #expect(Set(try list.strings("arm").values).isSubset(of: ["discount", "free_shipping"]))
    }

    /// The reports speak of the campaign's arms, outcomes and offers, never of the default project's e-mails.
    func reportsUseTheCampaignsWords(root: String) throws {
        let eda = try String(contentsOfFile: root + "/reports/eda.md", encoding: .utf8)
        for word in ["discount", "free_shipping", "control", "Purchase", "Revenue", "offer"] {
            #expect(eda.contains(word), "eda.md does not mention \(word)")
        }
        for report in ["eda", "uplift", "policy", "clv", "parity", "index"] {
            let text = try String(contentsOfFile: "\(root)/reports/\(report).md", encoding: .utf8)
            for word in ["e-mail", "E-Mail", "Hillstrom", "Mens", "Womens"] {
                #expect(!text.contains(word), "\(report).md says '\(word)'")
            }
        }
    }
}
