#!/bin/sh
# cluster_haproxy.t - tools/cluster.sh brings up HAProxy and 3 scrimd nodes
# on loopback (temp directory and ports); matches go through HAProxy; under
# load (bench/load.c, POST /v1/match with JPEG bodies) node 2 is frozen
# (SIGSTOP, so that requests are sent to it whole and stay unanswered), then
# killed with SIGKILL and started again: the client sees no error, because
# HAProxy sent those requests, bodies and all, to another node (its retry
# counter says so), and the restarted node is back in rotation.  With
# --cluster in scrimd, cluster.sh brings PostgreSQL up too, and a list
# imported through HAProxy while node 2 is down is matched by node 2 as soon
# as its /healthz says 200.  Skipped without haproxy.
. "$(dirname "$0")/tap.sh"
need_tools haproxy curl python3
[ -x "$BIN/scrimd" ] || skip_all "no $BIN/scrimd"
plan 17
temp_dir T cluster
C=$T/c
CL() { SCRIM_BIN=$BIN tools/cluster.sh -d "$C" -p "$PORT" "$@"; }
at_exit 'CL down >/dev/null 2>&1'
# PostgreSQL (if scrimd has --cluster) runs as postgres: let it reach $C
chmod 711 "$T"
CLUSTER=
"$BIN/scrimd" --help 2>&1 | grep -q -e '--cluster ' && CLUSTER=1

# HAProxy's port and its stats port (PORT + 1): two free ones in a row
PORT=$(python3 -c 'import socket, random
for _ in range(200):
    p = random.randrange(20000, 60000)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass')
[ -n "$PORT" ] || bail_out "no free port"

# the load client
LOAD=${SCRIM_BUILD:-build/rel}/bench/load
if [ ! -x "$LOAD" ]; then
    LOAD=$T/load
    ${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -pthread -o "$LOAD" bench/load.c 2>"$T/cc.err" ||
        bail_out "cannot build bench/load.c: $(cat "$T/cc.err")"
fi
IMGS=$(ls "$SHARED"/data/eval-dev/orig/*.jpg 2>/dev/null | head -n 12)
[ -n "$IMGS" ] || IMGS="$FIX/blobs.jpg $FIX/cmyk-no-adobe.jpg"

# a database that blobs.jpg matches, copied to each node by `scrim snapshot`
"$BIN/scrim" hash "$FIX/blobs.jpg" | cut -d, -f1 >"$T/blobs.pdq"
"$BIN/scrim" import --db "$T/db" --list bad --create "$T/blobs.pdq" >/dev/null ||
    bail_out "cannot make the database"

# 1-2: the example configs are valid
check "tools/cluster/haproxy.cfg: haproxy -c" haproxy -q -c -f tools/cluster/haproxy.cfg
check "tools/cluster/scrimd.conf: scrimd reads it" \
    sh -c "'$BIN/scrimd' --print-settings --config tools/cluster/scrimd.conf | grep -qx 'review-rate = 0'"

# 3-5: up
CL -D "$T/db" up 3 >"$T/up.out" 2>&1
ok $? "cluster.sh up 3" "$(cat "$T/up.out")"
stats() { curl -s "http://127.0.0.1:$((PORT + 1))/stats;csv"; }
# field NODE COLUMN: a column of HAProxy's CSV stats for a server
field() {
    stats | awk -F, -v s="$1" -v f="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == "scrimd" && $2 == s { print $(c[f]) }'
}
all_up() { [ "$(field node1 status)$(field node2 status)$(field node3 status)" = UPUPUP ]; }
poll 200 all_up
ok $? "HAProxy sees the 3 nodes UP" "$(CL status)"
curl -s -o "$T/m.json" -w '%{http_code}' --data-binary @"$FIX/blobs.jpg" \
    "http://127.0.0.1:$PORT/v1/match" >"$T/code"
[ "$(cat "$T/code")" = 200 ] && grep -q '"matched":true' "$T/m.json"
ok $? "a match through HAProxy" "$(cat "$T/code") $(head -c 300 "$T/m.json")"

# 6-12: load; node 2 frozen, killed, started again
# shellcheck disable=SC2086
"$LOAD" -c 6 -d 9 -t "127.0.0.1:$PORT" $IMGS >"$T/load.out" 2>&1 &
LPID=$!
sleep 3
N2=$(cat "$C/node2/pid")
kill -STOP "$N2"
sleep 0.5
CL kill 2
# with --cluster: a list imported through HAProxy while node 2 is down
MISSED=$(perl -e 'srand(11); printf "%08x" x 8, map { int(rand(2**32)) } 1..8')
if [ -n "$CLUSTER" ]; then
    curl -s -o "$T/imp.json" -w '%{http_code}' -H "Authorization: Bearer $(cat "$C/admin.token")" \
        --data-binary "$MISSED" "http://127.0.0.1:$PORT/v1/lists/missed/import?create=1" >"$T/code"
fi
sleep 2
check "node 2 is DOWN in HAProxy after SIGKILL" [ "$(field node2 status)" = DOWN ]
CL start 2 >"$T/start.out" 2>&1
ok $? "node 2 started again on its port" "$(cat "$T/start.out")"
if [ -n "$CLUSTER" ]; then
    check "with --cluster: an import through HAProxy while node 2 was down" [ "$(cat "$T/code")" = 200 ]
    N2URL=http://127.0.0.1:$(cat "$C/node2/port")
    poll 400 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$N2URL/healthz') = 200 ]"
    curl -s "$N2URL/v1/lookup?pdq=$MISSED" >"$T/missed.json"
    check "with --cluster: once /healthz is 200, node 2 has the change it missed" \
        grep -q '"matched":true' "$T/missed.json"
else
    skip "scrimd has no --cluster" 2
fi
wait "$LPID"
result=$(grep '^result:' "$T/load.out")
like "$result" '^result: [1-9][0-9]* ok, 0 errors' "the client saw no error ($result)"
retries=$(field node2 wretr)
check "HAProxy retried requests sent to node 2 on other nodes (wretr $retries)" [ "${retries:-0}" -ge 1 ]
poll 200 all_up
ok $? "node 2 is back in rotation (UP)" "$(CL status)"

# 13-14: the restarted node answers matches sent through HAProxy
"$LOAD" -c 4 -d 2 -t "127.0.0.1:$PORT" $IMGS >"$T/load2.out" 2>&1
like "$(grep '^result:' "$T/load2.out")" ' 0 errors' "a second load: no error"
n=$(grep -c '"path":"/v1/match","status":200' "$C/node2/log")
check "the restarted node answered $n of its matches" [ "$n" -ge 1 ]

# 15-17: status, down
CL status >"$T/status.out" 2>&1
check "status: 3 nodes, /healthz 200, UP" sh -c "[ \$(grep -c '/healthz 200  haproxy: UP' '$T/status.out') = 3 ]"
pids="$(cat "$C"/node*/pid "$C/haproxy.pid")"
CL down >/dev/null 2>&1
gone=1
for p in $pids; do kill -0 "$p" 2>/dev/null && gone=0; done
check "down: the nodes and HAProxy are gone" [ $gone = 1 ]
check "no sanitizer reports from the nodes" sh -c "! grep -l 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' '$C'/node*/stderr"
done_testing
