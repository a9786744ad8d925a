/// The campaign's own words, which every report sentence about the campaign uses: what a treated
/// customer receives ("e-mail", "offer") and what each outcome is called. They come from the
/// campaign spec (prepare's dataset.json, or the model's meta.json), never from the code.
public struct CampaignWords: Sendable, Equatable {
    public var noun: String
    public var nounPlural: String
    /// Outcome column name → label; an outcome not listed is called by its name.
    public var outcomeLabels: [String: String]

    public init(noun: String = "treatment", nounPlural: String? = nil, outcomeLabels: [String: String] = [:]) {
        self.noun = noun
        self.nounPlural = nounPlural ?? noun + "s"
        self.outcomeLabels = outcomeLabels
    }

    public func label(_ outcome: String) -> String { outcomeLabels[outcome] ?? outcome }

    /// The text with its first letter upper-cased, to open a sentence or a heading.
    public static func capitalized(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }

    /// "a", "b and c", "a, b and c".
    public static func list(_ items: [String]) -> String {
        items.count <= 2 ? items.joined(separator: " and ") : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }
}
