import CForestKernel
import Foundation
import Stats
import Testing

@testable import Forest

/// Column-major matrix from row-major literal rows (easier to read in tests).
private func matrix(_ rows: [[Double]]) -> FeatureMatrix {
    let n = rows.count, p = rows.first?.count ?? 0
    var values = [Double](repeating: 0, count: n * p)
    for r in 0..<n { for c in 0..<p { values[c * n + r] = rows[r][c] } }
    return FeatureMatrix(rowCount: n, columnCount: p, values: values)
}

private func normal(_ g: inout SeededGenerator) -> Double {
    let u1 = 1 - g.nextUnit(), u2 = g.nextUnit()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
}

/// n rows of p uniform features; y = 3·x0 + noise·N(0,1).
private func synthetic(rows n: Int, features p: Int, noise: Double, seed: UInt64) -> (x: FeatureMatrix, y: [Double], truth: [Double]) {
    var g = SeededGenerator(seed: seed)
    var values = [Double](repeating: 0, count: n * p)
    for i in values.indices { values[i] = g.nextUnit() }
    let truth = (0..<n).map { 3 * values[$0] }
    let y = truth.map { $0 + noise * normal(&g) }
    return (FeatureMatrix(rowCount: n, columnCount: p, values: values), y, truth)
}

private func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

private func bits(_ tree: RegressionTree) -> [[UInt64]] {
    [
        tree.feature.map { UInt64(UInt32(bitPattern: $0)) }, tree.threshold.map(\.bitPattern),
        tree.left.map { UInt64(UInt32(bitPattern: $0)) }, tree.right.map { UInt64(UInt32(bitPattern: $0)) }, tree.value.map(\.bitPattern),
    ]
}

@Suite("CART trees checked by hand")
struct HandCheckedTrees {
    let x = matrix([[1], [2], [3], [4], [5], [6]])
    let y: [Double] = [1, 1, 1, 5, 5, 9]

    @Test("one feature, fully grown: root at 3.5, right child at 5.5")
    func fullyGrown() throws {
        let tree = try ForestTrainer.trainTree(x, y, params: ForestParams(nTrees: 1, seed: 1))
        #expect(tree.feature == [0, -1, 0, -1, -1])
        #expect(tree.threshold == [3.5, 0, 5.5, 0, 0])
        #expect(tree.left == [1, -1, 3, -1, -1])
        #expect(tree.right == [2, -1, 4, -1, -1])
        #expect(tree.value == [22.0 / 6.0, 1, 19.0 / 3.0, 5, 9])
    }

    @Test("max depth 1 gives a stump")
    func stump() throws {
        let tree = try ForestTrainer.trainTree(x, y, params: ForestParams(nTrees: 1, maxDepth: 1, seed: 1))
        #expect(tree.feature == [0, -1, -1])
        #expect(tree.threshold == [3.5, 0, 0])
        #expect(tree.left == [1, -1, -1])
        #expect(tree.right == [2, -1, -1])
        #expect(tree.value == [22.0 / 6.0, 1, 19.0 / 3.0])
        let root = try ForestTrainer.trainTree(x, y, params: ForestParams(nTrees: 1, maxDepth: 0, seed: 1))
        #expect(root.feature == [-1] && root.value == [22.0 / 6.0])
    }

    @Test("two features: the best split is on the second; equal scores keep the lower threshold")
    func secondFeature() throws {
        // x1 separates {0, 1, 0} from {10, 10, 11} (score 3·3·10² = 900); the best x0 split scores 204.8.
        // In the left child (y 0, 1, 0 at x0 = 1, 3, 5) thresholds 2 and 4 tie at 0.5: 2 is found first.
        let x2 = matrix([[1, 0], [2, 1], [3, 0], [4, 1], [5, 0], [6, 1]])
        let y2: [Double] = [0, 10, 1, 10, 0, 11]
        let tree = try ForestTrainer.trainTree(x2, y2, params: ForestParams(nTrees: 1, seed: 1))
        #expect(tree.feature == [1, 0, -1, 0, -1, -1, 0, -1, -1])
        #expect(tree.threshold == [0.5, 2, 0, 4, 0, 0, 5, 0, 0])
        #expect(tree.left == [1, 2, -1, 4, -1, -1, 7, -1, -1])
        #expect(tree.right == [6, 3, -1, 5, -1, -1, 8, -1, -1])
        #expect(tree.value == [32.0 / 6.0, 1.0 / 3.0, 0, 0.5, 1, 0, 31.0 / 3.0, 10, 11])
    }

    @Test("equal scores on different features: the lower feature index wins, whatever the feature kinds")
    func tieAcrossFeatures() throws {
        // Column a has 100 levels (kept presorted), column b is 0/1; both split rows at 50 identically.
        let a = (0..<100).map(Double.init), b = a.map { $0 >= 50 ? 1.0 : 0.0 }
        let y = b.map { $0 * 3 }
        let ab = try ForestTrainer.trainTree(FeatureMatrix(rowCount: 100, columnCount: 2, values: a + b), y, params: ForestParams(nTrees: 1, seed: 1))
        #expect(ab.feature == [0, -1, -1] && ab.threshold[0] == 49.5)
        let ba = try ForestTrainer.trainTree(FeatureMatrix(rowCount: 100, columnCount: 2, values: b + a), y, params: ForestParams(nTrees: 1, seed: 1))
        #expect(ba.feature == [0, -1, -1] && ba.threshold[0] == 0.5)
    }

