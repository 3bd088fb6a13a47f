#!/usr/bin/env python3
"""fake_openai.py - a stand-in chat-completions server for the CLI tests.

Listens on 127.0.0.1 (a free port, written to PORTFILE), answers
POST /v1/chat/completions with one "token : label" line per token of the
last user turn.  Labels depend only on the token text, so every run gets the
same answer: capitalised words are B-DISEASE (I-DISEASE right after another
capitalised word), words ending in "itis" B-SIGN, the rest O.

  fake_openai.py PORTFILE [--delay S] [--fail-every N] [--key KEY] [--misalign TOKEN]
                 [--port N]

--delay S       sleep S seconds before each answer
--fail-every N  answer every Nth request with HTTP 503 (retries are expected)
--key KEY       require "Authorization: Bearer KEY" (401 otherwise)
--misalign TOK  leave the last line out of answers for sentences holding the
                token TOK (a misaligned answer, the same on every run)
--port N        listen on port N (default: a free one), e.g. to restart a server
GET /v1/models answers 200 (the health check of a fleet).
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def labels_for(tokens):
    out, prev_cap = [], False
    for t in tokens:
        cap = t[:1].isupper() and t.isalpha()
        if cap:
            out.append("I-DISEASE" if prev_cap else "B-DISEASE")
        elif t.endswith("itis"):
            out.append("B-SIGN")
        else:
            out.append("O")
        prev_cap = cap
    return out


def main():
    args = sys.argv[1:]
    portfile = args.pop(0)
    delay, fail_every, key, misalign, port = 0.0, 0, None, None, 0
    while args:
        a = args.pop(0)
        if a == "--delay":
            delay = float(args.pop(0))
        elif a == "--fail-every":
            fail_every = int(args.pop(0))
        elif a == "--key":
            key = args.pop(0)
        elif a == "--misalign":
            misalign = args.pop(0)
        elif a == "--port":
            port = int(args.pop(0))
    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def log_message(self, *a):
            pass

        def handle(self):
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client was killed: expected in these tests

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                return self.reply(200, {"object": "list", "data": [{"id": "fake"}]})
            self.reply(404, {"error": {"message": "not found"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            req = json.loads(self.rfile.read(n))
            with lock:
                count[0] += 1
                k = count[0]
            if key is not None and self.headers.get("Authorization") != "Bearer " + key:
                return self.reply(401, {"error": {"message": "Incorrect API key provided: "
                                                  + self.headers.get("Authorization", "")}})
            if fail_every and k % fail_every == 0:
                return self.reply(503, {"error": {"message": "busy"}})
            if delay:
                time.sleep(delay)
            toks = req["messages"][-1]["content"].split("\n")
            pairs = list(zip(toks, labels_for(toks)))
            if misalign is not None and misalign in toks:
                pairs = pairs[:-1]
            lines = "".join("%s : %s\n" % (t, l) for t, l in pairs)
            self.reply(200, {"choices": [{"message": {"role": "assistant", "content": lines},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": len(toks) * 4}})

    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
