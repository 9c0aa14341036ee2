#!/bin/sh
# hardening_cpu.t - the attack: a POST /v1/compare body built to be
# quadratic (40,000 random frames a side, 6.7 MB: 3.2 billion distances).
# Before, its 504 came at the request timeout while the comparison went on
# burning a worker for half a minute, and a /v1/hash behind it waited.  Now
# each side is capped (--max-compare-frames: 413 at once) and, under the
# cap, the comparison stops at the request's deadline: the 504 comes on time,
# the daemon's CPU stops with it, and another client's /v1/hash is answered
# by the same (only) worker.  And comparisons run on the video workers
# (--video-threads, bench/attacks.sh): images do not wait behind them.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3

python3 - "$T" <<'EOF'
import json, random, sys
random.seed(7)
def side(n):   # random hashes: at distance 0 nothing matches, every pair is tried
    return "".join("%d,100,%064x,%.3f\n" % (i, random.getrandbits(256), i / 30)
                   for i in range(n))
for n in (40000, 20000):
    open("%s/cmp%d.json" % (sys.argv[1], n), "w").write(
        json.dumps({"query": side(n), "compared": side(n), "distance": 0}))
EOF
JPG=$(pwd)/tests/fixtures/blobs.jpg

# start OPTIONS...: scrimd with one image worker, so that a comparison that
# did not stop would hold up the /v1/hash behind it.
start() {
    scrimd_start --db "$T/db" --listen none --threads 1 "$@" ||
        bail_out "scrimd did not start"
}
stop() {
    scrimd_stop
    ok $? "scrimd stops cleanly"
}
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$PID/stat"; }
now() { date +%s.%N; }
elapsed() { echo "$(now) $1" | awk '{printf "%.2f", $1 - $2}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---- the cap: 413 before any work -------------------------------------------------
start --request-timeout 5
t0=$(now)
http POST /v1/compare --data-binary @"$T/cmp40000.json"
took=$(elapsed "$t0")
is "$code:$(grep -o '"code":"[a-z_]*"' "$T/out")" '413:"code":"too_large"' \
    "40,000 frames a side: 413 (over the default --max-compare-frames of 10000)"
grep -q 'has 40000 frames, over the limit of 10000 a side (--max-compare-frames)' "$T/out"
ok $? "... and the message names the side, its frames and the setting"
lt "$took" 8
ok $? "... at once (${took} s: parsing only, well before the deadline's 36 s of work)"
stop

# ---- under the cap: the comparison stops at the deadline -----------------------------
# (--video-threads 0: it takes the only worker, which images share)
start --request-timeout 2 --max-compare-frames 40000 --video-threads 0
cpu0=$(cpu)
t0=$(now)
curl -s -o "$T/cmp.out" -w '%{http_code}' --max-time 30 --unix-socket "$SOCK" \
    --data-binary @"$T/cmp40000.json" http://scrimd/v1/compare >"$T/cmp.code" &
CURL=$!
sleep 0.5   # the comparison is running on the only worker
t1=$(now)
http POST /v1/hash --data-binary @"$JPG"
hash_took=$(elapsed "$t1")
is "$code" 200 "meanwhile, another client's /v1/hash is answered"
lt "$hash_took" 2.5
ok $? "... within the request timeout (${hash_took} s, behind the comparison's stop)"
wait $CURL
cmp_took=$(elapsed "$t0")
is "$(cat "$T/cmp.code"):$(grep -o '"code":"[a-z_]*"' "$T/cmp.out")" '504:"code":"timeout"' \
    "the quadratic comparison gets its 504"
lt "$cmp_took" 3
ok $? "... at the request timeout of 2 s (${cmp_took} s)"
cpu1=$(cpu)
sleep 1
cpu2=$(cpu)
spent=$(echo "$cpu1 $cpu0" | awk '{printf "%.2f", $1 - $2}')
after=$(echo "$cpu2 $cpu1" | awk '{printf "%.2f", $1 - $2}')
lt "$spent" 3
ok $? "the daemon spent ${spent} s of CPU on it, not the ~7 s of the whole comparison"
lt "$after" 0.2
ok $? "... and nothing once it was answered (${after} s in the next second)"
grep -q 'stopped at the request timeout' "$T/log" ||
    grep -q '"status":504' "$T/log"
ok $? "the 504 is logged"

# ---- on the video worker (the default): images never wait behind a comparison -------
stop
start --request-timeout 10 --max-compare-frames 40000 --video-threads 1
curl -s -o "$T/cmp.out" -w '%{http_code}' --max-time 30 --unix-socket "$SOCK" \
    --data-binary @"$T/cmp40000.json" http://scrimd/v1/compare >"$T/cmp.code" &
CURL=$!
sleep 0.5
http POST /v1/hash --data-binary @"$JPG"
is "$code" 200 "--video-threads 1: a /v1/hash sent during a long comparison is answered"
kill -0 "$CURL" 2>/dev/null
ok $? "... while the comparison still runs (on the video worker, not the one image worker)"
wait $CURL

# A comparison under the cap and the deadline still answers.
python3 - "$T" <<'EOF'
import json, sys
lines = "".join("%d,100,%064x,%d\n" % (i, i * 7919, i) for i in range(300))
open(sys.argv[1] + "/same.json", "w").write(json.dumps({"query": lines, "compared": lines}))
EOF
http POST /v1/compare --data-binary @"$T/same.json"
is "$code:$(cat "$T/out")" '200:{"query_match_percent":100.0,"compared_match_percent":100.0}' \
    "an ordinary comparison is answered as before"
stop
no_sanitizer_reports "$T/stderr"

done_testing
