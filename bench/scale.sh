#!/usr/bin/env bash
# Throughput of one machine for docs/SCALING.md, CRF backend, on COPIES
# copies of the RareDis test split as JSONL (new ids per copy):
#   - streaming (`clinner tag --from jsonl --to jsonl - < in > out`), 1 and 2
#     threads: documents/s, tokens/s, peak RSS;
#   - a job array of 2 shards run at once, then `clinner merge`;
#   - a Spark standalone cluster of 2 one-core workers on 127.0.0.1
#     (integrations/spark; skipped without Java or PySpark): the job's wall
#     time, cluster start-up excluded.
#
#   bench/scale.sh MODEL [COPIES] [BUILD_DIR]
set -eu
model=$1
copies=${2:-20}
build=${3:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
B="$root/$build/clinner"
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -d "$data/test" ] || { echo "no $data/test (set CLINNER_SHARED)"; exit 77; }
tmp=$(mktemp -d)
spark_pids=()
trap 'for p in "${spark_pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $copies x test split"
"$B" convert --from brat --to jsonl "$data/test" -o "$tmp/test.jsonl"
python3 - "$tmp/test.jsonl" "$tmp/in.jsonl" "$copies" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for k in range(int(sys.argv[3])):
        for d in docs:
            out.write(json.dumps(dict(d, id="%s~%d" % (d["id"], k)), ensure_ascii=False) + "\n")
PY
ndocs=$(wc -l <"$tmp/in.jsonl")
tag=("$B" tag --backend crf --model "$model" --from jsonl --to jsonl)
rate() { python3 -c "print('%.0f' % ($1 / $2))"; }
for th in 1 2; do
    /usr/bin/time -f "%e %M" -o "$tmp/time" "${tag[@]}" --threads $th --progress lines - \
        <"$tmp/in.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err"
    read -r wall rss <"$tmp/time"
    toks=$(sed -n 's/^clinner tag: tagged [0-9]* sentences (\([0-9]*\) tokens.*/\1/p' "$tmp/err")
    echo "stream, $th thread(s): $ndocs docs, $toks tokens in $wall s wall: $(rate "$ndocs" "$wall") docs/s, $(rate "$toks" "$wall") tokens/s, peak RSS $rss KiB"
done
t0=$(date +%s.%N)
for k in 0 1; do "${tag[@]}" --shard $k/2 --progress off "$tmp/in.jsonl" -o "$tmp/p$k.jsonl" & done
wait
"$B" merge --input "$tmp/in.jsonl" "$tmp/p0.jsonl" "$tmp/p1.jsonl" -o "$tmp/merged.jsonl" 2>/dev/null
t1=$(date +%s.%N)
wall=$(python3 -c "print('%.2f' % ($t1 - $t0))")
cmp -s "$tmp/merged.jsonl" "$tmp/out.jsonl" && same=identical || same=DIFFERENT
echo "2 shards at once + merge: $wall s wall, $(rate "$ndocs" "$wall") docs/s (merged output $same to the stream's)"

. "$root/integrations/spark/local_cluster.sh"
if ! command -v java >/dev/null || ! py=$(spark_python); then
    echo "spark: skipped (no Java or PySpark: scripts/setup-spark.sh)"
    exit 0
fi
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"
spark_local_cluster "$tmp" 2
"$py" - "$spark_master" "$root/integrations/spark" "$B" "$model" "$tmp/in.jsonl" "$ndocs" <<'PY' 2>"$tmp/driver.err"
import sys, time
master, here, clinner, model, path, ndocs = sys.argv[1:7]
sys.path.insert(0, here)
from pyspark.sql import SparkSession
from clinner_spark import ship, tag_jsonl
spark = (SparkSession.builder.master(master).appName("clinner-bench")
         .config("spark.driver.host", "127.0.0.1").config("spark.ui.enabled", "false")
         .getOrCreate())
sc = spark.sparkContext
ship(sc, model)
lines = open(path, encoding="utf-8").read().splitlines()
rdd = sc.parallelize(lines, 8).cache()
rdd.count()
t0 = time.time()
n = tag_jsonl(rdd, clinner=clinner, model=model.rsplit("/", 1)[-1]).count()
wall = time.time() - t0
print("spark, 2 one-core workers, 8 partitions: %d docs in %.1f s wall: %.0f docs/s"
      % (n, wall, n / wall))
assert n == int(ndocs)
spark.stop()
PY
