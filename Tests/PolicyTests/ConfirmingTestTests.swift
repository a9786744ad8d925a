import Policy
import Testing

@Suite("Confirming experiment: salted-hash assignment and sample sizes")
struct ConfirmingTestTests {
    let shares: [(group: String, share: Double)] = [("policy", 0.5), ("alternative", 0.3), ("holdout", 0.2)]

    @Test("an id's position is SHA-256(salt, 0x1F, id)'s first 8 bytes, top 53 bits (values from Python's hashlib)")
    func referenceUnits() throws {
        // python3: d = hashlib.sha256(salt.encode() + b'\x1f' + id.encode()).digest();
        //          (int.from_bytes(d[:8], 'big') >> 11) / 2**53
        let a = try HashAssignment(salt: "confirm-2026-12", shares: shares)
        #expect(a.unit("CU-000123") == 0.7995657101636486)
        #expect(a.unit("6880") == 0.017316930746216652)
        #expect(try HashAssignment(salt: "x", shares: shares).unit("") == 0.5318522658959076)
        // Groups: policy [0, 0.5), alternative [0.5, 0.8), holdout [0.8, 1).
        #expect(a.group("CU-000123") == 1 && a.group("6880") == 0)
    }

    @Test("the same ids get the same groups for any row order, in a new instance, and when the list grows")
    func stable() throws {
        let ids = (0..<5000).map { "CU-\($0)" }
        let a = try HashAssignment(salt: "s1", shares: shares)
        let first = Dictionary(uniqueKeysWithValues: ids.map { ($0, a.group($0)) })
        var rng = SystemRandomNumberGenerator()
        let shuffled = ids.shuffled(using: &rng) + (5000..<6000).map { "CU-\($0)" }
        let b = try HashAssignment(salt: "s1", shares: shares)
        for id in shuffled where first[id] != nil { #expect(b.group(id) == first[id]) }
        // Another salt gives another split.
        let c = try HashAssignment(salt: "s2", shares: shares)
        #expect(ids.filter { c.group($0) != first[$0] }.count > 1000)
    }

    @Test("group sizes follow the shares (within 5 binomial standard deviations on 200,000 ids)")
    func sharesRespected() throws {
        let n = 200_000
        let a = try HashAssignment(salt: "sizes", shares: shares)
        var counts = [0, 0, 0]
        for i in 0..<n { counts[a.group("id-\(i)")] += 1 }
        for (k, s) in shares.enumerated() {
            let expected = Double(n) * s.share
            let sd = (Double(n) * s.share * (1 - s.share)).squareRoot()
            #expect(abs(Double(counts[k]) - expected) < 5 * sd, "\(s.group): \(counts[k]) vs \(expected)")
        }
    }

    @Test("bad groups are refused with a message")
    func errors() {
        func message(_ salt: String, _ s: [(group: String, share: Double)]) -> String? {
            do {
                _ = try HashAssignment(salt: salt, shares: s)
                return nil
            } catch { return error.description }
        }
        #expect(message("", shares)?.contains("salt is empty") == true)
        #expect(message("s", [("a", 1.0)])?.contains("at least two groups") == true)
        #expect(message("s", [("a", 0.5), ("a", 0.5)])?.contains("listed twice") == true)
        #expect(message("s", [("a", 0.5), ("b", 0.6)])?.contains("sum to 1.1, not 1") == true)
        #expect(message("s", [("a", 0), ("b", 1)])?.contains("above 0 and below 1") == true)
    }

    @Test("sample sizes: the z-test formula with each group's own variance (values from Python's NormalDist)")
    func sampleSizes() throws {
        // (z.975 + z.8)² · (sd1² + sd2² / ratio) / Δ²: 62.791037874792686 for d = 0.5 (statsmodels'
        // NormalIndPower gives 62.79 too), 3527.2127731469764 and, with three times as many in the
        // second group, 1878.6209922780702 (and 3 × that).
        let equal = try #require(ConfirmingTestSize.perGroup(difference: 1, sd1: 2, sd2: 2))
        #expect(equal.first == 63 && equal.second == 63)
        let unequal = try #require(ConfirmingTestSize.perGroup(difference: 1, sd1: 11.59, sd2: 17.75))
        #expect(unequal.first == 3528 && unequal.second == 3528)
        let ratio = try #require(ConfirmingTestSize.perGroup(difference: -1, sd1: 11.59, sd2: 17.75, ratio: 3))
        #expect(ratio.first == 1879 && ratio.second == 5636)
        #expect(ConfirmingTestSize.perGroup(difference: 0, sd1: 1, sd2: 1) == nil)
        #expect(ConfirmingTestSize.perGroup(difference: .nan, sd1: 1, sd2: 1) == nil)
    }
}
