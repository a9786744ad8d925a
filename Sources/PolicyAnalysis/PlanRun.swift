import Base
import Foundation
import Policy
import Reporting
import Stats
import Tabular

/// The confirming experiment's parameters: how a contact list is split between the recommended
/// policy and the best alternative.
public struct PlanParams: Codable, Sendable, Equatable {
    /// A new salt per experiment makes its split independent of earlier ones.
    public var salt: String
    /// Share of the list that gets the recommended policy; the rest gets the alternative.
    public var recommendedShare: Double
    /// The list's id column; absent: the model's id column.
    public var idColumn: String?

    enum CodingKeys: String, CodingKey {
        case salt
        case recommendedShare = "recommended_share"
        case idColumn = "id_column"
    }
}

/// What the policy stage recorded about the confirming experiment (`policy_summary.json`).
public struct RecordedPlan: Sendable, Equatable {
    public var recommended: String
    public var recommendedName: String
    public var alternative: String
    public var alternativeName: String
    public var differencePerCustomer: Double
    public var sdRecommended: Double
    public var sdAlternative: Double
    public var alpha: Double
    public var power: Double
    public var minimumDifference: Double

    public init(summary: JSONValue, source: String) throws {
        guard case .object(let o) = summary, case .object(let t)? = o["confirming_test"] else {
            throw DataError(file: source, message: "no confirming_test object; re-run the policy stage")
        }
        func string(_ k: String) throws -> String {
            guard case .string(let v)? = t[k] else { throw DataError(file: source, message: "confirming_test.\(k) is missing or not text") }
            return v
        }
        func number(_ k: String) throws -> Double {
            guard case .number(let v)? = t[k] else { throw DataError(file: source, message: "confirming_test.\(k) is missing or not a number") }
            return v
        }
        recommended = try string("recommended")
        recommendedName = try string("recommended_name")
        alternative = try string("alternative")
        alternativeName = try string("alternative_name")
        differencePerCustomer = try number("difference_per_customer")
        sdRecommended = try number("sd_recommended")
        sdAlternative = try number("sd_alternative")
        alpha = try number("alpha")
        power = try number("power")
        minimumDifference = try number("minimum_difference")
    }
}

public struct PlanResult: Sendable {
    public var recorded: RecordedPlan
    public var params: PlanParams
    public var idColumn: String
    public var listSource: String
    public var ids: [String]
    /// 0: recommended, 1: alternative, per id.
    public var group: [Int]
    public var counts: [Int]
    /// Customers needed in each group to detect the estimated and the user's difference with this split.
    public var neededAtEstimate: (first: Int, second: Int)?
    public var neededAtMinimum: (first: Int, second: Int)?
}

public enum PlanAnalysis {
    /// Assigns every id of `list` to a group by its salted hash (see `HashAssignment`).
    public static func run(_ p: PlanParams, paramsSource: String, recorded: RecordedPlan, list: Table, idColumn: String) throws -> PlanResult {
        guard p.recommendedShare > 0 && p.recommendedShare < 1 else {
            throw DataError(file: paramsSource, message: "recommended_share must lie strictly between 0 and 1 (got \(formatDouble(p.recommendedShare)))")
        }
        let hash: HashAssignment
        do {
            hash = try HashAssignment(
                salt: p.salt, shares: [(recorded.recommended, p.recommendedShare), (recorded.alternative + " ", 1 - p.recommendedShare)])
        } catch {
            throw DataError(file: paramsSource, message: error.description)
        }
        let ids = try list.strings(idColumn).values
        var seen: [String: Int] = [:]
        for (i, id) in ids.enumerated() {
            if id.isEmpty { throw DataError(file: list.source, line: i + 2, columnName: idColumn, message: "empty id") }
            if let first = seen.updateValue(i, forKey: id) {
                throw DataError(
                    file: list.source, line: i + 2, columnName: idColumn, message: "duplicate id \(DataError.quoted(id)), first on line \(first + 2)")
            }
        }
        let group = ids.map(hash.group)
        let counts = [group.filter { $0 == 0 }.count, group.filter { $0 == 1 }.count]
        let ratio = (1 - p.recommendedShare) / p.recommendedShare
        func needed(_ d: Double) -> (Int, Int)? {
            ConfirmingTestSize.perGroup(
                difference: d, sd1: recorded.sdRecommended, sd2: recorded.sdAlternative, ratio: ratio, alpha: recorded.alpha, power: recorded.power)
        }
        return PlanResult(
            recorded: recorded, params: p, idColumn: idColumn, listSource: list.source, ids: ids, group: group, counts: counts,
            neededAtEstimate: needed(recorded.differencePerCustomer), neededAtMinimum: needed(recorded.minimumDifference))
    }

