#!/usr/bin/env bash
# video_daemon.t - videos through scrimd: POST /v1/hash and /v1/match with
# video bodies (re-encoding matched, unrelated not, an image found in the
# frames, damaged uploads answered with errors while the daemon keeps
# serving) and POST /v1/compare.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl ffmpeg python3
plan 38
temp_dir T video-daemon
S="$BIN/scrim"
SOCK="$T/scrimd.sock"
HTTP_MAX_TIME=60
post() { http POST "$1" --data-binary @"$2"; }   # PATH FILE
admin() { http "$1" "$2" -H "$(auth)" ${3:+--data-binary @"$3"}; }   # METHOD PATH [FILE]
jq_() { pyjson "$1" "$T/out"; }

ff -f lavfi -i "mandelbrot=size=240x180:rate=30" -t 6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$T/base.mp4"
ff -i "$T/base.mp4" -vf scale=160:120 -c:v libvpx -deadline realtime -cpu-used 8 -b:v 300k "$T/small.webm"
ff -t 4 -f lavfi -i "life=size=240x180:rate=30:mold=10:ratio=0.3" -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$T/life.mp4"
ff -f lavfi -i "testsrc2=size=240x180:rate=1" -frames:v 1 "$T/still.png"
ff -t 2 -f lavfi -i "life=size=240x180:rate=30:mold=10:ratio=0.3" -loop 1 -t 2 -framerate 30 -i "$T/still.png" \
   -filter_complex "[1:v]format=yuv420p,fps=30[s];[0:v]format=yuv420p[a];[a][s]concat=n=2:v=1[v]" -map "[v]" \
   -c:v libx264 -preset ultrafast "$T/withstill.mp4"
head -c 30000 "$T/base.mp4" > "$T/truncated.mp4"
{ printf '\x1a\x45\xdf\xa3'; head -c 5000 /dev/urandom; } > "$T/junk.mkv"

"$S" import --format vpdq --db "$T/db" --list vids --create --seconds-per-hash 0 "$T/base.mp4" > /dev/null
"$S" hash "$T/still.png" | cut -d, -f1 | "$S" import --db "$T/db" --list images --create --format hex - > /dev/null

TOKEN=video-test-token-0123456789
echo "$TOKEN" > "$T/token"
start_daemon() { scrimd_start --db "$T/db" --listen none --admin-token-file "$T/token" "$@"; }
start_daemon

post /v1/hash "$T/base.mp4"
is "$code:$(jq_ 'o["kind"], len(o["frames"]), len(o["md5"])')" "200:video 6 32" "POST /v1/hash with a video: its frames"
post /v1/match "$T/small.webm"
is "$code:$(jq_ 'o["matched"], o["matches"][0]["type"], o["matches"][0]["id"], o["matches"][0]["query_match_percent"] >= 80')" \
   "200:True video base True" "POST /v1/match: a re-encoding matches the video entry"
is "$(jq_ 'o["matches"][0]["ranges"]')" "[[0.0, 5.0]]" "with the matched range of the query"
post /v1/match "$T/life.mp4"
is "$code:$(jq_ 'o["matched"], o["matches"]')" "200:False []" "an unrelated video does not match"
post /v1/match "$T/withstill.mp4"
is "$code:$(jq_ '[(m["list"], min(m["timestamps"]) >= 1.9) for m in o["matches"]]')" "200:[('images', True)]" \
   "an image list entry found in the frames, with timestamps"
md5sum < "$T/life.mp4" | cut -d' ' -f1 | "$S" import --db "$T/db" --list files --create --format md5 - > /dev/null
post /v1/match "$T/life.mp4"
is "$(jq_ '[(m["list"], m["type"]) for m in o["matches"]]')" "[('files', 'md5')]" \
   "a video's file digest matches exactly (imported while the daemon runs)"
post /v1/match "$T/truncated.mp4"
like "$code:$(jq_ 'o["error"]["message"]')" '^4[0-9][0-9]:truncated or corrupt video' "a truncated video: 4xx with the reason"
post /v1/match "$T/junk.mkv"
like "$code:$(jq_ 'o["error"]["code"]')" '^4[0-9][0-9]:' "garbage with a video signature: 4xx"
post /v1/hash "$T/base.mp4"
is "$code" 200 "the daemon still serves after bad uploads"

# Per-request sampling: ?seconds_per_hash= and ?keyframes= (6 s at 30 fps).
post "/v1/hash?seconds_per_hash=0" "$T/base.mp4"
is "$code:$(jq_ 'len(o["frames"]), o["frames"][1]["frame"], o["frames"][-1]["frame"]')" "200:180 1 179" \
   "?seconds_per_hash=0 hashes every frame"
