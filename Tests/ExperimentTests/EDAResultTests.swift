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

    static let params = EDAParams(
        segmentFeatures: ["tenure", "region"], segmentOutcome: "visit", histogramBins: 3,
        powerEffects: [.init(outcome: "visit", relative: [0.5]), .init(outcome: "spend", absolute: [5])])

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
        // 3 of 4 against 2 of 8: expected counts below 5, so Fisher's exact test (no statistic);
        // scipy.stats.fisher_exact([[3, 1], [2, 6]]) gives p = 0.2222222222222222.
        #expect(alphaVisit.test == .fisherExact)
        #expect(alphaVisit.statistic.isNaN)
        #expect(abs(alphaVisit.pValue - 0.2222222222222222) < 1e-12)
        #expect(try r.lift("spend", arm: "Beta").test == .welchT)
        // Each group's own spread in the MDE.
        #expect(try r.power("spend", arm: "Alpha").sdArm == r.outcome("spend", arm: "Alpha").sd)
        #expect(try r.power("spend", arm: "Alpha").sdControl == r.outcome("spend", arm: "Control").sd)

        // Power at the planned effects. Visit +50% of the control rate 0.25: p1 = 0.375,
        // n = (z_0.975 + z_0.8)² (0.25·0.75 + 0.375·0.625) / 0.125² → 212. Spend +5: SDs 13.2288 (Alpha)
        // and 7.4402 (control), n → 73, power with 4 and 8 rows 0.1081576113909817 (scipy.stats.norm).
        let visitPlan = try #require(r.powerAtEffects.first { $0.outcome == "visit" && $0.arm == "Alpha" })
        #expect(visitPlan.scale == .relative && visitPlan.effect == 0.5 && visitPlan.absoluteEffect == 0.125 && visitPlan.nPerArm == 212)
        let spendPlan = try #require(r.powerAtEffects.first { $0.outcome == "spend" && $0.arm == "Alpha" })
        #expect(spendPlan.scale == .absolute && spendPlan.absoluteEffect == 5 && spendPlan.nPerArm == 73)
        #expect(abs(spendPlan.powerNow - 0.1081576113909817) < 1e-12)
        #expect(r.powerAtEffects.count == 2 * 3)

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
        // One family: every segment lift with a p-value, adjusted together.
        let raw = r.segmentLifts.map(\.lift.pValue)
        #expect(r.segmentFamilySize == raw.filter { !$0.isNaN }.count)
        #expect(sameValues(r.segmentLifts.map(\.pHolm), MultipleTesting.holm(raw)))
        #expect(sameValues(r.segmentLifts.map(\.pBH), MultipleTesting.benjaminiHochberg(raw)))
        #expect(r.segmentLifts.allSatisfy { $0.pHolm.isNaN || ($0.pHolm >= $0.pBH && $0.pBH >= $0.lift.pValue) })

        #expect(throws: EDAResult.MissingRow.self) { try r.outcome("visit", arm: "Gamma") }
    }

    @Test("each CSV table has today's columns and, read back, the typed result's values")
    func tablesAgreeWithTypedResult() throws {
        let r = try EDA.analyse(try Toy.table(), spec: Toy.spec, params: Toy.params)
        let tables = Dictionary(uniqueKeysWithValues: EDAOutputs.tables(r).map { ($0.name, $0.table) })
        #expect(
            EDAOutputs.tables(r).map(\.name) == [
                "arms", "srm", "balance", "outcomes", "lifts", "power", "power_effects", "segment_lifts", "positive_distribution",
            ])

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
                .init("sd_arm", .double), .init("sd_control", .double), .init("mde_abs", .double), .init("mde_rel", .double),
            ],
            "power_effects": [
                .init("outcome", .string), .init("arm", .string), .init("scale", .string), .init("effect", .double),
                .init("abs_effect", .double), .init("rel_effect", .double), .init("sd_arm", .double), .init("sd_control", .double),
                .init("n_arm", .int), .init("n_control", .int), .init("power_now", .double), .init("n_per_arm", .double),
            ],
            "segment_lifts": [.init("feature", .string), .init("level", .string)] + lift + [.init("p_holm", .double), .init("p_bh", .double)],
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
        #expect(sameValues(try segments.doubles("p_holm"), r.segmentLifts.map(\.pHolm)))
        #expect(sameValues(try segments.doubles("p_bh"), r.segmentLifts.map(\.pBH)))

        let power = try #require(back["power"])
        #expect(try power.strings("outcome").values == r.power.map(\.outcome))
        #expect(try power.strings("arm").values == r.power.map(\.arm))
        #expect(try power.ints("n_arm") == r.power.map(\.nArm))
        #expect(try power.ints("n_control") == r.power.map(\.nControl))
        #expect(sameValues(try power.doubles("sd_arm"), r.power.map(\.sdArm)))
        #expect(sameValues(try power.doubles("sd_control"), r.power.map(\.sdControl)))
        #expect(sameValues(try power.doubles("mde_abs"), r.power.map(\.mdeAbsolute)))
        #expect(sameValues(try power.doubles("mde_rel"), r.power.map(\.mdeRelative)))

        let planned = try #require(back["power_effects"])
        #expect(try planned.strings("outcome").values == r.powerAtEffects.map(\.outcome))
        #expect(try planned.strings("arm").values == r.powerAtEffects.map(\.arm))
        #expect(try planned.strings("scale").values == r.powerAtEffects.map(\.scale.rawValue))
        #expect(sameValues(try planned.doubles("effect"), r.powerAtEffects.map(\.effect)))
        #expect(sameValues(try planned.doubles("abs_effect"), r.powerAtEffects.map(\.absoluteEffect)))
        #expect(sameValues(try planned.doubles("rel_effect"), r.powerAtEffects.map(\.relativeEffect)))
        #expect(sameValues(try planned.doubles("sd_arm"), r.powerAtEffects.map(\.sdArm)))
        #expect(sameValues(try planned.doubles("sd_control"), r.powerAtEffects.map(\.sdControl)))
        #expect(try planned.ints("n_arm") == r.powerAtEffects.map(\.nArm))
        #expect(try planned.ints("n_control") == r.powerAtEffects.map(\.nControl))
        #expect(sameValues(try planned.doubles("power_now"), r.powerAtEffects.map(\.powerNow)))
        #expect(sameValues(try planned.doubles("n_per_arm"), r.powerAtEffects.map(\.nPerArm)))

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
