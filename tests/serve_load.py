#!/usr/bin/env python3
"""Load client for `clinner serve` (tests/cli/serve_load.sh, docs/BENCHMARKS.md).

CLIENTS threads, each with one keep-alive HTTP/1.1 connection, each sending
REQUESTS POST /v1/tag requests of one sentence ({"text": ...}), sentences
taken in turn from the .txt files of a BRAT folder.  Every answer must be
200 with one document whose text is the sentence and whose entities lie
inside it.  The server's resident memory (VmRSS of PID) is read after the
first 100 answers and after the last.  Prints one JSON object: requests,
failures, seconds, requests_per_s, p50_ms, p90_ms, p99_ms, max_ms,
rss_after_100_kb, rss_after_kb.

usage: serve_load.py URL PID BRAT_DIR CLIENTS REQUESTS [TIME_LIMIT_S]
"""
import glob
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse


def sentences(folder):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
        text = open(path, encoding="utf-8").read()
        for s in re.split(r"(?<=[.!?])\s+|\n+", text):
            s = s.strip()
            if len(s) > 3:
                out.append(s)
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    url, pid, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    clients, per_client = int(sys.argv[4]), int(sys.argv[5])
    limit = float(sys.argv[6]) if len(sys.argv) > 6 else 600.0
    sents = sentences(folder)
    if not sents:
        sys.exit(f"no sentences in {folder}")
    u = urllib.parse.urlparse(url)
    lock = threading.Lock()
    lat, failures, done = [], [], [0]
    rss100 = [None]
    t0 = time.monotonic()

    def client(k):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for j in range(per_client):
            if time.monotonic() - t0 > limit:
                with lock:
                    failures.append("time limit reached")
                return
            s = sents[(k * per_client + j) % len(sents)]
            body = json.dumps({"text": s})
            a = time.monotonic()
            try:
                conn.request("POST", "/v1/tag", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200
                if ok:
                    d = json.loads(data)[0]
                    ok = d["text"] == s and all(
                        0 <= f[0] < f[1] <= len(s) for e in d["entities"] for f in e["fragments"])
                err = None if ok else f"status {r.status}: {data[:200]!r}"
            except Exception as e:  # a refused or cut connection is a failure
                err = f"{type(e).__name__}: {e}"
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            b = time.monotonic()
            with lock:
                lat.append(b - a)
                done[0] += 1
                if err:
                    failures.append(err)
                if done[0] == 100:
                    rss100[0] = rss_kb(pid)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    lat.sort()
    q = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 2)
    print(json.dumps({
        "requests": len(lat), "failures": len(failures), "first_failures": failures[:3],
        "seconds": round(secs, 2), "requests_per_s": round(len(lat) / secs, 1),
        "p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99), "max_ms": round(1000 * lat[-1], 2),
        "rss_after_100_kb": rss100[0], "rss_after_kb": rss_kb(pid)}))


if __name__ == "__main__":
    main()
