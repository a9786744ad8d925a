import Base
import Economics
import Forest
import Foundation
import PipelineCLI
import Provenance
import ScoreCLI
import Stats
import Tabular
import TestSupport
import Testing
import Uplift

/// The `score` command end to end, on a small model trained here on synthetic data with numeric and
/// categorical features: in-process where files are read and written, as a process of the same
/// build where standard input and output are.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runScore(_ args: [String], input: String? = nil) throws -> CommandResult {
    if input == nil && !args.contains("-") {
        let (status, captured) = Console.capturing { ScoreCommand.pipelineRun(args) }
        return CommandResult(status: status, stdout: captured.stdout, stderr: captured.stderr)
    }
    let r = try Shell.run([try builtProduct("score")] + args, input: input.map { Array($0.utf8) })
    return CommandResult(status: r.status, stdout: r.stdout, stderr: r.stderr)
}

struct Fixture {
    let dir: String
    let models: String

    static let zips = ["Rural", "Surburban", "Urban"]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("score-cli-\(UUID().uuidString)").path
        models = dir + "/models"
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 42)
        let n = 3000
        var recency = [Double](), history = [Double](), zip = [String](), arm = [Int](), y = [Double]()
        for _ in 0..<n {
            let r = Double(1 + g.next(below: 12)), h = 30 + 500 * g.nextUnit(), z = Fixture.zips[g.next(below: 3)], a = g.next(below: 3)
            recency.append(r); history.append(h); zip.append(z); arm.append(a)
            let effect = a == 0 ? 0 : (a == 1 ? 0.01 * h : 3 - 0.2 * r)
            y.append(effect + (z == "Urban" ? 1 : 0) + g.nextUnit())
        }
        let table = Table(
            source: "train.csv", names: ["recency", "history", "zip_code"],
            columns: [.double(recency), .double(history), .string(StringColumn(zip))])
        let encoder = try FeatureEncoder(fitting: table, features: [("recency", false), ("history", false), ("zip_code", true)])
        let (x, _) = try encoder.encode(table)
        let fit = try Learners.fit(
            LearnerConfig(kind: .t, outcome: ForestSettings(nTrees: 20, maxDepth: 5, minSamplesLeaf: 10)),
            data: TrainingData(x: x, y: y, arm: arm, armNames: ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]),
            perArm: true, seed: 9)
        let model = UpliftModel(encoder: encoder, forests: fit.forests, outputs: fit.outputs)
        let forests = model.forestBytes()
        let meta = ModelMeta(
            formatVersion: UpliftModel.formatVersion, dataset: "synthetic", idColumn: "row_id", featureCols: encoder.featureNames,
            numCols: ["recency", "history"], catCols: ["zip_code"], categories: ["zip_code": Fixture.zips],
            treatment: .init(
                armColumn: "segment", controlArm: "No E-Mail", arms: ["No E-Mail", "Mens E-Mail", "Womens E-Mail"],
                treatmentColumn: "treatment", definition: "any e-mail", propensity: fit.propensity,
                armPropensities: fit.armPropensities),
            target: "spend", learner: "t", learnerParams: .null, trainingFile: "train.csv", trainingFileSHA256: "-",
            trainingRows: n, forestsFile: UpliftModel.forestsFile, forestsSHA256: SHA256.hex(of: forests),
            forestFormatVersion: Int(ForestFormat.version), outputs: fit.outputs)
        try AtomicFile.write(forests, to: models + "/forests.bin")
        try AtomicFile.write(try model.encoderJSON(), to: models + "/encoder.json")
        try AtomicFile.write(try UpliftModel.metaJSON(meta), to: models + "/meta.json")
        try AtomicFile.write(try UpliftModel.jsonBytes(try DriftReference(training: table, encoder: encoder)), to: models + "/drift_reference.json")
        let economics = try CampaignEconomics(margin: 0.30, arms: ["Mens E-Mail", "Womens E-Mail"], costs: [0.05, 0.05])
        try AtomicFile.write(
            RecordedEconomics(economics: economics, scorerPolicy: "bestN", recommendedPolicy: "best_n", outcome: "spend").jsonBytes(),
            to: models + "/" + RecordedEconomics.file)
    }

    /// A contact list in the model's schema (plus an id and an unused column).
    func contacts(rows: Int, seed: UInt64, recencyShift: Double = 0, withID: Bool = true) -> String {
        var g = SeededGenerator(seed: seed)
        var text = (withID ? "row_id," : "") + "channel,recency,history,zip_code\n"
        for i in 0..<rows {
            let r = Double(1 + g.next(below: 12)) + recencyShift, h = 30 + 500 * g.nextUnit()
            text += (withID ? "\(1000 + i)," : "") + "Web,\(formatDouble(r)),\(formatDouble(h)),\(Fixture.zips[g.next(below: 3)])\n"
        }
        return text
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func score(_ args: [String], input: String? = nil) throws -> CommandResult {
        try runScore(["--models", models] + args, input: input)
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
}

@Suite("score CLI", .serialized)
struct ScoreCLITests {
    let f: Fixture
    init() throws { f = try Fixture() }

    @Test func missingColumnsAreNamedAndNoOutputIsLeft() throws {
        let input = try f.write("row_id,channel,zip_code\n1,Web,Urban\n", "missing.csv")
        let out = f.dir + "/out.csv"
        let r = try f.score(["--in", input, "--out", out, "--policy", "positive"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("missing required columns 'recency', 'history'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test(arguments: [("abc", "cannot parse 'abc'"), ("", "empty"), ("NaN", "NaN")])
    func badNumbersNameLineAndColumn(value: String, fragment: String) throws {
        // Small chunks, so the bad value sits in a later chunk than the first: its line must still be right.
        var text = f.contacts(rows: 5000, seed: 1)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var fields = lines[4321].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[2] = value
        lines[4321] = fields.joined(separator: ",")
        text = lines.joined(separator: "\n")
        let input = try f.write(text, "bad.csv")
        let out = f.dir + "/bad-out.csv"
        let r = try f.score(["--in", input, "--out", out, "--policy", "bestN", "--chunk-bytes", "4096"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: \(input):4322:3 (column 'recency')"), "\(r.stderr)")
        #expect(r.stderr.lowercased().contains(fragment.lowercased()), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: out + ".drift.json"))
    }

    @Test func unknownCategoriesAreScoredAndCounted() throws {
        let input = try f.write("row_id,recency,history,zip_code\n1,3,100,Mars\n2,3,100,Urban\n3,4,90,Venus\n", "unknown.csv")
        let r = try f.score(["--in", input, "--out", f.dir + "/unknown-out.csv", "--policy", "positive"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("2 values had categories not seen in training"), "\(r.stderr)")
        #expect(try f.read(f.dir + "/unknown-out.csv").split(separator: "\n").count == 4)
    }

    @Test func stdinAndStdoutGiveTheFileResult() throws {
        let text = f.contacts(rows: 500, seed: 2)
        let input = try f.write(text, "io.csv")
        let out = f.dir + "/io-out.csv"
        #expect(try f.score(["--in", input, "--out", out, "--policy", "bestN"]).status == 0)
        let piped = try f.score(["--in", "-", "--out", "-", "--policy", "bestN"], input: text)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout == (try f.read(out)))
        #expect(piped.stderr.contains("scored 500 rows"))
    }

    @Test func chunksConcatenatedEqualTheWholeFile() throws {
        for withID in [true, false] {
            let text = f.contacts(rows: 900, seed: 3, withID: withID)
            let lines = text.split(separator: "\n").map(String.init)
            let header = lines[0]
            let whole = f.dir + "/whole-\(withID).csv"
            #expect(try f.score(["--in", try f.write(text, "whole-in-\(withID).csv"), "--out", whole, "--policy", "positive"]).status == 0)
            var concatenated: [Substring] = []
            for (k, range) in [1..<300, 300..<651, 651..<901].enumerated() {
                let part = try f.write(([header] + lines[range]).joined(separator: "\n") + "\n", "part\(k)-\(withID).csv")
                let out = f.dir + "/part\(k)-out-\(withID).csv"
                let r = try f.score(["--in", part, "--out", out, "--policy", "positive", "--first-row-id", String(range.lowerBound - 1)])
                #expect(r.status == 0, "\(r.stderr)")
                let body = try f.read(out).split(separator: "\n")
                concatenated += k == 0 ? body : Array(body.dropFirst())
            }
            #expect(concatenated.joined(separator: "\n") + "\n" == (try f.read(whole)))
        }
    }

    @Test func rankingBeyondMemoryEqualsInMemory() throws {
        let input = try f.write(f.contacts(rows: 1234, seed: 4), "rank.csv")
        for policy in ["bestN", "topn"] {
            let a = f.dir + "/rank-mem-\(policy).csv", b = f.dir + "/rank-spill-\(policy).csv"
            let extra = policy == "topn" ? ["--topn", "100"] : []
            #expect(try f.score(["--in", input, "--out", a, "--policy", policy] + extra).status == 0)
            #expect(try f.score(["--in", input, "--out", b, "--policy", policy, "--max-rows-in-memory", "50"] + extra).status == 0)
            let ranked = try f.read(a)
            #expect(ranked == (try f.read(b)))
            let rows = ranked.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            // Ranks 1...n in order, uplift non-increasing.
            #expect(rows.map { Int($0[1])! } == Array(1...1234))
            let uplift = rows.map { Double($0[2])! }
            #expect(zip(uplift, uplift.dropFirst()).allSatisfy { $0 >= $1 })
            if policy == "topn" { #expect(rows.filter { $0.last == "1" }.count == 100) }
        }
        let r = try f.score(["--in", input, "--out", f.dir + "/x.csv", "--policy", "topn"])
        #expect(r.status == 2 && r.stderr.contains("--topn"))
    }

    @Test func driftFlagsAShiftedInput() throws {
        let same = try f.write(f.contacts(rows: 3000, seed: 5), "same.csv")
        let shifted = try f.write(f.contacts(rows: 3000, seed: 5, recencyShift: 6), "shifted.csv")
        let a = try f.score(["--in", same, "--out", f.dir + "/same-out.csv", "--policy", "positive"])
        #expect(a.status == 0 && !a.stderr.contains("drift"), "\(a.stderr)")
        let b = try f.score(["--in", shifted, "--out", f.dir + "/shifted-out.csv", "--policy", "positive"])
        #expect(b.status == 0)
        #expect(b.stderr.contains("PSI of 'recency'"), "\(b.stderr)")
        #expect(!b.stderr.contains("PSI of 'history'"))
        let sidecar = try JSONValue.parse(file: f.dir + "/shifted-out.csv.drift.json")
        #expect(sidecar["features"]?["recency"]?["warning"] == .bool(true))
        #expect(sidecar["features"]?["history"]?["warning"] == .bool(false))
    }

    @Test func corruptModelIsRejected() throws {
        var bytes = [UInt8](FileManager.default.contents(atPath: f.models + "/forests.bin")!)
        bytes[bytes.count / 3] ^= 1
        try AtomicFile.write(bytes, to: f.models + "/forests.bin")
        let input = try f.write(f.contacts(rows: 10, seed: 6), "c.csv")
        let r = try f.score(["--in", input, "--out", f.dir + "/c-out.csv"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("corrupt or replaced"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.dir + "/c-out.csv"))
    }

    @Test func recordedEconomicsDecideAndFlagsOverride() throws {
        let input = try f.write(f.contacts(rows: 800, seed: 7), "econ.csv")
        func contacts(_ extra: [String]) throws -> (Int, [String: Int], String) {
            let out = f.dir + "/econ-out.csv"
            let r = try f.score(["--in", input, "--out", out, "--policy", "positive"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try f.read(out).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            var arms: [String: Int] = [:]
            for row in rows where row.last == "1" { arms[String(row[row.count - 4]), default: 0] += 1 }
            return (arms.values.reduce(0, +), arms, r.stdout)
        }
        let (recorded, _, _) = try contacts([])
        // The same numbers as flags: the same decisions.
        #expect(try contacts(["--margin", "0.3", "--cost", "0.05"]).0 == recorded)
        // A dearer Womens e-mail moves customers to Mens or out of the list, never into Womens.
        let (_, before, _) = try contacts([])
        let (_, after, _) = try contacts(["--arm-cost", "Womens E-Mail=5"])
        #expect((after["Womens E-Mail"] ?? 0) < (before["Womens E-Mail"] ?? 0))
        #expect((after["Mens E-Mail"] ?? 0) >= (before["Mens E-Mail"] ?? 0))
        // Recorded economics with a higher cost contact fewer customers.
        let economics = try CampaignEconomics(margin: 0.30, arms: ["Mens E-Mail", "Womens E-Mail"], costs: [0.5, 0.5])
        try AtomicFile.write(
            RecordedEconomics(economics: economics, scorerPolicy: "positive", recommendedPolicy: "positive", outcome: "spend").jsonBytes(),
            to: f.models + "/" + RecordedEconomics.file)
        #expect(try contacts([]).0 < recorded)
        // The recorded policy is the default: positive keeps input order (no rank column).
        let r = try f.score(["--in", input, "--out", f.dir + "/econ-default.csv"])
        #expect(r.status == 0)
        #expect(!(try f.read(f.dir + "/econ-default.csv")).hasPrefix("row_id,rank"))
    }

    @Test(arguments: [
        (["--margin", "30"], "--margin 30 is not a share of revenue"),
        (["--margin", "0"], "--margin 0 is not a share of revenue"),
        (["--margin", "1e308"], "--margin 1e+308 is not a share of revenue"),
        (["--cost=-1"], "must be finite and non-negative"),
        (["--arm-cost", "Kids E-Mail=0.1"], "no arm 'Kids E-Mail' in the model"),
        (["--arm-cost", "Mens E-Mail"], "is not NAME=COST"),
        (["--topn", "5"], "--topn applies only to --policy topn"),
    ])
    func economicFlagsAreChecked(flags: [String], message: String) throws {
        let input = try f.write(f.contacts(rows: 20, seed: 8), "flags.csv")
        let out = f.dir + "/flags-out.csv"
        let r = try f.score(["--in", input, "--out", out] + flags)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func withoutRecordedEconomicsTheFlagsAreNeeded() throws {
        try FileManager.default.removeItem(atPath: f.models + "/" + RecordedEconomics.file)
        let input = try f.write(f.contacts(rows: 20, seed: 9), "noecon.csv")
        let r = try f.score(["--in", input, "--out", f.dir + "/noecon-out.csv"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("economics.json is missing (the policy stage writes it): give --margin and --cost"), "\(r.stderr)")
        #expect(try f.score(["--in", input, "--out", f.dir + "/noecon-out.csv", "--margin", "0.3", "--cost", "0.05"]).status == 0)
    }

    /// The header of a scorer output and its first column's values.
    func idsOf(_ path: String) throws -> (header: [String], ids: [String]) {
        let table = try CSVReader.read(path: path, schema: CSVSchema([ColumnSpec(try CSVReader.header(path: path)[0], .string)]))
        return (try CSVReader.header(path: path), try table.strings(table.names[0]).values)
    }

    @Test func idColumnKeepsItsNameAndValues() throws {
        // String keys (one quoted, one with leading zeros) under the campaign's own column name.
        let keys = ["C-001", "\"Smith, J.\"", "0042", "K9"]
        var text = "customer_key,channel,recency,history,zip_code\n"
        for (i, key) in keys.enumerated() { text += "\(key),Web,\(i + 1),\(100 + 10 * i),Urban\n" }
        let input = try f.write(text, "keyed.csv")
        for policy in ["positive", "bestN"] {
            let out = f.dir + "/keyed-\(policy).csv"
            let r = try f.score(["--in", input, "--out", out, "--policy", policy, "--id-col", "customer_key"])
            #expect(r.status == 0, "\(r.stderr)")
            let (header, ids) = try idsOf(out)
            #expect(header.first == "customer_key")
            #expect(header.dropFirst().first == (policy == "bestN" ? "rank" : "uplift_hat"))
            #expect(Set(ids) == ["C-001", "Smith, J.", "0042", "K9"])
            if policy == "positive" { #expect(ids == ["C-001", "Smith, J.", "0042", "K9"]) }
        }
        // A column that is not there is named; so is an id column that would clash with an output column.
        let missing = try f.score(["--in", input, "--out", f.dir + "/keyed-missing.csv", "--id-col", "customer_id"])
        #expect(missing.status == 2 && missing.stderr.contains("id column 'customer_id' not in the header"), "\(missing.stderr)")
        let clash = try f.write("uplift_hat,recency,history,zip_code\nA,1,100,Urban\n", "clash.csv")
        let r = try f.score(["--in", clash, "--out", f.dir + "/clash-out.csv", "--id-col", "uplift_hat"])
        #expect(r.status == 2 && r.stderr.contains("has the name of an output column"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.dir + "/clash-out.csv"))
    }

    @Test func defaultIdIsTheModelsIdColumnThenRowIdThenRowNumbers() throws {
        // The model records the campaign's id column, as the uplift stage does for a keyed campaign.
        var meta = try UpliftModel.decodeJSON(ModelMeta.self, path: f.models + "/meta.json")
        meta.idColumn = "customer_key"
        try AtomicFile.write(try UpliftModel.metaJSON(meta), to: f.models + "/meta.json")
        func run(_ text: String, _ name: String) throws -> (header: [String], ids: [String]) {
            let out = f.dir + "/\(name)-out.csv"
            let r = try f.score(["--in", try f.write(text, name + ".csv"), "--out", out, "--policy", "positive"])
            #expect(r.status == 0, "\(r.stderr)")
            return try idsOf(out)
        }
        let both = try run("row_id,customer_key,recency,history,zip_code\n7,A7,1,100,Urban\n8,B8,2,90,Rural\n", "both")
        #expect(both.header.first == "customer_key" && both.ids == ["A7", "B8"])
        let rowID = try run("row_id,recency,history,zip_code\n7,1,100,Urban\n8,2,90,Rural\n", "rowid")
        #expect(rowID.header.first == "row_id" && rowID.ids == ["7", "8"])
        let none = try run("recency,history,zip_code\n1,100,Urban\n2,90,Rural\n", "none")
        #expect(none.header.first == "row_id" && none.ids == ["0", "1"])
        // --id-col wins over the model's column.
        let out = f.dir + "/named-out.csv"
        let input = try f.write("row_id,customer_key,recency,history,zip_code\n7,A7,1,100,Urban\n", "named.csv")
        #expect(try f.score(["--in", input, "--out", out, "--policy", "positive", "--id-col", "row_id"]).status == 0)
        #expect(try idsOf(out).header.first == "row_id")
    }

    @Test func bestNGivesEachCustomerTheMostProfitableArm() throws {
        let input = try f.write(f.contacts(rows: 600, seed: 10), "bestn-costs.csv")
        func bestArms(_ extra: [String]) throws -> [String: Int] {
            let out = f.dir + "/bestn-costs-out.csv"
            let r = try f.score(["--in", input, "--out", out, "--policy", "bestN"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let header = try CSVReader.header(path: out)
            let table = try CSVReader.read(path: out, schema: CSVSchema([ColumnSpec("best_arm", .string)]))
            #expect(header.contains("best_arm"))
            var counts: [String: Int] = [:]
            for arm in try table.strings("best_arm").values { counts[arm, default: 0] += 1 }
            return counts
        }
        // Womens has the larger uplift for some customers; priced at 5 it is nobody's most profitable arm.
        #expect((try bestArms([]))["Womens E-Mail", default: 0] > 0)
        #expect(try bestArms(["--arm-cost", "Womens E-Mail=5"]) == ["Mens E-Mail": 600])
    }
}
