#!/bin/sh
# preview_api.t - POST /v1/preview: the blurred preview of any upload,
# matched or not, and nothing stored: a grey JPEG at the level's size, too
# blurred at ?level=strong for its PDQ to match the original's; a video's
# contact sheet; nothing written under the database, no review record; 400
# for a bad level, 401 without a token, 415 for text, 413 over --max-pixels.  A timing line
# (diag only): the daemon's render vs `scrim preview` on the same file.
set -u
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl vipsheader ffmpeg python3
[ -x "$BIN/scrimd" ] && [ -x "$BIN/scrim" ] || skip_all "no $BIN/scrimd and scrim"
temp_dir T
SOCK=$T/sock
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/reviewer"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/admin"
REV="Authorization: Bearer $(cat "$T/reviewer")"

# An image with detail (no list holds it: it matches nothing), and a video.
ff -f lavfi -i "testsrc2=size=640x480:rate=1" -frames:v 1 "$T/img.png"
ff -f lavfi -i "testsrc2=size=320x240:rate=10:duration=4" -c:v libx264 \
    -preset ultrafast -pix_fmt yuv420p "$T/vid.mp4"
[ -s "$T/img.png" ] && [ -s "$T/vid.mp4" ] || bail_out "ffmpeg made no media"

scrimd_start --db "$T/db" --listen none --reviewer-token-file "$T/reviewer" \
    --admin-token-file "$T/admin" || bail_out "scrimd did not start"

# what is on disk: every name and size, and the data files' contents (the
# lock files' reader slots change with any read, so only their names)
db_state() {
    (cd "$T/db" && find . -printf '%p %s\n' | sort &&
        find . -name '*.mdb' ! -name '*lock*' -exec md5sum {} + | sort)
}
db_state >"$T/before"

http POST /v1/match -H "$REV" --data-binary @"$T/img.png"
is "$(pyjson 'o["matched"]' "$T/out")" False "the image matches nothing"

# PDQ of a file: the first field of `scrim hash`
pdq() { "$BIN/scrim" hash "$1" | cut -d, -f1; }
dist() { python3 -c 'import sys; print(bin(int(sys.argv[1], 16) ^ int(sys.argv[2], 16)).count("1"))' "$1" "$2"; }
ORIG=$(pdq "$T/img.png")

