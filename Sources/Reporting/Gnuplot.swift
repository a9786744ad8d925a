import Foundation
import Tabular

/// A gnuplot figure: its data files and script are written beside the PNG so a reader can
/// re-render or restyle it (`cd <dir> && gnuplot <name>.gp`).
public struct Figure {
    public var name: String
    /// Script body without the terminal/output lines (added by `render`).
    public var script: String
    /// Data files by file name, referenced from the script by that name.
    public var data: [(String, [UInt8])]
    public var width: Int
    public var height: Int

    public init(name: String, script: String, data: [(String, [UInt8])], width: Int = 900, height: Int = 560) {
        self.name = name
        self.script = script
        self.data = data
        self.width = width
        self.height = height
    }

    public var fullScript: String {
        """
        # Rendered by the pipeline; re-render with: gnuplot \(name).gp
        set terminal pngcairo size \(width),\(height) font "DejaVu Sans,10" noenhanced
        set output "\(name).png"
        set encoding utf8
        \(script)
        unset output

        """
    }

    /// Writes data, script and PNG into `directory`, returning all paths written. The PNG is
    /// rendered from a temporary copy of the script and moved into place when gnuplot succeeds.
    public func render(into directory: String, write: ([UInt8], String) throws -> Void) throws -> [String] {
        try Self.renderAll([self], into: directory, write: write)
    }

    /// Renders `figures` as `render` renders each, with up to `parallel` gnuplot processes at a
    /// time: every figure's data and script first, then the PNGs as their gnuplots finish, in the
    /// order given (the files, and the order they are written in, do not depend on `parallel`).
    /// On an error the figures already started are waited for and their temporary PNGs removed
    /// before it is thrown.
    public static func renderAll(
        _ figures: [Figure], into directory: String, parallel: Int = Figure.defaultParallel,
        write: ([UInt8], String) throws -> Void
    ) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for figure in figures { try figure.writeSources(into: directory, written: &written, write: write) }
        // One gnuplot per group of consecutive figures (its start-up, fonts included, is most of
        // a small figure's time), as many groups as processes at a time.
        let groups = max(1, min(parallel, figures.count))
        var bounds: [Range<Int>] = []
        for g in 0..<groups { bounds.append(figures.count * g / groups..<figures.count * (g + 1) / groups) }
        var running: [Rendering] = []
        defer { for r in running { r.abandon() } }
        for range in bounds where !range.isEmpty { running.append(try Rendering.start(Array(figures[range]), in: directory)) }
        while !running.isEmpty {
            let first = running.removeFirst()
            try first.finish(written: &written, write: write)
        }
        return written
    }

    /// Writes the data files and the script.
    private func writeSources(into directory: String, written: inout [String], write: ([UInt8], String) throws -> Void) throws {
        for (file, bytes) in data {
            try write(bytes, directory + "/" + file)
            written.append(directory + "/" + file)
        }
        try write(Array(fullScript.utf8), directory + "/" + name + ".gp")
        written.append(directory + "/" + name + ".gp")
    }

    /// Gnuplots at a time: the pipeline's thread count (`FOREST_THREADS` when set to a positive
    /// integer), else the active processors.
    public static var defaultParallel: Int {
        if let s = ProcessInfo.processInfo.environment["FOREST_THREADS"], let t = Int(s), t > 0 { return t }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The temporary PNG a rendering writes before it is moved into place.
    fileprivate var temporaryName: String { ".\(name).tmp-\(getpid())" }

    /// The script as run: its PNG to the temporary name.
    fileprivate var temporaryScript: String {
        fullScript.replacingOccurrences(of: "set output \"\(name).png\"", with: "set output \"\(temporaryName).png\"")
    }
}

/// A gnuplot process rendering consecutive figures' PNGs to temporary files, one after the other
/// (a clean session for each, its script loaded from a temporary file). Gnuplot reading a pipe goes
/// on after an error, so after each figure
/// it prints a marker with the figure's error number (`GPVAL_ERRNO`, then cleared): a failure is
/// pinned on its figure, with the messages printed since the previous marker.
private final class Rendering {
    let process: Process
    let errors: Pipe
    let figures: [Figure]
    let directory: String
    private var done = false
    static let marker = "@@pipeline-figure-done "

