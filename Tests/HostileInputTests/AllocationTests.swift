import Experiment
import Foundation
import ProjectSpec
import TestSupport
import Testing

@testable import PipelineCLI
@testable import Provenance
@testable import Tabular

// The campaign's planned allocation: a mistake in the shares is found while the project file is
// decoded, so the error carries the line and column of the allocation; arms that do not match the
// data are found against the data, so that error names the data file. Either way nothing is written.

@Suite("Planned allocation in the campaign spec")
struct AllocationTests {
    /// The default project with an allocation line for its campaign.
    static func project(allocation: String) throws -> String {
        let text = try projectText().replacingOccurrences(of: "  treatment_noun: e-mail", with: "  allocation: \(allocation)\n  treatment_noun: e-mail")
        #expect(text.contains("allocation: \(allocation)"), "the default project's campaign moved; update the test")
        return text
    }

    func loadError(_ text: String) throws -> DataError? { try projectLoadError(text) }

    @Test(
        "shares that do not sum to 1, or a share outside (0, 1], name the file, the line and column of the allocation, and the key",
        arguments: [
            ("{No E-Mail: 0.50, Mens E-Mail: 0.25, Womens E-Mail: 0.20}", "the shares sum to 0.95, not 1"),
            ("{No E-Mail: 0.50, Mens E-Mail: 0.25, Womens E-Mail: 0.2500001}", "the shares sum to 1.0000001, not 1"),
            ("{No E-Mail: 0.50, Mens E-Mail: 0.75, Womens E-Mail: -0.25}", "the share of 'Womens E-Mail' must lie in (0, 1]"),
            ("{}", "lists no arms"),
        ])
    func sharesChecked(shares: String, expected: String) throws {
        let text = try Self.project(allocation: shares)
        let error = try #require(try loadError(text))
        let place = try #require(position(of: shares, in: text))
        #expect(error.line == place.line && error.column == place.column, "\(error)")
        #expect(error.message.hasPrefix("parameter 'campaign.allocation': ") && error.message.contains(expected), "\(error.message)")
    }

    @Test("a 50/25/25 design decodes, and shares rounded to 1e-12 still sum to 1")
    func validShares() throws {
        let dir = try temporaryFolder("allocation-valid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(try Self.project(allocation: "{No E-Mail: 0.5, Mens E-Mail: 0.25, Womens E-Mail: 0.25}"), to: dir + "/project.yaml")
        let (project, _) = try Params.load(ProjectFile.self, from: dir + "/project.yaml")
        #expect(project.campaign.allocation?.shares == ["No E-Mail": 0.5, "Mens E-Mail": 0.25, "Womens E-Mail": 0.25])
        let thirds = try loadError(try Self.project(allocation: "{No E-Mail: 0.333333333333, Mens E-Mail: 0.333333333333, Womens E-Mail: 0.333333333334}"))
        #expect(thirds == nil, "\(String(describing: thirds))")
    }

    @Test("stage-prepare: shares not summing to 1 exit 2 with one line naming the project's line, and write nothing")
    func prepareRefusesBadShares() throws {
        let dir = try temporaryFolder("prepare-allocation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(smallCampaign(), to: dir + "/campaign.csv")
        let project = try Self.project(allocation: "{No E-Mail: 0.4, Mens E-Mail: 0.3, Womens E-Mail: 0.2}")
            .replacingOccurrences(of: "file: data/raw/hillstrom.csv", with: "file: \(dir)/campaign.csv")
        try AtomicFile.write(project, to: dir + "/project.yaml")
        let out = dir + "/out"
        let r = try Shell.run([
            try builtProduct("stage-prepare"), "--project", dir + "/project.yaml", "--params", packageRoot + "/stages/prepare/params.yaml", "--out", out,
        ])
        let place = try #require(position(of: "{No E-Mail: 0.4", in: project))
        #expect(r.status == 2)
        #expect(
            r.stderr.hasPrefix("error: \(dir)/project.yaml:\(place.line):\(place.column): parameter 'campaign.allocation': the shares sum to 0.9, not 1"),
            "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("stage-prepare: an allocation whose arms are not the data's names the data file and the arm, and writes nothing")
    func prepareRefusesOtherArms() throws {
        let dir = try temporaryFolder("prepare-allocation-arms")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(smallCampaign(), to: dir + "/campaign.csv")
        for (allocation, arm) in [
            ("{No E-Mail: 0.5, Mens E-Mail: 0.5}", "arm 'Womens E-Mail' is not in the campaign's allocation"),
            ("{No E-Mail: 0.25, Mens E-Mail: 0.25, Womens E-Mail: 0.25, Kids E-Mail: 0.25}", "lists arm 'Kids E-Mail', which does not occur"),
        ] {
            let project = try Self.project(allocation: allocation)
                .replacingOccurrences(of: "file: data/raw/hillstrom.csv", with: "file: \(dir)/campaign.csv")
            try AtomicFile.write(project, to: dir + "/project.yaml")
            let out = dir + "/out"
            let r = try Shell.run([
                try builtProduct("stage-prepare"), "--project", dir + "/project.yaml", "--params", packageRoot + "/stages/prepare/params.yaml", "--out",
                out,
            ])
            #expect(r.status == 2)
            #expect(r.stderr.hasPrefix("error: \(dir)/campaign.csv") && r.stderr.contains("segment") && r.stderr.contains(arm), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
