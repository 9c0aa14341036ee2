#!/bin/bash
# lookup_batch.sh [BIN...] - POST /v1/lookup with 10,000 PDQs against 10,000
# GET /v1/lookup on one kept-alive connection, as tests/lookup_batch.t makes
# them (same seeded lists: 100,000 random PDQs, 100 of them with 0-20 bits
# flipped among 9,900 random queries).  Each BIN directory (default bin/)
# holds a scrim and a scrimd; with several they run alternately, ROUNDS
# (3) times, so that a busy machine weighs on all alike.  Timed once the
# daemon logged "preloaded" and "hashes cached" (steady state).  Prints per round
# and BIN: batch seconds, singles seconds, ratio.
set -eu
ROUNDS=${ROUNDS:-3}
[ $# -gt 0 ] || set -- bin
T=$(mktemp -d)
PID=
trap '[ -z "$PID" ] || kill $PID 2>/dev/null; rm -rf "$T"' EXIT
python3 "$(dirname "$0")/lookup_batch_data.py" "$T"
"$1/scrim" import --quiet --db "$T/db" --list big --create "$T/big.txt" >/dev/null
for round in $(seq "$ROUNDS"); do
    for b in "$@"; do
        rm -f "$T/sock"
        : >"$T/log"
        "$b/scrimd" --socket "$T/sock" --log "$T/log" --db "$T/db" \
            --listen none 2>>"$T/stderr" &
        PID=$!
        for i in $(seq 200); do
            grep -q '"msg":"ready"' "$T/log" && break
            kill -0 $PID 2>/dev/null || { cat "$T/stderr" >&2; exit 1; }
            sleep 0.05
        done
        # steady state: the database read in and its hashes cached
        for i in $(seq 600); do
            grep -q '"msg":"hashes cached"' "$T/log" &&
                grep -q '"msg":"preloaded"' "$T/log" && break
            sleep 0.05
        done
        python3 - "$T" "$b" <<'PY'
import http.client, json, socket, sys, time
t, b = sys.argv[1:]
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(t + "/sock")
qs = open(t + "/queries.txt").read().split()
c = C("scrimd")
body = json.dumps(qs)
t0 = time.monotonic()
c.request("POST", "/v1/lookup", body, {"Content-Type": "application/json"})
batch = json.loads(c.getresponse().read())["results"]
tb = time.monotonic() - t0
t0 = time.monotonic()
single = []
for q in qs:
    c.request("GET", "/v1/lookup?pdq=" + q)
    single.append(json.loads(c.getresponse().read()))
ts = time.monotonic() - t0
same = json.dumps(batch, sort_keys=True) == json.dumps(single, sort_keys=True)
print("%-28s batch %.3f s  singles %.3f s  %5.1fx  same=%s" % (b, tb, ts, ts / tb, same))
PY
        kill $PID; wait $PID || true; PID=
    done
done
