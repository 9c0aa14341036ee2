#!/bin/sh
# review_video.t - a video matching a video list through scrimd stores a
# review record whose preview is a contact sheet (grey, <= 256 px), and
# neither the video's bytes (audio track included) nor an unblurred frame
# end up under the data directory or /tmp.  Skipped until scrimd matches
# videos, or without ffmpeg.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
need_tools ffmpeg
review_setup
touch "$T/marker"
ff -f lavfi -i testsrc2=size=320x240:rate=10:duration=6 \
    -f lavfi -i sine=frequency=300:duration=6 -c:v mpeg4 -q:v 3 -c:a flac \
    "$U/v.mkv" || bail_out "ffmpeg failed"
"$BIN/scrim" hash "$U/v.mkv" > "$U/v.vpdq" &&
"$BIN/scrim" import --db "$T/db" --list videos --create --format vpdq "$U/v.vpdq" >/dev/null ||
    bail_out "cannot import the video's hashes"
start_daemon || bail_out "scrimd did not start"
req --data-binary "@$U/v.mkv" /v1/match > "$T/m"
[ "$(status)" = 415 ] && skip_all "scrimd does not match videos yet"
plan 7
AUTH="Authorization: Bearer $REVIEWER"
ID=$(json review.id < "$T/m")
check "a matched video gets a review record" eval '[ "$(json matched < "$T/m")" = true ] && [ ${#ID} = 32 ]'
req -H "$AUTH" "/v1/review/$ID" > "$T/r"
check "the record is of a video" eval '[ "$(json kind < "$T/r")" = video ] && [ "$(json size < "$T/r")" = "$(wc -c < "$U/v.mkv")" ]'
check "the sheet shows the matched times and fills up to 4 frames" \
    eval '[ "$(json preview.frames.# < "$T/r")" -ge 4 ] && [ "$(json preview.frames.0.matched < "$T/r")" = true ]'
req -H "$AUTH" "/v1/review/$ID/preview.jpg" > "$T/s.jpg"
"$HELPER" --measure 24 "$T/s.jpg" > "$T/meas"
check "the contact sheet is a grey JPEG <= 256 px" \
    awk '{ exit !($3 <= 256 && $4 <= 256 && $5 == 1) }' "$T/meas"
req -H "$AUTH" "/v1/review/$ID/preview.jpg?level=light" > "$T/sl.jpg"
check "and has a lighter level" sh -c "[ $(status) = 200 ] && ! cmp -s '$T/s.jpg' '$T/sl.jpg'"
scrimd_stop
"$HELPER" --privacy "$U/v.mkv" "$T/marker" "$T/db" /tmp > "$T/scan" 2>&1
check "no part of the video's bytes under the data dir or /tmp" [ $? = 0 ]
# The audio is never decoded: the record holds the matches and two sheets.
check "the record keeps no audio" sh -c "! grep -qi 'audio\\|flac' '$T/r'"
done_testing
