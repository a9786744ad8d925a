import CGSL
import Foundation
import Stats
import Tabular

/// A two-sided confidence interval.
public struct ConfidenceInterval: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    public var level: Double
    public init(lower: Double, upper: Double, level: Double) {
        self.lower = lower
        self.upper = upper
        self.level = level
    }
    public func contains(_ v: Double) -> Bool { lower <= v && v <= upper }
    public var description: String { "[\(lower), \(upper)]" }
}

/// The outcome of a maximum-likelihood fit.
///
/// * Optimisation is over theta_i = log(p_i / scale_i) (scale 1 for shape parameters, the mean age T for the
///   time-scale parameters alpha and beta, the mean spend for gamma), so every parameter stays positive and the
///   problem is well scaled. The objective is the mean negative log-likelihood, with analytic gradients
///   (BG/NBD, Gamma-Gamma fully analytic; Pareto/NBD analytic except where 2F1(1, P; Q; z) has z > 0.9 and a
///   continued fraction is used, whose P, Q, z derivatives are central differences).
/// * Search: the log-likelihood is evaluated at 4-8 deterministic starting points. From the best one, GSL's
///   `vector_bfgs2` runs until the mean-log-likelihood gradient is < 1e-3, then Newton refinement takes over: steps
///   with the numeric Hessian (kept from step to step with BFGS updates while each step at least halves the gradient,
///   recomputed otherwise; halved when they do not raise the likelihood) until the gradient is at rounding level.
///   The search has converged when the refined mean gradient is < 1e-6; if Newton cannot get there, BFGS goes on
///   from the refined point to 1e-6 (or to no progress with < 1e-5) and is refined again. A ridge found where BFGS
///   stopped (confirmed after BFGS has gone on to 1e-4; no Newton steps then) or where Newton stopped short ends the
///   search there. When the
///   first search does not end cleanly (converged to an interior maximum with a positive-definite Hessian, no
///   parameter beyond the boundary thresholds, no ridge), a second search runs from the second-best start; if
///   neither converges, `nmsimplex2` runs from the best start and BFGS and Newton polish its result. The best
///   converged search wins. `converged` is true when a search converged or the final mean gradient is < 1e-7.
///   Same input, same result, bit for bit (no randomness, fixed summation order; independent evaluations, such as
///   the starting points, the Hessian's columns and the edge probes, run side by side on copies of the problem, so
///   the thread count changes nothing: `ProblemPool`). The notes count the likelihood evaluations of each phase.
///   The BG/NBD likelihood runs in C (`BGNBDKernel`, `CCLVKernel`) with its exp and log four at a time through
///   glibc's libmvec where the CPU has AVX2: the same bits for every run and thread count on a given machine, but
///   not necessarily the same last bits as on a machine without AVX2 (libm there).
/// * `standardErrors`: from the inverse of the Hessian of the negative log-likelihood with respect to
///   log-parameters, computed by central differences (step 1e-4 in log units) of the analytic gradient, and
///   mapped to the natural scale with the delta method: se(p) = p * se(log p). NaN when the Hessian is not
///   positive definite (e.g. at a boundary, or with unidentified parameters).
/// * `confidenceIntervals` (95%): computed on the log scale and transformed back, exp(log p +- 1.96 se(log p)),
///   so they are asymmetric and always positive (better coverage for positive parameters than p +- 1.96 se).
/// * `gradientNorm`: Euclidean norm of the gradient of the total log-likelihood with respect to the
///   log-parameters at the solution.
/// * `boundary`: names of parameters at the edge of the parameter space. A shape parameter (r, a, b, s, p, q) is
///   reported when its estimate is < 1e-4 (collapsed to 0) or > 1e4 (exploded); a scale parameter (alpha, beta,
///   gamma) when its ratio to the data scale (mean customer age T, or mean spend for gamma) is < 1e-4 or > 1e4.
///   Also reported: a parameter whose move alone to either threshold (1e-4 or 1e4 times its reference scale)
///   does not lower the log-likelihood by more than 1e-9 relative (the likelihood rises or stays flat towards
///   the edge, so the optimiser stopped on a slope, or the parameter is not identified, as a and b are when
///   nobody repeats). A non-empty list means the MLE is (close to) a limiting sub-model; models returned by
///   `fit` carry the list and refuse to make predictions (they throw `ModelUndefined`).
public struct FitResult: Sendable, CustomStringConvertible {
    public var model: String
    public var parameterNames: [String]
    public var estimates: [Double]
    public var standardErrors: [Double]
    public var confidenceIntervals: [ConfidenceInterval]
    public var logLikelihood: Double
    public var aic: Double
    public var bic: Double
    /// Number of customers whose likelihood was used.
    public var n: Int
    public var converged: Bool
    /// GSL's status text for the final iteration (`gsl_strerror`), plus our own notes after a semicolon.
    public var status: String
    /// "bfgs2" (gsl_multimin_fdfminimizer_vector_bfgs2) or "nmsimplex2" (gsl_multimin_fminimizer_nmsimplex2).
    public var method: String
    public var iterations: Int
    public var gradientNorm: Double
    /// True when BFGS stopped because the likelihood kept increasing along a ridge (see `boundary`).
    public var stoppedOnRidge: Bool
    public var boundary: [String]
    /// One line per boundary parameter with the estimate and the threshold.
    public var boundaryDetails: [String]
    /// Starting points tried (natural scale) and other remarks.
    public var notes: [String]
    /// The ridge the fit ended on (nil when none).
    public var ridge: RidgeReached?
    /// Stored as an array only because a struct cannot hold itself; see `limit`.
    var limitFits: [FitResult] = []
    /// When the fit ended on a ridge that has a limit model (`Ridge.limit`): that model's own maximum-likelihood
    /// fit. The model then predicts with it; this result's estimates, standard errors and intervals of the
    /// parameters the limit shares are the limit fit's, those of the ridge's parameters are not identified (NaN
    /// standard errors and intervals; their estimates are where the search stopped), and the log-likelihood,
    /// AIC and BIC are the limit's (AIC and BIC with the limit's number of parameters).
    public var limit: FitResult? { limitFits.first }

    /// Whether the fitted model predicts: no boundary, or a boundary that is a ridge whose limit model was fitted
    /// without a boundary of its own.
    public var predicts: Bool { boundary.isEmpty || limit?.boundary.isEmpty == true }

