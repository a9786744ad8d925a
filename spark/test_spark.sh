#!/usr/bin/env bash
# The Spark recipe (spark/score_spark.py) on local[2] against the single-process scorer: for each
# case the Spark output (its part files in order) must equal the scorer's output byte for byte,
# both as it is and after sorting the lines.
#
# Cases: the positive policy and best-N with the recorded economics on the test split; best-N with
# a higher cost (so N cuts the list) and top-N on the test split repeated 8 times without its id
# column (ids from row numbers, so every partition needs its first row number; every uplift tied
# at least 8 times, so ties must fall back to input order as in the scorer).
#
# PySpark comes from the package index into a throwaway virtualenv (.build/spark-venv); Spark
# needs Java 17 or later (Debian: apt-get install -y openjdk-17-jre-headless).
# Usage: spark/test_spark.sh <score binary> <models dir> <test split CSV>
set -euo pipefail
cd "$(dirname "$0")/.."
score=$1 models=$2 test=$3
VENV=${SPARK_VENV:-.build/spark-venv}

command -v java > /dev/null || { echo "spark-test needs Java 17 or later: apt-get install -y openjdk-17-jre-headless" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import pyspark' 2> /dev/null; then
  echo "Installing PySpark into $VENV"
  "$VENV/bin/pip" install -q pyspark || { echo "spark-test: pip could not install pyspark" >&2; exit 1; }
fi
export PYSPARK_PYTHON=$PWD/$VENV/bin/python
"$VENV/bin/python" -c 'import pyspark; print("PySpark", pyspark.__version__)'
java -version 2>&1 | head -n 1

mkdir -p .build/spark-test
work=$(mktemp -d .build/spark-test/run.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The test split repeated 8 times, without its first (id) column.
"$VENV/bin/python" - "$test" "$work/noid.csv" << 'PY'
import csv, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.reader(f))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(rows[0][1:])
    for _ in range(8):
        w.writerows(r[1:] for r in rows[1:])
PY

passed=0 failed=0
# check <name> <input> <scorer flags...>
check() {
  local name=$1 input=$2
  shift 2
  local ref="$work/$name.ref.csv" got="$work/$name.spark"
  "$score" --in "$input" --out "$ref" --models "$models" --drift "$work/$name.drift.json" "$@" > "$work/$name.score.log" 2>&1 || {
    cat "$work/$name.score.log" >&2
    echo "FAIL $name: the scorer failed"
    failed=$((failed + 1))
    return
  }
  if ! "$VENV/bin/python" spark/score_spark.py --master 'local[2]' --partitions 4 --in "$input" --out "$got" \
    --models "$models" --score "$score" "$@" > "$work/$name.spark.log" 2>&1; then
    tail -n 30 "$work/$name.spark.log" >&2
    echo "FAIL $name: the Spark job failed"
    failed=$((failed + 1))
    return
  fi
  cat "$got"/part-* > "$got.csv"
  local rows contacts
  rows=$(($(wc -l < "$ref") - 1))
  contacts=$(awk -F, 'NR > 1 && $NF == 1' "$ref" | wc -l)
  if cmp -s <(LC_ALL=C sort "$ref") <(LC_ALL=C sort "$got.csv") && cmp -s "$ref" "$got.csv"; then
    echo "ok   $name: $rows rows, $contacts contacts, $(ls "$got"/part-* | wc -l) part files; equal byte for byte, sorted and as written"
    passed=$((passed + 1))
  else
    echo "FAIL $name: the Spark output differs from the scorer's (sorted: $(cmp -s <(LC_ALL=C sort "$ref") <(LC_ALL=C sort "$got.csv") && echo equal || echo different))"
    diff <(LC_ALL=C sort "$ref") <(LC_ALL=C sort "$got.csv") | head -n 6 >&2 || true
    failed=$((failed + 1))
  fi
}

check positive "$test" --policy positive
check default "$test" # the recorded policy and economics (models/economics.json)
check bestN-cost "$work/noid.csv" --policy bestN --cost 0.2
check topn "$work/noid.csv" --policy topn --topn 5000

echo "spark-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
