#!/bin/sh
# load.sh - scrimd under load: a database of N random PDQ hashes (built once
# with the index benchmark, bench/index_bench), a mix of ~100 KB JPEGs, the
# daemon started on a temp socket and a free port, then bench/load (C clients)
# posting to /v1/match over the Unix socket and over TCP.
#
# usage: bench/load.sh [-n HASHES] [-D DB_DIR] [-d SECONDS] [-c CLIENTS]
#                      [-t WORKERS] [-p PATH] [-I JPEG_DIR]
#                      [-x 'EXTRA SCRIMD OPTIONS'] [-a]
# Defaults: 10M hashes in ./var/bench10m.db (kept between runs), 20 s per
# transport, 16 clients, one worker per core, /v1/match, the 60-160 KB JPEGs
# of ../shared/data/eval-dev/orig (-I: every *.jpg of a directory instead).
# -a: while the Unix-socket clients run, bench/badclients.sh sends the
# misbehaving clients of the daemon issue (cut uploads, huge sizes, not an
# image, a slowloris) and an admin import that must match at once; its
# report follows the Unix-socket figures (the slowloris lasts until
# --receive-timeout: -x '--receive-timeout 10' for short runs).
# SCRIMD=path runs another scrimd build (e.g. an older commit's, for A/B);
# SCRIMD_LOG=file keeps the daemon's log (one line per request).
set -eu
cd "$(dirname "$0")/.."
N=10000000 DB= SECS=20 CLIENTS=16 WORKERS=0 URLPATH=/v1/match EXTRA= IMGDIR= BAD=
while getopts n:D:d:c:t:p:x:I:a o; do
    case $o in
    n) N=$OPTARG ;; D) DB=$OPTARG ;; d) SECS=$OPTARG ;; c) CLIENTS=$OPTARG ;;
    t) WORKERS=$OPTARG ;; p) URLPATH=$OPTARG ;; x) EXTRA=$OPTARG ;; I) IMGDIR=$OPTARG ;;
    a) BAD=1 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
    esac
done
DB=${DB:-./var/bench$((N / 1000000))m.db}
make -s bench >/dev/null
B=build/rel
T=$(mktemp -d "${TMPDIR:-/tmp}/scrimd-load.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null; rm -rf "$T"' EXIT

if [ ! -f "$DB/data.mdb" ]; then
    echo "== building $DB with $N hashes (bench/index_bench)"
    mkdir -p "$(dirname "$DB")"
    $B/bench/index_bench -n "$N" -q 1000 -c 0 -d "$DB" -k | grep -i 'import\|size\|open' || true
fi

# ~100 KB JPEGs: the shared photos of that size when present, else made here.
SHARED=${SCRIM_SHARED:-../shared}/data/eval-dev/orig
IMGS=
if [ -n "$IMGDIR" ]; then
    IMGS=$(ls "$IMGDIR"/*.jpg)
elif [ -d "$SHARED" ]; then
    for f in "$SHARED"/*.jpg; do
        s=$(stat -c %s "$f")
        [ "$s" -ge 60000 ] && [ "$s" -le 160000 ] && IMGS="$IMGS $f"
    done
fi
if [ -z "$IMGS" ]; then
    i=0
    for src in testsrc2 mandelbrot smptehdbars cellauto life rgbtestsrc; do
        ffmpeg -loglevel error -y -f lavfi -i "$src=size=1024x768" -frames:v 1 \
            -q:v 4 "$T/img$i.jpg" </dev/null
        IMGS="$IMGS $T/img$i.jpg"
        i=$((i + 1))
    done
fi
echo "== $(echo $IMGS | wc -w) JPEGs, $(cat $IMGS | wc -c | awk '{printf "%.0f", $1/1024}') KB in all"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
# shellcheck disable=SC2086
${SCRIMD:-$B/bin/scrimd} --db "$DB" --socket "$T/sock" --listen 127.0.0.1:0 --log "$T/log" \
    --threads "$WORKERS" --queue 4096 --admin-token-file "$T/token" $EXTRA &
PID=$!
i=0
while [ $i -lt 200 ] && ! grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do
    sleep 0.05; i=$((i + 1))
done
PORT=$(sed -n 's/.*"tcp":"[^"]*","port":\([0-9]*\).*/\1/p' "$T/log" | head -n 1)
curl -s -H "Authorization: Bearer $(cat "$T/token")" --unix-socket "$T/sock" http://x/metrics | grep '^scrim_list_hashes.*pdq' || true

echo "== warm-up"
# shellcheck disable=SC2086
$B/bench/load -c "$CLIENTS" -d 3 -i 3 -u "$T/sock" -p "$URLPATH" $IMGS | tail -n 1
echo "== Unix socket"
BADPID=
if [ -n "$BAD" ]; then
    # shellcheck disable=SC2086
    (sleep 2; rc=0; bench/badclients.sh "$T/sock" "$T/token" $(echo $IMGS | cut -d' ' -f1) \
        >"$T/bad" 2>&1 || rc=$?; echo "exit $rc" >>"$T/bad") &
    BADPID=$!
fi
# shellcheck disable=SC2086
$B/bench/load -c "$CLIENTS" -d "$SECS" -i 2 -u "$T/sock" -p "$URLPATH" -P $PID $IMGS
if [ -n "$BADPID" ]; then
    wait $BADPID
    echo "== bad clients (bench/badclients.sh), sent 2 s into the Unix-socket run"
    cat "$T/bad"
    grep -q '^exit 0$' "$T/bad" || BADFAIL=1
fi
echo "== TCP 127.0.0.1:$PORT"
# shellcheck disable=SC2086
$B/bench/load -c "$CLIENTS" -d "$SECS" -i 2 -t "127.0.0.1:$PORT" -p "$URLPATH" -P $PID $IMGS
curl -s --unix-socket "$T/sock" http://x/metrics | grep -E '^scrim_(errors_total|queue_rejected_total|timeouts_total)'
kill -TERM $PID
wait $PID && echo "== scrimd drained and exited 0"
PID=
[ -z "${SCRIMD_LOG:-}" ] || cp "$T/log" "$SCRIMD_LOG"
[ -z "${BADFAIL:-}" ]
