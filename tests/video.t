#!/usr/bin/env bash
# video.t - video from the command line: scrim hash on videos, scrim compare,
# video lists (import/export --format vpdq) and scrim match on re-encodings,
# unrelated videos, a still image inside a video, and damaged files.
# Small videos are made here with the ffmpeg CLI.
. "$(dirname "$0")/tap.sh"
plan 41
S="$BIN/scrim"
temp_dir TMP video
DB="$TMP/db"

# A zooming Mandelbrot (8 s) is the known video; an unrelated one is Life.
ff -f lavfi -i "mandelbrot=size=240x180:rate=30" -t 8 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$TMP/base.mp4"
ff -f lavfi -i "life=size=320x240:rate=30:mold=10:ratio=0.3" -t 6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$TMP/life.mp4"
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -t 5 -c:v mpeg4 -q:v 4 "$TMP/testsrc.avi"
# Re-encodings of the known video.
ff -i "$TMP/base.mp4" -vf scale=160:120 -c:v libx264 -preset ultrafast "$TMP/small.mp4"
ff -i "$TMP/base.mp4" -c:v libx264 -preset ultrafast -b:v 120k "$TMP/lowrate.mp4"
ff -i "$TMP/base.mp4" -c:v libvpx -deadline realtime -cpu-used 8 -b:v 400k "$TMP/vp8.webm"
ff -i "$TMP/base.mp4" -c:v mpeg4 -q:v 5 "$TMP/mpeg4.avi"
ff -i "$TMP/base.mp4" -c:v mpeg2video -q:v 5 -f mpegts "$TMP/mpeg2.ts"
ff -i "$TMP/base.mp4" -c:v libx264 -preset ultrafast "$TMP/h264.mkv"
ff -i "$TMP/base.mp4" -vf fps=24 -c:v libx264 -preset ultrafast "$TMP/fps24.mp4"
ff -ss 2.5 -i "$TMP/base.mp4" -t 3 -c:v libx264 -preset ultrafast "$TMP/clip.mp4"

# ---- scrim hash ------------------------------------------------------------------
out=$("$S" hash "$TMP/base.mp4")
is "$(printf '%s\n' "$out" | wc -l)" 8 "8-s video, one hash a second: 8 lines"
like "$(printf '%s\n' "$out" | sed -n 2p)" '^30,[0-9]+,[0-9a-f]{64},1\.000$' "FRAME,QUALITY,HASH,SECONDS lines"
is "$("$S" hash --seconds-per-hash 0 "$TMP/base.mp4" | wc -l)" 240 "--seconds-per-hash 0: every frame"
is "$("$S" hash --seconds-per-hash 0.5 "$TMP/base.mp4" | cut -d, -f1 | head -3 | tr '\n' ' ')" "0 15 30 " "--seconds-per-hash 0.5: every 15th frame"
k=$("$S" hash --keyframes "$TMP/mpeg4.avi" | wc -l)
ok $([ "$k" -ge 1 ] && [ "$k" -lt 240 ] && echo 0 || echo 1) "--keyframes hashes key frames only ($k)"
is "$("$S" hash --json "$TMP/h264.mkv" | pyjson 'o["kind"], o["format"], o["codec"], o["width"], len(o["frames"])')" \
   "video matroska h264 240 8" "--json object for an MKV"
is "$("$S" hash "$TMP/mpeg2.ts" | wc -l)" 8 "MPEG-TS recognised by content"
cp "$TMP/vp8.webm" "$TMP/noext"
is "$("$S" hash "$TMP/noext" | wc -l)" 8 "WebM without extension recognised by content"

# Animated GIF is a video; a one-frame GIF stays an image.
ff -i "$TMP/base.mp4" -t 2 -vf "fps=10,scale=160:-1" "$TMP/anim.gif"
ff -i "$TMP/base.mp4" -frames:v 1 "$TMP/still.gif"
like "$("$S" hash "$TMP/anim.gif" | head -1)" '^0,[0-9]+,[0-9a-f]{64},0\.000$' "animated GIF hashed as a video"
like "$("$S" hash "$TMP/still.gif")" '^[0-9a-f]{64},[0-9]+,.*still\.gif$' "one-frame GIF hashed as an image"
ff -i "$TMP/base.mp4" -t 2 -vf fps=10 -c:v libwebp_anim -loop 0 "$TMP/anim.webp"
ff -i "$TMP/base.mp4" -frames:v 1 -c:v libwebp "$TMP/still.webp"
is "$("$S" hash "$TMP/anim.webp" | cut -d, -f1,4 | tr '\n' ' ')" "0,0.000 10,1.000 " "animated WebP hashed as a video (10 fps from its delays)"
like "$("$S" hash "$TMP/still.webp")" '^[0-9a-f]{64},[0-9]+,.*still\.webp$' "one-frame WebP hashed as an image"

