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

    public init(confidenceLevel: Double = 0.95, alpha: Double = 0.05, power: Double = 0.8,
                segmentFeatures: [String], segmentOutcome: String, histogramBins: Int = 40) {
        self.confidenceLevel = confidenceLevel
        self.alpha = alpha
        self.power = power
        self.segmentFeatures = segmentFeatures
        self.segmentOutcome = segmentOutcome
        self.histogramBins = histogramBins
    }
}

/// The experiment analysis: every table the EDA report shows, computed from the data.
public struct EDAResult: Sendable {
    public var arms: Table
    public var srm: Table
    public var balance: Table
    public var outcomes: Table
    public var lifts: Table
    public var power: Table
    public var segmentLifts: Table
    /// Histogram of each continuous outcome among rows where it is positive, per arm.
    public var positiveDistribution: Table
}

public enum EDA {
    /// Name used in the tables for the pooled comparison of all treated arms with control.
    public static let pooledArm = "any treatment"

    public static func analyse(_ table: Table, spec: DatasetSpec, params: EDAParams) throws -> EDAResult {
        let arms = try Arms(column: try table.strings(spec.armColumn), control: spec.controlArm,
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
        let armsTable = Table(names: ["arm", "n", "share", "expected_share"], columns: [
            .string(StringColumn(arms.names)), .int(groups.map { $0.rows.count }),
            .double(counts.map { $0 / Double(n) }), .double(counts.map { _ in 1 / Double(arms.count) }),
        ])
        let srmTable = Table(names: ["test", "statistic", "df", "p_value"], columns: [
            .string(StringColumn(["chi-square vs equal allocation"])), .double([srm.statistic]), .double([srm.df]), .double([srm.pValue]),
        ])

        // Covariate balance.
        var bFeature: [String] = [], bLevel: [String] = [], bArm: [String] = [], bValue: [Double] = [], bSMD: [Double] = []
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
                    bFeature.append(f.name); bLevel.append(levelName); bArm.append(group.name)
                    bValue.append(m.mean)
                    bSMD.append(g == 0 ? .nan : Inference.standardizedMeanDifference(treated: m, control: controlMoments))
                }
            }
        }
        let balance = Table(names: ["feature", "level", "arm", "mean", "smd_vs_control"], columns: [
            .string(StringColumn(bFeature)), .string(StringColumn(bLevel)), .string(StringColumn(bArm)), .double(bValue), .double(bSMD),
        ])

        // Outcomes per arm, lifts and power.
        var oName: [String] = [], oArm: [String] = [], oN: [Int] = [], oMean: [Double] = [], oLo: [Double] = [], oHi: [Double] = [], oSD: [Double] = []
        var lifts = LiftColumns()
        var pOutcome: [String] = [], pArm: [String] = [], pNArm: [Int] = [], pNControl: [Int] = [], pSD: [Double] = []
        var pMDE: [Double] = [], pMDERel: [Double] = [], pObserved: [Double] = [], pAchieved: [Double] = [], pNeeded: [Double] = []
        for o in spec.outcomes {
            let y = try table.doubles(o.name)
            let controlMoments = Moments(control.map { y[$0] })
            for group in groups + (arms.count > 2 ? [(pooledArm, pooledRows)] : []) {
                let m = Moments(group.rows.map { y[$0] })
                let ci = o.type == .binary
                    ? Inference.wilson(successes: m.mean * Double(m.n), n: Double(m.n), level: level)
                    : Inference.meanInterval(m, level: level)
                oName.append(o.name); oArm.append(group.name); oN.append(m.n); oMean.append(m.mean)
                oLo.append(ci.lower); oHi.append(ci.upper); oSD.append(m.sd)
            }
            for group in comparisons {
                let m = Moments(group.rows.map { y[$0] })
                let c = compare(kind: o.type, treated: m, control: controlMoments, level: level)
                lifts.append(outcome: o.name, arm: group.name, kind: o.type, treated: m, control: controlMoments, c)

                // Power: the smallest difference detectable with these group sizes, using the
                // control group's outcome spread for both groups.
                let sd0 = o.type == .binary ? (controlMoments.mean * (1 - controlMoments.mean)).squareRoot() : controlMoments.sd
                let mde = Power.minimumDetectableEffect(sd1: sd0, n1: Double(m.n), sd0: sd0, n0: Double(controlMoments.n),
                                                        alpha: params.alpha, power: params.power)
                let se = (m.variance / Double(m.n) + controlMoments.variance / Double(controlMoments.n)).squareRoot()
                pOutcome.append(o.name); pArm.append(group.name); pNArm.append(m.n); pNControl.append(controlMoments.n)
                pSD.append(sd0); pMDE.append(mde); pMDERel.append(mde / controlMoments.mean)
                pObserved.append(c.difference)
                pAchieved.append(Power.power(effect: c.difference, standardError: se, alpha: params.alpha))
                pNeeded.append(o.type == .binary
                    ? Power.sampleSizePerGroup(p0: controlMoments.mean, p1: m.mean, alpha: params.alpha, power: params.power)
                    : sampleSizeContinuous(sd: sd0, difference: c.difference, alpha: params.alpha, power: params.power))
            }
        }
        let outcomes = Table(names: ["outcome", "arm", "n", "mean", "sd", "ci_low", "ci_high"], columns: [
            .string(StringColumn(oName)), .string(StringColumn(oArm)), .int(oN), .double(oMean), .double(oSD), .double(oLo), .double(oHi),
        ])
        let power = Table(names: ["outcome", "arm", "n_arm", "n_control", "sd_control", "mde_abs", "mde_rel", "observed_lift", "power_at_observed", "n_per_arm_for_observed"], columns: [
            .string(StringColumn(pOutcome)), .string(StringColumn(pArm)), .int(pNArm), .int(pNControl), .double(pSD),
            .double(pMDE), .double(pMDERel), .double(pObserved), .double(pAchieved), .double(pNeeded),
        ])

        // Lifts by segment.
        var seg = LiftColumns()
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
                        seg.append(outcome: o.name, arm: group.name, kind: o.type, treated: m, control: cm, c,
                                   feature: featureName, level: levelName)
                    }
                }
            }
        }

        // Distribution of each continuous outcome among rows where it is positive.
        var hOutcome: [String] = [], hArm: [String] = [], hLow: [Double] = [], hHigh: [Double] = [], hCount: [Int] = [], hShare: [Double] = []
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
                    hOutcome.append(o.name); hArm.append(group.name)
                    hLow.append(Double(b) * width); hHigh.append(Double(b + 1) * width)
                    hCount.append(counts[b]); hShare.append(total > 0 ? Double(counts[b]) / Double(total) : 0)
                }
            }
        }
        let histogram = Table(names: ["outcome", "arm", "bin_low", "bin_high", "count", "share"], columns: [
            .string(StringColumn(hOutcome)), .string(StringColumn(hArm)), .double(hLow), .double(hHigh), .int(hCount), .double(hShare),
        ])

        return EDAResult(arms: armsTable, srm: srmTable, balance: balance, outcomes: outcomes,
                         lifts: lifts.table(withSegments: false), power: power,
                         segmentLifts: seg.table(withSegments: true), positiveDistribution: histogram)
    }

    static func compare(kind: DatasetSpec.OutcomeKind, treated m: Moments, control c: Moments, level: Double) -> Comparison {
        switch kind {
        case .binary:
            return Inference.twoProportion(successesTreated: m.mean * Double(m.n), nTreated: Double(m.n),
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
                throw DataError(file: "stages/eda/params.yaml",
                                message: "segment feature '\(feature.name)' has \(distinct.count) distinct values; segment by a discrete or categorical feature")
            }
            return distinct.map { v in (formatDouble(v), values.map { $0 == v }) }
        }
    }
}

