#!/bin/sh
# review_daemon.t - review records through scrimd: a match in a block list
# stores a record with blurred previews; /v1/review endpoints, tokens, paging,
# decisions, per-list levels (none = no preview), the /review page.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
plan 34

make_upload a && make_upload b && make_upload c || bail_out "cannot make uploads"
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null &&
"$BIN/scrim" import --db "$T/db" --list hidden --create "$U/b.pdq" >/dev/null &&
"$BIN/scrim" import --db "$T/db" --list benign --create --kind allow "$U/c.pdq" >/dev/null ||
    bail_out "import failed"
start_daemon || bail_out "scrimd did not start"
AUTH="Authorization: Bearer $REVIEWER"

# 1-6: a match stores a record and says where its preview is.
req --data-binary "@$U/a.jpg" /v1/match > "$T/m1"
check "match answers 200" [ "$(status)" = 200 ]
check "matched" [ "$(json matched < "$T/m1")" = true ]
ID=$(json review.id < "$T/m1")
check "response has review.id" [ ${#ID} = 32 ]
check "response has the preview URL" [ "$(json review.preview < "$T/m1")" = "/v1/review/$ID/preview.jpg" ]
req -H "$AUTH" "/v1/review/$ID" > "$T/r1"
check "GET /v1/review/ID" eval '[ "$(status)" = 200 ] && [ "$(json status < "$T/r1")" = pending ]'
check "record holds matches, hashes, kind, size, level" eval '
    [ "$(json matches.0.list < "$T/r1")" = bad ] && [ "$(json hashes.pdq.0.hash < "$T/r1")" = "$(cat "$U/a.pdq")" ] &&
    [ "$(json kind < "$T/r1")" = image ] && [ "$(json size < "$T/r1")" = "$(wc -c < "$U/a.jpg")" ] &&
    [ "$(json level < "$T/r1")" = standard ]'

# 7-11: the previews: JPEG, grey, <= 256 px, no detail finer than the level.
req -H "$AUTH" "/v1/review/$ID/preview.jpg" > "$T/p.jpg"
check "preview.jpg is 200" [ "$(status)" = 200 ]
check "preview is a JPEG" [ "$(head -c 3 "$T/p.jpg" | od -An -tx1 | tr -d ' ')" = ffd8ff ]
check "preview: grey, <= 256 px, no detail finer than 24 blocks" "$HELPER" --measure 24 "$T/p.jpg"
req -H "$AUTH" "/v1/review/$ID/preview.jpg?level=light" > "$T/pl.jpg"
check "lighter preview: grey, <= 256 px, no detail finer than 48 blocks" \
    sh -c "[ $(status) = 200 ] && '$HELPER' --measure 48 '$T/pl.jpg'"
check "lighter preview differs from the default" sh -c "! cmp -s '$T/p.jpg' '$T/pl.jpg'"

# 12-17: tokens.
req "/v1/review/$ID" >/dev/null
check "no token: 401" [ "$(status)" = 401 ]
req -H "Authorization: Bearer wrong-token-wrong-token" "/v1/review/$ID" >/dev/null
check "wrong token: 403" [ "$(status)" = 403 ]
req -H "Authorization: Bearer $ADMIN" "/v1/review/$ID" >/dev/null
check "admin token works" [ "$(status)" = 200 ]
req "/v1/review/$ID/preview.jpg" >/dev/null
check "preview without token: 401" [ "$(status)" = 401 ]
req -H "Authorization: Bearer $ADMIN" "/v1/lists" >/dev/null
check "reviewer token is not an admin token" sh -c "[ $(status) = 200 ] && \
    curl -s -o /dev/null -w '%{http_code}' --unix-socket '$T/sock' -H '$AUTH' http://x/v1/lists | grep -qx 403"
req -X POST -H "$AUTH" -d '{"decision":"confirm"}' "/v1/review/$ID/decision" >/dev/null
check "POST decision needs the token (and works with it)" [ "$(status)" = 200 ]

# 18-21: paging through pending records.
# Four other uploads of a (a byte after its end: another file, the same
# picture); the same file again would only count on its record.
for i in 1 2 3 4 5; do { cat "$U/a.jpg"; printf '%s' "$i"; } > "$U/a$i.jpg"; done
for i in 1 2 3 4; do req --data-binary "@$U/a$i.jpg" /v1/match > "$T/m-loop$i"; done
ids="" since="" pages=0
while :; do
    req -H "$AUTH" "/v1/review?limit=2${since:+&since=$since}" > "$T/page"
    [ "$(status)" = 200 ] || break
    pages=$((pages + 1))
    for k in 0 1; do
        id=$(json records.$k.id < "$T/page" 2>/dev/null)
        [ -n "$id" ] && [ "$id" != null ] && ids="$ids $id"
    done
    since=$(json next < "$T/page")
    [ "$since" = null ] && break
done
check "paging with limit=2 returns the 4 pending records" [ "$(echo $ids | wc -w)" = 4 ]
check "in 2 pages" [ "$pages" = 2 ]
check "decided record is not pending" sh -c "! echo '$ids' | grep -q $ID"
req -H "$AUTH" "/v1/review?since=0&limit=1000" > "$T/page"
check "since=0 lists all 4" [ "$(json records.# < "$T/page")" = 4 ]

# 22-25: decisions and bad input.
FIRST=$(echo $ids | cut -d' ' -f1)
# (not suppressed: a's picture must still match below; review_loop.t tests
# suppression)
req -H "$AUTH" -d '{"decision":"reject","note":"a cartoon","suppress":false}' "/v1/review/$FIRST/decision" > "$T/d"
check "reject with a note" eval '[ "$(json status < "$T/d")" = rejected ] && [ "$(json decision.note < "$T/d")" = "a cartoon" ] && [ "$(json decision.by < "$T/d")" = reviewer ]'
req -H "$AUTH" -d '{"decision":"maybe"}' "/v1/review/$FIRST/decision" >/dev/null
check "bad decision: 400" [ "$(status)" = 400 ]
req -H "$AUTH" "/v1/review/0123456789abcdef0123456789abcdef" >/dev/null
check "unknown id: 404" [ "$(status)" = 404 ]
req -H "$AUTH" "/v1/review?limit=0" >/dev/null
check "bad limit: 400" [ "$(status)" = 400 ]

# 26-29: per-list level: none means no preview at all; strong has 12 blocks.
req -X PUT -H "$AUTH" -d '{"level":"none"}' /v1/review/lists/hidden >/dev/null
check "setting a list's level needs the admin token" [ "$(status)" = 403 ]
req -X PUT -H "Authorization: Bearer $ADMIN" -d '{"level":"none"}' /v1/review/lists/hidden > "$T/l"
check "admin sets level none" eval '[ "$(status)" = 200 ] && [ "$(json hidden < "$T/l")" = none ]'
req --data-binary "@$U/b.jpg" /v1/match > "$T/m2"
ID2=$(json review.id < "$T/m2")
req -H "$AUTH" "/v1/review/$ID2/preview.jpg" >/dev/null
check "level none: record without preview (404)" eval '[ ${#ID2} = 32 ] && [ "$(json review.preview < "$T/m2")" = null ] && [ "$(status)" = 404 ]'
req -X PUT -H "Authorization: Bearer $ADMIN" -d '{"level":"strong"}' /v1/review/lists/bad >/dev/null
req --data-binary "@$U/a5.jpg" /v1/match > "$T/m3"
req -H "$AUTH" "/v1/review/$(json review.id < "$T/m3")/preview.jpg" > "$T/ps.jpg"
check "level strong: no detail finer than 12 blocks" "$HELPER" --measure 12 "$T/ps.jpg"

# 30-31: no record without a block-list match.
before=$(req -H "$AUTH" "/v1/review?limit=1000" | json records.#)
req --data-binary "@$U/c.jpg" /v1/match > "$T/m4"
after=$(req -H "$AUTH" "/v1/review?limit=1000" | json records.#)
check "an allow-list hit stores no record" eval '[ "$before" -ge 1 ] && [ "$(json matched < "$T/m4")" = false ] && [ "$(json review < "$T/m4")" = null ] && [ "$before" = "$after" ]'
"$HELPER" --make-image "$U/d.jpg"
req --data-binary "@$U/d.jpg" /v1/match > "$T/m5"
check "no match, no review" eval '[ "$(json matched < "$T/m5")" = false ] && [ "$(json review < "$T/m5")" = null ]'

# 32-33: the page.
curl -s --unix-socket "$T/sock" -D "$T/h" -o "$T/page.html" http://x/review
check "GET /review serves the page" grep -q '<title>scrim review</title>' "$T/page.html"
check "the page loads nothing from elsewhere" sh -c "! grep -Eiq '(src|href)=\"(https?:)?//' '$T/page.html'"

# 34: every preview stored in this test (both levels of every record made):
# grey, <= 256 px, no detail finer than its own block count.
bad=0 seen=0
for m in "$T"/m*; do
    id=$(json review.id < "$m")
    [ ${#id} = 32 ] || continue
    req -H "$AUTH" "/v1/review/$id" > "$T/rec"
    for lv in preview lighter; do
        d=$(json $lv.detail < "$T/rec")
        [ "$d" = null ] && continue
        q=; [ $lv = lighter ] && q="?level=light"
        req -H "$AUTH" "/v1/review/$id/preview.jpg$q" > "$T/each.jpg"
        "$HELPER" --measure "$d" "$T/each.jpg" >/dev/null || { bad=$((bad + 1)); diag "$id $lv fails"; }
        seen=$((seen + 1))
    done
done
diag "$seen stored previews measured"
check "every stored preview passes (both levels of each record)" eval '[ $bad = 0 ] && [ $seen -ge 12 ]'
done_testing
