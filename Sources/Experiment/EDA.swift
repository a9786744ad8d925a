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
    /// Effect sizes, set before looking at the lifts, at which the report gives the power of this
    /// experiment and the customers per arm a new test needs.
    public var powerEffects: [PowerEffect]?

    /// Lifts of one outcome to plan for: relative to the control mean (0.10 = +10%), absolute (in
    /// the outcome's unit: a rate for a binary outcome), or both.
    public struct PowerEffect: Codable, Sendable, Equatable {
        public var outcome: String
        public var relative: [Double]?
        public var absolute: [Double]?

        public init(outcome: String, relative: [Double]? = nil, absolute: [Double]? = nil) {
            self.outcome = outcome
            self.relative = relative
            self.absolute = absolute
        }
    }

    enum CodingKeys: String, CodingKey {
        case confidenceLevel = "confidence_level"
        case alpha, power
        case segmentFeatures = "segment_features"
        case segmentOutcome = "segment_outcome"
        case histogramBins = "histogram_bins"
        case segmentBins = "segment_bins"
        case segmentBinEdges = "segment_bin_edges"
        case powerEffects = "power_effects"
    }

    public init(
        confidenceLevel: Double = 0.95, alpha: Double = 0.05, power: Double = 0.8,
        segmentFeatures: [String], segmentOutcome: String, histogramBins: Int = 40,
        segmentBins: Int? = nil, segmentBinEdges: [String: [Double]]? = nil, powerEffects: [PowerEffect]? = nil
    ) {
        self.confidenceLevel = confidenceLevel
        self.alpha = alpha
        self.power = power
        self.segmentFeatures = segmentFeatures
        self.segmentOutcome = segmentOutcome
        self.histogramBins = histogramBins
        self.segmentBins = segmentBins
        self.segmentBinEdges = segmentBinEdges
        self.powerEffects = powerEffects
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
        for (k, effect) in (powerEffects ?? []).enumerated() {
            let key = "'power_effects[\(k)]'"
            guard spec.outcomes.contains(where: { $0.name == effect.outcome }) else {
                throw DataError(file: source, message: "\(key): '\(effect.outcome)' is not an outcome of the data set")
            }
            let values = (effect.relative ?? []) + (effect.absolute ?? [])
            guard !values.isEmpty else { throw DataError(file: source, message: "\(key): give 'relative' or 'absolute' effects (or both)") }
            for v in values where !v.isFinite || v == 0 {
                throw DataError(file: source, message: "\(key): effects must be finite and non-zero, got \(formatDouble(v))")
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
        var powerAtEffects: [EDAResult.PowerAtEffect] = []
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
                let (c, test) = compare(kind: o.type, treated: m, control: controlMoments, level: level)
                lifts.append(EDAResult.Lift(outcome: o.name, arm: group.name, test: test, treated: m, control: controlMoments, c))

                // The smallest difference detectable with these group sizes, each group with its own
                // outcome spread (the treated arm of a continuous outcome often varies more).
                let mde = Power.minimumDetectableEffect(
                    sd1: m.sd, n1: Double(m.n), sd0: controlMoments.sd, n0: Double(controlMoments.n),
                    alpha: params.alpha, power: params.power)
                power.append(
                    EDAResult.PowerAnalysis(
                        outcome: o.name, arm: group.name, nArm: m.n, nControl: controlMoments.n, sdArm: m.sd, sdControl: controlMoments.sd,
                        mdeAbsolute: mde, mdeRelative: mde / controlMoments.mean))
                for effect in params.powerEffects ?? [] where effect.outcome == o.name {
                    powerAtEffects += try plannedPower(
                        effect, kind: o.type, arm: group.name, treated: m, control: controlMoments, params: params, source: paramsSource)
                }
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
                        let (c, test) = compare(kind: o.type, treated: m, control: cm, level: level)
                        segmentLifts.append(
                            EDAResult.SegmentLift(
                                feature: featureName, level: levelName,
                                lift: EDAResult.Lift(outcome: o.name, arm: group.name, test: test, treated: m, control: cm, c),
                                pHolm: .nan, pBH: .nan))
                    }
                }
            }
        }

        // One family: every segment lift tested (all outcomes, features, levels and comparisons).
        let holm = MultipleTesting.holm(segmentLifts.map(\.lift.pValue))
        let bh = MultipleTesting.benjaminiHochberg(segmentLifts.map(\.lift.pValue))
        for k in segmentLifts.indices {
            segmentLifts[k].pHolm = holm[k]
            segmentLifts[k].pBH = bh[k]
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
            power: power, powerAtEffects: powerAtEffects, segmentLifts: segmentLifts, segmentFamilySize: holm.filter { !$0.isNaN }.count,
            positiveDistribution: histogram,
            comparisonArms: comparisons.map(\.name))
    }

    /// Smallest expected cell count of a 2×2 table below which a binary lift is tested with
    /// Fisher's exact test instead of the z test (Cochran's rule: the normal approximation needs
    /// every expected count to be at least 5).
    public static let minimumExpectedCount = 5.0

    static func compare(kind: DatasetSpec.OutcomeKind, treated m: Moments, control c: Moments, level: Double) -> (Comparison, EDAResult.LiftTest) {
        switch kind {
        case .binary:
            // Outcomes are 0/1, so mean · n is a count up to rounding.
            let x1 = (m.mean * Double(m.n)).rounded(), x0 = (c.mean * Double(c.n)).rounded()
            var cmp = Inference.twoProportion(
                successesTreated: x1, nTreated: Double(m.n), successesControl: x0, nControl: Double(c.n), level: level)
            let n = Double(m.n + c.n), yes = x1 + x0
            let expected = [Double(m.n), Double(c.n)].flatMap { rowTotal in [rowTotal * yes / n, rowTotal * (n - yes) / n] }
            guard expected.min()! < minimumExpectedCount else { return (cmp, .twoProportionZ) }
            let fisher = Inference.fisherExact(a: Int(x1), b: m.n - Int(x1), c: Int(x0), d: c.n - Int(x0))
            // An exact test has no test statistic; the sample odds ratio would be infinite whenever
            // a cell is empty, which no CSV reader takes back.
            cmp.statistic = .nan
            cmp.pValue = fisher.pValue
            return (cmp, .fisherExact)
        case .continuous:
            return (Inference.welch(treated: m, control: c, level: level), .welchT)
        }
    }

    /// Power of this experiment's arm sizes and the customers per arm (equal arms) a new test needs
    /// at each effect the params set. A binary outcome's arms have the spreads √(p(1 − p)) of the
    /// control rate p0 and of p0 + effect; a continuous outcome's arms keep their observed spreads.
    static func plannedPower(
        _ effect: EDAParams.PowerEffect, kind: DatasetSpec.OutcomeKind, arm: String, treated m: Moments, control c: Moments,
        params: EDAParams, source: String
    ) throws -> [EDAResult.PowerAtEffect] {
        let asked = (effect.relative ?? []).map { (EDAResult.EffectScale.relative, $0) } + (effect.absolute ?? []).map { (.absolute, $0) }
        return try asked.map { scale, value in
            let delta = scale == .relative ? value * c.mean : value
            let sd1: Double, sd0: Double
            switch kind {
            case .binary:
                let p0 = c.mean, p1 = p0 + delta
                guard p1 > 0 && p1 < 1 else {
                    throw DataError(
                        file: source,
                        message:
                            "'power_effects': a \(scale.rawValue) lift of \(formatDouble(value)) in '\(effect.outcome)' moves the control rate \(formatDouble(p0)) to \(formatDouble(p1)), outside (0, 1)"
                    )
                }
                sd1 = (p1 * (1 - p1)).squareRoot()
                sd0 = (p0 * (1 - p0)).squareRoot()
            case .continuous:
                sd1 = m.sd
                sd0 = c.sd
            }
            let se = (sd1 * sd1 / Double(m.n) + sd0 * sd0 / Double(c.n)).squareRoot()
            return EDAResult.PowerAtEffect(
                outcome: effect.outcome, arm: arm, scale: scale, effect: value, absoluteEffect: delta, relativeEffect: delta / c.mean,
                sdArm: sd1, sdControl: sd0, nArm: m.n, nControl: c.n,
                powerNow: Power.power(effect: delta, standardError: se, alpha: params.alpha),
                nPerArm: Power.sampleSizePerGroup(sd1: sd1, sd0: sd0, difference: delta, alpha: params.alpha, power: params.power))
        }
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
    init(outcome: String, arm: String, test: EDAResult.LiftTest, treated m: Moments, control c: Moments, _ cmp: Comparison) {
        self.init(
            outcome: outcome, arm: arm, nArm: m.n, nControl: c.n, meanControl: c.mean, meanArm: m.mean,
            absolute: cmp.difference, absoluteCI: cmp.differenceCI, relative: cmp.relative, relativeCI: cmp.relativeCI,
            test: test, statistic: cmp.statistic, pValue: cmp.pValue)
    }
}
