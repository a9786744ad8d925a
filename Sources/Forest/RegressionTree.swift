import Foundation

/// A binary regression tree in flat arrays, nodes in pre-order (left subtree first).
/// A leaf has `feature == -1`, `left == right == -1` and `threshold == 0`.
public struct RegressionTree: Sendable, Equatable {
    public var feature: [Int32]
    /// Go left when `x[feature] <= threshold`.
    public var threshold: [Double]
    public var left: [Int32]
    public var right: [Int32]
    /// Weighted mean of the node's training targets; the prediction at leaves.
    public var value: [Double]

    public init(feature: [Int32], threshold: [Double], left: [Int32], right: [Int32], value: [Double]) {
        precondition(
            threshold.count == feature.count && left.count == feature.count
                && right.count == feature.count && value.count == feature.count,
            "RegressionTree: node arrays differ in length")
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.value = value
    }

    public var nodeCount: Int { feature.count }

    /// Every step is bounds-checked (children must point forward, features must exist in `x`),
    /// because the arrays are public and may have been assembled by hand.
    public func predict(_ x: FeatureMatrix, row: Int) -> Double {
        precondition(row >= 0 && row < x.rowCount, "RegressionTree.predict: row \(row) out of range")
        let count = feature.count
        precondition(
            count > 0 && threshold.count == count && left.count == count && right.count == count
                && value.count == count, "RegressionTree.predict: malformed tree")
        let rows = x.rowCount, columns = x.columnCount
        return feature.withUnsafeBufferPointer { f in
            threshold.withUnsafeBufferPointer { t in
                left.withUnsafeBufferPointer { l in
                    right.withUnsafeBufferPointer { r in
                        x.values.withUnsafeBufferPointer { xv in
                            var n = 0
                            while true {
                                let ft = Int(f[n])
                                if ft < 0 { return value[n] }
                                precondition(ft < columns, "RegressionTree.predict: feature \(ft) not in x")
                                let next = Int(xv[ft &* rows &+ row] <= t[n] ? l[n] : r[n])
                                precondition(next > n && next < count, "RegressionTree.predict: bad child index")
                                n = next
                            }
                        }
                    }
                }
            }
        }
    }

    /// The first structural problem (nil if none): children must point forward inside the tree,
    /// so every walk ends at a leaf, and no node may be the child of two nodes (a shared subtree
    /// would be copied once per path when the tree is laid out for prediction); features must be
    /// below `featureLimit`.
    func structuralProblem(featureLimit: Int) -> String? {
        let count = feature.count
        if count == 0 { return "tree has no nodes" }
        if threshold.count != count || left.count != count || right.count != count || value.count != count {
            return "node arrays differ in length"
        }
        var hasParent = [Bool](repeating: false, count: count)
        for n in 0..<count {
            let f = Int(feature[n]), l = Int(left[n]), r = Int(right[n])
            if f == -1 {
                if l != -1 || r != -1 { return "leaf node \(n) has children \(l), \(r) (must be -1)" }
            } else {
                if f < 0 || f >= featureLimit { return "node \(n) uses feature \(f), outside 0..<\(featureLimit)" }
                if l <= n || l >= count { return "node \(n) has left child \(l), outside \(n + 1)..<\(count)" }
                if r <= n || r >= count { return "node \(n) has right child \(r), outside \(n + 1)..<\(count)" }
                if l == r { return "node \(n) has node \(l) as both children" }
                for c in [l, r] {
                    if hasParent[c] { return "node \(c) is the child of more than one node" }
                    hasParent[c] = true
                }
            }
        }
        return nil
    }
}

public struct RandomForest: Sendable, Equatable {
    public var featureCount: Int
    public var trees: [RegressionTree]

    public init(featureCount: Int, trees: [RegressionTree]) {
        self.featureCount = featureCount
        self.trees = trees
    }

    /// Mean of the trees' predictions, summed in tree order (bit-identical whatever the threads).
    public func predict(_ x: FeatureMatrix, row: Int) -> Double {
        precondition(!trees.isEmpty, "RandomForest.predict: no trees")
        precondition(x.columnCount >= featureCount, "RandomForest.predict: x has \(x.columnCount) columns, forest needs \(featureCount)")
        var sum = 0.0
        for tree in trees { sum += tree.predict(x, row: row) }
        return sum / Double(trees.count)
    }

    public func predict(_ x: FeatureMatrix, threads: Int = ForestTrainer.defaultThreads) -> [Double] {
        precondition(!trees.isEmpty, "RandomForest.predict: no trees")
        precondition(x.columnCount >= featureCount, "RandomForest.predict: x has \(x.columnCount) columns, forest needs \(featureCount)")
        if let shallow = LevelForest(self, columnCount: x.columnCount) {
            return shallow.predict(x, threads: threads)
        }
        // A few rows: walking them node by node costs less than laying the forest out for the
        // batch walk (the same sums, in tree order).
        if x.rowCount <= 1024 || x.rowCount * trees.count * 8 < trees.reduce(0, { $0 + $1.nodeCount }) {
            return walk(x, threads: threads)
        }
        let packed = PackedForest(self, columnCount: x.columnCount)
        return packed.predict(x, threads: threads).map { $0.sum / Double($0.count) }
    }
}

extension RandomForest {
    /// Every row walked node by node, tree by tree within a block of rows (each tree is walked by
    /// the block's rows while it is in cache), blocks on `threads` threads; each row adds the
    /// trees in order and divides by their count, as `predict(_:row:)` does.
    func walk(_ x: FeatureMatrix, threads: Int) -> [Double] {
        let n = x.rowCount, count = Double(trees.count)
        return [Double](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = SharedBuffer(buffer)
            parallelChunks(total: n, chunk: max(64, (n + max(1, threads) - 1) / max(1, threads)), threads: threads) { range in
                for r in range { out.base[r] = 0 }
                for tree in trees {
                    for r in range { out.base[r] += tree.predict(x, row: r) }
                }
                for r in range { out.base[r] = out.base[r] / count }
            }
            initialized = n
        }
    }
}

