#!/bin/sh
# hardening_review.t - the attacks on the review queue: every matching
# upload made a new review record, so a client posting one known file over
# and over (or many copies of it) filled the queue reviewers must work
# through, and ?radius= (up to 64) let any client widen what matches.  Now:
#  - one record per (upload's SHA-256, list entries matched) within the
#    retention: a repeat counts on it ("seen", "last_seen"), no new record;
#  - a client (Unix socket uid, TCP address) may cause --review-rate records
#    a minute: over it, matches are answered without a record, counted;
#  - ?radius= and ?min_quality= need the admin token or
#    --allow-query-overrides 1 (403 otherwise).
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
plan 26

make_upload a && make_upload b || { echo "Bail out! cannot make uploads"; exit 1; }
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null ||
    { echo "Bail out! import failed"; exit 1; }
# Copies of a that are other files (a byte after the picture's end).
for i in 1 2 3 4 5 6; do { cat "$U/a.jpg"; printf '%s' "$i"; } > "$U/a$i.jpg"; done
AUTH="Authorization: Bearer $REVIEWER"
pending() { req -H "$AUTH" "/v1/review?limit=1000" > "$T/page"; json records.# < "$T/page"; }
metric() { curl -s --unix-socket "$T/sock" http://x/metrics | sed -n "s/^scrim_$1 //p"; }

start_daemon || { echo "Bail out! scrimd did not start"; cat "$T/log"; exit 1; }

# ---- the same file, five times: one record -------------------------------------------
for i in 1 2 3 4 5; do req --data-binary "@$U/a.jpg" /v1/match > "$T/r$i"; done
check "the same upload five times: matched each time" \
    eval '[ "$(status)" = 200 ] && for i in 1 2 3 4 5; do [ "$(json matched < "$T/r$i")" = true ] || exit 1; done'
ID=$(json review.id < "$T/r1")
check "... one record: the same review id each time" \
    eval 'for i in 2 3 4 5; do [ "$(json review.id < "$T/r$i")" = "$ID" ] || exit 1; done; [ ${#ID} = 32 ]'
check "... the first answer is a new record, the others repeats" \
    eval '[ "$(json review.repeat < "$T/r1")" = false ] && [ "$(json review.repeat < "$T/r5")" = true ] && [ "$(json review.seen < "$T/r5")" = 5 ]'
check "... the repeats still give the preview's address" \
    [ "$(json review.preview < "$T/r5")" = "/v1/review/$ID/preview.jpg" ]
req -H "$AUTH" "/v1/review/$ID" > "$T/rec"
check "the record counts them: seen 5, last_seen after its time" \
    eval '[ "$(json seen < "$T/rec")" = 5 ] && python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not r[\"last_seen\"] >= r[\"time\"])" "$T/rec"'
check "one pending record for the five" [ "$(pending)" = 1 ]
check "/metrics: 1 record made, 4 repeats" \
    eval '[ "$(metric review_records_total)" = 1 ] && [ "$(metric review_repeats_total)" = 4 ]'

# A decision stands for the repeats that follow: they count on the record.
req -H "$AUTH" -d '{"decision":"confirm"}' "/v1/review/$ID/decision" > /dev/null
req --data-binary "@$U/a.jpg" /v1/match > "$T/r6"
check "after a decision, the same file counts on its record (no new pending one)" \
    eval '[ "$(json review.id < "$T/r6")" = "$ID" ] && [ "$(pending)" = 0 ]'

scrimd_stop

# ---- per client: --review-rate 2 a minute ----------------------------------------------
# (at once after the start: the bucket refills one record every 30 s)
start_daemon --review-rate 2 || { echo "Bail out! scrimd did not restart"; exit 1; }
for i in 1 2 3 4 5; do req --data-binary "@$U/a$i.jpg" /v1/match > "$T/c$i"; done
check "other files of the picture: each matched" \
    eval 'for i in 1 2 3 4 5; do [ "$(json matched < "$T/c$i")" = true ] || exit 1; done'
check "... the first two, within the rate, get records" \
    eval '[ "$(json review.id < "$T/c1" | wc -c)" = 33 ] && [ "$(json review.id < "$T/c2" | wc -c)" = 33 ]'
check "... the next three are answered without one, saying why" \
    eval 'for i in 3 4 5; do [ "$(json review.id < "$T/c$i")" = null ] && json review.skipped < "$T/c$i" | grep -q -- "--review-rate" || exit 1; done'
check "... and counted: scrim_review_throttled_total 3" [ "$(metric review_throttled_total)" = 3 ]
check "the queue holds 2 new pending records, not 5" [ "$(pending)" = 2 ]
req --data-binary "@$U/a1.jpg" /v1/match > "$T/c6"
check "a repeat needs no share of the rate: counted on its record" \
    eval '[ "$(json review.id < "$T/c6")" = "$(json review.id < "$T/c1")" ] && [ "$(json review.seen < "$T/c6")" = 2 ]'
grep -q '"status":200' "$T/log" && ! grep -q '"hook_error"' "$T/log"
check "no hook failures logged: a skipped record is not an error" [ $? = 0 ]

# ---- query overrides ---------------------------------------------------------------------
req --data-binary "@$U/b.jpg" '/v1/match?radius=64' > "$T/o1"
check "?radius= without the admin token: 403" \
    eval '[ "$(status)" = 403 ] && [ "$(json error.code < "$T/o1")" = forbidden ] && json error.message < "$T/o1" | grep -q "needs the admin token.*--allow-query-overrides"'
req --data-binary "@$U/b.jpg" '/v1/match?min_quality=0' > "$T/o2"
check "?min_quality= without it: 403" [ "$(status)" = 403 ]
req -H "$AUTH" --data-binary "@$U/b.jpg" '/v1/match?radius=64' > "$T/o3"
check "... the reviewer token is not enough" [ "$(status)" = 403 ]
req '/v1/lookup?pdq='"$(cat "$U/b.pdq")"'&radius=64' > "$T/o4"
check "/v1/lookup?radius= without it: 403" [ "$(status)" = 403 ]
req --data-binary "@$U/b.jpg" '/v1/match?radius=abc' > "$T/o5"
check "a malformed value is still a 400" [ "$(status)" = 400 ]
req -H "Authorization: Bearer $ADMIN" --data-binary "@$U/b.jpg" '/v1/match?radius=64' > "$T/o6"
check "with the admin token: 200" \
    eval '[ "$(status)" = 200 ] && [ "$(json matched < "$T/o6")" = false ]'
req --data-binary "@$U/b.jpg" '/v1/match?dihedral=0' > "$T/o7"
check "other options need no token" [ "$(status)" = 200 ]
scrimd_stop

start_daemon --allow-query-overrides 1 || { echo "Bail out! scrimd did not restart"; exit 1; }
req --data-binary "@$U/b.jpg" '/v1/match?radius=0&min_quality=90' > "$T/o8"
check "--allow-query-overrides 1: any client may" [ "$(status)" = 200 ]
req --data-binary "@$U/a6.jpg" /v1/match > "$T/o9"
check "records kept across a restart: a new file still gets its record" \
    eval '[ "$(json review.id < "$T/o9" | wc -c)" = 33 ] && [ "$(json review.repeat < "$T/o9")" = false ]'
req --data-binary "@$U/a.jpg" /v1/match > "$T/o10"
check "... and the first file is still a repeat of its record" \
    eval '[ "$(json review.id < "$T/o10")" = "$ID" ] && [ "$(json review.seen < "$T/o10")" = 7 ]'
scrimd_stop
check "scrimd stopped cleanly" [ $? = 0 ]
done_testing
