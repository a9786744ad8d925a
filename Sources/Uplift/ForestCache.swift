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
    private var stored: [[UInt8]: (forest: RandomForest, summary: TrainingSummary?)] = [:]
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
        let key = Self.key(x, y, params)
        lock.lock()
        if let found = stored[key] {
            hitCount += 1
            lock.unlock()
            guard outOfBag else { return (found.forest, nil) }
            return (found.forest, found.summary ?? summary(of: found.forest, key: key, x, y, params: params, threads: threads))
        }
        lock.unlock()
        let estimate = outOfBag || outOfBagAhead(params)
        let (forest, summary) = try ForestTrainer.train(x, y, params: params, threads: threads, outOfBag: estimate)
        lock.lock()
        // Another thread may have stored the same forest meanwhile: keep a summary either one has.
        stored[key] = (forest, estimate ? summary : stored[key]?.summary)
        lock.unlock()
        return (forest, outOfBag ? summary : nil)
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
        stored[key] = (forest, summary)
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
