import Economics
import Foundation
import Tabular
import Uplift

/// A model directory read once: what a long-running caller (the service) keeps between runs, so
/// each request scores with the same read-only model instead of loading it again.
public struct LoadedModel: Sendable {
    public let directory: String
    public let model: UpliftModel
    public let meta: ModelMeta
    public let drift: DriftReference
    public let recorded: RecordedEconomics?
    /// SHA-256 of meta.json and of forests.bin together: what a client compares to know it is
    /// talking to the model it expects.
    public let checksum: String

    public init(directory: String) throws {
        self.directory = directory
        (model, meta) = try UpliftModel.load(from: directory)
        drift = try UpliftModel.decodeJSON(DriftReference.self, path: directory + "/" + DriftReference.file)
        recorded = try RecordedEconomics.load(directory: directory)
        checksum = meta.forestsSHA256
    }
}

extension Scorer {
    /// The scorer of an already loaded model with the caller's overrides; the same resolution as
    /// `init(modelDirectory:economics:idColumn:)`, without reading the directory again.
    public init(loaded: LoadedModel, economics override: EconomicsOverride = .none, idColumn: String?) throws {
        model = loaded.model
        meta = loaded.meta
        drift = loaded.drift
        recorded = loaded.recorded
        let arms = model.outputs.arms.isEmpty ? ["any"] : model.outputs.arms.map(\.arm)
        economics = try Self.resolve(recorded: recorded, override: override, arms: arms, directory: loaded.directory)
        if let p = override.policy {
            policy = p
        } else if let name = recorded?.scorerPolicy {
            guard let p = ContactPolicy(rawValue: name) else {
                throw EconomicsError("\(loaded.directory)/\(RecordedEconomics.file): unknown scorer policy '\(name)'")
            }
            policy = p
        } else {
            policy = .bestN
        }
        self.idColumn = idColumn
    }
}

/// The profit of contacting the top n of a ranked list, for every n, sampled for a chart.
public enum ProfitCurve {
    public struct Point: Sendable, Equatable {
        public var contacts: Int
        public var profit: Double
    }

    /// The order in which the ranking policies contact rows: uplift_hat descending, ties by input
    /// position (RankedSpill's order).
    public static func rankOrder(uplift: [Double]) -> [Int] {
        Array(uplift.indices).sorted { uplift[$0] > uplift[$1] || (uplift[$0] == uplift[$1] && $0 < $1) }
    }

    /// Cumulative profit at up to `maxPoints` evenly spaced contact counts from 0 to all rows
    /// (both ends always present); `profits` are per row in rank order.
    public static func sampled(profitsInRankOrder profits: [Double], maxPoints: Int = 200) -> [Point] {
        let n = profits.count
        let count = min(n + 1, max(2, maxPoints))
        var targets: [Int] = (0..<count).map { count == 1 ? 0 : Int((Double($0) * Double(n) / Double(count - 1)).rounded()) }
        targets[targets.count - 1] = n
        var points: [Point] = []
        points.reserveCapacity(count)
        var cumulative = 0.0, next = 0
        for i in 0...n {
            while next < targets.count && targets[next] == i {
                points.append(Point(contacts: i, profit: cumulative))
                next += 1
            }
            if i < n { cumulative += profits[i] }
        }
        return points
    }
}
