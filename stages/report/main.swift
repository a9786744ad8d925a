import ArgumentParser
import Base
import Foundation
import PipelineCLI
import Provenance
import Reporting
import Tabular

struct ReportStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage-report",
        abstract:
            "Writes reports/index.md: links to the stage reports and each stage's manifest in short (inputs, outputs, parameters, code, tools, wall time).")

    @Option(name: .customLong("manifest"), help: "A stage manifest (repeatable), in pipeline order.")
    var manifests: [String] = []

    @Option(help: "Index report to write.")
    var out = "reports/index.md"

    func run() throws {
        var md = Markdown()
        md.heading(1, "Pipeline reports")
        md.paragraph(
            "Profit-driven marketing pipeline. Each stage's report is linked below, followed by the provenance of what it produced: input and output files with SHA-256 (first 12 hex digits shown; full digests in each `manifest.json`), parameters, code version and tools."
        )
        var overview: [[String]] = []
        var details = Markdown()
        for path in manifests {
            let m = try JSONValue.parse(file: path)
            let stage = m["stage"]?.stringValue ?? "?"
            let outputs = outputEntries(m)
            let report = outputs.first { $0.path.hasPrefix("reports/") && $0.path.hasSuffix(".md") }?.path
            let link = report.map { "[\(stage)](\(relativePath(from: out, to: $0)))" } ?? stage
            let commit = m["code"]?["git_commit"]?.stringValue.map { String($0.prefix(10)) } ?? "?"
            let dirty: Bool = { if case .bool(true)? = m["code"]?["git_dirty"] { return true } else { return false } }()
            let seconds = m["wall_seconds"]?.numberValue.map { Fmt.fixed($0, 2) + " s" } ?? "?"
            overview.append([link, "\(outputEntries(m, key: "inputs").count)", "\(outputs.count)", commit + (dirty ? " (modified)" : ""), seconds])

            details.heading(2, "Stage \(stage)")
            details.paragraph("Manifest: `\(path)`. Started \(m["started_at"]?.stringValue ?? "?"), wall time \(seconds).")
            let fileRows: ([FileEntry], String) -> [[String]] = { entries, role in
                entries.map { [role, "`\($0.path)`", Fmt.int($0.bytes), "`\(String($0.sha256.prefix(12)))`"] }
            }
            details.table(
                ["role", "file", "bytes", "sha256"],
                fileRows(outputEntries(m, key: "inputs"), "input") + fileRows(outputs, "output"),
                rightAligned: [false, false, true, false])
            if case .object(let tools)? = m["tools"] {
                details.paragraph("Tools: " + tools.keys.sorted().map { "\($0) \(tools[$0]?.stringValue ?? "?")" }.joined(separator: "; ") + ".")
            }
            if let params = m["parameters"] {
                details.code(params.rendered(), language: "json")
            }
        }
        md.table(["stage", "inputs", "outputs", "commit", "wall time"], overview, rightAligned: [false, true, true, false, true])
        md.paragraph(
            "The campaign simulator (`serve`, the page at `/`): [screenshot](figures/serve/simulator.png), taken by the browser test (`make test` once the pipeline has run)."
        )
        let text = md.text + "\n" + details.text
        try AtomicFile.write(text, to: out)
        print("report: \(manifests.count) stages -> \(out)")
    }

    struct FileEntry {
        var path: String
        var sha256: String
        var bytes: Double
    }

    func outputEntries(_ m: JSONValue, key: String = "outputs") -> [FileEntry] {
        guard case .array(let items)? = m[key] else { return [] }
        return items.map { FileEntry(path: $0["path"]?.stringValue ?? "?", sha256: $0["sha256"]?.stringValue ?? "", bytes: $0["bytes"]?.numberValue ?? 0) }
    }
}

ReportStage.pipelineMain()
