import Foundation
import Provenance
import Tabular
import TestSupport
import Testing

/// Hostile input for the scorer, one row per case: what a careless or hostile user can do with
/// paths, streams, numbers, line ends and signals. Every case asserts the exit status, the first
/// line of the message and what is left on disk. Cases that need a real process (standard
/// streams, resource limits, signals) run the `score` executable of this build with a private
/// TMPDIR, so leftovers can be counted.
@Suite("score: hostile input", .serialized)
struct HostileInputTests {
    let f: Fixture
    /// A private temporary directory for the scorer's scratch folders.
    let tmp: String
    let contacts: String

    init() throws {
        f = try Fixture()
        tmp = f.dir + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        contacts = try f.write(f.contacts(rows: 600, seed: 11), "contacts.csv")
    }

    /// Everything in the fixture folder and the private TMPDIR, except the model and the inputs written before `run`.
    func leftovers(excluding keep: Set<String>) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: f.dir)) ?? []
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        return names.filter { !keep.contains($0) && $0 != "models" && $0 != "tmp" }.sorted() + scratch.map { "tmp/" + $0 }
    }

    func files() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: f.dir)) ?? []) }

    func firstLine(_ s: String) -> String { String(s.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }

    /// The scorer as a process of this build: `shell` is a bash command line in which `$SCORE`
    /// is the executable, run in the fixture folder with TMPDIR private.
    func process(_ shell: String) throws -> CommandResult {
        let r = try Shell.run(["bash", "-c", "cd \"$1\" && SCORE=\"$2\" TMPDIR=\"$3\" bash -c \"$4\"", "x", f.dir, try builtProduct("score"), tmp, shell])
        return CommandResult(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// Arguments after `--models <fixture>`; `{in}` is the contact list, `{dir}` the fixture folder.
        var args: [String]
        var status: Int32
        /// The message's first line contains this.
        var message: String
        var testDescription: String { name }
    }

    static let inProcess: [Case] = [
        Case(name: "output is the input", args: ["--in", "{in}", "--out", "{in}"], status: 2, message: "--out is the input"),
        Case(name: "output is the input through ..", args: ["--in", "{in}", "--out", "{dir}/tmp/../contacts.csv"], status: 2, message: "--out is the input"),
        Case(name: "drift report is the input", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--drift", "{in}"], status: 2, message: "--drift is the input"),
        Case(
            name: "drift report is the output", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--drift", "{dir}/o.csv"], status: 2,
            message: "--drift and --out name the same file"),
        Case(name: "output is a model file", args: ["--in", "{in}", "--out", "{dir}/models/meta.json"], status: 2, message: "--out is the input"),
        Case(name: "output is a symbolic link to the input", args: ["--in", "{in}", "--out", "{dir}/link.csv"], status: 2, message: "--out is the input"),
        Case(name: "output is a hard link to the input", args: ["--in", "{in}", "--out", "{dir}/hard.csv"], status: 2, message: "--out is the input"),
        Case(name: "output is a FIFO", args: ["--in", "{in}", "--out", "{dir}/fifo"], status: 2, message: "--out names a device, FIFO or socket"),
        Case(name: "output is a device", args: ["--in", "{in}", "--out", "/dev/null"], status: 2, message: "--out names a device, FIFO or socket"),
        Case(
            name: "drift report is a dangling link to the output", args: ["--in", "{in}", "--out", "{dir}/real.csv", "--drift", "{dir}/dangling.csv"],
            status: 2, message: "--drift and --out name the same file"),
        Case(name: "input is a directory", args: ["--in", "{dir}/models", "--out", "{dir}/o.csv"], status: 2, message: "is a directory, not a CSV file"),
        Case(name: "input does not exist", args: ["--in", "{dir}/nope.csv", "--out", "{dir}/o.csv"], status: 2, message: "cannot open file for reading"),
        Case(name: "input is /dev/null", args: ["--in", "/dev/null", "--out", "{dir}/o.csv"], status: 2, message: "empty file: no header line"),
        Case(name: "output is a directory", args: ["--in", "{in}", "--out", "{dir}/models"], status: 2, message: "--out names a directory"),
        Case(
            name: "output folder is missing", args: ["--in", "{in}", "--out", "{dir}/no/such/o.csv"], status: 2,
            message: "the folder {dir}/no/such does not exist"),
        Case(
            name: "first row id overflows", args: ["--in", "{noid}", "--out", "{dir}/o.csv", "--first-row-id", "9223372036854775800"], status: 2,
            message: "overflows a 64-bit row id"),
        Case(
            name: "negative first row id", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--first-row-id=-1"], status: 2,
            message: "--first-row-id must be at least 0"),
        Case(
            name: "margin 1e308", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--margin", "1e308"], status: 2,
            message: "--margin 1e+308 is not a share of revenue"),
        Case(
            name: "margin as a percentage", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--margin", "30"], status: 2,
            message: "--margin 30 is not a share of revenue"),
        Case(name: "cost infinite", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--cost", "inf"], status: 2, message: "--cost inf must be finite"),
        Case(
            name: "topn without the topn policy", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--topn", "5"], status: 2,
            message: "--topn applies only to --policy topn"),
        Case(
            name: "negative topn", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--policy", "topn", "--topn=-3"], status: 2,
            message: "--topn must be at least 0"),
        Case(name: "unknown flag", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--shuffle"], status: 2, message: "error: Unknown option '--shuffle'"),
        Case(name: "missing --in", args: ["--out", "{dir}/o.csv"], status: 2, message: "error: Missing expected argument '--in <in>'"),
        Case(
            name: "unknown policy", args: ["--in", "{in}", "--out", "{dir}/o.csv", "--policy", "everyone"], status: 2,
            message: "error: The value 'everyone' is invalid for '--policy <policy>'"),
    ]

    @Test(arguments: inProcess)
    func refusedBeforeAnythingIsWritten(_ c: Case) throws {
        symlink(contacts, f.dir + "/link.csv")
        link(contacts, f.dir + "/hard.csv")
        mkfifo(f.dir + "/fifo", 0o644)
        symlink(f.dir + "/real.csv", f.dir + "/dangling.csv")
        _ = try f.write(f.contacts(rows: 50, seed: 17, withID: false), "noid.csv")
        let before = files()
        let original = try f.read(contacts)
        let noID = try f.write(f.contacts(rows: 50, seed: 17, withID: false), "noid.csv")
        let args = c.args.map {
            $0.replacingOccurrences(of: "{in}", with: contacts).replacingOccurrences(of: "{noid}", with: noID).replacingOccurrences(of: "{dir}", with: f.dir)
        }
        let r = try f.score(args)
        #expect(r.status == c.status, "\(c.name): \(r.stderr)")
        #expect(firstLine(r.stderr).hasPrefix("error: "), "\(c.name): \(r.stderr)")
        #expect(firstLine(r.stderr).contains(c.message.replacingOccurrences(of: "{dir}", with: f.dir)), "\(c.name): \(r.stderr)")
        #expect(try f.read(contacts) == original, "\(c.name) changed the input")
        #expect(leftovers(excluding: before) == [], "\(c.name) left files behind")
    }

    /// Files whose content is hostile: the message names the problem where it is.
    static let badFiles: [(name: String, text: String, message: String)] = [
        ("CR-only line ends", "row_id,recency,history,zip_code\r1,3,100,Urban\r2,4,90,Rural\r", "a carriage return alone ends the header line"),
        ("semicolon-separated", "row_id;recency;history;zip_code\n1;3;100;Urban\n", "looks ';'-separated"),
        ("tab-separated", "row_id\trecency\thistory\tzip_code\n1\t3\t100\tUrban\n", "looks tab-separated"),
        ("number too large for a double", "row_id,recency,history,zip_code\n1,3,1e400,Urban\n", ":2:3 (column 'history')"),
        (
            "unterminated quote found at the next quote", "row_id,recency,history,zip_code\n1,3,100,Urban\n2,\"4,90,Rural\n3,5,80,Urban\n4,6,70,\"Rural\"\n",
            ":3:2: quoted field opened here is not closed on its line"
        ),
        ("quote in the header never closed", "row_id,\"recency,history,zip_code\n1,3,100,Urban\n", "unterminated quoted field"),
        ("NUL bytes in a number", "row_id,recency,history,zip_code\n1,3\u{0},100,Urban\n", ":2:2 (column 'recency')"),
    ]

    @Test(arguments: badFiles.indices)
    func badFilesAreNamedAtTheirPlace(_ k: Int) throws {
        let c = Self.badFiles[k]
        let input = try f.write(c.text, "bad-\(k).csv")
        let before = files()
        let r = try f.score(["--in", input, "--out", f.dir + "/o.csv", "--policy", "positive"])
        #expect(r.status == 2, "\(c.name): \(r.stderr)")
        #expect(firstLine(r.stderr).hasPrefix("error: \(input)"), "\(c.name): \(r.stderr)")
        #expect(firstLine(r.stderr).contains(c.message), "\(c.name): \(r.stderr)")
        #expect(leftovers(excluding: before) == [], "\(c.name) left files behind")
    }

    @Test func crlfScoresLikeLF() throws {
        let lf = try f.read(contacts)
        let crlf = try f.write(lf.replacingOccurrences(of: "\n", with: "\r\n"), "crlf.csv")
        #expect(try f.score(["--in", contacts, "--out", f.dir + "/lf-out.csv", "--policy", "positive"]).status == 0)
        #expect(try f.score(["--in", crlf, "--out", f.dir + "/crlf-out.csv", "--policy", "positive"]).status == 0)
        #expect(try f.read(f.dir + "/lf-out.csv") == (try f.read(f.dir + "/crlf-out.csv")))
    }

    @Test func aHugeBadValueIsNotEchoedWhole() throws {
        let big = String(repeating: "x", count: 5 << 20)
        let input = try f.write("row_id,recency,history,zip_code\n1,\(big),100,Urban\n", "huge.csv")
        let r = try f.score(["--in", input, "--out", f.dir + "/o.csv", "--policy", "positive"])
        #expect(r.status == 2)
        #expect(r.stderr.utf8.count < 400, "message of \(r.stderr.utf8.count) bytes")
        #expect(r.stderr.contains("(5242880 bytes)"), "\(r.stderr.prefix(300))")
    }

    @Test func aLongHeaderIsRefusedQuickly() throws {
        let header = (0..<200_000).map { "c\($0)" }.joined(separator: ",")
        let input = try f.write(header + "\n", "wide.csv")
        let r = try f.score(["--in", input, "--out", f.dir + "/o.csv"])
        #expect(r.status == 2)
        #expect(firstLine(r.stderr).contains("header line longer than 1048576 bytes"), "\(r.stderr)")
    }

    @Test func closedStandardInput() throws {
        let r = try process("\"$SCORE\" --models models --in - --out o.csv <&-")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(firstLine(r.stderr) == "error: <stdin>: standard input is closed")
        #expect(leftovers(excluding: files().subtracting(["o.csv"])) == [])
    }

    @Test func aClosedOutputPipeStopsQuietly() throws {
        let big = try f.write(f.contacts(rows: 60_000, seed: 12), "big.csv")
        for policy in ["positive", "bestN"] {
            let r = try process("set -o pipefail; \"$SCORE\" --models models --in \(big) --out - --policy \(policy) | head -n 1")
            #expect(r.status == 141, "\(policy): \(r.stderr)")
            #expect(r.stdout.hasPrefix("row_id,"), "\(policy)")
            #expect(r.stderr.isEmpty, "\(policy): \(r.stderr)")
            #expect((try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty, "\(policy): scratch left behind")
        }
    }

    @Test func spillingUnderALowOpenFileLimit() throws {
        let input = try f.write(f.contacts(rows: 3000, seed: 13), "spill.csv")
        let r = try process("ulimit -n 48; \"$SCORE\" --models models --in spill.csv --out spilled.csv --policy bestN --max-rows-in-memory 10")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try f.score(["--in", input, "--out", f.dir + "/memory.csv", "--policy", "bestN"]).status == 0)
        #expect(try f.read(f.dir + "/spilled.csv") == (try f.read(f.dir + "/memory.csv")))
        #expect((try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty)
    }

    @Test func aKilledRunIsCleanedUpByTheNextOne() throws {
        _ = try f.write(f.contacts(rows: 100_000, seed: 14), "killed.csv")
        // SIGKILL, so nothing can run: once while the output is written (positive: a partial file
        // from the start), once while runs are spilled (bestN: a scratch folder).
        let killed = try process(
            """
            "$SCORE" --models models --in killed.csv --out scored.csv --policy positive & pid=$!
            for i in $(seq 1 400); do ls scored.csv.partial-* >/dev/null 2>&1 && break; sleep 0.01; done
            sleep 0.2; kill -KILL $pid; wait $pid; echo "status $?"
            "$SCORE" --models models --in killed.csv --out ranked.csv --policy bestN --max-rows-in-memory 1000 & pid=$!
            for i in $(seq 1 400); do ls "$TMPDIR" | grep -q score-scratch- && break; sleep 0.01; done
            sleep 0.2; kill -KILL $pid; wait $pid; echo "status $?"
            """)
        #expect(killed.stdout == "status 137\nstatus 137\n", "\(killed.stdout) \(killed.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: f.dir)
        #expect(names.contains { $0.hasPrefix("scored.csv.partial-") }, "\(names)")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty)
        #expect(!names.contains("scored.csv"))
        // The same commands again remove what the killed runs left and finish.
        let again = try process(
            """
            "$SCORE" --models models --in killed.csv --out scored.csv --policy positive > /dev/null &&
            "$SCORE" --models models --in killed.csv --out ranked.csv --policy bestN --max-rows-in-memory 1000 > /dev/null
            """)
        #expect(again.status == 0, "\(again.stderr)")
        let after = try FileManager.default.contentsOfDirectory(atPath: f.dir)
        #expect(!after.contains { $0.contains(".partial-") }, "\(after)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty)
        #expect(after.contains("scored.csv") && after.contains("ranked.csv"))
    }

    @Test func anInterruptedRunRemovesItsOwnFiles() throws {
        _ = try f.write(f.contacts(rows: 100_000, seed: 15), "term.csv")
        let r = try process(
            """
            "$SCORE" --models models --in term.csv --out scored.csv --policy positive & pid=$!
            for i in $(seq 1 400); do ls scored.csv.partial-* >/dev/null 2>&1 && break; sleep 0.01; done
            kill -TERM $pid; wait $pid; echo "status $?"
            """)
        #expect(r.stdout.contains("status 143"), "\(r.stdout) \(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: f.dir)
        #expect(!names.contains { $0.contains(".partial-") || $0.hasPrefix("scored.csv") }, "\(names)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty)
    }

    @Test func aFailureAtTheEndLeavesNeitherOutputNorDriftReport() throws {
        var text = f.contacts(rows: 5000, seed: 16)
        text += "99999,Web,3,abc,Urban\n"
        let input = try f.write(text, "late.csv")
        let before = files()
        let r = try f.score(["--in", input, "--out", f.dir + "/late-out.csv", "--policy", "positive", "--chunk-bytes", "4096"])
        #expect(r.status == 2)
        #expect(firstLine(r.stderr).hasPrefix("error: \(input):5002:4 (column 'history')"), "\(r.stderr)")
        #expect(leftovers(excluding: before) == [])
    }

    @Test func anOutputLinkIsWrittenThroughAndKeepsItsPermissions() throws {
        let target = f.dir + "/shared-target.csv"
        try "old\n".write(toFile: target, atomically: true, encoding: .utf8)
        chmod(target, 0o600)
        symlink(target, f.dir + "/out-link.csv")
        let r = try f.score(["--in", contacts, "--out", f.dir + "/out-link.csv", "--policy", "positive"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try f.read(target).hasPrefix("row_id,"), "the link's target was not replaced")
        var info = stat()
        lstat(f.dir + "/out-link.csv", &info)
        #expect(info.st_mode & S_IFMT == S_IFLNK, "the link itself was replaced")
        stat(target, &info)
        #expect(info.st_mode & 0o777 == 0o600, "permissions \(String(info.st_mode & 0o777, radix: 8))")
    }

    @Test func aQuoteInsideAnUnquotedFieldDoesNotMoveTheChunkCuts() throws {
        // `27" screen` is data (a quote opens a field only at its start); a later field holds a real quoted line break.
        var lines = f.contacts(rows: 400, seed: 18).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: ",Web,", with: ",27\" screen,")
        lines[300] = lines[300].replacingOccurrences(of: ",Web,", with: ",\"two\nlines\",")
        let input = try f.write(lines.joined(separator: "\n") + "\n", "quotes.csv")
        #expect(try f.score(["--in", input, "--out", f.dir + "/whole.csv", "--policy", "positive"]).status == 0)
        for chunk in ["1024", "1031", "4096"] {
            let r = try f.score(["--in", input, "--out", f.dir + "/chunked.csv", "--policy", "positive", "--chunk-bytes", chunk])
            #expect(r.status == 0, "chunk \(chunk): \(r.stderr)")
            #expect(try f.read(f.dir + "/chunked.csv") == (try f.read(f.dir + "/whole.csv")), "chunk \(chunk)")
        }
    }

    @Test func aLargeFirstRowIDIsFineWhenIDsComeFromAColumn() throws {
        let r = try f.score(["--in", contacts, "--out", f.dir + "/o.csv", "--policy", "positive", "--first-row-id", "9223372036854775800"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func aDamagedEconomicsRecordIsAnErrorNotACrash() throws {
        let path = f.models + "/economics.json"
        let text = try f.read(path)
        let short = text.replacingOccurrences(of: #""costs": ["#, with: #""costs": [0.05], "unused": ["#)
        #expect(short != text)
        try short.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try f.score(["--in", contacts, "--out", f.dir + "/o.csv"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(firstLine(r.stderr).contains("2 arms and 1 costs"), "\(r.stderr)")
    }

    @Test func otherFilesThatLookPartialAreKept() throws {
        let keep = f.dir + "/o.csv.partial-1234567-backup.csv"
        try "mine\n".write(toFile: keep, atomically: true, encoding: .utf8)
        #expect(try f.score(["--in", contacts, "--out", f.dir + "/o.csv", "--policy", "positive"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: keep))
    }

    @Test func aSignalTheParentIgnoresStaysIgnored() throws {
        _ = try f.write(f.contacts(rows: 100_000, seed: 19), "nohup.csv")
        let r = try process(
            """
            trap '' HUP
            "$SCORE" --models models --in nohup.csv --out scored.csv --policy positive & pid=$!
            for i in $(seq 1 400); do ls scored.csv.partial-* >/dev/null 2>&1 && break; sleep 0.01; done
            kill -HUP $pid; wait $pid; echo "status $?"
            """)
        #expect(r.stdout.contains("status 0"), "\(r.stdout) \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: f.dir + "/scored.csv"))
    }
}
