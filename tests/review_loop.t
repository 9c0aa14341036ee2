#!/bin/sh
# review_loop.t - the false-match loop and the queue through scrimd and the
# CLI: a reject suppresses the upload (NAME.suppressed: the same picture is
# "allowed" next time, another near the same entry still matches); an entry
# rejected N times is quarantined (no match, dihedral variants too), audited,
# restored or removed by an admin in one call; per-entry counts; the queue's
# count, filter, order and paging; a second decision kept as a change.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
need_tools vips python3 curl ffmpeg
review_setup
plan 72

FIX=$PWD/tests/fixtures
pdq() { "$BIN/scrim" hash "$1" | cut -d, -f1; }
dist() { python3 -c 'import sys; print(bin(int(sys.argv[1], 16) ^ int(sys.argv[2], 16)).count("1"))' "$1" "$2"; }
reviewer() { req -H "Authorization: Bearer $REVIEWER" "$@"; }
admin() { req -H "Authorization: Bearer $ADMIN" "$@"; }
decide() { # ID JSON [TOKEN]
    req -X POST -H "Authorization: Bearer ${3:-$REVIEWER}" -d "$2" "/v1/review/$1/decision"
}
match() { req --data-binary "@$1" /v1/match; }
# copy N of a file: another upload (other bytes), the same picture
copy() { { cat "$1"; printf '%s' "$2"; } > "$3"; }

# The suppression pair: a and b (a with a small black square) are near each
# other but further apart than a suppression list's radius (16); the entry
# E lies between them, within the list radius (31) of both.
cp "$FIX/blobs.jpg" "$U/a.jpg"
vips black "$U/sq.v" 20 20 --bands 3 && vips insert "$U/a.jpg" "$U/sq.v" "$U/b.png" 0 0 ||
    bail_out "vips failed"
