import Foundation
import Stats
import Tabular

public struct EDAParams: Codable, Sendable, Equatable {
    public var confidenceLevel: Double
    public var alpha: Double
    public var power: Double
    /// Features to break lifts down by: categorical, numeric with few distinct values (one
    /// segment per value), or numeric with many (binned).
    public var segmentFeatures: [String]
    /// Outcome drawn in the lift-by-segment figure and discussed in the summary.
    public var segmentOutcome: String
    public var histogramBins: Int
    /// Quantile bins of a numeric segment feature with more than `EDA.maxDiscreteValues` distinct
    /// values (default 5).
    public var segmentBins: Int?
    /// Bin edges per numeric segment feature, used instead of its quantile bins (`history: [0, 100, 500]`).
    public var segmentBinEdges: [String: [Double]]?

    enum CodingKeys: String, CodingKey {
        case confidenceLevel = "confidence_level"
        case alpha, power
        case segmentFeatures = "segment_features"
        case segmentOutcome = "segment_outcome"
        case histogramBins = "histogram_bins"
        case segmentBins = "segment_bins"
        case segmentBinEdges = "segment_bin_edges"
    }

    public init(
        confidenceLevel: Double = 0.95, alpha: Double = 0.05, power: Double = 0.8,
        segmentFeatures: [String], segmentOutcome: String, histogramBins: Int = 40,
        segmentBins: Int? = nil, segmentBinEdges: [String: [Double]]? = nil
    ) {
        self.confidenceLevel = confidenceLevel
        self.alpha = alpha
        self.power = power
        self.segmentFeatures = segmentFeatures
        self.segmentOutcome = segmentOutcome
        self.histogramBins = histogramBins
        self.segmentBins = segmentBins
        self.segmentBinEdges = segmentBinEdges
    }

    /// Checks what decoding cannot: the segment outcome and features against the data set, and
    /// the binning. Errors name the params file and the key.
    public func validate(spec: DatasetSpec, source: String) throws {
        guard spec.outcomes.contains(where: { $0.name == segmentOutcome }) else {
            throw DataError(file: source, message: "'segment_outcome': '\(segmentOutcome)' is not an outcome of the data set")
        }
        for name in segmentFeatures where !spec.features.contains(where: { $0.name == name }) {
            throw DataError(file: source, message: "'segment_features': '\(name)' is not a feature of the data set")
        }
        if let bins = segmentBins, bins < 2 { throw DataError(file: source, message: "'segment_bins' must be at least 2, got \(bins)") }
        for (name, edges) in (segmentBinEdges ?? [:]).sorted(by: { $0.key < $1.key }) {
            let key = "'segment_bin_edges.\(name)'"
            guard segmentFeatures.contains(name), spec.features.first(where: { $0.name == name })?.type == .numeric else {
                throw DataError(file: source, message: "\(key): '\(name)' is not a numeric feature listed in segment_features")
            }
            guard !edges.isEmpty, edges.allSatisfy(\.isFinite), zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DataError(file: source, message: "\(key): edges must be finite and strictly increasing, got \(edges.map(formatDouble))")
            }
        }
    }
}

public enum EDA {
    /// Name used in the tables for the pooled comparison of all treated arms with control.
    public static let pooledArm = "any treatment"
    /// A numeric segment feature with at most this many distinct values gets a segment per value; one with more is binned.
    public static let maxDiscreteValues = 20
    public static let defaultSegmentBins = 5