# ---- damaged input -------------------------------------------------------------------
head -c 40000 "$TMP/base.mp4" > "$TMP/truncated.mp4"
"$S" hash "$TMP/truncated.mp4" > /dev/null 2> "$TMP/err"
like "$?:$(cat "$TMP/err")" '^1:.*truncated\.mp4: truncated or corrupt video' "truncated MP4: a clear error"
{ printf '\x1a\x45\xdf\xa3'; head -c 20000 /dev/urandom; } > "$TMP/junk.mkv"
"$S" hash "$TMP/junk.mkv" > /dev/null 2> "$TMP/err"
like "$?:$(cat "$TMP/err")" '^1:.*junk\.mkv: .+' "garbage after a Matroska signature: a clear error"
# Corrupt packets in the middle are skipped, the rest still hashed.
cp "$TMP/mpeg2.ts" "$TMP/damaged.ts"
size=$(stat -c %s "$TMP/damaged.ts")
dd if=/dev/urandom of="$TMP/damaged.ts" bs=1 seek=$((size / 2)) count=3000 conv=notrunc 2>/dev/null
n=$("$S" hash "$TMP/damaged.ts" 2>/dev/null | wc -l)
ok $([ "$n" -ge 6 ] && echo 0 || echo 1) "damaged MPEG-TS still hashed around the damage ($n frames)"

# ---- video lists and matching ------------------------------------------------------------
"$S" import --format vpdq --db "$DB" --list known --create --label "base clip" --seconds-per-hash 0 "$TMP/base.mp4" > "$TMP/out"
like "$(cat "$TMP/out")" 'known: added 1 videos \(240 frames\)' "import a video (every frame) as a list entry"
for f in small lowrate vp8.webm mpeg4.avi mpeg2.ts h264.mkv fps24 clip anim.webp; do
    case $f in *.*) file="$TMP/$f" ;; *) file="$TMP/$f.mp4" ;; esac
    r=$("$S" match --db "$DB" "$file")
    got=$(printf '%s' "$r" | pyjson '"%s %s %.0f" % (o["matched"], o["matches"][0]["id"] if o["matches"] else "-", o["matches"][0]["query_match_percent"] if o["matches"] else 0)')
    ok $(printf '%s' "$got" | awk '{exit !($1 == "True" && $2 == "base" && $3 >= 80)}'; echo $?) "re-encoding $f matches the known video ($got)"
done
r=$("$S" match --db "$DB" "$TMP/clip.mp4")
is "$(printf '%s' "$r" | pyjson 'o["matches"][0]["ranges"]')" "[[0.0, 2.0]]" "the clip's matched range"
is "$(printf '%s' "$r" | pyjson 'o["matches"][0]["label"]')" "base clip" "a video match carries the entry's label"
"$S" match --db "$DB" "$TMP/life.mp4" "$TMP/testsrc.avi" > "$TMP/out"
st=$?
is "$st:$(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["matched"]) for l in open(sys.argv[1])))' "$TMP/out")" \
   "0:False False" "unrelated videos do not match (exit 0)"

# Export and import back.
"$S" export --db "$DB" --list known --format vpdq > "$TMP/known.vpdq"
is "$(head -1 "$TMP/known.vpdq"):$(grep -c , "$TMP/known.vpdq")" "# video: base:240" "export --format vpdq"
"$S" import --format vpdq --db "$DB" --list copy --create "$TMP/known.vpdq" > /dev/null
is "$("$S" export --db "$DB" --list copy --format vpdq | md5sum)" "$(md5sum < "$TMP/known.vpdq")" "export imports back identically"
printf '0,100,zz,0.0\n' > "$TMP/bad.txt"
"$S" import --format vpdq --db "$DB" --list copy "$TMP/known.vpdq" "$TMP/bad.txt" > /dev/null 2> "$TMP/err"
like "$?:$(cat "$TMP/err")" '^1:.*bad\.txt: .*line 1: HASH is not 64 hex' "a malformed vPDQ file aborts the import with its line"
is "$("$S" lists --db "$DB" --json | python3 -c 'import json,sys; print(" ".join("%s:%d" % (o["name"], o["count"]) for o in map(json.loads, sys.stdin)))')" \
   "copy:1 known:1" "lists unchanged after the failed import"

# A still image shown as frames of a video is found against an image list.
ff -f lavfi -i "testsrc2=size=320x240:rate=1" -frames:v 1 "$TMP/still.png"
ff -t 2 -f lavfi -i "life=size=320x240:rate=30:mold=10:ratio=0.3" -t 2 -f lavfi -i "cellauto=size=320x240:rate=30:rule=30" -loop 1 -t 2 -framerate 30 -i "$TMP/still.png" \
   -filter_complex "[2:v]scale=320:240,format=yuv420p,fps=30[s];[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[a][s][b]concat=n=3:v=1[v]" -map "[v]" -c:v libx264 -preset ultrafast "$TMP/withstill.mp4"
