import Foundation
import Stats
import Tabular
import Testing

@testable import Experiment

/// A small experiment built by hand: control 8 rows, two e-mail arms of 4, a binary and a
/// continuous outcome, a discrete numeric and a categorical feature.
private enum Toy {
    static let spec = DatasetSpec(
        name: "toy", file: "toy.csv", armColumn: "arm", controlArm: "Control",
        outcomes: [.init(name: "visit", type: .binary), .init(name: "spend", type: .continuous)],
        features: [.init(name: "tenure", type: .numeric), .init(name: "region", type: .categorical)])

    // (arm, visit, spend, tenure, region)
    static let rows: [(String, Int, Double, Int, String)] = [
        ("Control", 0, 0, 0, "north"), ("Alpha", 1, 5, 0, "north"), ("Control", 1, 10, 0, "south"), ("Beta", 0, 0, 0, "north"),
        ("Control", 0, 0, 0, "north"), ("Alpha", 1, 15, 0, "south"), ("Control", 0, 0, 0, "south"), ("Beta", 1, 8, 1, "north"),
        ("Control", 1, 20, 1, "north"), ("Alpha", 0, 0, 1, "north"), ("Control", 0, 0, 1, "south"), ("Beta", 1, 12, 0, "south"),
        ("Control", 0, 0, 1, "north"), ("Alpha", 1, 30, 1, "south"), ("Control", 0, 0, 1, "south"), ("Beta", 0, 0, 1, "south"),
    ]

    static let params = EDAParams(segmentFeatures: ["tenure", "region"], segmentOutcome: "visit", histogramBins: 3)

    static func table() throws -> Table {
        var csv = "arm,visit,spend,tenure,region\n"
        for (arm, visit, spend, tenure, region) in rows { csv += "\(arm),\(visit),\(formatDouble(spend)),\(tenure),\(region)\n" }
        return try CSVReader.read(bytes: Array(csv.utf8), source: "toy.csv", schema: spec.rawSchema)
    }

    static func mean(_ arm: String?, _ value: ((String, Int, Double, Int, String)) -> Double) -> Double {
        let selected = rows.filter { arm == nil ? $0.0 != "Control" : $0.0 == arm }.map(value)
        return selected.reduce(0, +) / Double(selected.count)
    }
}

