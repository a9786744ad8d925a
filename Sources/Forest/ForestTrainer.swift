import Foundation

public struct TrainingSummary: Sendable, Equatable {
    /// Per training row: mean prediction of the trees that did not see the row; NaN where the
    /// row was in every tree's bootstrap (or bootstrap is off).
    public var oobPredictions: [Double]
    /// Over rows with at least one out-of-bag tree; nil if there are none or bootstrap is off.
    public var oobMSE: Double?
    public var oobRows: Int

    public init(oobPredictions: [Double], oobMSE: Double?, oobRows: Int) {
        self.oobPredictions = oobPredictions
        self.oobMSE = oobMSE
        self.oobRows = oobRows
    }

    // Equatable by bit pattern, so two summaries with NaN for the same rows compare equal.
    public static func == (a: TrainingSummary, b: TrainingSummary) -> Bool {
        a.oobRows == b.oobRows && a.oobMSE?.bitPattern == b.oobMSE?.bitPattern
            && a.oobPredictions.map(\.bitPattern) == b.oobPredictions.map(\.bitPattern)
    }
}

public enum ForestTrainer {
    /// `FOREST_THREADS` if set to a positive integer, else the number of active processors.
    public static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["FOREST_THREADS"], let t = Int(s), t > 0 { return t }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Trains on the rows of `x` (all rows) with targets `y` (y.count == x.rowCount).
    /// `progress` is called with the number of finished trees (from any thread; may be nil).
    /// Calls are serialized and the counts increase by one each time. `outOfBag: false` skips the
    /// out-of-bag estimate (as without bootstrap) and leaves the forest unchanged.
    public static func train(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int = defaultThreads, outOfBag: Bool = true,
        progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> (forest: RandomForest, summary: TrainingSummary) {
        let (forest, summary, _) = try train(x, y, params: params, threads: threads, outOfBag: outOfBag, predicting: nil, progress: progress)
        return (forest, summary)
    }

    /// `train`, and the forest's predictions of the rows of `predicting` (nil: none): the bits
    /// `forest.predict(predicting)` returns, each row sent down every tree while the tree grows
    /// rather than walked through the finished forest afterwards.
    public static func train(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int = defaultThreads, outOfBag: Bool = true,
        predicting heldOut: FeatureMatrix?, progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> (forest: RandomForest, summary: TrainingSummary, predictions: [Double]) {
        // Depth-limited trees predict fastest level by level once grown (`LevelForest`); deeper
        // ones, by partitioning the rows at each split while they grow. The bits are the same.
        if let heldOut {
            if heldOut.columnCount < x.columnCount {
                throw ForestError("the rows to predict have \(heldOut.columnCount) columns, the training data \(x.columnCount)")
            }
            if heldOut.rowCount >= Int(Int32.max) { throw ForestError("too many rows to predict (\(heldOut.rowCount)); at most \(Int32.max - 1)") }
        }
        if let heldOut, let depth = params.maxDepth, depth <= LevelForest.maximumDepth {
            let (forest, summary, _) = try train(x, y, params: params, threads: threads, outOfBag: outOfBag, predicting: nil, progress: progress)
            return (forest, summary, forest.predict(heldOut, threads: threads))
        }
        let (forest, oob) = try grow(x, y, params: params, threads: threads, outOfBag: outOfBag, heldOut: heldOut, progress: progress)
        guard params.bootstrap && outOfBag else {
            let none = TrainingSummary(oobPredictions: [Double](repeating: .nan, count: x.rowCount), oobMSE: nil, oobRows: 0)
            return (forest, none, oob.heldOut)
        }
        return (forest, outOfBagSummary(sums: oob.sums, counts: oob.counts, y: y), oob.heldOut)
    }

    /// The forest, and per row the sum (in tree order) and count of its out-of-bag predictions,
    /// with `depthCuts` also the sums at each cut (`cutSums[j]`; see `TreeBuilder.init`), and with
    /// `heldOut` the forest's prediction of each of its rows (the trees' values summed in tree
    /// order, over the tree count: `RandomForest.predict`'s arithmetic).
    static func grow(
        _ x: FeatureMatrix, _ y: [Double], params: ForestParams, threads: Int, outOfBag: Bool, depthCuts: [Int] = [],
        heldOut: FeatureMatrix? = nil, progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> (forest: RandomForest, outOfBag: (sums: [Double], counts: [Int32], cutSums: [[Double]], heldOut: [Double])) {
        try validate(x, y, params)
        if let heldOut, heldOut.columnCount < x.columnCount {
            throw ForestError("the rows to predict have \(heldOut.columnCount) columns, the training data \(x.columnCount)")
        }
        let threads = max(1, threads)
        let data = PreparedData(x, y, threads: threads, heldOut: heldOut)
        let slots = TreeSlots(
            count: params.nTrees, rows: x.rowCount, cuts: depthCuts.count, heldOutRows: heldOut?.rowCount ?? 0, progress: progress)
        let counter = TaskCounter(limit: params.nTrees)
        let work: @Sendable (Int) -> Void = { _ in
            let builder = TreeBuilder(data: data, params: params, depthCuts: depthCuts)
            while let i = counter.next() {
                let (tree, oob, heldOut) = builder.build(treeIndex: i, bootstrap: params.bootstrap, outOfBag: outOfBag)
                slots.store(i, tree: tree, outOfBag: oob, heldOut: heldOut)
            }
        }
        let workers = min(threads, params.nTrees)
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }

        let (trees, oob) = slots.results()
        let count = Double(trees.count)
        return (RandomForest(featureCount: x.columnCount, trees: trees), (oob.sums, oob.counts, oob.cutSums, oob.heldOut.map { $0 / count }))
    }

    /// The out-of-bag summary from each row's sum of out-of-bag tree predictions (added in tree
    /// order) and their count: the mean per row, and the squared error averaged over the rows that
    /// have one, in row order.
    static func outOfBagSummary(sums: [Double], counts: [Int32], y: [Double]) -> TrainingSummary {
        var predictions = [Double](repeating: .nan, count: y.count)
        var squares = 0.0, rowsWithOOB = 0
        for r in 0..<y.count where counts[r] > 0 {
            predictions[r] = sums[r] / Double(counts[r])
            let e = predictions[r] - y[r]
            squares += e * e
            rowsWithOOB += 1
        }
        let mse = rowsWithOOB > 0 ? squares / Double(rowsWithOOB) : nil
        return TrainingSummary(oobPredictions: predictions, oobMSE: mse, oobRows: rowsWithOOB)
    }

    /// One tree on all rows, no bootstrap, all features unless `maxFeatures` (then sampled with the
    /// generator of tree 0). `nTrees` and `bootstrap` are ignored.
    public static func trainTree(_ x: FeatureMatrix, _ y: [Double], params: ForestParams) throws -> RegressionTree {
        var single = params
        single.nTrees = 1
        try validate(x, y, single)
        let data = PreparedData(x, y, threads: 1)
        return TreeBuilder(data: data, params: single).build(treeIndex: 0, bootstrap: false).tree
    }

    static func validate(_ x: FeatureMatrix, _ y: [Double], _ params: ForestParams) throws {
        if x.rowCount == 0 { throw ForestError("empty training data: x has no rows") }
        if x.columnCount == 0 { throw ForestError("empty training data: x has no feature columns") }
        if x.rowCount >= Int(Int32.max) { throw ForestError("too many training rows (\(x.rowCount)); at most \(Int32.max - 1)") }
        if y.count != x.rowCount { throw ForestError("y has \(y.count) values but x has \(x.rowCount) rows") }
        if let problem = params.problem(columnCount: x.columnCount) { throw ForestError("bad forest parameters: \(problem)") }
        if let r = y.firstIndex(where: { !$0.isFinite }) { throw ForestError("y row \(r) is not finite (\(y[r]))") }
        if let i = x.values.firstIndex(where: { !$0.isFinite }) {
            throw ForestError("x row \(i % x.rowCount) column \(i / x.rowCount) is not finite (\(x.values[i]))")
        }
    }
}

/// Finished trees stored by tree index, so the forest's order never depends on which thread
/// finished first. Out-of-bag predictions are added to per-row sums in tree order (a tree that
/// finishes early waits for its predecessors), so the sums are the same bits for any thread count.
final class TreeSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var trees: [RegressionTree?]
    private var pending: [Int: (outOfBag: TreeBuilder.OutOfBag?, heldOut: [Double])] = [:]
    private var nextToAdd = 0
    private let sums: UnsafeMutablePointer<Double>
    private let counts: UnsafeMutablePointer<Int32>
    private let rows: Int
    /// Per depth cut, per row (`cutSums[j * rows + row]`).
    private let cuts: Int
    private let cutSums: UnsafeMutablePointer<Double>
    /// Per held-out row, its tree values summed in tree order.
    private let heldOutRows: Int
    private let heldOutSums: UnsafeMutablePointer<Double>
    private var finished = 0
    private let progress: (@Sendable (Int) -> Void)?

    init(count: Int, rows: Int, cuts: Int = 0, heldOutRows: Int = 0, progress: (@Sendable (Int) -> Void)?) {
        trees = Array(repeating: nil, count: count)
        self.heldOutRows = heldOutRows
        heldOutSums = .allocate(capacity: max(1, heldOutRows))
        heldOutSums.initialize(repeating: 0, count: max(1, heldOutRows))
        self.rows = rows
        self.cuts = cuts
        cutSums = .allocate(capacity: max(1, rows * cuts))
        cutSums.initialize(repeating: 0, count: max(1, rows * cuts))
        sums = .allocate(capacity: max(1, rows))
        sums.initialize(repeating: 0, count: max(1, rows))
        counts = .allocate(capacity: max(1, rows))
        counts.initialize(repeating: 0, count: max(1, rows))
        self.progress = progress
    }

    deinit {
        sums.deallocate()
        counts.deallocate()
        cutSums.deallocate()
        heldOutSums.deallocate()
    }

    func store(_ i: Int, tree: RegressionTree, outOfBag: TreeBuilder.OutOfBag?, heldOut: [Double] = []) {
        lock.lock(); defer { lock.unlock() }
        trees[i] = tree
        if outOfBag != nil || heldOutRows > 0 { pending[i] = (outOfBag, heldOut) }
        while let (outOfBag, heldOut) = pending.removeValue(forKey: nextToAdd) {
            precondition(heldOut.count == heldOutRows, "TreeSlots: a tree predicted \(heldOut.count) held-out rows of \(heldOutRows)")
            let heldOutSums = self.heldOutSums
            heldOut.withUnsafeBufferPointer { values in
                for r in values.indices { heldOutSums[r] += values[r] }
            }
            nextToAdd += 1
            guard let next = outOfBag else { continue }
            let sums = self.sums, counts = self.counts, cutSums = self.cutSums, k = cuts, n = self.rows
            next.rows.withUnsafeBufferPointer { rows in
                next.values.withUnsafeBufferPointer { values in
                    for i in rows.indices {
                        sums[Int(rows[i])] += values[i]
                        counts[Int(rows[i])] += 1
                    }
                }
                next.cutValues.withUnsafeBufferPointer { values in
                    for i in rows.indices {
                        for j in 0..<k { cutSums[j * n + Int(rows[i])] += values[i * k + j] }
                    }
                }
            }
        }
        finished += 1
        progress?(finished)
    }

    /// The trees in order, and per row the sum and count of its out-of-bag predictions (and the
    /// sums at each depth cut), and per held-out row the sum of its tree values.
    func results() -> (trees: [RegressionTree], outOfBag: (sums: [Double], counts: [Int32], cutSums: [[Double]], heldOut: [Double])) {
        lock.lock(); defer { lock.unlock() }
        let cutSums = (0..<cuts).map { j in Array(UnsafeBufferPointer(start: self.cutSums + j * rows, count: rows)) }
        return (
            trees.map { $0! },
            (
                Array(UnsafeBufferPointer(start: sums, count: rows)), Array(UnsafeBufferPointer(start: counts, count: rows)), cutSums,
                Array(UnsafeBufferPointer(start: heldOutSums, count: heldOutRows))
            )
        )
    }
}
