#!/usr/bin/env python3
"""openapi_check.py - tests/openapi.t's checker: real answers of every scrimd
endpoint, errors included, against doc/openapi.json.  Prints TAP.

    python3 tests/openapi_check.py BIN_DIR TEMP_DIR

It fails when
  (a) scrimd has a route (a scrim_server_route() call in src/ or tools/) whose
      path and method no operation of the document covers, or the document
      has an operation no route serves;
  (b) an operation's documented status has no case below that got it (but
      for the statuses in EXEMPT, and EXEMPT_OPS for one operation);
  (c) an answer's status is not documented for its route and method, or its
      content type, its required headers or its body (JSON Schema, Draft
      2020-12, python3-jsonschema) do not match the document.

To add a route: document it in doc/openapi.json (path, method, every status
it answers, with schemas), add an entry to OPS (an example path and what kind
of route it is: the generic cases - malformed query, body over --max-body,
wrong Host, cross-site, tokens, queue full, timeout, shutting down - are made
from it), and add cases for its own answers (200, its 400s, 404s ...) to
main(), phase A (c(NAME, METHOD, TARGET, EXPECTED_STATUS, headers=,
body=, check=)), or B for what needs a busy daemon.  A new sub-path of a
prefix route (say /v1/review/stats) is not seen by (a): document it and
add it to OPS all the same (a case sent to a path the document lacks
must get the generic 404).  A new field in an answer fails (c) until its
schema has it: the schemas are closed (additionalProperties: false).
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

import jsonschema

ROOT = os.getcwd()
BIN, T = sys.argv[1], sys.argv[2]
DOC_PATH = os.path.join(ROOT, "doc", "openapi.json")
FIX = os.path.join(ROOT, "tests", "fixtures")
with open(DOC_PATH, "rb") as f:
    DOC_BYTES = f.read()
DOC = json.loads(DOC_BYTES)
METHODS = ("get", "put", "post", "delete", "head", "patch", "options", "trace")

# Statuses documented but not provoked by any case, and why.  Keep it short.
EXEMPT = {
    "500": "out of memory or a failing disk/database: not provoked here",
}
# The same for one operation's status.
EXEMPT_OPS = {}

# ---- TAP ------------------------------------------------------------------------
_n = 0
_failed = 0


def ok(cond, name, diag=""):
    global _n, _failed
    _n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _n, name))
    if not cond:
        _failed += 1
        for line in str(diag).splitlines()[:40]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def skip(reason):
    global _n
    _n += 1
    print("ok %d # skip %s" % (_n, reason))


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line)


# ---- (a) the routes in the source ----------------------------------------------
def source_routes():
    """[(name, {methods}, path, prefix, where)], and the calls not understood."""
    routes, bad = [], []
    for top in ("src", "tools"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for fn in sorted(files):
                if not fn.endswith(".c"):
                    continue
                p = os.path.join(d, fn)
                text = open(p, encoding="utf-8", errors="replace").read()
                for m in re.finditer(r"\bscrim_server_route\s*\(", text):
                    line = text.count("\n", 0, m.start()) + 1
                    where = "%s:%d" % (os.path.relpath(p, ROOT), line)
                    # the definition itself
                    if re.search(r"int\s+$", text[max(0, m.start() - 20):m.start()]):
                        continue
                    depth, i = 1, m.end()
                    while i < len(text) and depth:
                        depth += {"(": 1, ")": -1}.get(text[i], 0)
                        i += 1
                    args = split_args(text[m.end():i - 1])
                    try:
                        name = re.fullmatch(r'\s*"([^"]+)"\s*', args[1]).group(1)
                        meths = set()
                        for tok in args[2].split("|"):
                            mm = re.fullmatch(r"\s*SCRIM_(GET|POST|PUT|DELETE|HEAD)\s*", tok)
                            meths.add(mm.group(1).lower())
                        path = re.fullmatch(r'\s*"([^"]+)"\s*', args[3]).group(1)
                        prefix = "SCRIM_ROUTE_PREFIX" in args[4]
                    except (AttributeError, IndexError):
                        bad.append(where)
                        continue
                    routes.append((name, meths, path, prefix, where))
    return routes, bad


def split_args(s):
    out, depth, cur, q = [], 0, "", False
    for ch in s:
        if ch == '"':
            q = not q
        if not q and ch in "([":
            depth += 1
        if not q and ch in ")]":
            depth -= 1
        if not q and ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def doc_ops():
    for path, item in DOC["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                yield path, m, op


def route_covers(route, path, method):
    name, meths, rpath, prefix, _ = route
    if method not in meths:
        return False
    return path.startswith(rpath) and len(path) > len(rpath) if prefix else path == rpath


def check_routes():
    routes, bad = source_routes()
    ok(not bad, "every scrim_server_route() call is read (name, methods, path)",
       "not understood: %s" % ", ".join(bad))
    ok(len(routes) >= 10, "routes found in the source: %d" % len(routes))
    for r in routes:
        for m in sorted(r[1]):
            ops = [p for p, mm, _ in doc_ops() if mm == m and route_covers(r, p, m)]
            ok(bool(ops), "route %s %s%s (%s, %s) is in doc/openapi.json" %
               (m.upper(), r[2], "*" if r[3] else "", r[0], r[4]),
               "no operation %s on %s%s: document it and add it to OPS in %s" %
               (m.upper(), r[2], "..." if r[3] else "", os.path.basename(__file__)))
    for p, m, op in doc_ops():
        ok(any(route_covers(r, p, m) for r in routes),
           "operation %s %s is served by a route" % (m.upper(), p),
           "no scrim_server_route() serves it")
    return routes


# ---- resolving a request to an operation ------------------------------------------
def schema_ok(schema, value):
    try:
        jsonschema.Draft202012Validator(schema).validate(value)
        return True
    except jsonschema.ValidationError:
        return False


def deref(o):
    while isinstance(o, dict) and "$ref" in o and len(o) == 1:
        node = DOC
        for part in o["$ref"][2:].split("/"):
            node = node[part]
        o = node
    return o


def resolve(path):
    """The document's path template for a concrete path, and its parameters."""
    segs = path.split("/")
    best = None
    for tpl, item in DOC["paths"].items():
        ts = tpl.split("/")
        if len(ts) != len(segs):
            continue
        params, lits, good = {}, 0, True
        for t, s in zip(ts, segs):
            if t.startswith("{") and t.endswith("}"):
                params[t[1:-1]] = s
            elif t == s:
                lits += 1
            else:
                good = False
                break
        if not good:
            continue
        # path parameters must fit their schemas
        for m in METHODS:
            for prm in (item.get(m) or {}).get("parameters", []):
                prm = deref(prm)
                if prm["in"] == "path" and prm["name"] in params:
                    good = good and schema_ok(prm["schema"], params[prm["name"]])
        if good and (best is None or lits > best[1]):
            best = (tpl, lits)
    return best[0] if best else None


# ---- validation ------------------------------------------------------------------
def validator(schema):
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": DOC["components"], "allOf": [schema]}
    return jsonschema.Draft202012Validator(root)


def validate_answer(method, target, status, headers, body):
    """(op key or None, [problems])."""
    path = target.split("?")[0]
    tpl = resolve(path)
    op = DOC["paths"][tpl].get(method.lower()) if tpl else None
    key = "%s %s" % (method.upper(), tpl) if op else None
    if op is not None:
        resp = op["responses"].get(str(status))
        if resp is None:
            return key, ["status %d is not documented for %s" % (status, key)]
        if 200 <= status < 300 and "?" in target:
            # what the daemon took must be documented
            known = {deref(p)["name"] for p in op.get("parameters", [])
                     if deref(p)["in"] == "query"}
            used = {kv.split("=", 1)[0] for kv in target.split("?", 1)[1].split("&")}
            if used - known:
                return key, ["query parameters %s are not documented for %s" %
                             (sorted(used - known), key)]
    else:
        generic = ("MethodNotAllowed" if tpl or method.upper() not in
                   ("GET", "POST", "PUT", "DELETE", "HEAD") else "NotFound")
        resp = DOC["components"]["responses"][generic]
        want = {"MethodNotAllowed": 405, "NotFound": 404}[generic]
        if status != want:
            return None, ["%s %s is no operation: expected %d (%s), got %d" %
                          (method, path, want, generic, status)]
    resp = deref(resp)
    problems = []
    ctype = headers.get("content-type", "")
    content = resp.get("content", {})
    if content and ctype not in content:
        problems.append("content type %r is not one of %s" % (ctype, list(content)))
    for h, spec in resp.get("headers", {}).items():
        spec = deref(spec)
        v = headers.get(h.lower())
        if v is None:
            if spec.get("required"):
                problems.append("header %s missing" % h)
        elif not schema_ok(spec.get("schema", {}), v):
            problems.append("header %s: %r does not fit %s" % (h, v, spec.get("schema")))
    if ctype in content and method.upper() != "HEAD":
        schema = content[ctype].get("schema", {})
        if ctype.startswith("application/json"):
            try:
                value = json.loads(body)
            except ValueError as e:
                return key, problems + ["body is not JSON: %s: %r" % (e, body[:200])]
        elif ctype.startswith("image/jpeg"):
            if body[:3] != b"\xff\xd8\xff":
                problems.append("not a JPEG")
            value = None
        else:
            value = body.decode("utf-8", "replace")
        if value is not None:
            errs = sorted(validator(schema).iter_errors(value), key=lambda e: e.path)
            for e in errs[:5]:
                problems.append("schema: %s at /%s" % (e.message[:300],
                                "/".join(str(x) for x in e.absolute_path)))
    return key, problems


