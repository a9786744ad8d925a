#!/usr/bin/env python3
"""Scores a contact list on Spark with the shipped scorer, for lists past one machine.

Every partition of the list is piped through `score --in - --out - --policy positive` (the header
line first, so each partition is a complete CSV). With the `positive` policy every output row
depends only on its input row, so that is the whole job: the partitions' outputs, in partition
order, are the scorer's output for the whole list.

The ranking policies (`bestN`, `topn`) need one global step, done here in Spark exactly as the
scorer does it (Sources/Scoring/RankedSpill.swift, Sources/Economics/Economics.swift):

- rank by `uplift_hat` descending; ties go to the row that came first in the input;
- best-N is the smallest N whose cumulative expected profit (`expected_profit`, added one row at a
  time in rank order from 0) is largest, 0 when no prefix earns more than nothing; `topn` is
  min(--topn, rows);
- the output is the scorer's: a `rank` column after the id, rows in rank order, `contact` 1 for
  the first N.

The cumulative sum is a sequential pass over the sorted partitions (one small Spark job each,
carrying the running state), because floating-point sums computed per partition and combined
would not give the scorer's bits. Only the state moves, never the rows.

Output: a folder of part files (Spark's `saveAsTextFile`); the header is the first line of
part-00000 and `cat <out>/part-*` is the scorer's output file, byte for byte.

The input is one CSV file with a header, one record per line (no quoted line breaks), readable by
every executor (a shared or distributed file system). The `score` executable and the model
directory must be at the same path on every executor (see the README's Spark section).
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading

from pyspark import SparkConf, SparkContext, StorageLevel


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--in", dest="input", required=True, help="The contact list (CSV with a header; any Spark path).")
    p.add_argument("--out", required=True, help="Output folder (must not exist; any Spark path).")
    p.add_argument("--models", required=True, help="Model directory, at this path on every executor.")
    p.add_argument("--score", default=".build/release/score", help="The score executable, at this path on every executor.")
    p.add_argument("--policy", choices=["positive", "bestN", "topn"], help="Default: the scorer's (models/economics.json, else bestN).")
    p.add_argument("--topn", type=int, help="Customers to contact with --policy topn.")
    p.add_argument("--margin", help="Passed to the scorer.")
    p.add_argument("--cost", help="Passed to the scorer.")
    p.add_argument("--arm-cost", action="append", default=[], help="Passed to the scorer (repeatable).")
    p.add_argument("--id-col", help="Passed to the scorer.")
    p.add_argument("--partitions", type=int, help="Minimum number of input partitions.")
    p.add_argument("--master", help="Spark master (default: spark-submit's, else local[*]).")
    a = p.parse_args(argv)
    if a.policy is None:
        # The scorer's own default, so that both give the same file with the same flags; the
        # driver must see the model directory to know it.
        if not os.path.isdir(a.models):
            p.error(f"--models {a.models} is not a folder on the driver: pass --policy")
        try:
            with open(os.path.join(a.models, "economics.json"), encoding="utf-8") as f:
                a.policy = json.load(f)["scorer_policy"]
        except FileNotFoundError:
            a.policy = "bestN"
    if (a.policy == "topn") != (a.topn is not None):
        p.error("--topn goes with --policy topn, and only with it")
    if a.topn is not None and a.topn < 0:
        p.error("--topn must be at least 0")
    return a


def scorer_command(a, first_row):
    cmd = [a.score, "--in", "-", "--out", "-", "--models", a.models, "--policy", "positive", "--first-row-id", str(first_row)]
    for flag, value in (("--margin", a.margin), ("--cost", a.cost), ("--id-col", a.id_col)):
        if value is not None:
            cmd += [flag, value]
    for v in a.arm_cost:
        cmd += ["--arm-cost", v]
    return cmd


def pipe_partition(cmd, header, lines):
    """The partition's rows through the scorer: the output's header line, then one line per row."""
    first = next(lines, None)
    if first is None:
        return  # an empty partition: nothing to score
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        failure = []

        def feed():
            try:
                w = proc.stdin
                w.write(header + b"\n")
                w.write(first + b"\n")
                for line in lines:
                    w.write(line + b"\n")
                w.close()
            except BaseException as e:  # the scorer stopped reading: its status says why
                failure.append(e)
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        for line in proc.stdout:
            yield line.rstrip(b"\n")
        t.join()
        status = proc.wait()
        if status != 0 or failure:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited {status}: {err.read().decode('utf-8', 'replace').strip()} {failure or ''}")


def split_id(line):
    """(first field with its quotes, the rest from its comma): the scorer quotes ids as RFC 4180 does."""
    if line.startswith(b'"'):
        i = 1
        while True:
            q = line.index(b'"', i)
            if line[q + 1 : q + 2] == b'"':
                i = q + 2
                continue
            return line[: q + 1], line[q + 1 :]
    c = line.index(b",")
    return line[:c], line[c:]


def last_fields(line, n):
    """The last n comma-separated fields (numbers and the 0/1 flag: never quoted)."""
    return line.rsplit(b",", n)[1:]


def main(argv):
    a = parse_args(argv)
    conf = SparkConf().setAppName("score_spark")
    if a.master:
        conf.setMaster(a.master)
    elif not conf.contains("spark.master"):
        conf.setMaster("local[*]")
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")
    try:
        run(sc, a)
    finally:
        sc.stop()


def run(sc, a):
    text = sc.textFile(a.input, minPartitions=a.partitions, use_unicode=False)
    header = text.first()
    # The header is the first line of partition 0 only.
    rows = text.mapPartitionsWithIndex(lambda i, it: (line for k, line in enumerate(it) if i > 0 or k > 0))

    # Each partition's first row number, for ids made from row numbers (the scorer's --first-row-id).
    counts = rows.mapPartitions(lambda it: [sum(1 for _ in it)]).collect()
    starts = [sum(counts[:i]) for i in range(len(counts))]
    total = sum(counts)

    def score(i, it):
        return pipe_partition(scorer_command(a, starts[i]), header, it)

    scored = rows.mapPartitionsWithIndex(score).persist(StorageLevel.MEMORY_AND_DISK)
    if total == 0:
        # No partition ran the scorer: its header comes from the header alone.
        done = subprocess.run(scorer_command(a, 0), input=header + b"\n", capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"score exited {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()}")
        out_header = done.stdout.split(b"\n")[0]
    else:
        out_header = scored.first()
    # Every non-empty partition's output starts with that header line.
    scored_rows = scored.mapPartitions(lambda it: itertools.islice(it, 1, None))

    if a.policy == "positive":
        result = scored_rows
        result_header = out_header
        summary = f"scored {total} rows with the positive policy"
    else:
        # Rank: uplift_hat descending, then input order (partition, position), as the scorer does.
        def keyed(i, it):
            for k, line in enumerate(it):
                _, rest = split_id(line)
                uplift = rest[1 : rest.index(b",", 1)]
                if not uplift:
                    raise ValueError(f"a row has no uplift_hat (NaN): {line!r}")
                yield (-float(uplift), i, k), line

        ranked = (
            scored_rows.mapPartitionsWithIndex(keyed)
            .sortByKey(numPartitions=max(1, scored_rows.getNumPartitions()))
            .values()
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        parts = ranked.getNumPartitions()

        # The scorer's BestN, fed in rank order, one partition after the other with its state.
        state = (0, 0.0, 0, 0.0)  # seen, cumulative, count (the N so far), profit (of that N)
        sizes = []
        for p in range(parts):

            def walk(it, state=state):
                seen, cumulative, count, profit = state
                n = 0
                for line in it:
                    n += 1
                    seen += 1
                    cumulative += float(last_fields(line, 2)[0])
                    if cumulative > profit:
                        profit, count = cumulative, seen
                return [((seen, cumulative, count, profit), n)]

            state, size = sc.runJob(ranked, walk, [p])[0]
            sizes.append(size)
        n_contact = state[2] if a.policy == "bestN" else min(a.topn, total)
        offsets = [sum(sizes[:p]) for p in range(parts)]

        def ranked_lines(p, it):
            for k, line in enumerate(it):
                rank = offsets[p] + k + 1
                if line[-2:] not in (b",0", b",1"):
                    raise ValueError(f"a scored row does not end with the contact flag: {line!r}")
                ident, rest = split_id(line[:-2])  # without the positive policy's contact flag
                yield ident + b"," + str(rank).encode() + rest + (b",1" if rank <= n_contact else b",0")

        result = ranked.mapPartitionsWithIndex(ranked_lines)
        ident, rest = split_id(out_header)
        result_header = ident + b",rank" + rest
        summary = f"scored {total} rows; {a.policy}: contact the top {n_contact}"

    result.mapPartitionsWithIndex(lambda i, it: itertools.chain([result_header], it) if i == 0 else it).saveAsTextFile(a.out)
    print(f"score_spark: {summary} ({a.out})", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
