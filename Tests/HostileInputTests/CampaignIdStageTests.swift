import Foundation
import Provenance
import TestSupport
import Testing

@testable import Base
@testable import Tabular

@Suite("stage-prepare with the campaign's own ids")
struct CampaignIdStageTests {
    static func params(file: String) -> String {
        """
        dataset:
          name: keyed
          file: \(file)
          arm_column: segment
          control_arm: No E-Mail
          treatment_column: treatment
          id_column: customer_key
          outcomes:
            - {name: spend, type: continuous}
          features:
            - {name: recency, type: numeric}
            - {name: channel, type: categorical}
        split:
          test_fraction: 0.25
          seed: 7

        """
    }

    static func campaign(keys: [String]) -> String {
        let arms = ["Mens E-Mail", "Womens E-Mail", "No E-Mail"]
        var text = "recency,customer_key,channel,segment,spend\n"
        for (i, key) in keys.enumerated() { text += "\(i % 12 + 1),\(key),Web,\(arms[i % 3]),\(i % 5 == 0 ? "12.5" : "0")\n" }
        return text
    }

    @Test("string keys come out first in train and test under their own name")
    func keysCarried() throws {
        let dir = try temporaryFolder("prepare-ids")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = (0..<40).map { "C-\(String(format: "%03d", (($0 * 17) % 40)))" }
        try AtomicFile.write(Self.campaign(keys: keys), to: dir + "/campaign.csv")
        try AtomicFile.write(Self.params(file: dir + "/campaign.csv"), to: dir + "/params.yaml")
        let r = try Shell.run([try builtProduct("stage-prepare"), "--params", dir + "/params.yaml", "--out", dir + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        var seen: [String] = []
        for name in ["train.csv", "test.csv"] {
            let path = dir + "/out/" + name
            #expect(try CSVReader.header(path: path).first == "customer_key")
            seen += try CSVReader.read(path: path, schema: CSVSchema([ColumnSpec("customer_key", .string)])).strings("customer_key").values
        }
        #expect(seen.sorted() == keys.sorted())
        #expect(try JSONValue.parse(file: dir + "/out/dataset.json")["spec"]?["id_column"] == .string("customer_key"))
    }

    @Test("a repeated key is one error line naming the file, the line, the column and the first line; nothing is written")
    func duplicateKey() throws {
        let dir = try temporaryFolder("prepare-ids")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var keys = (0..<30).map { "K\($0)" }
        keys[21] = "K4"
        try AtomicFile.write(Self.campaign(keys: keys), to: dir + "/campaign.csv")
        try AtomicFile.write(Self.params(file: dir + "/campaign.csv"), to: dir + "/params.yaml")
        let r = try Shell.run([try builtProduct("stage-prepare"), "--params", dir + "/params.yaml", "--out", dir + "/out"])
        #expect(r.status == 2)
        // Data row 21 is line 23; the first K4 (row 4) is line 6.
        #expect(r.stderr == "error: \(dir)/campaign.csv:23 (column 'customer_key'): duplicate id 'K4', first on line 6\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/train.csv"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/manifest.json"))
    }
}
