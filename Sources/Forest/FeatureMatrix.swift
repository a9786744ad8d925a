/// A dense numeric design matrix, stored column-major because training scans one feature at a time.
public struct FeatureMatrix: Sendable, Equatable {
    public let rowCount: Int
    public let columnCount: Int
    /// Column-major: `values[c * rowCount + r]`.
    public var values: [Double]

    public init(rowCount: Int, columnCount: Int, values: [Double]) {
        precondition(rowCount >= 0 && columnCount >= 0, "FeatureMatrix: negative dimensions")
        precondition(
            values.count == rowCount * columnCount,
            "FeatureMatrix: \(values.count) values for \(rowCount) rows × \(columnCount) columns")
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.values = values
    }

    public subscript(row: Int, column: Int) -> Double {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columnCount, "FeatureMatrix: index out of range")
        return values[column * rowCount + row]
    }

    /// A new matrix holding the selected rows, in the order given (repeats allowed).
    public func rows(_ indices: [Int]) -> FeatureMatrix {
        let m = indices.count
        for r in indices { precondition(r >= 0 && r < rowCount, "FeatureMatrix.rows: row \(r) out of range 0..<\(rowCount)") }
        let out = [Double](unsafeUninitializedCapacity: m * columnCount) { buffer, initialized in
            values.withUnsafeBufferPointer { src in
                indices.withUnsafeBufferPointer { idx in
                    for c in 0..<columnCount {
                        let from = c * rowCount, to = c * m
                        for i in 0..<m { buffer[to + i] = src[from + idx[i]] }
                    }
                }
            }
            initialized = m * columnCount
        }
        return FeatureMatrix(rowCount: m, columnCount: columnCount, values: out)
    }
}
