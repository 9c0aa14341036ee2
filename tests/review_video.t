#!/bin/sh
# review_video.t - a video matching a video list through scrimd stores a
# review record whose preview is a contact sheet (grey, <= 256 px), and
# neither the video's bytes (audio track included) nor an unblurred frame
# end up under the data directory or /tmp.  Skipped until scrimd matches
# videos, or without ffmpeg.
. "$(dirname "$0")/review_lib.sh"
command -v ffmpeg >/dev/null 2>&1 || skip_all "ffmpeg is not installed"
review_setup
touch "$T/marker"
ffmpeg -loglevel error -f lavfi -i testsrc2=size=320x240:rate=10:duration=6 \
    -f lavfi -i sine=frequency=300:duration=6 -c:v mpeg4 -q:v 3 -c:a flac \
    -y "$U/v.mkv" || { echo "Bail out! ffmpeg failed"; exit 1; }
"$BIN/scrim" hash "$U/v.mkv" > "$U/v.vpdq" &&
"$BIN/scrim" import --db "$T/db" --list videos --create --format vpdq "$U/v.vpdq" >/dev/null ||
    { echo "Bail out! cannot import the video's hashes"; exit 1; }
start_daemon || { echo "Bail out! scrimd did not start"; exit 1; }
req --data-binary "@$U/v.mkv" /v1/match > "$T/m"
[ "$(status)" = 415 ] && skip_all "scrimd does not match videos yet"
echo "1..7"
AUTH="Authorization: Bearer $REVIEWER"
ID=$(json review.id < "$T/m")
check "a matched video gets a review record" eval '[ "$(json matched < "$T/m")" = true ] && [ ${#ID} = 32 ]'
req -H "$AUTH" "/v1/review/$ID" > "$T/r"
check "the record is of a video" eval '[ "$(json kind < "$T/r")" = video ] && [ "$(json size < "$T/r")" = "$(wc -c < "$U/v.mkv")" ]'
check "the sheet shows the matched times and fills up to 4 frames" \
    [ "$(json preview.frames.# < "$T/r")" -ge 4 ] && [ "$(json preview.frames.0.matched < "$T/r")" = true ]
req -H "$AUTH" "/v1/review/$ID/preview.jpg" > "$T/s.jpg"
"$HELPER" --measure 24 "$T/s.jpg" > "$T/meas"
check "the contact sheet is a grey JPEG <= 256 px" \
    awk '{ exit !($3 <= 256 && $4 <= 256 && $5 == 1) }' "$T/meas"
req -H "$AUTH" "/v1/review/$ID/preview.jpg?level=light" > "$T/sl.jpg"
check "and has a lighter level" sh -c "[ $(status) = 200 ] && ! cmp -s '$T/s.jpg' '$T/sl.jpg'"
stop_daemon
"$HELPER" --privacy "$U/v.mkv" "$T/marker" "$T/db" /tmp > "$T/scan" 2>&1
check "no part of the video's bytes under the data dir or /tmp" [ $? = 0 ]
# The audio is never decoded: the record holds the matches and two sheets.
check "the record keeps no audio" sh -c "! grep -qi 'audio\\|flac' '$T/r'"
exit $failed
