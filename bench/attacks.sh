#!/bin/sh
# attacks.sh - each attack of issue 21 against a running scrimd while a
# well-behaved client (bench/load, 2 keep-alive connections posting a
# ~100 KB JPEG to /v1/match) measures its latency: baseline and attack
# alternate, D seconds each, so that both see the same minutes of a shared
# machine.  The attacks (bench/attack_clients.py): slowloris, slow bodies,
# big bodies, decompression and dimension bombs, quadratic /v1/compare,
# descriptor exhaustion, an admin import flood, a review-record flood.
#
# scrimd: 2 workers, 1 video worker, --memory-budget M, --request-timeout
# 10, --receive-timeout 10, 1024 descriptors (prlimit), a block list of
# 100,000 random hashes plus the review flood's picture.  Per phase: the
# good client's requests, errors, p50/p99/max; scrimd's peak RSS in the
# phase (VmHWM, reset before it through /proc/PID/clear_refs) and its peak
# anonymous RSS (RssAnon, sampled every 50 ms: heap, stacks, mapped bodies,
# without LMDB's file pages) against the budget; what the attackers got.  Target (issue 21): p99 <= 50 ms for the
# good client during each attack, the peak RSS under the budget.
#
# usage: bench/attacks.sh [-d SECONDS] [-m BUDGET_MB] [-r ROUNDS]
#                         [-a 'ATTACK ...'] [-x 'EXTRA SCRIMD OPTIONS']
# SCRIMD=path runs another build; KEEP=1 keeps its directory (log, stderr).
set -u
cd "$(dirname "$0")/.."
D=20 M=256 ROUNDS=1 EXTRA=
ATTACKS="slowloris slowbody chunkhold bigbodies bombs compare fds import review"
while getopts d:m:r:a:x: o; do
    case $o in
    d) D=$OPTARG ;; m) M=$OPTARG ;; r) ROUNDS=$OPTARG ;; a) ATTACKS=$OPTARG ;;
    x) EXTRA=$OPTARG ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
    esac
done
SCRIMD=${SCRIMD:-bin/scrimd}
make -s build/rel/bench/load bin/scrim >/dev/null || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-attacks.XXXXXX")
PID= APID= WPID=
trap '[ -z "$APID" ] || kill $APID 2>/dev/null; [ -z "$WPID" ] || kill $WPID 2>/dev/null; [ -z "$PID" ] || kill $PID 2>/dev/null; wait; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT

# ---- the files ----
echo attacks-admin-token-0123456789 >"$T/admin.token"
chmod 600 "$T/admin.token"
ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1024x768 -frames:v 1 -q:v 4 "$T/good.jpg"
ffmpeg -nostdin -loglevel error -y -f lavfi -i mandelbrot=size=800x600 -frames:v 1 -q:v 3 "$T/match-0.jpg"
for k in 1 2 3 4 5 6 7; do   # the same picture, other files (bytes after its end)
    { cat "$T/match-0.jpg"; printf "%0${k}d" 0; } >"$T/match-$k.jpg"
done
python3 - "$T" <<'EOF'
import os, random, sys, json, zlib
sys.path.insert(0, "bench")
import corpus
t = sys.argv[1]
open(t + "/bomb-png.png", "wb").write(corpus.png(9000, 9000, 8, 0, corpus.deflate_zeros(9000 * 9001)))
open(t + "/bomb-prog.jpg", "wb").write(corpus.jpeg_sof(10000, 10000, 0xC2))
open(t + "/bomb-gif.gif", "wb").write(corpus.gif(3840, 2160, 3000))
r = random.Random(5)
def side(n):
    return "".join("%d,100,%064x,%d.0\n" % (i, r.getrandbits(256), i) for i in range(n))
open(t + "/compare.json", "w").write(json.dumps({"query": side(10000), "compared": side(10000)}))
with open(t + "/import.pdq", "w") as f:
    for _ in range(200000):
        f.write("%064x\n" % r.getrandbits(256))
with open(t + "/list.pdq", "w") as f:
    for _ in range(100000):
        f.write("%064x\n" % r.getrandbits(256))
