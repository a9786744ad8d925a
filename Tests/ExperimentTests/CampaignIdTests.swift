import Base
import Foundation
import Tabular
import Testing

@testable import Experiment

/// A campaign with its own customer ids: they are kept as text, checked, and put first.
@Suite("Campaign ids through prepare")
struct CampaignIdTests {
    static let keyed = DatasetSpec(
        name: "keyed", file: "campaign.csv", armColumn: "arm", controlArm: "none", idColumn: "customer_key",
        outcomes: [.init(name: "spend", type: .continuous)], features: [.init(name: "x", type: .numeric)])
    static var unkeyed: DatasetSpec {
        var s = keyed
        s.idColumn = nil
        return s
    }

    func file(_ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ids-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write(text, to: dir + "/campaign.csv")
        return dir + "/campaign.csv"
    }

    func error(_ spec: DatasetSpec, _ text: String) throws -> DataError? {
        let path = try file(text)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        do {
            _ = try Prepare.loadRaw(spec: spec, path: path)
            return nil
        } catch let e as DataError {
            return e
        }
    }

    @Test("string and integer ids are kept as text, first, and read back unchanged")
    func idsKeptAsText() throws {
        let path = try file("x,arm,customer_key,spend\n1,none,C-17,0\n2,mail,007,1.5\n3,mail,\"K,9\",0\n4,none,7,2\n")
        let (table, _) = try Prepare.loadRaw(spec: Self.keyed, path: path)
        #expect(table.names == ["customer_key", "x", "arm", "spend", "treatment"])
        #expect(try table.strings("customer_key").values == ["C-17", "007", "K,9", "7"])
        // Through the prepared file and its schema: the same ids, in the same place.
        let back = try CSVReader.read(bytes: CSVWriter.encode(table), source: "train.csv", schema: Self.keyed.preparedSchema)
        #expect(back.names.first == "customer_key")
        #expect(try back.strings("customer_key").values == ["C-17", "007", "K,9", "7"])
    }

    @Test("a repeated id names the file, its line, the column and the first occurrence's line")
    func duplicateID() throws {
        let e = try error(Self.keyed, "x,arm,customer_key,spend\n1,none,A1,0\n2,mail,B2,0\n3,mail,A1,0\n")
        #expect(e?.line == 4)
        #expect(e?.columnName == "customer_key")
        #expect(e?.description.hasSuffix("campaign.csv:4 (column 'customer_key'): duplicate id 'A1', first on line 2") == true, "\(String(describing: e))")
    }

    @Test("an empty id or a missing id column is an error")
    func emptyOrMissingID() throws {
        let empty = try error(Self.keyed, "x,arm,customer_key,spend\n1,none,A1,0\n2,mail,,0\n")
        #expect(empty?.line == 3 && empty?.message == "empty id")
        let missing = try error(Self.keyed, "x,arm,spend\n1,none,0\n2,mail,0\n")
        #expect(missing?.description.contains("customer_key") == true, "\(String(describing: missing))")
    }

    @Test("without an id column prepare adds row numbers as row_id, and refuses to shadow the file's own row_id")
    func rowNumbers() throws {
        let path = try file("x,arm,customer_key,spend\n1,none,A,0\n2,mail,B,0\n3,mail,C,0\n")
        let (table, _) = try Prepare.loadRaw(spec: Self.unkeyed, path: path)
        #expect(table.names == ["row_id", "x", "arm", "spend", "treatment"])
        #expect(try table.ints("row_id") == [0, 1, 2])
        #expect(Self.unkeyed.preparedSchema.columns.first == ColumnSpec("row_id", .string))
        let shadow = try error(Self.unkeyed, "row_id,x,arm,spend\n5,1,none,0\n9,2,mail,0\n")
        #expect(shadow?.line == 1 && shadow?.columnName == "row_id", "\(String(describing: shadow))")
        #expect(shadow?.message.contains("names no id_column") == true)
    }

    @Test("train and test rejoin in id order whatever the files' row order")
    func rejoinOrder() throws {
        func table(_ ids: [String]) -> Table {
            Table(source: "t", names: ["id", "v"], columns: [.string(StringColumn(ids)), .int(ids.indices.map { $0 })])
        }
        // Integer ids: by value, as row numbers were ("10" after "9").
        let numeric = try Prepare.rejoined(train: table(["10", "2", "9"]), test: table(["0", "11"]), idColumn: "id")
        #expect(try numeric.strings("id").values == ["0", "2", "9", "10", "11"])
        // Any other id: by bytes; swapping the files gives the same rows.
        let a = try Prepare.rejoined(train: table(["b", "10", "a"]), test: table(["B", "9"]), idColumn: "id")
        let b = try Prepare.rejoined(train: table(["9", "B"]), test: table(["a", "10", "b"]), idColumn: "id")
        #expect(try a.strings("id").values == ["10", "9", "B", "a", "b"])
        #expect(try b.strings("id").values == (try a.strings("id").values))
    }

    @Test("id_column is optional in a spec; dataset.json records the prepared files' id column")
    func specAndResolvedSpec() throws {
        let given: JSONValue = .object([
            "name": .string("keyed"), "file": .string("campaign.csv"), "arm_column": .string("arm"), "control_arm": .string("none"),
            "treatment_column": .string("treatment"), "outcomes": .array([.object(["name": .string("spend"), "type": .string("continuous")])]),
            "features": .array([.object(["name": .string("x"), "type": .string("numeric")])]),
        ])
        let decoded = try JSONDecoder().decode(DatasetSpec.self, from: Data(given.rendered().utf8))
        #expect(decoded.idColumn == nil && decoded.preparedIdColumn == "row_id")
        let resolved = Prepare.resolvedSpec(given, spec: decoded)
        #expect(resolved["id_column"] == .string("row_id"))
        let later = try JSONDecoder().decode(DatasetSpec.self, from: Data(resolved.rendered().utf8))
        #expect(later.preparedIdColumn == "row_id" && later.preparedSchema == decoded.preparedSchema)
        #expect(Prepare.resolvedSpec(given, spec: Self.keyed)["id_column"] == .string("customer_key"))
        var clash = Self.keyed
        clash.idColumn = "x"
        #expect(throws: DataError.self) { try clash.validate(source: "params.yaml") }
        clash.idColumn = ""
        #expect(throws: DataError.self) { try clash.validate(source: "params.yaml") }
    }
}
