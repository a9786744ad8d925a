import Stats
import Tabular

/// The experiment analysis as typed rows, one array per table of the stage. The CSV tables
/// (`EDAOutputs`), the figures and the report are all built from these values, so a renamed or
/// dropped field is a compile error rather than a missing column at run time.
public struct EDAResult: Sendable, Equatable {
    /// One row per arm, control first.
    public var arms: [ArmSize]
    public var sampleRatio: SampleRatioCheck
    /// Per feature (and category level), one row per arm.
    public var balance: [CovariateBalance]
    /// Per outcome, one row per arm and then the pooled treated arms (when there are several).
    public var outcomes: [OutcomeSummary]
    /// Per outcome, one row per comparison with control.
    public var lifts: [Lift]
    /// Per outcome, one row per comparison with control.
    public var power: [PowerAnalysis]
    /// Per effect the params set (`power_effects`), one row per comparison with control.
    public var powerAtEffects: [PowerAtEffect]
    /// Per segmenting feature, level and outcome, one row per comparison with enough rows on both sides.
    public var segmentLifts: [SegmentLift]
    /// Number of segment lifts with a p-value: the family their Holm and Benjamini–Hochberg
    /// adjustments are computed over.
    public var segmentFamilySize: Int
    /// Histogram of each continuous outcome among rows where it is positive, per arm.
    public var positiveDistribution: [HistogramBin]
    /// The arms compared with control, in the order of the lift tables: each treated arm, then
    /// `EDA.pooledArm` when there is more than one treated arm.
    public var comparisonArms: [String]

    /// Arm names, control first.
    public var armNames: [String] { arms.map(\.arm) }

    public struct ArmSize: Sendable, Equatable {
        public var arm: String
        public var n: Int
        public var share: Double
        /// The design's share (equal shares unless the spec plans an allocation), which the sample-ratio check tests against.
        public var expectedShare: Double
    }

    public struct SampleRatioCheck: Sendable, Equatable {
        public var test: String
        public var statistic: Double
        public var degreesOfFreedom: Double
        public var pValue: Double
        /// Tested against the spec's planned allocation rather than equal shares.
        public var plannedAllocation: Bool
    }

    public struct CovariateBalance: Sendable, Equatable {
        public var feature: String
        /// Category level, or empty for a numeric feature (then `mean` is the feature's mean,
        /// otherwise the level's share).
        public var level: String
        public var arm: String
        public var mean: Double
        /// Standardized mean difference against control; NaN on the control arm's own row.
        public var smdVsControl: Double
    }

    public struct OutcomeSummary: Sendable, Equatable {
        public var outcome: String
        public var arm: String
        public var n: Int
        public var mean: Double
        public var sd: Double
        /// Wilson interval for binary outcomes, t interval for continuous ones.
        public var ci: Interval
    }

    /// The test behind a lift; the raw value is what the tables and the report print.
    public enum LiftTest: String, Sendable, Equatable {
        case twoProportionZ = "two-proportion z"
        case welchT = "Welch t"
        /// Binary outcome with an expected cell count below `EDA.minimumExpectedCount`; the
        /// statistic is then NaN (an exact test has none).
        case fisherExact = "Fisher exact"
    }

    public struct Lift: Sendable, Equatable {
        public var outcome: String
        public var arm: String
        public var nArm: Int
        public var nControl: Int
        public var meanControl: Double
        public var meanArm: Double
        /// Arm mean minus control mean.
        public var absolute: Double
        public var absoluteCI: Interval
        /// Absolute lift over the control mean.
        public var relative: Double
        public var relativeCI: Interval
        public var test: LiftTest
        /// z (two-proportion) or t (Welch); NaN for Fisher's exact test.
        public var statistic: Double
        public var pValue: Double
    }