EOF
bin/scrim import --db "$T/db" --list block --create "$T/list.pdq" >/dev/null &&
    bin/scrim add --db "$T/db" --list block --variants none "$T/match-0.jpg" >/dev/null ||
    { echo "cannot make the database"; exit 1; }

# ---- scrimd ----
prlimit --nofile=1024:1024 "$SCRIMD" --db "$T/db" --socket "$T/sock" --listen none \
    --log "$T/log" --threads 2 --video-threads 1 --memory-budget "${M}M" \
    --request-timeout 10 --receive-timeout 10 --idle-timeout 10 \
    --admin-token-file "$T/admin.token" $EXTRA 2>"$T/stderr" &
PID=$!
i=0
until grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 300 ] && kill -0 $PID 2>/dev/null || { echo "scrimd did not start"; cat "$T/stderr"; exit 1; }
    sleep 0.1
done

hwm() { awk '/VmHWM/ {printf "%d", $2 / 1024}' /proc/$PID/status; }
# anon_watch FILE: the largest RssAnon (kB) seen, every 50 ms, into FILE
# (no process started per sample)
anon_watch() {
    m=0
    while [ -e /proc/$PID/status ]; do
        while read -r k v _; do
            [ "$k" = RssAnon: ] && [ "$v" -gt "$m" ] && m=$v && echo "$m" >"$1"
        done </proc/$PID/status
        sleep 0.05
    done
}
# settle: wait (20 s at most) until scrimd answers at once and its queues are empty
settle() {
    for _ in $(seq 40); do
        curl -s --max-time 2 --unix-socket "$T/sock" http://x/healthz >"$T/h" 2>/dev/null &&
            grep -q '"queue_depth":0,' "$T/h" && grep -q '"video_queue_depth":0' "$T/h" && break
        sleep 0.5
    done
}
# phase NAME [ATTACK]: the good client for D s (the attack started 2 s before)
phase() {
    settle
    echo 5 >/proc/$PID/clear_refs 2>/dev/null
    echo 0 >"$T/anon"
    anon_watch "$T/anon" &
    WPID=$!
    APID=
    if [ -n "${2:-}" ]; then
        python3 bench/attack_clients.py "$2" "$T/sock" $((D + 4)) "$T" >"$T/attack.out" 2>&1 &
        APID=$!
    fi
    sleep 2
    build/rel/bench/load -c 2 -d "$D" -u "$T/sock" -P $PID "$T/good.jpg" >"$T/load.out" 2>"$T/load.err"
    peak=$(hwm)
    kill $WPID 2>/dev/null
    wait $WPID 2>/dev/null
    anon=$(($(cat "$T/anon") / 1024))
    if [ -n "$APID" ]; then
        wait $APID
        APID=
    fi
    kill -0 $PID 2>/dev/null || { echo "scrimd DIED during $1"; tail -20 "$T/stderr"; exit 1; }
    res=$(sed -n 's/^result: \([0-9]*\) ok, \([0-9]*\) errors.*p50 \([0-9.]*\) p90 [0-9.]* p99 \([0-9.]*\) max \([0-9.]*\).*/\1 \2 \3 \4 \5/p' "$T/load.out")
    set -- "$1" $res
    printf '%-22s %6s ok %5s err  p50 %6s  p99 %7s  max %8s ms  peak RSS %5s MB, RssAnon %5s MB (budget %s)\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$peak" "$anon" "$M"
    [ "$3" = 0 ] || sed 's/^/    /' "$T/load.err" | head -3
    [ -s "$T/attack.out" ] && [ "$1" != baseline ] && sed 's/^/    /' "$T/attack.out"
    : >"$T/attack.out"
}
echo "attacks.sh: $D s a phase, --memory-budget ${M}M, scrimd $SCRIMD, $(date -u +%FT%TZ), load average $(cut -d' ' -f1 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
    for a in $ATTACKS; do
        phase baseline
        phase "$a" "$a"
    done
done
phase baseline
kill $PID
wait $PID
echo "scrimd exit status $? on SIGTERM; errors in its log: $(grep -c '"level":"error"' "$T/log")"
PID=
