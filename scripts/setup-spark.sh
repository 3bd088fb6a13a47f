#!/usr/bin/env bash
# setup-spark.sh - what integrations/spark/ needs, apart from the default
# set-up (scripts/setup.sh never runs this):
#   1. a Java runtime from Debian (openjdk-17-jre-headless; Spark 3.5 runs on 8/11/17)
#   2. PySpark 3.5.3 and its py4j from PyPI, pinned by sha256, installed into
#      a virtual environment ${CLINNER_CACHE:-~/.cache/clinner}/spark/venv
#      (the pyspark sdist carries Spark's jars and sbin/ scripts: no other download)
# Idempotent; prints the venv's python on its last line.  Offline with an
# empty cache it fails with a message saying what could not be fetched.
set -euo pipefail
PYSPARK_VERSION=3.5.3
PYSPARK_SHA256=68b7cc0c0c570a7d8644f49f40d2da8709b01d30c9126cc8cf93b4f84f3d9747
PY4J_VERSION=0.10.9.7
PY4J_SHA256=0b6e5315bb3ada5cf62ac651d107bb2ebc02def3dee9d9548e3baac644ea8dbb

cache=${CLINNER_CACHE:-$HOME/.cache/clinner}/spark
venv=$cache/venv
mkdir -p "$cache/dl"
say() { echo "setup-spark: $*" >&2; }

# 1. Java
if ! command -v java >/dev/null; then
    say "installing openjdk-17-jre-headless from Debian..."
    [ "$(id -u)" -eq 0 ] && SUDO= || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q openjdk-17-jre-headless >/tmp/clinner-apt-spark.log 2>&1 || {
        $SUDO apt-get update -q >>/tmp/clinner-apt-spark.log 2>&1 || true
        $SUDO apt-get install -y -q openjdk-17-jre-headless >>/tmp/clinner-apt-spark.log 2>&1 || {
            say "apt-get install openjdk-17-jre-headless failed (offline?); see /tmp/clinner-apt-spark.log"
            exit 1; }
    }
fi
java -version 2>&1 | head -1 >&2

# 2. PySpark in a venv, from pinned sdists
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    say "pyspark $PYSPARK_VERSION already in $venv"
else
    reqs=$cache/requirements.txt
    printf 'pyspark==%s --hash=sha256:%s\npy4j==%s --hash=sha256:%s\n' \
        "$PYSPARK_VERSION" "$PYSPARK_SHA256" "$PY4J_VERSION" "$PY4J_SHA256" >"$reqs"
    if [ ! -f "$cache/dl/pyspark-$PYSPARK_VERSION.tar.gz" ] || [ ! -f "$cache/dl/py4j-$PY4J_VERSION.tar.gz" ]; then
        say "downloading pyspark $PYSPARK_VERSION (317 MB) and py4j $PY4J_VERSION from PyPI..."
        python3 -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$reqs" \
            -d "$cache/dl" || { say "download failed (offline?): pyspark==$PYSPARK_VERSION"; exit 1; }
    fi
    echo "$PYSPARK_SHA256  $cache/dl/pyspark-$PYSPARK_VERSION.tar.gz" | sha256sum -c --quiet - ||
        { say "pyspark sdist: sha256 mismatch; remove $cache/dl and retry"; exit 1; }
    echo "$PY4J_SHA256  $cache/dl/py4j-$PY4J_VERSION.tar.gz" | sha256sum -c --quiet - ||
        { say "py4j sdist: sha256 mismatch; remove $cache/dl and retry"; exit 1; }
    say "installing into $venv..."
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --no-index --find-links "$cache/dl" --no-build-isolation \
        --require-hashes -r "$reqs" 2>/tmp/clinner-pip-spark.log || {
        # sdists build with setuptools/wheel: fetch them only when the venv lacks them
        "$venv/bin/python" -m pip install -q setuptools wheel >>/tmp/clinner-pip-spark.log 2>&1
        "$venv/bin/python" -m pip install -q --no-index --find-links "$cache/dl" \
            --no-build-isolation --require-hashes -r "$reqs" >>/tmp/clinner-pip-spark.log 2>&1 ||
            { say "pip install failed; see /tmp/clinner-pip-spark.log"; exit 1; }
    }
fi
"$venv/bin/python" -c "import pyspark; print('setup-spark: pyspark', pyspark.__version__)" >&2
echo "$venv/bin/python"