    public struct SegmentLift: Sendable, Equatable {
        public var feature: String
        public var level: String
        public var lift: Lift
        /// The lift's p-value adjusted over the family of all segment lifts: Holm (family-wise
        /// error) and Benjamini–Hochberg (false discovery rate). NaN when the test had no p-value.
        public var pHolm: Double
        public var pBH: Double
    }

    public struct PowerAnalysis: Sendable, Equatable {
        public var outcome: String
        public var arm: String
        public var nArm: Int
        public var nControl: Int
        /// Each group's observed outcome spread (sample standard deviation).
        public var sdArm: Double
        public var sdControl: Double
        /// Minimum detectable effect with these group sizes and spreads, absolute and relative to the control mean.
        public var mdeAbsolute: Double
        public var mdeRelative: Double
    }

    /// How a planned effect is given in the params; the raw value is what the tables print.
    public enum EffectScale: String, Sendable, Equatable {
        case relative, absolute
    }

    /// Power for an effect set in advance (not the one observed).
    public struct PowerAtEffect: Sendable, Equatable {
        public var outcome: String
        public var arm: String
        public var scale: EffectScale
        /// The effect as the params give it.
        public var effect: Double
        /// The same effect in the outcome's unit and relative to the control mean.
        public var absoluteEffect: Double
        public var relativeEffect: Double
        /// Spreads assumed for the arm and control (binary: √(p(1 − p)) at the planned rates;
        /// continuous: each group's observed standard deviation).
        public var sdArm: Double
        public var sdControl: Double
        public var nArm: Int
        public var nControl: Int
        /// Power of a two-sided test at alpha with this experiment's group sizes.
        public var powerNow: Double
        /// Customers per arm (equal arms) a new test needs for the target power.
        public var nPerArm: Double
    }

    public struct HistogramBin: Sendable, Equatable {
        public var outcome: String
        public var arm: String
        public var low: Double
        public var high: Double
        public var count: Int
        /// Share of the arm's positive rows that fall in this bin.
        public var share: Double
    }
}

extension EDAResult {
    /// Raised when a lookup that the analysis guarantees finds no row or several: a bug, not bad input.
    public struct MissingRow: ClassifiedError, Equatable {
        public var description: String
        public var isBadInput: Bool { false }
    }

    public func outcome(_ outcome: String, arm: String) throws -> OutcomeSummary {
        try Self.single(outcomes, "outcome '\(outcome)', arm '\(arm)'") { $0.outcome == outcome && $0.arm == arm }
    }

    public func lift(_ outcome: String, arm: String) throws -> Lift {
        try Self.single(lifts, "lift of '\(outcome)', arm '\(arm)'") { $0.outcome == outcome && $0.arm == arm }
    }

    public func power(_ outcome: String, arm: String) throws -> PowerAnalysis {
        try Self.single(power, "power of '\(outcome)', arm '\(arm)'") { $0.outcome == outcome && $0.arm == arm }
    }

    public func balance(_ feature: String, level: String, arm: String) throws -> CovariateBalance {
        try Self.single(balance, "balance of '\(feature)' '\(level)', arm '\(arm)'") {
            $0.feature == feature && $0.level == level && $0.arm == arm
        }
    }

    /// Segment lifts of one outcome (optionally one arm), in table order.
    public func segmentLifts(_ outcome: String, arm: String? = nil) -> [SegmentLift] {
        segmentLifts.filter { $0.lift.outcome == outcome && (arm == nil || $0.lift.arm == arm) }
    }

    /// Histogram bins of one outcome and arm, in order.
    public func positiveDistribution(_ outcome: String, arm: String) -> [HistogramBin] {
        positiveDistribution.filter { $0.outcome == outcome && $0.arm == arm }
    }

    static func single<Row>(_ rows: [Row], _ what: String, _ matches: (Row) -> Bool) throws -> Row {
        let found = rows.filter(matches)
        guard found.count == 1 else {
            throw MissingRow(description: "EDA result: expected one row for \(what), found \(found.count)")
        }
        return found[0]
    }
}