# ---- HTTP ------------------------------------------------------------------------
class Conn:
    """One connection to scrimd (a Unix socket path or (host, port))."""

    def __init__(self, addr, timeout=30):
        if isinstance(addr, str):
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.buf = b""

    def send(self, method, target, headers=(), body=None, host="scrimd",
             head_only_length=None):
        h = ["%s %s HTTP/1.1" % (method, target)]
        if host is not None:
            h.append("Host: " + host)
        h += list(headers)
        if head_only_length is not None:
            h.append("Content-Length: %d" % head_only_length)
        elif body is not None:
            h.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(h) + "\r\n\r\n").encode("latin-1")
        if body is not None and head_only_length is None:
            data += body
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the answer may have come already (413)

    def _fill(self):
        try:
            b = self.s.recv(65536)
        except ConnectionResetError:
            b = b""
        if not b:
            raise EOFError("connection closed")
        self.buf += b

    def recv(self, method):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = None if method == "HEAD" else int(headers.get("content-length", -1))
        if n is None:
            body = b""
        elif n < 0:   # to the close
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        else:
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def request(self, method, target, **kw):
        self.send(method, target, **kw)
        return self.recv(method)

    def close(self):
        self.s.close()


# ---- scrimd ----------------------------------------------------------------------
class Daemon:
    def __init__(self, name, args):
        self.dir = os.path.join(T, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "log")
        self.stderr = open(os.path.join(self.dir, "stderr"), "w")
        open(self.log, "w").close()
        self.p = subprocess.Popen([os.path.join(BIN, "scrimd"), "--socket", self.sock,
                                   "--log", self.log] + args, stderr=self.stderr)
        self.port = None
        for _ in range(600):
            text = open(self.log).read()
            m = re.search(r'"msg":"listening","tcp":"[^"]*","port":(\d+)', text)
            if m:
                self.port = int(m.group(1))
            if '"msg":"ready"' in text:
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("scrimd %s did not start: %s" %
                           (name, open(os.path.join(self.dir, "stderr")).read()[-400:]))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.stderr.close()
        return rc

    def sanitizer_clean(self):
        text = open(os.path.join(self.dir, "stderr")).read()
        return not re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error", text), text


DAEMONS = []


def start(name, args):
    d = Daemon(name, args)
    DAEMONS.append(d)
    return d


# ---- cases -----------------------------------------------------------------------
COVERED = {}          # (op key, status) -> case name
STATE = {}            # values cases leave for later ones (ids)


def run_case(d, name, method, target, expect, headers=(), body=None, tcp=False,
             host="scrimd", conn=None, head_only_length=None, check=None):
    """One request; its status must be `expect` and the answer fit the
    document.  Returns (status, headers, body)."""
    try:
        c = conn or Conn((("127.0.0.1", d.port) if tcp else d.sock))
        if callable(target):
            target = target()
        st, hd, bd = c.request(method, target, headers=headers, body=body, host=host,
                               head_only_length=head_only_length)
        if not conn:
            c.close()
    except Exception as e:   # noqa: BLE001 - reported as a failed case
        ok(False, "%s: %s %s" % (name, method, target), "request failed: %r" % e)
        return None, {}, b""
    return judge(name, method, target, expect, st, hd, bd, check)


def judge(name, method, target, expect, st, hd, bd, check=None):
    key, problems = validate_answer(method, target, st, hd, bd)
    if os.environ.get("OPENAPI_DUMP"):   # every answer, to read them
        with open(os.environ["OPENAPI_DUMP"], "a") as f:
            f.write("== %s: %s %s -> %d %s\n%s\n" % (name, method, target, st,
                    hd.get("content-type"), bd[:3000].decode("utf-8", "replace")))
    if st != expect:
        problems.insert(0, "status %d, expected %d" % (st, expect))
    if check and not problems:
        try:
            msg = check(st, hd, bd)
        except Exception as e:   # noqa: BLE001
            msg = "check raised %r" % e
        if msg:
            problems.append(msg)
    good = ok(not problems, "%s: %s %s -> %d" % (name, method, target[:90], st),
              "\n".join(problems) + "\nbody: %r" % bd[:300])
    if good and key:
        COVERED.setdefault((key, str(st)), name)
    return st, hd, bd


def jget(bd, *keys):
    v = json.loads(bd)
    for k in keys:
        v = v[k]
    return v


# ---- webhooks: what scrimd POSTs, against the document's "webhooks" -----------
class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST and answers 204."""

    def __init__(self):
        import http.server
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append(({k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        import threading
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def check_webhooks(rx, secret):
    import hashlib
    import hmac
    want = set(DOC.get("webhooks", {}))
    end = time.time() + 60
    while time.time() < end and not want <= {h.get("scrim-event-type") for h, _ in rx.got}:
        time.sleep(0.1)
    problems = {}
    for h, body in list(rx.got):
        typ = h.get("scrim-event-type")
        hook = DOC.get("webhooks", {}).get(typ, {}).get("post")
        p = problems.setdefault(typ, [])
        if not hook:
            p.append("event type %r is not in the document's webhooks" % typ)
            continue
        for prm in hook.get("parameters", []):
            prm = deref(prm)
            v = h.get(prm["name"].lower())
            if v is None or not schema_ok(prm["schema"], v):
                p.append("header %s: %r" % (prm["name"], v))
        m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", h.get("scrim-signature", ""))
        if not m or not hmac.compare_digest(m.group(2), hmac.new(
                secret.encode(), m.group(1).encode() + b"." + body, hashlib.sha256).hexdigest()):
            p.append("signature %r does not verify" % h.get("scrim-signature"))
        try:
            ev = json.loads(body)
        except ValueError:
            p.append("body is not JSON: %r" % body[:200])
            continue
        if ev.get("id") != h.get("scrim-event-id") or ev.get("type") != typ:
            p.append("Scrim-Event-Id/Type differ from the body's id/type")
        schema = hook["requestBody"]["content"]["application/json"]["schema"]
        for e in list(validator(schema).iter_errors(ev))[:3]:
            p.append("schema: %s at /%s" % (e.message[:300],
                     "/".join(str(x) for x in e.absolute_path)))
    for typ in sorted(want | set(problems), key=str):
        n = sum(1 for h, _ in rx.got if h.get("scrim-event-type") == typ)
        ok(n > 0 and not problems.get(typ),
           "webhook %s: %d deliveries, headers, signature and body as documented" % (typ, n),
           "\n".join(problems.get(typ) or ["none received"]))
    rx.srv.shutdown()


# ---- fixtures --------------------------------------------------------------------
def png(w, h):
    """A flat grey PNG of w x h (a few KB whatever the size)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    row = b"\0" + b"\x80" * (w * 3)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(row * h, 9)) + chunk(b"IEND", b""))


def padded_png(w, h, pad):
    """png(w, h) with an ancillary chunk of `pad` bytes (a bigger body)."""
    p = png(w, h)
    d = b"\0" * pad
    c = struct.pack(">I", len(d)) + b"scRm" + d + struct.pack(">I", zlib.crc32(b"scRm" + d))
    return p[:33] + c + p[33:]


