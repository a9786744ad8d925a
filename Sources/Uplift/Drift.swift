import Foundation
import Tabular

/// What the training data looked like, feature by feature, for the population stability index
/// (PSI) of new inputs: numeric features by the training deciles, categorical ones by category.
public struct DriftReference: Codable, Sendable, Equatable {
    public static let file = "drift_reference.json"

    public struct Feature: Codable, Sendable, Equatable {
        public var name: String
        public var kind: FeatureEncoder.Kind
        /// Numeric: upper edges of all bins but the last (bin j holds edges[j-1] < x <= edges[j]).
        public var edges: [Double]?
        /// Categorical: the categories; the last bin counts unknown categories.
        public var categories: [String]?
        /// Training share of each bin.
        public var shares: [Double]
    }

    public var rows: Int
    public var features: [Feature]

    public init(training table: Table, encoder: FeatureEncoder) throws {
        rows = table.rowCount
        var features: [Feature] = []
        for input in encoder.inputs {
            switch input.kind {
            case .numeric:
                let v = try table.column(input.name).asDoubles!.sorted()
                var edges: [Double] = []
                for q in 1..<10 {
                    let e = v[min(v.count - 1, (q * v.count) / 10)]
                    if edges.last != e && e != v.last { edges.append(e) }
                }
                var feature = Feature(name: input.name, kind: .numeric, edges: edges, categories: nil, shares: [])
                var counts = [Double](repeating: 0, count: edges.count + 1)
                feature.accumulate(numbers: v, into: &counts)
                feature.shares = counts.map { $0 / Double(v.count) }
                features.append(feature)
            case .categorical:
                let cats = input.categories ?? []
                var feature = Feature(name: input.name, kind: .categorical, edges: nil, categories: cats, shares: [])
                var counts = [Double](repeating: 0, count: cats.count + 1)
                feature.accumulate(strings: try table.strings(input.name), into: &counts)
                feature.shares = counts.map { $0 / Double(table.rowCount) }
                features.append(feature)
            }
        }
        self.features = features
    }
}

extension DriftReference.Feature {
    public func accumulate(numbers: [Double], into counts: inout [Double]) {
        let e = edges ?? []
        for x in numbers {
            // First edge >= x (binary search); past the last edge is the last bin.
            var lo = 0, hi = e.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if e[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            counts[lo] += 1
        }
    }

    public func accumulate(strings: StringColumn, into counts: inout [Double]) {
        let cats = categories ?? []
        let position = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
        let levelBin = strings.levels.map { position[$0] ?? cats.count }
        for code in strings.codes { counts[levelBin[Int(code)]] += 1 }
    }

    /// PSI = Σ (a − e)·ln(a / e) over bins, shares floored at 1e-4 so an empty bin stays finite.
    public func psi(counts: [Double]) -> Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return .nan }
        var s = 0.0
        for (c, e) in zip(counts, shares) {
            let a = max(c / total, 1e-4), b = max(e, 1e-4)
            s += (a - b) * log(a / b)
        }
        return s
    }
}