    /// Whether each parameter is identified: false for a ridge's parameters when the fit ended on the ridge.
    public var identified: [Bool] {
        parameterNames.indices.map { !(ridge?.indices.contains($0) ?? false) }
    }

    public init(
        model: String, parameterNames: [String], estimates: [Double], standardErrors: [Double], confidenceIntervals: [ConfidenceInterval],
        logLikelihood: Double, aic: Double, bic: Double, n: Int, converged: Bool, status: String, method: String, iterations: Int,
        gradientNorm: Double, stoppedOnRidge: Bool, boundary: [String], boundaryDetails: [String], notes: [String], ridge: RidgeReached? = nil
    ) {
        self.model = model
        self.parameterNames = parameterNames
        self.estimates = estimates
        self.standardErrors = standardErrors
        self.confidenceIntervals = confidenceIntervals
        self.logLikelihood = logLikelihood
        self.aic = aic
        self.bic = bic
        self.n = n
        self.converged = converged
        self.status = status
        self.method = method
        self.iterations = iterations
        self.gradientNorm = gradientNorm
        self.stoppedOnRidge = stoppedOnRidge
        self.boundary = boundary
        self.boundaryDetails = boundaryDetails
        self.notes = notes
        self.ridge = ridge
    }

    /// This fit with `limitFit` (the fit of the limit model of the ridge it ended on) as its `limit`.
    func withLimit(_ limitFit: FitResult, shared: [Int?]) -> FitResult {
        var out = self
        out.limitFits = [limitFit]
        for (j, index) in shared.enumerated() {
            guard let i = index else { continue }
            out.estimates[i] = limitFit.estimates[j]
            out.standardErrors[i] = limitFit.standardErrors[j]
            out.confidenceIntervals[i] = limitFit.confidenceIntervals[j]
        }
        for i in ridge?.indices ?? [] {
            out.standardErrors[i] = .nan
            out.confidenceIntervals[i] = ConfidenceInterval(lower: .nan, upper: .nan, level: 0.95)
        }
        out.logLikelihood = limitFit.logLikelihood
        out.aic = limitFit.aic
        out.bic = limitFit.bic
        out.converged = limitFit.converged
        return out
    }

    public func estimate(_ name: String) -> Double? {
        parameterNames.firstIndex(of: name).map { estimates[$0] }
    }

    public var description: String {
        var s =
            "\(model) fit (\(method), \(converged ? "converged" : "NOT converged"), \(iterations) iterations, |grad| = \(gradientNorm), status: \(status))\n"
        for i in parameterNames.indices {
            s += "  \(parameterNames[i]) = \(estimates[i])  se \(standardErrors[i])  95% CI \(confidenceIntervals[i])\n"
        }
        s += "  LL = \(logLikelihood), AIC = \(aic), BIC = \(bic), n = \(n)"
        if !boundary.isEmpty { s += "\n  boundary: " + boundaryDetails.joined(separator: "; ") }
        return s
    }
}

/// How a parameter is scaled for the optimiser and judged at the boundary: a shape parameter against 1, a
/// time-scale parameter (alpha, beta) against the mean customer age T, a rate (per time unit, like a common dropout
/// rate mu) against 1/T.
public enum ParameterKind: Sendable, Equatable {
    case shape, scale, rate

    /// The reference scale for data whose mean customer age is `meanAge`.
    public func scale(meanAge: Double) -> Double {
        switch self {
        case .shape: return 1
        case .scale: return meanAge
        case .rate: return 1 / meanAge
        }
    }
}

/// Thresholds for boundary detection (see `FitResult.boundary`).
enum BoundaryRule {
    static let low = 1e-4
    static let high = 1e4
    /// Relative log-likelihood tolerance of the edge probe.
    static let edgeTolerance = 1e-9
    /// A ridge probe multiplies the ridge's parameters together by this factor (their ratios kept).
    static let ridgeFactor = 1e3
}

/// A direction along which a mixing distribution degenerates to a point: its shape and scale parameters
/// grow together with their ratio fixed (Gamma(s, beta) -> the single rate s/beta; Beta(a, b) -> the single
/// probability a/(a+b)). The likelihood can keep increasing along it without bound in the parameters: the
/// MLE is then the limit, a boundary of the model, and BFGS only creeps along the ridge.
public struct Ridge {
    /// Parameter indices multiplied together.
    var indices: [Int]
    /// What the limit means, for the report (the ratio's value is appended).
    var meaning: String
    /// The ratio that stays fixed along the ridge, from the natural parameters.
    var ratio: ([Double]) -> (name: String, value: Double)
    /// The limit model, fitted and used for predictions when the fit ends on this ridge (nil: the model then
    /// refuses to predict).
    var limit: RidgeLimit?

    public init(indices: [Int], meaning: String, ratio: @escaping ([Double]) -> (name: String, value: Double), limit: RidgeLimit? = nil) {
        self.indices = indices
        self.meaning = meaning
        self.ratio = ratio
        self.limit = limit
    }
}

/// The model a ridge leads to: the mixing distribution replaced by its point mass, with its own parameters (the
/// ones it shares with the full model and the fixed ratio), likelihood and starting point.
public struct RidgeLimit {
    /// For the report: "one dropout rate mu shared by all customers".
    public var description: String
    public var parameterNames: [String]
    public var parameterKinds: [ParameterKind]
    /// For each limit parameter, the index of the full model's parameter it is (nil: the ratio).
    public var shared: [Int?]
    /// The starting point from the full model's natural parameters where the fit stopped on the ridge.
    public var start: ([Double]) -> [Double]
    public var logLikelihoodFunction: (CompressedSummaries) -> LogLikelihoodFunction

    public init(
        description: String, parameterNames: [String], parameterKinds: [ParameterKind], shared: [Int?], start: @escaping ([Double]) -> [Double],
        logLikelihoodFunction: @escaping (CompressedSummaries) -> LogLikelihoodFunction
    ) {
        self.description = description
        self.parameterNames = parameterNames
        self.parameterKinds = parameterKinds
        self.shared = shared
        self.start = start
        self.logLikelihoodFunction = logLikelihoodFunction
    }
}

/// The ridge a fit ended on: its parameters and the ratio that stays fixed along it.
public struct RidgeReached: Sendable, Equatable {
    /// Position of the ridge in the model's `ridges`.
    public var position: Int
    public var indices: [Int]
    public var names: [String]
    public var ratioName: String
    public var ratioValue: Double
    public var meaning: String
}

