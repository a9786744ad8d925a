import Foundation
import Tabular
import Testing

@testable import CLVAnalysis

// The CDNOW replication is an optional part of a CLV analysis: without a `cdnow:` block the stage
// fits and reports the shop's own log, and nothing in its tables, fits, figures or report is about CDNOW.
@Suite struct ReplicationApartTests {
    @Test func withoutCDNOWTheAnalysisIsTheShopsOnly() throws {
        let shop = try ToyShop()
        defer { shop.remove() }
        let apart = try shop.params(models: nil, production: "auto", replication: false)
        #expect(apart.cdnow == nil)
        try apart.validate(source: "p.yaml")
        let with = try shop.params(models: nil, production: "auto")
        #expect(with.cdnow != nil)

        let shopOnly = try CLVAnalysis.run(apart)
        let both = try CLVAnalysis.run(with)
        #expect(shopOnly.replication == nil)
        #expect(!(try #require(both.replication)).isEmpty)

        let tables = CLVOutputs.tables(shopOnly).map(\.name)
        #expect(!tables.contains { $0.lowercased().contains("cdnow") }, "\(tables)")
        #expect(tables + ["cdnow_replication"] == CLVOutputs.tables(both).map(\.name))
        // The shop's own results do not depend on whether the replication ran.
        #expect(
            CLVOutputs.tables(shopOnly).map { CSVWriter.encode($0.table) }
                == CLVOutputs.tables(both).filter { $0.name != "cdnow_replication" }.map { CSVWriter.encode($0.table) })
        #expect(CLVOutputs.fitFiles(shopOnly).map(\.json) == CLVOutputs.fitFiles(both).map(\.json))
        #expect(CLVFigures.figures(shopOnly).map(\.name) == CLVFigures.figures(both).map(\.name))

        let report = CLVReport.build(shopOnly, params: apart, figureDir: "figures", tableDir: "tables")
        #expect(!report.lowercased().contains("cdnow"), "the report speaks of CDNOW without a replication")
        let full = CLVReport.build(both, params: with, figureDir: "figures", tableDir: "tables")
        #expect(full.contains("## Replication on CDNOW") && full.contains("cdnow_replication.csv"))
    }
}
