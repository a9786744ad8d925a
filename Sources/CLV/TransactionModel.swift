import Foundation

/// Total log-likelihood at natural parameters `p` (in `parameterNames` order); when the second argument is
/// non-nil it also stores d LL / d p there.
public typealias LogLikelihoodFunction = (UnsafePointer<Double>, UnsafeMutablePointer<Double>?) -> Double

/// A buy-till-you-die model of repeat-transaction counts, as one strategy type (like CLVTools' model classes):
/// its identity, its likelihood and fitting recipe, its boundary rules and its predictions. `fit` is the one
/// template every model goes through (compress the summaries, multi-start maximum likelihood, boundary and
/// ridge checks), and the analysis only talks to models through this protocol, so a new model is one file
/// conforming to it plus one line in `TransactionModelRegistry.standard`.
///
/// Times are in the unit of the summaries; `t = .infinity` asks for lifetime quantities (finite only under
/// conditions stated by each model).
public protocol TransactionModel: Sendable {
    /// Short lower-case key naming the model in parameters, file names (`fit_<key>.json`) and table columns.
    static var key: String { get }
    /// Name for reports and `FitResult.model` ("BG/NBD").
    static var displayName: String { get }
    static var parameterNames: [String] { get }
    /// One per parameter: time-scale parameters are optimised relative to the mean customer age and judged at
    /// the boundary against it; shape parameters against 1.
    static var parameterKinds: [ParameterKind] { get }
    /// Directions along which a mixing distribution degenerates (probed during and after the fit).
    static var ridges: [Ridge] { get }
    /// Deterministic starting points (natural scale) for the multi-start search.
    static func startValues(_ data: CompressedSummaries) -> [[Double]]
    /// The total log-likelihood over `data` (with its gradient when asked): the fit's objective.
    static func logLikelihoodFunction(_ data: CompressedSummaries) -> LogLikelihoodFunction
    /// Published estimates on the 2,357-customer CDNOW sample (parameter names and "LL"), shown beside the
    /// replication; empty when there are none.
    static var publishedCDNOWSample: [String: Double] { get }

    /// The model at fitted `estimates`; a non-empty `boundary` makes every prediction throw.
    init(estimates: [Double], boundary: [String])

    /// P(customer still active at T | x, t_x, T).
    func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double
    /// Unconditional E[X(t)]: expected repeat transactions in (0, t] of a customer who made her first at 0.
    func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double
    /// E[Y(t) | x, t_x, T]: expected transactions in (T, T + t].
    func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double
}

extension TransactionModel {
    public static var ridges: [Ridge] { [] }
    public static var publishedCDNOWSample: [String: Double] { [:] }

    /// Maximum-likelihood fit (see `FitResult` for the method, standard errors and boundary rules): time-scale
    /// parameters are optimised relative to the mean customer age, shape parameters as they are.
    public static func fit(_ s: CustomerSummaries) throws -> (Self, FitResult) {
        let data = CompressedSummaries(s)
        let scaleT = data.meanAge
        let scales = parameterKinds.map { $0 == .scale ? scaleT : 1 }
        let prob = MLEProblem(
            model: displayName, names: parameterNames, kinds: parameterKinds, scales: scales, n: data.customers,
            evaluate: logLikelihoodFunction(data))
        prob.ridges = ridges
        let result = try Optimizer.fit(prob, candidates: startValues(data), dataScales: scales)
        return (Self(estimates: result.estimates, boundary: result.boundary), result)
    }

    /// `fit` for a model known only by its metatype (`any TransactionModel.Type`).
    public static func fitModel(_ s: CustomerSummaries) throws -> (model: any TransactionModel, fit: FitResult) {
        let (model, fit) = try fit(s)
        return (model, fit)
    }
}

/// A model key that is not registered.
public struct UnknownTransactionModel: Error, CustomStringConvertible, Equatable, Sendable {
    public var key: String
    public var validKeys: [String]
    public init(key: String, validKeys: [String]) {
        self.key = key
        self.validKeys = validKeys
    }
    public var description: String {
        "unknown transaction model '\(key)'; valid keys: \(validKeys.joined(separator: ", "))"
    }
}

/// The transaction models the analysis can fit, in the order they are fitted and reported.
public struct TransactionModelRegistry: Sendable {
    public let models: [any TransactionModel.Type]

    /// Every registered model. Adding a model: its file, and one line here.
    public static let standard = TransactionModelRegistry([
        BGNBD.self,
        ParetoNBD.self,
    ])

    /// Keys must be unique: they name files and table columns.
    public init(_ models: [any TransactionModel.Type]) {
        let keys = models.map { $0.key }
        precondition(Set(keys).count == keys.count, "duplicate transaction model keys in \(keys)")
        self.models = models
    }

    public var keys: [String] { models.map { $0.key } }

    public func model(_ key: String) throws(UnknownTransactionModel) -> any TransactionModel.Type {
        guard let m = models.first(where: { $0.key == key }) else { throw UnknownTransactionModel(key: key, validKeys: keys) }
        return m
    }

    /// The models named by `keys` in that order; nil means every registered model.
    public func models(_ keys: [String]?) throws(UnknownTransactionModel) -> [any TransactionModel.Type] {
        guard let keys else { return models }
        var out: [any TransactionModel.Type] = []
        for k in keys { out.append(try model(k)) }
        return out
    }
}
