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
    /// True when the likelihood already spreads one evaluation over every core (Pareto/NBD's hypergeometric terms):
    /// the fit then evaluates one point at a time instead of running independent evaluations side by side, which
    /// would only oversubscribe the cores.
    static var evaluationUsesAllCores: Bool { get }
    /// Published estimates on the 2,357-customer CDNOW sample (parameter names and "LL"), shown beside the
    /// replication; empty when there are none.
    static var publishedCDNOWSample: [String: Double] { get }

    /// The model at fitted `estimates`; a non-empty `boundary` makes every prediction throw.
    init(estimates: [Double], boundary: [String])
    /// The model at the limit of its ridge number `ridge` (`ridges`), predicting with the limit model's fitted
    /// parameters `limit` (in `RidgeLimit.parameterNames` order); `estimates` are the full model's where the
    /// search stopped. nil (the default) when the model has no limit for that ridge: it then refuses to predict.
    static func atRidgeLimit(_ ridge: Int, estimates: [Double], limit: [Double], boundary: [String]) -> Self?

    /// P(customer still active at T | x, t_x, T).
    func probabilityAlive(x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double
    /// Unconditional E[X(t)]: expected repeat transactions in (0, t] of a customer who made her first at 0.
    func expectedTransactions(_ t: Double) throws(ModelUndefined) -> Double
    /// E[Y(t) | x, t_x, T]: expected transactions in (T, T + t].
    func conditionalExpectedTransactions(_ t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double
    /// P(Y(t) = n | x, t_x, T): the probability of exactly n transactions in (T, T + t], the conditional
    /// predictive distribution whose log at the observed holdout count scores the model (`holdout log-likelihood`).
    /// The default throws: a model without it cannot be scored or chosen by that criterion.
    func conditionalProbabilityOfCount(_ n: Int, t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double
}

extension TransactionModel {
    public static var ridges: [Ridge] { [] }
    public static var publishedCDNOWSample: [String: Double] { [:] }
    public static var evaluationUsesAllCores: Bool { false }
    public static func atRidgeLimit(_ ridge: Int, estimates: [Double], limit: [Double], boundary: [String]) -> Self? { nil }

    public func conditionalProbabilityOfCount(_ n: Int, t: Double, x: Double, tx: Double, T: Double) throws(ModelUndefined) -> Double {
        throw ModelUndefined(quantity: "P(Y(t) = n | x, t_x, T)", reason: "\(Self.displayName) does not give its predictive distribution of counts")
    }

    /// Maximum-likelihood fit (see `FitResult` for the method, standard errors and boundary rules): time-scale
    /// parameters are optimised relative to the mean customer age, shape parameters as they are. When the fit
    /// ends on a ridge (and on nothing else) that has a limit model, the limit is fitted by the same method from
    /// where the search stopped and the returned model predicts with it (`FitResult.limit`).
    public static func fit(_ s: CustomerSummaries) throws -> (Self, FitResult) {
        let data = CompressedSummaries(s)
        let scaleT = data.meanAge
        let scales = parameterKinds.map { $0.scale(meanAge: scaleT) }
        let prob = MLEProblem(
            model: displayName, names: parameterNames, kinds: parameterKinds, scales: scales, n: data.customers,
            makeEvaluate: { logLikelihoodFunction(data) })
        prob.ridges = ridges
        let result = try Optimizer.fit(
            prob, candidates: startValues(data), dataScales: scales, width: evaluationUsesAllCores ? 1 : ProblemPool.defaultWidth)
        if let reached = result.ridge, Set(result.boundary) == Set(reached.names), let limit = ridges[reached.position].limit {
            let limitScales = limit.parameterKinds.map { $0.scale(meanAge: scaleT) }
            let limitProblem = MLEProblem(
                model: "\(displayName) limit (\(limit.description))", names: limit.parameterNames, kinds: limit.parameterKinds,
                scales: limitScales, n: data.customers, makeEvaluate: { limit.logLikelihoodFunction(data) })
            let limitFit = try Optimizer.fit(limitProblem, candidates: [limit.start(result.estimates)], dataScales: limitScales)
            let combined = result.withLimit(limitFit, shared: limit.shared)
            if limitFit.boundary.isEmpty,
                let model = atRidgeLimit(reached.position, estimates: result.estimates, limit: limitFit.estimates, boundary: result.boundary)
            {
                return (model, combined)
            }
            return (Self(estimates: combined.estimates, boundary: result.boundary), combined)
        }
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
        MBGNBD.self,
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
