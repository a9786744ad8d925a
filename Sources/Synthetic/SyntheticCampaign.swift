import Foundation
import Stats
import Tabular

/// A randomized campaign with known effects, for checking that the pipeline recovers them on a
/// schema that is not the one it was built around: string customer keys, three arms with an
/// unequal design, other feature and outcome names.
///
/// Every customer's expected revenue under each arm is known, so the true per-arm uplift is
/// written beside the data (`campaign_truth.csv`) and a model's scores can be correlated with it.
public struct SyntheticCampaign: Sendable {
    public struct Arm: Codable, Sendable, Equatable {
        public var name: String
        public var share: Double
        public init(name: String, share: Double) {
            self.name = name
            self.share = share
        }
    }

    public struct Spec: Codable, Sendable, Equatable {
        public var customers: Int
        /// The control arm first; customers are assigned exactly these shares (rounded), in a seeded random order.
        public var arms: [Arm]
        public init(customers: Int, arms: [Arm]) {
            self.customers = customers
            self.arms = arms
        }
    }

    public static let header = [
        "customer_key", "age", "tenure_months", "region", "device", "past_purchases", "basket_value", "offer_group", "clicked", "purchased", "revenue",
    ]
    static let regions = ["north", "south", "east", "west"]
    static let devices = ["mobile", "desktop", "tablet"]

    /// The customer's features.
    struct Customer {
        var age: Int
        var tenure: Int
        var region: Int
        var device: Int
        var pastPurchases: Int
        var basketValue: Double
    }

    /// Probability of a purchase without any offer.
    static func basePurchase(_ c: Customer) -> Double {
        let z = -2.6 + 0.12 * Double(min(c.pastPurchases, 10)) + (c.device == 1 ? 0.35 : 0) - 0.01 * Double(c.age - 40)
        return 1 / (1 + exp(-z))
    }

    /// The offer's effect on the purchase probability, by arm index (1, 2, ...; 0 is the control).
    /// Arm 1 (a discount) works on new customers; arm 2 (free shipping) on far-away regions and
    /// on mobile shoppers. Further arms repeat the pattern at half strength.
    static func purchaseEffect(_ c: Customer, arm: Int) -> Double {
        guard arm > 0 else { return 0 }
        let strength = arm <= 2 ? 1.0 : 0.5
        if arm % 2 == 1 {
            return strength * (0.02 + (c.tenure < 12 ? 0.14 : 0) + (c.tenure < 36 ? 0.04 : 0))
        }
        return strength * (0.01 + (c.region >= 2 ? 0.10 : 0) + (c.device == 0 ? 0.05 : 0))
    }

    /// Mean basket of a purchase under an arm: a discount lowers it by 10%.
    static func basketMean(_ c: Customer, arm: Int) -> Double {
        arm % 2 == 1 ? 0.9 * c.basketValue : c.basketValue
    }

    /// Shape of the gamma-distributed basket around its mean.
    static let basketShape = 4.0

    static func expectedRevenue(_ c: Customer, arm: Int) -> Double {
        min(1, basePurchase(c) + purchaseEffect(c, arm: arm)) * basketMean(c, arm: arm)
    }

    /// The campaign file (comma-separated, one row per customer) and the truth file (the
    /// customer key and the true revenue uplift of each treated arm over the control).
    public static func generate(_ spec: Spec, seed: UInt64) throws -> (campaign: [UInt8], truth: [UInt8]) {
        guard spec.customers >= 100 else { throw SyntheticError("campaign.customers must be at least 100") }
        guard spec.arms.count >= 2 else { throw SyntheticError("campaign.arms needs a control and at least one treated arm") }
        let total = spec.arms.map(\.share).reduce(0, +)
        guard spec.arms.allSatisfy({ $0.share > 0 }), abs(total - 1) < 1e-9 else {
            throw SyntheticError("campaign.arms' shares must be positive and sum to 1 (they sum to \(total))")
        }

        // Exact arm counts, assigned in a seeded random order.
        var counts = spec.arms.map { Int(($0.share * Double(spec.customers)).rounded(.down)) }
        counts[0] += spec.customers - counts.reduce(0, +)
        var assignment: [Int] = []
        for (k, n) in counts.enumerated() { assignment += Array(repeating: k, count: n) }
        var order = Sampler(SeededGenerator.derived(seed: seed, index: 1))
        order.generator.shuffle(&assignment)
        // Keys are a shuffled range, so they carry no information about the row order.
        var keys = Array(100_000..<(100_000 + spec.customers))
        order.generator.shuffle(&keys)

        var s = Sampler(SeededGenerator.derived(seed: seed, index: 2))
        var campaign = CSVWriter(header: header)
        var truth = CSVWriter(header: ["customer_key"] + spec.arms.dropFirst().map { "true_uplift_\($0.name)" })
        for i in 0..<spec.customers {
            let c = Customer(
                age: 18 + min(62, Int(s.gamma(4, rate: 0.17))),
                tenure: min(120, Int(s.exponential(rate: 1.0 / 30))),
                region: s.categorical([0.35, 0.30, 0.20, 0.15]),
                device: s.categorical([0.55, 0.35, 0.10]),
                pastPurchases: s.poisson(2.5),
                basketValue: (40 + s.gamma(3, rate: 0.05)).rounded(toPlaces: 2))
            let arm = assignment[i]
            let pBuy = min(1, basePurchase(c) + purchaseEffect(c, arm: arm))
            let purchased = s.bernoulli(pBuy)
            let revenue = purchased ? s.gamma(basketShape, rate: basketShape / basketMean(c, arm: arm)).rounded(toPlaces: 2) : 0
            // Clicks follow the offer too, but say nothing about the revenue effect.
            let clicked = purchased || s.bernoulli(arm == 0 ? 0.05 : 0.12)
            let key = "CU-\(keys[i])"
            campaign.writeRow([
                key, String(c.age), String(c.tenure), regions[c.region], devices[c.device], String(c.pastPurchases), format(c.basketValue),
                spec.arms[arm].name, clicked ? "1" : "0", purchased ? "1" : "0", format(revenue),
            ])
            let base = expectedRevenue(c, arm: 0)
            truth.writeRow([key] + (1..<spec.arms.count).map { formatDouble(expectedRevenue(c, arm: $0) - base) })
        }
        return (campaign.bytes, truth.bytes)
    }

    static func format(_ money: Double) -> String { String(format: "%.2f", money) }
}

public struct SyntheticError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
