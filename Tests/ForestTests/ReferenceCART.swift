import Stats

@testable import Forest

/// A deliberately plain CART (recursive, no codes, no histograms, no presorting) that follows the
/// documented rules: weighted samples, midpoint thresholds, strictly-better replaces (so the first
/// feature and the lowest threshold win ties), constant features not counting towards maxFeatures,
/// and the 1e-12 relative improvement floor. With integer targets every sum is exact, so the
/// engine must reproduce it node for node, bit for bit.
struct ReferenceCART {
    let x: FeatureMatrix
    let y: [Double]
    let params: ForestParams

    func tree(weights: [Double], rng: inout SeededGenerator) -> RegressionTree {
        var out = RegressionTree(feature: [], threshold: [], left: [], right: [], value: [])
        var order = Array(0..<x.columnCount)
        let rows = weights.indices.filter { weights[$0] > 0 }
        _ = build(rows, depth: 0, weights, &out, &order, &rng)
        return out
    }

    private func build(
        _ rows: [Int], depth: Int, _ w: [Double], _ out: inout RegressionTree, _ order: inout [Int],
        _ rng: inout SeededGenerator
    ) -> Int32 {
        let node = out.nodeCount
        let total = rows.reduce(0.0) { $0 + w[$1] }
        let sum = rows.reduce(0.0) { $0 + w[$1] * y[$1] }
        let pure = Set(rows.map { y[$0] }).count == 1
        out.feature.append(-1); out.threshold.append(0); out.left.append(-1); out.right.append(-1)
        out.value.append(pure ? y[rows[0]] : sum / total)
        if pure || depth >= (params.maxDepth ?? .max) || total < Double(params.minSamplesSplit)
            || total < 2 * Double(params.minSamplesLeaf)
        {
            return Int32(node)
        }

        var best: (score: Double, feature: Int, cut: Double)? = nil
        func evaluate(_ f: Int) -> Bool {
            let values = Set(rows.map { x[$0, f] }).sorted()
            if values.count < 2 { return false }
            for k in 1..<values.count {
                let lo = values[k - 1], hi = values[k]
                let leftRows = rows.filter { x[$0, f] <= lo }
                let wL = leftRows.reduce(0.0) { $0 + w[$1] }, sL = leftRows.reduce(0.0) { $0 + w[$1] * y[$1] }
                let wR = total - wL
                if wL < Double(params.minSamplesLeaf) || wR < Double(params.minSamplesLeaf) { continue }
                let d = sL / wL - (sum - sL) / wR
                let score = wL * wR * d * d
                if score > (best?.score ?? 0) || (score == best?.score && f < best!.feature) {
                    var t = lo / 2 + hi / 2
                    if !(t >= lo && t < hi) { t = lo }
                    best = (score, f, t)
                }
            }
            return true
        }
        let p = x.columnCount, maxFeatures = params.maxFeatures ?? p
        if maxFeatures >= p {
            for f in 0..<p { _ = evaluate(f) }
        } else {
            var tried = 0, j = 0
            while j < p && tried < maxFeatures {
                order.swapAt(j, j + rng.next(below: p - j))
                if evaluate(order[j]) { tried += 1 }
                j += 1
            }
        }
        guard let best else { return Int32(node) }
        let mean = sum / total
        let sse = rows.reduce(0.0) { $0 + w[$1] * (y[$1] - mean) * (y[$1] - mean) }
        guard best.score / total > 1e-12 * sse else { return Int32(node) }
        out.feature[node] = Int32(best.feature)
        out.threshold[node] = best.cut
        let l = build(rows.filter { x[$0, best.feature] <= best.cut }, depth: depth + 1, w, &out, &order, &rng)
        let r = build(rows.filter { x[$0, best.feature] > best.cut }, depth: depth + 1, w, &out, &order, &rng)
        out.left[node] = l
        out.right[node] = r
        return Int32(node)
    }

    /// Tree `index` of a forest with these params, drawing its bootstrap as the engine documents.
    func forestTree(_ index: Int) -> RegressionTree {
        var rng = SeededGenerator.derived(seed: params.seed, index: UInt64(index))
        var weights = [Double](repeating: params.bootstrap ? 0 : 1, count: x.rowCount)
        if params.bootstrap { for _ in 0..<x.rowCount { weights[rng.next(below: x.rowCount)] += 1 } }
        return tree(weights: weights, rng: &rng)
    }
}
