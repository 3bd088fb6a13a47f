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
py=${CLINNER_SPARK_PYTHON:-${CLINNER_CACHE:-$HOME/.cache/clinner}/spark/venv/bin/python}
[ -x "$py" ] || py=python3
"$py" -c 'import pyspark' 2>/dev/null || skip "no PySpark for $py (scripts/setup-spark.sh installs it)"
test_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/test"
train_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/train"
[ -d "$test_split" ] || skip "no RareDis test split at $test_split"
spark_home=$("$py" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME="$spark_home" PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR=
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

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
mport=$(free_port)
master="spark://127.0.0.1:$mport"
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 \
    --port "$mport" --webui-port "$(free_port)" >"$tmp/master.log" 2>&1 &
pids+=($!)
for w in 1 2; do
    mkdir "$tmp/work$w"
    "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
        --cores 1 --memory 1g --work-dir "$tmp/work$w" --webui-port "$(free_port)" \
        "$master" >"$tmp/worker$w.log" 2>&1 &
    pids+=($!)
    wpid[$w]=$!
done
for _ in $(seq 600); do
    [ "$(grep -c "Successfully registered with master" "$tmp"/worker*.log 2>/dev/null |
         awk -F: '{s+=$2} END {print s+0}')" -ge 2 ] && break
    sleep 0.1
done
grep -q "Successfully registered" "$tmp/worker2.log" ||
    { tail -20 "$tmp/master.log" "$tmp"/worker*.log; fail "the cluster did not come up"; }
echo "cluster up: master $master, two workers"

"$py" "$root/integrations/spark/test_spark_cluster.py" "$master" "$tmp/clinner-slow" "$model" \
    "$tmp/test.jsonl" "$tmp/ref.jsonl" "$tmp/plain.jsonl" "$tmp/plain.ref.jsonl" \
    "$tmp/markers" "${wpid[2]}" 2>"$tmp/driver.err" ||
    { grep -v '^[[:space:]]*at \|^[[:space:]]*\.\.\. [0-9]* more' "$tmp/driver.err" | tail -40
      fail "the Spark job failed"; }
grep -q "Lost executor\|lost\|Removing executor" "$tmp/driver.err" "$tmp/master.log" &&
    echo "Spark saw the executor lost and retried its tasks"
echo ok
