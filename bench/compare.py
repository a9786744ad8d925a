"""Every hot task of the pipeline beside the Python tool it replaces (make bench-compare).

Not part of the pipeline and not in CI: it runs in a throwaway virtualenv under .build/. Each task is
run --repeats times, the peer and ours interleaved in this one process tree (peer, ours, peer, ours,
...); the medians and their ratio go to <out>/compare.csv (task,peer,rows,peer_seconds,ours_seconds,
speedup). Ours runs as a child process of this script (`pipeline-bench` in an internal mode) that
times the same work the peer's timed call does and prints its result, which is checked against the
peer's: <out>/checks.csv says what was compared and whether it agrees, <out>/compare_info.json
records the machine and the tool versions. All three are written atomically (temporary file, then
rename). `pipeline-bench --report` turns them into reports/bench.md.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestRegressor

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--raw", default="data/raw")
p.add_argument("--swift-bench", default=".build/release/pipeline-bench")
p.add_argument("--repeats", type=int, default=5, help="timed runs per task and tool (the median is reported)")
p.add_argument("--scorer", default=".build/release/score")
p.add_argument("--models", default="models")
p.add_argument("--prepared", default="data/processed/prepare")
p.add_argument("--uplift", default="data/processed/uplift")
p.add_argument("--replicates", type=int, default=500, help="bootstrap replicates of the uplift evaluation (the stage's default)")
p.add_argument("--out", default="data/processed/bench")
p.add_argument("--only", default="", help="comma-separated task families to run (csv,clv,forest,uplift,scoring); default all")
args = p.parse_args()

CORES = os.cpu_count() or 1
LOAD_AT_START = os.getloadavg()[0]
ONLY = set(filter(None, args.only.split(",")))
os.makedirs(args.out, exist_ok=True)
os.makedirs(".build/bench", exist_ok=True)
results = []  # rows of compare.csv
checks = []  # rows of checks.csv


def wanted(family):
    return not ONLY or family in ONLY


def ours(*argv):
    """Runs pipeline-bench in an internal mode; returns its last line of output as JSON."""
    out = subprocess.run([args.swift_bench, *map(str, argv)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def interleaved(peer, mine, warm_up=False):
    """Runs peer() and mine() alternately --repeats times; each returns (seconds, value). Returns the
    medians and the last values. With warm_up, the peer runs once untimed first (ours warms up in its
    child process)."""
    if warm_up:
        peer()
    peer_times, our_times, pv, ov = [], [], None, None
    for _ in range(args.repeats):
        t, pv = peer()
        peer_times.append(t)
        t, ov = mine()
        our_times.append(t)
    return statistics.median(peer_times), statistics.median(our_times), pv, ov


def record(task, peer, rows, peer_s, ours_s):
    speedup = peer_s / ours_s if peer_s is not None and math.isfinite(peer_s) and ours_s > 0 else None
    results.append((task, peer, rows, peer_s, ours_s, speedup))
    shown = f"{speedup:8.2f}x" if speedup else "       –"
    peer_text = f"{peer_s:10.4f}" if peer_s is not None and math.isfinite(peer_s) else "    failed"
    print(f"{task:34} {peer:28} {rows:>9} {peer_text} {ours_s:10.4f} {shown}", flush=True)


def check(task, quantity, peer_value, our_value, agree, note=""):
    checks.append((task, quantity, str(peer_value), str(our_value), agree, note))


def fmt(values, digits=6):
    return " ".join(f"{v:.{digits}g}" for v in values)


def write_atomic(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def csv_field(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    s = repr(v) if isinstance(v, float) else str(v)
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s


print(f"{'task':34} {'peer':28} {'rows':>9} {'peer s':>10} {'ours s':>10} {'speed-up':>9}")

# --- CSV read: pandas.read_csv vs the pipeline's reader (typed columns) -------------------------
if wanted("csv"):
    for name in ["hillstrom.csv", "online_retail_II.csv"]:
        path = f"{args.raw}/{name}"

        def peer():
            t = time.perf_counter()
            frame = pd.read_csv(path)
            return time.perf_counter() - t, len(frame)

        def mine():
            # The second parse of a process: the first warms the thread pool, the runtime, the code and the
            # heap, as pandas is warm in this interpreter (one untimed read first); the cold parse is a check.
            out = subprocess.run([args.swift_bench, "--raw", args.raw, "--parse-one", name, "--warm"], check=True, capture_output=True,
                                 text=True).stdout.split()
            return float(out[1]), int(out[0])

        a, b, n_peer, n_ours = interleaved(peer, mine, warm_up=True)
        record(f"csv_read/{name}", f"pandas {pd.__version__}", n_peer, a, b)
        check(f"csv_read/{name}", "rows", n_peer, n_ours, "yes" if n_peer == n_ours else "no")
        # What a stage pays: the only parse of a fresh process (its memory not yet touched, its
        # threads not yet started), against the peer's warm median.
        cold = statistics.median(
            float(subprocess.run([args.swift_bench, "--raw", args.raw, "--parse-one", name], check=True, capture_output=True,
                                 text=True).stdout.split()[1]) for _ in range(args.repeats))
        check(f"csv_read/{name}", "seconds, ours cold (the only parse of a fresh process) against the peer's warm median", f"{a:.4f}",
              f"{cold:.4f} ({a / cold:.2f}x)", "-", "every stage parses its inputs once; the table's time is the second parse of a process")

# --- CLV fits: lifetimes vs the CLV module -------------------------------------------------------
if wanted("clv"):
    import lifetimes
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

    inputs = ".build/bench/compare"
    info = ours("--raw", args.raw, "--clv-inputs", inputs)
    data_sets = [("cdnow_sample", f"{args.raw}/cdnow_customers_summary.csv"), ("online_retail_II", f"{inputs}/retail_calibration.csv")]

    def lifetimes_loglik(model, params, frame):
        """lifetimes' own log-likelihood (summed over customers, original time unit) at natural parameters."""
        params = np.asarray(params, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                if model == "bgnbd":
                    w = np.ones(len(frame))
                    f, r, T = frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["T"].to_numpy()
                    return -BetaGeoFitter._negative_log_likelihood(np.log(params), f, r, T, w, 0.0) * len(frame)
                if model == "paretonbd":
                    w = np.ones(len(frame))
                    f, r, T = frame["frequency"].to_numpy().astype(int), frame["recency"].to_numpy(), frame["T"].to_numpy()
                    return -ParetoNBDFitter._negative_log_likelihood(params, f, r, T, w, 0.0)
                w = np.ones(len(frame))
                return -GammaGammaFitter._negative_log_likelihood(np.log(params), frame["frequency"].to_numpy(), frame["monetary"].to_numpy(), w, 0.0) * len(frame)

    def lifetimes_fit(model, frame):
        """(seconds, parameters or None, failure text, warnings raised)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all="warn"):
                t = time.perf_counter()
                try:
                    if model == "bgnbd":
                        fitter = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
                    elif model == "paretonbd":
                        fitter = ParetoNBDFitter().fit(frame["frequency"], frame["recency"], frame["T"])
                    else:
                        fitter = GammaGammaFitter().fit(frame["frequency"], frame["monetary"])
                    seconds, failure = time.perf_counter() - t, None
                    params = fitter.params_.to_numpy(dtype=float)
                except Exception as e:  # lifetimes raises ConvergenceError and others: record, never hide
                    seconds, failure, params = time.perf_counter() - t, f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", None
        messages = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught
                           if not issubclass(w.category, (FutureWarning, DeprecationWarning))})
        if failure is None and not np.all(np.isfinite(params)):
            failure = "non-finite parameters"
        if failure is None and not math.isfinite(lifetimes_loglik(model, params, frame)):
            failure = "its log-likelihood is NaN at the parameters it returned"
        return seconds, params, failure, messages

    runs = [(m, label, path) for m in ["bgnbd", "paretonbd"] for label, path in data_sets]
    runs.append(("gammagamma", "online_retail_II", f"{inputs}/retail_spend.csv"))
    for model, label, path in runs:
        frame = pd.read_csv(path)
        task = f"{model}_fit/{label}"
        failures, messages = [], set()

        def peer():
            seconds, params, failure, caught = lifetimes_fit(model, frame)
            messages.update(caught)
            if failure:
                failures.append(failure)
            return seconds, (params, failure)

        def mine():
            r = ours("--fit-clv", model, "--summaries", path)
            return r["seconds"], r

        a, b, (lt_params, lt_failure), r = interleaved(peer, mine, warm_up=True)
        failed = bool(failures)
        record(task, f"lifetimes {lifetimes.__version__}", len(frame), None if failed else a, b)
        names, est = r["names"], np.array(r["estimates"], dtype=float)
        where = f" (ours on the boundary: {r['boundary']})" if r["boundary"] else ""
        ll_ours_at_ours = lifetimes_loglik(model, est, frame)
        if failed:
            distinct = sorted(set(failures))
            check(task, "lifetimes fit", f"failed in {len(failures)} of {args.repeats + 1} fits ({a:.3g} s median)", "converged" if r["converged"] else "not converged",
                  "no", "; ".join(distinct + sorted(messages))[:400])
            if lt_params is not None:
                check(task, " ".join(names), fmt(lt_params), fmt(est), "no", f"lifetimes' last parameters{where}")
            check(task, "log-likelihood (lifetimes' formula)", f"{lifetimes_loglik(model, lt_params, frame):.6f}" if lt_params is not None else "–",
                  f"{ll_ours_at_ours:.6f}", "no", f"ours reports {r['log_likelihood']:.6f}")
            continue
        rel = float(np.max(np.abs(lt_params - est) / np.abs(est)))
        ll_peer = lifetimes_loglik(model, lt_params, frame)
        agree_params = rel <= 1e-3
        check(task, " ".join(names), fmt(lt_params), fmt(est), "yes" if agree_params else "no",
              f"largest relative difference {rel:.2g} (tolerance 1e-3){where}" + (f"; warnings: {'; '.join(sorted(messages))}"[:300] if messages else ""))
        check(task, "log-likelihood (lifetimes' formula)", f"{ll_peer:.6f}", f"{ll_ours_at_ours:.6f}",
              "yes" if abs(ll_peer - ll_ours_at_ours) <= 1e-3 else "no",
              f"both tools' parameters in lifetimes' likelihood (tolerance 0.001); ours reports {r['log_likelihood']:.6f} from its own"
              + (f"; ours is higher by {ll_ours_at_ours - ll_peer:.3g}" if ll_ours_at_ours > ll_peer + 1e-3 else "")
              + (f"; lifetimes' is higher by {ll_peer - ll_ours_at_ours:.3g}" if ll_peer > ll_ours_at_ours + 1e-3 else ""))

# --- Forest training: scikit-learn RandomForestRegressor vs the Forest module -------------------
# The frozen model (its encoder and metadata) is needed by the forest, uplift and scoring tasks only, so that
# `--only csv,clv` runs without one.
if wanted("forest") or wanted("uplift") or wanted("scoring"):
    encoder = json.load(open(f"{args.models}/encoder.json"))
    meta = json.load(open(f"{args.models}/meta.json"))
    propensity = meta["treatment"]["propensity"]


def encode(frame):
    """The pipeline's FeatureEncoder: numeric inputs as they are, categorical ones one-hot in the
    training categories' order (an unknown category encodes as all zeros)."""
    parts = []
    for item in encoder["inputs"]:
        if item["kind"] == "numeric":
            parts.append(frame[item["name"]].to_numpy(dtype=float)[:, None])
        else:
            column = frame[item["name"]].astype(str).to_numpy()
            parts.append(np.stack([(column == c).astype(float) for c in item["categories"]], axis=1))
    return np.hstack(parts)


# The uplift stage's evaluation as NumPy: see Sources/Uplift/Evaluation.swift for the definitions.
def ranking(values):
    """Descending, ties by row order."""
    return np.argsort(-values, kind="stable")


class Evaluator:
    def __init__(self, scores, treated, y, e):
        self.treated = treated.astype(float)
        self.y = y
        self.order = ranking(scores)
        self.z = np.where(treated, y / e, -y / (1 - e))
        self.best_z = ranking(self.z)
        key = np.where(y > 0, np.where(treated, 2, 0), 1).astype(float)
        self.best_qini = ranking(key)

    @staticmethod
    def area(values, cw, w):
        total, W = values[:, -1:], cw[:, -1:]
        a = (w * (values - cw / W * total)).sum(axis=1)
        return np.where(W[:, 0] > 0, a, 0.0)

    def uplift_area(self, order, w):
        w = w[:, order]
        return self.area(np.cumsum(w * self.z[order], axis=1), np.cumsum(w, axis=1), w)

    def qini_area(self, order, w):
        w = w[:, order]
        t, y = self.treated[order], self.y[order]
        nt, nc = np.cumsum(w * t, axis=1), np.cumsum(w * (1 - t), axis=1)
        rt, rc = np.cumsum(w * t * y, axis=1), np.cumsum(w * (1 - t) * y, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(nc > 0, rt - rc * nt / nc, rt)
        return self.area(values, nt + nc, w)

    def auuc(self, w):
        best = self.uplift_area(self.best_z, w)
        return np.where(best > 0, self.uplift_area(self.order, w) / np.where(best > 0, best, 1), np.nan)

    def qini(self, w):
        best = self.qini_area(self.best_qini, w)
        return np.where(best > 0, self.qini_area(self.order, w) / np.where(best > 0, best, 1), np.nan)


if wanted("forest"):
    train = pd.read_csv(f"{args.prepared}/train.csv")
    test = pd.read_csv(f"{args.prepared}/test.csv")
    target, tcol = meta["target"], meta["treatment"]["treatment_column"]
    x_all, y_all, t_all = encode(train), train[target].to_numpy(dtype=float), train[tcol].to_numpy() != 0
    x_c, y_c, x_t, y_t = x_all[~t_all], y_all[~t_all], x_all[t_all], y_all[t_all]
    x_test = encode(test)
    tuning = pd.read_csv(f"{args.uplift}/tuning.csv")
    chosen = tuning[(tuning["outcome"] == target) & (tuning["chosen"] == 1)].iloc[0]
    trees = int(meta["learner_params"]["outcome_forest"]["n_trees"])
    configs = [("notebook", None, 1), ("tuned", int(chosen["max_depth"]), int(chosen["min_samples_leaf"]))]
    for name, depth, leaf in configs:
        task = f"forest_train/{name}"
        fitted = {}

        def peer():
            t = time.perf_counter()
            mu0 = RandomForestRegressor(n_estimators=trees, max_depth=depth, min_samples_leaf=leaf, max_features=1.0, bootstrap=True,
                                        n_jobs=CORES, random_state=0).fit(x_c, y_c)
            mu1 = RandomForestRegressor(n_estimators=trees, max_depth=depth, min_samples_leaf=leaf, max_features=1.0, bootstrap=True,
                                        n_jobs=CORES, random_state=1).fit(x_t, y_t)
            seconds = time.perf_counter() - t
            fitted["forests"] = (mu0, mu1)
            return seconds, None

        settings = ["--trees", trees, "--min-samples-leaf", leaf, "--threads", CORES] + (["--max-depth", depth] if depth is not None else [])

        def mine():
            r = ours("--train-forests", "--train", f"{args.prepared}/train.csv", "--encoder", f"{args.models}/encoder.json",
                     "--target", target, "--treatment", tcol, *settings)
            return r["seconds"], r

        a, b, _, r = interleaved(peer, mine)
        record(task, f"scikit-learn {sklearn.__version__}", len(train), a, b)
        # The same input: the encoded matrices and targets agree.
        same_x = abs(r["feature_sum"] - (x_c.sum() + x_t.sum())) <= 1e-9 * abs(r["feature_sum"]) and r["features"] == x_all.shape[1]
        same_rows = (r["rows_control"], r["rows_treated"]) == (len(y_c), len(y_t))
        check(task, "encoded training data (rows control/treated, features, sum of x)",
              f"{len(y_c)}/{len(y_t)}, {x_all.shape[1]}, {x_c.sum() + x_t.sum():.6f}",
              f"{r['rows_control']}/{r['rows_treated']}, {r['features']}, {r['feature_sum']:.6f}", "yes" if same_x and same_rows else "no")
        # Held-out quality: the T-learner's normalized AUUC on the test split, both tools' forests.
        mu0, mu1 = fitted["forests"]
        held = ours("--train-forests", "--held-out", "--test", f"{args.prepared}/test.csv", "--propensity", propensity, "--train",
                    f"{args.prepared}/train.csv", "--encoder", f"{args.models}/encoder.json", "--target", target, "--treatment", tcol, *settings)
        scores = mu1.predict(x_test) - mu0.predict(x_test)
        ev = Evaluator(scores, test[tcol].to_numpy() != 0, test[target].to_numpy(dtype=float), propensity)
        peer_auuc = float(ev.auuc(np.ones((1, len(test))))[0])
        nodes = sum(e.tree_.node_count for e in mu0.estimators_) + sum(e.tree_.node_count for e in mu1.estimators_)
        check(task, "held-out normalized AUUC (spend, T-learner)", f"{peer_auuc:.4f}", f"{held['test_auuc']:.4f}", "n/a",
              f"different random forests, so equal only within noise; settings: {trees} trees, depth {depth or 'full'}, leaf {leaf}, all features, "
              f"bootstrap, {CORES} threads; nodes {nodes} (peer) vs {held['nodes']} (ours); ours also computes out-of-bag predictions"
              + ("; leaf sizes count bootstrap weights in ours, distinct rows in scikit-learn" if leaf > 1 else ""))

# --- Uplift evaluation with bootstrap: NumPy vs the Uplift module --------------------------------
MASK = (1 << 64) - 1


class SeededGenerator:
    """The pipeline's generator (Sources/Stats/Random.swift: xoshiro256** seeded by SplitMix64),
    to draw the same bootstrap weights as the pipeline for the check (not timed)."""

    def __init__(self, seed):
        sm = seed & MASK
        state = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & MASK
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            state.append(z ^ (z >> 31))
        self.s = state

    @classmethod
    def derived(cls, seed, index):
        g = cls(seed ^ ((0xD1B54A32D192ED03 * (index + 1)) & MASK))
        g.next()
        return g

    def next(self):
        s0, s1, s2, s3 = self.s
        x = (s1 * 5) & MASK
        result = ((((x << 7) | (x >> 57)) & MASK) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, bound):
        m = self.next() * bound
        if (m & MASK) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (m & MASK) < threshold:
                m = self.next() * bound
        return m >> 64


def pipeline_weights(n, seed, replicate):
    g = SeededGenerator.derived(seed, replicate)
    w = np.zeros(n)
    for _ in range(n):
        w[g.below(n)] += 1
    return w


if wanted("uplift"):
    test = pd.read_csv(f"{args.prepared}/test.csv")
    scored = pd.read_csv(f"{args.uplift}/test_scores.csv")
    assert (test["row_id"].to_numpy() == scored["row_id"].to_numpy()).all(), "test_scores.csv does not follow test.csv row for row"
    tcol = meta["treatment"]["treatment_column"]
    outcomes = list(meta["outcome_labels"])
    binary = [o for o in outcomes if set(np.unique(test[o])) <= {0, 1}]
    treated, s = test[tcol].to_numpy() != 0, scored["uplift_hat"].to_numpy(dtype=float)
    ys = [test[o].to_numpy(dtype=float) for o in outcomes]
    names = [n for o in outcomes for n in (["auuc_" + o] + (["qini_" + o] if o in binary else []))]
    seed, R, n = 20190601, args.replicates, len(test)
    batch = 25  # replicates per vectorized step: bounded memory (batch x rows doubles per array)

    def evaluate(weights):
        out = []
        for k, ev in enumerate(evaluators):
            out.append(ev.auuc(weights))
            if outcomes[k] in binary:
                out.append(ev.qini(weights))
        return np.stack(out, axis=1)

    def peer():
        global evaluators
        t = time.perf_counter()
        evaluators = [Evaluator(s, treated, y, propensity) for y in ys]
        point = evaluate(np.ones((1, n)))[0]
        rng = np.random.default_rng(seed)
        reps = []
        for start in range(0, R, batch):
            m = min(batch, R - start)
            draws = rng.integers(0, n, size=(m, n))
            w = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)
            reps.append(evaluate(w))
        reps = np.concatenate(reps)
        low, high = np.nanpercentile(reps, 2.5, axis=0), np.nanpercentile(reps, 97.5, axis=0)
        return time.perf_counter() - t, (point, low, high)

    flags = [f for o in outcomes for f in ("--outcome", o)] + [f for o in binary for f in ("--binary", o)]

    def mine():
        r = ours("--evaluate-uplift", "--test", f"{args.prepared}/test.csv", "--scores", f"{args.uplift}/test_scores.csv", "--treatment", tcol,
                 "--propensity", propensity, "--replicates", R, "--seed", seed, "--threads", CORES, "--show", 2, *flags)
        return r["seconds"], r

    a, b, (point, low, high), r = interleaved(peer, mine, warm_up=True)
    record(f"uplift_eval_bootstrap/{R}", f"NumPy {np.__version__}", n, a, b)
    assert r["names"] == names, (r["names"], names)
    ours_point = np.array(r["point"], dtype=float)
    diff = float(np.max(np.abs(point - ours_point)))
    check(f"uplift_eval_bootstrap/{R}", "point values (" + ", ".join(names) + ")", fmt(point, 8), fmt(ours_point, 8),
          "yes" if diff <= 1e-12 else "no", f"largest absolute difference {diff:.2g} (tolerance 1e-12)")
    # The same replicates: the NumPy reference on the pipeline's own bootstrap weights.
    same = evaluate(np.stack([pipeline_weights(n, seed, i) for i in range(2)]))
    ours_reps = np.array(r["first_replicates"], dtype=float)
    diff = float(np.max(np.abs(same - ours_reps)))
    check(f"uplift_eval_bootstrap/{R}", "replicates 0 and 1 on the pipeline's weights", fmt(same.ravel(), 8), fmt(ours_reps.ravel(), 8),
          "yes" if diff <= 1e-12 else "no", f"largest absolute difference {diff:.2g}; the NumPy generator reimplemented (untimed)")
    check(f"uplift_eval_bootstrap/{R}", "95% percentile intervals", "; ".join(f"[{l:.3f}, {h:.3f}]" for l, h in zip(low, high)),
          "; ".join(f"[{l:.3f}, {h:.3f}]" for l, h in zip(r["ci_low"], r["ci_high"])), "n/a",
          f"timed runs draw weights from each tool's own generator, so intervals agree within Monte Carlo error; NumPy on 1 thread, ours on {r['threads']}")

# --- Scoring end to end: pandas + scikit-learn vs the score executable --------------------------
# Forests with the production model's count and hyper-parameters (read from models/meta.json),
# fitted once on the training split (not timed); timed: read the contact list, one-hot encode with
# the training categories, predict every forest, combine them as meta.json says, choose the best
# e-mail and the contact flag, write the CSV. Depth-limited trees cost the same to evaluate
# whatever target they were fitted on.
if wanted("scoring"):
    contacts = subprocess.run([args.swift_bench, "--make-contacts"], check=True, capture_output=True, text=True).stdout.strip()
    train = pd.read_csv(f"{args.prepared}/train.csv")
    x_train = encode(train)
    params = meta["learner_params"]
    forest_names = sorted({t["forest"] for key in ["y1", "y0", "uplift"] for t in meta["outputs"][key]}
                          | {t["forest"] for arm in meta["outputs"]["arms"] for t in arm["uplift"]})
    forests = {}
    for name in forest_names:
        p_ = params["effect_forest"] if name.startswith("tau") and "effect_forest" in params else params["outcome_forest"]
        rf = RandomForestRegressor(n_estimators=p_["n_trees"], max_depth=p_["max_depth"], min_samples_leaf=p_["min_samples_leaf"],
                                   max_features=p_["max_features"] or 1.0, n_jobs=CORES, random_state=0)
        forests[name] = rf.fit(x_train, train[meta["target"]].to_numpy())

    def python_score(path, out):
        frame = pd.read_csv(path)
        x = encode(frame)
        pred = {name: f.predict(x) for name, f in forests.items()}

        def combine(terms):
            return sum(t["weight"] * pred[t["forest"]] for t in terms)

        result = pd.DataFrame({"row_id": frame["row_id"], "uplift_hat": combine(meta["outputs"]["uplift"]),
                               "y1_hat": combine(meta["outputs"]["y1"]), "y0_hat": combine(meta["outputs"]["y0"])})
        arms = meta["outputs"]["arms"]
        for arm in arms:
            result[arm["column"]] = combine(arm["uplift"])
        arm_uplift = result[[a["column"] for a in arms]].to_numpy()
        best = arm_uplift.argmax(axis=1)
        result["best_arm"] = np.array([a["arm"] for a in arms])[best]
        result["expected_incremental_revenue"] = arm_uplift[np.arange(len(best)), best]
        result["expected_profit"] = result["expected_incremental_revenue"] * 0.30 - 0.05
        result["contact"] = (result["expected_profit"] > 0).astype(int)
        result.to_csv(out, index=False)
        return len(result)

    def peer():
        t = time.perf_counter()
        rows = python_score(contacts, ".build/bench/scored_python.csv")
        return time.perf_counter() - t, rows

    def mine():
        t = time.perf_counter()
        subprocess.run([args.scorer, "--in", contacts, "--out", ".build/bench/scored.csv", "--models", args.models, "--policy", "positive"],
                       check=True, capture_output=True)
        return time.perf_counter() - t, None

    a, b, rows, _ = interleaved(peer, mine)
    record("scoring/positive", f"pandas {pd.__version__} + scikit-learn {sklearn.__version__}", rows, a, b)
    with open(".build/bench/scored.csv") as f:
        ours_rows = sum(1 for _ in f) - 1
    check("scoring/positive", "rows scored", rows, ours_rows, "yes" if rows == ours_rows else "no",
          f"{len(forests)} forests of the production model's size; ours timed end to end as a process (start, read, score, write)")

# --- outputs ----------------------------------------------------------------------------------
lines = ["task,peer,rows,peer_seconds,ours_seconds,speedup"] + [",".join(csv_field(v) for v in row) for row in results]
write_atomic(f"{args.out}/compare.csv", "\n".join(lines) + "\n")
lines = ["task,quantity,peer,ours,agree,note"] + [",".join(csv_field(v) for v in row) for row in checks]
write_atomic(f"{args.out}/checks.csv", "\n".join(lines) + "\n")


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return f"{model}, {mem / 2**20:.0f} GiB, {platform.platform()}"


def version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


info = {
    "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "cores": CORES, "machine": machine(),
    "python": platform.python_version(), "pandas": pd.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
    "lifetimes": version("lifetimes"), "repeats": args.repeats, "replicates": args.replicates,
    "load_start": round(LOAD_AT_START, 2), "load_end": round(os.getloadavg()[0], 2),
    "note": os.environ.get("BENCH_NOTE", ""),
}
write_atomic(f"{args.out}/compare_info.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
print(f"wrote {args.out}/compare.csv, checks.csv and compare_info.json")
