import Foundation

/// The synthetic data sets' parameters: one seed, the campaign and the order log.
public struct SyntheticParams: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var campaign: SyntheticCampaign.Spec
    public var orders: SyntheticOrderLog.Spec
}