def huge_png():
    """A PNG whose header claims 60000 x 60000 pixels."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def rfile(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def random_hashes(n, seed):
    r = random.Random(seed)
    return ["%064x" % r.getrandbits(256) for _ in range(n)]


def make_video(path):
    if not shutil.which("ffmpeg"):
        return None
    rc = subprocess.call(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                          "-i", "testsrc=size=160x120:rate=10", "-t", "3", "-c:v", "libx264",
                          "-preset", "ultrafast", "-pix_fmt", "yuv420p", path])
    return path if rc == 0 and os.path.exists(path) else None


# ---- the operations, with what the generic cases need ---------------------------------
# kind: public-get (no cross-site check), public, review (reviewer or admin
# token, checked by the handler), admin (admin token, checked before the
# handler).  worker: queued to a worker (503 queue_full, 504); admin worker
# routes are answered 202 past --admin-wait instead of 504.
OPS = {
    "GET /healthz": dict(path="/healthz", kind="public-get"),
    "GET /metrics": dict(path="/metrics", kind="public-get"),
    "GET /v1/openapi.json": dict(path="/v1/openapi.json", kind="public-get"),
    "GET /review": dict(path="/review", kind="public-get"),
    "POST /v1/hash": dict(path="/v1/hash", kind="public", worker=True),
    "POST /v1/match": dict(path="/v1/match", kind="public", worker=True),
    "GET /v1/lookup": dict(path="/v1/lookup", kind="public", worker=True),
    "POST /v1/lookup": dict(path="/v1/lookup", kind="public", worker=True),
    "POST /v1/compare": dict(path="/v1/compare", kind="public", worker=True),
    "POST /v1/preview": dict(path="/v1/preview", kind="review", worker=True),
    "GET /v1/review": dict(path="/v1/review", kind="review", worker=True),
    "GET /v1/review/lists": dict(path="/v1/review/lists", kind="review", worker=True),
    "GET /v1/review/stats": dict(path="/v1/review/stats", kind="review", worker=True),
    "GET /v1/review/quarantine": dict(path="/v1/review/quarantine", kind="review", worker=True),
    "POST /v1/review/quarantine": dict(path="/v1/review/quarantine", kind="review", worker=True),
    "PUT /v1/review/lists/{name}": dict(path="/v1/review/lists/blk", kind="review", worker=True),
    "GET /v1/review/{id}": dict(path="/v1/review/0123456789abcdef0123456789abcdef",
                                kind="review", worker=True),
    "GET /v1/review/{id}/preview.jpg": dict(
        path="/v1/review/0123456789abcdef0123456789abcdef/preview.jpg", kind="review", worker=True),
    "POST /v1/review/{id}/decision": dict(
        path="/v1/review/0123456789abcdef0123456789abcdef/decision", kind="review", worker=True),
    "POST /v1/review/{id}/revealed": dict(
        path="/v1/review/0123456789abcdef0123456789abcdef/revealed", kind="review", worker=True),
    "GET /v1/review/me": dict(path="/v1/review/me", kind="review", worker=True),
    "PUT /v1/review/me": dict(path="/v1/review/me", kind="review", worker=True),
    "POST /v1/review/me/break": dict(path="/v1/review/me/break", kind="review", worker=True),
    "GET /v1/review/warnings": dict(path="/v1/review/warnings", kind="review", worker=True),
    "PUT /v1/review/warnings/{name}": dict(path="/v1/review/warnings/blk", kind="review",
                                           worker=True),
    "GET /v1/review/log": dict(path="/v1/review/log", kind="review", worker=True),
    # accounts: the admin token (a lead's reads), checked by the handler
    "GET /v1/reviewers": dict(path="/v1/reviewers", kind="review", worker=True),
    "POST /v1/reviewers": dict(path="/v1/reviewers", kind="review", worker=True),
    "GET /v1/reviewers/{name}": dict(path="/v1/reviewers/ann", kind="review", worker=True),
    "DELETE /v1/reviewers/{name}": dict(path="/v1/reviewers/nobody", kind="review", worker=True),
    "POST /v1/reviewers/{name}/disable": dict(path="/v1/reviewers/nobody/disable", kind="review",
                                              worker=True),
    "POST /v1/reviewers/{name}/enable": dict(path="/v1/reviewers/nobody/enable", kind="review",
                                             worker=True),
    "GET /v1/lists": dict(path="/v1/lists", kind="admin", worker=True),
    "GET /v1/lists/{name}": dict(path="/v1/lists/blk", kind="admin", worker=True),
    "PUT /v1/lists/{name}": dict(path="/v1/lists/made-busy", kind="admin", worker=True),
    "DELETE /v1/lists/{name}": dict(path="/v1/lists/nolist", kind="admin", worker=True),
    "POST /v1/lists/{name}/import": dict(path="/v1/lists/blk/import", kind="admin", worker=True),
    "POST /v1/lists/{name}/media": dict(path="/v1/lists/blk/media?id=x", kind="admin", worker=True),
    "GET /v1/audit": dict(path="/v1/audit", kind="admin", worker=True),
    "GET /v1/settings": dict(path="/v1/settings", kind="admin"),
    "GET /v1/jobs/{id}": dict(path="/v1/jobs/0123456789abcdef0123456789abcdef", kind="admin"),
}


def op_method(key):
    return key.split(" ", 1)[0]


def with_query(path, q):
    return path + ("&" if "?" in path else "?") + q


def check_ops_table():
    keys = {"%s %s" % (m.upper(), p) for p, m, _ in doc_ops()}
    missing = sorted(keys - set(OPS))
    extra = sorted(set(OPS) - keys)
    ok(not missing, "every operation of the document has an OPS entry",
       "add to OPS: %s" % missing)
    ok(not extra, "every OPS entry is an operation of the document", "not in the doc: %s" % extra)
    for key, o in OPS.items():
        ok(validate_answer(op_method(key), o["path"], 0, {}, b"")[0] == key,
           "OPS %s: its example path %s resolves to it" % (key, o["path"]))


def wait_job(d, auth, url, seconds=120, states=("done", "failed")):
    """Until the job at url is in one of these states."""
    end = time.time() + seconds
    while time.time() < end:
        cn = Conn(d.sock)
        st, hd, bd = cn.request("GET", url, headers=[auth])
        cn.close()
        if st != 200 or jget(bd, "state") in states:
            return
        time.sleep(0.05)


# ---- reviewer accounts, exposure, caps, warnings, the log -------------------------
def code_is(want):
    """A check: the error's code is want."""
    return lambda s, h, b: None if jget(b, "error", "code") == want else \
        "code %r, not %r" % (jget(b, "error", "code"), want)


