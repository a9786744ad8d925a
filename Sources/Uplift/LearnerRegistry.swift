import Foundation

/// Which forests a learner is fitted with.
public enum ForestChoice: String, Sendable {
    /// The notebook's forests (`baseline` in the uplift params): fully grown trees.
    case baseline
    /// Depth-limited forests chosen per outcome by out-of-bag error on the training split
    /// (`tuning` in the uplift params).
    case tuned
}

/// One uplift learner as the pipeline knows it: the key that names it in the params, tables and
/// `meta.json`, its title and description in the report, how it is fitted (`kind`) and with
/// which forests. Adding a learner is adding one descriptor to `LearnerRegistry.all` (and a
/// `LearnerKind` when the way of combining forests is new).
public struct LearnerDescriptor: Sendable, Equatable, Codable, CustomStringConvertible {
    public let key: String
    public let title: String
    /// Where the method comes from, shown after the title ("Künzel et al. 2019").
    public let citation: String?
    public let kind: LearnerKind
    public let forests: ForestChoice
    let explain: @Sendable (LearnerConfig) -> String

    public init(
        key: String, title: String, citation: String? = nil, kind: LearnerKind, forests: ForestChoice,
        explain: @escaping @Sendable (LearnerConfig) -> String
    ) {
        self.key = key
        self.title = title
        self.citation = citation
        self.kind = kind
        self.forests = forests
        self.explain = explain
    }

    /// What the learner does, in a sentence or two for the report, given how it was configured.
    public func explanation(_ config: LearnerConfig) -> String { explain(config) }

    /// The learner's configuration from the stage's forest settings.
    public func config(baseline: ForestSettings, tuned: ForestSettings, folds: Int, nuisance: DRNuisance = .outOfBag) -> LearnerConfig {
        let forest = forests == .baseline ? baseline : tuned
        return LearnerConfig(kind: kind, outcome: forest, effect: forest, folds: folds, nuisance: nuisance)
    }

    public var description: String { key }

    /// Descriptors are named by their key; the registry keeps keys unique.
    public static func == (a: LearnerDescriptor, b: LearnerDescriptor) -> Bool { a.key == b.key }

    /// A learner in a parameter file is its key; an unknown key is an error naming the valid ones.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let key = try container.decode(String.self)
        guard let found = LearnerRegistry.descriptor(key: key) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: LearnerRegistry.unknownKeyMessage(key))
        }
        self = found
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(key)
    }
}

/// Every learner the uplift stage can fit, in the order tables and figures list them when the
/// params list them all.
public enum LearnerRegistry {
    /// The notebook's T-learner: every other learner is compared with it (paired differences).
    public static let baseline = LearnerDescriptor(key: "t_baseline", title: "T-learner (baseline)", kind: .t, forests: .baseline) {
        "the notebook's configuration, two forests (treated, control) of \($0.outcome.label)."
    }

    public static let all: [LearnerDescriptor] = [
        baseline,
        LearnerDescriptor(key: "t_tuned", title: "T-learner (tuned)", kind: .t, forests: .tuned) { _ in
            "the same two-model design with depth-limited forests; depth and leaf size chosen by out-of-bag error on the training split only (table below)."
        },
        LearnerDescriptor(key: "x", title: "X-learner", citation: "Künzel et al. 2019", kind: .x, forests: .tuned) { _ in
            "imputed individual effects (treated outcome minus the control model's prediction, and vice versa) regressed on the features in each arm, blended with the propensity: τ(x) = e·τ₀(x) + (1 − e)·τ₁(x)."
        },
        LearnerDescriptor(key: "dr", title: "DR-learner", citation: "Kennedy 2023", kind: .dr, forests: .tuned) {
            "the doubly robust pseudo-outcome μ₁(x) − μ₀(x) + T(y − μ₁(x))/e − (1 − T)(y − μ₀(x))/(1 − e) with \($0.nuisanceLabel) (no row's μ from a tree fitted on it), regressed on the features."
        },
    ]

    public static var keys: [String] { all.map(\.key) }

    public static func descriptor(key: String) -> LearnerDescriptor? {
        all.first { $0.key == key }
    }

    static func unknownKeyMessage(_ key: String) -> String {
        "unknown learner '\(key)' (valid keys: \(keys.joined(separator: ", ")))"
    }
}
