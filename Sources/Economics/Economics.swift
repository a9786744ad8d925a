import Base
import Foundation
import Tabular

/// The economics of a campaign, in one place for the policy stage, the scorer and the service:
/// what one unit of incremental outcome is worth (`margin`) and what contacting a customer with
/// each treated arm costs. The expected profit of contacting customer i with arm k is
/// `uplift[i][k] × margin − cost[k]`; not contacting earns 0.
public struct CampaignEconomics: Codable, Sendable, Equatable {
    /// Share of the incremental outcome (revenue) that is profit.
    public var margin: Double
    /// Treated arms, in the model's order.
    public var arms: [String]
    /// Cost of one contact with each arm of `arms`.
    public var costs: [Double]

    public init(margin: Double, arms: [String], costs: [Double]) throws {
        guard arms.count == costs.count, !arms.isEmpty else {
            throw EconomicsError("\(arms.count) arms and \(costs.count) costs: every treated arm needs one cost")
        }
        self.margin = margin
        self.arms = arms
        self.costs = costs
        try validate()
    }

    /// A margin is a share of revenue (0…1]; costs are finite and non-negative. Anything else is a
    /// typo or a unit mistake (30 for 30%) that would silently turn every contact profitable or not.
    public func validate() throws {
        // Also for a decoded record, which does not pass through init.
        guard !arms.isEmpty, arms.count == costs.count else {
            throw EconomicsError("\(arms.count) arms and \(costs.count) costs: every treated arm needs one cost")
        }
        guard margin.isFinite, margin > 0, margin <= 1 else {
            throw EconomicsError("margin \(margin) is not a share of revenue in (0, 1]")
        }
        if let k = costs.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw EconomicsError("cost of '\(arms[k])' (\(costs[k])) must be finite and non-negative")
        }
    }

    @inline(__always)
    public func profit(uplift: Double, arm k: Int) -> Double { Self.profit(uplift: uplift, margin: margin, cost: costs[k]) }

    /// The profit rule itself, for callers that hold margin and cost apart (the sensitivity grid).
    @inline(__always)
    public static func profit(uplift: Double, margin: Double, cost: Double) -> Double { uplift * margin - cost }

    /// The arm with the largest expected profit for one customer, given that customer's uplift
    /// per arm; ties go to the lower arm index, so the choice does not depend on noise in the
    /// order arms were listed. The arm is chosen by profit, not uplift, because arms can differ in cost.
    @inline(__always)
    public func bestArm(_ uplift: (Int) -> Double) -> Int {
        firstArgmax(costs.count) { profit(uplift: uplift($0), arm: $0) }
    }
}

/// The index in 0..<n with the largest value, the lowest such index on ties.
@inline(__always)
public func firstArgmax(_ n: Int, _ value: (Int) -> Double) -> Int {
    var best = 0
    var top = value(0)
    for k in 1..<n {
        let v = value(k)
        if v > top { best = k; top = v }
    }
    return best
}

/// The best N of a ranked list: the smallest number of top-ranked customers whose cumulative
/// expected profit is largest (0 when no prefix earns more than nothing). Fed one profit at a
/// time in rank order, so a ranking spilled to disk needs no second copy.
public struct BestN: Sendable, Equatable {
    public private(set) var seen = 0
    public private(set) var cumulative = 0.0
    /// The N so far and its cumulative profit.
    public private(set) var count = 0
    public private(set) var profit = 0.0

    public init() {}

    @inline(__always)
    public mutating func add(_ p: Double) {
        seen += 1
        cumulative += p
        if cumulative > profit { profit = cumulative; count = seen }
    }

    /// The best N of a whole cumulative-profit curve (`curve[m]` = profit of the top m, `curve[0]` = 0).
    public static func argmax(curve: [Double]) -> Int {
        var best = 0
        for m in curve.indices where curve[m] > curve[best] { best = m }
        return best
    }
}

/// Economics that cannot be used: the user's input (exit 2).
public struct EconomicsError: ClassifiedError, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var isBadInput: Bool { true }
}

/// The economics the pipeline decided with, recorded in the model directory by the policy stage
/// (`economics.json`), so the scorer and the service decide exactly as the policy stage did unless
/// they are told otherwise.
public struct RecordedEconomics: Codable, Sendable, Equatable {
    public static let file = "economics.json"
    public static let formatVersion = 1

    public var formatVersion: Int
    public var economics: CampaignEconomics
    /// The scorer's default contact policy (`bestN` or `positive`).
    public var scorerPolicy: String
    /// The policy the policy stage recommended (it may need a solver the scorer does not run).
    public var recommendedPolicy: String
    /// The outcome whose incremental value the margin applies to.
    public var outcome: String

    enum CodingKeys: String, CodingKey {
        case economics, outcome
        case formatVersion = "format_version"
        case scorerPolicy = "scorer_policy"
        case recommendedPolicy = "recommended_policy"
    }

    public init(economics: CampaignEconomics, scorerPolicy: String, recommendedPolicy: String, outcome: String) {
        self.formatVersion = Self.formatVersion
        self.economics = economics
        self.scorerPolicy = scorerPolicy
        self.recommendedPolicy = recommendedPolicy
        self.outcome = outcome
    }

    /// Deterministic bytes (sorted keys, shortest round-trip numbers).
    public func jsonBytes() -> [UInt8] {
        let value: JSONValue = .object([
            "format_version": .number(Double(formatVersion)),
            "economics": .object([
                "margin": .number(economics.margin),
                "arms": .array(economics.arms.map { .string($0) }),
                "costs": .array(economics.costs.map { .number($0) }),
            ]),
            "scorer_policy": .string(scorerPolicy),
            "recommended_policy": .string(recommendedPolicy),
            "outcome": .string(outcome),
        ])
        return Array((value.rendered() + "\n").utf8)
    }

    /// Reads and checks `economics.json`; nil when the directory has none.
    public static func load(directory: String) throws -> RecordedEconomics? {
        let path = directory + "/" + file
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw EconomicsError("\(path): cannot read file") }
        let recorded: RecordedEconomics
        do {
            recorded = try JSONDecoder().decode(RecordedEconomics.self, from: data)
        } catch {
            throw EconomicsError("\(path): not a valid economics record (\(error))")
        }
        guard recorded.formatVersion == formatVersion else {
            throw EconomicsError("\(path): economics format version \(recorded.formatVersion), this program reads version \(formatVersion)")
        }
        do { try recorded.economics.validate() } catch let e as EconomicsError { throw EconomicsError("\(path): \(e.description)") }
        return recorded
    }
}
