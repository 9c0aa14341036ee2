#!/bin/sh
# corpus.sh - a malformed-media and malformed-request corpus the project has
# never seen, sent to scrimd; every answer checked (issue 21).
#
# The corpus (bench/corpus.py make, deterministic) starts from files of other
# Debian packages found on this machine (icons, documentation images,
# Python's and Rust's test images: DIR/originals.txt), formats made from them
# with libvips (progressive JPEG, 16-bit and interlaced PNG, TIFF, WebP,
# HEIC, AVIF, JPEG 2000, JPEG XL) and clips from ffmpeg's own test sources
# (H.264, HEVC, VP9, AV1, MJPEG, MPEG-2 TS, Theora, ProRes, GIF).  Each is
# sent whole, mutated by zzuf (4 ratios x 2 seeds), cut (16 bytes, 25, 50,
# 90%, all but the last byte) and under another format's magic; besides:
# decompression and dimension bombs (PNG, GIF, JPEG, progressive JPEG of
# 100M coefficients, 300-fold repeated progressive scans, TIFF directory
# loops and 2000 pages, WebP canvases and 1000-frame animations, SVG entity
# expansion), clips whose headers lie (sizes, frame counts, time scales),
# random bytes, and bad requests: 135 /v1/lookup query strings, 22 POST
# /v1/lookup bodies, 12 /v1/compare bodies, 40 bad hash files for the admin
# import.  Every media item goes to POST /v1/match and POST /v1/preview
# (every 10th also to the admin's POST /v1/lists/NAME/media).
#
# Checks: scrimd never dies (its pid after each request), no answer later
# than --request-timeout + 5 s, every answer is 200 (JSON, or a JPEG for a
# preview), or a 4xx/503/504 with a JSON {"error": {"code"}}, or a closed
# connection.  Prints the answers by route, status and error code; exits 1
# on any problem.
#
# usage: bench/corpus.sh [-d DIR] [-t REQUEST_TIMEOUT]   (SCRIMD=path to test
#        another build, e.g. build/san/bin/scrimd)
set -u
B=$(cd "$(dirname "$0")/.." && pwd)
DIR=$B/build/corpus
RT=10
while getopts d:t: o; do
    case $o in
    d) DIR=$OPTARG ;;
    t) RT=$OPTARG ;;
    *) sed -n '2,/^set/p' "$0" | sed '$d'; exit 2 ;;
    esac
done
SCRIMD=${SCRIMD:-$B/bin/scrimd}
for t in zzuf vips ffmpeg python3; do
    command -v $t >/dev/null || { echo "corpus.sh needs $t"; exit 2; }
done
[ -d "$DIR/media" ] || python3 "$B/bench/corpus.py" make "$DIR" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-corpus.XXXXXX")
PID=
trap '[ -z "$PID" ] || kill $PID 2>/dev/null; wait; rm -rf "$T"' EXIT
ADMIN=corpus-admin-token-0123456789 REVIEWER=corpus-reviewer-token-0123456789
echo $ADMIN >"$T/admin"
echo $REVIEWER >"$T/reviewer"
chmod 600 "$T/admin" "$T/reviewer"
"$SCRIMD" --db "$T/db" --socket "$T/sock" --listen none --log "$T/log" --threads 2 \
    --admin-token-file "$T/admin" --reviewer-token-file "$T/reviewer" \
    --request-timeout "$RT" 2>"$T/stderr" &
PID=$!
i=0
until grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 300 ] && kill -0 $PID 2>/dev/null || { echo "scrimd did not start"; cat "$T/stderr"; exit 1; }
    sleep 0.1
done
echo "corpus: $(ls "$DIR/media" | wc -l) media items from $(wc -l <"$DIR/originals.txt") system files; scrimd $SCRIMD, --request-timeout $RT"
start=$(date +%s)
python3 "$B/bench/corpus.py" send "$DIR" "$T/sock" $ADMIN $REVIEWER "$RT" $PID
st=$?
echo "$(( $(date +%s) - start )) s; scrimd's peak RSS $(awk '/VmHWM/ {print $2 / 1024 " MB"}' /proc/$PID/status)"
kill $PID
wait $PID
echo "scrimd exit status $? on SIGTERM"
if grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$T/stderr"; then
    echo "sanitizer reports:"; grep -A20 'ERROR\|runtime error' "$T/stderr" | head -60
    st=1
fi
PID=
exit $st
