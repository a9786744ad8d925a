import CLVAnalysis
import Experiment
import Foundation
import PolicyAnalysis
import RawData
import TestSupport
import Testing
import UpliftAnalysis
import Yams

@testable import Base
@testable import PipelineCLI
@testable import Provenance
@testable import Tabular

// Hostile parameter files: every mistake is bad input (exit 2) with one message naming the file,
// the line and column, and what is wrong. The cases edit the stages' real params files, so the
// positions asserted are those a user would see; positions are found in the edited text, never typed in.

/// A temporary folder, removed by the caller.
func temporaryFolder(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// 1-based line and column (in Unicode scalars) of the first occurrence of `needle` in `text`.
func position(of needle: String, in text: String) -> (line: Int, column: Int)? {
    guard let range = text.range(of: needle) else { return nil }
    let before = text[..<range.lowerBound]
    let lineStart = before.lastIndex(of: "\n").map { before.index(after: $0) } ?? before.startIndex
    return (before.count(where: { $0 == "\n" }) + 1, text[lineStart..<range.lowerBound].unicodeScalars.count + 1)
}

func stageParams(_ stage: String) throws -> String {
    try String(contentsOfFile: packageRoot + "/stages/\(stage)/params.yaml", encoding: .utf8)
}

/// A stage's params as a run without a project file gives them: for the CLV stage, its params file
/// with the default project's order log and replication as 'retail' and 'cdnow'.
func standaloneParams(_ stage: String) throws -> String {
    let text = try stageParams(stage)
    guard stage == "clv" else { return text }
    let project = try String(contentsOfFile: packageRoot + "/project.yaml", encoding: .utf8)
    guard let start = project.range(of: "\norders:\n"), let end = project.range(of: "\nstages:\n") else {
        throw DataError(file: "project.yaml", message: "no orders or stages section")
    }
    let logs = String(project[start.lowerBound..<end.lowerBound])
        .replacingOccurrences(of: "\norders:\n", with: "\nretail:\n")
        .replacingOccurrences(of: "\nreplication:\n", with: "\ncdnow:\n")
    return text + logs + "\n"
}

/// Which stage's params type reads a file.
enum StageParams: String, Sendable, CaseIterable {
    case data, prepare, eda, clv, uplift, policy

    func load(_ path: String) throws {
        switch self {
        case .data: _ = try Params.load(DataParams.self, from: path)
        case .prepare: _ = try Params.load(PrepareParams.self, from: path)
        case .eda: _ = try Params.load(EDAParams.self, from: path)
        case .clv: _ = try Params.load(CLVParams.self, from: path)
        case .uplift: _ = try Params.load(UpliftParams.self, from: path)
        case .policy: _ = try Params.load(PolicyParams.self, from: path)
        }
    }
}

/// Loads `text` as `stage`'s params and returns the error, which must be bad input.
func loadError(_ stage: StageParams, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (error: DataError, path: String)? {
    let dir = try temporaryFolder("params")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/params.yaml"
    try AtomicFile.write(text, to: path)
    do {
        try stage.load(path)
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as DataError {
        #expect((error as ClassifiedError).isBadInput, "params mistakes exit 2", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "one line", sourceLocation: sourceLocation)
        return (error, path)
    }
}

/// An edit of a stage's real params file, the error it must give, and the text the error points at.
struct ParamsCase: Sendable, CustomTestStringConvertible {
    var stage: StageParams
    var replace: String
    var with: String
    var message: String
    /// The error points at the first occurrence of this text in the edited file.
    var at: String
    /// The message only starts with `message` (long lists of valid keys are not repeated here).
    var prefixOnly = false

    var testDescription: String { "\(stage.rawValue): \(with.trimmingCharacters(in: .whitespacesAndNewlines))" }

    func check(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let original = try standaloneParams(stage.rawValue)
        #expect(original.contains(replace), "the case edits text the params file has: \(replace)", sourceLocation: sourceLocation)
        let text = original.replacingOccurrences(of: replace, with: with)
        guard let (error, path) = try loadError(stage, text, sourceLocation: sourceLocation) else { return }
        let place = position(of: at, in: text)
        #expect(error.file == path, sourceLocation: sourceLocation)
        #expect(
            error.line == place?.line && error.column == place?.column,
            "points at '\(at)' \(String(describing: place)), got \(String(describing: error.line)):\(String(describing: error.column))",
            sourceLocation: sourceLocation)
        if prefixOnly {
            #expect(error.message.hasPrefix(message), "\(error.message)", sourceLocation: sourceLocation)
        } else {
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
    }
}

@Suite("Hostile params: unknown and misspelled parameters")
struct UnknownParameterTests {
    static let cases: [ParamsCase] = [
        // A stray key beside the split's parameters.
        ParamsCase(
            stage: .prepare, replace: "  seed: 20080320", with: "  shufle: true\n  seed: 20080320",
            message: "unknown parameter 'split.shufle' (valid here: test_fraction, seed)", at: "shufle"),
        // A misspelled required key: the valid keys are still all listed.
        ParamsCase(
            stage: .prepare, replace: "  test_fraction: 0.25", with: "  test_fracton: 0.25",
            message: "unknown parameter 'split.test_fracton' (did you mean 'test_fraction'? valid here: test_fraction, seed)", at: "test_fracton"),
        ParamsCase(
            stage: .prepare, replace: "  seed: 20080320", with: "  sed: 20080320",
            message: "unknown parameter 'split.sed' (did you mean 'seed'? valid here: test_fraction, seed)", at: "sed:"),
        // Top level.
        ParamsCase(
            stage: .eda, replace: "histogram_bins: 40", with: "histogram_bins: 40\ncolour: red",
            message:
                "unknown parameter 'colour' (valid here: confidence_level, alpha, power, segment_features, segment_outcome, histogram_bins, segment_bins, segment_bin_edges, power_effects)",
            at: "colour"),
        ParamsCase(
            stage: .eda, replace: "histogram_bins: 40", with: "histogram_bin: 40",
            message:
                "unknown parameter 'histogram_bin' (did you mean 'histogram_bins'? valid here: confidence_level, alpha, power, segment_features, segment_outcome, histogram_bins, segment_bins, segment_bin_edges, power_effects)",
            at: "histogram_bin"),
        // A misspelled optional key of a transaction-log spec (valid keys in the order the spec reads them).
        ParamsCase(
            stage: .clv, replace: "  format: csv\n", with: "  format: csv\n  delimter: \";\"\n",
            message:
                "unknown parameter 'retail.delimter' (did you mean 'delimiter'? valid here: name, file, format, delimiter, quote, date_format, time_zone, decimal_separator, column_names, customer, date, quantity, price, value, invoice, product, cleaning)",
            at: "delimter"),
        // A value that is wrong only because a key beside it is misspelled: the misspelling is reported.
        ParamsCase(
            stage: .clv, replace: "  format: csv\n", with: "  format: csv\n  delimitr: \";\"\n  decimal_separator: \",\"\n",
            message:
                "unknown parameter 'retail.delimitr' (did you mean 'delimiter'? valid here: name, file, format, delimiter, quote, date_format, time_zone, decimal_separator, column_names, customer, date, quantity, price, value, invoice, product, cleaning)",
            at: "delimitr"),
        // An invalid value of the order-log format is a params error at its line, before any data is read.
        ParamsCase(
            stage: .clv, replace: "  format: csv\n", with: "  format: csv\n  date_format: \"%d/%m/%Q %H:%M\"\n",
            message: "parameter 'retail.date_format': date_format '%d/%m/%Q %H:%M' has an unknown directive '%Q' (known: ", at: "\"%d/%m/%Q",
            prefixOnly: true),
        ParamsCase(
            stage: .clv, replace: "    format: whitespace\n", with: "    format: whitespace\n    time_zone: Europe/Berln\n",
            message: "parameter 'cdnow.master.time_zone': unknown time zone 'Europe/Berln'", at: "Europe/Berln", prefixOnly: true),
        // Three levels down, and two levels down in the CDNOW spec.
        ParamsCase(
            stage: .clv, replace: "    drop_missing_customer: true\n    drop_nonpositive_quantity: true",
            with: "    drop_missing_customers: true\n    drop_nonpositive_quantity: true",
            message:
                "unknown parameter 'retail.cleaning.drop_missing_customers' (did you mean 'drop_missing_customer'? valid here: cancellation_prefix, cancellations, duplicate_lines, drop_missing_customer, drop_nonpositive_quantity, drop_nonpositive_price, non_merchandise_codes)",
            at: "drop_missing_customers"),
        ParamsCase(
            stage: .clv, replace: "    customer: customer", with: "    custmer: customer",
            message: "unknown parameter 'cdnow.master.custmer' (did you mean 'customer'?", at: "custmer", prefixOnly: true),
        // Inside a list element (an RFM rule).
        ParamsCase(
            stage: .clv, replace: "{name: new, r: [4, 5], f: [1, 1]}", with: "{name: new, r: [4, 5], g: [1, 1]}",
            message: "unknown parameter 'rfm_segments[3].g' (did you mean 'f'? valid here: name, r, f)", at: "g: [1, 1]"),
        ParamsCase(
            stage: .data, replace: "      member: online_retail_II.xlsx", with: "      membr: online_retail_II.xlsx",
            message: "unknown parameter 'files[1].workbook.membr' (did you mean 'member'? valid here: url, member, sha256)", at: "membr"),
        ParamsCase(
            stage: .uplift, replace: "  n_trees: 300\n", with: "  n_tree: 300\n",
            message: "unknown parameter 'baseline.n_tree' (did you mean 'n_trees'? valid here: n_trees, max_depth, min_samples_leaf, max_features)",
            at: "n_tree:"),
        // Inside a list of planned effects.
        ParamsCase(
            stage: .eda, replace: "    relative: [0.10, 0.25, 0.50]", with: "    relativ: [0.10, 0.25, 0.50]",
            message: "unknown parameter 'power_effects[1].relativ' (did you mean 'relative'? valid here: outcome, relative, absolute)",
            at: "relativ:"),
        // An optional parameter misspelled (nothing is missing, the key is still unknown).
        ParamsCase(
            stage: .policy, replace: "budget: 250.0", with: "budgett: 250.0",
            message: "unknown parameter 'budgett' (did you mean 'budget'?", at: "budgett", prefixOnly: true),
        // Several: the first in the file is reported, the others listed.
        ParamsCase(
            stage: .eda, replace: "alpha: 0.05", with: "alpha: 0.05\nbeta: 0.2\ngamma: 1",
            message:
                "unknown parameter 'beta' (valid here: confidence_level, alpha, power, segment_features, segment_outcome, histogram_bins, segment_bins, segment_bin_edges, power_effects); also unknown: 'gamma' at 5:1",
            at: "beta"),
    ]

    @Test("an unknown key names file, line, column, its path and the nearest valid key", arguments: cases)
    func unknownKey(_ c: ParamsCase) throws {
        try c.check()
    }

    @Test("keys of dictionary-valued parameters are data, not parameter names")
    func freeFormKeys() throws {
        let dir = try temporaryFolder("params")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try stageParams("policy")
            .replacingOccurrences(of: "arm_costs: {}", with: "arm_costs: {Womens E-Mail: 0.06, A Brand New Arm: 0.5}")
            .replacingOccurrences(of: "arm_caps: {Mens E-Mail: 2500}", with: "arm_caps:\n  Mens E-Mail: 2500\n  Totally Unknown: 10")
        try AtomicFile.write(text, to: dir + "/params.yaml")
        let (p, raw) = try Params.load(PolicyParams.self, from: dir + "/params.yaml")
        #expect(p.armCosts == ["Womens E-Mail": 0.06, "A Brand New Arm": 0.5])
        #expect(p.armCaps == ["Mens E-Mail": 2500, "Totally Unknown": 10])
        #expect(raw["arm_caps"]?["Totally Unknown"]?.numberValue == 10)
    }

    @Test("a missing parameter points at the mapping that lacks it")
    func missingKey() throws {
        let text = try stageParams("prepare").replacingOccurrences(of: "  seed: 20080320", with: "  # no seed")
        guard let (error, _) = try loadError(.prepare, text) else { return }
        let place = position(of: "split:", in: text)
        #expect(error.message == "missing parameter 'split.seed'")
        #expect(error.line == place?.line && error.column == place?.column)
    }

    @Test("a required key whose near miss is really another valid key is reported missing, not renamed")
    func missingNotMisspelled() throws {
        // The rule lacks r and has f (one edit from r): f is the rule's f, so r is missing.
        let text = try stageParams("clv").replacingOccurrences(of: "{name: new, r: [4, 5], f: [1, 1]}", with: "{name: new, f: [1, 1]}")
        guard let (error, _) = try loadError(.clv, text) else { return }
        #expect(error.message == "missing parameter 'rfm_segments[3].r'")
        #expect(error.line == position(of: "{name: new", in: text)?.line)
    }
}

@Suite("Hostile params: wrong types, YAML syntax, unreadable files")
struct MalformedParamsTests {
    static let typeCases: [ParamsCase] = [
        ParamsCase(
            stage: .prepare, replace: "  seed: 20080320", with: "  seed: abc",
            message: "parameter 'split.seed': expected a whole number ≥ 0, found 'abc'", at: "abc"),
        ParamsCase(
            stage: .eda, replace: "confidence_level: 0.95", with: "confidence_level: high",
            message: "parameter 'confidence_level': expected a number, found 'high'", at: "high"),
        ParamsCase(
            stage: .eda, replace: "segment_features: [history_segment, zip_code, channel, newbie, mens, womens]", with: "segment_features: history_segment",
            message: "parameter 'segment_features': expected a list, found 'history_segment'", at: "history_segment"),
        ParamsCase(
            stage: .prepare, replace: "split:\n  test_fraction: 0.25", with: "split: 0.25\nsplit_was:\n  test_fraction: 0.25",
            message: "parameter 'split': expected a mapping (name: value lines), found '0.25'", at: "0.25"),
        ParamsCase(
            stage: .clv, replace: "  format: csv\n", with: "  format: tsv\n",
            message: "parameter 'retail.format': ", at: "tsv", prefixOnly: true),
        ParamsCase(
            stage: .uplift, replace: "learners: [t_baseline, t_tuned, x, dr]", with: "learners: [t_baseline, t_tunned, x, dr]",
            message: "parameter 'learners[1]': unknown learner 't_tunned'", at: "t_tunned", prefixOnly: true),
        ParamsCase(
            stage: .clv, replace: "    drop_missing_customer: true\n    drop_nonpositive_quantity: true",
            with: "    drop_missing_customer: maybe\n    drop_nonpositive_quantity: true",
            message: "parameter 'retail.cleaning.drop_missing_customer': expected true or false, found 'maybe'", at: "maybe"),
        ParamsCase(
            stage: .clv, replace: "    cancellations: net ", with: "    cancellations: nett ",
            message: "parameter 'retail.cleaning.cancellations': cancellations must be 'drop' or 'net', not 'nett'", at: "nett"),
    ]

    @Test("a value of the wrong type names its line and column", arguments: typeCases)
    func wrongType(_ c: ParamsCase) throws {
        try c.check()
    }

    struct SyntaxCase: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        var column: Int
        var problem: String
        var testDescription: String { name }
    }

    static let syntaxCases: [SyntaxCase] = [
        SyntaxCase(
            name: "bad indentation", text: "confidence_level: 0.95\n  alpha: 0.05\n", line: 2, column: 8,
            problem: "YAML syntax error: mapping values are not allowed in this context"),
        SyntaxCase(
            name: "unclosed bracket", text: "alpha: 0.05\nsegment_features: [history_segment, zip_code\npower: 0.8\n", line: 3, column: 6,
            problem: "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 2:19)"),
        SyntaxCase(
            name: "tab indentation", text: "alpha: 0.05\nsplit:\n\tseed: 1\n", line: 3, column: 1,
            problem: "YAML syntax error: found character that cannot start any token (while scanning for the next token at 3:1)"),
        SyntaxCase(
            name: "duplicate key", text: "alpha: 0.05\npower: 0.8\nalpha: 0.01\n", line: 1, column: 1,
            problem: "YAML syntax error: 'alpha' given more than once in one mapping"),
    ]

    @Test("a YAML syntax error names line and column", arguments: syntaxCases)
    func syntaxError(_ c: SyntaxCase) throws {
        guard let (error, path) = try loadError(.eda, c.text) else { return }
        #expect(error.description == "\(path):\(c.line):\(c.column): \(c.problem)")
    }

    @Test("an empty file, a file of comments only")
    func emptyFile() throws {
        for text in ["", "# nothing here\n\n"] {
            guard let (error, path) = try loadError(.eda, text) else { continue }
            #expect(error.description == "\(path): the parameter file is empty; expected the stage's parameters (name: value lines)")
        }
    }

    @Test("a file that is not UTF-8 names the first bad byte")
    func notUTF8() throws {
        let dir = try temporaryFolder("params")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/params.yaml"
        // Latin-1 "é" (0xE9) in a comment on line 2.
        try AtomicFile.write(Array("alpha: 0.05\n# caf".utf8) + [0xE9] + Array("\npower: 0.8\n".utf8), to: path)
        #expect { try Params.load(EDAParams.self, from: path) } throws: { error in
            guard let e = error as? DataError else { return false }
            return e.isBadInput && e.description == "\(path):2:6: not UTF-8 text (byte 0xE9); save the parameter file as UTF-8"
        }
    }

    @Test("a missing file, a directory")
    func unreadable() throws {
        let dir = try temporaryFolder("params")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (path, message) in [(dir + "/nope.yaml", "no such parameter file"), (dir, "cannot read parameter file")] {
            #expect { try Params.load(EDAParams.self, from: path) } throws: { error in
                (error as? DataError).map { $0.isBadInput && $0.description == "\(path): \(message)" } ?? false
            }
        }
    }
}

