import Foundation
import Reporting
import Tabular
import Testing

@Suite("Figures rendered by gnuplot, several at a time")
struct FigureRenderingTests {
    static func figure(_ name: String, script: String? = nil) -> Figure {
        let data = "1 2\n2 4\n3 9\n"
        return Figure(name: name, script: script ?? "plot \"\(name).dat\" using 1:2 with lines", data: [("\(name).dat", Array(data.utf8))])
    }

    static func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("figures-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("the same files, written in the same order, whatever the number of gnuplots at a time")
    func orderDoesNotDependOnParallelism() throws {
        let figures = (0..<5).map { Self.figure("f\($0)") }
        var runs: [(order: [String], bytes: [String: [UInt8]])] = []
        for parallel in [1, 2, 4] {
            let dir = try Self.directory()
            var order: [String] = []
            var bytes: [String: [UInt8]] = [:]
            let written = try Figure.renderAll(figures, into: dir, parallel: parallel) { data, path in
                let name = (path as NSString).lastPathComponent
                order.append(name)
                bytes[name] = data
                try Data(data).write(to: URL(fileURLWithPath: path))
            }
            #expect(written.map { ($0 as NSString).lastPathComponent } == order)
            // Data and scripts first, then the PNGs, figure by figure.
            #expect(order == figures.flatMap { ["\($0.name).dat", "\($0.name).gp"] } + figures.map { "\($0.name).png" })
            // Only the written files remain: no temporary PNG is left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == order.sorted())
            runs.append((order, bytes))
        }
        #expect(runs[1].order == runs[0].order && runs[2].order == runs[0].order)
        #expect(runs[1].bytes == runs[0].bytes && runs[2].bytes == runs[0].bytes)
        for name in runs[0].bytes.keys where name.hasSuffix(".png") {
            #expect(runs[0].bytes[name]!.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(name) is a PNG")
        }
    }

    @Test("a failing figure is an error naming its script; the figures running beside it leave no temporary file")
    func failureCleansUp() throws {
        let dir = try Self.directory()
        let figures = [Self.figure("good0"), Self.figure("bad", script: "plot \"missing.dat\" using 1:2"), Self.figure("good1")]
        var pngs: [String] = []
        #expect {
            _ = try Figure.renderAll(figures, into: dir, parallel: 3) { data, path in
                if path.hasSuffix(".png") { pngs.append((path as NSString).lastPathComponent) }
                try Data(data).write(to: URL(fileURLWithPath: path))
            }
        } throws: { error in
            error is DataError && "\(error)".contains("bad.gp") && "\(error)".contains("gnuplot failed")
        }
        #expect(pngs == ["good0.png"])
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!left.contains { $0.contains(".tmp-") }, "temporary files left: \(left)")
    }

    @Test("one gnuplot for several figures: a failure names its own figure, the ones before it are written, none after")
    func failureInsideAGroup() throws {
        let dir = try Self.directory()
        // A setting the failing figure's neighbours must not inherit: each figure has a clean session.
        let figures = [
            Self.figure("first", script: "set logscale y\nplot \"first.dat\" using 1:2 with lines"), Self.figure("second"),
            Self.figure("bad", script: "plot \"missing.dat\" using 1:2"), Self.figure("after"),
        ]
        var pngs: [String: [UInt8]] = [:]
        #expect {
            _ = try Figure.renderAll(figures, into: dir, parallel: 1) { data, path in
                if path.hasSuffix(".png") { pngs[(path as NSString).lastPathComponent] = data }
                try Data(data).write(to: URL(fileURLWithPath: path))
            }
        } throws: { error in
            error is DataError && "\(error)".contains("bad.gp") && !"\(error)".contains("@@") && !"\(error)".contains(".tmp-")
        }
        #expect(pngs.keys.sorted() == ["first.png", "second.png"])
        // The second figure alone renders the same bytes: the first one's log scale did not leak.
        let alone = try Self.directory()
        var aloneBytes: [UInt8] = []
        _ = try Figure.renderAll([Self.figure("second")], into: alone, parallel: 1) { data, path in
            if path.hasSuffix(".png") { aloneBytes = data }
            try Data(data).write(to: URL(fileURLWithPath: path))
        }
        #expect(pngs["second.png"] == aloneBytes)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!left.contains { $0.contains(".tmp-") } && !left.contains("after.png"), "left: \(left)")
    }
}
