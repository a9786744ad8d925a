import Foundation

/// The project's bootstrap: replicate r re-weights the n rows by n draws with replacement from a
/// generator derived from the seed and r, so a replicate is the same whatever else is evaluated
/// with it (paired comparisons) and whatever the thread count.
public enum Bootstrap {
    /// Row multiplicities of replicate `index`.
    public static func weights(rows n: Int, seed: UInt64, replicate index: Int) -> [Double] {
        var g = SeededGenerator.derived(seed: seed, index: UInt64(index))
        var w = [Double](repeating: 0, count: n)
        for _ in 0..<n { w[g.next(below: n)] += 1 }
        return w
    }

    /// `statistic` of every replicate, computed in parallel, in replicate order.
    public static func replicates<T: Sendable>(
        _ count: Int, rows n: Int, seed: UInt64, threads: Int,
        _ statistic: @Sendable ([Double]) -> T
    ) -> [T] {
        parallelMap(count: count, threads: threads) { r in statistic(weights(rows: n, seed: seed, replicate: r)) }
    }

    /// Percentile interval (linear interpolation between order statistics) of the finite values.
    public static func percentileInterval(_ values: [Double], level: Double = 0.95) -> Interval {
        let v = values.filter(\.isFinite).sorted()
        guard !v.isEmpty else { return Interval(.nan, .nan) }
        func q(_ p: Double) -> Double {
            let h = p * Double(v.count - 1)
            let lo = Int(h.rounded(.down))
            let hi = min(lo + 1, v.count - 1)
            return v[lo] + (h - Double(lo)) * (v[hi] - v[lo])
        }
        let a = (1 - level) / 2
        return Interval(q(a), q(1 - a))
    }
}
