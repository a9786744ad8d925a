import Foundation

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
