import Scoring
import Tabular
import Uplift

/// A small synthetic contact list in the model's columns, drawn from the training distributions the
/// model records (drift_reference.json), so the simulator can be tried without a file of one's own.
enum SampleList {
    static let rows = 200

    static func csv(_ loaded: LoadedModel) -> String {
        let features = loaded.drift.features
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func unit() -> Double {
            // SplitMix64: a fixed sequence, so the sample is the same on every start.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        func bin(_ shares: [Double]) -> Int {
            let u = unit() * shares.reduce(0, +)
            var sum = 0.0
            for (k, s) in shares.enumerated() {
                sum += s
                if u < sum { return k }
            }
            return max(0, shares.count - 1)
        }
        func field(_ s: String) -> String {
            var bytes: [UInt8] = []
            CSVWriter.appendField(s, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        var out = (["row_id"] + features.map(\.name)).map(field).joined(separator: ",") + "\n"
        for i in 0..<rows {
            var fields = ["sample-\(i + 1)"]
            for f in features {
                let k = bin(f.shares)
                switch f.kind {
                case .numeric:
                    let edges = f.edges ?? []
                    // The bin's upper edge; the last bin (above every edge) one more than the last edge.
                    fields.append(formatDouble(edges.isEmpty ? 0 : (k < edges.count ? edges[k] : edges[edges.count - 1] + 1)))
                case .categorical:
                    fields.append(field(f.categories?[min(k, (f.categories?.count ?? 1) - 1)] ?? ""))
                }
            }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }
}
