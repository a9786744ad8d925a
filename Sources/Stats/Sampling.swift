import Foundation

/// Draws from the distributions the synthetic data sets and the simulation tests need, on the
/// project's seeded generator, so a seed gives the same data on every machine and toolchain.
public struct Sampler: Sendable {
    public var generator: SeededGenerator

    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    public init(_ generator: SeededGenerator) { self.generator = generator }

    /// Uniform on (0, 1): never exactly 0, so its logarithm is finite.
    public mutating func uniform() -> Double { max(generator.nextUnit(), 1e-300) }

    /// Standard normal (Box–Muller, one value per pair of uniforms).
    public mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }

    /// Exponential with the given rate.
    public mutating func exponential(rate: Double) -> Double { -log(uniform()) / rate }

    /// Gamma(shape, rate) by Marsaglia & Tsang (2000), with the shape < 1 boost.
    public mutating func gamma(_ shape: Double, rate: Double) -> Double {
        if shape < 1 { return gamma(shape + 1, rate: rate) * pow(uniform(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform()
            if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v / rate }
        }
    }

    /// Beta(a, b) as a ratio of gammas.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let u = gamma(a, rate: 1), v = gamma(b, rate: 1)
        return u / (u + v)
    }

    /// Poisson by counting exponential arrivals in unit time (for the small means used here).
    public mutating func poisson(_ mean: Double) -> Int {
        var t = 0.0, k = 0
        while true {
            t += exponential(rate: mean)
            if t > 1 { return k }
            k += 1
        }
    }

    /// True with probability p.
    public mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    /// An index drawn with the given weights (they need not sum to 1).
    public mutating func categorical(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var u = uniform() * total
        for (k, w) in weights.enumerated() {
            u -= w
            if u < 0 { return k }
        }
        return weights.count - 1
    }
}
