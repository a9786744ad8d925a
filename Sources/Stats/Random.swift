/// The project's one random number generator: xoshiro256** seeded through SplitMix64.
/// Its output for a given seed is fixed by this code (not by the Swift standard library),
/// so artifacts stay identical across toolchains. Parallel tasks derive their own generators
/// with `derived(_:)`, so results never depend on scheduling.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E3779B97F4A7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// A generator for sub-task `index` of the task seeded with `seed`.
    public static func derived(seed: UInt64, index: UInt64) -> SeededGenerator {
        var g = SeededGenerator(seed: seed ^ (0xD1B54A32D192ED03 &* (index &+ 1)))
        _ = g.next()
        return g
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// The generator's four state words (s0...s3) for a kernel that draws in bulk: `body` may
    /// advance them exactly as `next()` would, and the generator continues from what it leaves.
    public mutating func withStateWords<R>(_ body: (UnsafeMutablePointer<UInt64>) throws -> R) rethrows -> R {
        var words = [s0, s1, s2, s3]
        defer { (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3]) }
        return try words.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }

    /// Uniform integer in 0..<bound without modulo bias (Lemire's method).
    @inline(__always)
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform double in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Fisher–Yates shuffle, defined here so the permutation for a seed is stable.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = next(below: i + 1)
            a.swapAt(i, j)
        }
    }
}