PA=$(pdq "$U/a.jpg") PB=$(pdq "$U/b.png")
E=$(python3 -c 'import sys
a, b = int(sys.argv[1], 16), int(sys.argv[2], 16)
d, e, k = a ^ b, a, 0
for i in range(256):
    if d >> i & 1 and k < bin(d).count("1") // 2:
        e ^= 1 << i; k += 1
print("%064x" % e)' "$PA" "$PB")
diag "d(a,b)=$(dist "$PA" "$PB") d(a,E)=$(dist "$PA" "$E") d(b,E)=$(dist "$PB" "$E")"
[ "$(dist "$PA" "$PB")" -gt 16 ] && [ "$(dist "$PA" "$E")" -le 31 ] &&
    [ "$(dist "$PB" "$E")" -le 31 ] || bail_out "the image pair does not fit"
echo "$E" > "$U/mid.pdq"

# c: smooth random shapes, whose PDQ survives a rotation (the dihedral
# variants find it); d and e: unique images
vips gaussnoise "$U/n.v" 40 30 --mean 128 --sigma 60 &&
    vips resize "$U/n.v" "$U/c.jpg" 10 --kernel linear && pdq "$U/c.jpg" > "$U/c.pdq" &&
    make_upload d && make_upload e || bail_out "cannot make uploads"
vips rot "$U/c.jpg" "$U/c-rot.png" d90 || bail_out "vips rot failed"
for i in 1 2 3 4 5 6 7; do copy "$U/c.jpg" "$i" "$U/c$i.jpg"; done
ff -f lavfi -i testsrc2=size=320x240:rate=10:duration=4 -c:v mpeg4 -q:v 3 "$U/v.mkv" &&
    "$BIN/scrim" hash "$U/v.mkv" > "$U/v.vpdq" &&
    "$BIN/scrim" import --db "$T/db" --list vids --create --format vpdq "$U/v.vpdq" >/dev/null ||
    bail_out "cannot make the video"
for i in 1 2; do copy "$U/v.mkv" "$i" "$U/v$i.mkv"; done
for l in bad:mid q:c qa:d qb:e; do
    "$BIN/scrim" import --db "$T/db" --list "${l%%:*}" --create "$U/${l#*:}.pdq" >/dev/null ||
        bail_out "import failed"
done
start_daemon --quarantine-after 3 || bail_out "scrimd did not start"

# ---- 1-10: suppress on reject ---------------------------------------------------
match "$U/a.jpg" > "$T/m"
check "a matches list bad" eval '[ "$(json matched < "$T/m")" = true ] &&
    [ "$(json matches.0.list < "$T/m")" = bad ]'
A=$(json review.id < "$T/m")
decide "$A" '{"decision":"reject","note":"a drawing"}' > "$T/d"
check "reject: 200, suppressed in bad.suppressed (the default)" eval '[ "$(status)" = 200 ] &&
    [ "$(json feedback.suppressed.0.list < "$T/d")" = bad.suppressed ] &&
    [ "$(json feedback.suppressed.0.pdq < "$T/d")" = "$PA" ]'
admin /v1/lists/bad.suppressed > "$T/l"
check "bad.suppressed: an allow list, radius 16" eval '[ "$(status)" = 200 ] &&
    [ "$(json kind < "$T/l")" = allow ] && [ "$(json radius < "$T/l")" = 16 ]'
copy "$U/a.jpg" x "$U/a2.jpg"
match "$U/a2.jpg" > "$T/m"
check "the same picture again: not matched" eval '[ "$(json matched < "$T/m")" = false ] &&
    [ "$(json matches.# < "$T/m")" = 0 ]'
check "... reported under allowed: bad (suppressed_by) and bad.suppressed" eval '
    grep -q "\"suppressed_by\":\"bad.suppressed\"" "$T/m" &&
    [ "$(json allowed.# < "$T/m")" = 2 ]'
check "... and no review record made" [ "$(json review < "$T/m")" = null ]
"$BIN/scrim" match --db "$T/db" "$U/a2.jpg" > "$T/cm"
check "scrim match says the same" eval '[ "$(json matched < "$T/cm")" = false ] &&
    [ "$(json allowed.# < "$T/cm")" = 2 ]'
match "$U/b.png" > "$T/m"
check "another upload near the same entry still matches" eval '
    [ "$(json matched < "$T/m")" = true ] && [ "$(json matches.0.list < "$T/m")" = bad ]'
B=$(json review.id < "$T/m")
req --data-binary "@$U/a2.jpg" "/v1/match?lists=bad" > "$T/m"
check "a lookup limited to bad looks in bad.suppressed too" \
    [ "$(json matched < "$T/m")" = false ]
decide "$A" '{"decision":"confirm"}' "$ADMIN" > "$T/d"
match "$U/a2.jpg" > "$T/m"
check "changed to confirm: unsuppressed, the picture matches again" eval '
    [ "$(json feedback.unsuppressed.0.list < "$T/d")" = bad.suppressed ] &&
    [ "$(json matched < "$T/m")" = true ]'
A2=$(json review.id < "$T/m")

# ---- 11-14: a second decision is kept as a change ---------------------------------
check "the decision names the one it replaces" eval '
    [ "$(json decision.by < "$T/d")" = admin ] &&
    [ "$(json decision.replaces.by < "$T/d")" = reviewer ] &&
    [ "$(json decision.replaces.decision < "$T/d")" = reject ]'
check "the earlier decision is in history, with its note" eval '
    [ "$(json history.# < "$T/d")" = 1 ] && [ "$(json history.0.by < "$T/d")" = reviewer ] &&
    [ "$(json history.0.note < "$T/d")" = "a drawing" ]'
check "both times kept" python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["decision"]["time"] >= r["history"][0]["time"] > 0
assert r["decision"]["replaces"]["time"] == r["history"][0]["time"]' "$T/d"
reviewer "/v1/review/stats?list=bad" > "$T/s"
check "stats: the count moved from rejected to confirmed" eval '
    [ "$(json entries.# < "$T/s")" = 1 ] && [ "$(json entries.0.hash < "$T/s")" = "$E" ] &&
    [ "$(json entries.0.confirmed < "$T/s")" = 1 ] && [ "$(json entries.0.rejected < "$T/s")" = 0 ]'

# ---- 15-37: quarantine after 3 rejects ------------------------------------------------
match "$U/c-rot.png" > "$T/m"
check "before: c rotated matches q (a dihedral variant)" eval '
    [ "$(json matched < "$T/m")" = true ] && [ "$(json matches.0.variant < "$T/m")" != null ]'
CROT=$(json review.id < "$T/m")
for i in 1 2 3; do
    match "$U/c$i.jpg" > "$T/m$i"
    decide "$(json review.id < "$T/m$i")" '{"decision":"reject","suppress":false}' > "$T/d$i"
done
check "suppress:false: nothing suppressed" eval '[ "$(json feedback.suppressed.# < "$T/d1")" = 0 ] &&
    [ "$(json feedback.quarantined.# < "$T/d2")" = 0 ]'
check "the third reject quarantines the entry" eval '
    [ "$(json feedback.quarantined.0.list < "$T/d3")" = q ] &&
    [ "$(json feedback.quarantined.0.hash < "$T/d3")" = "$(cat "$U/c.pdq")" ] &&
    [ "$(json feedback.quarantined.0.rejected < "$T/d3")" = 3 ]'
match "$U/c4.jpg" > "$T/m"
check "quarantined: no match, not allowed either" eval '[ "$(json matched < "$T/m")" = false ] &&
    [ "$(json allowed.# < "$T/m")" = 0 ]'
match "$U/c-rot.png" > "$T/m"
check "... nor through a dihedral variant" [ "$(json matched < "$T/m")" = false ]
"$BIN/scrim" match --db "$T/db" "$U/c4.jpg" > "$T/cm"
check "... nor in scrim match" [ "$(json matched < "$T/cm")" = false ]
"$BIN/scrim" lookup --db "$T/db" "$(cat "$U/c.pdq")" > "$T/lk" 2>&1
check "... nor in scrim lookup" sh -c "! grep -q '\"list\":\"q\"' '$T/lk'"
reviewer /v1/review/quarantine > "$T/q"
check "GET /v1/review/quarantine lists it, by whom" eval '[ "$(status)" = 200 ] &&
    [ "$(json entries.# < "$T/q")" = 1 ] && [ "$(json entries.0.list < "$T/q")" = q ] &&
    [ "$(json entries.0.by < "$T/q")" = reviewer ]'
"$BIN/scrim" audit --db "$T/db" --json > "$T/audit"
check "audited: quarantine of q's entry by reviewer" \
    grep -q "\"action\":\"quarantine\",\"list\":\"q\".*pdq $(cat "$U/c.pdq") by reviewer" "$T/audit"
req /metrics > "$T/metrics"
check "/metrics: scrim_quarantined_entries 1, scrim_review_quarantined_total 1" eval '
    grep -qx "scrim_quarantined_entries 1" "$T/metrics" &&
    grep -qx "scrim_review_quarantined_total 1" "$T/metrics"'
reviewer "/v1/review/stats?list=q" > "$T/s"
check "stats: rejected 3, quarantined" eval '[ "$(json entries.0.rejected < "$T/s")" = 3 ] &&
    [ "$(json entries.0.quarantined < "$T/s")" = true ]'
"$BIN/scrim" review stats --db "$T/db" --list q > "$T/cs"
check "scrim review stats" grep -qx "q pdq:$(cat "$U/c.pdq") confirmed=0 rejected=3 quarantined" "$T/cs"
RESTORE="{\"action\":\"restore\",\"list\":\"q\",\"type\":\"pdq\",\"hash\":\"$(cat "$U/c.pdq")\"}"
reviewer -X POST -d "$RESTORE" /v1/review/quarantine >/dev/null
check "a reviewer cannot restore: 403" [ "$(status)" = 403 ]
admin -X POST -d '{"action":"restore","list":"q"}' /v1/review/quarantine > "$T/x"
check "restore without an entry: 400, says what is expected" eval '[ "$(status)" = 400 ] &&
    grep -q "expected a JSON body" "$T/x"'
admin -X POST -d "{\"action\":\"restore\",\"list\":\"q\",\"type\":\"pdq\",\"hash\":\"$PA\"}" /v1/review/quarantine > "$T/x"
check "restore of an entry q does not have: 404" [ "$(status)" = 404 ]
admin -X POST -d "{\"action\":\"restore\",\"list\":\"q\",\"type\":\"jpeg\",\"hash\":\"00\"}" /v1/review/quarantine > "$T/x"
check "restore with a bad type: 400, naming the types" eval '[ "$(status)" = 400 ] &&
    grep -q "pdq, md5, sha256, video" "$T/x"'
reviewer "/v1/review/stats?list=a/b" > "$T/x"
check "stats of a bad list name: 400" eval '[ "$(status)" = 400 ] && grep -q "bad list name" "$T/x"'
admin -X POST -d "$RESTORE" /v1/review/quarantine > "$T/x"
check "the admin restores it in one call" eval '[ "$(status)" = 200 ] &&
    [ "$(json changed < "$T/x")" = true ]'
match "$U/c5.jpg" > "$T/m"
check "restored: it matches again" [ "$(json matched < "$T/m")" = true ]
C5=$(json review.id < "$T/m")
"$BIN/scrim" audit --db "$T/db" --json > "$T/audit"
check "audited: restore by admin" grep -q "\"action\":\"restore\",\"list\":\"q\".*by admin" "$T/audit"
req /metrics > "$T/metrics"
check "/metrics: scrim_quarantined_entries 0" grep -qx "scrim_quarantined_entries 0" "$T/metrics"
decide "$C5" '{"decision":"reject","suppress":false}' > "$T/d"
check "one reject after a restore does not quarantine again" \
    [ "$(json feedback.quarantined.# < "$T/d")" = 0 ]
match "$U/c6.jpg" > "$T/m"
C6=$(json review.id < "$T/m")
"$BIN/scrim" review decide --db "$T/db" --by alice --no-suppress --quarantine-after 2 \
    "$C6" reject > "$T/cd"
check "scrim review decide: quarantined by alice (threshold 2)" \
    grep -qx "quarantined q pdq:$(cat "$U/c.pdq")" "$T/cd"
"$BIN/scrim" review quarantined --db "$T/db" > "$T/cq"
check "scrim review quarantined" grep -q "^q pdq:$(cat "$U/c.pdq") by alice: 2 matches rejected" "$T/cq"
admin -X POST -d "$(echo "$RESTORE" | sed 's/restore/remove/')" /v1/review/quarantine > "$T/x"
check "the admin removes it in one call" eval '[ "$(status)" = 200 ] &&
    [ "$(json action < "$T/x")" = remove ]'
admin /v1/lists/q > "$T/l"
check "q has no PDQ left" [ "$(json counts.pdq < "$T/l")" = 0 ]
"$BIN/scrim" audit --db "$T/db" --json > "$T/audit"
check "audited: removal by admin" eval '
    grep -q "\"action\":\"remove\",\"list\":\"q\",\"count\":1" "$T/audit" &&
    grep -q "\"action\":\"unquarantine-remove\",\"list\":\"q\".*by admin" "$T/audit"'
match "$U/c7.jpg" > "$T/m"
check "removed: no match" [ "$(json matched < "$T/m")" = false ]
reviewer /v1/review/quarantine > "$T/q"
check "nothing quarantined any more" [ "$(json entries.# < "$T/q")" = 0 ]

# ---- 38-55: the queue: count, filter, order, paging ---------------------------------
# Pending now: b's and a2's records (bad), c rotated's (q); then d1 e1 d2 e2 d3.
for f in d1 e1 d2 e2 d3; do
    copy "$U/${f%?}.jpg" "${f#?}" "$U/$f.jpg"
    match "$U/$f.jpg" > "$T/m"
    eval "ID_$f=\$(json review.id < '$T/m')"
done
ids() { python3 -c 'import json, sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["records"]))'; }
reviewer "/v1/review?list=qa" > "$T/p"
check "filter by list: qa's three, oldest first" eval '[ "$(status)" = 200 ] &&
    [ "$(ids < "$T/p")" = "$ID_d1 $ID_d2 $ID_d3" ]'
check "... pending 3" [ "$(json pending < "$T/p")" = 3 ]
reviewer "/v1/review?list=qa&order=newest" > "$T/p"
check "newest first" [ "$(ids < "$T/p")" = "$ID_d3 $ID_d2 $ID_d1" ]
reviewer "/v1/review?list=qa&order=newest&limit=2" > "$T/p"
check "paging newest, limit 2: first page and its cursor" eval '
    [ "$(ids < "$T/p")" = "$ID_d3 $ID_d2" ] && [ "$(json next < "$T/p")" = "$ID_d2" ] &&
    [ "$(json pending < "$T/p")" = 3 ]'
reviewer "/v1/review?list=qa&order=newest&limit=2&cursor=$ID_d2" > "$T/p"
check "second page: the last, no cursor" eval '[ "$(ids < "$T/p")" = "$ID_d1" ] &&
    [ "$(json next < "$T/p")" = null ] && [ "$(json pending < "$T/p")" = 3 ]'
all="" cursor="" pages=0
while [ $pages -lt 10 ]; do
    reviewer "/v1/review?limit=3${cursor:+&cursor=$cursor}" > "$T/p"
    [ "$(status)" = 200 ] || break
    pages=$((pages + 1))
    all="$all $(ids < "$T/p")"
    cursor=$(json next < "$T/p")
    [ "$cursor" = null ] && break
done
check "the whole queue, oldest first, in pages of 3" \
    [ "$(echo $all)" = "$B $A2 $CROT $ID_d1 $ID_e1 $ID_d2 $ID_e2 $ID_d3" ]
check "... in 3 pages, pending 8" eval '[ $pages = 3 ] && [ "$(json pending < "$T/p")" = 8 ]'
reviewer "/v1/review?order=newest&limit=1000" > "$T/p"
check "the whole queue newest first" \
    [ "$(ids < "$T/p")" = "$ID_d3 $ID_e2 $ID_d2 $ID_e1 $ID_d1 $CROT $A2 $B" ]
reviewer "/v1/review?list=qa&since=$ID_d1" > "$T/p"
check "since a record: the ones after it" eval '[ "$(ids < "$T/p")" = "$ID_d2 $ID_d3" ] &&
    [ "$(json pending < "$T/p")" = 2 ]'
"$BIN/scrim" review list --db "$T/db" --list qb --newest > "$T/cl"
check "scrim review list --list qb --newest" eval '
    [ "$(cut -d" " -f1 "$T/cl" | head -2 | tr "\n" " ")" = "$ID_e2 $ID_e1 " ] &&
    grep -qx "# pending 2" "$T/cl" && ! grep -q "# next" "$T/cl"'
"$BIN/scrim" review list --db "$T/db" --limit 2 --json > "$T/cl"
check "scrim review list --json pages as the API" eval '[ "$(ids < "$T/cl")" = "$B $A2" ] &&
    [ "$(json next < "$T/cl")" = "$A2" ] && [ "$(json pending < "$T/cl")" = 8 ]'
reviewer "/v1/review?order=sideways" > "$T/x"
check "bad order: 400" eval '[ "$(status)" = 400 ] && grep -q "order" "$T/x"'
reviewer "/v1/review?cursor=xyz" > "$T/x"
check "bad cursor: 400" eval '[ "$(status)" = 400 ] && grep -q "cursor" "$T/x"'
reviewer "/v1/review?list=no/such" > "$T/x"
check "bad list name: 400" [ "$(status)" = 400 ]
decide "$ID_d1" '{"decision":"confirm"}' > /dev/null
decide "$ID_d1" '{"decision":"reject","suppress":false}' "$ADMIN" > "$T/d"
reviewer "/v1/review?list=qa" > "$T/p"
check "decided records leave the queue" eval '[ "$(json pending < "$T/p")" = 2 ] &&
    [ "$(ids < "$T/p")" = "$ID_d2 $ID_d3" ]'
check "confirm by reviewer, then reject by admin: both kept" eval '
    [ "$(json decision.by < "$T/d")" = admin ] && [ "$(json decision.decision < "$T/d")" = reject ] &&
    [ "$(json history.0.by < "$T/d")" = reviewer ] && [ "$(json history.0.decision < "$T/d")" = confirm ]'
reviewer "/v1/review/stats?list=qa" > "$T/s"
check "stats follow the change" eval '[ "$(json entries.0.confirmed < "$T/s")" = 0 ] &&
    [ "$(json entries.0.rejected < "$T/s")" = 1 ]'
decide "$ID_d2" '{"decision":"reject","suppress":"yes"}' > "$T/x"
check "suppress must be a boolean: 400" [ "$(status)" = 400 ]
check "scrimd still up" sh -c "kill -0 $PID"
check "scrim review with a bad subcommand: usage, status 2" sh -c \
    "'$BIN/scrim' review frobnicate --db '$T/db' 2>/dev/null; [ \$? = 2 ]"
check "scrim review restore of a bad entry: status 2" sh -c \
    "'$BIN/scrim' review restore --db '$T/db' q bogus:xx 2>/dev/null; [ \$? = 2 ]"
# ---- 63-68: videos: suppressed by their SHA-256, quarantined by their id ----------
match "$U/v.mkv" > "$T/m"
decide "$(json review.id < "$T/m")" '{"decision":"reject"}' > "$T/d"
check "a video's reject suppresses its SHA-256" eval '[ "$(json matches.0.type < "$T/m")" = video ] &&
    [ "$(json feedback.suppressed.0.list < "$T/d")" = vids.suppressed ] &&
    [ "$(json feedback.suppressed.0.pdq < "$T/d")" = null ]'
copy "$U/v.mkv" "" "$U/v0.mkv"
match "$U/v0.mkv" > "$T/m"
check "the same video again: allowed, not matched" eval '[ "$(json matched < "$T/m")" = false ] &&
    grep -q "\"suppressed_by\":\"vids.suppressed\"" "$T/m"'
match "$U/v1.mkv" > "$T/m"
check "another file of it still matches" [ "$(json matched < "$T/m")" = true ]
"$BIN/scrim" review decide --db "$T/db" --by bob --quarantine-after 2 --no-suppress \
    "$(json review.id < "$T/m")" reject > "$T/cd"
check "two rejects quarantine the video entry, by its id" grep -qx "quarantined vids video:.*" "$T/cd"
match "$U/v2.mkv" > "$T/m"
check "a quarantined video entry matches nothing" eval '[ "$(json matched < "$T/m")" = false ] &&
    [ "$(json allowed.# < "$T/m")" = 0 ]'
"$BIN/scrim" import --db "$T/db" --list qb.suppressed --create "$U/d.pdq" >/dev/null
decide "$ID_e1" '{"decision":"reject"}' > "$T/d"
check "never suppressed into a block list of that name (the decision stands)" eval '
    [ "$(status)" = 200 ] && [ "$(json status < "$T/d")" = rejected ] &&
    [ "$(json feedback.suppressed.# < "$T/d")" = 0 ] &&
    grep -q "qb.suppressed is a block list" "$T/d"'
scrimd_stop
check "scrimd exits 0" [ $? = 0 ]
no_sanitizer_reports "$T/stderr"
done_testing
