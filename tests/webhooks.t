#!/bin/sh
# webhooks.t - scrimd's webhooks (doc/webhooks.md): events of matches
# (/v1/match of images and videos, GET and POST /v1/lookup) and review
# decisions reach a receiver (tests/webhook_receiver.py) that refuses a
# third of the deliveries, is restarted twice, while scrimd is killed (-9)
# and restarted once: every event arrives, signed, duplicates carry the same
# id; a forged or stale signature is rejected; a full queue drops its oldest
# and counts them; a dead URL holds up only its own queue.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools python3 curl perl
[ -x "$BIN/scrimd" ] || skip_all "no scrimd"
"$BIN/scrimd" --help | grep -q webhook-url || skip_all "scrimd without webhooks"
plan 33

temp_dir T webhooks
RECV="python3 $PWD/tests/webhook_receiver.py"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/secret"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/admin"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/reviewer"
TOKEN=$(cat "$T/admin")
PDQ=$("$BIN/scrim" hash "$FIX/blobs.jpg" | cut -d, -f1)
printf 'hash,id,label,tags\n%s,case-1,blobs,csam-adjacent\n' "$PDQ" > "$T/list.csv"
"$BIN/scrim" import --db "$T/db" --list bad --create "$T/list.csv" >/dev/null ||
    bail_out "import failed"
# a video entry, when FFmpeg is there to make one
VIDEO=
if command -v ffmpeg >/dev/null 2>&1 &&
    ff -f lavfi -i "mandelbrot=size=160x120:rate=10" -t 3 -c:v libx264 -preset ultrafast \
        -pix_fmt yuv420p "$T/video.mp4" &&
    "$BIN/scrim" import --format vpdq --db "$T/db" --list vids --create "$T/video.mp4" >/dev/null; then
    VIDEO=$T/video.mp4
fi
: > "$T/expect"

# The receiver: recv_start (on $RPORT once known), recv_stop.
RPID=
recv_start() {
    rm -f "$T/port"
    $RECV serve --secret-file "$T/secret" --log "$T/rlog" --port-file "$T/port" \
        --port "${RPORT:-0}" --refuse-every 3 --slow-every 7 --slow 0.8 \
        --keep-bodies "$@" 2>>"$T/rerr" &
    RPID=$!
    poll 200 test -s "$T/port" || return 1
    RPORT=$(cat "$T/port")
}
recv_stop() { [ -z "$RPID" ] || { kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=; }; }
at_exit recv_stop

HOOKS="--webhook-secret-file $T/secret --webhook-retry-base 0.05
       --webhook-retry-max 0.4 --webhook-timeout 0.5"
start() {
    scrimd_start --db "$T/db" --listen none --admin-token-file "$T/admin" \
        --reviewer-token-file "$T/reviewer" --review-rate 0 \
        --webhook-url "http://127.0.0.1:$RPORT/hook" $HOOKS "$@"
}

# match N: blobs.jpg with byte N after its end (another file, the same
# picture: another review record), content id m-N, expected as an event.
match() {
    { cat "$FIX/blobs.jpg"; printf '%s' "$1"; } > "$T/up.jpg"
    http POST "/v1/match?content_id=m-$1" --data-binary "@$T/up.jpg"
    [ "$code" = 200 ] && [ "$(jv '$j->{matched}')" = true ] || return 1
    echo "match:m-$1" >> "$T/expect"
    { jv '$j->{review}{id}'; echo; } >> "$T/reviews"
}
matches() { _i=$1; while [ "$_i" -le "$2" ]; do match "$_i" || return 1; _i=$((_i + 1)); done; }
# decide ID: a review decision, expected as an event.
decide() {
    http POST "/v1/review/$1/decision" -H "Authorization: Bearer $(cat "$T/reviewer")" \
        -d '{"decision":"confirm","note":"seen"}'
    [ "$code" = 200 ] && echo "review.decision:$1" >> "$T/expect" || diag "decide $1: $(cat "$T/out")"
}
metric() {
    scrimd_curl "http://scrimd/metrics" | sed -n "s/^scrim_webhook_$1 //p"
}

