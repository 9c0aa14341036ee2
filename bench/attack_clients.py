#!/usr/bin/env python3
"""attack_clients.py - the attackers of bench/attacks.sh, one kind per run,
against scrimd's Unix socket for SECONDS; prints what they got.

  attack_clients.py KIND SOCKET SECONDS DIR

KIND (the attacks of issue 21 and tests/hardening_*.t):
  slowloris   300 connections sending their headers a byte a second
  slowbody    40 uploads declaring 12 MB each, sent at 2 KB/s
  chunkhold   8 chunked uploads: the head at once, then a byte a second
              (the size of a chunked body is known at its end: each is
              counted as --max-body)
  bigbodies   24 clients posting 12 MB bodies (not images) back to back
  bombs       4 clients posting decompression and dimension bombs: a PNG of
              81 megapixels of zeros (80 KB), a progressive JPEG declaring
              100 megapixels (a few hundred bytes), a GIF of 3000 frames
  compare     2 clients posting /v1/compare bodies of 10,000 x 10,000 frames
              (under the default cap: 100 million distances each)
  fds         connections opened and held until scrimd runs out of
              descriptors (it runs with 1024)
  import      the admin importing 200,000 hashes, replacing, back to back
  review      8 clients posting an upload that matches a block list (review
              records), each a different file
DIR holds the files the set-up made (token, bombs, compare body, ...).
"""
import os
import socket
import sys
import threading
import time

kind, sock_path, seconds, d = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
end = time.monotonic() + seconds
stats = {}
lock = threading.Lock()


def count(what):
    with lock:
        stats[what] = stats.get(what, 0) + 1


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s


def post(path, body, headers=(), timeout=60):
    """One request on its own connection; counts its status."""
    try:
        s = connect()
        s.settimeout(timeout)
        h = "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n" % (path, len(body))
        for x in headers:
            h += x + "\r\n"
        s.sendall(h.encode() + b"\r\n" + body)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        count(data[9:12].decode() if data.startswith(b"HTTP/1.") else "closed")
    except socket.timeout:
        count("timeout")
    except OSError as e:
        count(type(e).__name__)


def loop(fn):
    def run():
        while time.monotonic() < end:
            fn()
    return run


def threads(n, target):
    ts = [threading.Thread(target=target, daemon=True) for _ in range(n)]
    for t in ts:
        t.start()
    return ts


def read(name):
    return open(os.path.join(d, name), "rb").read()


def slow(n, head, body_len, rate, gap, head_now=False):
    """n connections sending head (then body_len bytes) `rate` bytes each
    `gap` seconds (head_now: the head at once); reopened when scrimd
    closes them."""
    conns = []
    def opened():
        try:
            s = connect()
            if head_now:
                s.sendall(head)
            s.setblocking(False)
            return [s, len(head) if head_now else 0]
        except OSError as e:
            count("connect " + type(e).__name__)
            return None
    data = head + (b"x" * body_len if body_len else b"1\r\nx\r\n" * 1000)
    for _ in range(n):
        c = opened()
        if c:
            conns.append(c)
    while time.monotonic() < end:
        for c in conns:
            s, at = c
            try:
                if at < len(data):
                    k = s.send(data[at:at + rate])
                    c[1] += k
                else:
                    c[1] = 0   # sent all: start again (a new request)
                try:
                    if s.recv(65536) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
            except OSError:
                count("closed by scrimd")
                s.close()
                nc = opened()
                if nc:
                    c[0], c[1] = nc
        time.sleep(gap)
    for s, _ in conns:
        s.close()


if kind == "slowloris":
    slow(300, b"POST /v1/match HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000, 0, 1, 1.0)
elif kind == "slowbody":
    n = 12 << 20
    slow(40, b"POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n, n, 2048, 1.0)
elif kind == "chunkhold":
    head = b"POST /v1/match HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    slow(8, head, 0, 1, 1.0, head_now=True)
elif kind == "bigbodies":
    body = os.urandom(12 << 20)
    for t in threads(24, loop(lambda: post("/v1/match", body))):
        t.join()
elif kind == "bombs":
    bombs = [read(f) for f in ("bomb-png.png", "bomb-prog.jpg", "bomb-gif.gif")]
    i = [0]
    def one():
        with lock:
            i[0] += 1
            b = bombs[i[0] % len(bombs)]
        post("/v1/match", b)
    for t in threads(4, loop(one)):
        t.join()
elif kind == "compare":
    body = read("compare.json")
    for t in threads(2, loop(lambda: post("/v1/compare", body))):
        t.join()
elif kind == "fds":
    held = []
    while time.monotonic() < end:
        try:
            s = connect()
            s.setblocking(False)
            held.append(s)
            if len(held) % 100 == 0:
                count("held %d" % (len(held) // 100 * 100))
        except OSError as e:
            count("connect " + type(e).__name__)
            time.sleep(0.05)
        if len(held) >= 3000:
            time.sleep(0.1)
    count("held at the end: %d" % len(held))
elif kind == "import":
    body = read("import.pdq")
    token = read("admin.token").decode().strip()
    for t in threads(1, loop(lambda: post("/v1/lists/flood/import?create=1&replace=1", body,
                                          ["Authorization: Bearer " + token], timeout=120))):
        t.join()
elif kind == "review":
    ups = [read("match-%d.jpg" % k) for k in range(8)]
    def client(k):
        return loop(lambda: post("/v1/match", ups[k]))
    ts = [threading.Thread(target=client(k), daemon=True) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
else:
    sys.exit(__doc__)
print("attack %s: %s" % (kind, ", ".join("%s %d" % kv for kv in sorted(stats.items()))))
