import Foundation
import Stats
import Tabular

public struct EDAParams: Codable, Sendable, Equatable {
    public var confidenceLevel: Double
    public var alpha: Double
    public var power: Double
    /// Features (numeric with few distinct values, or categorical) to break lifts down by.
    public var segmentFeatures: [String]
    /// Outcome drawn in the lift-by-segment figure and discussed in the summary.
    public var segmentOutcome: String
    public var histogramBins: Int

    enum CodingKeys: String, CodingKey {
        case confidenceLevel = "confidence_level"
        case alpha, power
        case segmentFeatures = "segment_features"
        case segmentOutcome = "segment_outcome"
        case histogramBins = "histogram_bins"
    }

    public init(
        confidenceLevel: Double = 0.95, alpha: Double = 0.05, power: Double = 0.8,
        segmentFeatures: [String], segmentOutcome: String, histogramBins: Int = 40
    ) {
        self.confidenceLevel = confidenceLevel
        self.alpha = alpha
        self.power = power
        self.segmentFeatures = segmentFeatures
        self.segmentOutcome = segmentOutcome
        self.histogramBins = histogramBins
    }
}

public enum EDA {
    /// Name used in the tables for the pooled comparison of all treated arms with control.
    public static let pooledArm = "any treatment"

    /// The experiment analysis: every table the EDA report shows, computed from the data.
    public static func analyse(_ table: Table, spec: DatasetSpec, params: EDAParams) throws -> EDAResult {
        let arms = try Arms(
            column: try table.strings(spec.armColumn), control: spec.controlArm,
            source: table.source, columnName: spec.armColumn)
        let n = table.rowCount
        let level = params.confidenceLevel

        // Group memberships: each arm, plus all treated arms pooled.
        var groups: [(name: String, rows: [Int])] = arms.names.map { ($0, []) }
        for r in 0..<n { groups[arms.index[r]].rows.append(r) }
        let pooledRows = (0..<n).filter { arms.index[$0] != 0 }
        let comparisons: [(name: String, rows: [Int])] = Array(groups[1...]) + (arms.count > 2 ? [(pooledArm, pooledRows)] : [])
        let control = groups[0].rows

        // Arm sizes and sample-ratio mismatch against equal allocation.
        let counts = groups.map { Double($0.rows.count) }
        let srm = Inference.chiSquareGoodnessOfFit(observed: counts, expectedShares: counts.map { _ in 1 })
        let armSizes = groups.map { group in
            EDAResult.ArmSize(
                arm: group.name, n: group.rows.count, share: Double(group.rows.count) / Double(n),
                expectedShare: 1 / Double(arms.count))
        }
        let sampleRatio = EDAResult.SampleRatioCheck(
            test: "chi-square vs equal allocation", statistic: srm.statistic,
            degreesOfFreedom: srm.df, pValue: srm.pValue)

        // Covariate balance.
        var balance: [EDAResult.CovariateBalance] = []
        for f in spec.features {
            let indicators: [(String, [Double])]
            switch f.type {
            case .numeric:
                indicators = [("", try table.doubles(f.name))]
            case .categorical:
                let col = try table.strings(f.name)
                indicators = col.levels.enumerated().sorted { $0.element < $1.element }.map { (code, level) in
                    (level, col.codes.map { Int($0) == code ? 1.0 : 0.0 })
                }
            }
            for (levelName, values) in indicators {
                let controlMoments = Moments(control.map { values[$0] })
                for (g, group) in groups.enumerated() {
                    let m = Moments(group.rows.map { values[$0] })
                    balance.append(
                        EDAResult.CovariateBalance(
                            feature: f.name, level: levelName, arm: group.name, mean: m.mean,
                            smdVsControl: g == 0 ? .nan : Inference.standardizedMeanDifference(treated: m, control: controlMoments)))
                }
            }
        }

        // Outcomes per arm, lifts and power.
        var outcomes: [EDAResult.OutcomeSummary] = []
        var lifts: [EDAResult.Lift] = []
        var power: [EDAResult.PowerAnalysis] = []
        for o in spec.outcomes {
            let y = try table.doubles(o.name)
            let controlMoments = Moments(control.map { y[$0] })
            for group in groups + (arms.count > 2 ? [(pooledArm, pooledRows)] : []) {
                let m = Moments(group.rows.map { y[$0] })
                let ci =
                    o.type == .binary
                    ? Inference.wilson(successes: m.mean * Double(m.n), n: Double(m.n), level: level)
                    : Inference.meanInterval(m, level: level)
                outcomes.append(EDAResult.OutcomeSummary(outcome: o.name, arm: group.name, n: m.n, mean: m.mean, sd: m.sd, ci: ci))
            }
            for group in comparisons {
                let m = Moments(group.rows.map { y[$0] })
                let c = compare(kind: o.type, treated: m, control: controlMoments, level: level)
                lifts.append(EDAResult.Lift(outcome: o.name, arm: group.name, kind: o.type, treated: m, control: controlMoments, c))

                // Power: the smallest difference detectable with these group sizes, using the
                // control group's outcome spread for both groups.
                let sd0 = o.type == .binary ? (controlMoments.mean * (1 - controlMoments.mean)).squareRoot() : controlMoments.sd
                let mde = Power.minimumDetectableEffect(
                    sd1: sd0, n1: Double(m.n), sd0: sd0, n0: Double(controlMoments.n),
                    alpha: params.alpha, power: params.power)
                let se = (m.variance / Double(m.n) + controlMoments.variance / Double(controlMoments.n)).squareRoot()
                power.append(
                    EDAResult.PowerAnalysis(
                        outcome: o.name, arm: group.name, nArm: m.n, nControl: controlMoments.n, sdControl: sd0,
                        mdeAbsolute: mde, mdeRelative: mde / controlMoments.mean, observedLift: c.difference,
                        powerAtObserved: Power.power(effect: c.difference, standardError: se, alpha: params.alpha),
                        nPerArmForObserved: o.type == .binary
                            ? Power.sampleSizePerGroup(p0: controlMoments.mean, p1: m.mean, alpha: params.alpha, power: params.power)
                            : sampleSizeContinuous(sd: sd0, difference: c.difference, alpha: params.alpha, power: params.power)))
            }
        }

        // Lifts by segment.
        var segmentLifts: [EDAResult.SegmentLift] = []
        guard spec.outcomes.contains(where: { $0.name == params.segmentOutcome }) else {
            throw DataError(file: "stages/eda/params.yaml", message: "segment_outcome '\(params.segmentOutcome)' is not an outcome of the data set")
        }
        for featureName in params.segmentFeatures {
            guard let feature = spec.features.first(where: { $0.name == featureName }) else {
                throw DataError(file: "stages/eda/params.yaml", message: "segment feature '\(featureName)' is not a feature of the data set")
            }
            let levels = try segmentLevels(table, feature: feature)
            for (levelName, member) in levels {
                let controlRows = control.filter { member[$0] }
                for o in spec.outcomes {
                    let y = try table.doubles(o.name)
                    let cm = Moments(controlRows.map { y[$0] })
                    for group in comparisons {
                        let m = Moments(group.rows.filter { member[$0] }.map { y[$0] })
                        guard m.n > 1 && cm.n > 1 else { continue }
                        let c = compare(kind: o.type, treated: m, control: cm, level: level)
                        segmentLifts.append(
                            EDAResult.SegmentLift(
                                feature: featureName, level: levelName,
                                lift: EDAResult.Lift(outcome: o.name, arm: group.name, kind: o.type, treated: m, control: cm, c)))
                    }
                }
            }
        }

        // Distribution of each continuous outcome among rows where it is positive.
        var histogram: [EDAResult.HistogramBin] = []
        for o in spec.outcomes where o.type == .continuous {
            let y = try table.doubles(o.name)
            let positive = y.filter { $0 > 0 }
            guard let maxValue = positive.max() else { continue }
            let bins = max(1, params.histogramBins)
            let width = maxValue / Double(bins)
            for group in groups {
                var counts = [Int](repeating: 0, count: bins)
                var total = 0
                for r in group.rows where y[r] > 0 {
                    counts[min(bins - 1, Int(y[r] / width))] += 1
                    total += 1
                }
                for b in 0..<bins {
                    histogram.append(
                        EDAResult.HistogramBin(
                            outcome: o.name, arm: group.name, low: Double(b) * width, high: Double(b + 1) * width,
                            count: counts[b], share: total > 0 ? Double(counts[b]) / Double(total) : 0))
                }
            }
        }

        return EDAResult(
            arms: armSizes, sampleRatio: sampleRatio, balance: balance, outcomes: outcomes, lifts: lifts,
            power: power, segmentLifts: segmentLifts, positiveDistribution: histogram,
            comparisonArms: comparisons.map(\.name))
    }

