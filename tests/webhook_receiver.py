#!/usr/bin/env python3
"""webhook_receiver.py - a webhook receiver for tests/webhooks.t, and how a
receiver checks scrimd's events (doc/webhooks.md).

  serve:   webhook_receiver.py serve --secret-file F --log LOG --port-file P
               [--port N] [--refuse-every K] [--slow-every K --slow SECONDS]
  report:  webhook_receiver.py report --log LOG --expect FILE
  sign:    webhook_receiver.py sign --secret-file F [--time T] < BODY
               (prints a Scrim-Signature value, for forging tests)

serve answers POSTs: a request whose Scrim-Signature does not verify (wrong
HMAC, missing, or a timestamp more than --tolerance seconds away) is
rejected with 401 and never accepted; of the others, every K-th is refused
with 503 (--refuse-every) and every K-th of those left is accepted but
answered after --slow seconds (past scrimd's --webhook-timeout, so that
scrimd sends it again: a duplicate).  Every request is one JSON line in LOG.

report reads LOG and FILE (the "type:key" of each event expected, one a
line; key = content_id, or review_id for decisions) and prints the figures
as JSON.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time
from datetime import datetime

TOLERANCE = 300


def read_secret(path):
    with open(path, "rb") as f:
        return f.read().strip()


def sign(secret, t, body):
    mac = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256)
    return "t=%d,v1=%s" % (t, mac.hexdigest())


def verify(secret, header, body, now, tolerance=TOLERANCE):
    """'ok', or why not: 'missing', 'malformed', 'stale', 'bad'."""
    if not header:
        return "missing"
    t, sigs = None, []
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t" and v.isdigit():
            t = int(v)
        elif k == "v1":
            sigs.append(v)
    if t is None or not sigs:
        return "malformed"
    if abs(now - t) > tolerance:
        return "stale"
    want = hmac.new(secret, str(t).encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    return "ok" if any(hmac.compare_digest(want, s) for s in sigs) else "bad"


def serve(a):
    secret = read_secret(a.secret_file)
    lock = threading.Lock()
    state = {"n": 0}
    logf = open(a.log, "a")

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            got = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            sig = verify(secret, self.headers.get("Scrim-Signature"), body,
                         got, a.tolerance)
            ev = {}
            try:
                ev = json.loads(body)
            except ValueError:
                pass
            slow = 0
            with lock:
                if sig != "ok":
                    status = 401
                else:
                    state["n"] += 1
                    k = state["n"]
                    status = 200
                    if a.refuse_every and k % a.refuse_every == 0:
                        status = 503
                    elif a.slow_every and k % a.slow_every == 0:
                        slow = a.slow
                rec = {"received": got, "status": status, "sig": sig,
                       "slow": slow > 0,
                       "header_id": self.headers.get("Scrim-Event-Id"),
                       "attempt": self.headers.get("Scrim-Delivery-Attempt"),
                       "id": ev.get("id"), "type": ev.get("type"),
                       "time": ev.get("time"),
                       "content_id": ev.get("content_id"),
                       "review_id": ev.get("review_id"),
                       "sha256": hashlib.sha256(body).hexdigest(),
                       "pid": os.getpid()}
                if a.keep_bodies and sig == "ok":
                    rec["event"] = ev
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
            if slow:
                time.sleep(slow)
            out = b'{"ok":true}' if status == 200 else b'{"ok":false}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass

    class S(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True

    srv = S(("127.0.0.1", a.port), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


def report(a):
    recs = [json.loads(l) for l in open(a.log) if l.strip()]
    expect = [l.strip() for l in open(a.expect) if l.strip()]
    from calendar import timegm
    def t_of(s):
        d = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
        return timegm(d.timetuple()) + d.microsecond / 1e6
    signed = [r for r in recs if r["sig"] == "ok"]
    accepted = [r for r in signed if r["status"] == 200]
    by_id = {}
    for r in signed:
        by_id.setdefault(r["id"], []).append(r)
    keys = {}
    for r in accepted:
        key = "%s:%s" % (r["type"], r["review_id"] if r["type"] ==
                         "review.decision" else r["content_id"])
        keys.setdefault(key, []).append(r)
    missing = [k for k in expect if k not in keys]
    delays = []
    for k in expect:
        if k in keys:
            first = min(r["received"] for r in keys[k])
            delays.append(first - t_of(keys[k][0]["time"]))
    same = all(len({r["sha256"] for r in rs}) == 1 and
               all(r["header_id"] == r["id"] for r in rs)
               for rs in by_id.values())
    acc_ids = [r["id"] for r in accepted]
    out = {
        "events": len(expect),
        "event_ids": len(by_id),
        "missing": missing,
        "deliveries": len(signed),
        "accepted": len(accepted),
        "refused": sum(1 for r in signed if r["status"] != 200),
        "retries": len(signed) - len(by_id),
        "duplicates": len(acc_ids) - len(set(acc_ids)),
        "bad_signatures": sum(1 for r in recs if r["sig"] != "ok"),
        "same_body_per_id": same,
        "max_delay_s": round(max(delays), 3) if delays else None,
        "receivers": len({r["pid"] for r in recs}),
    }
    json.dump(out, sys.stdout)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--secret-file", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--port-file", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--refuse-every", type=int, default=0)
    s.add_argument("--slow-every", type=int, default=0)
    s.add_argument("--slow", type=float, default=0)
    s.add_argument("--tolerance", type=float, default=TOLERANCE)
    s.add_argument("--keep-bodies", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("--log", required=True)
    r.add_argument("--expect", required=True)
    g = sub.add_parser("sign")
    g.add_argument("--secret-file", required=True)
    g.add_argument("--time", type=int, default=None)
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a)
    elif a.cmd == "report":
        report(a)
    else:
        body = sys.stdin.buffer.read()
        t = a.time if a.time is not None else int(time.time())
        print(sign(read_secret(a.secret_file), t, body))


if __name__ == "__main__":
    main()