post "/v1/hash?seconds_per_hash=0.5" "$T/base.mp4"
is "$code:$(jq_ '[f["frame"] for f in o["frames"]][:3], len(o["frames"])')" "200:[0, 15, 30] 12" \
   "?seconds_per_hash=0.5: every 15th frame"
post "/v1/hash?seconds_per_hash=2" "$T/base.mp4"
is "$code:$(jq_ '[f["frame"] for f in o["frames"]]')" "200:[0, 60, 120]" "?seconds_per_hash=2: every 60th frame"
ff -i "$T/base.mp4" -c:v libx264 -preset ultrafast -g 45 -sc_threshold 0 "$T/gop45.mp4"
post "/v1/hash?keyframes=1" "$T/gop45.mp4"
is "$code:$(jq_ '[f["frame"] for f in o["frames"]]')" "200:[0, 45, 90, 135]" "?keyframes=1: the key frames only"
is "$(jq_ 'o["frames"]')" "$("$S" hash --json --keyframes "$T/gop45.mp4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])')" \
   "?keyframes=1 gives the frames of scrim hash --keyframes"
post "/v1/hash?keyframes=0&seconds_per_hash=1" "$T/gop45.mp4"
is "$code:$(jq_ 'len(o["frames"])')" "200:6" "?keyframes=0: the sampled frames"
post "/v1/match?seconds_per_hash=0" "$T/small.webm"
is "$code:$(jq_ 'len(o["frames"]), o["matches"][0]["id"], o["matches"][0]["query_match_percent"] >= 80')" "200:180 base True" \
   "POST /v1/match?seconds_per_hash=0: every frame looked up, still a match"
bad=
for q in seconds_per_hash=-1 seconds_per_hash=abc seconds_per_hash= seconds_per_hash=3601 seconds_per_hash=nan \
         seconds_per_hash=1e9 keyframes=2 keyframes=yes; do
    post "/v1/match?$q" "$T/base.mp4"
    m=$(jq_ 'o["error"]["code"], o["error"]["message"]')
    case "$code:$m" in
        "400:bad_request ?${q%%=*}= must be"*) ;;
        *) bad="$bad [$q -> $code:$m]" ;;
    esac
done
is "$bad" "" "bad ?seconds_per_hash= / ?keyframes= values are a 400 naming the option"
post "/v1/hash?seconds_per_hash=0" "$T/still.png"
is "$code:$(jq_ 'o["kind"]')" "200:image" "images ignore the video sampling options"

# Admin import of a vPDQ hash file over HTTP: atomic, the CLI's errors, and
# the video matches on the very next request.
"$S" hash "$T/life.mp4" > "$T/life.vpdq"
post /v1/match "$T/life.mp4"
is "$(jq_ '[m["list"] for m in o["matches"]]')" "['files']" "before the import the video matches only its digest"
admin POST "/v1/lists/clips/import?format=vpdq&create=1&id=life-clip&label=game%20of%20life" "$T/life.vpdq"
is "$code:$(jq_ 'o["list"], o["added"], o["frames"], o["duplicates"]')" "200:clips 1 4 0" \
   "POST /v1/lists/NAME/import?format=vpdq&id=: one video entry with its frames"
post /v1/match "$T/life.mp4"
is "$code:$(jq_ '[(m["list"], m["id"], m["query_match_percent"]) for m in o["matches"] if m["type"] == "video"]')" \
   "200:[('clips', 'life-clip', 100.0)]" "the imported video matches on the very next /v1/match"
admin POST "/v1/lists/clips/import?format=vpdq&id=life-clip" "$T/life.vpdq"
is "$code:$(jq_ 'o["added"], o["duplicates"]')" "200:0 1" "importing it again counts a duplicate"
admin POST "/v1/lists/clips/import?format=vpdq" "$T/life.vpdq"
like "$code:$(jq_ 'o["error"]["code"], o["error"]["message"]')" '^400:bad_request a video needs an id.*\?id=' \
   "without ?id=: 400 asking for it"
{ head -2 "$T/life.vpdq"; echo "2,100,nothex,2.000"; } > "$T/broken.vpdq"
admin POST "/v1/lists/newlist/import?format=vpdq&create=1&id=broken" "$T/broken.vpdq"
httpmsg=$(jq_ 'o["error"]["message"]')
is "$code:$(jq_ 'o["error"]["code"]')" "400:bad_request" "a malformed vPDQ line: 400"
climsg=$("$S" import --format vpdq --db "$T/clidb" --list newlist --create --id broken "$T/broken.vpdq" 2>&1 >/dev/null | head -1)
like "$httpmsg|$climsg" '^video .broken.: line 3: .*\|scrim: import: .*broken.vpdq: video .broken.: line 3: ' \
   "the message names the line, as the CLI's does"