/// A likelihood to maximise: `evaluate(p, grad)` returns the total log-likelihood at natural parameters `p`
/// and, when `grad` is non-nil, stores d LL / d p there.
final class MLEProblem {
    typealias Evaluate = (UnsafePointer<Double>, UnsafeMutablePointer<Double>?) -> Double
    let model: String
    let names: [String]
    let kinds: [ParameterKind]
    let scales: [Double]
    let n: Int
    let evaluate: Evaluate
    var dim: Int { names.count }
    /// Likelihood evaluations so far (reported in the fit notes).
    var evaluations = 0
    /// Degenerate directions of the model, probed during and after the fit.
    var ridges: [Ridge] = []
    // Scratch buffers (no allocation per evaluation).
    var p: [Double]
    var g: [Double]
    /// |theta| beyond this gets a quadratic penalty, keeping the optimiser inside exp(+-18.4) = 1e-8 .. 1e8.
    static let thetaBound = 18.420680743952367

    /// The objective's box penalty at theta (0 inside the bound).
    static func penalty(_ theta: [Double]) -> Double {
        theta.reduce(0.0) { acc, th in
            let over = abs(th) - thetaBound
            return over > 0 ? acc + over * over : acc
        }
    }

    /// Makes an independent evaluator (its own scratch tables) for a copy of this problem that runs on another
    /// thread (`copy`); nil when the problem has just the one evaluator.
    let makeEvaluate: (() -> Evaluate)?

    init(model: String, names: [String], kinds: [ParameterKind], scales: [Double], n: Int, evaluate: @escaping Evaluate) {
        self.model = model
        self.names = names
        self.kinds = kinds
        self.scales = scales
        self.n = n
        self.evaluate = evaluate
        self.makeEvaluate = nil
        p = [Double](repeating: 0, count: names.count)
        g = [Double](repeating: 0, count: names.count)
    }

    /// A problem whose evaluators come from `makeEvaluate` (called once per copy), so that independent pieces of a
    /// fit (starting points, BFGS runs, Hessian columns, edge probes) can be evaluated on several threads. Every
    /// evaluator computes the same function with the same operations, so which copy evaluates what changes nothing.
    init(model: String, names: [String], kinds: [ParameterKind], scales: [Double], n: Int, makeEvaluate: @escaping () -> Evaluate) {
        self.model = model
        self.names = names
        self.kinds = kinds
        self.scales = scales
        self.n = n
        self.evaluate = makeEvaluate()
        self.makeEvaluate = makeEvaluate
        p = [Double](repeating: 0, count: names.count)
        g = [Double](repeating: 0, count: names.count)
    }

    /// An independent copy (own evaluator, scratch buffers, cache and evaluation count), or nil without a factory.
    func copy() -> MLEProblem? {
        guard let makeEvaluate else { return nil }
        let c = MLEProblem(model: model, names: names, kinds: kinds, scales: scales, n: n, makeEvaluate: makeEvaluate)
        c.ridges = ridges
        return c
    }

    func natural(_ theta: [Double]) -> [Double] { zip(theta, scales).map { $1 * exp($0) } }
    func theta(_ natural: [Double]) -> [Double] { zip(natural, scales).map { log($0 / $1) } }

    /// Objective: mean negative log-likelihood plus the box penalty, and its gradient wrt theta.
    // Cache of the last evaluation (theta, LL, d LL / d p): GSL's bfgs2 line search often asks for the gradient
    // at a point whose value it has just requested, so every evaluation computes the gradient as well.
    private var cacheTheta: [Double] = []
    private var cacheLL = Double.nan
    static let alwaysGradient = true

    func objective(_ theta: UnsafePointer<Double>, stride: Int, gradOut: UnsafeMutablePointer<Double>?, gradStride: Int) -> Double {
        let k = dim
        var penalty = 0.0
        var hit = cacheTheta.count == k
        for i in 0..<k {
            let th = theta[i * stride]
            if hit && cacheTheta[i].bitPattern != th.bitPattern { hit = false }
            let over = abs(th) - MLEProblem.thetaBound
            if over > 0 { penalty += over * over }
        }
        let inv = 1.0 / Double(n)
        if !hit || (gradOut != nil && !MLEProblem.alwaysGradient) {
            if cacheTheta.count != k { cacheTheta = [Double](repeating: 0, count: k) }
            for i in 0..<k {
                cacheTheta[i] = theta[i * stride]
                p[i] = scales[i] * exp(cacheTheta[i])
            }
            evaluations += 1
            let withGrad = gradOut != nil || MLEProblem.alwaysGradient
            cacheLL = p.withUnsafeBufferPointer { pb in
                g.withUnsafeMutableBufferPointer { gb in
                    evaluate(pb.baseAddress!, withGrad ? gb.baseAddress! : nil)
                }
            }
            if !withGrad { cacheTheta = [] }
        }
        let ll = cacheLL
        guard ll.isFinite else {
            if let go = gradOut { for i in 0..<k { go[i * gradStride] = 0 } }
            return 1e100
        }
        if let go = gradOut {
            for i in 0..<k {
                let th = theta[i * stride]
                let over = abs(th) - MLEProblem.thetaBound
                var d = -g[i] * p[i] * inv
                if over > 0 { d += 2 * over * (th > 0 ? 1 : -1) }
                go[i * gradStride] = d.isFinite ? d : 0
            }
        }
        return -ll * inv + penalty
    }

    /// Total LL and its gradient wrt log-parameters (no penalty) at theta.
    func logLikelihoodAndThetaGradient(_ theta: [Double]) -> (Double, [Double]) {
        let pp = natural(theta)
        evaluations += 1
        var gg = [Double](repeating: 0, count: dim)
        let ll = pp.withUnsafeBufferPointer { pb in gg.withUnsafeMutableBufferPointer { evaluate(pb.baseAddress!, $0.baseAddress!) } }
        return (ll, (0..<dim).map { gg[$0] * pp[$0] })
    }

    func logLikelihood(_ theta: [Double]) -> Double {
        let pp = natural(theta)
        evaluations += 1
        return pp.withUnsafeBufferPointer { evaluate($0.baseAddress!, nil) }
    }

    /// The points probed by `ridge(at:ll:)`, one per ridge in order.
    func ridgeProbes(_ theta: [Double]) -> [[Double]] {
        ridges.map { r in
            var probe = theta
            for i in r.indices { probe[i] += log(BoundaryRule.ridgeFactor) }
            return probe
        }
    }

