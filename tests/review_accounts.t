#!/bin/sh
# review_accounts.t - reviewers are people: accounts whose tokens are kept
# only as hashes (checked in the database files), refused at once when
# disabled; exact exposure figures after a scripted stretch of reviewing
# (previews, reveals, seconds revealed, bounded by the time elapsed, items);
# the daily caps (429 naming the cap); the break clock and a dismissal's
# reason in the log; each reviewer's level and no-pictures mode; content
# warnings; /metrics without names unless asked for.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
need_tools python3

make_upload a || bail_out "cannot make uploads"
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null ||
    bail_out "import failed"
# Accounts are made before and while scrimd runs (the CLI and scrimd share
# the database).
ALICE=$("$BIN/scrim" reviewer add alice --db "$T/db" 2>"$T/add.err")
is "${#ALICE}" 64 "scrim reviewer add prints a 64-hex-digit token"
like "$(cat "$T/add.err")" "shown once" "and says it is shown once"
out=$("$BIN/scrim" reviewer add alice --db "$T/db" 2>&1); rc=$?
is "$rc" 1 "the same name again: exit 1"
like "$out" "there is a reviewer named 'alice' already" "naming the problem"
"$BIN/scrim" reviewer add admin --db "$T/db" >/dev/null 2>&1
is "$?" 2 "a reserved name: exit 2"
is "$("$BIN/scrim" reviewer add temp --db "$T/db" 2>/dev/null | wc -c) $("$BIN/scrim" reviewer remove temp --db "$T/db")" \
    "65 temp removed" "scrim reviewer remove"
start_daemon --review-max-reveals 3 --review-max-items 4 \
    --review-break-after 2 --review-break 3 --review-metrics-by-reviewer 1 ||
    bail_out "scrimd did not start"
AA="Authorization: Bearer $ALICE"
AD="Authorization: Bearer $ADMIN"

# Six records: other files of the same picture (a byte after the end).
for i in 1 2 3 4 5 6; do
    { cat "$U/a.jpg"; printf '%s' "$i"; } > "$U/a$i.jpg"
    req --data-binary "@$U/a$i.jpg" /v1/match | json review.id >> "$T/ids"
done
ID1=$(sed -n 1p "$T/ids") ID2=$(sed -n 2p "$T/ids") ID3=$(sed -n 3p "$T/ids")
ID4=$(sed -n 4p "$T/ids") ID5=$(sed -n 5p "$T/ids") ID6=$(sed -n 6p "$T/ids")
is "$(sort -u "$T/ids" | grep -c '^[0-9a-f]\{32\}$')" 6 "six review records"

# ---- accounts over HTTP, tokens as hashes ----
req -H "$AD" -d '{"name":"bob","role":"lead"}' /v1/reviewers > "$T/bob"
is "$(status)" 201 "POST /v1/reviewers (admin) makes an account: 201"
BOB=$(json token < "$T/bob")
is "$(json role < "$T/bob")" lead "with its role"
is "${#BOB}" 64 "and its token, once"
req -H "$AD" -d '{"name":"carol"}' /v1/reviewers | json token > "$T/carol"
CAROL=$(cat "$T/carol")
req -H "$AD" -d '{"name":"bob"}' /v1/reviewers > /dev/null
is "$(status)" 409 "the same name again: 409"
req -H "$AD" -d '{"name":"admin"}' /v1/reviewers > "$T/b"
is "$(status)" 400 "a reserved name: 400"
req -H "$AA" -d '{"name":"mallory"}' /v1/reviewers > "$T/b"
is "$(status)" 403 "a reviewer cannot make accounts: 403"
req -H "$AA" "/v1/review/me" > "$T/me"
is "$(status) $(json name < "$T/me") $(json anonymous < "$T/me")" "200 alice false" \
    "GET /v1/review/me with alice's token names her"
