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