def reviewer_cases(c, rid, ADMIN, REVIEWER):
    """Phase A, scrimd started with --review-max-reveals 2 --review-max-items 2;
    the shared reviewer token has revealed once and decided once."""
    tok = {}

    def add(name, role=None):
        b = {"name": name}
        if role:
            b["role"] = role
        st, _, bd = c("reviewers: add %s%s" % (name, " (a lead)" if role else ""), "POST",
                      "/v1/reviewers", 201, headers=[ADMIN], body=json.dumps(b).encode(),
                      check=lambda s, h, b_: None if re.fullmatch(
                          "[0-9a-f]{64}", jget(b_, "token")) else "no token")
        tok[name] = "Authorization: Bearer " + (jget(bd, "token") if st == 201 else "none")
        return tok[name]

    ANN, BOB, LEE = add("ann"), add("bob"), add("lee", "lead")
    c("reviewers: a name taken", "POST", "/v1/reviewers", 409, headers=[ADMIN],
      body=b'{"name":"ann"}', check=code_is("exists"))
    c("reviewers: a name scrimd keeps", "POST", "/v1/reviewers", 400, headers=[ADMIN],
      body=b'{"name":"admin"}')
    c("reviewers: a bad role", "POST", "/v1/reviewers", 400, headers=[ADMIN],
      body=b'{"name":"zed","role":"boss"}')
    c("reviewers: not JSON", "POST", "/v1/reviewers", 400, headers=[ADMIN], body=b'{')
    c("reviewers: add with the shared reviewer token", "POST", "/v1/reviewers", 403,
      headers=[REVIEWER], body=b'{"name":"zed"}')
    c("reviewers: add with a lead's token", "POST", "/v1/reviewers", 403, headers=[LEE],
      body=b'{"name":"zed"}')
    c("reviewers: every one", "GET", "/v1/reviewers", 200, headers=[ADMIN],
      check=lambda s, h, b: None if sorted(r["name"] for r in jget(b, "reviewers")) ==
      ["ann", "bob", "lee"] else "not ann, bob and lee")
    c("reviewers: read with a lead's token", "GET", "/v1/reviewers", 200, headers=[LEE])
    c("reviewers: read with a reviewer's", "GET", "/v1/reviewers", 403, headers=[ANN])
    c("reviewers: one", "GET", "/v1/reviewers/ann", 200, headers=[ADMIN])
    c("reviewers: a missing one", "GET", "/v1/reviewers/nobody", 404, headers=[ADMIN])
    c("reviewers: a name too long", "GET", "/v1/reviewers/" + "x" * 65, 400, headers=[ADMIN])
    c("reviewers: disable bob", "POST", "/v1/reviewers/bob/disable", 200, headers=[ADMIN],
      check=lambda s, h, b: None if jget(b, "disabled") is True else "not disabled")
    c("reviewers: bob refused at once", "GET", "/v1/review/me", 403, headers=[BOB],
      check=code_is("reviewer_disabled"))
    c("reviewers: enable bob", "POST", "/v1/reviewers/bob/enable", 200, headers=[ADMIN],
      check=lambda s, h, b: None if jget(b, "disabled") is False else "still disabled")
    c("reviewers: disable a missing one", "POST", "/v1/reviewers/nobody/disable", 404,
      headers=[ADMIN])
    c("reviewers: enable a bad name", "POST", "/v1/reviewers/admin/enable", 400, headers=[ADMIN])
    c("reviewers: GET on disable", "GET", "/v1/reviewers/bob/disable", 405, headers=[ADMIN])
    c("reviewers: DELETE on the collection", "DELETE", "/v1/reviewers", 405, headers=[ADMIN])
    c("reviewers: an unknown sub-path", "POST", "/v1/reviewers/bob/other", 404, headers=[ADMIN])
    c("reviewers: POST on one", "POST", "/v1/reviewers/bob", 405, headers=[ADMIN])

    # /v1/review/me
    c("me: the shared reviewer token", "GET", "/v1/review/me", 200, headers=[REVIEWER],
      check=lambda s, h, b: None if jget(b, "anonymous") is True and
      jget(b, "exposure", "today", "reveals") == 1 else "not anonymous, one reveal")
    c("me: the admin token", "GET", "/v1/review/me", 200, headers=[ADMIN])
    c("me: ann", "GET", "/v1/review/me", 200, headers=[ANN],
      check=lambda s, h, b: None if jget(b, "name") == "ann" and
      jget(b, "caps", "reveals_left") == 2 else "not ann with 2 reveals left")
    c("me: ann's level", "PUT", "/v1/review/me", 200, headers=[ANN], body=b'{"level":"strong"}',
      check=lambda s, h, b: None if jget(b, "level") else "no level")
    c("me: a bad level", "PUT", "/v1/review/me", 400, headers=[ANN], body=b'{"level":"blurry"}')
    c("me: nothing to set", "PUT", "/v1/review/me", 400, headers=[ANN], body=b'{}')
    c("me: settings of a shared token", "PUT", "/v1/review/me", 403, headers=[REVIEWER],
      body=b'{"no_pictures":true}')
    c("me: POST on it", "POST", "/v1/review/me", 405, headers=[ANN])
    c("me: skip the break", "POST", "/v1/review/me/break", 200, headers=[ANN],
      body=b'{"reason":"two items left"}')
    c("me: skip it without a reason", "POST", "/v1/review/me/break", 400, headers=[ANN],
      body=b'{"reason":"   "}')
    c("me: GET on the break", "GET", "/v1/review/me/break", 405, headers=[ANN])
    c("me: bob without pictures", "PUT", "/v1/review/me", 200, headers=[BOB],
      body=b'{"no_pictures":true}')
    c("preview: no-pictures mode", "GET", lambda: "/v1/review/%s/preview.jpg" % rid(), 403,
      headers=[BOB], check=code_is("no_pictures"))

    # ann: a preview, reveals and their seconds, the daily caps
    c("ann: a preview", "GET", lambda: "/v1/review/%s/preview.jpg" % rid(), 200, headers=[ANN])
    c("ann: a reveal", "GET", lambda: "/v1/review/%s/preview.jpg?level=light" % rid(), 200,
      headers=[ANN])
    c("ann: the reveal's end", "POST", lambda: "/v1/review/%s/revealed" % rid(), 200,
      headers=[ANN], body=b'{"seconds":30}',
      check=lambda s, h, b: None if jget(b, "seconds") < 30 == jget(b, "claimed")
      else "30 s counted: more than the time elapsed")
    c("ann: the same reveal's end again", "POST", lambda: "/v1/review/%s/revealed" % rid(), 409,
      headers=[ANN], body=b'{"seconds":1}', check=code_is("no_open_reveal"))
    c("ann: a reveal's end without seconds", "POST", lambda: "/v1/review/%s/revealed" % rid(),
      400, headers=[ANN], body=b'{"seconds":-1}')
    c("ann: GET on revealed", "GET", lambda: "/v1/review/%s/revealed" % rid(), 405,
      headers=[ANN])
    c("ann: a second reveal", "GET", lambda: "/v1/review/%s/preview.jpg?level=light" % rid(),
      200, headers=[ANN])
    c("ann: a third, over --review-max-reveals", "GET",
      lambda: "/v1/review/%s/preview.jpg?level=light" % rid(), 429, headers=[ANN],
      check=code_is("reveal_cap"))
    for i in (1, 2):
        c("ann: decision %d" % i, "POST", lambda: "/v1/review/%s/decision" % rid(), 200,
          headers=[ANN], body=b'{"decision":"confirm"}',
          check=lambda s, h, b: None if jget(b, "decision", "by") == "ann" else "not by ann")
    c("ann: a third, over --review-max-items", "POST",
      lambda: "/v1/review/%s/decision" % rid(), 429, headers=[ANN],
      body=b'{"decision":"confirm"}', check=code_is("item_cap"))
    c("ann: a preview past it", "GET", lambda: "/v1/review/%s/preview.jpg" % rid(), 429,
      headers=[ANN], check=code_is("item_cap"))
    c("me: ann's caps used up", "GET", "/v1/review/me", 200, headers=[ANN],
      check=lambda s, h, b: None if jget(b, "caps", "reveals_left") == 0 and
      jget(b, "caps", "items_left") == 0 and jget(b, "exposure", "today") == {
          "previews": 1, "reveals": 2, "seconds": jget(b, "exposure", "today", "seconds"),
          "items": 2, "refused": 3} else "not 1 preview, 2 reveals, 2 items, 3 refused")

    # content warnings
    c("warnings: set one", "PUT", "/v1/review/warnings/blk", 200, headers=[ADMIN],
      body=b'{"warning":"graphic violence"}',
      check=lambda s, h, b: None if jget(b, "blk") == "graphic violence" else "not set")
    c("warnings: with a reviewer's token", "PUT", "/v1/review/warnings/blk", 403,
      headers=[LEE], body=b'{"warning":"x"}')
    c("warnings: not JSON", "PUT", "/v1/review/warnings/blk", 400, headers=[ADMIN], body=b'[')
    c("warnings: a control character", "PUT", "/v1/review/warnings/blk", 400, headers=[ADMIN],
      body=b'{"warning":"a\\u0001b"}')
    c("warnings: a bad list name", "PUT", "/v1/review/warnings/" + "x" * 65, 400,
      headers=[ADMIN], body=b'{"warning":"x"}')
    c("warnings: every one", "GET", "/v1/review/warnings", 200, headers=[ANN])
    c("warnings: PUT without a name", "PUT", "/v1/review/warnings", 405, headers=[ADMIN],
      body=b'{"warning":"x"}')
    c("warnings: a sub-path", "PUT", "/v1/review/warnings/blk/x", 404, headers=[ADMIN],
      body=b'{"warning":"x"}')

    # the log: every kind of event above
    want = {"reveal", "reveal_end", "decision", "cap_refused", "break_dismissed",
            "reviewer_added", "reviewer_disabled", "reviewer_enabled"}
    c("log: every event", "GET", "/v1/review/log?limit=1000", 200, headers=[ADMIN],
      check=lambda s, h, b: None if want <= {e["event"] for e in jget(b, "events")}
      else "missing: %s" % sorted(want - {e["event"] for e in jget(b, "events")}))
    c("log: a page of one", "GET", "/v1/review/log?limit=1&since=0", 200, headers=[ADMIN],
      check=lambda s, h, b: None if len(jget(b, "events")) == 1 and
      isinstance(jget(b, "next"), float) else "not one event and a next")
    c("log: ann's own", "GET", "/v1/review/log?reviewer=ann", 200, headers=[ANN],
      check=lambda s, h, b: None if {e["who"] for e in jget(b, "events")} == {"ann"}
      else "not only ann's")
    c("log: a lead reads everyone's", "GET", "/v1/review/log", 200, headers=[LEE])
    c("log: others' with a reviewer's token", "GET", "/v1/review/log", 403, headers=[ANN])
    c("log: a bad ?since=", "GET", "/v1/review/log?since=yesterday", 400, headers=[ADMIN])
    c("log: a bad ?limit=", "GET", "/v1/review/log?limit=0", 400, headers=[ADMIN])
    c("log: POST on it", "POST", "/v1/review/log", 405, headers=[ADMIN])

    # removed: the token is refused at once
    c("reviewers: remove bob", "DELETE", "/v1/reviewers/bob", 200, headers=[ADMIN])
    c("reviewers: bob's token then", "GET", "/v1/review/me", 403, headers=[BOB],
      check=code_is("forbidden"))
    c("reviewers: remove him again", "DELETE", "/v1/reviewers/bob", 404, headers=[ADMIN])
    c("reviewers: the removal logged", "GET", "/v1/review/log?reviewer=admin", 200,
      headers=[ADMIN], check=lambda s, h, b: None if "reviewer_removed" in
      {e["event"] for e in jget(b, "events")} else "not logged")


