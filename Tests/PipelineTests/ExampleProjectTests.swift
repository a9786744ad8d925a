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

    /// Each treated arm's predicted uplift on the test split follows the true one (measured: Pearson
    /// 0.94 for discount and 0.88 for free_shipping on the 7,200 test rows).
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
            #expect(r > 0.8, "Pearson(predicted, true uplift) for \(arm) is \(r)")
        }
    }

    /// The true BG/NBD and Gamma-Gamma parameters agree with the fits' reported intervals. There are
    /// 14 checks (4 + 3 parameters, calibration and whole-period fits) on one draw; each 95% interval
    /// alone misses a true value 5% of the time, so the family would fail about half the time by
    /// chance. The check is therefore made at 5% for the family (Bonferroni): each reported interval
    /// is symmetric on the log scale, so its ends give the standard error of log(estimate), and the
    /// true value must lie within z(1 - 0.05 / (2 * 14)) standard errors of it. Each 95% interval
    /// that misses is also listed in the test's output.
    func clvParametersAreInsideTheirIntervals(root: String, raw: String) throws {
        let truth = try JSONValue.parse(file: raw + "/truth.json")
        var checks: [(label: String, truth: Double, estimate: Double, low: Double, high: Double)] = []
        for (file, model) in [("fit_bgnbd.json", "bgnbd"), ("fit_gammagamma.json", "gamma_gamma")] {
            let fit = try JSONValue.parse(file: root + "/data/processed/clv/" + file)
            guard case .object(let trueParameters)? = truth[model] else { throw PipelineError("truth.json has no \(model)") }
            for period in ["calibration", "whole_period"] {
                for (name, value) in trueParameters.sorted(by: { $0.key < $1.key }) {
                    let p = fit[period]?["parameters"]?[name]
                    checks.append(
                        (
                            "\(file) \(period) \(name)", try #require(value.numberValue), try #require(p?["estimate"]?.numberValue),
                            try #require(p?["ci95_low"]?.numberValue), try #require(p?["ci95_high"]?.numberValue)
                        ))
                }
            }
        }
        #expect(checks.count == 14)
        let familyZ = Normal.quantile(1 - 0.05 / Double(2 * checks.count))
        for c in checks {
            // The interval is exp(log(estimate) ± 1.96 se): symmetric on the log scale.
            #expect(abs(log(c.estimate) - (log(c.low) + log(c.high)) / 2) < 1e-9, "\(c.label): interval not symmetric on the log scale")
            let se = (log(c.high) - log(c.low)) / (2 * Normal.quantile(0.975))
            let z = (log(c.truth) - log(c.estimate)) / se
            #expect(abs(z) < familyZ, "\(c.label): true \(c.truth) is \(z) standard errors from the estimate \(c.estimate)")
            if c.truth < c.low || c.truth > c.high {
                print("note: \(c.label): true \(c.truth) outside its 95% interval [\(c.low), \(c.high)] (z = \(z))")
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
