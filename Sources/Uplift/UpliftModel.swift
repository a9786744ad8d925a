import Base
import Forest
import Foundation
import Tabular

/// One term of a model output: `weight × forest(x)`.
public struct OutputTerm: Codable, Sendable, Equatable {
    public var forest: String
    public var weight: Double
    public init(_ forest: String, _ weight: Double) {
        self.forest = forest
        self.weight = weight
    }
}

/// Every score a learner produces is a fixed linear combination of forest predictions
/// (T: mu1 − mu0; X: e·tau0 + (1 − e)·tau1; DR: tau), so the frozen model needs no
/// learner-specific scoring code: the pipeline and the shipped scorer evaluate the same terms
/// in the same order and get the same bits. `LearnerContract.check` holds every fitted learner
/// to this.
public struct ModelOutputs: Codable, Sendable, Equatable {
    public struct Arm: Codable, Sendable, Equatable {
        public var arm: String
        /// Output column name, `uplift_<slug of the arm>`.
        public var column: String
        public var uplift: [OutputTerm]
    }

    public var y1: [OutputTerm]
    public var y0: [OutputTerm]
    public var uplift: [OutputTerm]
    public var arms: [Arm]

    public var forestNames: [String] {
        var seen: [String] = []
        for t in y1 + y0 + uplift + arms.flatMap(\.uplift) where !seen.contains(t.forest) { seen.append(t.forest) }
        return seen
    }

    /// Σ weight × prediction, the terms added in order to 0: the scorer's arithmetic, which the
    /// pipeline's own scores must match bit for bit (so there is one copy of it).
    static func combine(_ terms: [OutputTerm], predictions: [String: [Double]], rows: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        for t in terms {
            let p = predictions[t.forest]!
            for i in 0..<out.count { out[i] += t.weight * p[i] }
        }
        return out
    }

    /// Every output on encoded rows: each forest the terms name is evaluated once, the terms
    /// summed in order (`combine`). The frozen model and the pipeline's own scoring share it.
    public func score(forests: [String: RandomForest], _ x: FeatureMatrix, threads: Int) -> UpliftScores {
        var predictions: [String: [Double]] = [:]
        for name in forestNames { predictions[name] = forests[name]!.predict(x, threads: threads) }
        return score(predictions: predictions, rows: x.rowCount)
    }

    /// Every output from each named forest's predictions of `rows` rows, combined as `score`
    /// combines them.
    public func score(predictions: [String: [Double]], rows: Int) -> UpliftScores {
        func combined(_ terms: [OutputTerm]) -> [Double] { Self.combine(terms, predictions: predictions, rows: rows) }
        return UpliftScores(
            y1: combined(y1), y0: combined(y0), uplift: combined(uplift), armUplift: arms.map { combined($0.uplift) })
    }
}

/// Descriptive metadata written to `models/meta.json` beside the forests.
public struct ModelMeta: Codable, Sendable, Equatable {
    public struct Treatment: Codable, Sendable, Equatable {
        public var armColumn: String
        public var controlArm: String
        public var arms: [String]
        public var treatmentColumn: String
        /// Plain statement of what "treated" means for y1_hat and uplift_hat.
        public var definition: String
        /// Share of treated rows in training (the known propensity used by the learners).
        public var propensity: Double
        public var armPropensities: [String: Double]
        /// The design's share of every arm, control included: the off-policy estimates' propensities.
        public var allocation: [String: Double]?
        /// What a treated customer receives, as reports call it ("e-mail", "offer"), and its plural.
        public var noun: String?
        public var nounPlural: String?

        public init(
            armColumn: String, controlArm: String, arms: [String], treatmentColumn: String, definition: String,
            propensity: Double, armPropensities: [String: Double], allocation: [String: Double]? = nil,
            noun: String? = nil, nounPlural: String? = nil
        ) {
            self.armColumn = armColumn
            self.controlArm = controlArm
            self.arms = arms
            self.treatmentColumn = treatmentColumn
            self.definition = definition
            self.propensity = propensity
            self.armPropensities = armPropensities
            self.allocation = allocation
            self.noun = noun
            self.nounPlural = nounPlural
        }

        enum CodingKeys: String, CodingKey {
            case arms, definition, propensity, allocation, noun
            case nounPlural = "noun_plural"
            case armColumn = "arm_column"
            case controlArm = "control_arm"
            case treatmentColumn = "treatment_column"
            case armPropensities = "arm_propensities"
        }
    }

    public var formatVersion: Int
    public var dataset: String
    public var idColumn: String
    public var featureCols: [String]
    public var numCols: [String]
    public var catCols: [String]
    public var categories: [String: [String]]
    public var treatment: Treatment
    public var target: String
    public var learner: String
    public var learnerParams: JSONValue
    public var trainingFile: String
    public var trainingFileSHA256: String
    public var trainingRows: Int
    public var forestsFile: String
    public var forestsSHA256: String
    public var forestFormatVersion: Int
    public var outputs: ModelOutputs
    /// How reports call each outcome (column name → label).
    public var outcomeLabels: [String: String]?