/// Doubles equal bit for bit after a round trip, NaN (an empty field) matching NaN.
private func sameValues(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

@Suite("EDA typed result and its tables")
struct EDAResultTests {
    @Test("the typed result holds the hand-computed arm sizes, means, lifts, balance and histogram")
    func typedValues() throws {
        let r = try EDA.analyse(try Toy.table(), spec: Toy.spec, params: Toy.params)
        #expect(r.armNames == ["Control", "Alpha", "Beta"])
        #expect(r.arms.map(\.n) == [8, 4, 4])
        #expect(r.arms.map(\.share) == [0.5, 0.25, 0.25])
        #expect(r.comparisonArms == ["Alpha", "Beta", EDA.pooledArm])
        #expect(r.sampleRatio.degreesOfFreedom == 2)

        for arm in ["Control", "Alpha", "Beta"] {
            #expect(try r.outcome("visit", arm: arm).mean == Toy.mean(arm) { Double($0.1) })
            #expect(abs(try r.outcome("spend", arm: arm).mean - Toy.mean(arm) { $0.2 }) < 1e-12)
        }
        #expect(try r.outcome("visit", arm: EDA.pooledArm).mean == Toy.mean(nil) { Double($0.1) })
        #expect(try r.outcome("visit", arm: EDA.pooledArm).n == 8)

        let alphaVisit = try r.lift("visit", arm: "Alpha")
        #expect(alphaVisit.meanControl == 0.25 && alphaVisit.meanArm == 0.75)
        #expect(alphaVisit.absolute == 0.5)
        #expect(abs(alphaVisit.relative - 2) < 1e-12)
        #expect(alphaVisit.absoluteCI.contains(alphaVisit.absolute))
        #expect(alphaVisit.test == .twoProportionZ)
        #expect(try r.lift("spend", arm: "Beta").test == .welchT)
        #expect(try r.power("visit", arm: "Alpha").observedLift == alphaVisit.absolute)

        #expect(try r.balance("region", level: "north", arm: "Beta").mean == 0.5)
        #expect(try r.balance("tenure", level: "", arm: "Alpha").mean == 0.5)
        #expect(try r.balance("tenure", level: "", arm: "Control").smdVsControl.isNaN)
        #expect(r.balance.count == (1 + 2) * 3)

        // Positive spend ranges up to 30; three bins of width 10, the maximum in the last.
        #expect(r.positiveDistribution("spend", arm: "Control").map(\.count) == [0, 1, 1])
        #expect(r.positiveDistribution("spend", arm: "Alpha").map(\.count) == [1, 1, 1])
        #expect(r.positiveDistribution("spend", arm: "Beta").map(\.count) == [1, 1, 0])
        #expect(r.positiveDistribution("spend", arm: "Beta").map(\.high) == [10, 20, 30])

        // Two features of two levels, two outcomes, three comparisons: every cell has two or more rows per side.
        #expect(r.segmentLifts.count == 2 * 2 * 2 * 3)
        let alphaNorth = try #require(r.segmentLifts("visit", arm: "Alpha").first { $0.feature == "region" && $0.level == "north" })
        #expect(alphaNorth.lift.meanArm == 0.5 && alphaNorth.lift.meanControl == 0.25)
        #expect(Set(r.segmentLifts.filter { $0.feature == "tenure" }.map(\.level)) == [formatDouble(0), formatDouble(1)])

        #expect(throws: EDAResult.MissingRow.self) { try r.outcome("visit", arm: "Gamma") }
    }

    @Test("each CSV table has today's columns and, read back, the typed result's values")
    func tablesAgreeWithTypedResult() throws {
        let r = try EDA.analyse(try Toy.table(), spec: Toy.spec, params: Toy.params)
        let tables = Dictionary(uniqueKeysWithValues: EDAOutputs.tables(r).map { ($0.name, $0.table) })
        #expect(EDAOutputs.tables(r).map(\.name) == ["arms", "srm", "balance", "outcomes", "lifts", "power", "segment_lifts", "positive_distribution"])

        // The columns, their order and kinds are the files' contract with their readers.
        let lift: [ColumnSpec] = [
            .init("outcome", .string), .init("arm", .string), .init("n_arm", .int), .init("n_control", .int),
            .init("mean_control", .double), .init("mean_arm", .double), .init("abs_lift", .double), .init("abs_ci_low", .double),
            .init("abs_ci_high", .double), .init("rel_lift", .double), .init("rel_ci_low", .double), .init("rel_ci_high", .double),
            .init("test", .string), .init("statistic", .double), .init("p_value", .double),
        ]
        let contract: [String: [ColumnSpec]] = [
            "arms": [.init("arm", .string), .init("n", .int), .init("share", .double), .init("expected_share", .double)],
            "srm": [.init("test", .string), .init("statistic", .double), .init("df", .double), .init("p_value", .double)],
            "balance": [
                .init("feature", .string), .init("level", .string), .init("arm", .string), .init("mean", .double),
                .init("smd_vs_control", .double),
            ],
            "outcomes": [
                .init("outcome", .string), .init("arm", .string), .init("n", .int), .init("mean", .double),
                .init("sd", .double), .init("ci_low", .double), .init("ci_high", .double),
            ],
            "lifts": lift,
            "power": [
                .init("outcome", .string), .init("arm", .string), .init("n_arm", .int), .init("n_control", .int),
                .init("sd_control", .double), .init("mde_abs", .double), .init("mde_rel", .double), .init("observed_lift", .double),
                .init("power_at_observed", .double), .init("n_per_arm_for_observed", .double),
            ],
            "segment_lifts": [.init("feature", .string), .init("level", .string)] + lift,
            "positive_distribution": [
                .init("outcome", .string), .init("arm", .string), .init("bin_low", .double),
                .init("bin_high", .double), .init("count", .int), .init("share", .double),
            ],
        ]
        #expect(Set(contract.keys) == Set(tables.keys))
        var back: [String: Table] = [:]
        for (name, table) in EDAOutputs.tables(r) {
            let columns = try #require(contract[name])
            #expect(table.names == columns.map(\.name), "\(name)")
            #expect(table.columns.map(\.kind) == columns.map(\.kind), "\(name)")
            // Through the bytes the stage writes; NaN is written as an empty field.
            let bytes = CSVWriter.encode(table)
            #expect(try CSVReader.header(bytes: bytes, source: name) == columns.map(\.name))
            let schema = CSVSchema(columns.map { ColumnSpec($0.name, $0.kind, nullable: $0.kind == .double) })
            back[name] = try CSVReader.read(bytes: bytes, source: name, schema: schema)
        }

        let arms = try #require(back["arms"])
        #expect(try arms.strings("arm").values == r.arms.map(\.arm))
        #expect(try arms.ints("n") == r.arms.map(\.n))
        #expect(sameValues(try arms.doubles("share"), r.arms.map(\.share)))
        #expect(sameValues(try arms.doubles("expected_share"), r.arms.map(\.expectedShare)))

        let srm = try #require(back["srm"])
        #expect(try srm.strings("test").values == [r.sampleRatio.test])
        #expect(sameValues(try srm.doubles("statistic"), [r.sampleRatio.statistic]))
        #expect(sameValues(try srm.doubles("df"), [r.sampleRatio.degreesOfFreedom]))
        #expect(sameValues(try srm.doubles("p_value"), [r.sampleRatio.pValue]))

        let balance = try #require(back["balance"])
        #expect(try balance.strings("feature").values == r.balance.map(\.feature))
        #expect(try balance.strings("level").values == r.balance.map(\.level))
        #expect(try balance.strings("arm").values == r.balance.map(\.arm))
        #expect(sameValues(try balance.doubles("mean"), r.balance.map(\.mean)))
        #expect(sameValues(try balance.doubles("smd_vs_control"), r.balance.map(\.smdVsControl)))

        let outcomes = try #require(back["outcomes"])
        #expect(try outcomes.strings("outcome").values == r.outcomes.map(\.outcome))
        #expect(try outcomes.strings("arm").values == r.outcomes.map(\.arm))
        #expect(try outcomes.ints("n") == r.outcomes.map(\.n))
        #expect(sameValues(try outcomes.doubles("mean"), r.outcomes.map(\.mean)))
        #expect(sameValues(try outcomes.doubles("sd"), r.outcomes.map(\.sd)))
        #expect(sameValues(try outcomes.doubles("ci_low"), r.outcomes.map(\.ci.lower)))
        #expect(sameValues(try outcomes.doubles("ci_high"), r.outcomes.map(\.ci.upper)))

        try expectLifts(try #require(back["lifts"]), r.lifts)
        let segments = try #require(back["segment_lifts"])
        #expect(try segments.strings("feature").values == r.segmentLifts.map(\.feature))
        #expect(try segments.strings("level").values == r.segmentLifts.map(\.level))
        try expectLifts(segments, r.segmentLifts.map(\.lift))

        let power = try #require(back["power"])
        #expect(try power.strings("outcome").values == r.power.map(\.outcome))
        #expect(try power.strings("arm").values == r.power.map(\.arm))
        #expect(try power.ints("n_arm") == r.power.map(\.nArm))
        #expect(try power.ints("n_control") == r.power.map(\.nControl))
        #expect(sameValues(try power.doubles("sd_control"), r.power.map(\.sdControl)))
        #expect(sameValues(try power.doubles("mde_abs"), r.power.map(\.mdeAbsolute)))
        #expect(sameValues(try power.doubles("mde_rel"), r.power.map(\.mdeRelative)))
        #expect(sameValues(try power.doubles("observed_lift"), r.power.map(\.observedLift)))
        #expect(sameValues(try power.doubles("power_at_observed"), r.power.map(\.powerAtObserved)))
        #expect(sameValues(try power.doubles("n_per_arm_for_observed"), r.power.map(\.nPerArmForObserved)))

        let histogram = try #require(back["positive_distribution"])
        #expect(try histogram.strings("outcome").values == r.positiveDistribution.map(\.outcome))
        #expect(try histogram.strings("arm").values == r.positiveDistribution.map(\.arm))
        #expect(sameValues(try histogram.doubles("bin_low"), r.positiveDistribution.map(\.low)))
        #expect(sameValues(try histogram.doubles("bin_high"), r.positiveDistribution.map(\.high)))
        #expect(try histogram.ints("count") == r.positiveDistribution.map(\.count))
        #expect(sameValues(try histogram.doubles("share"), r.positiveDistribution.map(\.share)))
    }

    private func expectLifts(_ t: Table, _ lifts: [EDAResult.Lift]) throws {
        #expect(!lifts.isEmpty)
        #expect(try t.strings("outcome").values == lifts.map(\.outcome))
        #expect(try t.strings("arm").values == lifts.map(\.arm))
        #expect(try t.ints("n_arm") == lifts.map(\.nArm))
        #expect(try t.ints("n_control") == lifts.map(\.nControl))
        #expect(sameValues(try t.doubles("mean_control"), lifts.map(\.meanControl)))
        #expect(sameValues(try t.doubles("mean_arm"), lifts.map(\.meanArm)))
        #expect(sameValues(try t.doubles("abs_lift"), lifts.map(\.absolute)))
        #expect(sameValues(try t.doubles("abs_ci_low"), lifts.map(\.absoluteCI.lower)))
        #expect(sameValues(try t.doubles("abs_ci_high"), lifts.map(\.absoluteCI.upper)))
        #expect(sameValues(try t.doubles("rel_lift"), lifts.map(\.relative)))
        #expect(sameValues(try t.doubles("rel_ci_low"), lifts.map(\.relativeCI.lower)))
        #expect(sameValues(try t.doubles("rel_ci_high"), lifts.map(\.relativeCI.upper)))
        #expect(try t.strings("test").values == lifts.map(\.test.rawValue))
        #expect(sameValues(try t.doubles("statistic"), lifts.map(\.statistic)))
        #expect(sameValues(try t.doubles("p_value"), lifts.map(\.pValue)))
    }
}