    /// `ridge(at:ll:)` from the log-likelihoods at `ridgeProbes` (evaluated elsewhere, e.g. in parallel).
    func ridge(ll: Double, probed: [Double]) -> (Ridge, Double, Int)? {
        for (position, r) in ridges.enumerated() {
            let far = probed[position]
            if far.isFinite && far >= ll - BoundaryRule.edgeTolerance * max(1, abs(ll)) { return (r, far, position) }
        }
        return nil
    }

    /// The first ridge along which the log-likelihood `ll` at `theta` does not decrease when the ridge's
    /// parameters are multiplied together by `BoundaryRule.ridgeFactor`, with the likelihood there.
    func ridge(at theta: [Double], ll: Double) -> (Ridge, Double, Int)? {
        for (position, r) in ridges.enumerated() {
            var probe = theta
            for i in r.indices { probe[i] += log(BoundaryRule.ridgeFactor) }
            let far = logLikelihood(probe)
            if far.isFinite && far >= ll - BoundaryRule.edgeTolerance * max(1, abs(ll)) { return (r, far, position) }
        }
        return nil
    }
}

/// A problem and independent copies of it (one per core, when the problem can make evaluators): independent
/// evaluations (starting points, the BFGS runs, Hessian columns, edge and ridge probes) run on all of them at once.
/// Task i always computes the same thing whichever copy runs it, so results do not depend on the number of threads.
final class ProblemPool {
    let problems: [MLEProblem]
    static let defaultWidth = max(1, ProcessInfo.processInfo.activeProcessorCount)

    init(_ prob: MLEProblem, width: Int = ProblemPool.defaultWidth) {
        var problems = [prob]
        while problems.count < width, let c = prob.copy() { problems.append(c) }
        self.problems = problems
    }

    /// Likelihood evaluations over every copy.
    var evaluations: Int { problems.reduce(0) { $0 + $1.evaluations } }

    /// [body(problem, 0), ..., body(problem, count - 1)], task i run on copy i % width.
    func map<T>(_ count: Int, _ body: (MLEProblem, Int) -> T) -> [T] {
        let width = min(problems.count, count)
        guard width > 1 else { return (0..<count).map { body(problems[0], $0) } }
        var out = [T?](repeating: nil, count: count)
        out.withUnsafeMutableBufferPointer { buffer in
            withoutActuallyEscaping(body) { body in
                let shared = UncheckedShared(buffer: buffer, problems: problems, body: body)
                DispatchQueue.concurrentPerform(iterations: width) { k in
                    var i = k
                    while i < count {
                        shared.buffer[i] = shared.body(shared.problems[k], i)
                        i += width
                    }
                }
            }
        }
        return out.map { $0! }
    }
}

/// What `ProblemPool.map`'s workers share: each writes only its own tasks' slots and uses only its own copy.
private struct UncheckedShared<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T?>
    let problems: [MLEProblem]
    let body: (MLEProblem, Int) -> T
}

private func problemFrom(_ params: UnsafeMutableRawPointer?) -> MLEProblem {
    Unmanaged<MLEProblem>.fromOpaque(params!).takeUnretainedValue()
}

private let fCallback: @convention(c) (UnsafePointer<gsl_vector>?, UnsafeMutableRawPointer?) -> Double = { v, params in
    let prob = problemFrom(params)
    let vec = v!.pointee
    return prob.objective(vec.data, stride: vec.stride, gradOut: nil, gradStride: 1)
}

private let dfCallback: @convention(c) (UnsafePointer<gsl_vector>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<gsl_vector>?) -> Void = { v, params, df in
    let prob = problemFrom(params)
    let vec = v!.pointee
    let out = df!.pointee
    _ = prob.objective(vec.data, stride: vec.stride, gradOut: out.data, gradStride: out.stride)
}

private let fdfCallback:
    @convention(c) (UnsafePointer<gsl_vector>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<gsl_vector>?) -> Void = {
        v, params, f, df in
        let prob = problemFrom(params)
        let vec = v!.pointee
        let out = df!.pointee
        f!.pointee = prob.objective(vec.data, stride: vec.stride, gradOut: out.data, gradStride: out.stride)
    }

private func statusText(_ s: Int32) -> String { String(cString: gsl_strerror(s)) }

struct RunOutcome {
    var theta: [Double]
    var objective: Double
    var converged: Bool
    var status: String
    var method: String
    var iterations: Int
    var evaluations = 0
    /// BFGS stopped because the likelihood kept increasing along a ridge.
    var stoppedOnRidge = false
    /// BFGS stopped because its line search made no progress (GSL_ENOPROG).
    var noProgress = false
}

enum Optimizer {
    /// A search has converged when the gradient of the mean log-likelihood (per customer) wrt log-parameters is below
    /// this after Newton refinement (`search`); also the default tolerance of `bfgs`.
    static let gradientTolerance = 1e-6
    /// BFGS in a search stops at this mean gradient and hands over to Newton refinement (`newtonPolish`).
    static let searchGradientTolerance = 1e-3
    /// A ridge found where a search's BFGS stopped is confirmed after BFGS has gone on to this mean gradient.
    static let ridgeConfirmTolerance = 1e-4
    /// Newton refinement steps at most, and halvings of a step that does not improve the likelihood.
    static let newtonSteps = 10, newtonHalvings = 3
    /// Accepted when BFGS stops making progress (GSL_ENOPROG) with a gradient this small.
    static let looseGradientTolerance = 1e-5
    /// Final convergence criterion on the mean log-likelihood gradient after Newton refinement.
    static let finalGradientTolerance = 1e-7
    static let maxIterations = 500
    /// From this BFGS iteration on, every `ridgeCheckEvery`-th iteration probes the model's ridges.
    static let ridgeCheckStart = 30, ridgeCheckEvery = 10

