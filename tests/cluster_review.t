#!/bin/sh
# cluster_review.t - scrimd --cluster: reviewer accounts, exposure caps and
# the reviewers' log are the cluster's (PostgreSQL), not each node's.  A
# reviewer added through node 1 signs in on node 2; disabled through node
# 2, refused on nodes 1 and 3 at the next request; reveals on two nodes
# count against one daily cap; with PostgreSQL stopped, a reviewer already
# seen keeps working and what is counted meanwhile reaches PostgreSQL once
# it is back, once.
set -u
. "$(dirname "$0")/tap.sh"
need_tools curl perl
. "$(dirname "$0")/cluster_lib.sh"
temp_dir T clrev
FIX=$(cd "$(dirname "$0")/fixtures" && pwd)

cluster_pg_up
NODE_OPTS="--review-max-reveals 3"

nodes_up 1 2 3

# ---- accounts: added through node 1, known on node 2 -------------------------
get 1 /v1/reviewers -X POST -H "$AUTH" -d '{"name": "alice"}'
ALICE=$(jv '$j->{token}')
like "$code:$ALICE" '^201:[0-9a-f]{64}$' "alice added through node 1: 201 and her token"
is "$(psql "SELECT name || ' ' || role || ' ' || disabled || ' ' || length(token_hash) FROM scrim_reviewers")" \
    "alice reviewer false 64" "her account is a row in PostgreSQL (the token's hash only)"
is "$(psql "SELECT token_hash = encode(sha256('$ALICE'::bytea), 'hex') FROM scrim_reviewers")" t \
    "PostgreSQL holds the SHA-256 of her token, not the token"
AA="Authorization: Bearer $ALICE"
get 2 /v1/review/me -H "$AA"
is "$code:$(jv '$j->{name}'):$(jv '$j->{role}')" 200:alice:reviewer "alice signs in on node 2"
get 3 /v1/reviewers -H "$AUTH"
is "$code:$(jv '$j->{reviewers}[0]{name}')" 200:alice "node 3 lists her"
get 3 /v1/reviewers -X POST -H "$AUTH" -d '{"name": "alice"}'
is "$code" 409 "adding her again through node 3: 409"

get 1 /v1/review/me -X PUT -H "$AA" -d '{"level": "strong"}'
is "$code" 200 "alice picks her own preview level on node 1"
level=$(jv '$j->{level}')
is "$level" strong "  her level is strong"
get 3 /v1/review/me -H "$AA"
is "$code:$(jv '$j->{level}')" "200:$level" "node 3 shows her level"
get 2 /v1/review/me -X PUT -H "$AA" -d '{"level": "default"}'
get 3 /v1/review/me -H "$AA"
is "$code:$(jv '$j->{level}')" 200:null "dropped on node 2: none on node 3"

# ---- disabled through node 2: refused on nodes 1 and 3 at the next request ----
get 2 /v1/reviewers/alice/disable -X POST -H "$AUTH"
is "$code:$(jv '$j->{disabled}')" 200:true "alice disabled through node 2"
for n in 1 3; do
    get $n /v1/review/me -H "$AA"
    is "$code:$(jv '$j->{error}{code}')" 403:reviewer_disabled "node $n refuses her at once (no wait)"
done
get 3 /v1/reviewers/alice/enable -X POST -H "$AUTH"
get 1 /v1/review/me -H "$AA"
is "$code" 200 "enabled through node 3: node 1 lets her in again"

# ---- content warnings: set through node 1, shown by node 3 ----------------------
get 1 /v1/review/warnings/rv -X PUT -H "$AUTH" -d '{"warning": "graphic violence"}'
is "$code:$(jv '$j->{rv}')" "200:graphic violence" "a list's content warning set through node 1"
get 3 /v1/review/warnings -H "$AA"
is "$code:$(jv '$j->{rv}')" "200:graphic violence" "node 3 shows it"
get 2 /v1/review/warnings/rv -X PUT -H "$AUTH" -d "{\"warning\": \"x\u0001\"}"
is "$code" 400 "a warning with a control character: 400, nothing stored"

