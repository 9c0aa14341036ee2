#!/bin/sh
# hardening_memory.t - the attacks on memory:
#  - many big bodies at once: evhttp kept every body in memory as it
#    arrived, with no bound across connections (40 x 60 MB took RSS to
#    2.47 GB).  Now a body is reserved from --memory-budget when its headers
#    say how big it is; past the budget, reading that connection pauses until
#    there is room.  30 clients x 12 MB against a budget of 48 MB: the peak
#    RSS stays within twice the budget and a body (75-92 MB above the RSS
#    before, against 420-560 MB), and every request is answered;
#  - a few hundred bytes declaring a progressive JPEG of 100 megapixels:
#    libjpeg allocated (and zeroed) its coefficients, 637 MB.  Now the
#    memory a decode needs is reckoned from the header (--max-decode-memory):
#    a clean 413, and the RSS does not move;
#  - a decode that does not fit in the budget now: 503 busy, Retry-After.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3 perl
HOLD=
at_exit '[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null'

start() {
    scrimd_start --db "$T/db" --listen none --threads 2 --preload 0 --cache-hashes 0 "$@" ||
        bail_out "scrimd did not start"
}
stop() {
    scrimd_stop
    ok $? "scrimd stops cleanly"
}
kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$PID/status"; }
metric() { curl -s --unix-socket "$SOCK" http://x/metrics | sed -n "s/^scrim_$1 //p"; }
# Under AddressSanitizer the RSS is its own (freed memory is quarantined):
# the RSS checks are skipped there, the budget's own figures still hold.
case ${SCRIM_BUILD:-} in *san*) SAN=1 ;; *) SAN= ;; esac
rss_ok() {   # STATUS DESCRIPTION
    if [ -n "$SAN" ]; then skip "RSS under a sanitizer: $2"; else ok "$1" "$2"; fi
}

# ---- 30 clients x 12 MB, a budget of 48 MB --------------------------------------------------
start --memory-budget 48M --max-body 16M --receive-timeout 30
head -c $((16 << 20)) /dev/zero >"$T/16m"
http POST /v1/hash --data-binary @tests/fixtures/blobs.jpg   # warm: libraries in
base=$(kb VmRSS)
echo 5 >"/proc/$PID/clear_refs"   # the peak (VmHWM) starts again from here
python3 - "$SOCK" >"$T/bodies" <<'EOF'
import os, socket, sys, threading, time
sock, N, SIZE = sys.argv[1], 30, 12 << 20
body = os.urandom(1 << 20) * 12          # not an image: 415 once received
codes, lock = [], threading.Lock()
t0 = time.time()
def client():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % SIZE)
    s.sendall(body)
    f = s.makefile("rb")
    line = f.readline()
    with lock:
        codes.append(int(line.split()[1]) if line else 0)
    s.close()