/// Accumulates rows of a lift table.
struct LiftColumns {
    var feature: [String] = [], level: [String] = []
    var outcome: [String] = [], arm: [String] = [], test: [String] = []
    var nArm: [Int] = [], nControl: [Int] = []
    var meanArm: [Double] = [], meanControl: [Double] = []
    var lift: [Double] = [], lo: [Double] = [], hi: [Double] = []
    var rel: [Double] = [], relLo: [Double] = [], relHi: [Double] = []
    var stat: [Double] = [], p: [Double] = []

    mutating func append(outcome o: String, arm a: String, kind: DatasetSpec.OutcomeKind, treated m: Moments, control c: Moments,
                         _ cmp: Comparison, feature f: String = "", level l: String = "") {
        feature.append(f); level.append(l)
        outcome.append(o); arm.append(a)
        test.append(kind == .binary ? "two-proportion z" : "Welch t")
        nArm.append(m.n); nControl.append(c.n); meanArm.append(m.mean); meanControl.append(c.mean)
        lift.append(cmp.difference); lo.append(cmp.differenceCI.lower); hi.append(cmp.differenceCI.upper)
        rel.append(cmp.relative); relLo.append(cmp.relativeCI.lower); relHi.append(cmp.relativeCI.upper)
        stat.append(cmp.statistic); p.append(cmp.pValue)
    }

    func table(withSegments: Bool) -> Table {
        var t = Table()
        if withSegments {
            t.append("feature", .string(StringColumn(feature)))
            t.append("level", .string(StringColumn(level)))
        }
        t.append("outcome", .string(StringColumn(outcome)))
        t.append("arm", .string(StringColumn(arm)))
        t.append("n_arm", .int(nArm))
        t.append("n_control", .int(nControl))
        t.append("mean_control", .double(meanControl))
        t.append("mean_arm", .double(meanArm))
        t.append("abs_lift", .double(lift))
        t.append("abs_ci_low", .double(lo))
        t.append("abs_ci_high", .double(hi))
        t.append("rel_lift", .double(rel))
        t.append("rel_ci_low", .double(relLo))
        t.append("rel_ci_high", .double(relHi))
        t.append("test", .string(StringColumn(test)))
        t.append("statistic", .double(stat))
        t.append("p_value", .double(p))
        return t
    }
}
