import Foundation
import Stats
import Tabular
import Testing

@testable import Base
@testable import PipelineCLI
@testable import Provenance

@Suite("Provenance")
struct ProvenanceTests {
    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256Vectors() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("incremental updates in odd-sized pieces equal one update")
    func sha256Incremental() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var h = SHA256()
        var i = 0, step = 1
        while i < bytes.count {
            let end = min(bytes.count, i + step)
            h.update(Array(bytes[i..<end]))
            i = end
            step = step * 3 % 131 + 1
        }
        #expect(SHA256.hex(h.finalize()) == SHA256.hex(of: bytes))
    }

    @Test("the SHA-NI kernel and the portable code give the same digests (random lengths and splits)")
    func sha256KernelMatchesPortable() {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 11 }
        for n in [0, 1, 55, 56, 63, 64, 65, 119, 127, 128, 129, 1000, 4096, 100_003] + (0..<40).map({ _ in Int(next() % 5000) }) {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
            var portable = SHA256(portable: true)
            portable.update(bytes)
            var accelerated = SHA256()
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + 1 + Int(next() % 700))
                accelerated.update(Array(bytes[i..<end]))
                i = end
            }
            #expect(SHA256.hex(portable.finalize()) == SHA256.hex(accelerated.finalize()), "length \(n)")
        }
        // The FIPS vector through the portable path too (the default path uses the kernel when the CPU has it).
        var p = SHA256(portable: true)
        p.update(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(SHA256.hex(p.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("JSON rendering sorts keys and is stable")
    func json() {
        let v: JSONValue = .object(["b": .number(1.5), "a": .array([.string("x\"y"), .bool(true), .null]), "c": .number(3)])
        #expect(v.rendered() == "{\n  \"a\": [\n    \"x\\\"y\",\n    true,\n    null\n  ],\n  \"b\": 1.5,\n  \"c\": 3\n}")
    }

    struct Sample: Codable { var seed: Int; var name: String }

    @Test("parameter files: typed values, raw tree, and clear errors")
    func params() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("params-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write("seed: 7\nname: x\n", to: dir + "/ok.yaml")
        let (typed, raw) = try Params.load(Sample.self, from: dir + "/ok.yaml")
        #expect(typed.seed == 7)
        #expect(raw["name"]?.stringValue == "x")
        try AtomicFile.write("seed: 7\n", to: dir + "/missing.yaml")
        do {
            _ = try Params.load(Sample.self, from: dir + "/missing.yaml")
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.description == "\(dir)/missing.yaml: missing parameter 'name'")
        }
        try FileManager.default.removeItem(atPath: dir)
    }

    @Test("a stage run records inputs, outputs with checksums, and writes the manifest last")
    func stageRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write("input", to: dir + "/in.txt")
        let run = StageRun(stage: "t", manifestPath: dir + "/manifest.json")
        run.input(dir + "/in.txt")
        try run.write("abc", to: dir + "/out.txt")
        try run.finish()
        let m = try JSONValue.parse(file: dir + "/manifest.json")
        guard case .array(let outs)? = m["outputs"] else { Issue.record("no outputs"); return }
        #expect(outs.first?["sha256"]?.stringValue == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(m["tools"]?["gsl"]?.stringValue?.isEmpty == false)
        try FileManager.default.removeItem(atPath: dir)
    }
}