h=$("$S" hash "$TMP/still.png" | cut -d, -f1)
printf '%s\n' "$h" | "$S" import --db "$DB" --list images --create --format hex - > /dev/null
r=$("$S" match --db "$DB" "$TMP/withstill.mp4")
is "$(printf '%s' "$r" | pyjson '[(m["list"], m["hash"] == "'$h'", min(m["timestamps"]) >= 1.9, max(m["timestamps"]) <= 4.1) for m in o["matches"]]')" \
   "[('images', True, True, True)]" "the image is found in the video's frames, with timestamps"
r=$("$S" match --db "$DB" "$TMP/still.png")
is "$(printf '%s' "$r" | pyjson 'o["kind"], o["matched"], o["matches"][0]["list"], o["matches"][0]["distance"]')" \
   "image True images 0" "scrim match on an image"

# ---- scrim compare -------------------------------------------------------------------------
is "$("$S" compare "$TMP/clip.mp4" "$TMP/known.vpdq" | pyjson 'o["query_match_percent"]')" "100.0" "compare a video with a vPDQ file"
"$S" compare "$TMP/still.png" "$TMP/base.mp4" > /dev/null 2> "$TMP/err"
like "$?:$(cat "$TMP/err")" '^1:.*still\.png: neither a video nor a vPDQ' "compare refuses an image"
# ---- transparency: frames flattened onto white, as images are -------------------
# An animated GIF: a test card moving over a transparent canvas.  Each frame,
# written out as an RGBA PNG and hashed by the image path, has the hash of
# that frame of the GIF (and not the one it has on black).
ff -filter_complex "color=c=black@0.0:s=128x96:r=5:d=2,format=rgba[bg];testsrc2=s=48x48:r=5:d=2,format=rgba[fg];[bg][fg]overlay=x='10+t*20':y=20:shortest=1,split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse" "$TMP/alpha.gif"
mkdir "$TMP/gif"
ff -i "$TMP/alpha.gif" -pix_fmt rgba "$TMP/gif/f%03d.png"
ff -i "$TMP/gif/f001.png" -filter_complex "color=black:s=128x96[k];[k][0:v]overlay=format=auto" -frames:v 1 "$TMP/onblack.png"
"$S" hash --seconds-per-hash 0 "$TMP/alpha.gif" | cut -d, -f3 > "$TMP/gif.vid"
for f in "$TMP"/gif/f*.png; do "$S" hash "$f"; done | cut -d, -f1 > "$TMP/gif.img"
is "$(wc -l < "$TMP/gif.vid"):$(cmp -s "$TMP/gif.vid" "$TMP/gif.img" && echo same)" "10:same" \
   "animated GIF with transparency: every frame hashes as the image path does"
isnt_black=$("$S" hash "$TMP/onblack.png" | cut -d, -f1)
ok $([ -n "$isnt_black" ] && [ "$isnt_black" != "$(head -1 "$TMP/gif.vid")" ] && echo 0 || echo 1) \
   "(the GIF's transparent pixels matter: on black it hashes otherwise)"
# A video whose transparent pixels are stored as black (PNG frames in MOV):
# white under the alpha, like the image path, not black.
ff -filter_complex "color=c=black@0.0:s=128x96:r=5:d=2,format=rgba[bg];testsrc2=s=48x48:r=5:d=2,format=rgba[fg];[bg][fg]overlay=x='10+t*20':y=20:shortest=1,format=rgba" -c:v png "$TMP/alpha.mov"
ff -i "$TMP/alpha.mov" -frames:v 1 -pix_fmt rgba "$TMP/mov0.png"
is "$("$S" hash "$TMP/alpha.mov" | head -1 | cut -d, -f3)" "$("$S" hash "$TMP/mov0.png" | cut -d, -f1)" \
   "RGBA video frames: flattened onto white, the first frame hashes as the image path does"

if have_shared; then
    H="$SHARED/vpdq/hashes"; V="$SHARED/vpdq/videos"
    is "$("$S" compare "$H/chair-orig-22-sd-bar.txt" "$H/chair-22-sd-sepia-bar.txt")" \
       '{"query_match_percent":100.0,"compared_match_percent":100.0}' "compare reference hash files: chair vs sepia 100/100"
    # (every-frame comparisons of the sample videos: bench/video_agreement)
    is "$("$S" compare "$V/pattern-sd-with-small-logo-bar.mp4" "$H/pattern-sd-grey-bar.txt" | pyjson '"%.0f/%.0f" % (o["query_match_percent"], o["compared_match_percent"])')" \
       "100/15" "compare a sample video (1 s a hash) with a reference hash file"
else
    skip "$SHARED not found" 2
fi
done_testing
