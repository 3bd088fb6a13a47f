"""Driver of tests/cli/spark_cluster.sh: tags the test split on a standalone
Spark cluster (a master and two workers on 127.0.0.1, started by the shell
test) through clinner_spark, kills one worker (with its executor) while the
job runs, and checks against the single-process run:
  1. the tagged documents, collected in input order, are byte-identical to
     `clinner tag` on the whole file: every document exactly once;
  2. the entity DataFrame (doc_id, start, end, type, text, confidence) holds
     the single-process run's entities;
  3. tag_dataframe on an (id, text) DataFrame gives the entities of a
     single-process run on the same id/text input.
usage: test_spark_cluster.py MASTER CLINNER_WRAPPER MODEL TEST_JSONL REF_JSONL
       PLAIN_JSONL PLAIN_REF_JSONL MARKER_DIR KILL_PID
"""
import json
import os
import signal
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyspark.sql import SparkSession  # noqa: E402

from clinner_spark import ENTITY_SCHEMA, entity_rows, ship, tag_dataframe, tag_jsonl  # noqa: E402

(master, wrapper, model, test_jsonl, ref_jsonl, plain_jsonl, plain_ref, markers,
 kill_pid) = sys.argv[1:10]


def descendants(pid):
    """pid and every process below it (from /proc)."""
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def kill_worker_mid_job():
    """Once two tasks have started their clinner, kill worker 2 and its executor."""
    deadline = time.time() + 300
    while time.time() < deadline and len(os.listdir(markers)) < 2:
        time.sleep(0.1)
    procs = descendants(int(kill_pid))
    for p in procs:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("killed worker 2 (%d processes) after %d tasks had started"
          % (len(procs), len(os.listdir(markers))), flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


spark = (SparkSession.builder.master(master).appName("clinner-spark-test")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.ui.enabled", "false")
         .config("spark.executor.memory", "512m")
         .config("spark.task.maxFailures", "8")
         .getOrCreate())
sc = spark.sparkContext
sc.setLogLevel("ERROR")
ship(sc, wrapper, model)
clinner, mname = os.path.basename(wrapper), os.path.basename(model)

lines = open(test_jsonl, encoding="utf-8").read().splitlines()
ref = open(ref_jsonl, encoding="utf-8").read()
tagged = tag_jsonl(sc.parallelize(lines, 8), clinner=clinner, model=mname)

# 1. with a worker killed during the job
killer = threading.Thread(target=kill_worker_mid_job, daemon=True)
killer.start()
t0 = time.time()
out = tagged.collect()
killer.join()
print("tagged %d documents on the cluster in %.1f s" % (len(out), time.time() - t0))
ids = Counter(json.loads(line)["id"] for line in out)
twice = [i for i, n in ids.items() if n != 1]
if twice:
    fail("documents not exactly once: %s" % twice[:5])
if len(out) != len(lines):
    fail("%d documents out of %d" % (len(out), len(lines)))
if "\n".join(out) + "\n" != ref:
    fail("the documents differ from the single-process run")
print("1. every document exactly once, byte-identical to the single-process run")

# 2. the entity DataFrame (computed again, on the surviving worker)
ents = spark.createDataFrame(tagged.flatMap(entity_rows), ENTITY_SCHEMA)
got = Counter(tuple(r) for r in ents.collect())
want = Counter(row for line in ref.splitlines() for row in entity_rows(line))
if got != want or not got:
    fail("entity DataFrame differs: %d rows vs %d expected" % (sum(got.values()),
                                                              sum(want.values())))
print("2. entity DataFrame: %d entities, as the single-process run" % sum(got.values()))

# 3. tag_dataframe on (id, text)
plain = [json.loads(line) for line in open(plain_jsonl, encoding="utf-8")]
df = spark.createDataFrame([(d["id"], d["text"]) for d in plain], "note_id string, body string")
ents = tag_dataframe(spark, df, id_col="note_id", text_col="body", clinner=clinner, model=mname)
got = Counter(tuple(r) for r in ents.collect())
want = Counter(row for line in open(plain_ref, encoding="utf-8") for row in entity_rows(line))
if got != want or not got:
    fail("tag_dataframe: %d entities vs %d expected" % (sum(got.values()), sum(want.values())))
print("3. tag_dataframe(id, text): %d entities, as the single-process run" % sum(got.values()))
spark.stop()
print("ok")
