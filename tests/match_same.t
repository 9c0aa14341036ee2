#!/bin/bash
# match_same.t - `scrim match` and scrimd's POST /v1/match are one matcher:
# on the same database and the same uploads they give the same "matched",
# "matches" and "allowed".  Fields only one of them has, by design:
#   scrim match: "file" (the path it was given), "duration", "frames_hashed",
#                "corrupt_packets" (videos) and the image's hash fields;
#   /v1/match:   "hashes", "kind", "review" (the review record's hook).
# The uploads cover a plain hit, a rotated copy (a dihedral variant), an
# MD5 hit, an allow-list hit, a video matching a video entry, and a still
# taken from inside that video (an image hitting a video entry's frames).
. tests/tap.sh

need_tools curl ffmpeg python3 vips

temp_dir W
SOCK=$W/scrimd.sock
PID=
at_exit '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null'
DB=$W/db
S="$BIN/scrim"

# The media.
ff -f lavfi -i testsrc=size=320x240:rate=10 -t 6 -pix_fmt yuv420p "$W/clip.mp4"
ff -ss 3.05 -i "$W/clip.mp4" -frames:v 1 "$W/still.png"
ff -f lavfi -i mandelbrot=size=320x240 -frames:v 1 "$W/allowed.png"
cp "$FIX/blobs.jpg" "$W/blobs.jpg"
vips rot "$FIX/blobs.jpg" "$W/rotated.png" d90
ff -f lavfi -i smptebars=size=320x240 -frames:v 1 "$W/bars.png"

# The lists: a block list of PDQs, a block list of MD5s, an allow list, a
# video list.
"$S" hash "$W/blobs.jpg" | cut -d, -f1 >"$W/blk.txt"
"$S" import --quiet --db "$DB" --list blk --create "$W/blk.txt" >/dev/null
md5sum "$W/bars.png" | cut -d' ' -f1 >"$W/dig.txt"
"$S" import --quiet --db "$DB" --list dig --create --format md5 "$W/dig.txt" >/dev/null
"$S" hash "$W/allowed.png" | cut -d, -f1 >"$W/ok.txt"
"$S" import --quiet --db "$DB" --list ok --create --kind allow "$W/ok.txt" >/dev/null
"$S" hash "$W/clip.mp4" >"$W/clip.vpdq"
"$S" import --db "$DB" --list vids --create --format vpdq --id clip "$W/clip.vpdq" >/dev/null
status=$?

plan 13
ok $status "the four lists are imported"

"$BIN/scrimd" --db "$DB" --socket "$SOCK" --listen none --threads 1 --log "$W/log" \
    --allow-query-overrides 1 2>"$W/stderr" &
PID=$!
i=0
while [ $i -lt 600 ] && ! grep -q '"msg":"ready"' "$W/log" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
done
grep -q '"msg":"ready"' "$W/log"
ok $? "scrimd is ready"

# same FILE WHAT: both answers, then the comparison.
same() {
    local f=$W/$1 cli daemon
    cli=$("$S" match --db "$DB" "$f")
    daemon=$(curl -s --max-time 30 --unix-socket "$SOCK" --data-binary @"$f" \
        http://scrimd/v1/match)
    printf '%s\n' "$cli" >"$W/cli.json"
    printf '%s\n' "$daemon" >"$W/daemon.json"
    python3 - "$W/cli.json" "$W/daemon.json" "$3" <<'EOF'
import json, sys
cli = json.load(open(sys.argv[1]))
daemon = json.load(open(sys.argv[2]))
want = sys.argv[3]
keys = ("matched", "matches", "allowed")
a = {k: cli.get(k) for k in keys}
b = {k: daemon.get(k) for k in keys}
if a != b:
    print("#   scrim match: " + json.dumps(a, sort_keys=True))
    print("#   /v1/match:   " + json.dumps(b, sort_keys=True))
    sys.exit(1)
# and the answer is the expected one, so "both wrong alike" cannot pass
if not eval(want, {"r": a}):
    print("#   unexpected answer: " + json.dumps(a, sort_keys=True))
    sys.exit(2)
EOF
    ok $? "$2: the same matches from scrim match and /v1/match"
}

same blobs.jpg "plain hit" \
    'r["matched"] and r["matches"][0]["list"] == "blk" and r["matches"][0]["distance"] == 0 and "variant" not in r["matches"][0]'
same rotated.png "rotated copy" \
    'r["matched"] and r["matches"][0]["list"] == "blk" and r["matches"][0]["variant"] in ("rotate90", "rotate270")'
same bars.png "MD5 hit" \
    'r["matched"] and any(m["list"] == "dig" and m["type"] == "md5" for m in r["matches"])'
same allowed.png "allow-list hit" \
    'not r["matched"] and r["allowed"][0]["list"] == "ok" and r["matches"] == []'
same clip.mp4 "video" \
    'r["matched"] and r["matches"][0]["type"] == "video" and r["matches"][0]["id"] == "clip" and r["matches"][0]["query_match_percent"] >= 80'
same still.png "still inside a video" \
    'r["matched"] and r["matches"][0]["type"] == "video" and r["matches"][0]["id"] == "clip"'

# Options reach the one matcher alike: --no-dihedral / ?dihedral=0 and a
# radius of 0.
cli=$("$S" match --db "$DB" --no-dihedral "$W/rotated.png")
daemon=$(curl -s --unix-socket "$SOCK" --data-binary @"$W/rotated.png" \
    'http://scrimd/v1/match?dihedral=0')
like "$cli" '"matched": *false' "scrim match --no-dihedral: the rotated copy is not matched"
like "$daemon" '"matched": *false' "/v1/match?dihedral=0: the rotated copy is not matched"
cli=$("$S" match --db "$DB" --radius 0 "$W/still.png" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
daemon=$(curl -s --unix-socket "$SOCK" --data-binary @"$W/still.png" \
    'http://scrimd/v1/match?radius=0' | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
is "$cli" "$daemon" "radius 0: the same verdict for the still from both"

kill -TERM $PID
wait $PID
ok $? "scrimd stops cleanly"
PID=
! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$W/stderr"
ok $? "no sanitizer reports"
done_testing
