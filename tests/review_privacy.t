#!/bin/sh
# review_privacy.t - after matching (and reviewing), no file under scrimd's
# data directory or /tmp holds the uploaded bytes (whole or any of three
# 64-byte chunks of it) or an unblurred rendering of it (any embedded JPEG or
# PNG whose fine detail correlates with the upload's).  The scan itself is
# checked to catch both.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
plan 6

touch "$T/marker"
make_upload a && make_upload b || bail_out "cannot make uploads"
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null ||
    bail_out "import failed"
start_daemon || bail_out "scrimd did not start"
AUTH="Authorization: Bearer $REVIEWER"
req --data-binary "@$U/a.jpg" /v1/match > "$T/m"
ID=$(json review.id < "$T/m")
check "the upload matched and a review record was stored" [ ${#ID} = 32 ]
# The reviewer's path, previews included (written to $T: they are scanned too).
req -H "$AUTH" "/v1/review/$ID/preview.jpg" > "$T/p.jpg"
req -H "$AUTH" "/v1/review/$ID/preview.jpg?level=light" > "$T/pl.jpg"
req -H "$AUTH" -d '{"decision":"confirm"}' "/v1/review/$ID/decision" >/dev/null
for i in 1 2; do req --data-binary "@$U/a.jpg" /v1/match >/dev/null; done
req --data-binary "@$U/b.jpg" /v1/match > /dev/null   # no match
req --data-binary "@$U/a.jpg" "/v1/hash" > /dev/null
check "previews were served" eval '[ -s "$T/p.jpg" ] && [ -s "$T/pl.jpg" ]'
scrimd_stop

"$HELPER" --privacy "$U/a.jpg" "$T/marker" "$T/db" /tmp > "$T/scan" 2>&1
rc=$?
sed 's/^/# /' "$T/scan" | grep -v '^# # image' | tail -5
check "no upload bytes or unblurred rendering under the data dir or /tmp" [ $rc = 0 ]
check "the scan decoded the previews inside the database and both fetched" \
    sh -c "grep -q '^# image .* of $T/db/side.mdb' '$T/scan' && grep -q '^# image .* of $T/p.jpg' '$T/scan' &&
           grep -q '^# image .* of $T/pl.jpg' '$T/scan'"

# Positive controls: the same scan finds a copy and a thumbnail.
cp "$U/a.jpg" "$T/copy.bin"
"$HELPER" --privacy "$U/a.jpg" "$T/marker" "$T" > "$T/scan2" 2>&1
check "the scan finds a copy of the upload" grep -q "upload bytes found in $T/copy.bin" "$T/scan2"
rm "$T/copy.bin"
"$HELPER" --thumbnail "$U/a.jpg" "$T/thumb.png"
"$HELPER" --privacy "$U/a.jpg" "$T/marker" "$T" > "$T/scan3" 2>&1
check "the scan finds an unblurred thumbnail" grep -q "unblurred rendering .* of $T/thumb.png" "$T/scan3"
done_testing
