#!/bin/sh
# cluster_loop.t - scrimd --cluster: the false-match loop and the review
# queues on every node.  A reject on node 1 suppresses the upload on node 2;
# rejects of different uploads spread over the nodes count toward one
# --quarantine-after (an upload counted once), and the quarantine stops the
# entry matching on every node; a restore on node 3 makes it match again
# everywhere.  A reviewer's break clock is the cluster's.  With PostgreSQL
# stopped, records, decisions and reveals made on a node that is then
# SIGKILLed and started again reach PostgreSQL once it is back, each once.
set -u
. "$(dirname "$0")/tap.sh"
need_tools curl perl
. "$(dirname "$0")/cluster_lib.sh"
temp_dir T clloop
FIX=$(cd "$(dirname "$0")/fixtures" && pwd)
P=03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552   # blobs.jpg's PDQ

cluster_pg_up
NODE_OPTS="--quarantine-after 3 --review-break-after 30 --review-break 600"

nodes_up 1 2 3
# upload K: blobs.jpg with K appended (another upload, the same picture)
upload() { { cat "$FIX/blobs.jpg"; printf '%s' "$1"; } >"$T/u$1.jpg"; }
match() { get "$1" /v1/match --data-binary "@$T/u$2.jpg"; }
decide() { get "$1" "/v1/review/$2/decision" -X POST -H "$AUTH" -d "$3"; }
# matched N: node N finds the PDQ in a block list (for poll)
matched() { get "$1" "/v1/lookup?pdq=$P" && [ "$(jv '$j->{matched}')" = "$2" ]; }
# allowed N K: upload K on node N is reported allowed, suppressed_by bad.suppressed
allowed() {
    match "$1" "$2" && [ "$(jv '$j->{matched}')" = false ] &&
        [ "$(jv '$j->{allowed}[0]{suppressed_by}')" = bad.suppressed ]
}

# ---- a reject on node 1: the same upload is allowed on node 2 ------------------
get 1 "/v1/lists/bad/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "$P"
is "$code" 200 "list bad made through node 1"
poll 40 matched 2 true
upload 1
match 1 1
R=$(jv '$j->{review}{id}')
like "$code:$(jv '$j->{matched}'):$R" '^200:true:[0-9a-f]{32}$' "upload 1 matches on node 1: a review record"
decide 1 "$R" '{"decision": "reject"}'
is "$code:$(jv '$j->{feedback}{suppressed}[0]{list}'):$(jv 'scalar @{$j->{feedback}{errors}}')" \
    200:bad.suppressed:0 "rejected on node 1: suppressed in bad.suppressed, no errors"
t0=$(perl -MTime::HiRes=time -e 'printf "%.3f", time')
match 2 1
t1=$(perl -MTime::HiRes=time -e 'printf "%.3f", time')
is "$code:$(jv '$j->{matched}'):$(jv '$j->{allowed}[0]{suppressed_by}')" 200:false:bad.suppressed \
    "the same upload on node 2 at once: allowed, suppressed_by bad.suppressed"
diag "node 2 answered $(perl -e "printf '%.0f', ($t1 - $t0) * 1000") ms after node 1's reply"
poll 40 allowed 3 1
ok $? "and on node 3"
is "$(psql "SELECT string_agg(op || ':' || list, ',' ORDER BY id) FROM scrim_changes WHERE list LIKE '%.suppressed'")" \
    add:bad.suppressed "the suppression is one change of the cluster's log"
get 3 /v1/lists/bad.suppressed -H "$AUTH"
is "$code:$(jv '$j->{kind}'):$(jv '$j->{radius}')" 200:allow:16 "node 3 has bad.suppressed: an allow list, radius 16"
decide 2 "$R" '{"decision": "confirm"}'
is "$code:$(jv '$j->{feedback}{unsuppressed}[0]{list}')" 200:bad.suppressed \
    "confirmed on node 2 after all: unsuppressed"
umatched() { match "$1" "$2" && [ "$(jv '$j->{matched}')" = true ]; }
for n in 1 3; do
    poll 40 umatched $n 1
    ok $? "upload 1 matches on node $n again"
done
get 1 /v1/lists/bad -X DELETE -H "$AUTH"
is "$code" 200 "list bad dropped"

