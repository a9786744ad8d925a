import Foundation
import Testing

// The default campaign's words live in its spec (project.yaml) and in the default project's
// stage parameters, never in the code: a report or message that says "e-mail" or "spend" would
// say it for every campaign. This scans the text of every string literal of the program
// (Sources/, stages/, cli/; report text is built there, there are no template files) for the
// default campaign's names and words.

/// The string literals of Swift source, with the line each starts on. Comments are skipped, and
/// interpolated code (`\(...)`) is scanned as code, so only literal text is returned.
struct SwiftStringLiterals {
    private let chars: [Character]
    private var i = 0
    private var line = 1
    private(set) var literals: [(line: Int, text: String)] = []

    init(_ source: String) {
        chars = Array(source)
        code(untilClosingParenthesis: false)
    }

    private func peek(_ offset: Int) -> Character? { i + offset < chars.count ? chars[i + offset] : nil }

    private mutating func advance() {
        if chars[i] == "\n" || chars[i] == "\r\n" { line += 1 }
        i += 1
    }

    private mutating func code(untilClosingParenthesis: Bool) {
        var depth = 0
        while i < chars.count {
            let c = chars[i]
            if c == "/" && peek(1) == "/" {
                while i < chars.count && chars[i] != "\n" && chars[i] != "\r\n" { advance() }
            } else if c == "/" && peek(1) == "*" {
                var nesting = 0
                repeat {
                    if chars[i] == "/" && peek(1) == "*" {
                        nesting += 1
                        advance()
                    } else if chars[i] == "*" && peek(1) == "/" {
                        nesting -= 1
                        advance()
                    }
                    advance()
                } while i < chars.count && nesting > 0
            } else if c == "\"" || (c == "#" && startsRawString()) {
                string()
            } else {
                if untilClosingParenthesis {
                    if c == "(" { depth += 1 }
                    if c == ")" {
                        if depth == 0 {
                            advance()
                            return
                        }
                        depth -= 1
                    }
                }
                advance()
            }
        }
    }

    private func startsRawString() -> Bool {
        var j = i
        while j < chars.count && chars[j] == "#" { j += 1 }
        return j < chars.count && chars[j] == "\""
    }

    private mutating func string() {
        var hashes = 0
        while chars[i] == "#" {
            hashes += 1
            advance()
        }
        let multiline = peek(1) == "\"" && peek(2) == "\""
        for _ in 0..<(multiline ? 3 : 1) { advance() }
        let start = line
        var text = ""
        func closesHere(_ s: SwiftStringLiterals) -> Bool {
            for k in 0..<(multiline ? 3 : 1) where s.peek(k) != "\"" { return false }
            let quotes = multiline ? 3 : 1
            for k in 0..<hashes where s.peek(quotes + k) != "#" { return false }
            return true
        }
        while i < chars.count {
            if closesHere(self) {
                for _ in 0..<((multiline ? 3 : 1) + hashes) { advance() }
                break
            }
            let c = chars[i]
            if c == "\\" && (0..<hashes).allSatisfy({ peek(1 + $0) == "#" }) {
                let after = 1 + hashes
                if peek(after) == "(" {
                    for _ in 0...after { advance() }
                    text += " "
                    code(untilClosingParenthesis: true)
                    continue
                }
                for _ in 0..<after { advance() }
                if i < chars.count {
                    text.append(chars[i])
                    advance()
                }
                continue
            }
            if !multiline && (c == "\n" || c == "\r\n") { break }
            text.append(c)
            advance()
        }
        literals.append((start, text))
    }
}

@Suite("No campaign words in the code")
struct CampaignWordsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The default campaign's file, arms, features and outcomes, and its treatment noun. Names are
    /// matched as whole words, case-sensitively; the outcome words in any case ("Visit and conversion").
    static let caseSensitive = ["Hillstrom", "hillstrom", "E-Mail", "e-mail", "E-mail", "e-mails", "Mens", "Womens", "history_segment", "zip_code", "newbie"]
    static let anyCase = ["visit", "conversion", "spend"]

    /// Where a word is the right one for another reason. The order log's value per transaction is
    /// "spend" in the CLV literature (the Gamma-Gamma spend model), not the campaign's outcome.
    static let allowed: [(pathPrefix: String, word: String)] = [
        ("Sources/CLV/", "spend"), ("Sources/CLVAnalysis/", "spend"), ("Sources/Synthetic/", "spend"),
    ]

    static func findings(in source: String, path: String) throws -> [String] {
        var found: [String] = []
        for literal in SwiftStringLiterals(source).literals {
            for word in caseSensitive + anyCase {
                let options: String.CompareOptions = anyCase.contains(word) ? [.regularExpression, .caseInsensitive] : [.regularExpression]
                guard literal.text.range(of: "(?<![A-Za-z0-9_])\(NSRegularExpression.escapedPattern(for: word))(?![A-Za-z0-9_])", options: options) != nil
                else { continue }
                if allowed.contains(where: { path.hasPrefix($0.pathPrefix) && $0.word == word.lowercased() }) { continue }
                found.append("\(path):\(literal.line): '\(word)' in \"\(literal.text.prefix(100))\"")
            }
        }
        return found
    }

    @Test("the scanner sees literal text only: interpolations, comments and raw strings are handled")
    func scannerFindsLiteralsOnly() throws {
        let source = ##"""
            // a comment with spend in it
            let a = "Visit and conversion"  /* spend */
            let b = "cost \(e.spend) per \("e-mail") item"
            let c = #"raw "Mens" \#(x) \(noE-Mail)"#
            let d = """
                Hillstrom \
                multiline
                """
            let e = "escaped \"quote\" spend\\"
            """##
        let literals = SwiftStringLiterals(source).literals.map(\.text)
        #expect(literals.contains("Visit and conversion"))
        #expect(literals.contains("e-mail"))
        #expect(literals.contains { $0.hasPrefix("cost ") && !$0.contains("spend") })
        #expect(literals.contains { $0.contains("raw \"Mens\"") && $0.contains("(noE-Mail)") })
        #expect(literals.contains { $0.contains("Hillstrom") && $0.contains("multiline") })
        #expect(literals.contains { $0.contains("escaped \"quote\" spend") })
        #expect(SwiftStringLiterals(source).literals.first?.line == 2)
        let found = try Self.findings(in: source, path: "Sources/X/Y.swift")
        for word in ["'visit'", "'conversion'", "'e-mail'", "'Mens'", "'Hillstrom'", "'spend'"] {
            #expect(found.contains { $0.contains(word) }, "\(word) not found in \(found)")
        }
        #expect(!found.contains { $0.contains("'E-Mail'") }, "'noE-Mail' is not the word E-Mail: \(found)")
        #expect(try Self.findings(in: #"let s = "spend per transaction""#, path: "Sources/CLVAnalysis/R.swift").isEmpty)
    }

    @Test("no string literal in Sources/, stages/ or cli/ names the default campaign or its words")
    func noCampaignWordsInCode() throws {
        var found: [String] = []
        var files = 0
        for folder in ["Sources", "stages", "cli"] {
            let base = Self.root + "/" + folder
            guard let walker = FileManager.default.enumerator(atPath: base) else { continue }
            for case let relative as String in walker where relative.hasSuffix(".swift") {
                let path = folder + "/" + relative
                found += try Self.findings(in: try String(contentsOfFile: Self.root + "/" + path, encoding: .utf8), path: path)
                files += 1
            }
        }
        #expect(files > 50)
        #expect(found.isEmpty, "\(found.count) campaign words in the code:\n\(found.joined(separator: "\n"))")
    }
}
