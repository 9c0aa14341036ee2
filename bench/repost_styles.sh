#!/bin/bash
# repost_styles.sh IN_DIR OUT_DIR
#
# Re-post styles that make_transforms.sh does not make, written as
# OUT_DIR/<style>/<id>.jpg for every IN_DIR/<id>.{jpg,jpeg,png}.  Only the
# libvips CLI and coreutils; deterministic (every random choice is taken from
# cksum of the id).  Parallel over files (JOBS, default nproc); STYLES (a
# space-separated list) makes only some.
#
#   social    the picture under a header bar (round avatar + user name) with
#             a two-line caption below, on one of five background colours,
#             saved as JPEG q85 (a phone screenshot of a social-media post)
#   blurpad   the picture centred on a blurred (sigma = canvas width / 30),
#             darkened, enlarged copy of itself, on a 9:16 canvas for a
#             landscape picture or 16:9 for a portrait one (short-video apps)
#   border    a border of a random colour with luma noise sigma 3 (a
#             near-uniform border), each side 3..12% of the picture's side,
#             chosen independently; JPEG q80
#   pillarbox black bars left and right so that the canvas is 16:9 (bars of
#             W/6 each when the picture is already wider); JPEG q85
#
# Second variants, with other layouts and parameters, so that a detector is
# not fitted to one generator:
#   social2   a phone app's screen: a status bar and an app bar in a brand
#             colour (or the page's), a post header (avatar, name, "..."),
#             the picture edge to edge or with small margins on a canvas 600,
#             720 or 864 px wide, a row of action icons, a likes line, a
#             caption of two or three lines and a navigation bar with icons;
#             light or dark page; JPEG q70-94
#   blurpad2  the picture at 78-92% of a 4:5 or 1:1 canvas (so it narrows in
#             both directions), placed centred or a third of the way down,
#             on a blurred copy (sigma = width / 15 .. / 60) brightened or
#             darkened by 0.6..1.1, with a user-name tag on the background;
#             JPEG q75-90
#
# Other draws and parameters, to check that a detector is not fitted to one
# set of copies (defaults in brackets): SALT, mixed into every random choice
# [none]; BP_SIG, blurpad's sigma as a divisor of the canvas width [30];
# BP2_ASPECTS, blurpad2's canvas heights per unit of width ["5/4 1/1"];
# BP2_FR, its picture's share of the canvas, min and max percent ["78 92"];
# BP2_SIG, its sigma's divisor range ["15 60"]; S2_WIDTHS, social2's screen
# widths ["600 720 864"].
set -euo pipefail
export VIPS_CONCURRENCY=1 VIPS_WARNING=0
STYLES=${STYLES:-social blurpad border pillarbox social2 blurpad2}
want() { case " $STYLES " in *" $1 "*) return 0 ;; esac; return 1; }
FONT=${FONT:-DejaVu Sans}

rnd() { # rnd ID SALT MOD -> deterministic integer in 0..MOD-1
  echo $(( $(printf '%s/%s%s' "$1" "$2" "${SALT:-}" | cksum | cut -d' ' -f1) % $3 ))
}