    static func bfgs(_ prob: MLEProblem, start: [Double], tolerance: Double = gradientTolerance) -> RunOutcome {
        let k = prob.dim
        let unmanaged = Unmanaged.passUnretained(prob)
        var fdf = gsl_multimin_function_fdf(
            f: fCallback, df: dfCallback, fdf: fdfCallback, n: k,
            params: unmanaged.toOpaque())
        let x = gsl_vector_alloc(k)!
        defer { gsl_vector_free(x) }
        for i in 0..<k { gsl_vector_set(x, i, start[i]) }
        let s = gsl_multimin_fdfminimizer_alloc(cgsl_multimin_bfgs2(), k)!
        defer { gsl_multimin_fdfminimizer_free(s) }
        var status = gsl_multimin_fdfminimizer_set(s, &fdf, x, 0.1, 0.1)
        var iterations = 0
        var converged = false
        var ridgeNote = ""
        func gradNorm() -> Double {
            let gvec = gsl_multimin_fdfminimizer_gradient(s)!
            var acc = 0.0
            for i in 0..<k { let v = gsl_vector_get(gvec, i); acc += v * v }
            return acc.squareRoot()
        }
        if status == GSL_SUCCESS {
            if gradNorm() < tolerance { converged = true }
            while !converged && iterations < maxIterations {
                iterations += 1
                status = gsl_multimin_fdfminimizer_iterate(s)
                if status != GSL_SUCCESS { break }
                if gradNorm() < tolerance { converged = true }
                // Creeping along a ridge (see `Ridge`): stop there; `summarize` reports the boundary.
                if !converged && !prob.ridges.isEmpty && iterations >= ridgeCheckStart && iterations % ridgeCheckEvery == 0 {
                    let xs = gsl_multimin_fdfminimizer_x(s)!
                    let theta = (0..<k).map { gsl_vector_get(xs, $0) }
                    if theta.allSatisfy({ abs($0) < MLEProblem.thetaBound }),
                        let (ridge, _, _) = prob.ridge(at: theta, ll: -gsl_multimin_fdfminimizer_minimum(s) * Double(prob.n))
                    {
                        ridgeNote = "; stopped on the ridge " + ridge.indices.map { prob.names[$0] }.joined(separator: ", ") + " -> infinity"
                        converged = true
                    }
                }
            }
        }
        let fval = gsl_multimin_fdfminimizer_minimum(s)
        if !converged && status == GSL_ENOPROG && gradNorm() < looseGradientTolerance && fval.isFinite {
            converged = true
        }
        let xs = gsl_multimin_fdfminimizer_x(s)!
        let theta = (0..<k).map { gsl_vector_get(xs, $0) }
        var text = statusText(status) + ridgeNote
        if !converged && iterations >= maxIterations { text += "; iteration limit \(maxIterations) reached" }
        return RunOutcome(
            theta: theta, objective: fval, converged: converged && fval < 1e99, status: text,
            method: "bfgs2", iterations: iterations, stoppedOnRidge: !ridgeNote.isEmpty, noProgress: status == GSL_ENOPROG)
    }

    static func simplex(_ prob: MLEProblem, start: [Double]) -> RunOutcome {
        let k = prob.dim
        let unmanaged = Unmanaged.passUnretained(prob)
        var fn = gsl_multimin_function(f: fCallback, n: k, params: unmanaged.toOpaque())
        let x = gsl_vector_alloc(k)!
        let step = gsl_vector_alloc(k)!
        defer { gsl_vector_free(x); gsl_vector_free(step) }
        for i in 0..<k { gsl_vector_set(x, i, start[i]); gsl_vector_set(step, i, 0.5) }
        let s = gsl_multimin_fminimizer_alloc(cgsl_multimin_nmsimplex2(), k)!
        defer { gsl_multimin_fminimizer_free(s) }
        var status = gsl_multimin_fminimizer_set(s, &fn, x, step)
        var iterations = 0
        var converged = false
        while status == GSL_SUCCESS && iterations < 5000 {
            iterations += 1
            status = gsl_multimin_fminimizer_iterate(s)
            if status != GSL_SUCCESS { break }
            let size = gsl_multimin_fminimizer_size(s)
            if gsl_multimin_test_size(size, 1e-7) == GSL_SUCCESS { converged = true; break }
        }
        let xs = gsl_multimin_fminimizer_x(s)!
        let theta = (0..<k).map { gsl_vector_get(xs, $0) }
        let fval = gsl_multimin_fminimizer_minimum(s)
        return RunOutcome(
            theta: theta, objective: fval, converged: converged && fval < 1e99,
            status: statusText(status) + (converged ? "" : "; simplex did not shrink below 1e-7"),
            method: "nmsimplex2", iterations: iterations)
    }

    /// A search's end point after Newton refinement: theta, the log-likelihood and its theta-gradient there, the
    /// Hessian of -LL there (nil when not positive definite) and the Newton steps taken.
    struct Polished {
        var theta: [Double]
        var ll: Double
        var grad: [Double]
        var hessian: [Double]?
        var steps: Int
        /// Norm of the gradient of the mean log-likelihood.
        func meanGradientNorm(_ n: Int) -> Double { grad.reduce(0) { $0 + $1 * $1 }.squareRoot() / Double(n) }
    }