req -H "Authorization: Bearer $REVIEWER" "/v1/review/me" > "$T/me"
is "$(json name < "$T/me") $(json anonymous < "$T/me")" "reviewer true" \
    "the shared reviewer token still works, as an anonymous reviewer"
found=""
for f in "$T"/db/*; do
    for tok in "$ALICE" "$BOB" "$CAROL"; do
        grep -qaF "$tok" "$f" && found="$found $f"
    done
done
is "$found" "" "no token is in any database file"
H=$(printf '%s' "$ALICE" | sha256sum | cut -c1-64)
check "its SHA-256 is stored instead (side.mdb)" grep -qaF "$H" "$T/db/side.mdb"

# ---- a scripted stretch of reviewing: exact figures ----
sec() { python3 -c 'import time; print("%.6f" % time.time())'; }
req -H "$AA" "/v1/review/$ID1/preview.jpg" > /dev/null && s1=$(status)
req -H "$AA" "/v1/review/$ID2/preview.jpg" > /dev/null && s2=$(status)
is "$s1 $s2" "200 200" "alice sees two previews"
req -H "$AA" "/v1/review/$ID1/preview.jpg?level=light" > /dev/null
is "$(status)" 200 "and reveals the first"
sleep 1.2
req -H "$AA" -d '{"seconds": 1.125}' "/v1/review/$ID1/revealed" > "$T/r"
is "$(status) $(json seconds < "$T/r")" "200 1.125" "the page reports 1.125 s revealed (1.2 s elapsed): counted"
req -H "$AA" -d '{"seconds": 1}' "/v1/review/$ID1/revealed" > /dev/null
is "$(status)" 409 "the same reveal reported twice: 409"
req -H "$AA" "/v1/review/$ID2/preview.jpg?level=light" > /dev/null
sleep 0.5
req -H "$AA" -d '{"seconds": 0.25}' "/v1/review/$ID2/revealed" > "$T/r"
is "$(json seconds < "$T/r")" 0.25 "0.25 s more"
t0=$(sec)
req -H "$AA" "/v1/review/$ID3/preview.jpg?level=light" > /dev/null
req -H "$AA" -d '{"seconds": 3600}' "/v1/review/$ID3/revealed" > "$T/r"
t1=$(sec)
BOUNDED=$(json seconds < "$T/r")
check "a page claiming an hour gets the time elapsed: $BOUNDED s <= $(python3 -c "print(round($t1 - $t0, 3))") s" \
    python3 -c "import sys; sys.exit(not (0 <= $BOUNDED <= $t1 - $t0 + 0.002))"
req -H "$AA" -d '{"seconds": -1}' "/v1/review/$ID4/revealed" > /dev/null
is "$(status)" 400 "negative seconds: 400"
req -H "$AA" -d '{"decision":"confirm"}' "/v1/review/$ID1/decision" > "$T/d"
is "$(status) $(json decision.by < "$T/d")" "200 alice" "alice confirms: the decision is hers"
req -H "$AA" -d '{"decision":"reject"}' "/v1/review/$ID2/decision" > /dev/null
req -H "$AA" /v1/review/me > "$T/me"
want_s=$(python3 -c "print(round(1.125 + 0.25 + $BOUNDED, 3))")
is "$(json exposure.today.previews < "$T/me") $(json exposure.today.reveals < "$T/me") $(json exposure.today.items < "$T/me")" \
    "2 3 2" "exposure today: 2 previews, 3 reveals, 2 items"
check "seconds revealed today: $(json exposure.today.seconds < "$T/me") = $want_s" \
    python3 -c "import sys; sys.exit(abs($(json exposure.today.seconds < "$T/me") - $want_s) > 0.0015)"
is "$(json exposure.week < "$T/me")" "$(json exposure.today < "$T/me")" "this week's figures are today's"
is "$(json exposure.days.0 < "$T/me" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.pop("date")[:2], json.dumps(d, sort_keys=True))')" \
   "20 $(json exposure.today < "$T/me" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')" \
   "and the per-day row of today"
req -H "Authorization: Bearer $BOB" /v1/reviewers > "$T/all"
is "$(status)" 200 "a lead reads every reviewer's exposure"
is "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print([r["exposure"]["today"] for r in a["reviewers"] if r["name"]=="alice"][0] == json.load(open(sys.argv[2]))["exposure"]["today"])' "$T/all" "$T/me")" \
    True "the admin view has alice's figures"
req -H "Authorization: Bearer $BOB" -X DELETE /v1/reviewers/carol > /dev/null
is "$(status)" 403 "a lead cannot remove accounts"
"$BIN/scrim" reviewer list --db "$T/db" | grep '^alice ' > "$T/list"
like "$(cat "$T/list")" "previews=2 reveals=3 seconds=[0-9.]* items=2" "scrim reviewer list shows the same"

# the log: every reveal and decision, with the name and time
req -H "$AD" "/v1/review/log?reviewer=alice" > "$T/log.json"
is "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["events"]; print(" ".join("%s:%s" % (x["event"], x.get("id","")[:4]) for x in e if x["event"] in ("reveal","decision")), all(x["who"]=="alice" and x["time"] > 1e9 for x in e))' "$T/log.json")" \
    "reveal:${ID1%"${ID1#????}"} reveal:${ID2%"${ID2#????}"} reveal:${ID3%"${ID3#????}"} decision:${ID1%"${ID1#????}"} decision:${ID2%"${ID2#????}"} True" \
    "the log has alice's three reveals and two decisions, with her name and the time"
req -H "$AA" "/v1/review/log" > /dev/null
is "$(status)" 403 "a reviewer cannot read the whole log"

# ---- caps ----
req -H "$AA" "/v1/review/$ID4/preview.jpg?level=light" > "$T/cap"
is "$(status) $(json error.code < "$T/cap")" "429 reveal_cap" "the fourth reveal (cap 3): 429 reveal_cap"
like "$(json error.message < "$T/cap")" "review-max-reveals 3" "and the message names the cap"
req -H "$AA" "/v1/review/$ID4/preview.jpg" > /dev/null
is "$(status)" 200 "previews are still served"
req -H "$AA" -d '{"decision":"confirm"}' "/v1/review/$ID3/decision" > /dev/null
req -H "$AA" -d '{"decision":"confirm"}' "/v1/review/$ID4/decision" > /dev/null
req -H "$AA" -d '{"decision":"confirm"}' "/v1/review/$ID5/decision" > "$T/cap"
is "$(status) $(json error.code < "$T/cap")" "429 item_cap" "the fifth decision (cap 4): 429 item_cap"
req -H "$AA" "/v1/review/$ID5/preview.jpg" > "$T/cap"
is "$(status) $(json error.code < "$T/cap")" "429 item_cap" "and no more previews today"
req -H "$AA" /v1/review/me > "$T/me"
is "$(json exposure.today.refused < "$T/me") $(json caps.reveals_left < "$T/me") $(json caps.items_left < "$T/me")" \
    "3 0 0" "the refusals are counted; nothing left today"
req -H "$AD" "/v1/review/$ID5/preview.jpg?level=light" > /dev/null
is "$(status)" 200 "the admin token has no cap"

# ---- disabled and removed accounts are refused at once ----
"$BIN/scrim" reviewer disable alice --db "$T/db" > /dev/null
req -H "$AA" /v1/review > "$T/x"
is "$(status) $(json error.code < "$T/x")" "403 reviewer_disabled" "disabled with the CLI: refused at the next request"
"$BIN/scrim" reviewer enable alice --db "$T/db" > /dev/null
req -H "$AA" /v1/review > /dev/null
is "$(status)" 200 "enabled again: accepted"
req -H "$AD" -X POST /v1/reviewers/alice/disable > "$T/x"
is "$(status) $(json disabled < "$T/x")" "200 true" "POST /v1/reviewers/alice/disable"
req -H "$AA" "/v1/review/$ID6" > /dev/null
is "$(status)" 403 "refused at once"
req -H "$AD" -X DELETE /v1/reviewers/carol > /dev/null
is "$(status)" 200 "DELETE /v1/reviewers/carol"
req -H "Authorization: Bearer $CAROL" /v1/review > /dev/null
is "$(status)" 403 "a removed account's token is refused"
req -H "$AD" /v1/reviewers/carol > /dev/null
is "$(status)" 404 "and the account is gone"

# ---- the break clock (--review-break-after 2, --review-break 3) ----
req -H "$AD" -d '{"name":"dave"}' /v1/reviewers | json token > "$T/dave"
AV="Authorization: Bearer $(cat "$T/dave")"
req -H "$AV" /v1/review/me > "$T/me"
is "$(json break.due < "$T/me")" false "no break due before any reviewing"
for i in 1 2 3; do
    req -H "$AV" "/v1/review/$ID6/preview.jpg" > /dev/null
    sleep 0.9
done
req -H "$AV" /v1/review/me > "$T/me"
is "$(json break.due < "$T/me")" true "after 2 s of reviewing without a pause: a break is due"
req -H "$AV" -d '{"reason":""}' /v1/review/me/break > /dev/null
is "$(status)" 400 "dismissing it needs a reason"
req -H "$AV" -d '{"reason":"two items left in this batch"}' /v1/review/me/break > "$T/me"
is "$(status) $(json break.due < "$T/me")" "200 false" "dismissed with a reason: no break due"
req -H "$AD" "/v1/review/log?reviewer=dave" > "$T/log.json"
is "$(python3 -c 'import json,sys; e=[x for x in json.load(open(sys.argv[1]))["events"] if x["event"]=="break_dismissed"]; print(len(e), e[0]["reason"], e[0]["who"])' "$T/log.json")" \
    "1 two items left in this batch dave" "the dismissal and its reason are logged under dave's name"
req -H "$AV" "/v1/review/$ID6/preview.jpg" > /dev/null
sleep 3.2
req -H "$AV" /v1/review/me > "$T/me"
is "$(json break.due < "$T/me") $(json break.stretch < "$T/me")" "false 0.0" "a pause as long as the break ends the stretch"

# ---- the reviewer's own level and no-pictures mode ----
req -H "$AV" "/v1/review/$ID6/preview.jpg" > "$T/std.jpg"
req -H "$AV" -X PUT -d '{"level":"strong"}' /v1/review/me > "$T/me"
is "$(status) $(json level < "$T/me")" "200 strong" "dave chooses the strong level"
scrimd_curl -D "$T/h" -o "$T/strong.jpg" -H "$AV" "http://x/v1/review/$ID6/preview.jpg"
like "$(cat "$T/h")" "X-Preview-Level: strong" "his previews come at the strong level"
check "no detail finer than 12 blocks" "$HELPER" --measure 12 "$T/strong.jpg"
check "and they differ from the list's standard ones" sh -c "! cmp -s '$T/std.jpg' '$T/strong.jpg'"
req -H "$AV" -X PUT -d '{"level":"light"}' /v1/review/me > /dev/null
scrimd_curl -D "$T/h" -o /dev/null -H "$AV" "http://x/v1/review/$ID6/preview.jpg"
like "$(cat "$T/h")" "X-Preview-Level: standard" "a level lighter than the list's is not used"
req -H "$AV" -X PUT -d '{"no_pictures":true}' /v1/review/me > /dev/null
req -H "$AV" "/v1/review/$ID6/preview.jpg" > "$T/x"
is "$(status) $(json error.code < "$T/x")" "403 no_pictures" "no-pictures mode: no image is served"
req -H "Authorization: Bearer $REVIEWER" -X PUT -d '{"no_pictures":true}' /v1/review/me > /dev/null
is "$(status)" 403 "the shared token has no settings of its own"

# ---- content warnings ----
req -H "$AD" -X PUT -d '{"warning":"graphic violence"}' /v1/review/warnings/bad > /dev/null
is "$(status)" 200 "PUT /v1/review/warnings/bad (admin)"
req -H "$AV" /v1/review/warnings > "$T/w"
is "$(json bad < "$T/w")" "graphic violence" "GET /v1/review/warnings"
is "$("$BIN/scrim" content-warning --db "$T/db")" "bad: graphic violence" "scrim content-warning shows it"
req -H "$AV" -X PUT -d '{"warning":"x"}' /v1/review/warnings/bad > /dev/null
is "$(status)" 403 "a reviewer cannot set one"
req -H "$AD" -X PUT -d '{"warning":"a\u0007b"}' /v1/review/warnings/bad > /dev/null
is "$(status)" 400 "a control character: 400"

# ---- bad requests: clear errors, nothing changed ----
bad() {   # bad EXPECTED-STATUS NAME CURL-ARGS... PATH
    _want=$1 _name=$2
    shift 2
    req "$@" > "$T/x"
    is "$(status) $(json error.code < "$T/x" | grep -c .)" "$_want 1" "$_name: $_want with a JSON error"
}
bad 400 "PUT /v1/review/me with a bad level" -H "$AV" -X PUT -d '{"level":"blurry"}' /v1/review/me
bad 400 "PUT /v1/review/me with no_pictures not a boolean" -H "$AV" -X PUT -d '{"no_pictures":"yes"}' /v1/review/me
bad 400 "a body that is not JSON" -H "$AV" -d 'seconds=1' "/v1/review/$ID6/revealed"
bad 400 "a break skipped with a reason not a string" -H "$AV" -d '{"reason":5}' /v1/review/me/break
bad 404 "an unknown /v1/review/me path" -H "$AV" /v1/review/me/else
bad 400 "?limit=0 on the log" -H "$AD" "/v1/review/log?limit=0"
bad 404 "an unknown reviewer" -H "$AD" /v1/reviewers/nobody
bad 400 "a bad reviewer name" -H "$AD" -d '{"name":"a b"}' /v1/reviewers
bad 400 "a bad role" -H "$AD" -d '{"name":"eve","role":"boss"}' /v1/reviewers
bad 405 "PUT /v1/reviewers" -H "$AD" -X PUT -d '{}' /v1/reviewers/bob/disable
req -H "$AD" /v1/reviewers/eve > /dev/null
is "$(status)" 404 "no account was made by the bad requests"

# ---- /metrics ----
scrimd_curl http://x/metrics > "$T/m"
like "$(grep '^scrim_review_reveals_total' "$T/m")" "scrim_review_reveals_total 4" "/metrics: reveals, all reviewers"
check "no reviewer's name without the admin token" sh -c "! grep -q 'alice\|reviewer=' '$T/m'"
scrimd_curl -H "$AD" http://x/metrics > "$T/m"
like "$(grep 'scrim_reviewer_reveals_total{reviewer="alice"}' "$T/m")" " 3$" \
    "with the admin token and --review-metrics-by-reviewer 1: alice's reveals"
scrimd_stop

# ---- without token files: accounts alone ----
scrimd_start --db "$T/db" --listen none || bail_out "scrimd did not start without tokens"
req -H "$AV" /v1/review/me > "$T/me"
is "$(status) $(json name < "$T/me")" "200 dave" "without token files a reviewer account still works"
req -H "$AA" /v1/review > "$T/x"
is "$(status) $(json error.code < "$T/x")" "403 reviewer_disabled" "a disabled one is refused"
req -H "Authorization: Bearer $REVIEWER" /v1/review > "$T/x"
is "$(status) $(json error.code < "$T/x")" "404 review_disabled" "any other token: the review API is off (404)"
scrimd_stop
no_sanitizer_reports "$T/stderr"
done_testing