    private init(process: Process, errors: Pipe, figures: [Figure], directory: String) {
        self.process = process
        self.errors = errors
        self.figures = figures
        self.directory = directory
    }

    static func start(_ figures: [Figure], in directory: String) throws -> Rendering {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gnuplot"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        // Each figure's script (its PNG to the temporary name) goes to a temporary file that
        // gnuplot loads, so what goes down the pipe is a few short lines per figure: the pipe never
        // fills while gnuplot's messages wait to be read.
        let rendering = Rendering(process: process, errors: errors, figures: figures, directory: directory)
        var text = ""
        do {
            for (i, figure) in figures.enumerated() {
                try AtomicFile.write(figure.temporaryScript, to: rendering.temporaryScript(figure))
                text += "load \"\(figure.temporaryName).gp\"\nprint sprintf(\"\(marker)\(i) %d\", GPVAL_ERRNO)\nreset errors\nreset session\n"
            }
            try process.run()
        } catch {
            rendering.removeTemporaryFiles()
            let scriptPath = directory + "/" + figures[0].name + ".gp"
            throw DataError(file: scriptPath, message: "cannot run gnuplot (install gnuplot-nox): \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        return rendering
    }

    fileprivate func temporaryScript(_ figure: Figure) -> String { directory + "/" + figure.temporaryName + ".gp" }

    fileprivate func removeTemporaryFiles() {
        for figure in figures {
            try? FileManager.default.removeItem(atPath: temporaryPNG(figure))
            try? FileManager.default.removeItem(atPath: temporaryScript(figure))
        }
    }

    private func temporaryPNG(_ figure: Figure) -> String { directory + "/" + figure.temporaryName + ".png" }

    /// Waits for gnuplot and moves its PNGs into place through `write`, in order; the first figure
    /// without its marker is the error, which names its script (the ones after it are removed).
    func finish(written: inout [String], write: ([UInt8], String) throws -> Void) throws {
        done = true
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Per figure: whether it finished without an error, and what gnuplot printed while it ran.
        var succeeded = Set<Int>()
        var messages = [String](repeating: "", count: figures.count)
        var pending: [Substring] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.hasPrefix(Self.marker) ? line.dropFirst(Self.marker.count).split(separator: " ") : []
            if fields.count == 2, let i = Int(fields[0]), let errno = Int(fields[1]), messages.indices.contains(i) {
                if errno == 0 { succeeded.insert(i) }
                messages[i] = pending.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
                pending = []
            } else {
                pending.append(line)
            }
        }
        let rest = pending.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        defer { removeTemporaryFiles() }
        for (i, figure) in figures.enumerated() {
            guard succeeded.contains(i), let png = FileManager.default.contents(atPath: temporaryPNG(figure)) else {
                // Its messages name the temporary copy, whose lines are the script's.
                let text = (messages[i].isEmpty ? rest : messages[i]).replacingOccurrences(
                    of: figure.temporaryName + ".gp", with: figure.name + ".gp")
                throw DataError(file: directory + "/" + figure.name + ".gp", message: "gnuplot failed: \(text)")
            }
            try? FileManager.default.removeItem(atPath: temporaryPNG(figure))
            let pngPath = directory + "/" + figure.name + ".png"
            try write(Array(png), pngPath)
            written.append(pngPath)
        }
        if process.terminationStatus != 0 {
            throw DataError(file: directory + "/" + figures[figures.count - 1].name + ".gp", message: "gnuplot failed: \(rest)")
        }
    }

    /// After another group's error: waits for this one and removes its temporary PNGs.
    func abandon() {
        guard !done else { return }
        done = true
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        removeTemporaryFiles()
    }
}

/// Whitespace-separated data blocks for gnuplot (strings quoted).
public struct GnuplotData {
    public private(set) var bytes: [UInt8] = []
    public init(comment: String? = nil) {
        if let comment { line("# " + comment) }
    }

    public mutating func line(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        bytes.append(0x0A)
    }

    public mutating func row(_ fields: [String]) {
        line(
            fields.map { f in
                f.contains(" ") || f.isEmpty || f.contains("\"") ? "\"" + f.replacingOccurrences(of: "\"", with: "'") + "\"" : f
            }.joined(separator: " "))
    }

    /// Two blank lines: the next rows form a new data set (gnuplot `index`).
    public mutating func nextBlock() {
        line("")
        line("")
    }
}
