#!/bin/bash
# repost.t - the copies people re-post: a picture padded, letterboxed, set on
# a page, framed by a border of any colour is found by the picture inside
# it (query-side regions); a platform's own removed media added with
# `scrim add` also carries index-side variants (crops, small rotations),
# which exports leave out unless asked.  With ../shared, the same on some
# of the eval-dev photos, with zero matches between distinct photos.
. tests/tap.sh

need_tools vips python3 curl
temp_dir W
PID=
at_exit '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null'
S="$BIN/scrim"
DB=$W/db
cp "$FIX/blobs.jpg" "$W/orig.jpg"

# field FILE EXPR: EXPR (python, over j = the match's JSON) for one file
field() {
    "$S" match --db "$DB" "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

"$S" hash "$W/orig.jpg" | cut -d, -f1 >"$W/list.txt"
"$S" import --quiet --db "$DB" --list partner --create "$W/list.txt" >/dev/null

plan 39

# 320x240 picture: pad it, letterbox it, set it on a white page, frame it.
vips embed "$W/orig.jpg" "$W/pad.png" 32 24 384 288 --extend black
vips embed "$W/orig.jpg" "$W/letterbox.png" 0 80 320 400 --extend black
vips embed "$W/orig.jpg" "$W/page.png" 140 90 600 500 --extend white
vips embed "$W/orig.jpg" "$W/border.png" 20 20 360 280 --extend background --background "40 120 200"
for f in pad letterbox page border; do
    got=$(field "$W/$f.png" 'j["matched"], j["matches"][0]["region"]["w"] if j["matches"] else None')
    is "$got" "True 320" "$f: matched through the picture found inside"
done
is "$(field "$W/pad.png" 'j["matches"][0]["region"]["x"], j["matches"][0]["region"]["y"], j["matches"][0]["region"]["w"], j["matches"][0]["region"]["h"]')" \
    "32 24 320 240" "pad: the region is the picture's rectangle in the upload"
is "$(field "$W/page.png" 'j["matches"][0]["region"]["x"], j["matches"][0]["region"]["y"]')" \
    "140 90" "page: the region starts where the picture was set"
got=$("$S" match --db "$DB" --no-regions "$W/pad.png" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
is "$got" "False" "--no-regions: the padded copy is not matched (plain PDQ misses it)"
is "$(field "$W/orig.jpg" 'j["matches"][0]["distance"], "region" in j["matches"][0]')" \
    "0 False" "the original matches as a whole, with no region"

# A phone app's screen: bars in a brand colour with a title and icons, a
# post header (avatar, name) on a white page right above the picture, whose
# top is a flat sky, icons and a caption below it.  The picture is the rows
# between the interface both ends share, sky included (the bands of the
# older block split cut the picture at the sky and missed it).
vips xyz "$W/xy.v" 320 50
vips extract_band "$W/xy.v" "$W/yy.v" 1
vips linear "$W/yy.v" "$W/sky1.v" 0.3 150
vips bandjoin "$W/sky1.v $W/sky1.v $W/sky1.v" "$W/sky3.v"
vips linear "$W/sky3.v" "$W/sky.v" "0.6 0.8 1" "0 20 80" --uchar
vips insert "$W/orig.jpg" "$W/sky.v" "$W/pic.v" 0 0
vips jpegsave "$W/pic.v" "$W/pic.jpg" --Q 95
"$S" hash "$W/pic.jpg" | cut -d, -f1 >"$W/list-app.txt"
# (lists of their own, so that the checks of the lists below stay as they are)
"$S" import --quiet --db "$W/dbx" --list apps --create "$W/list-app.txt" >/dev/null
vips black "$W/z.v" 320 412 --bands 3
vips linear "$W/z.v" "$W/white.v" "1 1 1" "255 255 255" --uchar
vips linear "$W/z.v" "$W/ink.v" "1 1 1" "20 20 20" --uchar
vips copy "$W/white.v" "$W/scr.v"
vips draw_rect "$W/scr.v" "59 89 152" 0 0 320 36 --fill
vips draw_rect "$W/scr.v" "59 89 152" 0 380 320 32 --fill
vips black "$W/mb.v" 320 412
vips text "$W/title.v" "Photogram" --font "DejaVu Sans Bold 16" --dpi 72
vips insert "$W/mb.v" "$W/title.v" "$W/mb1.v" 12 8
for i in 0 1 2 3 4; do vips draw_circle "$W/mb1.v" 255 $((32 + 64 * i)) 396 7; done
vips black "$W/mp.v" 320 412
vips draw_circle "$W/mp.v" 255 26 54 12 --fill
vips text "$W/name.v" "traveller.cc  ·  3h" --font "DejaVu Sans Bold 13" --dpi 72
vips insert "$W/mp.v" "$W/name.v" "$W/mp1.v" 46 46
for i in 0 1 2; do vips draw_circle "$W/mp1.v" 255 $((20 + 30 * i)) 328 9; done
vips text "$W/cap.v" "<b>traveller.cc</b> found it again, had to share #nofilter" \
    --font "DejaVu Sans 11" --dpi 72 --width 300
vips insert "$W/mp1.v" "$W/cap.v" "$W/mp2.v" 10 348
vips ifthenelse "$W/mb1.v" "$W/white.v" "$W/scr.v" "$W/scr1.v" --blend
vips ifthenelse "$W/mp2.v" "$W/ink.v" "$W/scr1.v" "$W/scr2.v" --blend
vips insert "$W/scr2.v" "$W/pic.jpg" "$W/scr3.v" 0 72
vips jpegsave "$W/scr3.v" "$W/app.jpg" --Q 80
got=$(DB=$W/dbx field "$W/app.jpg" '[(m["list"], m["region"]["x"], m["region"]["y"], m["region"]["w"], m["region"]["h"], m["region"]["kind"]) for m in j["matches"]]')
is "$got" "[('apps', 0, 72, 320, 240, 'block')]" "app screen: the picture between its interface bands, sky and all"
got=$("$S" match --db "$W/dbx" --no-regions "$W/app.jpg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
is "$got" "False" "app screen: plain PDQ misses it"

# A large upload is looked at in its 512x512 squash; the region found there
# is set on the file's own edges (to 2.7 px here) and hashed from the
# file's pixels: the picture three times larger on a 1400x1300 page.
vips resize "$W/orig.jpg" "$W/o3.v" 3 --kernel lanczos3
vips jpegsave "$W/o3.v" "$W/o3.jpg" --Q 92
"$S" hash "$W/o3.jpg" | cut -d, -f1 >"$W/list-big.txt"
"$S" import --quiet --db "$W/dbx" --list big --create "$W/list-big.txt" >/dev/null
vips black "$W/zb.v" 1400 1300 --bands 3
vips linear "$W/zb.v" "$W/wb.v" "1 1 1" "255 255 255" --uchar
vips insert "$W/wb.v" "$W/o3.jpg" "$W/bigpage.v" 233 301
vips jpegsave "$W/bigpage.v" "$W/bigpage.jpg" --Q 85
got=$(DB=$W/dbx field "$W/bigpage.jpg" '[(m["region"]["x"], m["region"]["y"], m["region"]["w"], m["region"]["h"]) for m in j["matches"] if m["list"] == "big"]')
is "$got" "[(233, 301, 960, 720)]" "large page: the region is the picture's rectangle to the pixel"
got=$(DB=$W/dbx field "$W/bigpage.jpg" '[m["distance"] <= 4 for m in j["matches"] if m["list"] == "big"]')
is "$got" "[True]" "... and its hash within 4 bits of the picture's"

# A lossless screenshot of a product shot: the picture's own near-white
# background (252, noise 0.8) on an exactly white page.  The tolerant trim
# eats it down to the product; the page's exact colour ends at the picture.
vips gaussnoise "$W/n.v" 320 240 --sigma 0.8 --mean 252
vips cast "$W/n.v" "$W/n8.v" uchar
vips bandjoin "$W/n8.v $W/n8.v $W/n8.v" "$W/n3.v"
vips resize "$W/orig.jpg" "$W/small.v" 0.5
vips insert "$W/n3.v" "$W/small.v" "$W/prod.v" 80 60
vips pngsave "$W/prod.v" "$W/prod.png"
"$S" hash "$W/prod.png" | cut -d, -f1 >"$W/list-prod.txt"
"$S" import --quiet --db "$W/dbx" --list prod --create "$W/list-prod.txt" >/dev/null
vips black "$W/zw.v" 600 500 --bands 3
vips linear "$W/zw.v" "$W/ww.v" "1 1 1" "255 255 255" --uchar
vips insert "$W/ww.v" "$W/prod.png" "$W/shot.v" 140 130
vips pngsave "$W/shot.v" "$W/shot.png"
got=$(DB=$W/dbx field "$W/shot.png" '[(m["list"], m["region"]["x"], m["region"]["y"], m["region"]["w"], m["region"]["h"]) for m in j["matches"] if m["list"] == "prod"]')
is "$got" "[('prod', 140, 130, 320, 240)]" "white product on an exact white page: the picture's rectangle"
got=$("$S" match --db "$W/dbx" "$W/shot.png" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sorted((r["region"]["x"], r["region"]["w"]) for r in j["regions"]))')
like "$got" "\(220, 160\)" "... where the tolerant trim alone finds only the product"

# A flat page with a small flat patch never becomes a query.
vips black "$W/flat.v" 400 300 --bands 3
vips linear "$W/flat.v" "$W/flat.png" 1 200
got=$("$S" match --db "$DB" "$W/flat.png" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["matched"], len(j.get("regions", [])))')
is "$got" "False 0" "a flat image: no region, no match"

# scrim add: the media with its variants, under one id.
vips crop "$W/orig.jpg" "$W/crop10.png" 32 24 256 192
is "$(field "$W/crop10.png" 'j["matched"]')" "False" "a 10% crop is missed by the partner list's plain hash"
"$S" add --db "$DB" --list own --create --label "removed 2026-12-07" "$W/orig.jpg" >"$W/add.out"
ok $? "scrim add adds the image"
like "$(cat "$W/add.out")" "image 'orig' in own: 7 hashes added.*crop-5 crop-10 rot\+4 rot-4" \
    "the id defaults to the file name; four variants are stored"
got=$(field "$W/crop10.png" '[(m["list"], m["id"], m.get("stored_variant"), m["label"]) for m in j["matches"]]')
is "$got" "[('own', 'orig', 'crop-10', 'removed 2026-12-07')]" "the crop matches the stored crop-10 variant, reported once"
got=$(field "$W/orig.jpg" '[(m["list"], m.get("stored_variant")) for m in j["matches"] if m["type"] == "pdq"]')
is "$got" "[('own', None), ('partner', None)]" "the original matches its own entry once (not each variant)"
"$S" export --db "$DB" --list own >"$W/plain.csv"
is "$(grep -c '^pdq,' "$W/plain.csv")" "1" "export writes the plain PDQ only"
"$S" export --db "$DB" --list own --variants >"$W/all.csv"
is "$(grep -c '^pdq,' "$W/all.csv")" "5" "export --variants writes the variants too"
"$S" import --quiet --db "$W/db2" --list own --create "$W/all.csv" >/dev/null
"$S" export --db "$W/db2" --list own --variants | cmp -s - "$W/all.csv"
ok $? "an export with variants re-imports identically"
"$S" export --db "$DB" --list own --format hex --variants >/dev/null 2>"$W/err"
is "$?" "2" "--variants with a format other than csv is refused"
"$S" add --db "$DB" --list own "$FIX/not-an-image.txt" 2>"$W/err"
is "$?" "1" "scrim add of a text file fails"
like "$(cat "$W/err")" "not an image or video" "... and says why"

# A picture as soft as the canvas it is pasted on, narrower than it both
# ways (a 4:5 canvas of its own blurred, darkened copy): no run of busy
# lines shows, but its four edges are straight lines that stand out from
# the smooth canvas just outside them.
vips resize "$W/orig.jpg" "$W/bpbig.v" 2.2
vips crop "$W/bpbig.v" "$W/bpc.v" 152 14 400 500
vips gaussblur "$W/bpc.v" "$W/bpb.v" 8
vips linear "$W/bpb.v" "$W/bpb2.v" 0.85 0 --uchar
vips resize "$W/orig.jpg" "$W/bps.v" 0.85
vips insert "$W/bpb2.v" "$W/bps.v" "$W/bp.v" 64 148
vips jpegsave "$W/bp.v" "$W/softpad.jpg" --Q 85
got=$(field "$W/softpad.jpg" '[(m["list"], m["region"]["x"], m["region"]["y"], m["region"]["w"], m["region"]["h"]) for m in j["matches"]]')
is "$got" "[('own', 64, 148, 272, 204), ('partner', 64, 148, 272, 204)]" "soft picture on its blurred copy: found by its straight edges"
got=$("$S" match --db "$DB" --no-regions "$W/softpad.jpg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
is "$got" "False" "... which plain PDQ misses"

# The upload's own hash under the quality floor: a low-contrast picture
# (quality ~20) is found by its half-size copy, as plain PDQ finds it; a
# near-flat one (quality < 10, a fifth of the floor) still is not, unless
# the floor is lowered.
vips linear "$W/orig.jpg" "$W/lc.v" 0.3 60 --uchar
vips pngsave "$W/lc.v" "$W/lowc.png"
vips resize "$W/lc.v" "$W/lch.v" 0.5
vips jpegsave "$W/lch.v" "$W/lowc-half.jpg" --Q 80
vips linear "$W/orig.jpg" "$W/nf.v" 0.15 60 --uchar
vips pngsave "$W/nf.v" "$W/nflat.png"
vips resize "$W/nf.v" "$W/nfh.v" 0.5
vips jpegsave "$W/nfh.v" "$W/nflat-half.jpg" --Q 80
"$S" hash "$W/lowc.png" "$W/nflat.png" | cut -d, -f1 >"$W/list-low.txt"
"$S" import --quiet --db "$W/dbl" --list low --create "$W/list-low.txt" >/dev/null
got=$(DB=$W/dbl field "$W/lowc-half.jpg" 'j["pdq"][0]["quality"] < 50, j["matched"]')
is "$got" "True True" "a low-contrast copy (quality < 50) matches by its own hash"
got=$(DB=$W/dbl field "$W/nflat-half.jpg" 'j["pdq"][0]["quality"] < 10, j["matched"]')
is "$got" "True False" "a near-flat copy (quality < 10) does not"
got=$("$S" match --db "$W/dbl" --min-quality 0 "$W/nflat-half.jpg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
is "$got" "True" "... unless --min-quality is lowered"

# With ../shared: blurred-background pads and app screens drawn with other
# draws and parameters than bench/accuracy's (SALT, other aspects, blur
# strengths, screen widths) on five eval-dev photos; each copy matches its
# own original and no other of the 105.
if have_shared && [ -d "$SHARED/eval-dev/orig" ]; then
    mkdir -p "$W/ev"
    for f in $(ls "$SHARED"/eval-dev/orig/*.jpg | sort | awk 'NR % 26 == 1'); do
        cp "$f" "$W/ev/"
    done
    SALT=t BP2_ASPECTS="16/9 1/1 4/3" BP2_FR="70 95" BP2_SIG="10 80" \
        S2_WIDTHS="540 1080" STYLES="blurpad2 social2" JOBS=2 \
        bash bench/repost_styles.sh "$W/ev" "$W/evs" >/dev/null 2>&1
    "$S" hash "$SHARED"/eval-dev/orig/*.jpg >"$W/ev.csv"
    cut -d, -f1 "$W/ev.csv" >"$W/ev-list.txt"
    "$S" import --quiet --db "$W/dbe" --list ev --create "$W/ev-list.txt" >/dev/null
    for st in blurpad2 social2; do
        "$S" match --db "$W/dbe" "$W/evs/$st"/*.jpg >"$W/ev-$st.json"
    done
    # per style: copies made, copies matched to their own original, and
    # matches to another photo
    count() {
        python3 - "$W/ev.csv" "$1" <<'PY'
import json, os, sys
ids = {}
for line in open(sys.argv[1]):
    h, q, p = line.strip().split(",", 2)
    ids[h] = os.path.basename(p).rsplit(".", 1)[0]
n = own = other = 0
for line in open(sys.argv[2]):
    j = json.loads(line)
    me = os.path.basename(j["file"]).rsplit(".", 1)[0]
    n += 1
    hit = [ids.get(m["hash"]) for m in j["matches"]]
    own += me in hit
    other += sum(1 for i in hit if i != me)
print(n, own >= n - 2, other)
PY
    }
    is "$(count "$W/ev-blurpad2.json")" "5 True 0" "eval-dev, blurpad2 redrawn: >= 3 of 5 found, no other photo matched"
    is "$(count "$W/ev-social2.json")" "5 True 0" "eval-dev, social2 redrawn: >= 3 of 5 found, no other photo matched"
else
    skip "$SHARED/eval-dev not found"; skip "$SHARED/eval-dev not found"
fi

# Videos: letterbox and pillarbox bars are found once per video and the
# frames inside them matched too.
if command -v ffmpeg >/dev/null; then
        ff -f lavfi -i testsrc2=size=320x240:rate=10 -t 6 -pix_fmt yuv420p "$W/clip.mp4"
    ff -i "$W/clip.mp4" -vf pad=320:400:0:80:black -pix_fmt yuv420p "$W/clip-lb.mp4"
    ff -i "$W/clip.mp4" -vf pad=480:240:80:0:0x303030 -pix_fmt yuv420p "$W/clip-pb.mp4"
    "$S" hash "$W/clip.mp4" >"$W/clip.vpdq"
    "$S" import --db "$DB" --list vids --create --format vpdq --id clip "$W/clip.vpdq" >/dev/null
    for v in lb pb; do
        got=$(field "$W/clip-$v.mp4" '[(m["id"], m["query_match_percent"] >= 80, m["framing"]["w"], m["framing"]["h"]) for m in j["matches"] if m["type"] == "video"]')
        is "$got" "[('clip', True, 320, 240)]" "video $v: matched inside its bars (framing 320x240)"
    done
    got=$("$S" match --db "$DB" --no-regions "$W/clip-lb.mp4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
    is "$got" "False" "video: --no-regions, the letterboxed copy is not matched"
else
    skip "ffmpeg not installed"; skip "ffmpeg not installed"; skip "ffmpeg not installed"
fi

# The same over HTTP, on the admin API.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token"
"$BIN/scrimd" --db "$DB" --socket "$W/s" --listen none --threads 1 --log "$W/log" \
    --admin-token-file "$W/token" 2>"$W/stderr" &
PID=$!
# (60 s: the whole suite runs beside other work on 2 cores)
poll 1200 grep -q '"msg":"ready"' "$W/log" 2>/dev/null ||
    diag "scrimd not ready: $(tail -3 "$W/stderr" 2>/dev/null)"
code=$(curl -s -o "$W/out" -w '%{http_code}' --unix-socket "$W/s" \
    -H "Authorization: Bearer $(cat "$W/token")" --data-binary @"$FIX/blobs.png" \
    'http://scrimd/v1/lists/web/media?id=upload-17&create=1&variants=crop-10')
is "$code" "200" "POST /v1/lists/web/media adds an image" ||
    diag "$(head -c 300 "$W/out" 2>/dev/null; tail -3 "$W/log" 2>/dev/null)"
like "$(cat "$W/out")" '"variants":\["crop-10"\]' "... with the variants asked for"
got=$(curl -s --unix-socket "$W/s" --data-binary @"$W/pad.png" http://scrimd/v1/match |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(sorted({m["list"] for m in j["matches"]}), j["matches"][0]["region"]["w"])')
is "$got" "['own', 'partner', 'web'] 320" "/v1/match finds the padded copy in every list, with its region"
kill -TERM $PID
wait $PID
PID=
done_testing