ts = [threading.Thread(target=client) for _ in range(N)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(str(c) for c in sorted(codes)), "%.1f" % (time.time() - t0))
EOF
peak=$(kb VmHWM)
read -r codes <"$T/bodies"
secs=${codes##* }
rise=$(( (peak - base) / 1024 ))
is "$(echo "$codes" | tr ' ' '\n' | grep -c '^415$')" 30 \
    "30 clients x 12 MB (not images): every one answered, 415 (in ${secs} s)"
# The bound: the budget for bodies (in libevent's buffers, or the calls'
# copies), plus what the heap keeps of buffers already freed while their
# bodies' copies live on, plus one body being copied: 2 x 48 + 16 MB.
[ "$rise" -lt 112 ]
rss_ok $? "peak RSS rose by ${rise} MB over ${base} kB: within twice the budget of 48 MB and one body; with no budget, 420-560 MB"
peakres=$(metric memory_reserved_peak_bytes)
[ "$peakres" -le $((48 << 20)) ]
ok $? "at most the budget was reserved at once ($peakres bytes)"
waits=$(metric body_waits_total)
[ "$waits" -gt 0 ]
ok $? "bodies waited for room ($waits waits), reading paused meanwhile"
is "$(metric memory_reserved_bytes):$(metric body_waiting)" "0:0" "all of it given back, nobody left waiting"

stop

# ---- 12 clients x 12 MB within the budget: every body received at once --------------------
# The strict framing scan (guard.c) found its place in the connection's
# buffer by walking it from the start at every read, and evhttp keeps a
# body there until all of it has come: the square of the body's size.  12
# such uploads at once took 29-45 s, past a --receive-timeout of 20 s.
# (All from one process: --client-requests lets the 12 in at once.)
start --receive-timeout 20 --max-body 16M --client-requests 12
python3 - "$SOCK" >"$T/bodies" <<'EOF'
import os, socket, sys, threading, time
sock, N, SIZE = sys.argv[1], 12, 12 << 20
body = os.urandom(1 << 20) * 12
codes, lock = [], threading.Lock()
t0 = time.time()
def client():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    try:
        s.sendall(b"POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % SIZE)
        s.sendall(body)
        line = s.makefile("rb").readline()
    except OSError:
        line = b""
    with lock:
        codes.append(int(line.split()[1]) if line else 0)
    s.close()
ts = [threading.Thread(target=client) for _ in range(N)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(str(c) for c in sorted(codes)), "%.1f" % (time.time() - t0))
EOF
read -r codes <"$T/bodies"
is "$(echo "$codes" | tr ' ' '\n' | grep -c '^415$')" 12 \
    "12 clients x 12 MB at once: every one received and answered 415 (in ${codes##* } s), none cut at --receive-timeout"
stop

# A body that waits past --receive-timeout (its clock runs while it waits)
# is cut as any slow client is.  One worker (comparisons share it: --video-threads
# 0), busy with a comparison until
# its deadline (5 s); two 15 MB bodies wait in its queue, holding their
# memory; a third body cannot fit in 40 MB and waits, until its 2 s are up.
python3 - "$T" <<'EOF2'
import json, random, sys
random.seed(3)
side = lambda n: "".join("%d,100,%064x,%d\n" % (i, random.getrandbits(256), i) for i in range(n))
open(sys.argv[1] + "/slow.json", "w").write(json.dumps({"query": side(40000), "compared": side(40000), "distance": 0}))
EOF2
head -c $((15 << 20)) /dev/zero >"$T/15m"
start --memory-budget 40M --max-body 16M --threads 1 --video-threads 0 --receive-timeout 2 \
    --request-timeout 5 --max-compare-frames 40000
curl -s -o /dev/null --max-time 20 --unix-socket "$SOCK" --data-binary @"$T/slow.json" \
    http://x/v1/compare &
others=$!
sleep 0.3
for i in 1 2; do
    curl -s -o /dev/null --max-time 20 --unix-socket "$SOCK" --data-binary @"$T/15m" \
        http://x/v1/hash &
    others="$others $!"
done
sleep 0.3
t0=$(date +%s.%N)
curl -s -o "$T/w" -w '%{http_code}' --max-time 20 --unix-socket "$SOCK" \
    --data-binary @"$T/16m" http://x/v1/hash >"$T/w.code"
took=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
grep -q '"error":"receive_timeout"' "$T/log"
ok $? "a body that waited past --receive-timeout (2 s): cut after ${took} s, logged as receive_timeout"
is "$(metric body_wait_cut_total):$(metric body_waiting)" "1:0" "... counted in scrim_body_wait_cut_total, nobody left waiting"
wait $others
# a call gives its body back when it is freed, just after its answer
poll 100 sh -c "[ \"\$(curl -s --unix-socket '$SOCK' http://x/metrics | sed -n 's/^scrim_memory_reserved_bytes //p')\" = 0 ]"
ok $? "everything given back once the others were answered"
stop

# ---- decode memory --------------------------------------------------------------------------
# ~150 bytes: a progressive JPEG of 10000 x 10000 x 3 components, its first
# scan's header and no data.
perl -e '
    print "\xff\xd8", "\xff\xdb\x00\x43\x00", "\x01" x 64;
    print "\xff\xc2\x00\x11\x08", pack("nn", 10000, 10000), "\x03",
          "\x01\x11\x00\x02\x11\x00\x03\x11\x00";
    print "\xff\xc4\x00\x14\x00\x01", "\x00" x 15, "\x00";
    print "\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x00\x00", "\xff\xd9"' >"$T/hollow.jpg"
start --memory-budget 20M --receive-timeout 5
base=$(kb VmRSS)
echo 5 >"/proc/$PID/clear_refs"
http POST /v1/hash --data-binary @"$T/hollow.jpg"
is "$code:$(grep -o '"code":"[a-z_]*"' "$T/out")" '413:"code":"too_large"' \
    "a $(wc -c <"$T/hollow.jpg")-byte progressive JPEG declaring 10000x10000: 413"
grep -q 'needs 572 MB of coefficients, over the limit of 512 MB' "$T/out"
ok $? "... naming what it needs and the limit ($(grep -o '"message":"[^"]*"' "$T/out"))"
rise=$(( ($(kb VmHWM) - base) / 1024 ))
[ "$rise" -lt 16 ]
rss_ok $? "... decided from the header: the peak RSS rose by ${rise} MB (the build before: 574 MB, and it answered 200)"
http POST /v1/match --data-binary @"$T/hollow.jpg"
is "$code" 413 "... on /v1/match too"

# 1500 x 1500 PNG: 6.4 MB of pixels, within --max-decode-memory and the
# budget of 20 MB, unless most of it is held: 503 busy with Retry-After.
python3 - "$T/img.png" <<'EOF'
import struct, sys, zlib
w = h = 1500
raw = b"".join(b"\0" + bytes((x * 7 + y * 3) & 255 for x in range(w * 3)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
EOF
http POST /v1/hash --data-binary @"$T/img.png"
is "$code" 200 "a 1500x1500 PNG decodes within the budget"
python3 - "$SOCK" "$T" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])   # holds 16 of the 20 MB while it sends nothing
s.sendall(b"POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nx" % (16 << 20))
open(sys.argv[2] + "/holding2", "w").close()
time.sleep(30)
EOF
HOLD=$!
i=0
while [ ! -e "$T/holding2" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.2
code=$(curl -s -D "$T/hdr" -o "$T/out" -w '%{http_code}' --max-time 20 --unix-socket "$SOCK" \
    --data-binary @"$T/img.png" http://x/v1/hash)
is "$code:$(grep -o '"code":"[a-z_]*"' "$T/out")" '503:"code":"busy"' \
    "while most of the budget is held, the PNG's decode: 503 busy"
grep -qi '^Retry-After: 1' "$T/hdr"
ok $? "... with Retry-After"
grep -q 'memory budget' "$T/out"
ok $? "... and a message naming the budget ($(grep -o '"message":"[^"]*"' "$T/out"))"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
HOLD=
sleep 0.3
http POST /v1/hash --data-binary @"$T/img.png"
is "$code" 200 "... and served once the memory is free"
stop

# ---- chunked bodies sent slowly: they cannot hold the whole budget ----------------------
# A chunked body's size is known at its end: it is counted as --max-body.
# Four connections sending a chunked upload's head and then nothing held
# all 64 MB until their --receive-timeout: every decode 503 busy, every
# other body waiting.  Large bodies being received now hold at most three
# quarters of the budget: the fourth waits, the PNG's decode goes through.
start --memory-budget 64M --max-body 16M --receive-timeout 30
python3 - "$SOCK" "$T" <<'EOF' &
import socket, sys, time
held = []
for _ in range(4):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
    held.append(s)
    time.sleep(0.1)
open(sys.argv[2] + "/holding3", "w").close()
time.sleep(30)
EOF
HOLD=$!
i=0
while [ ! -e "$T/holding3" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
is "$(metric memory_reserved_bytes):$(metric body_waiting)" "$((48 << 20)):1" \
    "4 chunked uploads of up to 16 MB, sent slowly: 3 hold 48 of the 64 MB, the 4th waits"
http POST /v1/hash --data-binary @"$T/img.png"
is "$code" 200 "meanwhile a 1500x1500 PNG is decoded (6.4 MB: in the last quarter)"
http POST /v1/hash --data-binary @tests/fixtures/blobs.jpg
is "$code" 200 "... and a small upload is received and answered"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
HOLD=
poll 100 sh -c "[ \"\$(curl -s --unix-socket '$SOCK' http://x/metrics | sed -n 's/^scrim_memory_reserved_bytes //p')\" = 0 ]"
ok $? "all of it given back once they are gone"
stop
no_sanitizer_reports "$T/stderr"

done_testing
