"""Optional comparison with the Python tools the pipeline replaces (make bench-compare).

Not part of the pipeline: it runs in a throwaway virtualenv under .build/. Both tools are timed
in the same run, interleaved, and the ratio of medians is reported.
"""
import argparse
import statistics
import subprocess
import time

import pandas as pd

p = argparse.ArgumentParser()
p.add_argument("--raw", default="data/raw")
p.add_argument("--swift-bench", default=".build/release/pipeline-bench")
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--scorer", default=".build/release/score")
p.add_argument("--models", default="models")
args = p.parse_args()

print(f"CSV parse, median of {args.repeats} interleaved runs (pandas {pd.__version__})")
print(f"{'file':24} {'pandas s':>10} {'swift s':>10} {'speed-up':>10}")
for name in ["hillstrom.csv", "online_retail_II.csv"]:
    path = f"{args.raw}/{name}"
    pandas_times, swift_times = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        frame = pd.read_csv(path)
        pandas_times.append(time.perf_counter() - t)
        out = subprocess.run([args.swift_bench, "--raw", args.raw, "--parse-one", name],
                             check=True, capture_output=True, text=True).stdout.split()
        assert int(out[0]) == len(frame), (out, len(frame))
        swift_times.append(float(out[1]))
    a, b = statistics.median(pandas_times), statistics.median(swift_times)
    print(f"{name:24} {a:10.4f} {b:10.4f} {a / b:9.2f}x")


# --- Scorer: the same models' task with pandas + scikit-learn --------------------------------
# Forests with the production model's count and hyper-parameters (read from models/meta.json),
# fitted once on the training split (not timed); timed: read the contact list, one-hot encode with
# the training categories, predict every forest, combine them as meta.json says, choose the best
# e-mail and the contact flag, write the CSV. Depth-limited trees cost the same to evaluate
# whatever target they were fitted on.
import json

import numpy as np
from sklearn.ensemble import RandomForestRegressor

meta = json.load(open(f"{args.models}/meta.json"))
contacts = subprocess.run([args.swift_bench, "--make-contacts"], check=True, capture_output=True, text=True).stdout.strip()


def encode(frame):
    cols = []
    for name in [c.split("=")[0] for c in meta["feature_cols"]]:
        if name in cols:
            continue
        cols.append(name)
    parts = []
    for name in cols:
        if name in meta["categories"]:
            cat = pd.Categorical(frame[name], categories=meta["categories"][name])
            parts.append(pd.get_dummies(cat, prefix=name, prefix_sep="=").astype(float).to_numpy())
        else:
            parts.append(frame[[name]].astype(float).to_numpy())
    return np.hstack(parts)


train = pd.read_csv("data/processed/prepare/train.csv")
x_train = encode(train)
params = meta["learner_params"]
forest_names = sorted({t["forest"] for key in ["y1", "y0", "uplift"] for t in meta["outputs"][key]}
                      | {t["forest"] for arm in meta["outputs"]["arms"] for t in arm["uplift"]})
forests = {}
for name in forest_names:
    p_ = params["effect_forest"] if name.startswith("tau") and "effect_forest" in params else params["outcome_forest"]
    rf = RandomForestRegressor(n_estimators=p_["n_trees"], max_depth=p_["max_depth"], min_samples_leaf=p_["min_samples_leaf"],
                               max_features=p_["max_features"] or 1.0, n_jobs=-1, random_state=0)
    forests[name] = rf.fit(x_train, train[meta["target"]].to_numpy())


def python_score(path, out):
    frame = pd.read_csv(path)
    x = encode(frame)
    pred = {name: f.predict(x) for name, f in forests.items()}
    combine = lambda terms: sum(t["weight"] * pred[t["forest"]] for t in terms)
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


print()
print(f"Scorer on {contacts}: pandas {pd.__version__} + scikit-learn {__import__('sklearn').__version__} vs the Swift scorer, "
      f"median of 3 interleaved runs, end to end")
py_times, swift_times = [], []
for _ in range(3):
    t = time.perf_counter()
    n = python_score(contacts, ".build/bench/scored_python.csv")
    py_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([args.scorer, "--in", contacts, "--out", ".build/bench/scored.csv", "--models", args.models, "--policy", "positive"],
                   check=True, capture_output=True)
    swift_times.append(time.perf_counter() - t)
a, b = statistics.median(py_times), statistics.median(swift_times)
print(f"{'rows':>10} {'python s':>10} {'swift s':>10} {'speed-up':>10}")
print(f"{n:10d} {a:10.3f} {b:10.3f} {a / b:9.2f}x")
