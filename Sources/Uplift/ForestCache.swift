import Base
import Forest
import Foundation

/// Forests already trained in this process, by content: the parameters (seed included), the
/// training matrix and the target, with their out-of-bag summary once one was asked for. Learners fitted on the same rows with the same outcome-forest
/// settings and seed (the T-, X- and DR-learners' mu0 and mu1) train each forest once; the
/// production learner's per-arm cross-fit reuses the pooled forests the selection trained. A
/// forest comes back bit for bit as it would be trained again (training is deterministic), so
/// the cache changes the time, never a result.
public final class ForestCache: @unchecked Sendable {
    private struct Entry {
        var forest: RandomForest
        var summary: TrainingSummary?
        /// The forest's predictions of held-out matrices, by `HeldOutRows.key`.
        var predictions: [[UInt8]: [Double]] = [:]
    }
    private var stored: [[UInt8]: Entry] = [:]
    private let lock = NSLock()
    private var hitCount = 0
    /// Forests whose out-of-bag summary a later request will want (a DR-learner's outcome
    /// forests): estimated while they grow, whoever asks first, rather than recomputed later.
    private let outOfBagAhead: @Sendable (ForestParams) -> Bool

    /// How many forests came from the cache rather than from training.
    public var hits: Int {
        lock.lock()
        defer { lock.unlock() }
        return hitCount
    }

    /// `outOfBagAhead`: which forests to grow with their out-of-bag summary even when the first
    /// request does not ask for it (what a request gets back is the same either way).
    public init(outOfBagAhead: @escaping @Sendable (ForestParams) -> Bool = { _ in false }) {
        self.outOfBagAhead = outOfBagAhead
    }

    /// The forest for (x, y, params): from the cache, or trained and kept. With `outOfBag`, also
    /// its out-of-bag summary: the training's own, or for a forest kept without one, the same
    /// bits recomputed from it (`ForestTrainer.outOfBagSummary(of:)`).
    public func train(_ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int, outOfBag: Bool) throws -> (
        forest: RandomForest, summary: TrainingSummary?
    ) {
        let (forest, summary, _) = try train(x, y, params: params, threads: threads, outOfBag: outOfBag, predicting: nil)
        return (forest, summary)
    }

    /// `train`, and with `predicting` the forest's predictions of those rows: made while the forest
    /// grows when it is trained here, kept with it, and for a forest kept without them computed
    /// once from it (`RandomForest.predict`, the same bits).
    public func train(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int, outOfBag: Bool, predicting heldOut: HeldOutRows?
    ) throws -> (forest: RandomForest, summary: TrainingSummary?, predictions: [Double]?) {
        let key = Self.key(x, y, params)
        lock.lock()
        if let found = stored[key] {
            hitCount += 1
            lock.unlock()
            var predictions: [Double]?
            if let heldOut {
                predictions = found.predictions[heldOut.key] ?? keep(found.forest.predict(heldOut.x, threads: threads), of: heldOut, key: key)
            }
            guard outOfBag else { return (found.forest, nil, predictions) }
            return (found.forest, found.summary ?? summary(of: found.forest, key: key, x, y, params: params, threads: threads), predictions)
        }
        lock.unlock()
        let estimate = outOfBag || outOfBagAhead(params)
        let (forest, summary, predictions) = try ForestTrainer.train(
            x, y, params: params, threads: threads, outOfBag: estimate, predicting: heldOut?.x)
        lock.lock()
        // Another thread may have stored the same forest meanwhile: keep what either one has.
        var entry = stored[key] ?? Entry(forest: forest)
        if estimate { entry.summary = summary }
        if let heldOut { entry.predictions[heldOut.key] = predictions }
        stored[key] = entry
        lock.unlock()
        return (forest, outOfBag ? summary : nil, heldOut == nil ? nil : predictions)
    }

    /// Keeps predictions computed for a forest already stored under `key`; returns them.
    private func keep(_ predictions: [Double], of heldOut: HeldOutRows, key: [UInt8]) -> [Double] {
        lock.lock()
        stored[key]?.predictions[heldOut.key] = predictions
        lock.unlock()
        return predictions
    }

    /// The out-of-bag summary of a forest kept without one, as training would have returned it
    /// (none without bootstrap), kept for the next request.
    private func summary(of forest: RandomForest, key: [UInt8], _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int)
        -> TrainingSummary
    {
        let summary =
            params.bootstrap
            ? ForestTrainer.outOfBagSummary(of: forest, trainedOn: x, y: y, seed: params.seed, threads: threads)
            : TrainingSummary(oobPredictions: [Double](repeating: .nan, count: x.rowCount), oobMSE: nil, oobRows: 0)
        lock.lock()
        stored[key, default: Entry(forest: forest)].summary = summary
        lock.unlock()
        return summary
    }

    /// The out-of-bag summary of a forest this cache trained for (x, y, params), computing it if
    /// it was kept without one; nil if it holds no such forest. Not counted in `hits`.
    public func outOfBagSummary(_ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int) -> TrainingSummary? {
        let key = Self.key(x, y, params)
        lock.lock()
        let found = stored[key]
        lock.unlock()
        guard let found else { return nil }
        return found.summary ?? summary(of: found.forest, key: key, x, y, params: params, threads: threads)
    }

    /// A matrix's content key (shape and value bits).
    static func key(_ x: FeatureMatrix) -> [UInt8] {
        var h = SHA256()
        [UInt64(x.rowCount), UInt64(x.columnCount)].withUnsafeBytes { h.update($0) }
        x.values.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }

    static func key(_ x: FeatureMatrix, _ y: [Double], _ params: ForestParams) -> [UInt8] {
        var h = SHA256()
        let p = params
        // Bit patterns, so a negative setting reaches the trainer's own error instead of trapping here;
        // an optional is a presence flag and a value, so nil never collides with a setting (-1 included).
        func word(_ v: Int) -> UInt64 { UInt64(bitPattern: Int64(v)) }
        func words(_ v: Int?) -> [UInt64] { v.map { [1, word($0)] } ?? [0, 0] }
        let header: [UInt64] =
            [word(p.nTrees)] + words(p.maxDepth) + [word(p.minSamplesLeaf), word(p.minSamplesSplit)] + words(p.maxFeatures)
            + [p.bootstrap ? 1 : 0, p.seed, word(x.rowCount), word(x.columnCount), word(y.count)]
        header.withUnsafeBytes { h.update($0) }
        x.values.withUnsafeBytes { h.update($0) }
        y.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }
}

/// Rows a fit predicts while its forests grow (`Learners.fit(predicting:)`), keyed by content so
/// a forest the cache shares keeps its predictions of them.
public struct HeldOutRows: Sendable {
    public let x: FeatureMatrix
    let key: [UInt8]

    public init(_ x: FeatureMatrix) {
        self.x = x
        key = ForestCache.key(x)
    }
}
