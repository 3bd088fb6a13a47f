"""clinner on Apache Spark: tag an RDD or DataFrame of clinical notes.

Each partition is piped through one long-lived ``clinner tag --from jsonl
--to jsonl -`` process (its streaming mode: one document in, one tagged
document out, memory bounded by a document), driven by ``mapPartitions``.
The clinner binary and the model travel with the job through Spark's own
file shipping (``SparkContext.addFile`` / ``spark-submit --files``) and are
found on the executors with ``SparkFiles.get``.  A partition whose clinner
process fails raises, so Spark retries the task elsewhere; since a task's
output counts only once the task succeeds, every document comes out exactly
once even when an executor dies mid-job.

    from clinner_spark import ship, tag_dataframe
    ship(spark.sparkContext, "/usr/local/bin/clinner", "raredis-crf.model")
    ents = tag_dataframe(spark, notes_df, clinner="clinner",
                         model="raredis-crf.model", id_col="note_id", text_col="text")
    ents.show()   # doc_id, start, end, type, text, confidence

Offsets are Unicode code points into the text (Python str indexing), end
exclusive; a discontinuous entity spans from its first fragment's start to
its last fragment's end (``tag_jsonl`` keeps the fragments).
"""
import json
import os
import stat
import subprocess
import tempfile
import threading

ENTITY_SCHEMA = ("doc_id string, start int, end int, type string, text string, "
                 "confidence double")


def ship(sc, *paths):
    """Send this module (for the executors' Python workers) and files (the
    clinner binary, a model) to every executor."""
    sc.addPyFile(os.path.abspath(__file__))
    for p in paths:
        sc.addFile(p)


def _local(name):
    """A shipped file's path on this executor, else name as given (a path or
    a program on $PATH)."""
    if not name:
        return name
    try:
        from pyspark import SparkFiles
        p = SparkFiles.get(os.path.basename(name))
    except Exception:  # not inside a Spark task
        p = None
    if p and os.path.exists(p):
        return p
    return name


def _executable(path):
    """Shipped files may lose their execute bit."""
    if os.path.isfile(path) and not os.access(path, os.X_OK):
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _pipe(argv, lines):
    """Feed lines (JSONL documents) to argv's stdin from a thread, yield its
    stdout lines as they come; raise with clinner's message on failure."""
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    feed_error = []

    def feed():
        try:
            for line in lines:
                if isinstance(line, str):
                    line = line.encode("utf-8")
                proc.stdin.write(line.rstrip(b"\n") + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass  # clinner stopped early: its exit status says why
        except Exception as e:  # the upstream iterator failed
            feed_error.append(e)
            proc.kill()

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    for out in proc.stdout:
        yield out.decode("utf-8").rstrip("\n")
    rc = proc.wait()
    t.join()
    if feed_error:
        raise feed_error[0]
    if rc != 0:
        err.seek(0)
        msg = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError("clinner exited %d: %s" % (rc, " | ".join(msg)))


def tag_jsonl(rdd, clinner="clinner", model=None, backend="crf", args=()):
    """RDD of JSONL documents ({"id","text"}, or clinner's full jsonl with
    tokens) -> RDD of tagged JSONL documents (entities, labels), one clinner
    process per partition.  clinner and model: names of shipped files, or
    paths valid on every executor."""
    extra = list(args)

    def run(lines):
        exe = _executable(_local(clinner))
        argv = [exe, "tag", "--backend", backend, "--from", "jsonl", "--to", "jsonl",
                "--progress", "off"]
        if model:
            argv += ["--model", _local(model)]
        argv += extra + ["-"]
        return _pipe(argv, lines)

    return rdd.mapPartitions(run)


def entity_rows(tagged_line):
    """The entities of one tagged JSONL document as tuples (ENTITY_SCHEMA)."""
    d = json.loads(tagged_line)
    rows = []
    for e in d.get("entities", []):
        frags = e["fragments"]
        rows.append((d["id"], frags[0][0], frags[-1][1], e["type"], e.get("text", ""),
                     float(e["confidence"]) if e.get("confidence") is not None else None))
    return rows


def tag_dataframe(spark, df, id_col="id", text_col="text", **kw):
    """DataFrame of notes (id, text) -> DataFrame of entities
    (doc_id, start, end, type, text, confidence); kw as tag_jsonl."""
    docs = df.select(id_col, text_col).rdd.map(
        lambda r: json.dumps({"id": str(r[0]), "text": r[1]}, ensure_ascii=False))
    return spark.createDataFrame(tag_jsonl(docs, **kw).flatMap(entity_rows), ENTITY_SCHEMA)