    /// One search from `start`: BFGS until the mean gradient is below `searchGradientTolerance`, then Newton
    /// refinement (`newtonPolish`), which from there reaches the optimum in a step or two where BFGS would creep
    /// (the likelihood is ill-conditioned in the dropout parameters). Converged when the refined mean gradient is
    /// below `gradientTolerance`; should Newton not get there, BFGS goes on from the refined point to
    /// `gradientTolerance` (the search as it was before refinement existed) and is refined again. A run that
    /// stopped on a ridge keeps BFGS's verdict.
    static func search(_ pool: ProblemPool, start: [Double]) -> (RunOutcome, Polished) {
        let prob = pool.problems[0]
        let before = pool.evaluations
        var run = bfgs(prob, start: start, tolerance: searchGradientTolerance)
        // BFGS probes the ridges only once it has run a while; a search that converges to the loose tolerance
        // sooner may have done so on a ridge, so it is probed here. The loose point can be short of an interior
        // optimum by more than a nearby ridge's limit is, so a ridge found there is confirmed closer in: BFGS goes on
        // to `ridgeConfirmTolerance` (probing the ridges as it goes) and the ridge is probed again. On a ridge Newton
        // would only move along it: the Hessian is computed (for the report) but no step is taken.
        func ridgeReached(_ r: RunOutcome) -> Ridge? {
            guard r.converged, !r.stoppedOnRidge, !prob.ridges.isEmpty, r.theta.allSatisfy({ abs($0) < MLEProblem.thetaBound }) else { return nil }
            return prob.ridge(at: r.theta, ll: -r.objective * Double(prob.n))?.0
        }
        if ridgeReached(run) != nil {
            let closer = bfgs(prob, start: run.theta, tolerance: ridgeConfirmTolerance)
            run.iterations += closer.iterations
            run.status += "; then bfgs2 to \(ridgeConfirmTolerance) to confirm a ridge: " + closer.status
            if closer.objective.isFinite && closer.objective <= run.objective {
                run.theta = closer.theta
                run.objective = closer.objective
                run.converged = closer.converged
                run.stoppedOnRidge = closer.stoppedOnRidge
                run.noProgress = closer.noProgress
            }
            if let ridge = ridgeReached(run) {
                run.status += "; stopped on the ridge " + ridge.indices.map { prob.names[$0] }.joined(separator: ", ") + " -> infinity"
                run.stoppedOnRidge = true
            }
        }
        var polished = newtonPolish(pool, run.theta, maxSteps: run.stoppedOnRidge ? 0 : newtonSteps)
        if !run.stoppedOnRidge && polished.ll.isFinite {
            if polished.meanGradientNorm(prob.n) < gradientTolerance {
                run.converged = true
            } else if run.converged || run.noProgress, !prob.ridges.isEmpty, polished.theta.allSatisfy({ abs($0) < MLEProblem.thetaBound }),
                let (ridge, _, _) = prob.ridge(at: polished.theta, ll: polished.ll)
            {
                // Newton did not converge because it was moving along a ridge.
                run.status += "; Newton refinement moved along the ridge " + ridge.indices.map { prob.names[$0] }.joined(separator: ", ") + " -> infinity"
                run.stoppedOnRidge = true
                run.converged = true
            } else if run.converged || run.noProgress {
                let tight = bfgs(prob, start: polished.theta, tolerance: gradientTolerance)
                let again = newtonPolish(pool, tight.theta, maxSteps: tight.stoppedOnRidge ? 0 : newtonSteps)
                run.iterations += tight.iterations
                run.status += "; then bfgs2 to the gradient tolerance: " + tight.status
                run.stoppedOnRidge = tight.stoppedOnRidge
                if again.ll.isFinite && again.ll >= polished.ll {
                    polished = again
                    run.converged = tight.converged || again.meanGradientNorm(prob.n) < gradientTolerance
                } else {
                    run.converged = false
                }
            } else {
                run.converged = false
            }
        }
        if polished.ll.isFinite {
            run.theta = polished.theta
            run.objective = -polished.ll / Double(prob.n) + MLEProblem.penalty(polished.theta)
        }
        if polished.steps > 0 { run.status += "; \(polished.steps) Newton refinement step\(polished.steps == 1 ? "" : "s")" }
        run.evaluations = pool.evaluations - before
        return (run, polished)
    }

    /// Whether a converged search needs no second opinion: an interior optimum (every parameter within the
    /// boundary thresholds, no ridge) with a positive-definite Hessian, i.e. a strict local maximum away from the
    /// edges of the parameter space.
    static func isClean(_ prob: MLEProblem, _ run: RunOutcome, _ polished: Polished, dataScales: [Double]) -> Bool {
        guard run.converged, !run.stoppedOnRidge, polished.hessian != nil else { return false }
        let est = prob.natural(polished.theta)
        for i in 0..<prob.dim {
            let ratio = est[i] / (prob.kinds[i] == .shape ? 1.0 : dataScales[i])
            if !(ratio >= BoundaryRule.low && ratio <= BoundaryRule.high) { return false }
        }
        return true
    }

    /// Multi-start maximum likelihood:
    /// 1. the objective is evaluated at every deterministic candidate start; a search (`search`: BFGS to a loose
    ///    tolerance, then Newton refinement) runs from the best one;
    /// 2. unless that search ends cleanly (`isClean`: converged to an interior strict local maximum), a second
    ///    search runs from the second-best start;
    /// 3. if neither converges, Nelder-Mead (nmsimplex2) runs from the best candidate and BFGS polishes its
    ///    result (reported as method "nmsimplex2");
    /// 4. the converged run with the highest likelihood wins (if none converged: the highest likelihood, with
    ///    `converged = false`).
    /// `width`: copies of the problem evaluated side by side (1: everything on `prob`); the result does not depend on it.
    static func fit(_ prob: MLEProblem, candidates: [[Double]], dataScales: [Double], width: Int = ProblemPool.defaultWidth) throws -> FitResult {
        let pool = ProblemPool(prob, width: width)
        let thetas = candidates.map { prob.theta($0) }
        let startLL = pool.map(thetas.count) { pr, i in pr.logLikelihood(thetas[i]) }
        var scored: [(Int, Double)] = []
        for (i, ll) in startLL.enumerated() {
            scored.append((i, ll.isFinite ? -ll : Double.infinity))
        }
        scored.sort { (u: (Int, Double), v: (Int, Double)) -> Bool in
            u.1 < v.1 || (u.1 == v.1 && u.0 < v.0)
        }
        let afterStarts = pool.evaluations
        var runs: [(RunOutcome, Polished)] = []
        for (i, _) in scored.prefix(2) {
            let outcome = search(pool, start: thetas[i])
            runs.append(outcome)
            if isClean(prob, outcome.0, outcome.1, dataScales: dataScales) { break }
        }
        var notes = [
            "starts (natural scale) searched from: " + scored.prefix(runs.count).map { "\(candidates[$0.0])" }.joined(separator: ", "),
            "searches (BFGS, then Newton): "
                + runs.map {
                    "\($0.0.iterations) iterations, \($0.0.evaluations) evaluations, -LL/n = \($0.0.objective), \($0.0.converged ? "converged" : "not converged")"
                }.joined(separator: "; "),
        ]
        if !runs.contains(where: \.0.converged) {
            let best = scored[0].0
            var sx = simplex(prob, start: thetas[best])
            let polish = bfgs(prob, start: sx.theta)
            if polish.objective.isFinite && polish.objective <= sx.objective {
                sx.theta = polish.theta
                sx.objective = polish.objective
                sx.converged = polish.converged || sx.converged
                sx.status += "; then bfgs2 polish: " + polish.status
                sx.iterations += polish.iterations
            }
            notes.append("BFGS did not converge from any start; fell back to nmsimplex2 from \(candidates[best])")
            var polished = newtonPolish(pool, sx.theta)
            if polished.ll.isFinite {
                sx.theta = polished.theta
                sx.objective = -polished.ll / Double(prob.n) + MLEProblem.penalty(polished.theta)
            } else {
                polished.theta = sx.theta
            }
            if polished.steps > 0 { sx.status += "; \(polished.steps) Newton refinement step\(polished.steps == 1 ? "" : "s")" }
            runs.append((sx, polished))
        }
        let finished = runs.contains(where: \.0.converged) ? runs.filter(\.0.converged) : runs
        guard let best = finished.filter({ $0.0.objective.isFinite && $0.0.objective < 1e99 }).min(by: { $0.0.objective < $1.0.objective }) else {
            throw CLVError.fitFailed("\(prob.model): no starting point gave a finite likelihood")
        }
        notes.append("likelihood evaluations: \(afterStarts) at the starts, \(pool.evaluations - afterStarts) in the searches")
        let beforeSummary = pool.evaluations
        var result = summarize(pool, best.0, polished: best.1, dataScales: dataScales, notes: notes)
        result.notes.append("likelihood evaluations: \(pool.evaluations - beforeSummary) for the boundary and ridge probes, \(pool.evaluations) in total")
        return result
    }

