import Foundation
import TestSupport
import Testing

@testable import Base
@testable import PipelineCLI
@testable import Provenance
@testable import Tabular

// A stage that fails leaves nothing that looks complete: no manifest, none of the outputs it
// recorded, no temporary files.

func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// Files under `dir` (relative paths), sorted.
func listing(_ dir: String) -> [String] {
    (FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? [])
        .filter { !isDirectory(dir + "/" + $0) }.sorted()
}

func isDirectory(_ path: String) -> Bool {
    var d: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
}

struct StageFailure: Error {}

@Suite("A stage that fails leaves no complete-looking outputs")
struct FailedStageTests {
    /// A stage body run the way a stage's `run()` runs: the run is a local that goes away with the scope.
    func stage(out: String, failAfterWrites: Bool) throws {
        let run = StageRun(stage: "t", manifestPath: out + "/manifest.json")
        try run.write("a,b\n1,2\n", to: out + "/table.csv")
        try run.write("# report\n", to: out + "/report.md")
        try run.write("evidence\n", to: out + "/why.json")
        run.keepOnFailure(out + "/why.json")
        if failAfterWrites { throw StageFailure() }
        try run.finish()
    }

    @Test("an error after outputs were written removes them and the previous manifest")
    func failureRemovesOutputs() throws {
        let out = try temporaryFolder("run")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try stage(out: out, failAfterWrites: false)
        #expect(listing(out) == ["manifest.json", "report.md", "table.csv", "why.json"])
        try AtomicFile.write("not the stage's\n", to: out + "/notes.txt")

        #expect(throws: StageFailure.self) { try stage(out: out, failAfterWrites: true) }
        // What the failed run recorded is gone, but the failure's evidence it was asked to keep;
        // a file the stage never recorded is not its to delete.
        #expect(listing(out) == ["notes.txt", "why.json"])
    }

    @Test("a finished run keeps everything; starting a run removes the previous manifest")
    func startAndFinish() throws {
        let out = try temporaryFolder("run")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try AtomicFile.write("{}\n", to: out + "/manifest.json")
        let run = StageRun(stage: "t", manifestPath: out + "/manifest.json")
        // A run killed from here on leaves no manifest claiming the half-replaced outputs.
        #expect(!exists(out + "/manifest.json"))
        try run.write("x\n", to: out + "/x.txt")
        try run.finish()
        #expect(run.isFinished)
        run.abandon()  // no effect once finished
        #expect(listing(out) == ["manifest.json", "x.txt"])
    }

    @Test("a write that cannot be placed leaves no temporary file, and the run leaves nothing")
    func failedWrite() throws {
        let out = try temporaryFolder("run")
        defer { try? FileManager.default.removeItem(atPath: out) }
        // A non-empty directory where the output goes: the rename fails.
        try FileManager.default.createDirectory(atPath: out + "/blocked.csv/inside", withIntermediateDirectories: true)
        do {
            let run = StageRun(stage: "t", manifestPath: out + "/manifest.json")
            try run.write("first\n", to: out + "/first.csv")
            #expect(throws: DataError.self) { try run.write("second\n", to: out + "/blocked.csv") }
            #expect(listing(out) == ["first.csv"])
            run.abandon()
        }
        #expect(listing(out).isEmpty, "\(listing(out))")
        #expect(isDirectory(out + "/blocked.csv/inside"), "a directory in an output's place is not removed")
    }
}

/// A small randomized campaign file with the Hillstrom columns.
func smallCampaign(rows: Int = 60) -> String {
    let arms = ["Mens E-Mail", "Womens E-Mail", "No E-Mail"]
    var text = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\n"
    for i in 0..<rows {
        text += "\(i % 12 + 1),\(i % 3 + 1)) segment,\(Double(i) * 10.5),\(i % 2),\((i + 1) % 2),Rural,\(i % 2),Web,\(arms[i % 3]),\(i % 4 == 0 ? 1 : 0),0,0\n"
    }
    return text
}