@Suite("Hostile params: the stages' own files")
struct StageParamsFilesTests {
    /// What Yams' YAMLDecoder (the decoder before this one) made of a file.
    func yamsDecoded<T: Decodable>(_ type: T.Type, _ stage: String) throws -> T {
        try YAMLDecoder().decode(T.self, from: try stageParams(stage))
    }

    func same<T: Decodable & Equatable>(_ type: T.Type, _ stage: String) throws {
        let path = packageRoot + "/stages/\(stage)/params.yaml"
        let (typed, raw) = try Params.load(T.self, from: path)
        #expect(typed == (try yamsDecoded(T.self, stage)), "\(stage): typed values differ from YAMLDecoder's")
        #expect(raw == JSONValue(any: try Yams.load(yaml: try stageParams(stage))), "\(stage): the manifest's tree changed")
    }

    @Test("every stage's params file loads to the values YAMLDecoder gave, and the same raw tree")
    func identicalValues() throws {
        try same(DataParams.self, "data")
        try same(PrepareParams.self, "prepare")
        try same(EDAParams.self, "eda")
        try same(CLVParams.self, "clv")
        try same(UpliftParams.self, "uplift")
        try same(PolicyParams.self, "policy")
        try same(PlanParams.self, "plan")
    }

    @Test("scalars read as YAMLDecoder read them: nulls, quoted text, octal-looking numbers, merge keys")
    func scalarSemantics() throws {
        struct Sample: Codable, Equatable {
            var a: Int?
            var b: String
            var c: Double
            var d: Bool
            var e: [Int]
            var f: String?
            var g: Int
        }
        let text = """
            base: &base {g: 7, a: 3}
            sample:
              <<: *base
              a: ~
              b: '0.25'
              c: 1e3
              d: yes
              e: [0x10, 010, 1_000]
              f: ''

            """
        struct Wrapper: Codable, Equatable { var base: [String: Int]; var sample: Sample }
        #expect(text.contains("a: 3") && text.contains("a: ~"))
        let dir = try temporaryFolder("params")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(text, to: dir + "/p.yaml")
        let (mine, _) = try Params.load(Wrapper.self, from: dir + "/p.yaml")
        // The mapping's own keys win over merged ones (a: ~ over a: 3), in both decoders.
        let theirs = try YAMLDecoder().decode(Wrapper.self, from: text)
        #expect(mine == theirs)
        #expect(mine.sample == Sample(a: nil, b: "0.25", c: 1000, d: true, e: [16, 8, 1000], f: "", g: 7))
    }
}

@Suite("Hostile params: through the stage binaries")
struct StageBinaryParamsTests {
    @Test("stage-prepare with an unknown parameter exits 2 with one error line and writes nothing")
    func prepareUnknownKey() throws {
        let dir = try temporaryFolder("prepare")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try stageParams("prepare").replacingOccurrences(of: "  seed: 20080320", with: "  shufle: true\n  seed: 20080320")
        try AtomicFile.write(text, to: dir + "/params.yaml")
        let r = try Shell.run([try builtProduct("stage-prepare"), "--params", dir + "/params.yaml", "--out", dir + "/out"])
        let place = position(of: "shufle", in: text)!
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(dir)/params.yaml:\(place.line):\(place.column): unknown parameter 'split.shufle' (valid here: test_fraction, seed)\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