/// All nodes of a forest in one validated array of 16-byte nodes, so the batch walk needs no
/// per-step checks and four nodes share a cache line. Each tree is laid out depth first, left
/// subtree first, so a node's left child is the next node and only the right one is stored; a
/// leaf has column -1 and holds its value where an inner node holds its threshold.
struct PackedNode: Sendable {
    var thresholdOrValue: Double
    var right: Int32
    var column: Int32
}

struct PackedForest: Sendable {
    let nodes: [PackedNode]
    let roots: [Int]

    init(_ forest: RandomForest, columnCount: Int) {
        var nodes: [PackedNode] = []
        nodes.reserveCapacity(forest.trees.reduce(0) { $0 + $1.nodeCount })
        var roots: [Int] = []
        var stack: [(node: Int, parent: Int)] = []
        for (i, tree) in forest.trees.enumerated() {
            if let problem = tree.structuralProblem(featureLimit: min(forest.featureCount, columnCount)) {
                preconditionFailure("RandomForest: tree \(i): \(problem)")
            }
            let first = nodes.count
            roots.append(first)
            // Depth first from the root, left child first; a right child, when reached, tells its
            // parent where it landed (relative to the root). Children point forward, so the walk ends.
            stack.append((0, -1))
            while let (n, parent) = stack.popLast() {
                if parent >= 0 { nodes[parent].right = Int32(nodes.count - first) }
                let leaf = tree.feature[n] < 0
                let at = nodes.count
                nodes.append(
                    PackedNode(
                        thresholdOrValue: leaf ? tree.value[n] : tree.threshold[n], right: -1, column: leaf ? -1 : tree.feature[n]))
                if !leaf {
                    stack.append((Int(tree.right[n]), at))
                    stack.append((Int(tree.left[n]), -1))
                }
            }
        }
        self.nodes = nodes
        self.roots = roots
    }

    /// Rows walked side by side through one tree: their chains of dependent loads overlap.
    private static let group = 8

    /// Per row, the sum of the tree predictions added in tree order, and how many trees contributed.
    func predict(_ x: FeatureMatrix, threads: Int) -> [(sum: Double, count: Int)] {
        let n = x.rowCount
        // A forest of bare leaves may meet a matrix without columns: give the buffer a base address.
        let xValues = x.values.isEmpty ? [0.0] : x.values
        let result = [(sum: Double, count: Int)](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = SharedBuffer(buffer)
            // Large chunks, one per thread up to 8192 rows: each tree is pulled into cache once per
            // chunk. A row's sum does not depend on its chunk.
            let chunk = min(8192, max(512, (n + max(1, threads) - 1) / max(1, threads)))
            parallelChunks(total: n, chunk: chunk, threads: threads) { range in
                let m = range.count, first = range.lowerBound
                let sums = UnsafeMutablePointer<Double>.allocate(capacity: m)
                sums.initialize(repeating: 0, count: m)
                defer { sums.deallocate() }
                let group = PackedForest.group
                let at = UnsafeMutablePointer<Int>.allocate(capacity: group)
                let who = UnsafeMutablePointer<Int>.allocate(capacity: group)
                defer { at.deallocate(); who.deallocate() }
                nodes.withUnsafeBufferPointer { nodes in
                    xValues.withUnsafeBufferPointer { xv in
                        let xb = xv.baseAddress! + first
                        for root in roots {
                            let tree = nodes.baseAddress! + root
                            // Each lane walks one row; a lane whose row reached its leaf takes the next
                            // row, so no lane idles while another finishes a deeper path.
                            var active = min(group, m), next = active
                            for j in 0..<active {
                                at[j] = 0
                                who[j] = j
                            }
                            while active > 0 {
                                var j = 0
                                while j < active {
                                    let a = at[j]
                                    let node = tree[a]
                                    if node.column < 0 {
                                        sums[who[j]] += node.thresholdOrValue
                                        if next < m {
                                            who[j] = next
                                            at[j] = 0
                                            next += 1
                                        } else {
                                            active -= 1
                                            at[j] = at[active]
                                            who[j] = who[active]
                                            continue
                                        }
                                    } else {
                                        let v = xb[Int(node.column) &* n &+ who[j]]
                                        at[j] = v <= node.thresholdOrValue ? a &+ 1 : Int(node.right)
                                    }
                                    j += 1
                                }
                            }
                        }
                    }
                }
                for i in 0..<m { (out.base + first + i).initialize(to: (sum: sums[i], count: roots.count)) }
            }
            initialized = n
        }
        return result
    }
}

/// Disjoint slices of one output buffer written from several threads.
struct SharedBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { base = buffer.baseAddress ?? UnsafeMutablePointer<T>(bitPattern: 8)! }
}

/// Runs `body` over `0..<total` in chunks, on at most `threads` threads. Chunks are handed out
/// from a shared counter, so which thread runs a chunk varies but every chunk's work is fixed.
func parallelChunks(total: Int, chunk: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = (total + chunk - 1) / chunk
    guard chunks > 0 else { return }
    let workers = max(1, min(threads, chunks))
    if workers == 1 {
        for c in 0..<chunks { body(c * chunk..<min(total, (c + 1) * chunk)) }
        return
    }
    let counter = TaskCounter(limit: chunks)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while let c = counter.next() { body(c * chunk..<min(total, (c + 1) * chunk)) }
    }
}

final class TaskCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