# ---- rejects spread over nodes: one threshold, an upload counted once -----------
get 2 "/v1/lists/q/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "$P"
is "$code" 200 "list q made through node 2"
for n in 1 2 3; do poll 40 matched $n true; done
nr() { jv '$j->{review}{id}'; }
upload 2; upload 3; upload 4
match 1 2; R1=$(nr)
decide 1 "$R1" '{"decision": "reject", "suppress": false}'
is "$code:$(jv 'scalar @{$j->{feedback}{quarantined}}')" 200:0 "upload 2 rejected on node 1: 1 of 3"
match 2 2; R1b=$(nr)
decide 2 "$R1b" '{"decision": "reject", "suppress": false}'
is "$code:$(jv 'scalar @{$j->{feedback}{quarantined}}')" 200:0 "upload 2 again, rejected on node 2: still 1 (the same upload)"
match 2 3; R2=$(nr)
decide 2 "$R2" '{"decision": "reject", "suppress": false}'
is "$code:$(jv 'scalar @{$j->{feedback}{quarantined}}')" 200:0 "upload 3 rejected on node 2: 2 of 3"
is "$(psql "SELECT count(*) FILTER (WHERE decision = 'reject') || ' ' || count(DISTINCT node) FROM scrim_loop_votes WHERE list = 'q'")" \
    "2 1" "PostgreSQL counts 2 uploads' rejects on q's entry"
match 3 4; R3=$(nr)
decide 3 "$R3" '{"decision": "reject", "suppress": false}'
is "$code:$(jv '$j->{feedback}{quarantined}[0]{list}'):$(jv '$j->{feedback}{quarantined}[0]{rejected}')" \
    200:q:3 "upload 4 rejected on node 3: the third upload, the entry quarantined"
for n in 1 2 3; do
    matched $n false
    ok $? "node $n: the quarantined entry matches no more"
done
get 1 /v1/review/quarantine -H "$AUTH"
is "$code:$(jv '$j->{entries}[0]{list}'):$(jv '$j->{entries}[0]{hash}')" "200:q:$P" "node 1 lists it as quarantined"

# ---- restored on node 3: it matches again everywhere --------------------------------
get 3 /v1/review/quarantine -X POST -H "$AUTH" -d "{\"action\": \"restore\", \"list\": \"q\", \"type\": \"pdq\", \"hash\": \"$P\"}"
is "$code:$(jv '$j->{changed}')" 200:true "restored through node 3 (200, changed)"
for n in 1 2 3; do
    poll 40 matched $n true
    ok $? "node $n: the entry matches again"
done
get 2 /v1/review/quarantine -X POST -H "$AUTH" -d "{\"action\": \"remove\", \"list\": \"q\", \"type\": \"pdq\", \"hash\": \"$P\"}"
is "$code:$(jv '$j->{error}{code}')" 404:not_found "removing it on node 2 now: 404, it is not quarantined"
is "$(psql "SELECT string_agg(params->>'action', ',' ORDER BY id) FROM scrim_changes WHERE op = 'quarantine'")" \
    quarantine,restore "the log has one quarantine and one restore"
upload 5
match 1 5; R4=$(nr)
decide 1 "$R4" '{"decision": "reject", "suppress": false}'
is "$code:$(jv 'scalar @{$j->{feedback}{quarantined}}')" 200:0 "after the restore, a new upload's reject is 1 of 3 again"

# ---- the break clock follows the reviewer ------------------------------------------
get 1 /v1/reviewers -X POST -H "$AUTH" -d '{"name": "alice"}'
AA="Authorization: Bearer $(jv '$j->{token}')"
get 1 "/v1/review/$R4/preview.jpg" -H "$AA"
is "$code" 200 "alice looks at a preview on node 1"
sleep 1.2
get 2 "/v1/review/$R4/preview.jpg" -H "$AA"
get 3 /v1/review/me -H "$AA"
stretch=$(jv '$j->{break}{stretch}')
check "node 3, where she did nothing, shows her stretch since node 1 ($stretch s)" \
    perl -e "exit !($stretch >= 1.1 && $stretch < 30)"
get 3 /v1/review/me/break -X POST -H "$AA" -d '{"reason": "urgent queue"}'
get 1 /v1/review/me -H "$AA"
stretch=$(jv '$j->{break}{stretch}')
check "dismissed on node 3: node 1's stretch starts again ($stretch s)" perl -e "exit !($stretch < 1.1)"
get 1 "/v1/review/$R4/preview.jpg?level=light" -H "$AA"
get 2 "/v1/review/$R4/revealed" -X POST -H "$AA" -d '{"seconds": 0.5}'
is "$code" 200 "a reveal opened on node 1 is closed on node 2"

# ---- PostgreSQL down: made on node 2, node 2 killed, PostgreSQL back --------------
get 2 /v1/review/me -H "$AA"   # alice seen on node 2
pg_stop
poll 100 pg_is 2 down
made=
for k in 6 7 8; do
    upload $k
    match 2 $k
    made="$made'$(nr)',"
