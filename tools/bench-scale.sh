#!/usr/bin/env bash
# Scaling curves: the example project's synthetic campaign and order log generated at several
# sizes, each run through prepare → uplift → policy → score (the whole campaign as the contact
# list) and the CLV stage, with the wall time and peak resident memory of every stage.
#
# Scale 1 is a 64,000-row campaign and an order log of about 1,000,000 lines (69,700 customers;
# the generator's lines per customer vary with the draw, the CSV records the actual count).
# The scaled projects, their raw data and outputs live under .build/bench-scale/s<scale>/ (not
# committed). The stage parameters are the example project's (examples/synthetic/*.yaml).
#
# Writes data/processed/bench/scale.csv (stage,scale,rows,seconds,peak_rss_mib) atomically, once
# every scale has run; a failed stage stops the run with its log and leaves the previous file.
# Prints a summary with each stage's growth exponent (least-squares slope of log seconds on
# log rows; 1 is linear).
#
# Usage: tools/bench-scale.sh [BIN] (default .build/release); SCALES="1 4 16" (default),
# BENCH_SCALE_DIR (default .build/bench-scale), BENCH_SCALE_OUT (default data/processed/bench/scale.csv).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-.build/release}
SCALES=${SCALES:-1 4 16}
DIR=${BENCH_SCALE_DIR:-.build/bench-scale}
OUT=${BENCH_SCALE_OUT:-data/processed/bench/scale.csv}
CAMPAIGN_ROWS=64000 # campaign rows at scale 1
ORDER_CUSTOMERS=69700 # order-log customers at scale 1 (about 14.35 lines each, so about 1M lines)
EXAMPLE=examples/synthetic

# Each stage's log (.build/bench-scale/s<scale>/logs/<stage>.log) gets its progress lines with
# elapsed seconds: where the time goes inside a stage.
export PIPELINE_PROGRESS=1

TIME=/usr/bin/time
[ -x "$TIME" ] && "$TIME" -v true 2>/dev/null || {
  echo "bench-scale needs GNU time (/usr/bin/time -v): apt-get install -y time" >&2
  exit 1
}
for exe in stage-synth stage-project stage-prepare stage-uplift stage-policy stage-clv score; do
  [ -x "$BIN/$exe" ] || { echo "bench-scale: $BIN/$exe is missing; run 'make build'" >&2; exit 1; }