# 1-3: settings.
"$BIN/scrimd" --db "$T/db" --socket "$T/s0" --listen none --log "$T/l0" \
    --webhook-url http://127.0.0.1:9/x 2>"$T/err0"
st=$?
check "--webhook-url without a secret file: refused" eval \
    '[ $st = 1 ] && grep -q "needs --webhook-secret-file" "$T/err0"'
"$BIN/scrimd" --webhook-url ftp://example.com/x --print-settings >/dev/null 2>"$T/err1"
st=$?
check "--webhook-url ftp://: refused, naming it" eval \
    '[ $st = 2 ] && grep -q "webhook-url.*ftp://example.com/x" "$T/err1"'
"$BIN/scrimd" --webhook-url http://a.example/1,http://b.example/2 \
    --webhook-url http://c.example/3 --print-settings > "$T/set"
check "--webhook-url: repeatable and comma-separated" \
    [ "$(grep -c '^webhook-url = http' "$T/set")" = 3 ]

# 4-5: up, refusing a third.
recv_start || bail_out "the receiver did not start: $(cat "$T/rerr")"
start || bail_out "scrimd did not start"
matches 1 6 || bail_out "matches failed: $code"
# a single lookup and a batch (one event each, the batch's matched items)
http GET "/v1/lookup?pdq=$PDQ&content_id=l-1"
check "GET /v1/lookup echoes content_id" [ "$(jv '$j->{content_id}')" = l-1 ]
echo "match:l-1" >> "$T/expect"
printf '["%s", "md5:00000000000000000000000000000000", {"pdq": "%s"}]' "$PDQ" "$PDQ" > "$T/batch"
http POST "/v1/lookup?content_id=b-1" --data-binary "@$T/batch"
check "POST /v1/lookup: 3 results" [ "$code/$(jv '$j->{results}')" = 200/3 ]
echo "match:b-1" >> "$T/expect"
if [ -n "$VIDEO" ]; then
    http POST "/v1/match?content_id=v-1" --data-binary "@$VIDEO"
    [ "$code/$(jv '$j->{matched}')" = 200/true ] && echo "match:v-1" >> "$T/expect" ||
        diag "the video did not match: $(cat "$T/out")"
fi

# 6: receiver restart 1 (down while events come), then scrimd killed -9
# with events queued, restarted; the receiver comes back.
recv_stop
matches 7 12 || bail_out "matches failed: $code"
decide "$(sed -n 1p "$T/reviews")" || bail_out "decision failed: $code"
{ scrimd_stop KILL; } 2>/dev/null
start || bail_out "scrimd did not start again"
check "after kill -9, the queued events are still there" \
    eval '[ "$(metric queue_depth)" -ge 1 ]'
recv_start || bail_out "the receiver did not start again"
matches 13 18 || bail_out "matches failed"
decide "$(sed -n 8p "$T/reviews")" || bail_out "decision failed: $code"
# receiver restart 2
recv_stop
matches 19 22 || bail_out "matches failed"
sleep 0.3
recv_start || bail_out "the receiver did not start a third time"
matches 23 24 || bail_out "matches failed"

# 7-15: everything arrives (figures in bench/RESULTS.md).
drained() { [ "$(metric queue_depth)" = 0 ]; }
poll 600 drained
check "the queue drains" drained
$RECV report --log "$T/rlog" --expect "$T/expect" > "$T/report"
cp "$T/report" "$T/out"
diag "figures: $(cat "$T/report")"
is "$(jv '$j->{missing}')" 0 "every event arrived (accepted at least once)"
is "$(jv '$j->{event_ids}')" "$(wc -l < "$T/expect")" "one event id per event"
is "$(jv '$j->{bad_signatures}')" 0 "every delivery's signature verified"
is "$(jv '$j->{same_body_per_id}')" true "deliveries of one id: the same body and Scrim-Event-Id"
retried() { [ "$(jv '$j->{refused}')" -ge 3 ] && [ "$(jv '$j->{retries}')" -ge 3 ]; }
check "some were refused and retried" retried
check "duplicates were accepted (slow answers past the timeout)" \
    test "$(jv '$j->{duplicates}')" -ge 1