    /// `id,group,policy`: the list's ids in its order, each with its group's policy key and name.
    public static func assignmentFile(_ r: PlanResult) -> [UInt8] {
        var w = CSVWriter(header: [r.idColumn, "group", "policy"])
        let keys = [r.recorded.recommended, r.recorded.alternative], names = [r.recorded.recommendedName, r.recorded.alternativeName]
        for (i, id) in r.ids.enumerated() { w.writeRow([id, keys[r.group[i]], names[r.group[i]]]) }
        return w.bytes
    }

    public static func report(_ r: PlanResult, assignmentPath: String, policyReport: String) -> String {
        var md = Markdown()
        let rec = r.recorded
        let pct = "\(Int((rec.power * 100).rounded()))%"
        md.heading(1, "How to confirm this: the confirming experiment")
        md.paragraph(
            """
            The policy stage ([report](\(policyReport))) recommends **\(rec.recommendedName)**; the best alternative is \
            **\(rec.alternativeName)**. This plan splits the contact list `\(r.listSource)` (\(Fmt.int(r.ids.count)) customers, ids in \
            column `\(r.idColumn)`) between the two: \(Fmt.int(r.counts[0])) to the recommendation and \(Fmt.int(r.counts[1])) to the \
            alternative (target shares \(Fmt.percent(r.params.recommendedShare, 0)) / \(Fmt.percent(1 - r.params.recommendedShare, 0))). \
            Apply each group's policy (`\(assignmentPath)`: id, group, policy), record each customer's \
            outcome, and compare the mean profit per customer (margin × outcome − contact cost) between the groups with a two-sided \
            test at α = \(formatDouble(rec.alpha)).
            """)
        func needed(_ n: (first: Int, second: Int)?) -> String {
            guard let n else { return "no finite number (the difference is zero)" }
            return "\(Fmt.int(n.first)) + \(Fmt.int(n.second)) customers"
        }
        let enough = { (n: (first: Int, second: Int)?) -> String in
            guard let n else { return "" }
            return r.counts[0] >= n.first && r.counts[1] >= n.second ? " — this list is large enough" : " — this list is too small"
        }
        md.table(
            ["difference in profit per customer to detect", "customers needed (recommended + alternative) for \(pct) power", "this list"],
            [
                [
                    "\(Fmt.significant(rec.differencePerCustomer, 2)) (the held-out estimate)", needed(r.neededAtEstimate),
                    "\(Fmt.int(r.counts[0])) + \(Fmt.int(r.counts[1]))\(enough(r.neededAtEstimate))",
                ],
                [
                    "\(formatDouble(rec.minimumDifference)) (`confirming_test.minimum_difference`)", needed(r.neededAtMinimum),
                    "\(Fmt.int(r.counts[0])) + \(Fmt.int(r.counts[1]))\(enough(r.neededAtMinimum))",
                ],
            ], rightAligned: [false, true, true])
        md.paragraph(
            """
            Sample sizes: n₁ = (z₁₋α/₂ + z_power)² (sd₁² + sd₂²/k) / difference², n₂ = k·n₁ with k the alternative's size relative \
            to the recommendation's, and standard deviations of profit per customer \(Fmt.significant(rec.sdRecommended, 2)) \
            (recommended) and \(Fmt.significant(rec.sdAlternative, 2)) (alternative) from the randomized rows.
            """)
        md.heading(2, "The assignment")
        md.paragraph(
            """
            Each id's group is a function of the salt (`\(r.params.salt)`) and the id alone: SHA-256 of the salt's UTF-8 bytes, the \
            byte 0x1F and the id's UTF-8 bytes; the first 8 bytes, big-endian, give u = ⌊x / 2¹¹⌋ / 2⁵³ in [0, 1); ids with \
            u < \(formatDouble(r.params.recommendedShare)) get the recommendation. The same id lands in the same group on every \
            run and machine, whatever the order of the list, and a customer keeps their group when the list grows. Give every \
            new experiment a new salt (`stages/plan/params.yaml`), so its split does not repeat an earlier one. In Python: \
            `int.from_bytes(hashlib.sha256(salt.encode() + b"\\x1f" + id.encode()).digest()[:8], "big") >> 11` divided by 2**53.
            """)
        return md.text
    }
}
