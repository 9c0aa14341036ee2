#!/bin/sh
# hardening_fair.t - one client's flood must not take every worker, and
# heavy work must not take the CPU from light requests (issue 21):
#  - a client past --client-requests (queued or running) gets 429 with a
#    JSON error and Retry-After, while another client is still served;
#  - the workers take the clients in turn: a client that queued first does
#    not have all its requests run before another client's one;
#  - the threads of heavy work (videos and /v1/compare, admin imports, big
#    decodes) run at --heavy-nice under SCHED_BATCH, the image workers at
#    the process's own priority, as the kernel reports them
#    (/proc/PID/task/*/stat);
#  - a decode over --heavy-decode moves to the heavy workers and gives the
#    same answer.
# What is asserted is behaviour (statuses, order, priorities), never
# latency: bench/attacks.sh measures that (bench/RESULTS.md).
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3
FLOOD=
at_exit '[ -n "$FLOOD" ] && kill "$FLOOD" 2>/dev/null'

metric() { scrimd_curl http://x/metrics | sed -n "s/^scrim_$1 //p"; }

# rawhttp.py: send(path, body) POSTs on its own connection to scrimd's
# socket ($SOCK) and returns it; answer(s) reads the whole answer.
cat >"$T/rawhttp.py" <<EOF
import socket
sock = "$SOCK"
def send(path, body):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"POST %s HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nContent-Length: %d\\r\\n\\r\\n"
              % (path.encode(), len(body)) + body)
    return s
