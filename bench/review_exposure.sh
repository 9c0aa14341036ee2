#!/bin/sh
# review_exposure.sh - what counting a reviewer's exposure costs a preview:
# median and p90 of GET /v1/review/ID (a read) and GET .../preview.jpg
# (served, and counted in review.exposure: one LMDB write with its fsync),
# 200 of each alternated, over curl on a Unix socket.
# usage: bench/review_exposure.sh [BIN_DIR]   (default build/rel/bin)
#   EXTRA="--review-max-reveals 0"  scrimd options (none for a scrimd
#   without them, e.g. an older build to compare with)
# Needs build/rel/tests/test_preview (make) for the test image.
set -e
B=${1:-build/rel/bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
H=$PWD/build/rel/tests/test_preview
"$H" --make-image "$T/a.jpg"
"$B/scrim" hash "$T/a.jpg" | cut -d, -f1 > "$T/a.pdq"
"$B/scrim" import --db "$T/db" --list bad --create "$T/a.pdq" >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/rev"
# shellcheck disable=SC2086
"$B/scrimd" --db "$T/db" --socket "$T/sock" --listen none \
    --reviewer-token-file "$T/rev" --log "$T/log" ${EXTRA:-} 2>/dev/null &
P=$!
until grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do sleep 0.1; done
ID=$(curl -s --unix-socket "$T/sock" --data-binary "@$T/a.jpg" http://x/v1/match |
     python3 -c 'import json,sys; print(json.load(sys.stdin)["review"]["id"])')
A="Authorization: Bearer $(cat "$T/rev")"
for i in $(seq 200); do
    curl -s -o /dev/null -w '%{time_total} record\n' --unix-socket "$T/sock" -H "$A" "http://x/v1/review/$ID"
    curl -s -o /dev/null -w '%{time_total} preview\n' --unix-socket "$T/sock" -H "$A" "http://x/v1/review/$ID/preview.jpg"
done > "$T/times"
kill "$P"
wait "$P" 2>/dev/null || true
for k in record preview; do
    grep " $k\$" "$T/times" | sort -n | awk -v k="$k" '{a[NR]=$1}
        END {printf "%-8s median %.2f ms, p90 %.2f ms\n", k, a[int(NR/2)]*1000, a[int(NR*0.9)]*1000}'
done
