import Foundation
import ProjectSpec
import TestSupport
import Testing

@testable import Base
@testable import PipelineCLI
@testable import Provenance
@testable import Tabular

// The project file: the repository's projects decode, every mistake names the project file, the
// line and the key, and stage-project leaves nothing behind when it refuses one.

func projectText(_ relative: String = "project.yaml") throws -> String {
    try String(contentsOfFile: packageRoot + "/" + relative, encoding: .utf8)
}

/// Loads `text` as a project file and runs its checks: nil when it passes, else its bad-input error,
/// which must name the file.
func projectLoadError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> DataError? {
    let dir = try temporaryFolder("project")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try AtomicFile.write(text, to: dir + "/project.yaml")
    do {
        let (project, _) = try Params.load(ProjectFile.self, from: dir + "/project.yaml")
        try project.validate(source: dir + "/project.yaml")
        return nil
    } catch let error as DataError {
        #expect(error.file == dir + "/project.yaml", sourceLocation: sourceLocation)
        return error
    }
}

@Suite("Project files")
struct ProjectFileTests {
    @Test("the default and the example project decode and pass their checks", arguments: ["project.yaml", "examples/synthetic/project.yaml"])
    func repositoryProjects(_ relative: String) throws {
        let (project, _) = try Params.load(ProjectFile.self, from: packageRoot + "/" + relative)
        try project.validate(source: relative)
        #expect(!project.makeFragment(projectPath: relative).isEmpty)
    }

    @Test("the default project writes into the repository's own folders, another into out/<name>")
    func outputFolders() throws {
        let (defaultProject, _) = try Params.load(ProjectFile.self, from: packageRoot + "/project.yaml")
        #expect(defaultProject.outputPrefix == "")
        var other = defaultProject
        other.output = nil
        other.name = "shop-2026"
        #expect(other.outputPrefix == "out/shop-2026/")
        #expect(other.makeFragment(projectPath: "p.yaml").contains("P_OUT := out/shop-2026/\n"))
    }

    func loadError(_ text: String) throws -> DataError? { try projectLoadError(text) }

    @Test("a mistyped key names the line, the column and the nearest valid key")
    func mistypedKey() throws {
        let text = try projectText().replacingOccurrences(of: "  control_arm: No E-Mail", with: "  contrl_arm: No E-Mail")
        let error = try #require(try loadError(text))
        let place = try #require(position(of: "contrl_arm", in: text))
        #expect(error.line == place.line && error.column == place.column)
        #expect(error.message.contains("'campaign.contrl_arm'") && error.message.contains("did you mean 'control_arm'?"), "\(error.message)")
    }

    @Test("a stray top-level key and a stage without a params file are errors")
    func strayAndMissing() throws {
        let stray = try #require(try loadError(try projectText() + "reports: elsewhere\n"))
        #expect(stray.message.hasPrefix("unknown parameter 'reports'"), "\(stray.message)")
        let missing = try #require(try loadError(try projectText().replacingOccurrences(of: "  policy: stages/policy/params.yaml\n", with: "")))
        #expect(missing.message == "missing parameter 'stages.policy'", "\(missing.message)")
    }