# ---- the phases ------------------------------------------------------------------
def main():
    ok(DOC.get("openapi") == "3.1.0", "doc/openapi.json is OpenAPI 3.1.0")
    bad = []
    for name, s in DOC["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            bad.append("%s: %s" % (name, e.message))
    ok(not bad, "every schema of the document is valid Draft 2020-12", "\n".join(bad))
    try:   # not in Debian 12: used where it is installed
        import openapi_spec_validator
    except ImportError:
        openapi_spec_validator = None
    if openapi_spec_validator:
        try:
            openapi_spec_validator.validate(DOC)
            err = ""
        except Exception as e:   # noqa: BLE001 - its errors have no common base
            err = str(e)[:2000]
        ok(not err, "doc/openapi.json passes openapi-spec-validator", err)
    else:
        skip("openapi-spec-validator not installed")
    opids = [op["operationId"] for _, _, op in doc_ops()]
    ok(len(opids) == len(set(opids)), "operationIds are unique")
    check_routes()
    check_ops_table()

    admin_tok = "admin-%s" % os.urandom(12).hex()
    rev_tok = "reviewer-%s" % os.urandom(12).hex()
    for n, t in (("admin.token", admin_tok), ("reviewer.token", rev_tok)):
        with open(os.path.join(T, n), "w") as f:
            f.write(t + "\n")
    ADMIN = "Authorization: Bearer " + admin_tok
    REVIEWER = "Authorization: Bearer " + rev_tok
    WRONG = "Authorization: Bearer wrong-token-0123456789"
    allowed = os.path.join(T, "allowed")
    os.makedirs(allowed)
    shutil.copy(os.path.join(FIX, "blobs.jpg"), allowed)
    with open(os.path.join(allowed, "big.bin"), "wb") as f:
        f.write(b"\0" * 1600000)
    max_body = 1500000
    # decoding it needs most of --memory-budget (1 MB), which its body,
    # held while it is decoded, leaves no room for: 503 busy
    tight = padded_png(540, 540, 300000)
    jpg, pngf = rfile("blobs.jpg"), rfile("blobs.png")
    text = rfile("not-an-image.txt")
    video = make_video(os.path.join(T, "v.mp4"))
    videob = open(video, "rb").read() if video else None
    blobs_pdq = subprocess.check_output([os.path.join(BIN, "scrim"), "hash",
                                         os.path.join(FIX, "blobs.jpg")]).decode().split(",")[0]
    db = os.path.join(T, "db")
    base_args = ["--db", db, "--admin-token-file", os.path.join(T, "admin.token"),
                 "--reviewer-token-file", os.path.join(T, "reviewer.token")]

    # ==== A: the answers of every endpoint ========================================
    # (and its webhook events, to a receiver here)
    secret = "secret-%s" % os.urandom(12).hex()
    with open(os.path.join(T, "webhook.secret"), "w") as f:
        f.write(secret + "\n")
    rx = Receiver()
    A = start("a", base_args + ["--listen", "127.0.0.1:0", "--allow-path", allowed,
                                "--max-body", str(max_body), "--max-compare-frames", "20",
                                "--memory-budget", "1048576", "--threads", "2",
                                "--review-max-reveals", "2", "--review-max-items", "2",
                                "--webhook-url", "http://127.0.0.1:%d/hook" % rx.port,
                                "--webhook-secret-file", os.path.join(T, "webhook.secret")])

    def c(name, method, target, expect, **kw):
        return run_case(A, name, method, target, expect, **kw)

    # lists (admin)
    c("a new list", "PUT", "/v1/lists/blk", 201, headers=[ADMIN], body=b'{"kind":"block"}')
    c("a list changed", "PUT", "/v1/lists/blk", 200, headers=[ADMIN],
      body=b'{"description":"test list","radius":31,"enabled":true}')
    c("an allow list", "PUT", "/v1/lists/alw", 201, headers=[ADMIN], body=b'{"kind":"allow"}')
    c("a bad field", "PUT", "/v1/lists/blk", 400, headers=[ADMIN], body=b'{"radius":99}')
    c("a body that is not JSON", "PUT", "/v1/lists/blk", 400, headers=[ADMIN], body=b'{')
    c("import hex", "POST", "/v1/lists/blk/import?source=test", 200, headers=[ADMIN],
      body=(blobs_pdq + "\n").encode())
    c("import replace", "POST", "/v1/lists/alw/import?replace=1&format=md5", 200,
      headers=[ADMIN], body=("0" * 32 + "\n").encode())
    c("import a malformed line", "POST", "/v1/lists/blk/import", 400, headers=[ADMIN],
      body=b"pdq nothex\n")
    c("import bad ?format=", "POST", "/v1/lists/blk/import?format=xml", 400, headers=[ADMIN], body=b"x")
    c("import into a missing list", "POST", "/v1/lists/nolist/import", 404, headers=[ADMIN],
      body=(blobs_pdq + "\n").encode())
    c("import ?format=vpdq given a video", "POST", "/v1/lists/blk/import?format=vpdq&id=v", 415,
      headers=[ADMIN], body=rfile("fps-2e9.mp4"))
    c("import ?format=vpdq without an id", "POST", "/v1/lists/blk/import?format=vpdq", 400,
      headers=[ADMIN], body=b"0,100," + blobs_pdq.encode() + b",0.000\n")
    c("get a list", "GET", "/v1/lists/blk", 200, headers=[ADMIN])
    c("get a missing list", "GET", "/v1/lists/nolist", 404, headers=[ADMIN])
    c("a list name too long", "GET", "/v1/lists/" + "x" * 65, 400, headers=[ADMIN])
    c("every list", "GET", "/v1/lists", 200, headers=[ADMIN])
    c("media: an image", "POST", "/v1/lists/alw/media?id=own-1&label=ours", 200,
      headers=[ADMIN], body=rfile("cmyk8.tif"))
    c("media: no ?id=", "POST", "/v1/lists/alw/media", 400, headers=[ADMIN], body=jpg)
    c("media: not media", "POST", "/v1/lists/alw/media?id=t", 415, headers=[ADMIN], body=text)
    c("media: a missing list", "POST", "/v1/lists/nolist/media?id=t", 404, headers=[ADMIN], body=jpg)
    c("media: over --max-pixels", "POST", "/v1/lists/alw/media?id=h", 413, headers=[ADMIN],
      body=huge_png())
    c("a list to drop", "PUT", "/v1/lists/gone", 201, headers=[ADMIN])
    c("drop a list", "DELETE", "/v1/lists/gone", 200, headers=[ADMIN])
    c("drop a missing list", "DELETE", "/v1/lists/gone", 404, headers=[ADMIN])
    c("audit", "GET", "/v1/audit?limit=5", 200, headers=[ADMIN])
    c("audit: a bad ?limit=", "GET", "/v1/audit?limit=-1", 400, headers=[ADMIN])
    c("audit: ?source=node (a single node has only its own)", "GET", "/v1/audit?source=node", 200,
      headers=[ADMIN])
    c("audit: a bad ?source=", "GET", "/v1/audit?source=all", 400, headers=[ADMIN])
    c("settings", "GET", "/v1/settings", 200, headers=[ADMIN])
    c("a job that does not exist", "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", 404,
      headers=[ADMIN])
    c("POST on a list: not its method", "POST", "/v1/lists/blk", 405, headers=[ADMIN])
    c("GET on an import: not its method", "GET", "/v1/lists/blk/import", 405, headers=[ADMIN])
    c("a list's unknown sub-path", "POST", "/v1/lists/blk/other", 404, headers=[ADMIN])

    # public: hash, match, lookup, compare
    c("hash an image", "POST", "/v1/hash?content_id=c-1", 200, body=jpg)
    c("hash with its variants and regions", "POST", "/v1/hash?dihedral=1&regions=1", 200, body=pngf)
    c("hash a file by ?path=", "POST", "/v1/hash?path=" + allowed + "/blobs.jpg", 200)
    c("hash a ?path= outside", "POST", "/v1/hash?path=/etc/passwd", 403)
    c("hash: not media", "POST", "/v1/hash", 415, body=text)
    c("hash: an empty body", "POST", "/v1/hash", 400)
    c("hash: bad ?dihedral=", "POST", "/v1/hash?dihedral=2", 400, body=jpg)
    c("hash: over --max-pixels", "POST", "/v1/hash", 413, body=huge_png())
    c("hash: no room in --memory-budget", "POST", "/v1/hash", 503, body=tight)
    c("hash: a damaged file", "POST", "/v1/hash", 415, body=rfile("truncated.jpg"))
    if videob:
        c("hash a video", "POST", "/v1/hash?seconds_per_hash=0.5", 200, body=videob)
        c("hash a video: bad ?keyframes=", "POST", "/v1/hash?keyframes=2", 400, body=videob)
    st, _, bd = c("match: a block-list hit, a review record", "POST",
                  "/v1/match?content_id=up-1", 200, body=pngf,
                  check=lambda s, h, b: None if jget(b, "review", "repeat") is False
                  else "no new review record")
    if st == 200:
        STATE["review"] = jget(bd, "review", "id")
    c("match again: the record's repeat", "POST", "/v1/match", 200, body=pngf,
      headers=["X-Content-Id: up-2"])
    c("match: the allow list", "POST", "/v1/match", 200, body=rfile("cmyk8.tif"))
    if shutil.which("vips"):   # libvips-tools: a mirrored and a framed copy
        flip, framed = os.path.join(T, "flip.jpg"), os.path.join(T, "framed.jpg")
        src = os.path.join(FIX, "blobs.jpg")
        subprocess.call(["vips", "flip", src, flip, "horizontal"])
        subprocess.call(["vips", "embed", src, framed, "160", "120", "640", "480",
                         "--extend", "white"])
        c("match: a mirrored copy (its variant)", "POST", "/v1/match", 200,
          body=open(flip, "rb").read(),
          check=lambda s, h, b: None if any(m.get("variant") for m in jget(b, "matches"))
          else "no match by a variant")
        c("match: a framed copy (its region)", "POST", "/v1/match", 200,
          body=open(framed, "rb").read(),
          check=lambda s, h, b: None if jget(b, "regions") and
          any(m.get("region") for m in jget(b, "matches")) else "no match by a region")
    c("match: no hit", "POST", "/v1/match?lists=alw", 200, body=jpg)
    c("match: an unknown ?lists=", "POST", "/v1/match?lists=nolist", 400, body=jpg)
    c("match: ?radius= without the admin token", "POST", "/v1/match?radius=10", 403, body=jpg)
    c("match: ?radius= with it", "POST", "/v1/match?radius=10", 200, headers=[ADMIN], body=jpg)
    c("match: a bad ?content_id=", "POST", "/v1/match?content_id=", 400, body=jpg)
    c("match: body and ?path=", "POST", "/v1/match?path=" + allowed + "/blobs.jpg", 400, body=jpg)
    c("match: a ?path= file over --max-body", "POST", "/v1/match?path=" + allowed + "/big.bin", 413)
    c("match: not media", "POST", "/v1/match", 415, body=text)
    c("match: no room in --memory-budget", "POST", "/v1/match", 503, body=tight)
    vpdq_text = None
    if videob:
        st, _, bd = c("hash the video for a list", "POST", "/v1/hash", 200, body=videob)
        if st == 200:
            fr = jget(bd, "frames")
            vpdq_text = "".join("%d,%d,%s,%.3f\n" % (x["frame"], x["quality"], x["hash"],
                                                    x["seconds"]) for x in fr)
            c("import a video's vPDQ", "POST", "/v1/lists/vid/import?format=vpdq&id=clip-1&"
              "label=clip&create=1", 200, headers=[ADMIN], body=vpdq_text.encode())
            c("match a video: a video entry", "POST", "/v1/match", 200, body=videob,
              check=lambda s, h, b: None if any("query_match_percent" in m for m in
                                                 jget(b, "matches")) else "no video match")
            c("compare two vPDQs", "POST", "/v1/compare", 200, body=json.dumps(
                {"query": vpdq_text, "compared": vpdq_text, "min_quality": 50}).encode())
    c("lookup a PDQ", "GET", "/v1/lookup?pdq=" + blobs_pdq, 200)
    c("lookup an MD5", "GET", "/v1/lookup?md5=" + "0" * 32 + "&lists=alw&content_id=q-1", 200,
      check=lambda s, h, b: None if jget(b, "content_id") == "q-1" else "no content_id")
    c("lookup: a bad ?content_id=", "GET", "/v1/lookup?content_id=&pdq=" + blobs_pdq, 400)
    c("lookup: two hashes", "GET", "/v1/lookup?pdq=%s&md5=%s" % (blobs_pdq, "0" * 32), 400)
    c("lookup: a malformed hash", "GET", "/v1/lookup?pdq=12345", 400)
    c("lookup: ?radius= without the admin token", "GET", "/v1/lookup?radius=3&pdq=" + blobs_pdq, 403)
    items = [blobs_pdq, "md5:" + "0" * 32, "sha256:" + "1" * 64, "zz", {"pdq": blobs_pdq}, 7]
    if vpdq_text:
        items += [{"vpdq": vpdq_text}, {"vpdq": "junk"}]
    c("lookup a batch", "POST", "/v1/lookup", 200, body=json.dumps(items).encode(),
      headers=["X-Content-Id: batch-1"],
      check=lambda s, h, b: None if len(jget(b, "results")) == len(items) else "not one result an item")
    c("lookup a batch: not an array", "POST", "/v1/lookup", 400, body=b'{"pdq":1}')
    c("lookup a batch: 10,001 items", "POST", "/v1/lookup", 413,
      body=json.dumps(["0" * 32] * 10001).encode())
    c("lookup a batch: ?radius= without the admin token", "POST", "/v1/lookup?radius=3", 403,
      body=b"[]")
    frames = "".join("%d,100,%s,%d.000\n" % (i, blobs_pdq, i) for i in range(21))
    c("compare two made-up vPDQs", "POST", "/v1/compare", 200, body=json.dumps(
        {"query": frames[:frames.index("\n5,") + 1],
         "compared": frames[:frames.index("\n20,") + 1], "distance": 31}).encode())
    c("compare: not JSON", "POST", "/v1/compare", 400, body=b"nope")
    c("compare: a bad vPDQ", "POST", "/v1/compare", 400,
      body=json.dumps({"query": "x", "compared": frames}).encode())
    c("compare: over --max-compare-frames", "POST", "/v1/compare", 413,
      body=json.dumps({"query": frames, "compared": frames}).encode())

    # review (reviewer or admin token)
    rid = lambda: STATE.get("review", "0" * 32)  # noqa: E731
    c("review: pending records", "GET", "/v1/review?limit=10", 200, headers=[REVIEWER],
      check=lambda s, h, b: None if jget(b, "records") else "no record")
    c("review: a bad ?limit=", "GET", "/v1/review?limit=0", 400, headers=[REVIEWER])
    c("review: a record", "GET", lambda: "/v1/review/" + rid(), 200, headers=[REVIEWER])
    c("review: a missing record", "GET", "/v1/review/" + "0" * 32, 404, headers=[REVIEWER])
    c("review: an id that is not hex", "GET", "/v1/review/" + "z" * 32, 400, headers=[REVIEWER])
    c("review: a record's preview", "GET", lambda: "/v1/review/%s/preview.jpg" % rid(), 200,
      headers=[REVIEWER])
    c("review: its lighter preview", "GET", lambda: "/v1/review/%s/preview.jpg?level=light" % rid(),
      200, headers=[REVIEWER])
    c("review: a bad ?level=", "GET", lambda: "/v1/review/%s/preview.jpg?level=x" % rid(), 400,
      headers=[REVIEWER])
    c("review: a missing record's preview", "GET", "/v1/review/%s/preview.jpg" % ("0" * 32), 404,
      headers=[REVIEWER])
    c("review: a decision", "POST", lambda: "/v1/review/%s/decision" % rid(), 200,
      headers=[REVIEWER], body=b'{"decision":"confirm","note":"seen"}')
    c("review: another (the first to history)", "POST", lambda: "/v1/review/%s/decision" % rid(),
      200, headers=[ADMIN], body=b'{"decision":"reject"}')
    c("review: a bad decision", "POST", lambda: "/v1/review/%s/decision" % rid(), 400,
      headers=[REVIEWER], body=b'{"decision":"maybe"}')
    c("review: a decision on a missing record", "POST", "/v1/review/%s/decision" % ("0" * 32), 404,
      headers=[REVIEWER], body=b'{"decision":"confirm"}')
    c("review: GET on a decision", "GET", "/v1/review/%s/decision" % ("0" * 32), 405,
      headers=[REVIEWER])
    c("review: set a list's level", "PUT", "/v1/review/lists/blk", 200, headers=[ADMIN],
      body=b'{"level":"strong"}')
    c("review: a level with the reviewer token", "PUT", "/v1/review/lists/blk", 403,
      headers=[REVIEWER], body=b'{"level":"strong"}')
    c("review: a bad level body", "PUT", "/v1/review/lists/blk", 400, headers=[ADMIN], body=b'{}')
    c("review: the levels", "GET", "/v1/review/lists", 200, headers=[REVIEWER])
    reviewer_cases(c, rid, ADMIN, REVIEWER)
    c("review: no token", "GET", "/v1/review", 401)
    c("review: a wrong token", "GET", "/v1/review", 403, headers=[WRONG])
    c("review: the queue, newest first, one list", "GET", "/v1/review?order=newest&list=blk", 200,
      headers=[REVIEWER])
    c("review: entry stats", "GET", "/v1/review/stats?list=blk", 200, headers=[REVIEWER])
    c("review: stats of a bad list name", "GET", "/v1/review/stats?list=a%2Fb", 400,
      headers=[REVIEWER])
    c("review: the quarantined entries", "GET", "/v1/review/quarantine", 200, headers=[REVIEWER])
    entry = {"list": "blk", "type": "pdq", "hash": blobs_pdq}
    c("review: restore an entry (not quarantined: unchanged)", "POST", "/v1/review/quarantine",
      200, headers=[ADMIN], body=json.dumps(dict(entry, action="restore")).encode())
    c("review: restore with the reviewer token", "POST", "/v1/review/quarantine", 403,
      headers=[REVIEWER], body=json.dumps(dict(entry, action="restore")).encode())
    c("review: a quarantine body without an entry", "POST", "/v1/review/quarantine", 400,
      headers=[ADMIN], body=b'{"action":"remove"}')
    c("review: remove an entry that is not quarantined", "POST", "/v1/review/quarantine", 404,
      headers=[ADMIN], body=json.dumps(dict(entry, action="remove")).encode())
    c("preview an image", "POST", "/v1/preview?level=light", 200, headers=[REVIEWER], body=jpg)
    if videob:
        c("preview a video", "POST", "/v1/preview?lighter=1", 200, headers=[REVIEWER], body=videob)
    c("preview: ?level=none", "POST", "/v1/preview?level=none", 400, headers=[REVIEWER], body=jpg)
    c("preview: not media", "POST", "/v1/preview", 415, headers=[REVIEWER], body=text)
    c("preview: no room in --memory-budget", "POST", "/v1/preview", 503, headers=[REVIEWER],
      body=tight)

    # public pages
    c("health", "GET", "/healthz", 200,
      check=lambda s, h, b: None if jget(b, "webhooks", "urls") == 1 else "no webhooks")
    c("metrics", "GET", "/metrics", 200)
    c("metrics with the admin token (per list)", "GET", "/metrics", 200, headers=[ADMIN])
    c("this document", "GET", "/v1/openapi.json", 200,
      check=lambda s, h, b: None if b == DOC_BYTES else "not doc/openapi.json as built")
    c("the review page", "GET", "/review", 200)
    st, _, bd = c("health: the version", "GET", "/healthz", 200)
    if st == 200:
        ok(jget(bd, "version") == DOC["info"]["version"],
           "info.version is scrimd's version (%s)" % DOC["info"]["version"],
           "scrimd says %s" % jget(bd, "version"))

    # no operation
    c("a path that is no endpoint", "GET", "/v1/nowhere", 404)
    c("HEAD: no operation takes it", "HEAD", "/healthz", 405)
    closed = lambda s, h, b: None if h.get("connection", "").lower() == "close" \
        else "no 'Connection: close'"  # noqa: E731
    c("OPTIONS: 405 in JSON (every method reaches scrimd)", "OPTIONS", "/healthz", 405,
      check=closed)
    c("PATCH on an endpoint: the same", "PATCH", "/v1/lists/blk", 405, headers=[ADMIN],
      check=closed)
    c("a method of a name HTTP does not know: the same", "FROB", "/v1/nowhere", 405,
      check=closed)
    c("a request libevent cannot parse", "GET", "/healthz", 400, headers=["Bad Header"])

    # generic cases of every operation
    for key, o in OPS.items():
        m, path = op_method(key), o["path"]
        auth = [ADMIN] if o["kind"] == "admin" else [REVIEWER] if o["kind"] == "review" else []
        c(key + ": a malformed query string", m, with_query(path, "a=%zz&b"), 400, headers=auth)
        c(key + ": a body over --max-body", m, path, 413, headers=auth,
          head_only_length=max_body + 1)
        c(key + ": over TCP, a Host not allowed", m, path, 421, tcp=True, host="evil.example",
          headers=auth)
        c(key + ": over TCP, two Host headers", m, path, 400, tcp=True, headers=auth + ["Host: x"])
        if o["kind"] != "public-get":
            c(key + ": cross-site", m, path, 403, headers=auth + ["Origin: http://evil.example"])
        if o["kind"] in ("admin", "review"):
            c(key + ": no token", m, path, 401)
            c(key + ": a wrong token", m, path, 403, headers=[WRONG])
    # the token files unusable: 503 until they are fixed
    os.rename(os.path.join(T, "admin.token"), os.path.join(T, "admin.token.off"))
    os.rename(os.path.join(T, "reviewer.token"), os.path.join(T, "reviewer.token.off"))
    for key, o in OPS.items():
        if o["kind"] in ("admin", "review"):
            c(key + ": token file gone", op_method(key), o["path"], 503, headers=[ADMIN])
    os.rename(os.path.join(T, "admin.token.off"), os.path.join(T, "admin.token"))
    os.rename(os.path.join(T, "reviewer.token.off"), os.path.join(T, "reviewer.token"))
    c("the token files back", "GET", "/v1/lists", 200, headers=[ADMIN])
    check_webhooks(rx, secret)
    ok(A.stop() == 0, "scrimd a: SIGTERM, exit 0")
    hook_errors = [l for l in open(A.log, errors="replace") if '"hook_error"' in l]
    ok(not hook_errors, "scrimd a: no request logged a hook error (a webhook event "
       "that could not be made)", "".join(hook_errors[:5]))

    # ==== O: no token files: the admin and review APIs are off ======================
    # (review records are still made: one a minute for a client here)
    with open(os.path.join(T, "blk.txt"), "w") as f:
        f.write(blobs_pdq + "\n")
    subprocess.check_call([os.path.join(BIN, "scrim"), "import", "--db", os.path.join(T, "db-off"),
                           "--list", "blk", "--create", os.path.join(T, "blk.txt")],
                          stdout=subprocess.DEVNULL)
    O = start("off", ["--db", os.path.join(T, "db-off"), "--listen", "none", "--review-rate", "1"])
    for key, o in OPS.items():
        if o["kind"] in ("admin", "review"):
            run_case(O, key + ": the API is off", op_method(key), o["path"], 404, headers=[ADMIN])
    run_case(O, "match: a review record", "POST", "/v1/match", 200, body=pngf,
             check=lambda s, h, b: None if jget(b, "review", "id") else "no record")
    run_case(O, "match: over --review-rate, no record", "POST", "/v1/match", 200, body=jpg,
             check=lambda s, h, b: None if jget(b, "review", "id") is None and
             jget(b, "review", "skipped") else "not skipped")
    ok(O.stop() == 0, "scrimd off: SIGTERM, exit 0")

    # ==== B: busy: queue full, timeouts, admin jobs, shutting down ===================
    dbb = os.path.join(T, "db-busy")
    with open(os.path.join(T, "big.txt"), "w") as f:
        f.write("\n".join(random_hashes(100000, 1)) + "\n")
    subprocess.check_call([os.path.join(BIN, "scrim"), "import", "--db", dbb, "--list", "big",
                           "--create", os.path.join(T, "big.txt")], stdout=subprocess.DEVNULL)
    slow_import = ("\n".join(random_hashes(300000, 2)) + "\n").encode()
    # 1,200 hashes at radius 48 against 100,000: about 4 s on an idle machine
    # (400 took 1.7 s, too close to --request-timeout 1 for the requests
    # queued behind it to time out; measured at 23:48 UTC, load 1.4)
    slow_lookup = json.dumps(random_hashes(1200, 3)).encode()
    workers = [k for k, o in OPS.items() if o.get("worker") and o["kind"] != "admin"]
    admin_workers = [k for k, o in OPS.items() if o.get("worker") and o["kind"] == "admin"]
    B = start("busy", ["--db", dbb, "--listen", "none", "--threads", "1", "--video-threads", "0",
                       "--queue", str(len(workers)), "--request-timeout", "1",
                       "--admin-wait", "0", "--client-requests", "1000"] + base_args[2:])

    def b(name, method, target, expect, **kw):
        return run_case(B, name, method, target, expect, **kw)

    def bg(method, target, headers=(), body=None):
        """A request whose answer is read later: (conn, method, target)."""
        cn = Conn(B.sock, timeout=120)
        cn.send(method, target, headers=headers, body=body)
        return cn, method, target

    def depth_is(n):
        """Until /healthz says n requests wait for the worker."""
        for _ in range(600):
            cn = Conn(B.sock)
            st, hd, bd = cn.request("GET", "/healthz")
            cn.close()
            if st == 200 and jget(bd, "queue_depth") == n:
                return True
            time.sleep(0.05)
        return False

    # the one worker busy with a lookup that takes seconds (no deadline stops it)
    slow = bg("POST", "/v1/lookup?radius=48", [ADMIN], slow_lookup)
    time.sleep(0.3)
    depth_is(0)   # taken by the worker
    waiting = [(k,) + bg(op_method(k), OPS[k]["path"], [ADMIN] if OPS[k]["kind"] == "admin"
                         else [REVIEWER]) for k in workers]
    ok(depth_is(len(workers)), "%d requests wait for the busy worker" % len(workers))
    for k in workers:
        b(k + ": every worker busy, the queue full", op_method(k), OPS[k]["path"], 503,
          headers=[REVIEWER])
    for k, cn, m, tgt in waiting:
        st, hd, bd = cn.recv(m)
        judge(k + ": queued past --request-timeout", m, tgt, 504, st, hd, bd)
        cn.close()
    cn, m, tgt = slow
    st, hd, bd = cn.recv(m)
    judge("the slow lookup itself", m, tgt, 504, st, hd, bd)
    cn.close()

    # admin requests: 202 and a job at once (--admin-wait 0); the admin
    # thread busy with an import, its queue (64) filled, then 503
    st, hd, bd = b("an import answered 202", "POST", "/v1/lists/slow/import?create=1", 202,
                   headers=[ADMIN], body=slow_import)
    job = jget(bd, "url") if st == 202 else "/v1/jobs/" + "0" * 32
    wait_job(B, ADMIN, job, states=("running", "done", "failed"))
    fill, last = [], None
    for i in range(64):
        cn = Conn(B.sock)
        st, hd, bd = cn.request("GET", "/v1/lists", headers=[ADMIN])
        cn.close()
        fill.append(st)
        if st == 202:
            last = jget(bd, "url")
    ok(fill.count(202) == 64, "64 admin requests queued (202)", "got %s" % fill)
    for k in admin_workers:
        b(k + ": the admin queue full", op_method(k), OPS[k]["path"], 503, headers=[ADMIN])
    b("a job, queued or running", "GET", job, 200, headers=[ADMIN])
    wait_job(B, ADMIN, job)
    b("a job, done", "GET", job, 200, headers=[ADMIN],
      check=lambda s, h, b_: None if jget(b_, "state") == "done" else "not done")
    if last:
        wait_job(B, ADMIN, last)   # the admin queue empty again
    jobs = {}
    for k in admin_workers:
        st, hd, bd = b(k + ": answered 202", op_method(k), OPS[k]["path"], 202, headers=[ADMIN])
        if st == 202:
            jobs[k] = jget(bd, "url")
    # they run on: the drop of a missing list fails
    failed = jobs.get("DELETE /v1/lists/{name}", "/v1/jobs/" + "0" * 32)
    wait_job(B, ADMIN, failed)
    b("a job, failed", "GET", failed, 200, headers=[ADMIN],
      check=lambda s, h, b_: None if jget(b_, "state") == "failed" and
      jget(b_, "status") == 404 else "not failed with 404")

    # shutting down: SIGTERM while an import runs; requests on a connection
    # opened before are answered 503
    keep = Conn(B.sock)
    judge("a connection kept open", "GET", "/healthz", 200, *keep.request("GET", "/healthz"))
    b("an import to drain", "POST", "/v1/lists/slow/import?replace=1", 202, headers=[ADMIN],
      body=("\n".join(random_hashes(300000, 4)) + "\n").encode())
    B.p.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    for key, o in OPS.items():
        m = op_method(key)
        auth = [ADMIN] if o["kind"] == "admin" else [REVIEWER] if o["kind"] == "review" else []
        try:
            st, hd, bd = keep.request(m, o["path"], headers=auth)
        except Exception as e:   # noqa: BLE001
            ok(False, key + ": shutting down", "request failed: %r (the drain was over?)" % e)
            continue
        judge(key + ": shutting down", m, o["path"], 503, st, hd, bd)
    keep.close()
    ok(B.stop() == 0, "scrimd busy: drained, exit 0")

    # ==== L: one client past --client-requests: 429 at once ===========================
    L = start("limit", ["--db", dbb, "--listen", "none", "--threads", "1", "--video-threads", "0",
                        "--client-requests", "1"] + base_args[2:])
    cn = Conn(L.sock, timeout=120)   # the same client (the admin token) holds the worker
    cn.send("POST", "/v1/lookup?radius=48", headers=[ADMIN], body=slow_lookup)
    for _ in range(600):   # until the worker has it
        c2 = Conn(L.sock)
        st, hd, bd = c2.request("GET", "/metrics")
        c2.close()
        if b"\nscrim_workers_busy 1\n" in bd:
            break
        time.sleep(0.05)
    for k in ("POST /v1/hash", "POST /v1/match"):
        run_case(L, k + ": past --client-requests", "POST", OPS[k]["path"], 429,
                 headers=[ADMIN], body=jpg)
    st, hd, bd = cn.recv("POST")
    cn.close()
    ok(st in (200, 504), "scrimd limit: the client's one request answered (%d)" % st)
    ok(L.stop() == 0, "scrimd limit: SIGTERM, exit 0")

    # ==== (b) coverage: every documented status has a case ============================
    for p, m, op in doc_ops():
        key = "%s %s" % (m.upper(), p)
        for status in op["responses"]:
            if (key, status) in COVERED:
                continue
            if status in EXEMPT or (key, status) in EXEMPT_OPS:
                continue
            ok(False, "%s %s has a case" % (key, status),
               "no case got %s from %s: add one to %s" % (status, key, os.path.basename(__file__)))
    n_doc = sum(len(op["responses"]) for _, _, op in doc_ops())
    n_ex = sum(1 for _, _, op in doc_ops() for s in op["responses"] if s in EXEMPT)
    diag("statuses documented: %d; with a case: %d; exempt (%s): %d; exempt for one "
         "operation: %s" % (n_doc, len(COVERED), ", ".join(EXEMPT), n_ex,
                            ", ".join("%s %s" % k for k in EXEMPT_OPS)))
    for d in DAEMONS:
        clean, text = d.sanitizer_clean()
        ok(clean, "scrimd %s: no sanitizer reports" % os.path.basename(d.dir), text[:3000])


try:
    main()
finally:
    for d in DAEMONS:
        if d.p.poll() is None:
            d.p.kill()
            d.p.wait()
print("1..%d" % _n)
sys.exit(1 if _failed else 0)
