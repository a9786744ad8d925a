import Foundation

/// Runs `body` for 0..<count on up to `threads` workers and returns the results in index order.
/// Each index is computed exactly once and independently, so the result never depends on the
/// thread count or on scheduling.
func parallelMap<T: Sendable>(count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
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
final class Slots<T: Sendable>: @unchecked Sendable {
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
