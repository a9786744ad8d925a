/// Adjusted p-values for a family of tests, as statsmodels' `multipletests` computes them
/// (methods 'holm' and 'fdr_bh'). NaN p-values (tests that could not be computed) are not part of
/// the family and stay NaN; the family size m is the number of finite p-values.
public enum MultipleTesting {
    /// Holm's step-down adjustment (Holm 1979), controlling the family-wise error rate: with the
    /// p-values sorted ascending, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)).
    public static func holm(_ p: [Double]) -> [Double] {
        adjust(p) { sorted in
            let m = Double(sorted.count)
            var running = 0.0
            return sorted.enumerated().map { j, pj in
                running = max(running, min(1, (m - Double(j)) * pj))
                return running
            }
        }
    }

    /// Benjamini–Hochberg step-up adjustment (Benjamini and Hochberg 1995), controlling the false
    /// discovery rate: with the p-values sorted ascending, p̃_(i) = min_{j ≥ i} min(1, m · p_(j) / j).
    public static func benjaminiHochberg(_ p: [Double]) -> [Double] {
        adjust(p) { sorted in
            let m = Double(sorted.count)
            var out = [Double](repeating: 0, count: sorted.count)
            var running = 1.0
            for j in sorted.indices.reversed() {
                running = min(running, m * sorted[j] / Double(j + 1))
                out[j] = running
            }
            return out
        }
    }

    /// Sorts the finite p-values ascending (ties keep their order; both adjustments give tied
    /// p-values the same adjusted value either way), adjusts them and puts them back in place.
    static func adjust(_ p: [Double], _ sortedAdjustment: ([Double]) -> [Double]) -> [Double] {
        let finite = p.indices.filter { !p[$0].isNaN }.sorted { p[$0] < p[$1] || (p[$0] == p[$1] && $0 < $1) }
        let adjusted = sortedAdjustment(finite.map { p[$0] })
        var out = [Double](repeating: .nan, count: p.count)
        for (rank, i) in finite.enumerated() { out[i] = adjusted[rank] }
        return out
    }
}
