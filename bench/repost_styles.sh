#!/bin/bash
# repost_styles.sh IN_DIR OUT_DIR
#
# Re-post styles that make_transforms.sh does not make, written as
# OUT_DIR/<style>/<id>.jpg for every IN_DIR/<id>.{jpg,jpeg,png}.  Only the
# libvips CLI and coreutils; deterministic (every random choice is taken from
# cksum of the id).  Parallel over files (JOBS, default nproc).
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
set -euo pipefail
export VIPS_CONCURRENCY=1 VIPS_WARNING=0
STYLES="social blurpad border pillarbox"
FONT=${FONT:-DejaVu Sans}

rnd() { # rnd ID SALT MOD -> deterministic integer in 0..MOD-1
  echo $(( $(printf '%s/%s' "$1" "$2" | cksum | cut -d' ' -f1) % $3 ))
}

one() {
  local src=$1 out=$2 b id W H t
  b=$(basename "$src"); id=${b%.*}
  t=$(mktemp -d "${TMPDIR:-/tmp}/repost.XXXXXX")
  trap 'rm -rf "$t"' RETURN
  vips colourspace "$src" "$t/in.v" srgb
  W=$(vipsheader -f width "$t/in.v"); H=$(vipsheader -f height "$t/in.v")

  # ---- social: header bar + picture + caption ----
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

  # ---- blurpad: picture on a blurred, enlarged copy of itself ----
  local BW BH sc sig
  if [ "$W" -ge "$H" ]; then BW=$W; BH=$(( W * 16 / 9 )); else BH=$H; BW=$(( H * 16 / 9 )); fi
  # scale that makes the picture cover the canvas
  sc=$(awk -v W="$W" -v H="$H" -v a="$BW" -v b="$BH" 'BEGIN{s=a/W; if (b/H>s) s=b/H; printf "%.6f", s*1.02}')
  vips resize "$t/in.v" "$t/big.v" "$sc"
  vips crop "$t/big.v" "$t/bigc.v" \
    $(( ($(vipsheader -f width "$t/big.v") - BW) / 2 )) $(( ($(vipsheader -f height "$t/big.v") - BH) / 2 )) "$BW" "$BH"
  sig=$(( BW / 30 > 3 ? BW / 30 : 3 ))
  vips gaussblur "$t/bigc.v" "$t/blr.v" "$sig"
  vips linear "$t/blr.v" "$t/blr2.v" 0.8 0 --uchar
  vips insert "$t/blr2.v" "$t/in.v" "$t/blurpad.v" $(( (BW - W) / 2 )) $(( (BH - H) / 2 ))
  vips jpegsave "$t/blurpad.v" "$out/blurpad/$id.jpg" --Q 85 --strip

  # ---- border: noisy border of a random colour, independent widths ----
  local r g bl L R T B
  r=$(rnd "$id" r 256); g=$(rnd "$id" g 256); bl=$(rnd "$id" b 256)
  L=$(( W * (3 + $(rnd "$id" L 10)) / 100 )); R=$(( W * (3 + $(rnd "$id" R 10)) / 100 ))
  T=$(( H * (3 + $(rnd "$id" T 10)) / 100 )); B=$(( H * (3 + $(rnd "$id" B 10)) / 100 ))
  vips gaussnoise "$t/n.v" $(( W + L + R )) $(( H + T + B )) --sigma 3 --mean 0
  vips linear "$t/n.v" "$t/nb.v" "1 1 1" "$r $g $bl" --uchar
  vips insert "$t/nb.v" "$t/in.v" "$t/border.v" "$L" "$T"
  vips jpegsave "$t/border.v" "$out/border/$id.jpg" --Q 80 --strip

  # ---- pillarbox: black bars left and right ----
  local P
  P=$(( (H * 16 / 9 - W) / 2 )); [ "$P" -gt 0 ] || P=$(( W / 6 ))
  vips embed "$t/in.v" "$t/pil.v" "$P" 0 $(( W + 2 * P )) "$H" --extend black
  vips jpegsave "$t/pil.v" "$out/pillarbox/$id.jpg" --Q 85 --strip
}

[ $# -eq 2 ] || { echo "usage: $0 IN_DIR OUT_DIR" >&2; exit 2; }
IN=$1 OUT=$2
for s in $STYLES; do mkdir -p "$OUT/$s"; done
export -f one rnd
export FONT
find "$IN" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) -print0 |
  xargs -0 -P "${JOBS:-$(nproc)}" -I{} bash -c 'one "$1" "$2"' _ {} "$OUT"