done
made=${made%,}
like "$made" "^'[0-9a-f]{32}','[0-9a-f]{32}','[0-9a-f]{32}'$" "PostgreSQL down: 3 uploads make 3 records on node 2"
first=$(echo "$made" | cut -c2-33)
decide 2 "$first" '{"decision": "confirm"}'
is "$code" 200 "a decision on node 2 (stored there)"
second=$(echo "$made" | cut -c37-68)
decide 2 "$second" '{"decision": "reject"}'
is "$code:$(jv 'scalar @{$j->{feedback}{suppressed}}')" 200:0 "a reject on node 2: stored, nothing suppressed yet"
like "$(jv '$j->{feedback}{errors}[-1]')" "made once it is back" "  feedback.errors: done once PostgreSQL is back"
get 2 "/v1/review/$first/preview.jpg?level=light" -H "$AA"
is "$code" 200 "alice reveals it on node 2"
node_stop 2 KILL
# its review database as the kill left it: what waits for PostgreSQL
cp "$T/db2/side.mdb" "$T/side.bak" || bail_out "cannot copy side.mdb"
node_start 2 --cluster "$URL" || bail_out "node 2 did not start again"
pg_start || bail_out "PostgreSQL did not start again"
poll 200 healthy 2
ok $? "node 2, killed and started again, is back in step"
inpg() { [ "$(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'record' AND record_id IN ($made)")" -ge 3 ]; }
poll 200 inpg
is "$(psql "SELECT count(*) || ' ' || count(DISTINCT record_id) FROM scrim_review_log WHERE kind = 'record' AND record_id IN ($made)")" \
    "3 3" "each record made meanwhile is in PostgreSQL, once"
is "$(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'decision' AND record_id = '$first'")" 1 \
    "the decision too, once"
revealed() { [ "$(psql "SELECT count(*) FROM scrim_reviewer_log WHERE event LIKE '%\"reveal\"%$first%'")" -ge 1 ]; }
poll 200 revealed
is "$(psql "SELECT count(*) FROM scrim_reviewer_log WHERE event LIKE '%\"reveal\"%$first%'")" 1 \
    "the reveal reached the reviewers' log, once"
allowed7() { match "$1" 7 && [ "$(jv '$j->{allowed}[0]{suppressed_by}')" = q.suppressed ]; }
for n in 1 3; do
    poll 200 allowed7 $n
    ok $? "node $n: the upload node 2 rejected while PostgreSQL was down is suppressed now"
done
exposed() { [ "$(psql "SELECT reveals FROM scrim_exposure WHERE reviewer = 'alice'")" -ge 2 ]; }
poll 200 exposed
is "$(psql "SELECT previews || ' ' || reveals FROM scrim_exposure WHERE reviewer = 'alice'")" "2 2" \
    "alice's exposure counts her reveal on node 2 meanwhile, once (2 previews, 2 reveals)"
for n in 1 3; do
    poll 100 got $n "/v1/review/$first" -H "$AUTH"
    is "$code:$(jv '$j->{decision}{decision}')" 200:confirm "node $n has the record and its decision"
done

# ---- a crash between PostgreSQL's commit and the queue's delete --------------------
# node 2 killed and started on the database as it was before it sent
# anything: everything is sent again, and PostgreSQL keeps each once
node_stop 2 KILL
cp "$T/side.bak" "$T/db2/side.mdb" && rm -f "$T/db2/side.mdb-lock" || bail_out "cannot restore side.mdb"
node_start 2 --cluster "$URL" || bail_out "node 2 did not start on the old database"
poll 200 grep -q 'reviewer data counted while PostgreSQL was unreachable: sent' "$T/log2"
ok $? "node 2 sends its queue again"
poll 200 healthy 2
sleep 2   # the review outbox goes within a second
is "$(psql "SELECT count(*) || ' ' || count(DISTINCT record_id) FROM scrim_review_log WHERE kind = 'record' AND record_id IN ($made)")" \
    "3 3" "the records sent again: still once each in PostgreSQL"
is "$(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'decision' AND record_id = '$first'")" 1 \
    "the decision: once"
is "$(psql "SELECT count(*) FROM scrim_reviewer_log WHERE event LIKE '%\"reveal\"%$first%'")" 1 \
    "the reveal: once"
is "$(psql "SELECT previews || ' ' || reveals FROM scrim_exposure WHERE reviewer = 'alice'")" "2 2" \
    "alice's exposure: counted once (2 previews, 2 reveals)"

for n in 1 2 3; do
    node_stop $n
    ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$T/stderr$n" 2>/dev/null
    ok $? "node $n: no sanitizer reports" "$(head -n 30 "$T/stderr$n" 2>/dev/null)"
done
done_testing
