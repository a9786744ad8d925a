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
    public static func replicates<T: Sendable>(_ count: Int, rows n: Int, seed: UInt64, threads: Int,
                                               _ statistic: @Sendable ([Double]) -> T) -> [T] {
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

/// Runs `body` for 0..<count on up to `threads` workers and returns the results in index order.
/// Each index is computed exactly once and independently, so the result never depends on the
/// thread count or on scheduling.
public func parallelMap<T: Sendable>(count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(count: count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        var i = worker
        while i < count {
            slots.set(i, body(i))
            i += workers
        }
    }
    return slots.values
}

/// Per-index result slots written from concurrent workers, each slot by exactly one worker.
private final class Slots<T: Sendable>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) {
        lock.lock()
        storage[i] = value
        lock.unlock()
    }
    var values: [T] { storage.map { $0! } }
}

/// Work started on a background thread now and joined later with `value()`, which returns its result or
/// rethrows its error. For independent parts of a stage (its result does not depend on when it runs).
public final class BackgroundWork<T>: @unchecked Sendable {
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping () throws -> T) {
        let run = UncheckedClosure(body: body)
        DispatchQueue.global().async {
            let r = Result { try run.body() }
            self.result = r
            self.done.signal()
        }
    }

    /// Waits for the work to finish; every call returns the same result.
    public func value() throws -> T {
        done.wait()
        defer { done.signal() }
        return try result!.get()
    }
}

private struct UncheckedClosure<T>: @unchecked Sendable {
    let body: () throws -> T
}