done
for s in $SCALES; do
  [[ $s =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v s="$s" 'BEGIN { exit !(s > 0) }' || {
    echo "bench-scale: SCALES must be positive numbers (got '$s')" >&2
    exit 2
  }
done

mkdir -p "$(dirname "$OUT")" "$DIR"
rows_file=$(mktemp "$DIR/rows.XXXXXX")
tmp_out="$OUT.partial-$$"
trap 'rm -f "$rows_file" "$tmp_out"' EXIT
echo "stage,scale,rows,seconds,peak_rss_mib" > "$rows_file"

# run <stage> <scale> <rows> <log> <command...>: the command under GNU time; wall time from the
# clock around it (finer than time's centiseconds), peak RSS from time's report.
run() {
  local stage=$1 scale=$2 rows=$3 log=$4
  shift 4
  local start end status=0
  start=$(date +%s.%N)
  "$TIME" -v -o "$log.time" "$@" > "$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  if [ "$status" != 0 ]; then
    echo "bench-scale: $stage at scale $scale failed (exit $status); its log ($log):" >&2
    tail -n 20 "$log" >&2
    echo "bench-scale: $OUT was not written" >&2
    exit 1
  fi
  local kib user sys seconds mib
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
  user=$(awk -F': ' '/User time/ {print $2}' "$log.time")
  sys=$(awk -F': ' '/System time/ {print $2}' "$log.time")
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
  [ "$stage" = synth ] || echo "$stage,$scale,$rows,$seconds,$mib" >> "$rows_file"
  printf '   %-8s %10s rows %9.2f s wall %9.2f s CPU %9.1f MiB peak\n' "$stage" "$rows" "$seconds" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$mib"
}

# A variable of the project's make file, as stage-project wrote it.
P() { sed -n "s/^$1 := //p" "$d/project.mk"; }

for s in $SCALES; do
  d="$DIR/s$s"
  mkdir -p "$d/logs"
  campaign=$(awk -v s="$s" -v n=$CAMPAIGN_ROWS 'BEGIN { printf "%d", s * n + 0.5 }')
  customers=$(awk -v s="$s" -v n=$ORDER_CUSTOMERS 'BEGIN { printf "%d", s * n + 0.5 }')

  # The generator's params: the example's, with the sizes scaled.
  sed -E -e "/^campaign:/,/^orders:/ s/^  customers: .*/  customers: $campaign/" \
    -e "/^orders:/,\$ s/^  customers: .*/  customers: $customers/" "$EXAMPLE/synth.yaml" > "$d/synth.yaml"
  grep -q "customers: $campaign\$" "$d/synth.yaml" && grep -q "customers: $customers\$" "$d/synth.yaml" || {
    echo "bench-scale: could not set the sizes in $d/synth.yaml (has $EXAMPLE/synth.yaml changed shape?)" >&2
    exit 1
  }
  # The project: the example's, with its raw data and outputs in this scale's folder.
  sed -E -e "s#^  generate: .*#  generate: $d/synth.yaml#" -e "s#^  raw: .*#  raw: $d/raw\noutput: $d/out#" \
    -e "s#data/raw/synthetic/#$d/raw/#" "$EXAMPLE/project.yaml" > "$d/project.yaml"
  "$BIN/stage-project" --project "$d/project.yaml" --make "$d/project.mk" > /dev/null
  out=$(P P_OUT)
  [ "$out" = "$d/out/" ] || { echo "bench-scale: $d/project.yaml's output folder is '$out', expected '$d/out/'" >&2; exit 1; }
  prep=${out}data/processed/prepare uplift=${out}data/processed/uplift policy=${out}data/processed/policy
  models=${out}models reports=${out}reports

  echo "== scale $s: campaign $campaign rows, order log $customers customers ($d)"
  if [ -f "$d/raw/manifest.json" ] && cmp -s "$d/synth.yaml" "$d/raw/.synth.yaml"; then
    echo "   raw data already generated"
  else
    rm -rf "$d/raw"
    run synth "$s" "$campaign" "$d/logs/synth.log" "$BIN/stage-synth" --params "$d/synth.yaml" --out "$d/raw"
    cp "$d/synth.yaml" "$d/raw/.synth.yaml"
  fi
  rows=$(($(wc -l < "$(P P_CAMPAIGN)") - 1))
  lines=$(($(wc -l < "$(P P_CLV_INPUTS)") - 1))

  # The Makefile's commands for these stages, always run (no up-to-date check).
  run prepare "$s" "$rows" "$d/logs/prepare.log" "$BIN/stage-prepare" --project "$d/project.yaml" --params "$(P P_PARAMS_prepare)" --out "$prep"
  run uplift "$s" "$rows" "$d/logs/uplift.log" "$BIN/stage-uplift" --params "$(P P_PARAMS_uplift)" --prepared "$prep" --out "$uplift" \
    --models "$models" --schema "${out}data/schema/required_features_schema.csv" --figures "$reports/figures/uplift" --report "$reports/uplift.md"
  run policy "$s" "$rows" "$d/logs/policy.log" "$BIN/stage-policy" --params "$(P P_PARAMS_policy)" --prepared "$prep" \
    --scores "$uplift/test_scores.csv" --crossfit "$uplift/crossfit_scores.csv" --models "$models" --out "$policy" --figures "$reports/figures/policy" --report "$reports/policy.md"
  # The scorer on the whole campaign as a contact list, with the recorded economics and policy.
  run score "$s" "$rows" "$d/logs/score.log" "$BIN/score" --in "$(P P_CAMPAIGN)" --out "$d/scored.csv" --models "$models"
  run clv "$s" "$lines" "$d/logs/clv.log" "$BIN/stage-clv" --project "$d/project.yaml" --params "$(P P_PARAMS_clv)" \
    --out "${out}data/processed/clv" --figures "$reports/figures/clv" --report "$reports/clv.md"
done

cp "$rows_file" "$tmp_out"
mv -f "$tmp_out" "$OUT"

echo
echo "== $OUT"
cat "$OUT"
echo
echo "== growth exponent per stage (slope of log seconds on log rows; 1 = linear)"
awk -F, 'NR > 1 {
  k = $1; if (!(k in n)) order[++m] = k
  x = log($3); y = log($4 > 0 ? $4 : 0.005); n[k]++; sx[k] += x; sy[k] += y; sxx[k] += x * x; sxy[k] += x * y
  if ($5 > mem[k]) mem[k] = $5
} END {
  for (i = 1; i <= m; i++) {
    k = order[i]; d = n[k] * sxx[k] - sx[k] * sx[k]
    if (n[k] < 2 || d <= 0) printf "%-8s needs two sizes\n", k
    else printf "%-8s %5.2f  (%d sizes; largest peak RSS %.0f MiB)\n", k, (n[k] * sxy[k] - sx[k] * sy[k]) / d, n[k], mem[k]
  }
}' "$OUT"