    public init(
        formatVersion: Int, dataset: String, idColumn: String, featureCols: [String], numCols: [String], catCols: [String],
        categories: [String: [String]], treatment: Treatment, target: String, learner: String, learnerParams: JSONValue,
        trainingFile: String, trainingFileSHA256: String, trainingRows: Int, forestsFile: String, forestsSHA256: String,
        forestFormatVersion: Int, outputs: ModelOutputs, outcomeLabels: [String: String]? = nil
    ) {
        self.formatVersion = formatVersion
        self.dataset = dataset
        self.idColumn = idColumn
        self.featureCols = featureCols
        self.numCols = numCols
        self.catCols = catCols
        self.categories = categories
        self.treatment = treatment
        self.target = target
        self.learner = learner
        self.learnerParams = learnerParams
        self.trainingFile = trainingFile
        self.trainingFileSHA256 = trainingFileSHA256
        self.trainingRows = trainingRows
        self.forestsFile = forestsFile
        self.forestsSHA256 = forestsSHA256
        self.forestFormatVersion = forestFormatVersion
        self.outputs = outputs
        self.outcomeLabels = outcomeLabels
    }

    enum CodingKeys: String, CodingKey {
        case dataset, treatment, target, learner, outputs
        case formatVersion = "format_version"
        case idColumn = "id_column"
        case featureCols = "feature_cols"
        case numCols = "num_cols"
        case catCols = "cat_cols"
        case categories
        case learnerParams = "learner_params"
        case trainingFile = "training_file"
        case trainingFileSHA256 = "training_file_sha256"
        case trainingRows = "training_rows"
        case forestsFile = "forests_file"
        case forestsSHA256 = "forests_sha256"
        case forestFormatVersion = "forest_format_version"
        case outcomeLabels = "outcome_labels"
    }
}

/// A model directory that cannot be used (missing, damaged or inconsistent files): the user's input.
public struct ModelError: ClassifiedError, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var isBadInput: Bool { true }
}

/// Scores of a set of rows, one array per output.
public struct UpliftScores: Sendable, Equatable {
    public var y1: [Double]
    public var y0: [Double]
    public var uplift: [Double]
    /// Per treated arm, in `ModelOutputs.arms` order.
    public var armUplift: [[Double]]
    public var count: Int { uplift.count }

    public init(y1: [Double], y0: [Double], uplift: [Double], armUplift: [[Double]]) {
        self.y1 = y1
        self.y0 = y0
        self.uplift = uplift
        self.armUplift = armUplift
    }
}

/// A fitted uplift model: the encoder, the forests and how to combine them.
public struct UpliftModel: Sendable, Equatable {
    public static let formatVersion = 1
    public static let metaFile = "meta.json"
    public static let encoderFile = "encoder.json"
    public static let forestsFile = "forests.bin"

    public var encoder: FeatureEncoder
    public var forests: [String: RandomForest]
    public var outputs: ModelOutputs

    public init(encoder: FeatureEncoder, forests: [String: RandomForest], outputs: ModelOutputs) {
        self.encoder = encoder
        self.forests = forests
        self.outputs = outputs
    }

    /// Scores encoded rows. Each forest needed is evaluated once; terms are summed in order.
    public func score(_ x: FeatureMatrix, threads: Int = ForestTrainer.defaultThreads) -> UpliftScores {
        outputs.score(forests: forests, x, threads: threads)
    }

    /// The forests file bytes (named forests, sorted by name).
    public func forestBytes() -> [UInt8] {
        ForestFormat.encode(forests.keys.sorted().map { (name: $0, forest: forests[$0]!) })
    }

    public func encoderJSON() throws -> [UInt8] {
        try Self.jsonBytes(encoder)
    }

