import Stats
import Tabular

/// The stage's CSV tables, written from the typed result. Column names, order and kinds (an int
/// column prints as an integer, a double in shortest form) are the files' contract with readers.
public enum EDAOutputs {
    /// (file name without extension, table), in the order they are written.
    public static func tables(_ r: EDAResult) -> [(name: String, table: Table)] {
        [
            ("arms", arms(r.arms)), ("srm", sampleRatio(r.sampleRatio)), ("balance", balance(r.balance)),
            ("outcomes", outcomes(r.outcomes)), ("lifts", lifts(r.lifts)), ("power", power(r.power)),
            ("power_effects", powerAtEffects(r.powerAtEffects)),
            ("segment_lifts", segmentLifts(r.segmentLifts)), ("positive_distribution", positiveDistribution(r.positiveDistribution)),
        ]
    }

    static func arms(_ rows: [EDAResult.ArmSize]) -> Table {
        Table(
            names: ["arm", "n", "share", "expected_share"],
            columns: [
                .string(StringColumn(rows.map(\.arm))), .int(rows.map(\.n)), .double(rows.map(\.share)), .double(rows.map(\.expectedShare)),
            ])
    }

    static func sampleRatio(_ s: EDAResult.SampleRatioCheck) -> Table {
        Table(
            names: ["test", "statistic", "df", "p_value"],
            columns: [
                .string(StringColumn([s.test])), .double([s.statistic]), .double([s.degreesOfFreedom]), .double([s.pValue]),
            ])
    }

    static func balance(_ rows: [EDAResult.CovariateBalance]) -> Table {
        Table(
            names: ["feature", "level", "arm", "mean", "smd_vs_control"],
            columns: [
                .string(StringColumn(rows.map(\.feature))), .string(StringColumn(rows.map(\.level))), .string(StringColumn(rows.map(\.arm))),
                .double(rows.map(\.mean)), .double(rows.map(\.smdVsControl)),
            ])
    }

    static func outcomes(_ rows: [EDAResult.OutcomeSummary]) -> Table {
        Table(
            names: ["outcome", "arm", "n", "mean", "sd", "ci_low", "ci_high"],
            columns: [
                .string(StringColumn(rows.map(\.outcome))), .string(StringColumn(rows.map(\.arm))), .int(rows.map(\.n)),
                .double(rows.map(\.mean)), .double(rows.map(\.sd)), .double(rows.map(\.ci.lower)), .double(rows.map(\.ci.upper)),
            ])
    }

    static func lifts(_ rows: [EDAResult.Lift]) -> Table {
        var t = Table()
        appendLiftColumns(rows, to: &t)
        return t
    }

    /// The lift columns prefixed by the segment's feature and level.
    static func segmentLifts(_ rows: [EDAResult.SegmentLift]) -> Table {
        var t = Table()
        t.append("feature", .string(StringColumn(rows.map(\.feature))))
        t.append("level", .string(StringColumn(rows.map(\.level))))
        appendLiftColumns(rows.map(\.lift), to: &t)
        t.append("p_holm", .double(rows.map(\.pHolm)))
        t.append("p_bh", .double(rows.map(\.pBH)))
        return t
    }

    static func appendLiftColumns(_ rows: [EDAResult.Lift], to t: inout Table) {
        t.append("outcome", .string(StringColumn(rows.map(\.outcome))))
        t.append("arm", .string(StringColumn(rows.map(\.arm))))
        t.append("n_arm", .int(rows.map(\.nArm)))
        t.append("n_control", .int(rows.map(\.nControl)))
        t.append("mean_control", .double(rows.map(\.meanControl)))
        t.append("mean_arm", .double(rows.map(\.meanArm)))
        t.append("abs_lift", .double(rows.map(\.absolute)))
        t.append("abs_ci_low", .double(rows.map(\.absoluteCI.lower)))
        t.append("abs_ci_high", .double(rows.map(\.absoluteCI.upper)))
        t.append("rel_lift", .double(rows.map(\.relative)))
        t.append("rel_ci_low", .double(rows.map(\.relativeCI.lower)))
        t.append("rel_ci_high", .double(rows.map(\.relativeCI.upper)))
        t.append("test", .string(StringColumn(rows.map(\.test.rawValue))))
        t.append("statistic", .double(rows.map(\.statistic)))
        t.append("p_value", .double(rows.map(\.pValue)))
    }

    static func power(_ rows: [EDAResult.PowerAnalysis]) -> Table {
        Table(
            names: ["outcome", "arm", "n_arm", "n_control", "sd_arm", "sd_control", "mde_abs", "mde_rel"],
            columns: [
                .string(StringColumn(rows.map(\.outcome))), .string(StringColumn(rows.map(\.arm))), .int(rows.map(\.nArm)),
                .int(rows.map(\.nControl)), .double(rows.map(\.sdArm)), .double(rows.map(\.sdControl)), .double(rows.map(\.mdeAbsolute)),
                .double(rows.map(\.mdeRelative)),
            ])
    }

    static func powerAtEffects(_ rows: [EDAResult.PowerAtEffect]) -> Table {
        Table(
            names: [
                "outcome", "arm", "scale", "effect", "abs_effect", "rel_effect", "sd_arm", "sd_control", "n_arm", "n_control",
                "power_now", "n_per_arm",
            ],
            columns: [
                .string(StringColumn(rows.map(\.outcome))), .string(StringColumn(rows.map(\.arm))), .string(StringColumn(rows.map(\.scale.rawValue))),
                .double(rows.map(\.effect)), .double(rows.map(\.absoluteEffect)), .double(rows.map(\.relativeEffect)),
                .double(rows.map(\.sdArm)), .double(rows.map(\.sdControl)), .int(rows.map(\.nArm)), .int(rows.map(\.nControl)),
                .double(rows.map(\.powerNow)), .double(rows.map(\.nPerArm)),
            ])
    }

    static func positiveDistribution(_ rows: [EDAResult.HistogramBin]) -> Table {
        Table(
            names: ["outcome", "arm", "bin_low", "bin_high", "count", "share"],
            columns: [
                .string(StringColumn(rows.map(\.outcome))), .string(StringColumn(rows.map(\.arm))), .double(rows.map(\.low)),
                .double(rows.map(\.high)), .int(rows.map(\.count)), .double(rows.map(\.share)),
            ])
    }
}