    static func compare(kind: DatasetSpec.OutcomeKind, treated m: Moments, control c: Moments, level: Double) -> Comparison {
        switch kind {
        case .binary:
            return Inference.twoProportion(
                successesTreated: m.mean * Double(m.n), nTreated: Double(m.n),
                successesControl: c.mean * Double(c.n), nControl: Double(c.n), level: level)
        case .continuous:
            return Inference.welch(treated: m, control: c, level: level)
        }
    }

    static func sampleSizeContinuous(sd: Double, difference: Double, alpha: Double, power: Double) -> Double {
        guard difference != 0 else { return .infinity }
        let z = Normal.quantile(1 - alpha / 2) + Normal.quantile(power)
        return (2 * z * z * sd * sd / (difference * difference)).rounded(.up)
    }

    /// Levels of a segmenting feature with a membership mask each. Numeric features must be
    /// discrete (at most 20 distinct values); continuous ones need binning first.
    static func segmentLevels(_ table: Table, feature: DatasetSpec.Feature) throws -> [(String, [Bool])] {
        switch feature.type {
        case .categorical:
            let col = try table.strings(feature.name)
            return col.levels.enumerated().sorted { $0.element < $1.element }.map { code, level in
                (level, col.codes.map { Int($0) == code })
            }
        case .numeric:
            let values = try table.doubles(feature.name)
            let distinct = Set(values).sorted()
            guard distinct.count <= 20 else {
                throw DataError(
                    file: "stages/eda/params.yaml",
                    message: "segment feature '\(feature.name)' has \(distinct.count) distinct values; segment by a discrete or categorical feature")
            }
            return distinct.map { v in (formatDouble(v), values.map { $0 == v }) }
        }
    }
}

extension EDAResult.Lift {
    init(outcome: String, arm: String, kind: DatasetSpec.OutcomeKind, treated m: Moments, control c: Moments, _ cmp: Comparison) {
        self.init(
            outcome: outcome, arm: arm, nArm: m.n, nControl: c.n, meanControl: c.mean, meanArm: m.mean,
            absolute: cmp.difference, absoluteCI: cmp.differenceCI, relative: cmp.relative, relativeCI: cmp.relativeCI,
            test: kind == .binary ? .twoProportionZ : .welchT, statistic: cmp.statistic, pValue: cmp.pValue)
    }
}
