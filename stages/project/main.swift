import ArgumentParser
import Base
import Foundation
import PipelineCLI
import ProjectSpec
import Provenance
import Tabular

struct ProjectStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-project",
        abstract: "Checks a project file and writes the make variables that run it (its output folder, raw data step, files and stage parameters).",
        discussion: """
            Every key of the project file is checked: a typo, a missing key or a value of the wrong type is an error naming the file, \
            the line and the nearest valid key. The project's output folder is claimed for this project file \
            (<output>/data/processed/project.json): a second project file with the same output folder is refused, so two projects \
            never overwrite each other.
            """)

    @Option(help: "The project file (YAML).")
    var project = "project.yaml"

    @Option(help: "Where to write the make variables; '-' for standard output.")
    var make = "-"

    @Option(
        name: .customLong("record-raw"),
        help: "For a project whose raw files are the user's own (no 'fetch' or 'generate'): check they exist and write this manifest of their checksums.")
    var recordRaw: String?

    func run() throws {
        let (spec, _) = try Params.load(ProjectFile.self, from: project)
        try spec.validate(source: project)
        if spec.rawStep == "local" {
            for (key, path) in [("campaign.file", spec.campaign.file), ("orders.file", spec.orders.file)] where !FileManager.default.fileExists(atPath: path) {
                throw DataError(
                    file: project,
                    message: "'\(key)': no such file '\(path)' (the project has no 'data.fetch' or 'data.generate', so its raw files must be there)")
            }
        }
        if let recordRaw {
            // The user's own raw files: their manifest records what the stages read, as stage-data's does for fetched ones.
            let run = StageRun(stage: "data", manifestPath: recordRaw)
            run.parameters = .object(["project": .string(project), "files": .array(spec.rawInputs.map { .string($0) })])
            for path in spec.rawInputs { run.input(path) }
            try run.finish()
            return
        }
        try claimOutput(spec)
        let fragment = spec.makeFragment(projectPath: project)
        if make == "-" {
            Console.out(String(fragment.dropLast()))
        } else {
            try FileManager.default.createDirectory(atPath: (make as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = try AtomicFile.writeIfChanged(Array(fragment.utf8), to: make)
        }
    }

    /// Records which project file owns the output folder; refuses a folder another project owns.
    func claimOutput(_ spec: ProjectFile) throws {
        let record = spec.outputPrefix + "data/processed/project.json"
        let me = URL(fileURLWithPath: project).standardizedFileURL.path
        if let existing = try? JSONValue.parse(file: record), let owner = existing["project"]?.stringValue {
            let ownerPath = URL(fileURLWithPath: owner).standardizedFileURL.path
            if ownerPath != me && FileManager.default.fileExists(atPath: owner) {
                throw DataError(
                    file: project,
                    message: "'name'/'output': the output folder '\(spec.outputFolder)' belongs to project \(owner); give this project another name or output")
            }
        }
        let text = JSONValue.object(["project": .string(project), "name": .string(spec.name)]).rendered() + "\n"
        try FileManager.default.createDirectory(atPath: (record as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = try AtomicFile.writeIfChanged(Array(text.utf8), to: record)
    }
}

ProjectStage.pipelineMain()
