import Base
import Foundation
import Provenance
import Testing
import Workbook

/// End-to-end checks of the Make-driven pipeline. Run through `make test`, which builds the
/// release executables first (a nested `swift build` inside `swift test` would wait on SwiftPM's
/// lock). Make runs in a temporary copy of the project, never in the working tree.
let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let releaseDir = projectRoot + "/.build/release"

/// The release executables, refused when any source is newer than the last build (so a test
/// never passes or fails on a stale binary).
func releaseBinaries() throws -> String {
    let stamp = projectRoot + "/.build/stamps/build.mk"
    func mtime(_ path: String) -> Date? { (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date }
    guard let built = mtime(stamp) else { throw PipelineError("no release build (\(stamp)): run `make build` or `make test`") }
    var sources = [projectRoot + "/Package.swift"]
    for dir in ["Sources", "stages", "cli", "bench"] {
        for f in FileManager.default.enumerator(atPath: projectRoot + "/" + dir)?.compactMap({ $0 as? String }) ?? []
        where [".swift", ".c", ".h", ".modulemap"].contains(where: f.hasSuffix) { sources.append(projectRoot + "/" + dir + "/" + f) }
    }
    if let newer = sources.first(where: { (mtime($0) ?? .distantPast) > built }) {
        throw PipelineError("\(newer) is newer than the release build: run `make build` or `make test`")
    }
    return releaseDir
}

/// A copy of the project in a temporary folder: the tracked files, the raw data and whatever the
/// last run left (times preserved, so make sees the same state), with the build's stamps. Make
/// runs there with the project's release executables.
struct ProjectCopy {
    let dir: String

    init() throws {
        let bin = try releaseBinaries()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/.build", withIntermediateDirectories: true)
        let script = """
            set -e
            git ls-files -z | xargs -0 cp -a --parents -t "$1"
            for d in data/raw data/processed data/schema models reports; do [ -e "$d" ] && cp -a --parents "$d" "$1"; done
            cp -a .build/stamps "$1/.build/stamps"
            """
        let r = try Shell.run(["bash", "-c", script, "copy", dir], directory: projectRoot)
        guard r.status == 0 else { throw PipelineError("copying the project failed: \(r.stderr)") }
        _ = bin
    }

    /// Make as a new user runs it: not as a sub-make of `make test` (whose variables, passed down in
    /// MAKEFLAGS, are the working tree's; a SWIFT wrapper holding the build lock would deadlock).
    static let make = ["-u", "MAKEFLAGS", "-u", "MAKELEVEL", "-u", "MFLAGS", "-u", "SWIFT", "-u", "CONFIG", "-u", "BIN", "make", "--no-print-directory"]

    func make(_ args: [String]) throws -> String {
        let r = try Shell.run(Self.make + ["BIN=\(releaseDir)"] + args, directory: dir)
        #expect(r.status == 0, "make \(args.joined(separator: " ")) failed: \(r.stderr)")
        return r.stdout + r.stderr
    }

    /// Exit status of `make -q` (0: nothing to do) and the stage commands `make -n` would run.
    func question(_ args: [String]) throws -> (status: Int32, wouldRun: [String]) {
        let q = try Shell.run(Self.make + ["-q", "BIN=\(releaseDir)"] + args, directory: dir)
        let n = try Shell.run(Self.make + ["-n", "BIN=\(releaseDir)"] + args, directory: dir)
        let stages = n.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix(releaseDir + "/stage-") else { return nil }
            return String(line.dropFirst(releaseDir.count + 1).prefix { $0 != " " })
        }
        return (q.status, stages)
    }

    func touch(_ relative: String) throws {
        // make compares modification times (nanosecond resolution here); the previous run's outputs
        // are all older than now. A time in the future would make the next run re-run it again.
        Thread.sleep(forTimeInterval: 0.05)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: dir + "/" + relative)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

func ran(_ output: String, _ stage: String) -> Bool {
    output.split(separator: "\n").contains { $0.contains("/\(stage) ") || $0.hasSuffix("/\(stage)") }
}

@Suite("Pipeline caching and determinism", .serialized)
struct PipelineTests {
    @Test("make all twice: the second run does nothing, and a dry run says so; touching a params file re-runs only its dependents")
    func caching() throws {
        let project = try ProjectCopy()
        defer { project.remove() }
        _ = try project.make(["all"])
        let second = try project.make(["all"])
        for stage in ["stage-data", "stage-prepare", "stage-eda", "stage-clv", "stage-uplift", "stage-report"] {
            #expect(!ran(second, stage), "second run re-ran \(stage):\n\(second)")
        }
        #expect(second.contains("Nothing to be done"))
        let settled = try project.question(["all"])
        #expect(settled.status == 0, "make -q all after make all")
        #expect(settled.wouldRun.isEmpty, "make -n all lists \(settled.wouldRun)")

        try project.touch("stages/eda/params.yaml")
        #expect(try project.question(["all"]).wouldRun == ["stage-eda", "stage-report"])
        let afterEDA = try project.make(["all"])
        #expect(ran(afterEDA, "stage-eda"))
        #expect(ran(afterEDA, "stage-report"))
        #expect(!ran(afterEDA, "stage-prepare"))
        #expect(!ran(afterEDA, "stage-data"))
        #expect(try project.question(["all"]).status == 0)

        // Prepare re-runs; its outputs come out identical and are left untouched, so the
        // analysis that reads them does not re-run (only the index, which reads the manifest).
        // A dry run cannot know that the outputs will not change, so it lists what depends on them.
        try project.touch("stages/prepare/params.yaml")
        #expect(
            try project.question(["all"]).wouldRun == [
                "stage-prepare", "stage-eda", "stage-uplift", "stage-policy", "stage-plan", "stage-parity", "stage-report",
            ])
        let afterPrepare = try project.make(["all"])
        #expect(ran(afterPrepare, "stage-prepare"))
        #expect(!ran(afterPrepare, "stage-data"))
        #expect(!ran(afterPrepare, "stage-eda"))
        #expect(!ran(afterPrepare, "stage-uplift"))
        #expect(ran(afterPrepare, "stage-report"))
        let afterPrepareSettled = try project.question(["all"])
        #expect(afterPrepareSettled.status == 0 && afterPrepareSettled.wouldRun.isEmpty, "\(afterPrepareSettled.wouldRun)")

        // Policy params: policy re-runs, and the index; nothing upstream. Its outputs did not change,
        // so the parity gate (which reads its decisions and economics) does not re-run either.
        try project.touch("stages/policy/params.yaml")
        let afterPolicy = try project.make(["all"])
        #expect(ran(afterPolicy, "stage-policy"))
        #expect(ran(afterPolicy, "stage-report"))
        for stage in ["stage-data", "stage-prepare", "stage-eda", "stage-clv", "stage-uplift", "stage-parity"] {
            #expect(!ran(afterPolicy, stage), "touching policy params re-ran \(stage)")
        }

        let last = try project.make(["all"])
        #expect(last.contains("Nothing to be done"))

    }

    @Test("two runs of prepare and eda give byte-identical artifacts")
    func determinism() throws {
        let bin = try releaseBinaries()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("det-\(UUID().uuidString)").path
        var digests: [[String: String]] = []
        for k in 0..<2 {
            let base = "\(tmp)/run\(k)"
            for args in [
                [bin + "/stage-prepare", "--project", "project.yaml", "--out", base + "/prepare"],
                [bin + "/stage-eda", "--prepared", base + "/prepare", "--out", base + "/eda", "--figures", base + "/figures", "--report", base + "/eda.md"],
            ] {
                let r = try Shell.run(args, directory: projectRoot)
                #expect(r.status == 0, "\(args[0]) failed: \(r.stderr)")
            }
            var d: [String: String] = [:]
            let files = FileManager.default.enumerator(atPath: base)!.compactMap { $0 as? String }
            for f in files where !f.hasSuffix("manifest.json") {
                var isDir: ObjCBool = false
                FileManager.default.fileExists(atPath: base + "/" + f, isDirectory: &isDir)
                if !isDir.boolValue { d[f] = try SHA256.hex(ofFile: base + "/" + f) }
            }
            digests.append(d)
        }
        #expect(digests[0].count >= 15)
        #expect(digests[0] == digests[1])
        try? FileManager.default.removeItem(atPath: tmp)
    }

    @Test("uplift: byte-identical models, scores and report with 1 and 2 threads")
    func upliftThreads() throws {
        let bin = try releaseBinaries()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("uplift-threads-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        // Smaller forests than the pipeline's, same code paths (every learner, per-arm models, bootstrap).
        // The tuned forests keep 40 trees, enough for every row to be out of bag in one of them (the
        // DR-learner's out-of-bag predictions).
        let params = try String(contentsOfFile: projectRoot + "/stages/uplift/params.yaml", encoding: .utf8)
            .replacingOccurrences(of: "n_trees: 300", with: "n_trees: 12")
            .replacingOccurrences(of: "n_trees: 100", with: "n_trees: 8")
            .replacingOccurrences(of: "final_trees: 300", with: "final_trees: 40")
            .replacingOccurrences(of: "outcomes: [spend, visit, conversion]", with: "outcomes: [spend, conversion]")
        try params.write(toFile: tmp + "/params.yaml", atomically: true, encoding: .utf8)
        // Its own prepared split: the working tree may have none yet (CI tests before it runs the pipeline).
        let prepared = try Shell.run([bin + "/stage-prepare", "--project", "project.yaml", "--out", tmp + "/prepare"], directory: projectRoot)
        #expect(prepared.status == 0, "stage-prepare failed: \(prepared.stderr)")
        var digests: [[String: String]] = []
        for threads in [1, 2] {
            let base = "\(tmp)/threads\(threads)"
            let r = try Shell.run(
                [
                    "/usr/bin/env", "FOREST_THREADS=\(threads)", bin + "/stage-uplift", "--params", tmp + "/params.yaml",
                    "--prepared", tmp + "/prepare", "--out", base + "/out", "--models", base + "/models", "--schema", base + "/schema.csv",
                    "--figures", base + "/figures", "--report", base + "/uplift.md",
                ], directory: projectRoot)
            #expect(r.status == 0, "stage-uplift failed: \(r.stderr)")
            var d: [String: String] = [:]
            for f in FileManager.default.enumerator(atPath: base)!.compactMap({ $0 as? String }) where !f.hasSuffix("manifest.json") {
                var isDir: ObjCBool = false
                FileManager.default.fileExists(atPath: base + "/" + f, isDirectory: &isDir)
                if !isDir.boolValue { d[f] = try SHA256.hex(ofFile: base + "/" + f) }
            }
            digests.append(d)
        }
        #expect(digests[0]["models/forests.bin"] != nil)
        #expect(digests[0]["out/test_scores.csv"] != nil)
        #expect(digests[0] == digests[1])
        try? FileManager.default.removeItem(atPath: tmp)
    }

    @Test("the policy spreadsheet pack reads back with the project's workbook reader and matches the CSV tables")
    func policyPack() throws {
        let project = try ProjectCopy()
        defer { project.remove() }
        _ = try project.make(["policy"])
        let book = try Workbook.open(path: project.dir + "/data/processed/policy/policy_pack.xlsx")
        #expect(book.sheetNames == ["profit curve", "deciles", "sensitivity", "policies", "contact list sample"])
        for (sheet, csv) in [("profit curve", "policy_curve.csv"), ("sensitivity", "policy_sensitivity.csv"), ("deciles", "policy_deciles.csv")] {
            let rows = try book.rows(sheet: sheet)
            let text = try String(contentsOfFile: project.dir + "/data/processed/policy/" + csv, encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(rows == lines, "sheet \(sheet) differs from \(csv)")
        }
        let sample = try book.rows(sheet: "contact list sample")
        #expect(sample.first == ["row_id", "arm", "rank", "uplift", "expected_profit"])
        #expect(sample.count > 1)
    }

    @Test("bad input: one clear error line, exit code 2, no output left behind")
    func badInput() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let csv = tmp + "/hillstrom.csv"
        try "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\n10,a,1x2,1,0,Rural,0,Web,No E-Mail,0,0,0\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let project = try String(contentsOfFile: projectRoot + "/project.yaml", encoding: .utf8)
            .replacingOccurrences(of: "file: data/raw/hillstrom.csv", with: "file: \(csv)")
        try project.write(toFile: tmp + "/project.yaml", atomically: true, encoding: .utf8)
        let r = try Shell.run([
            try releaseBinaries() + "/stage-prepare", "--project", tmp + "/project.yaml", "--params", projectRoot + "/stages/prepare/params.yaml", "--out",
            tmp + "/out",
        ])
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(csv):2:3 (column 'history'): cannot parse '1x2' as a finite number\n")
        #expect(!FileManager.default.fileExists(atPath: tmp + "/out"))
        try? FileManager.default.removeItem(atPath: tmp)
    }
}