one() {
  local src=$1 out=$2 b id W H t
  b=$(basename "$src"); id=${b%.*}
  t=$(mktemp -d "${TMPDIR:-/tmp}/repost.XXXXXX")
  trap 'rm -rf "$t"' RETURN
  vips colourspace "$src" "$t/in.v" srgb
  W=$(vipsheader -f width "$t/in.v"); H=$(vipsheader -f height "$t/in.v")

  if want social; then
    local pal=("255 255 255" "18 18 18" "250 246 240" "28 39 68" "240 242 245")
    local k bg fg m hh ch CW CH fs
    k=$(rnd "$id" bg 5); bg=${pal[$k]}
    if [ "$k" = 1 ] || [ "$k" = 3 ]; then fg="235 235 235"; else fg="20 20 20"; fi
    m=$(( W / 20 )); hh=$(( H / 7 > 24 ? H / 7 : 24 )); ch=$(( H / 5 > 30 ? H / 5 : 30 ))
    CW=$(( W + 2 * m )); CH=$(( hh + H + ch ))
    vips black "$t/z.v" "$CW" "$CH" --bands 3
    vips linear "$t/z.v" "$t/bg.v" "1 1 1" "$bg" --uchar
    vips linear "$t/z.v" "$t/fg.v" "1 1 1" "$fg" --uchar
    fs=$(( hh / 3 > 6 ? hh / 3 : 6 ))
    vips text "$t/name.v" "user_$id  ·  2h" --font "$FONT Bold $fs" --dpi 72
    vips text "$t/cap.v" "Can't believe this one, look! #repost #photo
seen on the timeline today ($id)" --font "$FONT $(( fs * 4 / 5 ))" --dpi 72 --width $(( W ))
    vips black "$t/mask0.v" "$CW" "$CH"
    vips insert "$t/mask0.v" "$t/name.v" "$t/mask1.v" $(( m + hh )) $(( hh / 3 ))
    vips insert "$t/mask1.v" "$t/cap.v" "$t/mask2.v" "$m" $(( hh + H + ch / 6 ))
    vips copy "$t/mask2.v" "$t/mask.v"
    vips draw_circle "$t/mask.v" 255 $(( m + hh / 3 )) $(( hh / 2 )) $(( hh / 3 )) --fill
    vips ifthenelse "$t/mask.v" "$t/fg.v" "$t/bg.v" "$t/frame.v" --blend
    vips insert "$t/frame.v" "$t/in.v" "$t/social.v" "$m" "$hh"
    vips jpegsave "$t/social.v" "$out/social/$id.jpg" --Q 85 --strip
  fi

  if want blurpad; then
    local BW BH sc sig
    if [ "$W" -ge "$H" ]; then BW=$W; BH=$(( W * 16 / 9 )); else BH=$H; BW=$(( H * 16 / 9 )); fi
    # scale that makes the picture cover the canvas
    sc=$(awk -v W="$W" -v H="$H" -v a="$BW" -v b="$BH" 'BEGIN{s=a/W; if (b/H>s) s=b/H; printf "%.6f", s*1.02}')
    vips resize "$t/in.v" "$t/big.v" "$sc"
    vips crop "$t/big.v" "$t/bigc.v" \
      $(( ($(vipsheader -f width "$t/big.v") - BW) / 2 )) $(( ($(vipsheader -f height "$t/big.v") - BH) / 2 )) "$BW" "$BH"
    sig=$(( BW / ${BP_SIG:-30} > 3 ? BW / ${BP_SIG:-30} : 3 ))
    vips gaussblur "$t/bigc.v" "$t/blr.v" "$sig"
    vips linear "$t/blr.v" "$t/blr2.v" 0.8 0 --uchar
    vips insert "$t/blr2.v" "$t/in.v" "$t/blurpad.v" $(( (BW - W) / 2 )) $(( (BH - H) / 2 ))
    vips jpegsave "$t/blurpad.v" "$out/blurpad/$id.jpg" --Q 85 --strip
  fi

  if want border; then
    local r g bl L R T B
    r=$(rnd "$id" r 256); g=$(rnd "$id" g 256); bl=$(rnd "$id" b 256)
    L=$(( W * (3 + $(rnd "$id" L 10)) / 100 )); R=$(( W * (3 + $(rnd "$id" R 10)) / 100 ))
    T=$(( H * (3 + $(rnd "$id" T 10)) / 100 )); B=$(( H * (3 + $(rnd "$id" B 10)) / 100 ))
    vips gaussnoise "$t/n.v" $(( W + L + R )) $(( H + T + B )) --sigma 3 --mean 0
    vips linear "$t/n.v" "$t/nb.v" "1 1 1" "$r $g $bl" --uchar
    vips insert "$t/nb.v" "$t/in.v" "$t/border.v" "$L" "$T"
    vips jpegsave "$t/border.v" "$out/border/$id.jpg" --Q 80 --strip
  fi

  if want pillarbox; then
    local P
    P=$(( (H * 16 / 9 - W) / 2 )); [ "$P" -gt 0 ] || P=$(( W / 6 ))
    vips embed "$t/in.v" "$t/pil.v" "$P" 0 $(( W + 2 * P )) "$H" --extend black
    vips jpegsave "$t/pil.v" "$out/pillarbox/$id.jpg" --Q 85 --strip
  fi

  if want social2; then social2 "$t" "$id" "$W" "$H" "$out"; fi
  if want blurpad2; then blurpad2 "$t" "$id" "$W" "$H" "$out"; fi
}

