# local_cluster.sh - sourced by tests/cli/spark_cluster.sh and bench/scale.sh:
# a Spark standalone cluster on 127.0.0.1 started with PySpark's own
# bin/spark-class (the pip package has no sbin/start-*.sh).
#
#   spark_python                  the python that has pyspark, or fails
#   spark_local_cluster DIR N     a master and N one-core workers; sets
#                                 $spark_master and $spark_worker_pid[i],
#                                 appends every pid to $spark_pids; logs in DIR
# The caller kills "${spark_pids[@]}" when done.

spark_python() {
    local py=${CLINNER_SPARK_PYTHON:-${CLINNER_CACHE:-$HOME/.cache/clinner}/spark/venv/bin/python}
    [ -x "$py" ] || py=python3
    "$py" -c 'import pyspark' 2>/dev/null || return 1
    echo "$py"
}

_spark_free_port() {
    "$PYSPARK_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null
}

spark_local_cluster() { # DIR N
    local dir=$1 n=$2 w port
    export SPARK_HOME
    SPARK_HOME=$("$PYSPARK_PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
    export SPARK_LOCAL_IP=127.0.0.1
    port=$(_spark_free_port)
    spark_master="spark://127.0.0.1:$port"
    "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 \
        --port "$port" --webui-port "$(_spark_free_port)" >"$dir/master.log" 2>&1 &
    spark_pids+=($!)
    disown $!
    for w in $(seq "$n"); do
        mkdir -p "$dir/work$w"
        "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
            --cores 1 --memory 1g --work-dir "$dir/work$w" --webui-port "$(_spark_free_port)" \
            "$spark_master" >"$dir/worker$w.log" 2>&1 &
        spark_pids+=($!)
        spark_worker_pid[$w]=$!
        disown $! # no "Killed" notice from the shell when a test kills it
    done
    local up=0
    for _ in $(seq 600); do
        up=$(cat "$dir"/worker*.log 2>/dev/null | grep -c "Successfully registered with master" || true)
        [ "$up" -ge "$n" ] && return 0
        sleep 0.1
    done
    tail -20 "$dir/master.log" "$dir"/worker*.log >&2
    return 1
}