    @Test("minSamplesLeaf forbids the otherwise best split")
    func minSamplesLeaf() throws {
        let yl: [Double] = [0, 0, 0, 0, 0, 12]
        let free = try ForestTrainer.trainTree(x, yl, params: ForestParams(nTrees: 1, seed: 1))
        #expect(free.threshold[0] == 5.5)
        // With 2 per leaf: 4.5 scores 4·2·6² = 288 > 3.5 (144) > 2.5 (72); the right child [0, 12]
        // has 2 < 2·2 samples and stays a leaf.
        let tree = try ForestTrainer.trainTree(x, yl, params: ForestParams(nTrees: 1, minSamplesLeaf: 2, seed: 1))
        #expect(tree.feature == [0, -1, -1])
        #expect(tree.threshold == [4.5, 0, 0])
        #expect(tree.left == [1, -1, -1])
        #expect(tree.right == [2, -1, -1])
        #expect(tree.value == [2, 0, 6])
        let split = try ForestTrainer.trainTree(x, yl, params: ForestParams(nTrees: 1, minSamplesSplit: 7, seed: 1))
        #expect(split.nodeCount == 1)
    }

    @Test("no split when both sides have the same mean")
    func zeroImprovement() throws {
        let tree = try ForestTrainer.trainTree(matrix([[1], [1], [2], [2]]), [0, 1, 0, 1], params: ForestParams(nTrees: 1, seed: 1))
        #expect(tree.feature == [-1] && tree.value == [0.5])
    }
}

@Suite("Forest training")
struct ForestTraining {
    @Test("same seed gives the same forest for 1, 2 and 3 threads; another seed differs")
    func determinism() throws {
        let (x, y, _) = synthetic(rows: 400, features: 6, noise: 0.5, seed: 11)
        let params = ForestParams(nTrees: 24, maxFeatures: 2, seed: 42)
        let one = try ForestTrainer.train(x, y, params: params, threads: 1)
        let two = try ForestTrainer.train(x, y, params: params, threads: 2)
        let three = try ForestTrainer.train(x, y, params: params, threads: 3)
        #expect(one.forest == two.forest && one.forest == three.forest)
        #expect(one.forest.trees.map(bits) == two.forest.trees.map(bits))
        #expect(one.summary == two.summary && one.summary == three.summary)
        #expect(one.forest.predict(x, threads: 1).map(\.bitPattern) == two.forest.predict(x, threads: 2).map(\.bitPattern))
        var other = params
        other.seed = 43
        let different = try ForestTrainer.train(x, y, params: other, threads: 2)
        #expect(different.forest != one.forest)
        // Tree i depends only on (seed, i): the first trees of a larger forest are the same trees.
        var more = params
        more.nTrees = 30
        let larger = try ForestTrainer.train(x, y, params: more, threads: 2)
        #expect(Array(larger.forest.trees.prefix(24)) == one.forest.trees)
    }

    @Test(
        "every tree matches a plain reference CART (binary, few-level and many-level features)",
        arguments: [
            ForestParams(nTrees: 6, seed: 21), ForestParams(nTrees: 6, maxFeatures: 2, seed: 22),
            ForestParams(nTrees: 6, maxDepth: 4, minSamplesLeaf: 3, minSamplesSplit: 8, maxFeatures: 3, seed: 23),
            ForestParams(nTrees: 2, bootstrap: false, seed: 24),
        ])
    func matchesReference(params: ForestParams) throws {
        // Columns: two 0/1, one with 5 levels, one with ~100 integer levels (ties), one continuous,
        // and one constant. Integer targets, mostly zero, keep all sums exact.
        let n = 160
        var g = SeededGenerator(seed: 77)
        var columns: [[Double]] = [
            (0..<n).map { _ in g.nextUnit() < 0.3 ? 1 : 0 }, (0..<n).map { _ in g.nextUnit() < 0.6 ? 1 : 0 },
            (0..<n).map { _ in Double(g.next(below: 5)) }, (0..<n).map { _ in Double(g.next(below: 100)) },
            (0..<n).map { _ in g.nextUnit() * 10 - 5 }, (0..<n).map { _ in 7 },
        ]
        columns.swapAt(0, 4)  // a presorted feature comes first
        let x = FeatureMatrix(rowCount: n, columnCount: columns.count, values: columns.flatMap { $0 })
        let y = (0..<n).map { r -> Double in g.nextUnit() < 0.7 ? 0 : Double(1 + g.next(below: 3)) + columns[1][r] }
        let forest = try ForestTrainer.train(x, y, params: params, threads: 2).forest
        let reference = ReferenceCART(x: x, y: y, params: params)
        for i in 0..<params.nTrees {
            let expected = reference.forestTree(i)
            #expect(forest.trees[i] == expected, "tree \(i)")
            #expect(bits(forest.trees[i]) == bits(expected))
        }
        #expect(forest.trees.map(\.nodeCount).reduce(0, +) > 20 * params.nTrees || params.maxDepth != nil)
    }