    /// The experiment analysis: every table the EDA report shows, computed from the data.
    public static func analyse(_ table: Table, spec: DatasetSpec, params: EDAParams, paramsSource: String = "eda params") throws -> EDAResult {
        try params.validate(spec: spec, source: paramsSource)
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

        // Arm sizes and sample-ratio mismatch against the design's allocation (equal shares unless the spec plans others).
        let counts = groups.map { Double($0.rows.count) }
        let design = try spec.designShares(arms: arms.names, source: table.source)
        let srm = Inference.chiSquareGoodnessOfFit(observed: counts, expectedShares: spec.allocation == nil ? counts.map { _ in 1 } : design)
        let armSizes = zip(groups, design).map { group, designShare in
            EDAResult.ArmSize(arm: group.name, n: group.rows.count, share: Double(group.rows.count) / Double(n), expectedShare: designShare)
        }
        let sampleRatio = EDAResult.SampleRatioCheck(
            test: spec.allocation == nil ? "chi-square vs equal allocation" : "chi-square vs planned allocation", statistic: srm.statistic,
            degreesOfFreedom: srm.df, pValue: srm.pValue, plannedAllocation: spec.allocation != nil)

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
        for featureName in params.segmentFeatures {
            let feature = spec.features.first { $0.name == featureName }!
            let levels = try segmentLevels(table, feature: feature, params: params)
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

    /// Levels of a segmenting feature with a membership mask each, in the order the report lists
    /// them: category levels by name; a numeric feature's values when it has at most
    /// `maxDiscreteValues` of them and no edges in the params; otherwise its bins.
    static func segmentLevels(_ table: Table, feature: DatasetSpec.Feature, params: EDAParams) throws -> [(String, [Bool])] {
        switch feature.type {
        case .categorical:
            let col = try table.strings(feature.name)
            return col.levels.enumerated().sorted { $0.element < $1.element }.map { code, level in
                (level, col.codes.map { Int($0) == code })
            }
        case .numeric:
            let values = try table.doubles(feature.name)
            let bins: SegmentBins
            if let edges = params.segmentBinEdges?[feature.name] {
                bins = SegmentBins(edges: edges)
            } else {
                let distinct = Set(values).sorted()
                if distinct.count <= maxDiscreteValues { return distinct.map { v in (formatDouble(v), values.map { $0 == v }) } }
                bins = SegmentBins(quantilesOf: values, bins: params.segmentBins ?? defaultSegmentBins)
            }
            let bin = values.map(bins.index)
            return bins.labels.indices.compactMap { b in
                let member = bin.map { $0 == b }
                return member.contains(true) ? (bins.labels[b], member) : nil
            }
        }
    }
}

/// Bins of a numeric segment feature: half-open intervals [lower, upper) between cut points, so
/// equal values always share a bin.
struct SegmentBins: Equatable {
    /// Ascending cut points; bin b holds the values with exactly b cuts at or below them.
    var cuts: [Double]
    /// One label per bin ("[0, 12)").
    var labels: [String]

    /// Cuts at the values that start each of `bins` equally populated groups of the sorted values.
    /// Ties make fewer bins: a cut that would split equal values, or repeat the previous cut, is
    /// dropped. The first bin starts at the minimum and the last ends at the maximum, inclusive.
    init(quantilesOf values: [Double], bins: Int) {
        let sorted = values.sorted()
        var cuts: [Double] = []
        if let lowest = sorted.first {
            for k in 1..<max(bins, 1) {
                let c = sorted[min(sorted.count - 1, k * sorted.count / bins)]
                if c > lowest && c > (cuts.last ?? lowest) { cuts.append(c) }
            }
        }
        self.cuts = cuts
        let bounds = [sorted.first ?? 0] + cuts + [sorted.last ?? 0]
        labels = (0...cuts.count).map { b in
            "[\(formatDouble(bounds[b])), \(formatDouble(bounds[b + 1]))\(b == cuts.count ? "]" : ")")"
        }
    }

    /// Bins between given edges, with one below the first and one from the last edge up.
    init(edges: [Double]) {
        cuts = edges
        labels =
            ["< \(formatDouble(edges[0]))"] + zip(edges, edges.dropFirst()).map { "[\(formatDouble($0)), \(formatDouble($1)))" }
            + ["≥ \(formatDouble(edges[edges.count - 1]))"]
    }

    func index(_ value: Double) -> Int {
        // Number of cuts ≤ value (binary search: cuts are ascending).
        var lo = 0, hi = cuts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if cuts[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
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
