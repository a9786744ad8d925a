import ArgumentParser
import Base
import Foundation
import PipelineCLI
import Provenance
import RawData
import Tabular

struct DataStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-data",
        abstract: "Gets the raw data files into data/raw: from the data mirror when it has them, else from their public sources; verifies checksums.",
        discussion: """
            The mirror is the folder named by --mirror, else the DATA_MIRROR environment variable, else ../shared/data when it exists. \
            Every file is verified against the checksum list. The Online Retail II CSV can also be built from UCI's published workbook \
            (zip -> .xlsx -> CSV of both sheets); then the workbook's published checksum is verified and the CSV's checksum recorded in the manifest.
            """)

    @Option(help: "Stage parameters (YAML): the files and their public sources.")
    var params = "stages/data/params.yaml"

    @Option(help: "Checksum list (sha256sum format).")
    var checksums = "data/SHA256SUMS"

    @Option(help: "Folder holding the data files (overrides DATA_MIRROR).")
    var mirror: String?

    @Option(help: "Output directory.")
    var out = "data/raw"

    @Option(name: .customLong("only"), help: "Fetch only these files (repeatable); default all.")
    var only: [String] = []

    func run() throws {
        let (p, raw) = try Params.load(DataParams.self, from: params)
        let listed = p.files.map(\.name)
        for name in only where !listed.contains(name) {
            throw DataError(file: params, message: "--only \(name): not a file these parameters list (valid: \(listed.joined(separator: ", ")))")
        }
        let env = ProcessInfo.processInfo.environment["DATA_MIRROR"].flatMap { $0.isEmpty ? nil : $0 }
        let defaultMirror = FileManager.default.fileExists(atPath: "../shared/data") ? "../shared/data" : nil
        let mirrorDir = mirror ?? env ?? defaultMirror
        if let mirrorDir, !FileManager.default.fileExists(atPath: mirrorDir) {
            throw DataError(file: mirrorDir, message: "data mirror folder does not exist (from \(mirror != nil ? "--mirror" : "DATA_MIRROR"))")
        }
        let fetcher = try RawDataFetcher(rawDir: out, mirror: mirrorDir, checksumFile: checksums)
        // Starting the run removes the previous manifest before anything is fetched: a fetch that
        // fails (or a run that is killed) never leaves a manifest claiming a file it did not verify.
        let run = StageRun(stage: "data", manifestPath: out + "/manifest.json")
        run.parameters = raw
        run.input(params)
        run.input(checksums)
        var records: [JSONValue] = [], fetched: [String] = []
        for source in p.files where only.isEmpty || only.contains(source.name) {
            let record = try fetcher.fetch(source)
            fetched.append(out + "/" + source.name)
            records.append(
                .object([
                    "file": .string(source.name), "origin": .string(record.origin.rawValue),
                    "checksum_verified": .bool(record.verified), "detail": .string(record.detail),
                ]))
            print("data: \(source.name): \(record.origin.rawValue)\(record.verified ? ", checksum verified" : ", checksum recorded") (\(record.detail))")
        }
        // Recorded only once every file is in place: an abandoned run removes its recorded outputs,
        // and a raw file checked against its published checksum is complete on its own (removing
        // it would only force another download).
        for path in fetched { run.recordOutput(path) }
        run.notes["files"] = .array(records)
        run.notes["mirror"] = mirrorDir.map { .string($0) } ?? .null
        try run.finish()
    }
}

DataStage.pipelineMain()