# the default level: standard (24 blocks, 256 px: longest side 24 x 10)
code=$(scrimd_curl -D "$T/head" -o "$T/std.jpg" -w '%{http_code}' -H "$REV" \
    --data-binary @"$T/img.png" http://x/v1/preview)
is "$code" 200 "an unmatched image gets a preview"
like "$(grep -i '^content-type' "$T/head")" 'image/jpeg' "as a JPEG"
is "$(vipsheader -f bands "$T/std.jpg")" 1 "one band: grey"
W=$(vipsheader -f width "$T/std.jpg") H=$(vipsheader -f height "$T/std.jpg")
is "$W" 240 "longest side: 24 blocks x floor(256 / 24) px at standard"
is "$H" 180 "the other side in proportion"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Width: $W" "X-Preview-Width"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Height: $H" "X-Preview-Height"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Level: standard" "X-Preview-Level"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Kind: image" "X-Preview-Kind"
diag "PDQ distance preview/original at standard: $(dist "$ORIG" "$(pdq "$T/std.jpg")")"

# strong: too blurred for the PDQ to match the original at radius 31
code=$(scrimd_curl -o "$T/strong.jpg" -w '%{http_code}' -H "$REV" \
    --data-binary @"$T/img.png" 'http://x/v1/preview?level=strong')
is "$code" 200 "?level=strong"
is "$(vipsheader -f width "$T/strong.jpg")" 252 "12 blocks x 21 px"
D=$(dist "$ORIG" "$(pdq "$T/strong.jpg")")
check "strong preview's PDQ is far from the original's ($D > 31)" test "$D" -gt 31

# the lighter level and explicit numbers
code=$(scrimd_curl -D "$T/head" -o "$T/lt.jpg" -w '%{http_code}' -H "$REV" \
    --data-binary @"$T/img.png" 'http://x/v1/preview?level=strong&lighter=1')
is "$code" 200 "?lighter=1"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Level: standard" "lighter than strong: 24 blocks"
code=$(scrimd_curl -o "$T/n.jpg" -w '%{http_code}' -H "$REV" \
    --data-binary @"$T/img.png" 'http://x/v1/preview?level=detail=8,size=64')
is "$code:$(vipsheader -f width "$T/n.jpg")" 200:64 "?level=detail=8,size=64"

# a video: its contact sheet
code=$(scrimd_curl -D "$T/head" -o "$T/sheet.jpg" -w '%{http_code}' -H "$REV" \
    --data-binary @"$T/vid.mp4" http://x/v1/preview)
is "$code" 200 "a video gets a contact sheet"
like "$(tr -d '\r' <"$T/head")" "X-Preview-Kind: video" "kind video"
is "$(vipsheader -f bands "$T/sheet.jpg")" 1 "the sheet is grey"
SW=$(vipsheader -f width "$T/sheet.jpg") SH=$(vipsheader -f height "$T/sheet.jpg")
check "the sheet's longest side is within 256 (${SW}x$SH)" \
    test "$SW" -le 256 -a "$SH" -le 256 -a "$SW" -gt 64

# errors
http POST '/v1/preview?level=none' -H "$REV" --data-binary @"$T/img.png"
is "$code:$(pyjson 'o["error"]["code"]' "$T/out")" 400:bad_request "level none: 400"
http POST '/v1/preview?level=blurry' -H "$REV" --data-binary @"$T/img.png"
is "$code" 400 "an unknown level: 400"
http POST '/v1/preview?lighter=2' -H "$REV" --data-binary @"$T/img.png"
is "$code" 400 "?lighter=2: 400"
http POST /v1/preview --data-binary @"$T/img.png"
is "$code:$(pyjson 'o["error"]["code"]' "$T/out")" 401:unauthorized "no token: 401"
http POST /v1/preview -H "Authorization: Bearer wrong-token-0123456789" \
    --data-binary @"$T/img.png"
is "$code" 403 "a wrong token: 403"
http POST /v1/preview -H "$REV" --data-binary @"$FIX/not-an-image.txt"
is "$code:$(pyjson 'o["error"]["code"]' "$T/out")" 415:unsupported "text: 415"
huge_png "$T/huge.png"
http POST /v1/preview -H "$REV" --data-binary @"$T/huge.png"
is "$code:$(pyjson 'o["error"]["code"]' "$T/out")" 413:too_large "over --max-pixels: 413"

# nothing stored
http GET /v1/review -H "$REV"
is "$code:$(pyjson 'len(o["records"])' "$T/out")" 200:0 "no review record"
db_state >"$T/after"
check "nothing written under the database directory" diff "$T/before" "$T/after"

# timing (not asserted): the daemon's time for the call (its log's "ms")
# against `scrim preview` (a process each: read, decode, render, write)
N=10 i=0
while [ $i -lt $N ]; do
    scrimd_curl -o /dev/null -H "$REV" --data-binary @"$T/img.png" http://x/v1/preview
    i=$((i + 1))
done
t0=$(date +%s%N) i=0
while [ $i -lt $N ]; do
    "$BIN/scrim" preview "$T/img.png" "$T/cli.jpg"
    i=$((i + 1))
done
t1=$(date +%s%N)
cmp -s "$T/cli.jpg" "$T/std.jpg"
ok $? "scrim preview makes the same bytes as the daemon"
diag "$(tail -n $N "$T/log" | python3 -c '
import json, sys
ms = sorted(json.loads(l)["ms"] for l in sys.stdin)
print("640x480 PNG, standard: /v1/preview median %.1f ms in scrimd (min %.1f), "
      % (ms[len(ms) // 2], ms[0]), end="")
')scrim preview $(( (t1 - t0) / N / 1000000 )) ms a process"

scrimd_stop
done_testing
