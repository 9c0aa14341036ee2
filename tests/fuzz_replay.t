#!/bin/sh
# fuzz_replay.t - the inputs of fuzz_transport (tests/fuzz/fuzz_transport.c):
# its seeds and every input that once broke it (tests/fuzz/regress/transport:
# methods evhttp answered 501, answers to HEAD and CONNECT whose framing the
# client misread, HTTP versions evhttp echoed), sent to bin/scrimd as the
# harness sends them, each answer checked as it checks them (tests/fuzz/
# replay.pl): well-formed HTTP, 5xx only 503/504, scrimd's errors JSON with
# the anti-framing headers; scrimd up at the end, no sanitizer report.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
. "$(dirname "$0")/daemon_lib.sh"
need_tools perl
D=$(dirname "$0")/fuzz
# the harness's set-up (LLVMFuzzerInitialize)
echo fuzz-admin-token-0123456789abcdef >"$T/admin.token"
echo fuzz-reviewer-token-0123456789 >"$T/reviewer.token"
mkdir "$T/allowed"
echo 'not an image' >"$T/allowed/a.txt"
scrimd_start --db "$T/db" --listen 127.0.0.1:0 --threads 2 \
    --admin-token-file "$T/admin.token" --reviewer-token-file "$T/reviewer.token" \
    --allow-path "$T/allowed" --max-body 1048576 --memory-budget 8388608 \
    --max-decode-memory 4194304 --max-pixels 1000000 --request-timeout 3 \
    --admin-wait 2 --receive-timeout 2 --idle-timeout 2 --max-compare-frames 64 ||
    bail_out "scrimd did not start"
PORT=$(sed -n 's/.*"msg":"listening","tcp":"127.0.0.1","port":\([0-9]*\).*/\1/p' "$T/log")
perl "$D/replay.pl" "$T/sock" "$PORT" "$D"/seeds/transport/* "$D"/regress/transport/* >"$T/results"
n=0
while read -r f verdict; do
    n=$((n + 1))
    is "$verdict" ok "$(basename "$(dirname "$f")")/$(basename "$f")"
done <"$T/results"
[ "$n" -ge 20 ]
ok $? "every input replayed ($n)"
kill -0 "$PID"
ok $? "scrimd is up after all of them"
scrimd_stop
is "$?" 0 "scrimd exits 0"
no_sanitizer_reports "$T/stderr"
done_testing
