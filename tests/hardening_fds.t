#!/bin/sh
# hardening_fds.t - the attack: open connections until scrimd is out of
# file descriptors.  Before, accept() failed with EMFILE and libevent
# warned on stderr and tried again at once, the listening socket being
# readable still: 4.3 s of CPU in 5 s and 1.43 GB of log in 7 s.  Then
# accepting paused (one log line), but the idle connections kept every
# descriptor until --idle-timeout: a new client waited for them.  Now each
# failed accept also closes the connections idle longest, so a new client
# is served while the attacker still holds all it can; one log line per
# episode all the same.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3 prlimit
HOLD=
at_exit '[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null'

# 40 descriptors in all, soft and hard (scrimd raises its soft limit to the
# hard one): about 14 are its own, the rest are for clients.
: >"$T/log"
prlimit --nofile=40:40 "$BIN/scrimd" --db "$T/db" --socket "$SOCK" --listen none \
    --threads 1 --preload 0 --cache-hashes 0 --log "$T/log" 2>"$T/stderr" &
PID=$!
if ! wait_log '"msg":"ready"'; then
    echo "Bail out! scrimd did not start: $(head -c 400 "$T/stderr")"
    exit 1
fi
http GET /healthz
is "$code" 200 "set-up: scrimd answers under a limit of 40 descriptors"

# 80 idle connections (keep-alive clients that never send), held until the
# file "release" appears.
python3 - "$SOCK" "$T" <<'EOF' &
import os, socket, sys, time
sock, t = sys.argv[1:3]
conns = []
for _ in range(80):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)          # the kernel queues what scrimd has not accepted
    conns.append(s)
open(t + "/held", "w").close()
while not os.path.exists(t + "/release"):
    time.sleep(0.05)
for s in conns:
    s.close()
EOF
HOLD=$!
i=0
while [ ! -e "$T/held" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.5   # scrimd accepts what it can and runs out
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$PID/stat"; }
c0=$(cpu)
sleep 2
c1=$(cpu)
spent=$(echo "$c1 $c0" | awk '{printf "%.2f", $1 - $2}')
awk -v s="$spent" 'BEGIN { exit !(s < 0.2) }'
ok $? "out of descriptors, scrimd is idle: ${spent} s of CPU in 2 s"
is "$(grep -c '"msg":"accepting paused' "$T/log")" 1 "one log line for the episode"
grep '"msg":"accepting paused' "$T/log" | grep -q '"error":"Too many open files"'
ok $? "... naming the error"
size=$(cat "$T/log" "$T/stderr" | wc -c)
[ "$size" -lt 4000 ]
ok $? "the log and stderr stay small (${size} bytes)"
# (how many descriptors are in use now depends on how the rounds of
# accepting and closing idle ones fell: /metrics below says that accept
# failed for want of them)

# A client that comes now is served while the attacker still holds its
# connections: the idle ones are closed to make room (the oldest first).
curl -s -o "$T/late" -w '%{http_code}' --max-time 10 --unix-socket "$SOCK" \
    http://scrimd/healthz >"$T/late.code"
is "$(cat "$T/late.code")" 200 "a new client is served while the idle connections are held"
kill -0 "$HOLD" 2>/dev/null
ok $? "... the attacker still holding them"
http GET /healthz
is "$code" 200 "and again"
is "$(grep -c '"msg":"accepting paused' "$T/log")" 1 "still one log line for the episode"
# (its first round may find none idle yet: connections accepted in the
# same loop turn are set up in the next; the count is in /metrics below)
grep '"msg":"accepting paused' "$T/log" | grep -q '"idle_closed":[0-9]'
ok $? "... saying how many idle connections its first round closed"
touch "$T/release"
wait "$HOLD"
HOLD=
http GET /metrics
grep -q '^scrim_accept_pauses_total 1$' "$T/out"
ok $? "/metrics counts the episode (scrim_accept_pauses_total 1)"
grep -q '^scrim_accept_failures_total [1-9]' "$T/out"
ok $? "... and the failed accepts ($(grep '^scrim_accept_failures_total' "$T/out"))"
grep -q '^scrim_connections_shed_total [1-9]' "$T/out"
ok $? "... and the idle connections closed ($(grep '^scrim_connections_shed_total' "$T/out"))"

kill -TERM "$PID"
wait "$PID"
ok $? "scrimd stops cleanly"
PID=
no_sanitizer_reports "$T/stderr"

done_testing