    /// Hessian of -LL (total) wrt theta by central differences (step 1e-4) of the analytic gradient, symmetrised,
    /// and the gradient of LL at theta. `center`: LL and its theta-gradient at theta when already known.
    static func hessian(_ pool: ProblemPool, _ theta: [Double], center: (Double, [Double])? = nil) -> (H: [Double], ll: Double, grad: [Double]) {
        let k = pool.problems[0].dim
        let h = 1e-4
        // Task 2j: theta + h e_j; task 2j + 1: theta - h e_j; task 2k: theta (when not known).
        var points: [[Double]] = (0..<k).flatMap { j -> [[Double]] in
            var tp = theta, tm = theta
            tp[j] += h
            tm[j] -= h
            return [tp, tm]
        }
        if center == nil { points.append(theta) }
        let values = pool.map(points.count) { pr, i in pr.logLikelihoodAndThetaGradient(points[i]) }
        let (ll, grad) = center ?? values[2 * k]
        var H = [Double](repeating: 0, count: k * k)
        for j in 0..<k {
            let gp = values[2 * j].1
            let gm = values[2 * j + 1].1
            for i in 0..<k { H[i * k + j] = -(gp[i] - gm[i]) / (2 * h) }
        }
        for i in 0..<k {
            for j in 0..<k where j > i {
                let m = 0.5 * (H[i * k + j] + H[j * k + i])
                H[i * k + j] = m
                H[j * k + i] = m
            }
        }
        return (H, ll, grad)
    }

    /// Up to `maxSteps` Newton steps theta <- theta + H^-1 grad LL (H = numeric Hessian of -LL), each accepted when
    /// it raises the log-likelihood (beyond 1e-12 relative rounding) or, at rounding level, does not lower it and
    /// shrinks the gradient; a step that fails is halved (up to `newtonHalvings` times). BFGS's line search compares
    /// function values and converges slowly along the likelihood's flat directions, while the analytic gradient and
    /// the Hessian carry the information to finish in a few steps. The Hessian (8 gradients) is kept from step to
    /// step while each step at least halves the gradient (a simplified Newton method: one evaluation per step) and
    /// computed afresh otherwise, when a step fails with a Hessian from an earlier point, and at the final point.
    /// Returns the final theta, LL and gradient there, the Hessian there (nil when not positive definite) and the
    /// steps taken.
    static func newtonPolish(_ pool: ProblemPool, _ start: [Double], maxSteps: Int = newtonSteps) -> Polished {
        let prob = pool.problems[0]
        let k = prob.dim
        var theta = start
        var (H, ll, grad) = hessian(pool, theta)
        var stale = false
        var steps = 0
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        while steps < maxSteps {
            let gnorm = norm(grad)
            guard gnorm > 1e-9 * Double(prob.n) else { break }
            guard let cov = invertSPD(H, k) else {
                if stale {
                    (H, _, _) = hessian(pool, theta, center: (ll, grad))
                    stale = false
                    continue
                }
                break
            }
            var step = (0..<k).map { i in (0..<k).reduce(0.0) { $0 + cov[i * k + $1] * grad[$1] } }
            let len = norm(step)
            if len > 1 { step = step.map { $0 / len } }
            var accepted: ([Double], Double, [Double])?
            for _ in 0...newtonHalvings {
                let cand = (0..<k).map { theta[$0] + step[$0] }
                guard cand.allSatisfy({ abs($0) < MLEProblem.thetaBound }) else { break }
                let (llNew, gNew) = prob.logLikelihoodAndThetaGradient(cand)
                let rounding = 1e-12 * abs(ll)
                if llNew.isFinite && (llNew > ll + rounding || (llNew >= ll - rounding && norm(gNew) < gnorm)) {
                    accepted = (cand, llNew, gNew)
                    break
                }
                step = step.map { $0 / 2 }
            }
            guard let (cand, llNew, gNew) = accepted else {
                if stale {
                    (H, _, _) = hessian(pool, theta, center: (ll, grad))
                    stale = false
                    continue
                }
                break
            }
            // BFGS update of H with the step and the change of the gradient of -LL (kept positive definite by
            // skipping it when the curvature along the step is not positive).
            let sv = (0..<k).map { cand[$0] - theta[$0] }
            let yv = (0..<k).map { grad[$0] - gNew[$0] }
            let hs = (0..<k).map { i in (0..<k).reduce(0.0) { $0 + H[i * k + $1] * sv[$1] } }
            let ys = zip(yv, sv).reduce(0.0) { $0 + $1.0 * $1.1 }
            let shs = zip(sv, hs).reduce(0.0) { $0 + $1.0 * $1.1 }
            if ys > 0 && shs > 0 {
                for i in 0..<k { for j in 0..<k { H[i * k + j] += yv[i] * yv[j] / ys - hs[i] * hs[j] / shs } }
            }
            theta = cand
            ll = llNew
            grad = gNew
            steps += 1
            stale = true
            if norm(gNew) > 0.5 * gnorm {
                (H, _, _) = hessian(pool, theta, center: (ll, grad))
                stale = false
            }
        }
        if stale { (H, _, _) = hessian(pool, theta, center: (ll, grad)) }
        return Polished(theta: theta, ll: ll, grad: grad, hessian: invertSPD(H, k) == nil ? nil : H, steps: steps)
    }

