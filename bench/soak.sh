#!/bin/bash
# soak.sh - scrimd under mixed traffic for a long stretch, recording each
# minute what would show a leak or a slow failure.
#
# usage: bench/soak.sh [-n HASHES] [-D DB_DIR] [-m MINUTES] [-I JPEG_DIR]
# Defaults: 10M hashes in ./var/bench10m.db (built as bench/load.sh builds
# it), 30 minutes, the eval-dev JPEGs (or -I DIR).
#
# Traffic, all at once: 8 clients posting JPEGs to /v1/match (bench/load),
# a hash lookup loop (GET /v1/lookup), a vPDQ compare loop (POST
# /v1/compare), an admin loop importing and dropping a 10,000-hash list,
# bad uploads (truncated, not an image, a huge Content-Length, a bad path),
# slow clients (a trickled request), and the admin token rotated every 2
# minutes (the old one must then be refused).  Each minute: RSS, open
# descriptors, CPU seconds used, answers by status class and latency
# percentiles of the match clients; at the end a summary, and the exit
# status says whether RSS and descriptors stayed flat after the warm-up and
# no 5xx came but 503/504.
set -u
cd "$(dirname "$0")/.."
N=10000000 DB= MIN=30 IMGDIR=
while getopts n:D:m:I: o; do
    case $o in
    n) N=$OPTARG ;; D) DB=$OPTARG ;; m) MIN=$OPTARG ;; I) IMGDIR=$OPTARG ;;
    *) sed -n '2,6p' "$0"; exit 2 ;;
    esac
done
DB=${DB:-./var/bench$((N / 1000000))m.db}
make -s bench >/dev/null || exit 1
B=build/rel
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-soak.XXXXXX")
PID= PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

if [ ! -f "$DB/data.mdb" ]; then
    echo "== building $DB with $N hashes"
    mkdir -p "$(dirname "$DB")"
    $B/bench/index_bench -n "$N" -q 1000 -c 0 -d "$DB" -k >/dev/null || exit 1