    public static func jsonBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }

    public static func metaJSON(_ meta: ModelMeta) throws -> [UInt8] { try jsonBytes(meta) }

    /// One file of a saved model directory.
    public struct SavedFile: Sendable, Equatable {
        /// File name inside the model directory.
        public var name: String
        public var sha256: String
    }

    /// What `save` wrote, in writing order.
    public struct Saved: Sendable {
        public var meta: ModelMeta
        public var forests: SavedFile
        public var encoder: SavedFile
        public var drift: SavedFile
        public var metaFile: SavedFile
    }

    /// Writes the model directory: `forests.bin`, `encoder.json`, `drift_reference.json`, then
    /// `meta.json`, built by `meta` from the forests' SHA-256. meta.json goes last because it
    /// names that checksum: a save interrupted half-way leaves a directory that `load` rejects
    /// instead of one that pairs new forests with old metadata. Every file goes through `write`
    /// (bytes, path), which must replace files atomically (the stage passes its run's writer,
    /// which also records the output and leaves identical files untouched). The directory is
    /// then loaded back and must give this model, this metadata and this drift reference: a
    /// model that does not load fails here, not in the scorer.
    @discardableResult
    public func save(
        to directory: String, drift: DriftReference,
        write: ([UInt8], String) throws -> Void = { try AtomicFile.writeIfChanged($0, to: $1) },
        meta: (_ forestsSHA256: String) throws -> ModelMeta
    ) throws -> Saved {
        func put(_ bytes: [UInt8], _ name: String) throws -> SavedFile {
            try write(bytes, directory + "/" + name)
            return SavedFile(name: name, sha256: SHA256.hex(of: bytes))
        }
        let forestsFile = try put(forestBytes(), Self.forestsFile)
        let encoderFile = try put(try encoderJSON(), Self.encoderFile)
        let driftFile = try put(try Self.jsonBytes(drift), DriftReference.file)
        let metadata = try meta(forestsFile.sha256)
        let metaFile = try put(try Self.metaJSON(metadata), Self.metaFile)

        let (reloaded, reloadedMeta) = try Self.load(from: directory)
        guard reloaded == self else { throw ModelError("\(directory): the saved model loads back different from the fitted one") }
        guard reloadedMeta == metadata else { throw ModelError("\(directory)/\(Self.metaFile): loads back different from what was written") }
        guard try Self.decodeJSON(DriftReference.self, path: directory + "/" + DriftReference.file) == drift else {
            throw ModelError("\(directory)/\(DriftReference.file): loads back different from what was written")
        }
        return Saved(meta: metadata, forests: forestsFile, encoder: encoderFile, drift: driftFile, metaFile: metaFile)
    }

    /// Loads and checks a model directory: format version, forests checksum against meta.json,
    /// encoder consistent with meta.json, every forest the outputs name present with the
    /// encoder's feature count.
    public static func load(from directory: String) throws -> (model: UpliftModel, meta: ModelMeta) {
        let metaPath = directory + "/" + metaFile
        let meta: ModelMeta = try decodeJSON(ModelMeta.self, path: metaPath)
        guard meta.formatVersion == formatVersion else {
            throw ModelError("\(metaPath): model format version \(meta.formatVersion), this program reads version \(formatVersion)")
        }
        let encoderPath = directory + "/" + encoderFile
        let encoder: FeatureEncoder = try decodeJSON(FeatureEncoder.self, path: encoderPath)
        guard encoder.featureNames == meta.featureCols else {
            throw ModelError("\(encoderPath): encoder features \(encoder.featureNames) differ from meta.json feature_cols \(meta.featureCols)")
        }
        let forestsPath = directory + "/" + meta.forestsFile
        guard let data = FileManager.default.contents(atPath: forestsPath) else {
            throw ModelError("\(forestsPath): cannot read the forests file")
        }
        let bytes = [UInt8](data)
        let digest = SHA256.hex(of: bytes)
        guard digest == meta.forestsSHA256 else {
            throw ModelError("\(forestsPath): corrupt or replaced: SHA-256 \(digest), meta.json expects \(meta.forestsSHA256)")
        }
        var forests: [String: RandomForest] = [:]
        for (name, forest) in try ForestFormat.decode(bytes, source: forestsPath) { forests[name] = forest }
        for name in meta.outputs.forestNames {
            guard let f = forests[name] else { throw ModelError("\(forestsPath): no forest named '\(name)' (meta.json outputs use it)") }
            guard f.featureCount == encoder.featureCount else {
                throw ModelError("\(forestsPath): forest '\(name)' expects \(f.featureCount) features, the encoder makes \(encoder.featureCount)")
            }
        }
        return (UpliftModel(encoder: encoder, forests: forests, outputs: meta.outputs), meta)
    }

    /// Decodes one of the model directory's JSON files, with errors that name the file and field.
    public static func decodeJSON<T: Decodable>(_ type: T.Type, path: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError("\(path): cannot read file")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError("\(path): missing field '\(key.stringValue)'")
        } catch {
            throw ModelError("\(path): not a valid model file (\(error))")
        }
    }
}

/// An arm name as an identifier for column and forest names: `Arm B (Mobile)` → `arm_b_mobile`.
public func slug(_ s: String) -> String {
    var out = ""
    var pendingUnderscore = false
    for c in s.lowercased().unicodeScalars {
        if CharacterSet.alphanumerics.contains(c) && c.isASCII {
            if pendingUnderscore && !out.isEmpty { out += "_" }
            pendingUnderscore = false
            out.unicodeScalars.append(c)
        } else {
            pendingUnderscore = true
        }
    }
    return out
}
