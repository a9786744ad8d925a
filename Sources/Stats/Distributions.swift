import CGSL
import CGSLRuntime

/// Distribution functions, all from GSL. Arguments outside a function's domain (NaN, a
/// non-positive df, p outside (0, 1)) give NaN here instead of reaching GSL, whose default error
/// handler would abort the process.
public enum Normal {
    public static func cdf(_ x: Double) -> Double { gsl_cdf_ugaussian_P(x) }
    public static func sf(_ x: Double) -> Double { gsl_cdf_ugaussian_Q(x) }
    public static func quantile(_ p: Double) -> Double { p > 0 && p < 1 ? gsl_cdf_ugaussian_Pinv(p) : .nan }
    /// Two-sided p-value of a z statistic.
    public static func twoSidedP(_ z: Double) -> Double { 2 * gsl_cdf_ugaussian_Q(abs(z)) }
}

public enum StudentT {
    public static func cdf(_ t: Double, df: Double) -> Double { df > 0 && !t.isNaN ? gsl_cdf_tdist_P(t, df) : .nan }
    public static func quantile(_ p: Double, df: Double) -> Double { df > 0 && p > 0 && p < 1 ? gsl_cdf_tdist_Pinv(p, df) : .nan }
    public static func twoSidedP(_ t: Double, df: Double) -> Double { df > 0 && !t.isNaN ? 2 * gsl_cdf_tdist_Q(abs(t), df) : .nan }
}

public enum ChiSquare {
    /// Upper tail P(X > x).
    public static func sf(_ x: Double, df: Double) -> Double { df > 0 && !x.isNaN ? gsl_cdf_chisq_Q(x, df) : .nan }
    public static func cdf(_ x: Double, df: Double) -> Double { df > 0 && !x.isNaN ? gsl_cdf_chisq_P(x, df) : .nan }
}

/// GSL's default error handler aborts the process; CGSLRuntime switches it off when the program is
/// loaded, so domain errors come back as status codes and NaNs in every executable and test.
public enum GSLRuntime {
    /// Whether a GSL error would still abort the process (false once the load-time switch ran).
    public static var errorsAbort: Bool { cgsl_runtime_errors_abort() != 0 }
}