    static func summarize(_ pool: ProblemPool, _ run: RunOutcome, polished: Polished, dataScales: [Double], notes: [String]) -> FitResult {
        let prob = pool.problems[0]
        let k = prob.dim
        let theta = polished.theta
        let H = polished.hessian
        let est = prob.natural(theta)
        // Every likelihood this needs (LL and its gradient at theta are known), evaluated side by side: the two edge
        // probes of each parameter inside its thresholds, and one probe per ridge.
        var edgeProbes: [[Double]] = []
        var edgeTask = [Int](repeating: -1, count: k)
        for i in 0..<k {
            let ref = prob.kinds[i] == .shape ? 1.0 : dataScales[i]
            let ratio = est[i] / ref
            if ratio < BoundaryRule.low || ratio > BoundaryRule.high { continue }
            edgeTask[i] = edgeProbes.count
            for edge in [log(BoundaryRule.low), log(BoundaryRule.high)] {
                var probe = theta
                probe[i] = edge + log(ref / prob.scales[i])
                edgeProbes.append(probe)
            }
        }
        let ridgeProbes = prob.ridgeProbes(theta)
        let probes = edgeProbes + ridgeProbes
        let probed = pool.map(probes.count) { pr, i in pr.logLikelihood(probes[i]) }
        let (ll, grad) = (polished.ll, polished.grad)
        let gnorm = grad.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var notes = notes
        var seTheta = [Double](repeating: .nan, count: k)
        if let H, let cov = invertSPD(H, k) {
            for i in 0..<k where cov[i * k + i] > 0 { seTheta[i] = cov[i * k + i].squareRoot() }
        } else {
            notes.append("Hessian of -LL is not positive definite: standard errors unavailable")
        }
        let converged = run.converged || gnorm < finalGradientTolerance * Double(prob.n)
        let zq = Normal.quantile(0.975)
        let se = (0..<k).map { est[$0] * seTheta[$0] }
        let ci = (0..<k).map { i -> ConfidenceInterval in
            seTheta[i].isFinite
                ? ConfidenceInterval(lower: est[i] * exp(-zq * seTheta[i]), upper: est[i] * exp(zq * seTheta[i]), level: 0.95)
                : ConfidenceInterval(lower: .nan, upper: .nan, level: 0.95)
        }
        var boundary: [String] = [], details: [String] = []
        for i in 0..<k {
            let ref = prob.kinds[i] == .shape ? 1.0 : dataScales[i]
            let ratio = est[i] / ref
            let what = prob.kinds[i] == .shape ? "estimate" : "estimate / data scale \(ref)"
            if ratio < BoundaryRule.low {
                boundary.append(prob.names[i])
                details.append("\(prob.names[i]) collapsed to 0 (\(what) = \(ratio) < \(BoundaryRule.low))")
            } else if ratio > BoundaryRule.high {
                boundary.append(prob.names[i])
                details.append("\(prob.names[i]) exploded (\(what) = \(ratio) > \(BoundaryRule.high))")
            } else {
                // Edge probe: the optimiser may stop early on a likelihood that keeps creeping up towards the
                // edge (e.g. everyone with x = 0: LL -> 0 as r -> 0 or alpha -> infinity). Moving this parameter
                // alone to a threshold (1e-4 or 1e4 times its reference scale) must lower the likelihood.
                for (e, edge) in [log(BoundaryRule.low), log(BoundaryRule.high)].enumerated() {
                    let probe = edgeProbes[edgeTask[i] + e]
                    let llEdge = probed[edgeTask[i] + e]
                    if llEdge.isFinite && llEdge >= ll - BoundaryRule.edgeTolerance * max(1, abs(ll)) {
                        boundary.append(prob.names[i])
                        let to = edge < 0 ? "0" : "infinity"
                        details.append(
                            "\(prob.names[i]): the likelihood does not decrease as \(prob.names[i]) -> \(to) (LL \(llEdge) at \(prob.names[i]) = \(prob.scales[i] * exp(probe[i])) vs \(ll) at the estimate): the MLE is on the boundary or \(prob.names[i]) is not identified"
                        )
                        break
                    }
                }
            }
        }
        var reached: RidgeReached?
        if let (ridge, far, position) = prob.ridge(ll: ll, probed: Array(probed[edgeProbes.count...])) {
            for i in ridge.indices where !boundary.contains(prob.names[i]) { boundary.append(prob.names[i]) }
            let names = ridge.indices.map { prob.names[$0] }.joined(separator: " and ")
            let fixed = ridge.ratio(est)
            reached = RidgeReached(
                position: position, indices: ridge.indices, names: ridge.indices.map { prob.names[$0] }, ratioName: fixed.name,
                ratioValue: fixed.value, meaning: ridge.meaning)
            details.append(
                "\(names) grow together without the likelihood decreasing (LL \(far) with both multiplied by \(formatDouble(BoundaryRule.ridgeFactor)) vs \(ll) at the estimate): \(ridge.meaning) (\(fixed.name) = \(fixed.value)); the MLE is this limit, a boundary of the model, so \(names) are not identified"
            )
        }
        let nn = Double(prob.n)
        return FitResult(
            model: prob.model, parameterNames: prob.names, estimates: est, standardErrors: se,
            confidenceIntervals: ci, logLikelihood: ll, aic: 2 * Double(k) - 2 * ll,
            bic: Double(k) * log(nn) - 2 * ll, n: prob.n, converged: converged,
            status: run.status, method: run.method, iterations: run.iterations, gradientNorm: gnorm,
            stoppedOnRidge: run.stoppedOnRidge,
            boundary: boundary, boundaryDetails: details, notes: notes, ridge: reached)
    }

    /// Inverse of a symmetric positive-definite matrix by Cholesky (GSL); nil when not positive definite.
    static func invertSPD(_ a: [Double], _ k: Int) -> [Double]? {
        guard a.allSatisfy(\.isFinite) else { return nil }
        let m = gsl_matrix_alloc(k, k)!
        defer { gsl_matrix_free(m) }
        for i in 0..<k { for j in 0..<k { gsl_matrix_set(m, i, j, a[i * k + j]) } }
        guard gsl_linalg_cholesky_decomp1(m) == GSL_SUCCESS else { return nil }
        guard gsl_linalg_cholesky_invert(m) == GSL_SUCCESS else { return nil }
        var out = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0..<k { out[i * k + j] = gsl_matrix_get(m, i, j) } }
        return out.allSatisfy(\.isFinite) ? out : nil
    }
}