# ---- one record on every node, revealed on two nodes: one cap of 3 -------------
get 1 "/v1/lists/rv/import?format=hex&create=1" -X POST -H "$AUTH" \
    --data-binary 03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552
get 1 /v1/match --data-binary "@$FIX/blobs.jpg"
REC=$(jv '$j->{review}{id}')
like "$code:$REC" '^200:[0-9a-f]{32}$' "a match on node 1 makes a review record"
for n in 2 3; do
    poll 100 got $n "/v1/review/$REC" -H "$AUTH" || diag "node $n lacks the record"
done
psql "INSERT INTO scrim_exposure (reviewer, day, previews) VALUES ('old', current_date - 91, 1), ('old', current_date - 89, 1)"
reveal() { get "$1" "/v1/review/$REC/preview.jpg?level=light" -H "$AA"; }
reveal 1; r1=$code
reveal 2; r2=$code
reveal 1; r3=$code
is "$r1 $r2 $r3" "200 200 200" "three reveals: node 1, node 2, node 1"
reveal 2
is "$code:$(jv '$j->{error}{code}')" 429:reveal_cap "the fourth, on node 2: 429 reveal_cap (the cap is the cluster's)"
reveal 3
is "$code" 429 "and on node 3, where she revealed nothing"
is "$(psql "SELECT reveals || ' ' || refused FROM scrim_exposure WHERE reviewer = 'alice'")" \
    "3 2" "PostgreSQL's row: 3 reveals, 2 refused"
is "$(psql "SELECT count(*) FROM scrim_exposure WHERE reviewer = 'old'")" 1 \
    "the day's first count deleted the exposure row older than 90 days, kept the other"
get 3 "/v1/review/log?reviewer=alice" -H "$AUTH"
is "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print scalar grep { $_->{event} eq "reveal" } @{$j->{events}}' <"$T/out")" \
    3 "node 3's /v1/review/log has the reveals made on nodes 1 and 2"

# ---- PostgreSQL stopped: alice, already known, goes on; counted once back ------
get 2 "/v1/reviewers" -X POST -H "$AUTH" -d '{"name": "bob"}'
BOB=$(jv '$j->{token}')
pg_stop
poll 100 pg_is 2 down
get 2 /v1/review/me -H "$AA"
is "$code:$(jv '$j->{name}')" 200:alice "PostgreSQL down: alice, read before on node 2, still signs in there"
get 2 /v1/review/me -H "Authorization: Bearer $BOB"
is "$code:$(jv '$j->{error}{code}')" 503:cluster_unavailable "bob, never seen on node 2: 503 cluster_unavailable"
get 2 /v1/reviewers/alice/disable -X POST -H "$AUTH"
is "$code:$(jv '$j->{error}{code}')" 503:cluster_unavailable "an account change: 503 cluster_unavailable"
get 3 /v1/review/warnings -H "$AA"
is "$code:$(jv '$j->{rv}')" "200:graphic violence" "the content warnings as node 3 last read them"
get 2 "/v1/review/$REC/preview.jpg" -H "$AA"
is "$code" 200 "a preview (not a reveal) is served, counted on node 2"
reveal 2
is "$code" 429 "the reveal cap still holds there (PostgreSQL's last count)"
pg_start || bail_out "PostgreSQL did not start again"
poll 100 pg_is 2 ok
# sent with the next reviewer request that reaches PostgreSQL
get 2 /v1/review/me -H "$AA"
is "$code:$(jv '$j->{exposure}{today}{previews}')" 200:1 "back: node 2 sends what it counted (1 preview)"
is "$(psql "SELECT previews || ' ' || reveals || ' ' || refused FROM scrim_exposure WHERE reviewer = 'alice'")" \
    "1 3 3" "PostgreSQL's row has it, once: 1 preview, 3 reveals, 3 refused"
is "$(psql "SELECT count(*) FROM scrim_reviewer_log WHERE event LIKE '%cap_refused%'")" 3 \
    "the refusal logged while it was down reached the cluster's log, once"

for n in 1 2 3; do
    node_stop $n
    ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$T/stderr$n" 2>/dev/null
    ok $? "node $n: no sanitizer reports" "$(head -n 30 "$T/stderr$n" 2>/dev/null)"
done
done_testing