    @Test("OOB error near the noise variance; predictions track the truth on fresh data")
    func accuracy() throws {
        let noise = 0.5
        let (x, y, _) = synthetic(rows: 2000, features: 5, noise: noise, seed: 7)
        let (forest, summary) = try ForestTrainer.train(x, y, params: ForestParams(nTrees: 100, seed: 3), threads: 2)
        let mse = try #require(summary.oobMSE)
        // Fully grown trees fit the noise, but averaging 100 of them cancels most of it: the OOB MSE
        // is 0.2589 with these seeds against σ² = 0.25; the correlation below is 0.985.
        #expect(mse > 0.8 * noise * noise && mse < 1.25 * noise * noise, "OOB MSE \(mse)")
        #expect(summary.oobRows == 2000)
        let oob = summary.oobPredictions
        let check = zip(oob, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / 2000
        #expect(abs(check - mse) < 1e-12)
        let (fresh, _, truth) = synthetic(rows: 1000, features: 5, noise: noise, seed: 8)
        let predicted = forest.predict(fresh, threads: 2)
        let r = Inference.pearson(predicted, truth)
        #expect(r > 0.9, "correlation \(r)")
        for row in stride(from: 0, to: 1000, by: 37) {
            #expect(forest.predict(fresh, row: row).bitPattern == predicted[row].bitPattern)
        }
    }

    @Test(
        "out-of-bag errors by depth cut from one deep forest equal one forest per depth, bit for bit, in any order of depths, with a cut at the root and a repeated cut"
    )
    func outOfBagErrorsByDepth() throws {
        let (x, y, _) = synthetic(rows: 700, features: 4, noise: 0.5, seed: 21)
        for leaf in [1, 5, 40] {
            let params = ForestParams(nTrees: 12, minSamplesLeaf: leaf, minSamplesSplit: 2 * leaf, seed: 33)
            let depths = leaf == 5 ? [4, 1, 7, 2] : leaf == 40 ? [0, 3, 3, 9] : [1, 2, 4, 7]
            let cut = try ForestTrainer.outOfBagErrors(x, y, params: params, depths: depths, threads: 2)
            for (d, e) in zip(depths, cut) {
                var p = params
                p.maxDepth = d
                let s = try ForestTrainer.train(x, y, params: p, threads: 1).summary
                #expect(e.maxDepth == d && e.oobRows == s.oobRows)
                #expect(e.oobMSE?.bitPattern == s.oobMSE?.bitPattern, "leaf \(leaf) depth \(d): \(e.oobMSE ?? .nan) vs \(s.oobMSE ?? .nan)")
            }
            // Deeper trees fit the training rows better, but the out-of-bag error is not the training error.
            let byDepth = Dictionary(cut.map { ($0.maxDepth, $0.oobMSE!) }, uniquingKeysWith: { first, _ in first })
            if leaf != 40 { #expect(byDepth[1]! > byDepth[4]!) }
        }
        // Skipping the out-of-bag estimate leaves the forest as it is.
        let params = ForestParams(nTrees: 5, minSamplesLeaf: 2, seed: 8)
        let (plain, summary) = try ForestTrainer.train(x, y, params: params, threads: 2)
        let (quiet, none) = try ForestTrainer.train(x, y, params: params, threads: 2, outOfBag: false)
        #expect(quiet == plain && summary.oobMSE != nil && none.oobMSE == nil && none.oobRows == 0)
        // A negative depth is the trainer's error; without bootstrap there is no out-of-bag error.
        #expect(throws: ForestError.self) { _ = try ForestTrainer.outOfBagErrors(x, y, params: params, depths: [2, -1]) }
        // ... with the trainer's own message.
        var negative = params
        negative.maxDepth = -1
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        let cutMessage = message { _ = try ForestTrainer.outOfBagErrors(x, y, params: params, depths: [3, -1]) }
        #expect(cutMessage == message { _ = try ForestTrainer.train(x, y, params: negative) })
        #expect(cutMessage.contains("maxDepth must be nil or at least 0 (got -1)"))
        var noBootstrap = params
        noBootstrap.bootstrap = false
        #expect(try ForestTrainer.outOfBagErrors(x, y, params: noBootstrap, depths: [2, 3]).allSatisfy { $0.oobMSE == nil && $0.oobRows == 0 })
    }

    @Test("the out-of-bag summary recomputed from a trained forest is the training's own, bit for bit")
    func outOfBagSummaryOfATrainedForest() throws {
        let (x, y, _) = synthetic(rows: 500, features: 3, noise: 0.5, seed: 41)
        for (depth, leaf) in [(nil, 1), (4, 10)] as [(Int?, Int)] {
            let params = ForestParams(nTrees: 9, maxDepth: depth, minSamplesLeaf: leaf, minSamplesSplit: 2 * leaf, seed: 43)
            let (forest, summary) = try ForestTrainer.train(x, y, params: params, threads: 2)
            for threads in [1, 3] {
                #expect(ForestTrainer.outOfBagSummary(of: forest, trainedOn: x, y: y, seed: params.seed, threads: threads) == summary)
            }
            #expect(summary.oobPredictions.contains { $0.isNaN } && summary.oobRows > 400)
        }
    }

    @Test("without bootstrap there is no OOB estimate; progress counts every tree")
    func noBootstrap() throws {
        let (x, y, _) = synthetic(rows: 100, features: 3, noise: 0.1, seed: 5)
        let seen = ProgressLog()
        let (forest, summary) = try ForestTrainer.train(
            x, y, params: ForestParams(nTrees: 7, bootstrap: false, seed: 1), threads: 2,
            progress: { seen.add($0) })
        #expect(summary.oobMSE == nil && summary.oobRows == 0 && summary.oobPredictions.allSatisfy(\.isNaN))
        #expect(seen.values == Array(1...7))
        // Without bootstrap or feature sampling every tree is the same tree.
        #expect(Set(forest.trees.map(bits)).count == 1)
    }

    @Test("a fully grown tree without bootstrap reproduces the training targets exactly")
    func memorizes() throws {
        let (x, y, _) = synthetic(rows: 300, features: 3, noise: 1, seed: 9)
        let tree = try ForestTrainer.trainTree(x, y, params: ForestParams(nTrees: 1, seed: 1))
        for r in 0..<x.rowCount { #expect(tree.predict(x, row: r).bitPattern == y[r].bitPattern) }
        // One tree: the forest's mean (0 + p) / 1 is p itself; with more trees the division may round.
        let forest = try ForestTrainer.train(x, y, params: ForestParams(nTrees: 1, bootstrap: false, seed: 1), threads: 2).forest
        #expect(forest.predict(x, threads: 2).map(\.bitPattern) == y.map(\.bitPattern))
        // Adjacent doubles: the midpoint rounds to the upper value, so the lower one is the threshold.
        let a = 1.0, b = 1.0.nextUp
        let tight = try ForestTrainer.trainTree(matrix([[a], [b], [a], [b]]), [0, 1, 0, 1], params: ForestParams(nTrees: 1, seed: 1))
        #expect(tight.threshold[0] == a)
        #expect([a, b, a, b].indices.map { tight.predict(matrix([[a], [b], [a], [b]]), row: $0) } == [0, 1, 0, 1])
    }

    @Test("a row-subset matrix keeps the chosen rows in order")
    func featureMatrix() {
        let x = matrix([[1, 10], [2, 20], [3, 30]])
        #expect(x[2, 1] == 30)
        #expect(x.rows([2, 0, 2]) == matrix([[3, 30], [1, 10], [3, 30]]))
    }

    @Test("bad input is rejected with a clear message")
    func validation() {
        let x = matrix([[1, 2], [3, 4], [5, 6]])
        let y: [Double] = [1, 2, 3]
        let ok = ForestParams(nTrees: 2, seed: 1)
        func message(_ x: FeatureMatrix, _ y: [Double], _ p: ForestParams) -> String {
            errorText { _ = try ForestTrainer.train(x, y, params: p, threads: 1) } ?? "no error"
        }
        #expect(message(FeatureMatrix(rowCount: 0, columnCount: 2, values: []), [], ok).contains("empty training data"))
        #expect(message(x, [1, 2], ok).contains("y has 2 values but x has 3 rows"))
        var bad = x
        bad.values[1 * 3 + 2] = .nan
        #expect(message(bad, y, ok).contains("x row 2 column 1 is not finite"))
        #expect(message(x, [1, .infinity, 3], ok).contains("y row 1 is not finite"))
        #expect(message(x, y, ForestParams(nTrees: 0, seed: 1)).contains("nTrees"))
        #expect(message(x, y, ForestParams(nTrees: 1, minSamplesLeaf: 0, seed: 1)).contains("minSamplesLeaf"))
        #expect(message(x, y, ForestParams(nTrees: 1, maxFeatures: 0, seed: 1)).contains("maxFeatures must be nil or in 1...2 (got 0)"))
        #expect(message(x, y, ForestParams(nTrees: 1, maxFeatures: 3, seed: 1)).contains("maxFeatures"))
        #expect(message(x, y, ForestParams(nTrees: 1, maxDepth: -1, seed: 1)).contains("maxDepth"))
        #expect(errorText { _ = try ForestTrainer.trainTree(x, [1, 2], params: ok) } != nil)
        #expect(message(x, y, ok) == "no error")
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [Int] = []
    func add(_ v: Int) { lock.lock(); log.append(v); lock.unlock() }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return log }
}

@Suite("Forest file format")
struct FormatTests {
    /// Random, structurally valid trees whose doubles include the awkward cases.
    func randomForest(_ g: inout SeededGenerator, features: Int) -> RandomForest {
        let specials: [Double] = [
            -0.0, 0.0, Double.leastNonzeroMagnitude, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), -Double.leastNonzeroMagnitude, 1e308, -1e308,
            Double.greatestFiniteMagnitude, Double.leastNormalMagnitude, 1.0.nextUp, -1.0 / 3.0,
        ]
        func double() -> Double { g.next(below: 3) == 0 ? specials[g.next(below: specials.count)] : (g.nextUnit() - 0.5) * 1e6 }
        var trees: [RegressionTree] = []
        for _ in 0..<(1 + g.next(below: 4)) {
            var t = RegressionTree(feature: [-1], threshold: [0], left: [-1], right: [-1], value: [double()])
            // Split random leaves: a new node pair appended keeps children after their parent.
            for _ in 0..<g.next(below: 12) {
                let leaves = t.feature.indices.filter { t.feature[$0] == -1 }
                let leaf = leaves[g.next(below: leaves.count)]
                let l = Int32(t.nodeCount)
                t.feature[leaf] = Int32(g.next(below: features))
                t.threshold[leaf] = double()
                t.left[leaf] = l
                t.right[leaf] = l + 1
                for _ in 0..<2 {
                    t.feature.append(-1); t.threshold.append(0); t.left.append(-1); t.right.append(-1); t.value.append(double())
                }
            }
            trees.append(t)
        }
        return RandomForest(featureCount: features, trees: trees)
    }

    func bundle() throws -> [(name: String, forest: RandomForest)] {
        var g = SeededGenerator(seed: 99)
        let (x, y, _) = synthetic(rows: 200, features: 4, noise: 0.3, seed: 4)
        let trained = try ForestTrainer.train(x, y, params: ForestParams(nTrees: 5, seed: 2), threads: 2).forest
        return [
            ("zeta", randomForest(&g, features: 3)), ("mu/treated", trained), ("alpha", randomForest(&g, features: 7)),
            ("été", randomForest(&g, features: 1)),
        ]
    }

    @Test("encode then decode is bit-exact, names sorted by bytes")
    func roundTrip() throws {
        let forests = try bundle()
        let bytes = ForestFormat.encode(forests)
        #expect(Array(bytes.prefix(8)) == Array("UPLFRST".utf8) + [0])
        #expect(ForestFormat.encode(forests.reversed()) == bytes)
        let decoded = try ForestFormat.decode(bytes, source: "m.forest")
        #expect(decoded.map(\.name) == ["alpha", "mu/treated", "zeta", "été"])
        for (name, forest) in decoded {
            let original = try #require(forests.first { $0.name == name }?.forest)
            #expect(forest.featureCount == original.featureCount)
            #expect(forest.trees.map(bits) == original.trees.map(bits))
        }
        #expect(ForestFormat.encode(decoded) == bytes)
        #expect(try ForestFormat.decode(ForestFormat.encode([]), source: "empty").isEmpty)
        // One large trained forest alone, so no later data can hide a size mistake.
        let trained = try #require(forests.first { $0.name == "mu/treated" }?.forest)
        let alone = try ForestFormat.decode(ForestFormat.encode([("only", trained)]), source: "only.forest")
        #expect(alone.count == 1 && alone[0].forest.trees.map(bits) == trained.trees.map(bits))
        #expect(ForestFormat.encode([("only", trained)]).count == 16 + 4 + 4 + 8 + trained.trees.reduce(0) { $0 + 4 + 28 * $1.nodeCount } + 32)
    }

    @Test("damaged files are rejected with the reason and the source")
    func rejects() throws {
        let bytes = ForestFormat.encode(try bundle())
        func message(_ b: [UInt8]) -> String { errorText { _ = try ForestFormat.decode(b, source: "m.forest") } ?? "no error" }
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        #expect(message(magic) == "m.forest: not a forest file (bad magic)")
        #expect(message(Array("hello".utf8)) == "m.forest: not a forest file (bad magic)")
        var version = bytes
        version[8] = 2
        #expect(message(version) == "m.forest: format version 2, this program reads 1")
        for cut in [bytes.count - 1, bytes.count - 32, bytes.count / 2, 13, 4] {
            #expect(message(Array(bytes.prefix(cut))).hasPrefix("m.forest: truncated forest file"), "cut at \(cut)")
        }
        var flipped = bytes
        flipped[bytes.count - 40] ^= 0x10  // inside the last tree's values
        #expect(message(flipped) == "m.forest: corrupt: checksum mismatch")
        #expect(message(bytes + [0, 0, 0]) == "m.forest: 3 trailing bytes after the checksum")
    }

    @Test("a tree whose nodes are not in depth-first order predicts the same through the batch walk as node by node")
    func anyNodeOrder() {
        // Node 0 splits x0 at 0.5 (left node 2, right node 1: the right leaf comes first); node 2 splits x1 at
        // 0.2 (left node 3, right node 4).
        let tree = RegressionTree(
            feature: [0, -1, 1, -1, -1], threshold: [0.5, 0, 0.2, 0, 0], left: [2, -1, 3, -1, -1], right: [1, -1, 4, -1, -1],
            value: [0, 10, 0, 40, 20])
        let x = matrix([[0.1, 0.1], [0.1, 0.9], [0.9, 0.1], [0.5, 0.2]])
        let forest = RandomForest(featureCount: 2, trees: [tree, tree])
        #expect((0..<4).map { tree.predict(x, row: $0) } == [40, 20, 10, 40])
        #expect(forest.predict(x, threads: 2) == [40, 20, 10, 40])
        #expect(PackedForest(forest, columnCount: 2).predict(x, threads: 1).map(\.sum) == [80, 40, 20, 80])
    }

    @Test("structurally invalid trees are rejected even with a good checksum")
    func invalidTrees() {
        let leaf = RegressionTree(feature: [-1], threshold: [0], left: [-1], right: [-1], value: [1])
        func message(_ tree: RegressionTree, features: Int = 2) -> String {
            let bytes = ForestFormat.encode([("f", RandomForest(featureCount: features, trees: [leaf, tree]))])
            return errorText { _ = try ForestFormat.decode(bytes, source: "bad.forest") } ?? "no error"
        }
        let good = RegressionTree(feature: [1, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [0, 1, 2])
        #expect(message(good) == "no error")
        var child = good
        child.right[0] = 3
        #expect(message(child) == "bad.forest: forest f, tree 1: node 0 has right child 3, outside 1..<3")
        var cycle = good
        cycle.left[0] = 0
        #expect(message(cycle).contains("left child 0"))
        // A node shared by two parents (a chain of them would be copied once per path when laid out).
        let shared = RegressionTree(
            feature: [1, 0, -1, -1], threshold: [0.5, 0.5, 0, 0], left: [1, 2, -1, -1], right: [2, 3, -1, -1], value: [0, 0, 1, 2])
        #expect(message(shared) == "bad.forest: forest f, tree 1: node 2 is the child of more than one node")
        var twins = good
        twins.right[0] = 1
        #expect(message(twins) == "bad.forest: forest f, tree 1: node 0 has node 1 as both children")
        #expect(message(good, features: 1) == "bad.forest: forest f, tree 1: node 0 uses feature 1, outside 0..<1")
        #expect(message(RegressionTree(feature: [], threshold: [], left: [], right: [], value: [])).contains("no nodes"))
        let duplicate = ForestFormat.encode([("a", RandomForest(featureCount: 1, trees: [leaf]))])
        // Splice a second copy of forest "a" into the bundle and re-checksum it.
        let body = Array(duplicate[16..<(duplicate.count - 32)])
        var twice = Array(duplicate[0..<12]) + [2, 0, 0, 0] + body + body
        twice += ForestFormat.sha256(twice[...])
        #expect((errorText { _ = try ForestFormat.decode(twice, source: "dup") } ?? "").contains("not sorted and distinct"))
    }
}

@Suite("Batch prediction")
struct BatchPrediction {
    /// The batch paths (complete-tree levels for shallow forests, the packed walk for deep ones)
    /// must give the bits of the plain per-row walk, including trees whose leaves sit at different depths.
    @Test(
        "batch prediction is bit-identical to the per-row walk, shallow and deep forests",
        arguments: [0, 1, 2, 3, 4, 6, 8, 9, nil] as [Int?])
    func batchEqualsWalk(depth: Int?) throws {
        var g = SeededGenerator(seed: 77)
        let n = 700
        var values = [Double](repeating: 0, count: n * 4)
        for r in 0..<n {
            values[r] = Double(g.next(below: 2))  // binary
            values[n + r] = Double(1 + g.next(below: 12))  // few levels
            values[2 * n + r] = g.nextUnit() * 1000  // continuous
            values[3 * n + r] = Double(g.next(below: 3))
        }
        let x = FeatureMatrix(rowCount: n, columnCount: 4, values: values)
        let y = (0..<n).map { r in (values[r] == 1 ? 5.0 : 0) + values[2 * n + r] / 100 + (g.nextUnit() < 0.9 ? 0 : 30 * g.nextUnit()) }
        let params = ForestParams(nTrees: 40, maxDepth: depth, minSamplesLeaf: depth == nil ? 1 : 25, seed: 5)
        let forest = try ForestTrainer.train(x, y, params: params, threads: 2).forest
        let walked = (0..<n).map { forest.predict(x, row: $0) }
        for threads in [1, 2] {
            #expect(forest.predict(x, threads: threads).map(\.bitPattern) == walked.map(\.bitPattern))
        }
        // A few rows, and every path on its own: the node-by-node walk in blocks (what a deep
        // forest uses for up to 1,024 rows) and the packed batch walk (beyond).
        let few = [0, 5, 699]
        #expect(forest.predict(x.rows(few), threads: 2).map(\.bitPattern) == few.map { walked[$0].bitPattern })
        for threads in [1, 2, 3] {
            #expect(forest.walk(x, threads: threads).map(\.bitPattern) == walked.map(\.bitPattern))
            let packed = PackedForest(forest, columnCount: 4).predict(x, threads: threads).map { $0.sum / Double($0.count) }
            #expect(packed.map(\.bitPattern) == walked.map(\.bitPattern))
        }
        // Which path ran: the level layout for depth-limited forests up to its maximum, the walk for fully grown ones.
        let level = LevelForest(forest, columnCount: 4)
        let levelled = level != nil
        // Both the AVX2 kernel (when the CPU has it) and the portable Swift path.
        if let level { #expect(level.predict(x, threads: 2, kernel: false).map(\.bitPattern) == walked.map(\.bitPattern)) }
        if let depth, depth <= LevelForest.maximumDepth { #expect(levelled) }
        if depth == nil { #expect(!levelled) }
    }
}

/// The engine's fast paths (two-level features summed from row masks by the C kernel, features
/// known constant skipped below a node, out-of-bag rows sent down the tree as it grows, the
/// division-free bound on split scores) must change nothing: same trees, same out-of-bag numbers,
/// for any thread count.
@Suite("Fast paths keep the trees")
struct FastPaths {
    /// n rows: `binary` 0/1 columns (some one-hot groups), a few-level column, a many-level one.
    private static func data(rows n: Int, binary: Int, seed: UInt64) -> (FeatureMatrix, [Double]) {
        var g = SeededGenerator(seed: seed)
        var columns: [[Double]] = []
        for j in 0..<binary {
            if j % 3 == 2 {
                // The third column of a one-hot group: 1 where neither of the previous two is.
                let a = columns[j - 1], b = columns[j - 2]
                columns.append((0..<n).map { a[$0] == 0 && b[$0] == 0 ? 1 : 0 })
            } else if j % 3 == 1 {
                let a = columns[j - 1]
                columns.append((0..<n).map { a[$0] == 0 && g.nextUnit() < 0.5 ? 1 : 0 })
            } else {
                columns.append((0..<n).map { _ in g.nextUnit() < 0.4 ? 1 : 0 })
            }
        }
        columns.append((0..<n).map { _ in Double(1 + g.next(below: 12)) })
        columns.append((0..<n).map { _ in Double(g.next(below: 300)) })
        let x = FeatureMatrix(rowCount: n, columnCount: columns.count, values: columns.flatMap { $0 })
        let y = (0..<n).map { r -> Double in
            g.nextUnit() < 0.6 ? 0 : Double(1 + g.next(below: 4)) + columns[0][r] + 2 * columns[min(4, binary - 1)][r]
        }
        return (x, y)
    }

    @Test(
        "many two-level features, and more than the 64 with a mask bit: every tree matches the reference CART",
        arguments: [
            (5, ForestParams(nTrees: 4, seed: 31)), (13, ForestParams(nTrees: 4, maxFeatures: 5, seed: 32)),
            (70, ForestParams(nTrees: 3, seed: 33)), (70, ForestParams(nTrees: 3, maxDepth: 5, minSamplesLeaf: 4, maxFeatures: 20, seed: 34)),
        ]
    )
    func referenceTrees(binary: Int, params: ForestParams) throws {
        let (x, y) = FastPaths.data(rows: 150, binary: binary, seed: UInt64(binary))
        let forest = try ForestTrainer.train(x, y, params: params, threads: 2).forest
        let reference = ReferenceCART(x: x, y: y, params: params)
        for i in 0..<params.nTrees {
            #expect(bits(forest.trees[i]) == bits(reference.forestTree(i)), "tree \(i)")
        }
    }

    @Test("out-of-bag predictions equal a plain per-tree walk of the rows each tree did not draw, for 1, 2 and 3 threads")
    func outOfBag() throws {
        let (x, y) = FastPaths.data(rows: 300, binary: 9, seed: 5)
        for params in [ForestParams(nTrees: 25, seed: 8), ForestParams(nTrees: 25, maxDepth: 3, minSamplesLeaf: 20, seed: 9)] {
            let runs = try [1, 2, 3].map { try ForestTrainer.train(x, y, params: params, threads: $0) }
            #expect(runs[0].forest == runs[1].forest && runs[0].forest == runs[2].forest)
            #expect(runs[0].summary == runs[1].summary && runs[0].summary == runs[2].summary)
            var sums = [Double](repeating: 0, count: x.rowCount), counts = [Int](repeating: 0, count: x.rowCount)
            for (i, tree) in runs[0].forest.trees.enumerated() {
                var rng = SeededGenerator.derived(seed: params.seed, index: UInt64(i))
                var drawn = [Bool](repeating: false, count: x.rowCount)
                for _ in 0..<x.rowCount { drawn[rng.next(below: x.rowCount)] = true }
                for r in 0..<x.rowCount where !drawn[r] {
                    sums[r] += tree.predict(x, row: r)
                    counts[r] += 1
                }
            }
            let expected = (0..<x.rowCount).map { counts[$0] > 0 ? sums[$0] / Double(counts[$0]) : .nan }
            #expect(runs[0].summary.oobPredictions.map(\.bitPattern) == expected.map(\.bitPattern))
            #expect(runs[0].summary.oobRows == counts.filter { $0 > 0 }.count)
        }
    }

    /// Rows predicted while the trees grow (`train(predicting:)`) must get the bits the finished
    /// forest's prediction gives them: fresh values between, on and beyond the training levels,
    /// signed zeros and NaN (which goes right, as `x <= t` is false), extra columns, no rows.
    @Test(
        "predictions made while the trees grow equal the finished forest's, deep and shallow, for 1, 2 and 3 threads",
        arguments: [
            ForestParams(nTrees: 30, seed: 41), ForestParams(nTrees: 30, maxDepth: 3, minSamplesLeaf: 20, seed: 42),
            ForestParams(nTrees: 20, maxDepth: 9, maxFeatures: 4, seed: 43), ForestParams(nTrees: 3, bootstrap: false, seed: 44),
        ])
    func heldOutPredictions(params: ForestParams) throws {
        let (x, y) = FastPaths.data(rows: 400, binary: 9, seed: 6)
        let (fresh, _) = FastPaths.data(rows: 257, binary: 9, seed: 7)
        let p = x.columnCount, m = fresh.rowCount
        var values = fresh.values
        var g = SeededGenerator(seed: 3)
        for r in 0..<m {
            // The many-level column: values between levels, far outside them, the signed zeros and NaN.
            let special: [Double] = [-0.0, 0.0, .nan, -1e300, 1e300, .infinity]
            values[(p - 1) * m + r] = r < special.count ? special[r] : g.nextUnit() * 320 - 10
            if r % 7 == 0 { values[r] = .nan }
        }
        // One column more than the forest reads: ignored, as in prediction.
        values += (0..<m).map { Double($0) }
        let heldOut = FeatureMatrix(rowCount: m, columnCount: p + 1, values: values)
        let runs = try [1, 2, 3].map { try ForestTrainer.train(x, y, params: params, threads: $0, predicting: heldOut) }
        let expected = runs[0].forest.predict(heldOut, threads: 1)
        for run in runs {
            #expect(run.forest == runs[0].forest)
            #expect(run.predictions.map(\.bitPattern) == expected.map(\.bitPattern))
        }
        // The forest and its out-of-bag summary are those of training without the rows.
        let plain = try ForestTrainer.train(x, y, params: params, threads: 2)
        #expect(plain.forest == runs[0].forest && plain.summary == runs[0].summary)
        let none = try ForestTrainer.train(x, y, params: params, threads: 2, predicting: x.rows([]))
        #expect(none.predictions.isEmpty && none.forest == plain.forest)
        let narrow = FeatureMatrix(rowCount: 1, columnCount: p - 1, values: [Double](repeating: 0, count: p - 1))
        #expect(
            (errorText { _ = try ForestTrainer.train(x, y, params: params, predicting: narrow) } ?? "").contains(
                "the rows to predict have \(p - 1) columns, the training data \(p)"))
    }

    @Test("the bootstrap kernel draws the multiplicities next(below:) draws and leaves the generator where it would", arguments: [1, 2, 3, 7, 1000, 32_771])
    func bootstrapKernel(n: Int) {
        for seed in [UInt64(1), 99, 0xDEAD_BEEF] {
            var a = SeededGenerator.derived(seed: seed, index: 3), b = a
            let fast = UnsafeMutablePointer<Double>.allocate(capacity: n), plain = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { fast.deallocate(); plain.deallocate() }
            fast.initialize(repeating: 7, count: n)  // the kernel zeroes what it is given
            TreeBuilder.drawBootstrap(&a, rows: n, into: fast)
            // One `next(below:)` at a time, as the generator defines the draws.
            plain.initialize(repeating: 0, count: n)
            for _ in 0..<n { plain[b.next(below: n)] += 1 }
            #expect(Array(UnsafeBufferPointer(start: fast, count: n)) == Array(UnsafeBufferPointer(start: plain, count: n)))
            #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
        }
    }

    /// A many-level feature is coded by a radix sort of its rows: the codes must be each value's
    /// rank among the distinct values (the two zeros alike) and the order (code, row), for
    /// negative, tiny, huge and repeated values; a few-level feature keeps its ranks too.
    @Test("coding: radix-sorted many-level features and few-level ones give each value's rank, rows ordered by (code, row)")
    func coding() {
        var g = SeededGenerator(seed: 12)
        let n = 5000
        let pool: [Double] = [-0.0, 0.0, -1e300, 1e300, -5e-324, 5e-324, -1, 1, 2.5, -2.5, 1e-310]
        var many = (0..<n).map { r -> Double in
            r % 5 == 0 ? pool[g.next(below: pool.count)] : (g.nextUnit() - 0.5) * pow(10, Double(g.next(below: 40)) - 20)
        }
        many[17] = many[4000]  // a repeated value far apart
        let few = (0..<n).map { _ in [-3.0, -0.0, 0.0, 7, 1e-300][g.next(below: 5)] }
        let x = FeatureMatrix(rowCount: n, columnCount: 2, values: many + few)
        let data = PreparedData(x, [Double](repeating: 0, count: n), threads: 2)
        for (f, column) in [many, few].enumerated() {
            let distinct = Array(Set(column.map { $0 + 0.0 })).sorted()
            #expect(data.levelCount(f) == distinct.count)
            for r in 0..<n { #expect(data.codes[f * n + r] == Int32(distinct.firstIndex(of: column[r] + 0.0)!)) }
            #expect((0..<distinct.count).map { data.levelValues[data.levelStart[f] + $0].bitPattern } == distinct.map(\.bitPattern))
        }
        #expect(data.sortedFeatures == [0])
        let expected = (0..<n).sorted { (data.codes[$0], $0) < (data.codes[$1], $1) }.map(Int32.init)
        #expect(Array(UnsafeBufferPointer(start: data.sortedOrder, count: n)) == expected)
    }

    @Test("the kernel's level-1 sums are the 4-lane sums of the plain loop, for every length and feature count")
    func binarySums() {
        var g = SeededGenerator(seed: 3)
        for m in 0..<14 {
            for count in 1..<10 {
                let mask = (0..<m).map { _ in g.next() }
                let w = (0..<m).map { _ in Double(1 + g.next(below: 4)) }
                let wy = w.map { $0 * (g.nextUnit() * 20 - 10) }
                let bitList = (0..<count).map { _ in Int32(g.next(below: 64)) }
                var outW = [Double](repeating: .nan, count: count), outS = outW
                forest_binary_sums(mask, w, wy, m, bitList, Int32(count), &outW, &outS)
                for k in 0..<count {
                    var lw = [0.0, 0, 0, 0], ls = [0.0, 0, 0, 0]
                    var i = 0
                    while i + 4 <= m {
                        for lane in 0..<4 {
                            let c = Double((mask[i + lane] >> UInt64(bitList[k])) & 1)
                            lw[lane] += c * w[i + lane]
                            ls[lane] += c * wy[i + lane]
                        }
                        i += 4
                    }
                    while i < m {
                        let c = Double((mask[i] >> UInt64(bitList[k])) & 1)
                        lw[0] += c * w[i]
                        ls[0] += c * wy[i]
                        i += 1
                    }
                    #expect(outW[k].bitPattern == ((lw[0] + lw[1]) + (lw[2] + lw[3])).bitPattern)
                    #expect(outS[k].bitPattern == ((ls[0] + ls[1]) + (ls[2] + ls[3])).bitPattern)
                }
            }
        }
    }

    @Test("the kernel's presorted scan picks the split the plain in-order scan picks, with its score, ties and leaf limits")
    func sortedScanKernel() {
        var g = SeededGenerator(seed: 12)
        for trial in 0..<3000 {
            let m = trial < 40 ? trial / 2 : 1 + g.next(below: trial % 10 == 0 ? 2000 : 60)
            // Few levels and integer targets in some trials, so equal scores and equal codes happen.
            let levels = 1 + g.next(below: trial % 3 == 0 ? 4 : 40)
            var codes = (0..<m).map { _ in Int32(g.next(below: levels)) }
            codes.sort()
            let w = (0..<m).map { _ in Double(1 + g.next(below: 3)) }
            let y = (0..<m).map { _ in trial % 2 == 0 ? Double(g.next(below: 3)) : g.nextUnit() * 10 - 5 }
            var cw = [Double](), cs = [Double](), wl = 0.0, sl = 0.0
            for i in 0..<m {
                wl += w[i]
                sl += w[i] * y[i]
                cw.append(wl)
                cs.append(sl)
            }
            let total = wl, sum = sl
            let minLeaf = Double(1 + g.next(below: 4))
            let start = [0, 0.5, Double(g.next(below: 50))][trial % 3]
            let equalWins = trial % 4 == 0
            // The plain scan, as TreeBuilder.evaluate's `consider` runs it.
            var best = start, wins = equalWins, bestI = -1
            if m > 1 {
                for i in 0..<(m - 1) where codes[i + 1] != codes[i] {
                    let wL = cw[i], sL = cs[i], wR = total - wL
                    if wL < minLeaf || wR < minLeaf { continue }
                    if TreeBuilder.cannotBeat(best, wL: wL, sL: sL, wR: wR, sR: sum - sL) { continue }
                    let d = sL / wL - (sum - sL) / wR
                    let score = wL * wR * d * d
                    if score > best || (score == best && wins) {
                        best = score
                        wins = false
                        bestI = i
                    }
                }
            }
            var kernelBest = start
            let kernelI = forest_sorted_best(codes, cw, cs, m, total, sum, minLeaf, &kernelBest, equalWins ? 1 : 0)
            #expect(kernelI == bestI && kernelBest.bitPattern == best.bitPattern, "trial \(trial): \(kernelI) vs \(bestI)")
        }
    }

    @Test("a threshold skipped by the division-free bound scores below the best as computed")
    func scoreBound() {
        var g = SeededGenerator(seed: 4)
        var skipped = 0
        for trial in 0..<200_000 {
            let wL = Double(1 + g.next(below: 5000)), wR = Double(1 + g.next(below: 5000))
            let scale = [1e-3, 1, 1e3, 1e8][trial % 4]
            let sL = (g.nextUnit() * 2 - 0.5) * wL * scale
            // Often nearly the same mean on both sides: the cancellation the bound must survive.
            let sR = trial % 3 == 0 ? sL / wL * wR * (1 + (g.nextUnit() - 0.5) * 1e-9) : (g.nextUnit() * 2 - 0.5) * wR * scale
            let d = sL / wL - sR / wR
            let score = wL * wR * d * d
            for best in [score, score.nextUp, score.nextDown, score * (1 + 1e-13), score * (1 - 1e-13), score * 1.5, score / 1.5] {
                if TreeBuilder.cannotBeat(best, wL: wL, sL: sL, wR: wR, sR: sR) {
                    #expect(score < best, "wL \(wL) sL \(sL) wR \(wR) sR \(sR) best \(best)")
                    skipped += 1
                }
            }
        }
        #expect(skipped > 100_000)
    }
}
