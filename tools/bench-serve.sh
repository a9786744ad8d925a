#!/usr/bin/env bash
# Load test of the scoring service on loopback with wrk: POST /score with a 1-row and a 1,000-row
# contact list (text/csv, JSON answers), bounded in time and connections. Fails on any error or
# non-2xx answer, and when the resident size at the end is more than 10% above the size after warm-up.
# Usage: tools/bench-serve.sh <serve binary> <models dir> <test split CSV>
set -euo pipefail
serve=$1 models=$2 test=$3
DURATION=${BENCH_DURATION:-15s} WARMUP=${BENCH_WARMUP:-5s} CONNECTIONS=${BENCH_CONNECTIONS:-4} THREADS=${BENCH_THREADS:-2}
command -v wrk >/dev/null || { echo "bench-serve needs wrk: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

head -n 2 "$test" > "$work/rows1.csv"
head -n 1001 "$test" > "$work/rows1000.csv"
for n in 1 1000; do
  cat > "$work/post$n.lua" <<LUA
wrk.method = "POST"
local f = io.open("$work/rows$n.csv", "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
LUA
done

"$serve" --host 127.0.0.1 --port 0 --models "$models" > "$work/serve.out" 2> "$work/serve.log" &
pid=$!
for _ in $(seq 1 600); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$work/serve.out" | head -n 1)
[ -n "$port" ] || { echo "serve did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
url="http://127.0.0.1:$port/score"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

# Warm-up with both sizes, then the resident size the run is compared with.
wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" -s "$work/post1.lua" "$url" > /dev/null
wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" -s "$work/post1000.lua" "$url" > /dev/null
rss_warm=$(rss)

status=0
echo "| request | requests/s | p50 (ms) | p99 (ms) | requests | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for n in 1 1000; do
  line=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$work/post$n.lua" "$url" | grep '^RESULT')
  read -r _ rps p50 p99 requests errors bad <<< "$line"
  echo "| $n row$([ "$n" = 1 ] || echo s) | $rps | $p50 | $p99 | $requests | $((errors + bad)) |"
  [ "$((errors + bad))" = 0 ] || status=1
done
rss_end=$(rss)
growth=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
echo
echo "Resident size: $((rss_warm / 1024)) MiB after warm-up, $((rss_end / 1024)) MiB at the end ($growth%)."
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); wrk -t $THREADS -c $CONNECTIONS -d $DURATION."
awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN { exit !(b <= a * 1.10) }' || { echo "bench-serve: resident size grew more than 10% over the run" >&2; status=1; }
[ "$status" = 0 ] || { echo "bench-serve: FAILED (errors, non-2xx answers or memory growth)" >&2; exit 1; }