# social2 TMP ID W H OUT: a phone app's screen (see the header)
social2() {
  local t=$1 id=$2 W=$3 H=$4 out=$5
  local pages=("255 255 255" "0 0 0" "250 250 250" "36 37 38" "255 250 240")
  local bars=("59 89 152" "225 48 108" "29 161 242" "20 20 20" "page")
  local widths=(${S2_WIDTHS:-600 720 864})
  local k pg pfg bar bfg CW m PW PH sb ab ph ar lk cp nb y fs CH q
  k=$(rnd "$id" page2 5); pg=${pages[$k]}
  if [ "$k" = 1 ] || [ "$k" = 3 ]; then pfg="230 230 230"; else pfg="30 30 30"; fi
  bar=${bars[$(rnd "$id" bar2 5)]}
  if [ "$bar" = page ]; then bar=$pg; bfg=$pfg; else bfg="255 255 255"; fi
  CW=${widths[$(rnd "$id" cw2 ${#widths[@]})]}
  if [ "$(rnd "$id" m2 3)" = 0 ]; then m=$(( CW / 25 )); else m=0; fi
  PW=$(( CW - 2 * m )); PH=$(( H * PW / W ))
  sb=$(( CW * 55 / 1000 )); ab=$(( CW / 10 )); ph=$(( CW * 13 / 100 ))
  ar=$(( CW * 11 / 100 )); lk=$(( CW / 16 )); cp=$(( CW * (2 + $(rnd "$id" cl2 2)) / 18 ))
  nb=$(( CW * 12 / 100 ))
  CH=$(( sb + ab + ph + PH + ar + lk + cp + nb ))
  fs=$(( CW / 30 ))
  vips resize "$t/in.v" "$t/p2.v" "$(awk -v a="$PW" -v b="$W" 'BEGIN{printf "%.6f", a/b}')" \
    --vscale "$(awk -v a="$PH" -v b="$H" 'BEGIN{printf "%.6f", a/b}')"
  vips black "$t/z2.v" "$CW" "$CH" --bands 3
  vips linear "$t/z2.v" "$t/c2.v" "1 1 1" "$pg" --uchar
  vips copy "$t/c2.v" "$t/s2.v"
  # bars: status + app bar on top, navigation bar at the bottom
  vips draw_rect "$t/s2.v" "$bar" 0 0 "$CW" $(( sb + ab )) --fill
  vips draw_rect "$t/s2.v" "$bar" 0 $(( CH - nb )) "$CW" "$nb" --fill
  # masks: text and icons on the bars (bfg), on the page (pfg)
  vips black "$t/mb.v" "$CW" "$CH"
  vips black "$t/mp.v" "$CW" "$CH"
  vips text "$t/clock.v" "9:41" --font "$FONT Bold $(( sb * 6 / 10 ))" --dpi 72
  vips insert "$t/mb.v" "$t/clock.v" "$t/mb1.v" $(( CW / 20 )) $(( sb / 5 ))
  vips text "$t/title.v" "Photogram" --font "$FONT Bold $(( ab / 2 ))" --dpi 72
  vips insert "$t/mb1.v" "$t/title.v" "$t/mb2.v" $(( CW / 20 )) $(( sb + ab / 5 ))
  vips copy "$t/mb2.v" "$t/mb3.v"
  for i in 0 1 2; do # battery, signal, wifi
    vips draw_rect "$t/mb3.v" 255 $(( CW - CW / 20 - (i + 1) * sb )) $(( sb / 4 )) $(( sb * 2 / 3 )) $(( sb / 2 )) --fill
  done
  for i in 0 1 2 3 4; do # navigation icons
    vips draw_circle "$t/mb3.v" 255 $(( CW * (2 * i + 1) / 10 )) $(( CH - nb / 2 )) $(( nb / 5 ))
    vips draw_circle "$t/mb3.v" 255 $(( CW * (2 * i + 1) / 10 )) $(( CH - nb / 2 )) $(( nb / 5 - 2 ))
  done
  y=$(( sb + ab ))
  vips copy "$t/mp.v" "$t/mp1.v"
  vips draw_circle "$t/mp1.v" 255 $(( CW / 20 + ph / 3 )) $(( y + ph / 2 )) $(( ph / 3 )) --fill
  vips text "$t/nm.v" "traveller.$id" --font "$FONT Bold $fs" --dpi 72
  vips insert "$t/mp1.v" "$t/nm.v" "$t/mp2.v" $(( CW / 20 + ph )) $(( y + ph / 2 - fs / 2 ))
  vips text "$t/dots.v" "•••" --font "$FONT $fs" --dpi 72
  vips insert "$t/mp2.v" "$t/dots.v" "$t/mp3.v" $(( CW - CW / 10 )) $(( y + ph / 2 - fs / 2 ))
  vips copy "$t/mp3.v" "$t/mp4.v"
  y=$(( y + ph + PH ))
  for i in 0 1 2; do # like, comment, share
    vips draw_circle "$t/mp4.v" 255 $(( CW / 20 + ar / 3 + i * ar * 8 / 10 )) $(( y + ar / 2 )) $(( ar / 4 ))
    vips draw_circle "$t/mp4.v" 255 $(( CW / 20 + ar / 3 + i * ar * 8 / 10 )) $(( y + ar / 2 )) $(( ar / 4 - 1 ))
  done
  vips draw_rect "$t/mp4.v" 255 $(( CW - CW / 20 - ar / 3 )) $(( y + ar / 4 )) $(( ar / 3 )) $(( ar / 2 ))
  y=$(( y + ar ))
  vips text "$t/lk.v" "$(( 100 + $(rnd "$id" likes 9000) )) likes" --font "$FONT Bold $fs" --dpi 72
  vips insert "$t/mp4.v" "$t/lk.v" "$t/mp5.v" $(( CW / 20 )) "$y"
  y=$(( y + lk ))
  vips text "$t/cp.v" "<b>traveller.$id</b> Found this again today and had to share it, what a view. Tag someone who needs to see this #throwback #nofilter #photooftheday" \
    --font "$FONT $(( fs * 9 / 10 ))" --dpi 72 --width $(( CW - CW / 10 ))
  vips insert "$t/mp5.v" "$t/cp.v" "$t/mp6.v" $(( CW / 20 )) "$y"
  vips black "$t/zz.v" "$CW" "$CH" --bands 3
  vips linear "$t/zz.v" "$t/bfg.v" "1 1 1" "$bfg" --uchar
  vips linear "$t/zz.v" "$t/pfg.v" "1 1 1" "$pfg" --uchar
  vips ifthenelse "$t/mb3.v" "$t/bfg.v" "$t/s2.v" "$t/s3.v" --blend
  vips ifthenelse "$t/mp6.v" "$t/pfg.v" "$t/s3.v" "$t/s4.v" --blend
  vips insert "$t/s4.v" "$t/p2.v" "$t/s5.v" "$m" $(( sb + ab + ph ))
  q=$(( 70 + $(rnd "$id" q2 25) ))
  vips jpegsave "$t/s5.v" "$out/social2/$id.jpg" --Q "$q" --strip
}

# blurpad2 TMP ID W H OUT: the picture inside both sides of a blurred canvas
blurpad2() {
  local t=$1 id=$2 W=$3 H=$4 out=$5
  local BW BH fr PW PH sc sig g x y q
  local asp=(${BP2_ASPECTS:-5/4 1/1}) fmin fmax smin smax
  read -r fmin fmax <<<"${BP2_FR:-78 92}"
  read -r smin smax <<<"${BP2_SIG:-15 60}"
  BW=$(( W > H ? W : H ))
  BH=$(( BW * ${asp[$(rnd "$id" asp ${#asp[@]})]} ))
  fr=$(( fmin + $(rnd "$id" fr $(( fmax - fmin + 1 ))) ))
  # the picture at fr% of the canvas in its limiting direction
  sc=$(awk -v W="$W" -v H="$H" -v a="$BW" -v b="$BH" -v f="$fr" \
    'BEGIN{s=a/W; if (b/H<s) s=b/H; printf "%.6f", s*f/100}')
  vips resize "$t/in.v" "$t/bp.v" "$sc"
  PW=$(vipsheader -f width "$t/bp.v"); PH=$(vipsheader -f height "$t/bp.v")
  sc=$(awk -v W="$W" -v H="$H" -v a="$BW" -v b="$BH" 'BEGIN{s=a/W; if (b/H>s) s=b/H; printf "%.6f", s*1.05}')
  vips resize "$t/in.v" "$t/bb.v" "$sc"
  vips crop "$t/bb.v" "$t/bbc.v" \
    $(( ($(vipsheader -f width "$t/bb.v") - BW) / 2 )) $(( ($(vipsheader -f height "$t/bb.v") - BH) / 2 )) "$BW" "$BH"
  sig=$(( BW / (smin + $(rnd "$id" sig $(( smax - smin + 1 )))) )); [ "$sig" -ge 2 ] || sig=2
  g=$(awk -v r="$(rnd "$id" gain 51)" 'BEGIN{printf "%.2f", 0.6 + r / 100}')
  vips gaussblur "$t/bbc.v" "$t/bbl.v" "$sig"
  vips linear "$t/bbl.v" "$t/bbl2.v" "$g" 0 --uchar
  x=$(( (BW - PW) / 2 ))
  if [ "$(rnd "$id" pos 2)" = 0 ]; then y=$(( (BH - PH) / 2 )); else y=$(( (BH - PH) / 3 )); fi
  vips insert "$t/bbl2.v" "$t/bp.v" "$t/bp2.v" "$x" "$y"
  # a user-name tag on the background, below the picture
  vips text "$t/tag.v" "@clips_$id" --font "$FONT Bold $(( BW / 28 ))" --dpi 72
  vips black "$t/tz.v" "$BW" "$BH"
  vips insert "$t/tz.v" "$t/tag.v" "$t/tm.v" $(( BW / 20 )) $(( y + PH + (BH - y - PH) / 3 ))
  vips black "$t/tw.v" "$BW" "$BH" --bands 3
  vips linear "$t/tw.v" "$t/tw2.v" "1 1 1" "255 255 255" --uchar
  vips ifthenelse "$t/tm.v" "$t/tw2.v" "$t/bp2.v" "$t/bp3.v" --blend
  q=$(( 75 + $(rnd "$id" q3 16) ))
  vips jpegsave "$t/bp3.v" "$out/blurpad2/$id.jpg" --Q "$q" --strip
}

[ $# -eq 2 ] || { echo "usage: $0 IN_DIR OUT_DIR" >&2; exit 2; }
IN=$1 OUT=$2
for s in $STYLES; do mkdir -p "$OUT/$s"; done
export -f one rnd want social2 blurpad2
export FONT STYLES SALT BP_SIG BP2_ASPECTS BP2_FR BP2_SIG S2_WIDTHS
find "$IN" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) -print0 |
  xargs -0 -P "${JOBS:-$(nproc)}" -I{} bash -c 'one "$1" "$2"' _ {} "$OUT"
