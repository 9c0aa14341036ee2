#!/bin/sh
# cluster.sh - throughput through HAProxy with 1, 2 and 3 scrimd nodes
# (tools/cluster.sh on loopback, each node on its own snapshot of DB), and
# for comparison one node without HAProxy.  bench/load posts JPEGs to
# /v1/match; after each run the CPU that HAProxy and the nodes used per
# request.  On a 2-core machine the nodes share the same cores: this shows
# HAProxy's overhead, not how throughput scales with machines.
#
# usage: bench/cluster.sh -D DB [-d SECONDS] [-c CLIENTS] [-I JPEG_DIR] [-n "1 2 3"]
# DB: e.g. a copy of var/bench10m.db (each node gets a snapshot of it, in
# the temp directory under $TMPDIR, deleted at the end: room for 3 copies).
set -eu
cd "$(dirname "$0")/.."
DB= SECS=20 CLIENTS=16 IMGDIR=../shared/data/eval-dev/orig COUNTS="1 2 3"
while getopts D:d:c:I:n: o; do
    case $o in
    D) DB=$OPTARG ;; d) SECS=$OPTARG ;; c) CLIENTS=$OPTARG ;; I) IMGDIR=$OPTARG ;;
    n) COUNTS=$OPTARG ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
[ -n "$DB" ] && [ -f "$DB/data.mdb" ] || { sed -n '2,11p' "$0"; exit 2; }
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 1; }
make -s bench >/dev/null
B=build/rel
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-cluster-bench.XXXXXX")
chmod 711 "$T"
PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
t = socket.socket(); t.bind(("127.0.0.1", p + 1)); t.close(); print(p)')
CL() { SCRIM_BIN=$PWD/$B/bin tools/cluster.sh -d "$T/c" -p "$PORT" "$@"; }
trap 'CL down >/dev/null 2>&1 || :; rm -rf "$T"' EXIT
ls "$IMGDIR"/*.jpg >/dev/null 2>&1 || IMGDIR=tests/fixtures
IMGS=$(ls "$IMGDIR"/*.jpg)

cpu() {   # PID...: their CPU seconds (user + system) so far
    for p; do
        sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }'
    done | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.2f", s / hz }'
}
# warm NODES: until each node has its hash cache (their background start-up
# work done), 5 minutes at most
warm() {
    for i in $(seq 1 "$1"); do
        j=0
        until grep -q '"msg":"hashes cached"\|hash cache:' "$T/c/node$i/log" || [ $j -ge 3000 ]; do
            sleep 0.1
            j=$((j + 1))
        done
    done
}
# run LABEL ADDR PIDS...: load against ADDR, a result line
run() {
    label=$1 addr=$2
    shift 2
    c0=$(cpu "$@")
    hp=$(cat "$T/c/haproxy.pid" 2>/dev/null || echo)
    h0=$( [ -n "$hp" ] && kill -0 "$hp" 2>/dev/null && cpu "$hp" || echo 0)
    # shellcheck disable=SC2086
    $B/bench/load -c "$CLIENTS" -d "$SECS" -t "$addr" $IMGS >"$T/load.out" 2>&1 || :
    c1=$(cpu "$@")
    h1=$( [ -n "$hp" ] && kill -0 "$hp" 2>/dev/null && cpu "$hp" || echo 0)
    r=$(grep '^result:' "$T/load.out")
    ok=$(echo "$r" | sed 's/^result: \([0-9]*\) ok.*/\1/')
    echo "$label: $(echo "$r" | sed 's/^result: //')" | sed 's/; rss.*//'
    echo "$c0 $c1 $h0 $h1 $ok" | awk '$5 > 0 { printf "  CPU per request: nodes %.2f ms, haproxy %.3f ms\n",
        ($2 - $1) * 1000 / $5, ($4 - $3) * 1000 / $5 }'
}

echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, $(git rev-parse --short HEAD), $(nproc) cores," \
     "load average $(cut -d' ' -f1 /proc/loadavg); $DB; $CLIENTS clients, $SECS s, $(echo "$IMGS" | wc -l) JPEGs"
for n in $COUNTS; do
    CL -D "$DB" up "$n" >/dev/null
    warm "$n"
    pids=$(cat "$T"/c/node*/pid)
    if [ "$n" = 1 ]; then
        # shellcheck disable=SC2086
        run "1 node, direct (no HAProxy)" "127.0.0.1:$(cat "$T/c/node1/port")" $pids
    fi
    # shellcheck disable=SC2086
    run "$n node(s) through HAProxy" "127.0.0.1:$PORT" $pids
    CL down >/dev/null
done