    @Test("names and paths make cannot carry, and raw files outside the data step's folder, are refused")
    func unusableNamesAndPaths() throws {
        let name = try #require(try loadError(try projectText().replacingOccurrences(of: "name: default", with: "name: my shop")))
        #expect(name.message.hasPrefix("'name': 'my shop' must be letters"))
        let path = try #require(
            try loadError(try projectText().replacingOccurrences(of: "eda: stages/eda/params.yaml", with: "eda: stages/eda/my params.yaml")))
        #expect(path.message.hasPrefix("'stages.eda': 'stages/eda/my params.yaml' cannot be named in a make rule"))
        let outside = try #require(
            try loadError(try projectText().replacingOccurrences(of: "file: data/raw/hillstrom.csv", with: "file: elsewhere/hillstrom.csv")))
        #expect(outside.message.hasPrefix("'campaign.file': 'elsewhere/hillstrom.csv' is not in the raw data folder"))
        let both = try #require(
            try loadError(try projectText().replacingOccurrences(of: "  raw: data/raw\n", with: "  generate: examples/synthetic/synth.yaml\n  raw: data/raw\n"))
        )
        #expect(both.message == "'data': give 'fetch' or 'generate', not both")
    }

    @Test("stage-project: a bad project exits 2 with one line and writes no make file; a good one writes it")
    func stageProjectBinary() throws {
        let dir = try temporaryFolder("stage-project")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try projectText().replacingOccurrences(of: "output: .", with: "output: \(dir)/out").replacingOccurrences(of: "  fetch:", with: "  fecth:")
        try AtomicFile.write(text, to: dir + "/project.yaml")
        let command = [try builtProduct("stage-project"), "--project", dir + "/project.yaml", "--make", dir + "/p.mk"]
        let bad = try Shell.run(command)
        let place = try #require(position(of: "fecth", in: text))
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("error: \(dir)/project.yaml:\(place.line):\(place.column): unknown parameter 'data.fecth'"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/p.mk") && !FileManager.default.fileExists(atPath: dir + "/out"))

        try AtomicFile.write(text.replacingOccurrences(of: "  fecth:", with: "  fetch:"), to: dir + "/project.yaml")
        let good = try Shell.run(command)
        #expect(good.status == 0, "\(good.stderr)")
        let fragment = try String(contentsOfFile: dir + "/p.mk", encoding: .utf8)
        #expect(fragment.contains("P_OUT := \(dir)/out/\n") && fragment.contains("P_CAMPAIGN := data/raw/hillstrom.csv\n"))
    }

    @Test("two project files with one output folder: the second is refused")
    func twoProjectsOneFolder() throws {
        let dir = try temporaryFolder("two-projects")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try projectText().replacingOccurrences(of: "output: .", with: "output: \(dir)/out")
        try AtomicFile.write(text, to: dir + "/first.yaml")
        try AtomicFile.write(text, to: dir + "/second.yaml")
        let first = try Shell.run([try builtProduct("stage-project"), "--project", dir + "/first.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try Shell.run([try builtProduct("stage-project"), "--project", dir + "/first.yaml"])
        #expect(again.status == 0, "the owner may run again: \(again.stderr)")
        let second = try Shell.run([try builtProduct("stage-project"), "--project", dir + "/second.yaml"])
        #expect(second.status == 2)
        #expect(second.stderr.contains("belongs to project \(dir)/first.yaml"), "\(second.stderr)")
    }

    @Test("stage-clv: the order log comes from the project or from the params, never both and never neither")
    func clvOrderLogSource() throws {
        let dir = try temporaryFolder("clv-project")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clv = try builtProduct("stage-clv")
        func run(_ params: String, project: Bool) throws -> Shell.Result {
            try AtomicFile.write(params, to: dir + "/clv.yaml")
            return try Shell.run(
                [clv, "--params", dir + "/clv.yaml", "--out", dir + "/out", "--figures", dir + "/fig", "--report", dir + "/clv.md"]
                    + (project ? ["--project", packageRoot + "/project.yaml"] : []))
        }
        let neither = try run(try stageParams("clv"), project: false)
        #expect(neither.status == 2)
        #expect(neither.stderr.contains("\(dir)/clv.yaml: missing parameter 'retail' (or run with --project"), "\(neither.stderr)")
        let both = try run(try standaloneParams("clv"), project: true)
        #expect(both.status == 2)
        #expect(both.stderr.contains("'retail' is given here and as 'orders' in the project file"), "\(both.stderr)")
        for result in [neither, both] { #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out") && !FileManager.default.fileExists(atPath: dir + "/clv.md"))
    }

    @Test("stage-clv: an order log whose dates do not match the spec's date_format is one error line at its line and column; nothing is written")
    func clvWrongDateFormat() throws {
        let dir = try temporaryFolder("clv-dates")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(
            "client;order_date;qty;unit_price;order_no;sku\na;09/12/2011 12:50;1;2,50;1;X\nb;2011-12-09 12:50;1;2,50;2;X\n", to: dir + "/orders.csv")
        let spec = """
            retail:
              name: shop
              file: \(dir)/orders.csv
              format: csv
              delimiter: ";"
              decimal_separator: ","
              date_format: "%d/%m/%Y %H:%M"
              customer: client
              date: order_date
              quantity: qty
              price: unit_price
              invoice: order_no
              product: sku
              cleaning: {drop_missing_customer: true, drop_nonpositive_quantity: true, drop_nonpositive_price: true, non_merchandise_codes: []}

            """
        try AtomicFile.write(spec + (try stageParams("clv")), to: dir + "/clv.yaml")
        let r = try Shell.run([
            try builtProduct("stage-clv"), "--params", dir + "/clv.yaml", "--out", dir + "/out", "--figures", dir + "/fig", "--report", dir + "/clv.md",
        ])
        #expect(r.status == 2)
        #expect(
            r.stderr.hasPrefix("error: \(dir)/orders.csv:3:2") && r.stderr.contains("cannot parse '2011-12-09 12:50' as a date (expected %d/%m/%Y %H:%M)"),
            "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/manifest.json") && !FileManager.default.fileExists(atPath: dir + "/clv.md"))
    }
}