fi
if [ -n "$IMGDIR" ]; then
    IMGS=$(ls "$IMGDIR"/*.jpg)
else
    IMGS=$(ls "${SCRIM_SHARED:-../shared}"/data/eval-dev/orig/*.jpg 2>/dev/null | head -n 40)
fi
[ -n "$IMGS" ] || { echo "soak.sh: no JPEGs (-I DIR)"; exit 2; }
IMG1=$(echo $IMGS | cut -d' ' -f1)

token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
token >"$T/token"
$B/bin/scrimd --db "$DB" --socket "$T/sock" --listen none --log "$T/log" \
    --admin-token-file "$T/token" --queue 4096 --receive-timeout 20 2>"$T/stderr" &
PID=$!
for _ in $(seq 600); do grep -q '"msg":"ready"' "$T/log" 2>/dev/null && break; sleep 0.1; done
grep -q '"msg":"ready"' "$T/log" || { echo "scrimd did not start"; cat "$T/stderr"; exit 1; }

cu() { curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 --unix-socket "$T/sock" "$@"; }
python3 -c 'import os
for _ in range(10000): print(os.urandom(32).hex())' >"$T/list.txt"
SECS=$((MIN * 60))
END=$(($(date +%s) + SECS))

# the match clients, one report line every 60 s
# shellcheck disable=SC2086
$B/bench/load -c 8 -d "$SECS" -i 60 -u "$T/sock" -p /v1/match -P "$PID" $IMGS \
    >"$T/load.out" 2>&1 &
PIDS="$PIDS $!"

# lookups
(while [ "$(date +%s)" -lt "$END" ]; do
    h=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    cu "http://x/v1/lookup?pdq=$h"
done >"$T/lookup.codes") &
PIDS="$PIDS $!"

# compares of two small vPDQ texts
python3 -c 'import json, os
v = "".join("%d,100,%s,%d.000\n" % (i, os.urandom(32).hex(), i) for i in range(30))
print(json.dumps({"query": v, "compared": v}))' >"$T/compare.json"
(while [ "$(date +%s)" -lt "$END" ]; do
    cu -H 'Content-Type: application/json' --data-binary @"$T/compare.json" http://x/v1/compare
    sleep 0.2
done >"$T/compare.codes") &
PIDS="$PIDS $!"

# admin: import and drop a 10,000-hash list, over and over; rotate the token
(k=0
while [ "$(date +%s)" -lt "$END" ]; do
    auth="Authorization: Bearer $(cat "$T/token")"
    cu -H "$auth" --data-binary @"$T/list.txt" "http://x/v1/lists/soak$k/import?create=1"
    cu -H "$auth" -X DELETE "http://x/v1/lists/soak$k"
    k=$((k + 1))
    if [ $((k % 20)) -eq 0 ]; then
        old=$(cat "$T/token")
        token >"$T/token.new" && mv "$T/token.new" "$T/token"
        # no SIGHUP: scrimd reads a token file again when it changes
        echo "rotated $(cu -H "Authorization: Bearer $old" http://x/v1/lists)"
    fi
done >"$T/admin.codes") &
PIDS="$PIDS $!"

# bad uploads and slow clients
head -c 3000 "$IMG1" >"$T/trunc.jpg"
echo 'not an image' >"$T/text.txt"
(while [ "$(date +%s)" -lt "$END" ]; do
    cu --data-binary @"$T/trunc.jpg" http://x/v1/match
    cu --data-binary @"$T/text.txt" http://x/v1/match
    cu -H 'Content-Length: 2000000000' --data-binary @"$T/text.txt" http://x/v1/match
    cu -X POST 'http://x/v1/match?path=/etc/passwd'
    # a client that sends half a request and goes quiet
    timeout 30 python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
time.sleep(25)' "$T/sock" >/dev/null 2>&1 &
    sleep 2
done >"$T/bad.codes") &
PIDS="$PIDS $!"

echo "minute  rss_MB  fds  cpu_s  matches/s  p50_ms  p99_ms  2xx  4xx  5xx(503/504)"
cpu0=$(awk '{print $14 + $15}' /proc/$PID/stat)
hz=$(getconf CLK_TCK)
m=0
: >"$T/minutes"
while [ "$(date +%s)" -lt "$END" ]; do
    sleep 60
    m=$((m + 1))
    kill -0 "$PID" 2>/dev/null || { echo "scrimd died"; break; }
    rss=$(awk '/VmRSS/ {print int($2 / 1024)}' /proc/$PID/status)
    fds=$(ls /proc/$PID/fd | wc -l)
    cpu=$(awk -v c0="$cpu0" -v hz="$hz" '{printf "%.0f", ($14 + $15 - c0) / hz}' /proc/$PID/stat)
    codes=$(cat "$T"/*.codes 2>/dev/null)
    c2=$(echo "$codes" | grep -c '^2')
    c4=$(echo "$codes" | grep -c '^4')
    c5=$(echo "$codes" | grep -c '^5')
    c5x=$(echo "$codes" | grep -Ec '^50[34]')
    line=$(grep -E '^ *t=' "$T/load.out" | tail -n 1)
    rps=$(echo "$line" | awk '{print $4}')
    lat=$(sed -n 's/.*p50 \([0-9.]*\).*p99 \([0-9.]*\).*/\1 \2/p' "$T/load.out" | tail -n 1)
    printf '%6d  %6d  %3d  %5d  %9s  %s  %4d %4d %4d(%d)\n' "$m" "$rss" "$fds" "$cpu" \
        "${rps:--}" "${lat:-- -}" "$c2" "$c4" "$c5" "$c5x" | tee -a "$T/minutes"
done
wait "$(echo $PIDS | cut -d' ' -f1)" 2>/dev/null
echo "== match clients"
tail -n 3 "$T/load.out"
echo "== admin token rotations (the old token's answer)"
grep -Ec '^rotated 40[13]$' "$T/admin.codes" | sed 's/^/refused at once: /'
grep '^rotated' "$T/admin.codes" | grep -Evc ' 40[13]$' | sed 's/^/still accepted: /'
kill -TERM "$PID"
wait "$PID"
echo "== scrimd exited $?"
PID=
# flat: the last minute's RSS and descriptors within 10% (and 8 fds) of
# minute 5's
awk 'NR == 5 {r = $2; f = $3} END {
    ok = NR < 5 || ($2 <= r * 1.10 && $3 <= f + 8);
    printf "RSS minute 5 -> last: %d -> %d MB; fds %d -> %d: %s\n", r, $2, f, $3,
           ok ? "flat" : "GROWING"; exit !ok }' "$T/minutes"
flat=$?
bad5=$(cat "$T"/*.codes | grep -E '^5' | grep -vEc '^50[34]')
echo "5xx other than 503/504: $bad5"
kept=$(grep '^rotated' "$T/admin.codes" | grep -Evc ' 40[13]$')
[ "$flat" -eq 0 ] && [ "$bad5" -eq 0 ] && [ "$kept" -eq 0 ]
