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
        var running: [Rendering] = []
        defer { for r in running { r.abandon() } }
        var next = 0
        while next < figures.count || !running.isEmpty {
            while next < figures.count && running.count < max(1, parallel) {
                running.append(try figures[next].start(in: directory))
                next += 1
            }
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

    /// Starts gnuplot on a temporary copy of the script (its data files already written).
    private func start(in directory: String) throws -> Rendering {
        let scriptPath = directory + "/" + name + ".gp"

        let tmpName = ".\(name).tmp-\(getpid())"
        let tmpScript = fullScript.replacingOccurrences(of: "set output \"\(name).png\"", with: "set output \"\(tmpName).png\"")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gnuplot"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw DataError(file: scriptPath, message: "cannot run gnuplot (install gnuplot-nox): \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(Data(tmpScript.utf8))
        try? input.fileHandleForWriting.close()
        return Rendering(
            process: process, errors: errors, scriptPath: scriptPath, tmpPNG: directory + "/" + tmpName + ".png",
            pngPath: directory + "/" + name + ".png")
    }
}

/// A gnuplot process rendering one figure's PNG to a temporary file.
private final class Rendering {
    let process: Process
    let errors: Pipe
    let scriptPath: String
    let tmpPNG: String
    let pngPath: String
    private var done = false

    init(process: Process, errors: Pipe, scriptPath: String, tmpPNG: String, pngPath: String) {
        self.process = process
        self.errors = errors
        self.scriptPath = scriptPath
        self.tmpPNG = tmpPNG
        self.pngPath = pngPath
    }

    /// Waits for gnuplot and moves its PNG into place through `write`.
    func finish(written: inout [String], write: ([UInt8], String) throws -> Void) throws {
        done = true
        let errText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let png = FileManager.default.contents(atPath: tmpPNG) else {
            try? FileManager.default.removeItem(atPath: tmpPNG)
            throw DataError(file: scriptPath, message: "gnuplot failed: \(errText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        try? FileManager.default.removeItem(atPath: tmpPNG)
        try write(Array(png), pngPath)
        written.append(pngPath)
    }

    /// After another figure's error: waits for this one and removes its temporary PNG.
    func abandon() {
        guard !done else { return }
        done = true
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: tmpPNG)
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