is "$(jv '$j->{receivers}')" 3 "three receiver processes (restarted twice)"
check "the log says when delivery fails and recovers" eval \
    'grep -q "webhook delivery failing" "$T/log" && grep -q "webhook delivery recovered" "$T/log"'

# 16-22: what the events hold (as the receiver got them).
ev() {
    perl -MJSON::PP -ne 'my $r = decode_json($_); next unless $r->{event} && $r->{status} == 200 && '"$1"';
        print encode_json($r->{event}), "\n"; last' "$T/rlog" > "$T/out"
}
match_event() {
    [ "$(jv '$j->{type}')" = match ] && [ "$(jv 'length $j->{id}')" = 32 ] &&
        jv '$j->{time}' | grep -Eq '^20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z$' &&
        [ "$(jv '$j->{route}')" = /v1/match ] && [ "$(jv '$j->{request_id}')" -ge 1 ]
}
ev '($r->{content_id} // "") eq "m-3"'
check "match event: type, id, time, route, request id" match_event
{ cat "$FIX/blobs.jpg"; printf 3; } > "$T/up3.jpg"
digests() {
    [ "$(jv '$j->{upload}{md5}')" = "$(md5sum < "$T/up3.jpg" | cut -c1-32)" ] &&
        [ "$(jv '$j->{upload}{sha256}')" = "$(sha256sum < "$T/up3.jpg" | cut -c1-64)" ] &&
        [ "$(wc -c < "$T/out")" -lt 2000 ]
}
check "match event: the upload's digests, not its bytes (under 2 KB)" digests
entries() {
    [ "$(jv '$j->{matches}[0]{list}')" = bad ] && [ "$(jv '$j->{matches}[0]{id}')" = case-1 ] &&
        [ "$(jv '$j->{matches}[0]{tags}[0]')" = csam-adjacent ] &&
        [ "$(jv '$j->{matches}[0]{distance}')" = 0 ] && [ "$(jv 'length $j->{review}{id}')" = 32 ] &&
        [ "$(jv '$j->{content_id}')" = m-3 ]
}
check "match event: content id, list, entry id, tags, distance, review id" entries
ev '($r->{content_id} // "") eq "b-1"'
batch() {
    [ "$(jv '$j->{matches}')" = 2 ] && [ "$(jv '$j->{matches}[1]{item}')" = 2 ] &&
        [ "$(jv '$j->{matches}[0]{query}')" = "$PDQ" ] && [ "$(jv '$j->{route}')" = /v1/lookup ]
}
check "batch lookup event: the matched items, with their index and query" batch
if [ -n "$VIDEO" ]; then
    ev '($r->{content_id} // "") eq "v-1"'
    video() {
        [ "$(jv '$j->{upload}{kind}')" = video ] && [ "$(jv '$j->{matches}[0]{type}')" = video ] &&
            [ "$(jv '$j->{matches}[0]{list}')" = vids ] &&
            [ "$(jv '$j->{upload}{sha256}')" = "$(sha256sum < "$VIDEO" | cut -c1-64)" ]
    }
    check "video match event: kind video, the video entry, the file's SHA-256" video
else
    skip "no FFmpeg to make a video"
fi
# the first review's decision (events are not delivered in order: one
# refused waits for its retry while later ones go through)
ev '$r->{type} eq "review.decision" && $r->{event}{review_id} eq "'"$(sed -n 1p "$T/reviews")"'"'
decision() {
    [ "$(jv '$j->{decision}')" = confirm ] && [ "$(jv '$j->{note}')" = seen ] &&
        [ "$(jv '$j->{by}')" = reviewer ] && [ "$(jv '$j->{review_id}')" = "$(sed -n 1p "$T/reviews")" ] &&
        [ "$(jv '$j->{content_id}')" = m-1 ] && [ "$(jv '$j->{matches}[0]{list}')" = bad ] &&
        [ "$(jv '$j->{upload}{kind}')" = image ]
}
check "decision event: review id, decision, note, by, content id, matches" decision
counted() {
    [ "$(metric delivered_total)" -ge 1 ] && [ "$(metric failed_attempts_total)" -ge 1 ] &&
        [ "$(metric oldest_age_seconds)" = 0.000 ] && [ "$(metric dropped_total)" = 0 ]
}
check "metrics: delivered, failed attempts, nothing dropped or waiting" counted

