import Foundation
import Stats
import Testing

/// The module graph as Package.swift declares it: target name → its dependencies (targets and
/// products by name).
func declaredTargets() throws -> [String: [String]] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    var targets: [String: [String]] = [:]
    let target = try Regex(#"\.(?:target|executableTarget|testTarget|systemLibrary)\(\s*name:\s*"([^"]+)"(?:,\s*dependencies:\s*\[([^\]]*)\])?"#)
    let name = try Regex(#""([^"]+)"(?:,\s*package:\s*"[^"]+")?"#)
    for match in text.matches(of: target) {
        let deps = match.output[2].substring.map { String($0) } ?? ""
        targets[String(match.output[1].substring!)] = deps.matches(of: name).map { String($0.output[1].substring!) }
    }
    return targets
}

func closure(of module: String, in graph: [String: [String]]) -> Set<String> {
    var seen: Set<String> = []
    var stack = [module]
    while let m = stack.popLast() {
        for d in graph[m] ?? [] where seen.insert(d).inserted { stack.append(d) }
    }
    return seen
}

@Suite("Layering")
struct LayeringTests {
    @Test(
        "the engines and the scoring core link neither YAML nor the CLI parser",
        arguments: ["Forest", "Uplift", "Scoring", "Economics", "Policy", "CLV", "Stats", "Base"])
    func enginesAreLean(module: String) throws {
        let graph = try declaredTargets()
        #expect(graph[module] != nil, "\(module) is not a target of Package.swift")
        let reached = closure(of: module, in: graph)
        for forbidden in ["Yams", "ArgumentParser", "PipelineCLI"] {
            #expect(!reached.contains(forbidden), "\(module) reaches \(forbidden) through \(reached.sorted())")
        }
    }

    @Test("the service library links neither YAML nor the CLI parser, and no engine links Hummingbird")
    func serviceIsAShellOverTheEngines() throws {
        let graph = try declaredTargets()
        let service = closure(of: "Service", in: graph)
        #expect(service.contains("Hummingbird") && service.contains("Scoring"))
        for forbidden in ["Yams", "ArgumentParser", "PipelineCLI"] { #expect(!service.contains(forbidden), "Service reaches \(forbidden)") }
        for engine in ["Forest", "Uplift", "Scoring", "Economics", "Policy", "CLV", "Stats", "Base", "Tabular"] {
            #expect(!closure(of: engine, in: graph).contains("Hummingbird"), "\(engine) reaches Hummingbird")
        }
    }

    @Test("the parser sees the graph: the CLI module does reach both")
    func parserSeesTheShells() throws {
        let reached = closure(of: "PipelineCLI", in: try declaredTargets())
        #expect(reached.contains("Yams") && reached.contains("ArgumentParser"))
    }

    @Test("GSL's abort-on-error handler is off without any call from the program")
    func gslErrorsDoNotAbort() {
        #expect(!GSLRuntime.errorsAbort)
        // A domain error that would abort under GSL's default handler comes back as NaN.
        #expect(StudentT.cdf(1, df: -1).isNaN)
    }
}
