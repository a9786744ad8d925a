import Base
import Stats
import Tabular

/// A mistake in the groups of a confirming experiment.
public struct HashAssignmentError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Deterministic assignment of customers to the groups of a confirming experiment by a salted hash
/// of their id. The group of an id depends only on the salt, the id and the groups' shares: never on
/// the row order, the other ids, the machine or the run, so the same contact list split again
/// gives the same groups, and a customer keeps their group when the list grows.
///
/// The hash is SHA-256 of the salt's UTF-8 bytes, the unit separator 0x1F and the id's UTF-8 bytes;
/// its first 8 bytes, read big-endian, keep their top 53 bits as a number u in [0, 1) (every value a
/// multiple of 2⁻⁵³, uniform for all practical purposes). Group k takes the ids whose u lies in
/// [s₁ + … + s_{k−1}, s₁ + … + s_k), the last group everything from its lower bound up. A new salt per
/// experiment makes its split independent of earlier ones.
public struct HashAssignment: Sendable {
    public let salt: String
    public let groups: [String]
    public let shares: [Double]
    /// Upper bound of each group's interval but the last (whose bound is 1).
    let bounds: [Double]

    public init(salt: String, shares: [(group: String, share: Double)]) throws(HashAssignmentError) {
        guard !salt.isEmpty else { throw HashAssignmentError(description: "the salt is empty; give each experiment its own salt") }
        guard shares.count >= 2 else { throw HashAssignmentError(description: "a confirming experiment needs at least two groups") }
        var seen = Set<String>()
        for (group, share) in shares {
            guard !group.isEmpty else { throw HashAssignmentError(description: "a group has an empty name") }
            guard seen.insert(group).inserted else { throw HashAssignmentError(description: "group '\(group)' is listed twice") }
            guard share > 0 && share < 1 else {
                throw HashAssignmentError(description: "group '\(group)' has share \(share); each share must be above 0 and below 1")
            }
        }
        let sum = shares.reduce(0.0) { $0 + $1.share }
        guard abs(sum - 1) <= 1e-9 * Double(shares.count) else {
            throw HashAssignmentError(description: "the groups' shares sum to \(formatDouble(sum)), not 1")
        }
        self.salt = salt
        groups = shares.map(\.group)
        self.shares = shares.map(\.share)
        var cumulative = 0.0, upper: [Double] = []
        for (_, share) in shares.dropLast() {
            cumulative += share
            upper.append(cumulative)
        }
        bounds = upper
    }

    /// The id's position u in [0, 1).
    public func unit(_ id: String) -> Double {
        var h = SHA256()
        h.update(Array(salt.utf8) + [0x1F] + Array(id.utf8))
        let digest = h.finalize()
        var x: UInt64 = 0
        for b in digest[0..<8] { x = x << 8 | UInt64(b) }
        return Double(x >> 11) * 0x1p-53
    }

    /// The index in `groups` of the id's group.
    public func group(_ id: String) -> Int {
        let u = unit(id)
        return bounds.firstIndex { u < $0 } ?? bounds.count
    }
}

/// Sample sizes of a confirming experiment that compares the mean profit per customer of two groups.
public enum ConfirmingTestSize {
    /// Customers per group for a two-sided z-test at level `alpha` to detect a difference
    /// `difference` in the mean profit per customer with probability `power`, when profit per
    /// customer has standard deviation `sd1` in the first group and `sd2` in the second, and the
    /// second group has `ratio` times the first one's customers:
    /// n₁ = (z₁₋α/₂ + z_power)² (sd1² + sd2² / ratio) / difference², n₂ = ratio · n₁, both rounded up.
    /// Nil when the difference is zero or not finite, or a standard deviation is not finite.
    public static func perGroup(
        difference: Double, sd1: Double, sd2: Double, ratio: Double = 1, alpha: Double = 0.05, power: Double = 0.8
    ) -> (first: Int, second: Int)? {
        guard difference.isFinite, difference != 0, sd1.isFinite, sd2.isFinite, sd1 >= 0, sd2 >= 0, ratio > 0,
            alpha > 0, alpha < 1, power > 0, power < 1
        else { return nil }
        let z = Normal.quantile(1 - alpha / 2) + Normal.quantile(power)
        let n1 = z * z * (sd1 * sd1 + sd2 * sd2 / ratio) / (difference * difference)
        guard n1.isFinite, n1 < Double(Int.max / 4) else { return nil }
        return (Int(n1.rounded(.up)), Int((ratio * n1).rounded(.up)))
    }
}