# 23-25: forged and stale signatures are rejected by the receiver.
n0=$(grep -c . "$T/rlog")
post_signed() {
    curl -s -o /dev/null -w '%{http_code}' -H "Scrim-Signature: $1" \
        --data-binary "$2" "http://127.0.0.1:$RPORT/hook"
}
printf '{"id":"f0","type":"match","time":"2026-01-01T00:00:00.000Z"}' > "$T/forged"
echo "not-the-secret-at-all" > "$T/wrong"
is "$(post_signed "$($RECV sign --secret-file "$T/wrong" < "$T/forged")" "@$T/forged")" 401 \
    "a body signed with another secret: 401"
is "$(post_signed "$($RECV sign --secret-file "$T/secret" --time $(($(date +%s) - 600)) < "$T/forged")" "@$T/forged")" \
    401 "the right secret, a timestamp 10 minutes old: 401"
fc=$(post_signed "$($RECV sign --secret-file "$T/secret" < "$T/forged")" '{"id":"f0","type":"other"}')
none_accepted() {
    [ "$fc" = 401 ] && [ "$(tail -n +$((n0 + 1)) "$T/rlog" | grep -c '"status": 401')" = 3 ] &&
        ! tail -n +$((n0 + 1)) "$T/rlog" | grep -q '"status": 200'
}
check "another body under a good signature: 401; none of the three accepted" none_accepted

# 26-28: the bound: receiver down, a queue of 3, 5 events: the 2 oldest go.
recv_stop
scrimd_stop
start --webhook-queue 3 || bail_out "scrimd did not start with --webhook-queue 3"
: > "$T/expect"
matches 101 105 || bail_out "matches failed"
full() { [ "$(metric dropped_total)" = 2 ] && [ "$(metric queue_depth)" = 3 ]; }
check "full queue: the 2 oldest dropped and counted, 3 kept" full
waiting() { [ "$(metric oldest_age_seconds | tr -d .)" -gt 0 ]; }
check "the oldest waiting one's age is reported" waiting
recv_start --refuse-every 0 --slow-every 0 || bail_out "the receiver did not start"
poll 400 drained
kept() {
    $RECV report --log "$T/rlog" --expect "$T/expect" > "$T/out" &&
        [ "$(jv 'join(",", sort @{$j->{missing}})')" = "match:m-101,match:m-102" ]
}
check "the 3 kept arrive once the receiver is back, the 2 dropped never" kept

# 29-31: two URLs, one that nothing answers: the other gets every event;
# without it in the settings, its queued events are dropped at start.
scrimd_stop
start --webhook-url http://127.0.0.1:9/nobody || bail_out "scrimd did not start with two URLs"
: > "$T/expect"
matches 201 202 || bail_out "matches failed"
one_waits() { [ "$(metric queue_depth)" = 2 ] && [ "$(metric delivered_total)" = 2 ]; }
poll 400 one_waits
check "two URLs: the live one has both events, the dead one's 2 wait" one_waits
check "the live receiver got them" eval '$RECV report --log "$T/rlog" --expect "$T/expect" > "$T/out" &&
    [ "$(jv '"'"'$j->{missing}'"'"')" = 0 ]'
scrimd_stop
start || bail_out "scrimd did not start with one URL"
gone() { [ "$(metric dropped_total)" = 2 ] && [ "$(metric queue_depth)" = 0 ] &&
    grep -q '"dropped_unconfigured":2' "$T/log"; }
check "a URL no longer configured: its events dropped and counted at start" gone
scrimd_stop
ok $? "scrimd stops cleanly (exit 0)"
no_sanitizer_reports "$T/stderr"
done_testing