@Suite("Failed stages through the binaries")
struct FailedStageBinaryTests {
    @Test("stage-prepare failing after train.csv and test.csv were written leaves neither, and no manifest")
    func prepareFailsMidway() throws {
        let dir = try temporaryFolder("prepare")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(smallCampaign(), to: dir + "/campaign.csv")
        let project = try String(contentsOfFile: packageRoot + "/project.yaml", encoding: .utf8)
            .replacingOccurrences(of: "file: data/raw/hillstrom.csv", with: "file: \(dir)/campaign.csv")
        try AtomicFile.write(project, to: dir + "/project.yaml")
        let out = dir + "/out"
        let prepare = [
            try builtProduct("stage-prepare"), "--project", dir + "/project.yaml", "--params", packageRoot + "/stages/prepare/params.yaml", "--out", out,
        ]
        let ok = try Shell.run(prepare)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(listing(out) == ["dataset.json", "manifest.json", "test.csv", "train.csv"])

        // dataset.json, written last, cannot be placed: a directory holds its name.
        try FileManager.default.removeItem(atPath: out + "/dataset.json")
        try FileManager.default.createDirectory(atPath: out + "/dataset.json", withIntermediateDirectories: true)
        try AtomicFile.write("x\n", to: out + "/dataset.json/x")
        let r = try Shell.run(prepare)
        #expect(r.status == 2)  // AtomicFile reports a file it cannot place as a DataError naming it
        #expect(r.stderr.hasPrefix("error: \(out)/dataset.json: cannot move the finished file into place"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(listing(out) == ["dataset.json/x"], "train.csv, test.csv and the manifest are gone, and no temporary file is left")
    }

    /// A data stage setup: params listing one file, its checksum, a mirror and an output folder.
    struct DataSetup {
        let dir: String
        var raw: String { dir + "/raw" }
        var mirror: String { dir + "/mirror" }
        let good = "a,b\n1,2\n3,4\n"

        init() throws {
            dir = try temporaryFolder("data")
            try FileManager.default.createDirectory(atPath: dir + "/mirror", withIntermediateDirectories: true)
            try AtomicFile.write("files:\n  - name: small.csv\n  - name: other.csv\n", to: dir + "/params.yaml")
            try AtomicFile.write("\(SHA256.hex(of: Array(good.utf8)))  small.csv\n\(SHA256.hex(of: Array("x\n".utf8)))  other.csv\n", to: dir + "/SHA256SUMS")
            try AtomicFile.write(good, to: mirror + "/small.csv")
            try AtomicFile.write("x\n", to: mirror + "/other.csv")
        }

        func stageData(_ extra: [String] = []) throws -> Shell.Result {
            try Shell.run(
                [
                    try builtProduct("stage-data"), "--params", dir + "/params.yaml", "--checksums", dir + "/SHA256SUMS",
                    "--mirror", mirror, "--out", raw,
                ] + extra)
        }
    }

    @Test("--only with a file the params do not list exits 2 naming the valid files, and touches nothing")
    func onlyUnlisted() throws {
        let setup = try DataSetup()
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        #expect(try setup.stageData().status == 0)
        let before = listing(setup.raw)
        let r = try setup.stageData(["--only", "small.csv", "--only", "smal.csv"])
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(setup.dir)/params.yaml: --only smal.csv: not a file these parameters list (valid: small.csv, other.csv)\n")
        #expect(listing(setup.raw) == before)
        #expect(before == ["manifest.json", "other.csv", "small.csv"])
    }

    @Test("a failed re-fetch leaves no manifest claiming the file")
    func failedRefetch() throws {
        let setup = try DataSetup()
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        #expect(try setup.stageData().status == 0)
        let manifest = try JSONValue.parse(file: setup.raw + "/manifest.json")
        #expect(manifest["notes"]?["files"].map { "\($0)".contains("small.csv") } == true)

        // The local copy changed (so it is fetched again) and the mirror's copy is corrupt.
        try AtomicFile.write("a,b\n1,2\n", to: setup.raw + "/small.csv")
        try AtomicFile.write("a,b\n1,2\n3,5\n", to: setup.mirror + "/small.csv")
        let r = try setup.stageData(["--only", "small.csv"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: \(setup.raw)/small.csv: checksum mismatch (from \(setup.mirror)/small.csv)"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        // No manifest at all (so none lists small.csv as verified); the bad copy is set aside under
        // the name the message gives; the untouched file stays; no temporary file.
        #expect(listing(setup.raw) == ["other.csv", "small.csv.bad"])
    }
}