is "${climsg#*broken.vpdq: }" "$httpmsg" "the same message as scrim import --format vpdq"
admin GET /v1/lists/newlist
is "$code" 404 "a failed import leaves nothing behind (the created list neither)"
admin GET /v1/lists/clips
before=$(jq_ 'o["count"]')
{ cat "$T/life.vpdq"; echo "x"; } > "$T/broken2.vpdq"
admin POST "/v1/lists/clips/import?format=vpdq&id=other" "$T/broken2.vpdq"
bad=$code
admin GET /v1/lists/clips
is "$bad:$before:$(jq_ 'o["count"]')" "400:1:1" "a rejected import into an existing list adds nothing"
admin POST "/v1/lists/clips/import?format=vpdq&id=x" "$T/base.mp4"
like "$code:$(jq_ 'o["error"]["message"]')" '^415:.*not the video' "a video body for ?format=vpdq: 415"
http POST "/v1/lists/clips/import?format=vpdq&id=noauth" --data-binary @"$T/life.vpdq"
is "$code" 401 "the import needs the admin token"

# POST /v1/compare with two vPDQ texts.
"$S" hash --seconds-per-hash 0 "$T/base.mp4" > "$T/a.vpdq"
"$S" hash "$T/small.webm" > "$T/b.vpdq"
python3 -c 'import json,sys; print(json.dumps({"query": open(sys.argv[1]).read(), "compared": open(sys.argv[2]).read()}))' \
    "$T/b.vpdq" "$T/a.vpdq" > "$T/cmp.json"
post /v1/compare "$T/cmp.json"
is "$code:$(jq_ 'o["query_match_percent"]')" "200:100.0" "POST /v1/compare"
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])) == json.loads(sys.argv[2]))' "$T/out" "$("$S" compare "$T/b.vpdq" "$T/a.vpdq")")" \
   "True" "same figures as scrim compare"
printf '{"query": "0,100,zz,0", "compared": ""}' > "$T/bad.json"
post /v1/compare "$T/bad.json"
like "$code:$(jq_ 'o["error"]["message"]')" '^400:query: line 1: HASH' "POST /v1/compare: a malformed hash is a 400 naming the line"
printf 'not json' > "$T/bad.json"
post /v1/compare "$T/bad.json"
is "$code" 400 "POST /v1/compare: not JSON is a 400"

# Videos run on their own worker (--video-threads, default 1): images are
# answered while a slow video holds it.  The slow one: a 7 KB GIF of 300
# one-pixel frames on a 7680x4320 canvas (every frame a 33 MP picture).
python3 - "$T/slow.gif" <<'PY'
import sys
b = bytearray(b"GIF89a") + bytes([7680 & 255, 7680 >> 8, 4320 & 255, 4320 >> 8, 0x80, 0, 0, 0, 0, 0, 255, 255, 255])
for i in range(300):
    b += bytes([0x21, 0xf9, 4, 0, 100, 0, 0, 0, 0x2c, i & 255, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44 | (i & 1) << 3, 1, 0])
b += b"\x3b"
open(sys.argv[1], "wb").write(b)
PY
metric() { scrimd_curl --max-time 10 http://scrimd/metrics | sed -n "s/^$1 //p"; }
scrimd_stop KILL 2>/dev/null
start_daemon --threads 1   # one image worker: shared, the video would block it
scrimd_curl -o /dev/null -X POST --data-binary @"$T/slow.gif" http://scrimd/v1/hash &
SLOW=$!
busy() { [ "$(metric scrim_video_workers_busy)" = 1 ]; }
poll 200 busy
is "$(metric scrim_video_workers):$(metric scrim_video_workers_busy)" "1:1" "a slow video holds the video worker"
codes=
for i in 1 2 3 4; do post /v1/match "$T/still.png"; codes="$codes$code "; done
is "$codes:$(metric scrim_video_workers_busy)" "200 200 200 200 :1" \
   "images are answered meanwhile (the video still running)"
kill "$SLOW" 2>/dev/null
wait "$SLOW" 2>/dev/null
http GET /healthz
is "$(jq_ 'o["video_workers"]')" 1 "/healthz counts the video workers"

scrimd_stop KILL 2>/dev/null   # the slow video would hold a drain for its 30 s timeout
start_daemon
scrimd_stop
is "$?" 0 "scrimd exits 0 on SIGTERM"
done_testing