def answer(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b
EOF

# A PNG of 1200x1000 (3.6 MB decoded) and a /v1/compare body of
# 10,000 x 10,000 frames: seconds of work, cut at --request-timeout.
python3 - "$T" <<'EOF'
import json, random, struct, sys, zlib
t = sys.argv[1]
w, h = 1200, 1000
rows = b"".join(b"\0" + bytes((x * 7 + y * 3) & 255 for x in range(w * 3)) for y in range(h))
def chunk(k, d):
    return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
open(t + "/big.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                                 chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
r = random.Random(7)
def side(n):
    return "".join("%d,100,%064x,%d.0\n" % (i, r.getrandbits(256), i) for i in range(n))
open(t + "/compare.json", "w").write(json.dumps({"query": side(10000), "compared": side(10000)}))
EOF

# ---- priorities, read back from the kernel ---------------------------------------
scrimd_start --db "$T/db" --threads 2 --video-threads 1 --heavy-nice 7 \
    --preload 0 --cache-hashes 0 || bail_out "scrimd did not start"
# comm, nice (field 19) and policy (field 41) of every thread; the heavy
# ones are --heavy-nice above the process's own nice value (19 at most)
for f in /proc/"$PID"/task/*/stat; do
    sed 's/^[0-9]* (\([^)]*\))/\1/' "$f" | awk '{print $1, $18, $40}'
done | sort >"$T/threads"
base=$(awk '$1 == "scrimd" {print $2}' "$T/threads")
heavy=$((base + 7 > 19 ? 19 : base + 7))
is "$(grep -c "^scrim-work $base 0\$" "$T/threads")" 2 \
    "the 2 image workers run at the process's nice ($base), SCHED_OTHER" "$(cat "$T/threads")"
is "$(grep -c "^scrim-heavy $heavy 3\$" "$T/threads")" 2 \
    "the 2 workers of big decodes run --heavy-nice 7 lower ($heavy), SCHED_BATCH" "$(cat "$T/threads")"
is "$(grep -c "^scrim-video $heavy 3\$" "$T/threads")" 1 \
    "the video worker (videos, /v1/compare) too" "$(cat "$T/threads")"
is "$(grep -c "^scrim-admin $heavy 3\$" "$T/threads")" 1 \
    "the admin thread (imports, drops) too" "$(cat "$T/threads")"
is "$(awk -v b="$base" '$1 != "scrim-heavy" && $1 != "scrim-video" && $1 != "scrim-admin" && $2 != b' "$T/threads")" "" \
    "no other thread had its priority changed" "$(cat "$T/threads")"
is "$(metric heavy_nice)" 7 "/metrics reports it (scrim_heavy_nice 7)"

http POST /v1/match --data-binary @"$T/big.png"
is "$code" 200 "a 1200x1000 PNG is matched on an image worker"
small=$(jv '$j->{pdq}[0]{hash}')
is "$(metric heavy_moved_total)" 0 "... under --heavy-decode (48M): not moved"
scrimd_stop
ok $? "scrimd stops cleanly"

scrimd_start --db "$T/db" --threads 2 --heavy-decode 1M --preload 0 \
    --cache-hashes 0 || bail_out "scrimd did not start"
http POST /v1/match --data-binary @"$T/big.png"
is "$code" 200 "with --heavy-decode 1M, the same upload is answered"
big=$(jv '$j->{pdq}[0]{hash}')
is "$(metric heavy_moved_total)" 1 "... after moving to the heavy workers (scrim_heavy_moved_total 1)"
like "$big" '^[0-9a-f]{64}$' "... with a PDQ hash"
is "$big" "$small" "... the same one as on the image worker"
http POST /v1/hash --data-binary @tests/fixtures/blobs.jpg
is "$code" 200 "a JPEG streamed to luma holds no decode memory: served where it is"
is "$(metric heavy_moved_total)" 1 "... not moved"
scrimd_stop
ok $? "scrimd stops cleanly"

# ---- a flooder and another client, one worker -------------------------------------
# One image worker, videos on it too (--video-threads 0): the compare holds
# it for up to --request-timeout.  The flooder (one process) then sends 4
# uploads: 2 are queued (3 with the compare: --client-requests 3), 2 are
# refused at once.  Another client (curl, another process) is queued
# behind the flooder's 2, and served before its second: the workers take
# the clients in turn.
scrimd_start --db "$T/db" --threads 1 --video-threads 0 --client-requests 3 \
    --request-timeout 4 --preload 0 --cache-hashes 0 || bail_out "scrimd did not start"
python3 - "$SOCK" "$T" >"$T/flood" <<'EOF' &
import os, select, sys, time
sys.path.insert(0, sys.argv[2])
from rawhttp import send, answer
t = sys.argv[2]
compare = send("/v1/compare", open(t + "/compare.json", "rb").read())
open(t + "/sent", "w").close()
while not os.path.exists(t + "/go"):
    time.sleep(0.02)
jpg = open("tests/fixtures/blobs.jpg", "rb").read()
burst = [send("/v1/hash", jpg) for _ in range(4)]
# the refusals come at once; the others when the worker gets to them
got = {}
while len(got) < 2:
    r, _, _ = select.select([s for s in burst if s not in got], [], [], 30)
    if not r:
        break
    for s in r:
        got[s] = answer(s)
print("at once:", " ".join(sorted(a[9:12].decode() for a in got.values())), flush=True)
for a in got.values():
    if a[9:12] == b"429":
        open(t + "/429", "wb").write(a)
open(t + "/burst", "w").close()
for s in burst:
    if s not in got:
        got[s] = answer(s)
print("all:", " ".join(sorted(a[9:12].decode() for a in got.values())), flush=True)
print("compare:", answer(compare)[9:12].decode(), flush=True)
EOF
FLOOD=$!
poll 600 test -e "$T/sent"
poll 600 sh -c "curl -s --unix-socket '$SOCK' http://x/metrics | grep -q '^scrim_workers_busy 1\$'"
ok $? "the flooder's compare holds the one worker"
touch "$T/go"
poll 600 test -e "$T/burst"
ok $? "the flooder's uploads were sent"
http POST /v1/match --data-binary @tests/fixtures/blobs.jpg
is "$code" 200 "another client, meanwhile, is served"
wait "$FLOOD"
FLOOD=
is "$(sed -n 's/^at once: //p' "$T/flood")" "429 429" \
    "the flooder's 2 uploads past --client-requests 3 are refused at once" "$(cat "$T/flood")"
is "$(sed -n 's/^all: //p' "$T/flood")" "200 200 429 429" \
    "... and the 2 queued ones served" "$(cat "$T/flood")"
like "$(cat "$T/429")" 'Retry-After: 1' "the 429 says when to retry"
like "$(cat "$T/429")" '"code":"too_many_requests"' "... with a JSON error"
like "$(cat "$T/429")" 'client-requests 3' "... naming the limit"
order=$(grep -o '"endpoint":"\(hash\|match\)","path":"[^"]*","status":200' "$T/log" |
    sed 's/"endpoint":"\([a-z]*\)".*/\1/' | tr '\n' ' ')
is "$order" "hash match hash " \
    "the worker took the clients in turn: flooder, other client, flooder"
is "$(metric client_refused_total)" 2 "/metrics counts the refusals"
is "$(metric clients_active)" 0 "... and no client has anything left in flight"
scrimd_stop
ok $? "scrimd stops cleanly"
no_sanitizer_reports "$T/stderr"

# ---- the default share: a lone client may fill the queue -----------------------------
# Without --client-requests a client alone (an upload service's one
# process, HAProxy in front) has the whole room for requests (1 worker +
# --queue 12): the compare and 8 uploads from one process are all taken,
# where a fixed 4 per worker would refuse 5 of them.
scrimd_start --db "$T/db" --threads 1 --video-threads 0 --queue 12 \
    --request-timeout 4 --preload 0 --cache-hashes 0 || bail_out "scrimd did not start"
python3 - "$SOCK" "$T" >"$T/lone" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from rawhttp import send, answer
t = sys.argv[2]
compare = send("/v1/compare", open(t + "/compare.json", "rb").read())
jpg = open("tests/fixtures/blobs.jpg", "rb").read()
burst = [send("/v1/hash", jpg) for _ in range(8)]
print("uploads:", " ".join(sorted(answer(s)[9:12].decode() for s in burst)))
print("compare:", answer(compare)[9:12].decode())
EOF
is "$(sed -n 's/^uploads: //p' "$T/lone")" "200 200 200 200 200 200 200 200" \
    "a lone client's 8 uploads behind its compare are all served" "$(cat "$T/lone")"
is "$(metric client_refused_total)" 0 "... none refused"
scrimd_stop
ok $? "scrimd stops cleanly"
no_sanitizer_reports "$T/stderr"

done_testing
