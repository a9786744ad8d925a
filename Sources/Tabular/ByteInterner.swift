// Dictionary coding of string fields.

import CCSVKernel
import Foundation

/// Dictionary-encodes byte strings without creating a `String` per field: an open-addressing
/// hash table over the distinct values' bytes (layout, hash and lookup in `CCSVKernel`, shared with
/// the C loop that codes a block's rows). Levels become `String`s once, in `makeStrings()`.
struct ByteInterner {
    /// Distinct values so far (codes 0..<count, in order of first appearance).
    private(set) var count = 0
    private var store: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Two words per slot (see `csv_dict_find`).
    private var slots = [UInt64](repeating: 0, count: 2 * 64)
    /// False once levels were added without a slot (the last chunk's, joined): no more lookups then.
    private var complete = true

    /// The levels made into strings so far (the first `strings.count` codes): see `makeStrings()`.
    private(set) var strings: [String] = []

    /// Makes the levels not yet made into strings (their bytes were validated as UTF-8 when added).
    /// A chunk makes its own at its end, on its own core; joining chunks reuses them.
    mutating func makeStrings() {
        guard strings.count < count else { return }
        strings.reserveCapacity(count)
        store.withUnsafeBufferPointer { bytes in
            for code in strings.count..<count {
                strings.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[offsets[code]..<offsets[code + 1]]), as: UTF8.self))
            }
        }
    }

    /// The levels as strings, in code order.
    mutating func makeLevels() -> [String] {
        makeStrings()
        return strings
    }

    /// The code of a value, adding it as a new level when unseen; nil if the bytes are not valid
    /// UTF-8 (checked once per distinct value). `previous` is tried first: consecutive rows often
    /// repeat a value (the lines of one invoice).
    mutating func code(for bytes: UnsafeBufferPointer<UInt8>, previous: Int32?) -> Int32? {
        if let previous, equals(Int(previous), bytes) { return previous }
        let h = csv_hash(bytes.baseAddress, bytes.count)
        var slot = 0
        let found = find(bytes, hash: h, slot: &slot)
        return found >= 0 ? found : insert(bytes, hash: h, slot: slot)
    }

    /// The code of `bytes` (hash `h`), or -1 with `slot` the empty slot where they belong.
    @inline(__always)
    private func find(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64, slot: inout Int) -> Int32 {
        withTable { table, stored, ranges in
            csv_dict_find(table.baseAddress, table.count / 2 - 1, stored.baseAddress, ranges.baseAddress, bytes.baseAddress, bytes.count, h, &slot)
        }
    }

    /// `body` of the table's memory for the C lookups: its slots, the store and the levels' ranges in it.
    @inline(__always)
    private func withTable<R>(_ body: (UnsafeBufferPointer<UInt64>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<Int>) -> R) -> R {
        precondition(complete, "lookup in a dictionary whose table lacks levels")
        return slots.withUnsafeBufferPointer { table in
            store.withUnsafeBufferPointer { stored in
                offsets.withUnsafeBufferPointer { ranges in body(table, stored, ranges) }
            }
        }
    }

    /// Adds a value not in the dictionary at the empty `slot` that `find` gave; with no slot, the
    /// level is added but can never be found (see `absorb`). Returns its code, or nil (and adds
    /// nothing) if the bytes are not valid UTF-8.
    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64, slot: Int?, validated: Bool = false) -> Int32? {
        guard validated || ByteInterner.isValidUTF8(bytes) else { return nil }
        let code = Int32(count)
        let offset = store.count
        store.append(contentsOf: bytes)
        offsets.append(store.count)
        hashes.append(h)
        count += 1
        guard let slot else { return code }
        slots[2 * slot] = csv_slot_key(h, bytes.count) | UInt64(code + 1)
        slots[2 * slot + 1] = csv_slot_value(bytes.baseAddress, bytes.count, offset)
        if count * 2 > slots.count / 2 { grow() }
        return code
    }

    /// UTF-8 validity, with a fast path for ASCII (eight bytes at a time).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        let raw = UnsafeRawPointer(base)
        var high: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            high |= UInt64(base[i])
            i += 1
        }
        if high & 0x8080_8080_8080_8080 == 0 { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// Runs the C loop that codes a block's rows (see `csv_code_rows`) against this dictionary's
    /// current memory. When `previousInStore`, the coder's previous value is read from the store.
    func run(_ coder: inout csv_coder, previousInStore: Bool) -> Int32 {
        withTable { table, stored, ranges in
            coder.slots = table.baseAddress
            coder.mask = table.count / 2 - 1
            coder.store = stored.baseAddress
            coder.offsets = ranges.baseAddress
            if previousInStore && coder.previous >= 0 {
                let start = ranges[Int(coder.previous)]
                coder.previous_bytes = stored.baseAddress.map { UnsafePointer($0 + start) }
                coder.previous_count = ranges[Int(coder.previous) + 1] - start
            }
            return csv_code_rows(&coder)
        }
    }

    /// Adds the levels of `other` (in its order) that this dictionary lacks; returns, for each code
    /// of `other`, the code of the same bytes here. Unless `indexing`, the new levels get no slot in
    /// the table (the last chunk joined: nothing is looked up after it), which spares growing it.
    mutating func absorb(_ other: ByteInterner, indexing: Bool) -> [Int32] {
        // New levels take their strings from `other` when both have made theirs.
        let reuse = strings.count == count && other.strings.count == other.count
        // Levels of `other` are distinct, so the lookups of this loop never need the slots it skips.
        defer { if !indexing { complete = false } }
        return other.store.withUnsafeBufferPointer { bytes in
            (0..<other.count).map { c in
                let value = UnsafeBufferPointer(rebasing: bytes[other.offsets[c]..<other.offsets[c + 1]])
                let h = other.hashes[c]
                var slot = 0
                let found = find(value, hash: h, slot: &slot)
                if found >= 0 { return found }
                if reuse { strings.append(other.strings[c]) }
                return insert(value, hash: h, slot: indexing ? slot : nil, validated: true)!
            }
        }
    }

    @inline(__always)
    private func equals(_ code: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let a = offsets[code], b = offsets[code + 1]
        if b - a != bytes.count { return false }
        if bytes.count == 0 { return true }
        return store.withUnsafeBufferPointer { s in csv_equal(s.baseAddress! + a, bytes.baseAddress!, bytes.count) != 0 }
    }

    private mutating func grow() {
        var newSlots = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = newSlots.count / 2 - 1
        store.withUnsafeBufferPointer { bytes in
            for code in 0..<count {
                var i = Int(truncatingIfNeeded: hashes[code]) & mask
                while newSlots[2 * i] != 0 { i = (i + 1) & mask }
                let start = offsets[code], n = offsets[code + 1] - start
                newSlots[2 * i] = csv_slot_key(hashes[code], n) | UInt64(code + 1)
                newSlots[2 * i + 1] = csv_slot_value(bytes.baseAddress.map { $0 + start }, n, start)
            }
        }
        slots = newSlots
    }
}
