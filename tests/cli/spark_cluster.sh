#!/usr/bin/env bash
# The Spark integration (integrations/spark/) on a real standalone cluster:
# a master and two workers on 127.0.0.1, started with PySpark's own
# bin/spark-class, tag the RareDis test split through clinner_spark with the
# CRF; one worker is killed -9 (with its executor) while the job runs.  The
# checks are in integrations/spark/test_spark_cluster.py.  Skipped with a
# message when Java or PySpark is absent (scripts/setup-spark.sh installs
# them; the venv it makes is found, or set CLINNER_SPARK_PYTHON).
set -u
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
root=$(cd "$(dirname "$0")/../.." && pwd)
B="$CLINNER_BIN"
[ -n "${CLINNER_SANITIZER:-}" ] && skip "not under the sanitizers (the JVMs are slow enough)"
command -v java >/dev/null || skip "no Java runtime (scripts/setup-spark.sh installs one)"
. "$root/integrations/spark/local_cluster.sh"
py=$(spark_python) || skip "no PySpark (scripts/setup-spark.sh installs it, or set CLINNER_SPARK_PYTHON)"
test_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/test"
train_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/train"
[ -d "$test_split" ] || skip "no RareDis test split at $test_split"
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"
tmp=$(mktemp -d)
spark_pids=()
cleanup() {
    for p in "${spark_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# the model and the single-process reference runs
model="$root/models/raredis-crf.model"
if [ ! -f "$model" ]; then
    model="$tmp/raredis-crf.model"
    "$B" train crf --train "$train_split" --max-iter 15 --progress off -o "$model" \
        >/dev/null 2>"$tmp/train.err" || { cat "$tmp/train.err"; fail "train exited $?"; }
fi
"$B" convert --from brat --to jsonl "$test_split" -o "$tmp/test.jsonl" || fail "convert exited $?"
"$B" tag --backend crf --model "$model" --from jsonl --progress off "$tmp/test.jsonl" \
    -o "$tmp/ref.jsonl" || fail "reference run exited $?"
"$py" -c '
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for l in open(sys.argv[1], encoding="utf-8"):
        d = json.loads(l)
        out.write(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n")
' "$tmp/test.jsonl" "$tmp/plain.jsonl"
"$B" tag --backend crf --model "$model" --from jsonl --progress off "$tmp/plain.jsonl" \
    -o "$tmp/plain.ref.jsonl" || fail "reference run (id, text) exited $?"

# what the executors run: clinner, fed a document every 30 ms so that the
# job lasts long enough to lose a worker in it; each start leaves a marker
mkdir "$tmp/markers"
cat >"$tmp/clinner-slow" <<EOF
#!/usr/bin/env bash
touch "$tmp/markers/\$\$"
while IFS= read -r line; do printf '%s\n' "\$line"; sleep 0.03; done | "$B" "\$@"
EOF
chmod +x "$tmp/clinner-slow"

# the cluster
spark_local_cluster "$tmp" 2 || fail "the cluster did not come up"
master=$spark_master
echo "cluster up: master $master, two workers"

"$py" "$root/integrations/spark/test_spark_cluster.py" "$master" "$tmp/clinner-slow" "$model" \
    "$tmp/test.jsonl" "$tmp/ref.jsonl" "$tmp/plain.jsonl" "$tmp/plain.ref.jsonl" \
    "$tmp/markers" "${spark_worker_pid[2]}" 2>"$tmp/driver.err" ||
    { grep -v '^[[:space:]]*at \|^[[:space:]]*\.\.\. [0-9]* more' "$tmp/driver.err" | tail -40
      fail "the Spark job failed"; }
grep -q "Lost executor\|lost\|Removing executor" "$tmp/driver.err" "$tmp/master.log" &&
    echo "Spark saw the executor lost and retried its tasks"
echo ok
