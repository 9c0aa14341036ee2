#!/bin/sh
# snapshot.sh - a new node from a snapshot: scrimd serves DB under light load
# (bench/load, 2 clients) while `scrim snapshot` copies it; then scrimd
# starts on the copy with its pages evicted from the page cache (a node that
# has just received the files, cold) and again warm.  Prints the snapshot's
# time and size, the load's errors meanwhile, and for each start the time
# to /healthz 200, to the first /v1/match answered, and to the background
# preload and hash cache being done (from the log).
#
# usage: bench/snapshot.sh -D DB [-o OUT_PARENT] [-I JPEG_DIR] [-k]
# DB is opened by scrimd (its lock file is written): use a copy of a
# database you must not touch.  The snapshot goes to OUT_PARENT (default
# DB's parent) and is deleted at the end unless -k.
set -eu
cd "$(dirname "$0")/.."
DB= OUTP= IMGDIR=../shared/data/eval-dev/orig KEEP=
while getopts D:o:I:k o; do
    case $o in
    D) DB=$OPTARG ;; o) OUTP=$OPTARG ;; I) IMGDIR=$OPTARG ;; k) KEEP=1 ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
    esac
done
[ -n "$DB" ] && [ -f "$DB/data.mdb" ] || { sed -n '2,13p' "$0"; exit 2; }
OUTP=${OUTP:-$(dirname "$DB")}
make -s bench >/dev/null
B=build/rel
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-snap.XXXXXX")
OUT=$OUTP/snapshot-$$.db
PIDS=
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || :; done
    [ -n "$KEEP" ] || rm -rf "$OUT" "$OUT".partial-*
    rm -rf "$T"
}
trap cleanup EXIT
ls "$IMGDIR"/*.jpg >/dev/null 2>&1 || IMGDIR=tests/fixtures
IMGS=$(ls "$IMGDIR"/*.jpg | head -n 20)
ONE=$(echo "$IMGS" | head -n 1)

now() { date +%s.%N; }
port_of() { sed -n 's/.*"tcp":"[^"]*","port":\([0-9]*\).*/\1/p' "$1" | head -n 1; }
# start NAME DB: scrimd in the background; its pid in $SPID, start time $T0
start() {
    T0=$(now)
    $B/bin/scrimd --db "$2" --socket none --listen 127.0.0.1:0 --log "$T/$1.log" \
        2>"$T/$1.err" &
    SPID=$!
    PIDS="$PIDS $SPID"
    until [ -n "$(port_of "$T/$1.log" 2>/dev/null)" ]; do
        kill -0 $SPID 2>/dev/null || { cat "$T/$1.err"; exit 1; }
        sleep 0.01
    done
    SPORT=$(port_of "$T/$1.log")
}
since() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }
# new_node NAME DB: the times of a node started on DB
new_node() {
    start "$1" "$2"
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/healthz")" = 200 ]; do
        sleep 0.02
    done
    ready=$(since "$T0")
    code=$(curl -s -o "$T/m.json" -w '%{http_code}' --data-binary @"$ONE" \
        "http://127.0.0.1:$SPORT/v1/match")
    first=$(since "$T0")
    i=0
    until grep -q '"msg":"hashes cached"\|hash cache:' "$T/$1.log" || [ $i -ge 3000 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    pre=$(sed -n 's/.*"msg":"preloaded".*"seconds":\([0-9.]*\).*/\1/p' "$T/$1.log")
    hc=$(sed -n 's/.*"msg":"hashes cached".*"seconds":\([0-9.]*\).*/\1/p' "$T/$1.log")
    rss=$(awk '/VmRSS/ { print int($2 / 1024) }' /proc/$SPID/status)
    anon=$(awk '/RssAnon/ { print int($2 / 1024) }' /proc/$SPID/status)
    echo "$1: /healthz 200 after ${ready} s, first match (HTTP $code) after ${first} s;" \
         "preload ${pre:-?} s, hash cache ${hc:-?} s (background); RSS $rss MB (heap $anon MB)"
    kill -TERM $SPID
    wait $SPID || :
}
evict() {   # drop the files' pages from the page cache (theirs only)
    python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"
}

echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
echo "source: $DB, data.mdb $(du -m --apparent-size "$DB/data.mdb" | cut -f1) MB"
start serving "$DB"
SRC_PID=$SPID SRC_PORT=$SPORT
grep -q '"msg":"ready"' "$T/serving.log" || sleep 1
# shellcheck disable=SC2086
$B/bench/load -c 2 -d 600 -t 127.0.0.1:$SRC_PORT $IMGS >"$T/load.out" 2>&1 &
LPID=$!
PIDS="$PIDS $LPID"
sleep 2
t=$(now)
$B/bin/scrim snapshot --db "$DB" "$OUT"
echo "snapshot: $(since "$t") s wall; $(du -m --apparent-size "$OUT/data.mdb" | cut -f1) MB" \
     "($(du -m "$OUT" | tail -n 1 | cut -f1) MB on disk)"
kill -INT $LPID 2>/dev/null || :
sleep 1
kill -KILL $LPID 2>/dev/null || :
wait $LPID 2>/dev/null || :
echo "meanwhile: $(grep -c 'errors 0' "$T/load.out") one-second samples with 0 errors," \
     "last: $(grep 't=' "$T/load.out" | tail -n 1 | sed 's/^ *//')"
kill -TERM $SRC_PID
wait $SRC_PID || :
evict "$OUT/data.mdb"
new_node cold "$OUT"
new_node warm "$OUT"
