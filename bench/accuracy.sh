#!/bin/bash
# bench/accuracy.sh ORIG_DIR [WORK_DIR] - recall and false matches of scrim's
# matcher against plain PDQ on any folder of photos:
#  1. the copies: make_transforms.sh's transforms ($MAKE_TRANSFORMS, else
#     ../shared/data/eval-dev/make_transforms.sh) and bench/repost_styles.sh's
#     re-post styles (social-media post, blurred-background pad, noisy
#     coloured border, pillarbox, and the second variants social2 and
#     blurpad2), into WORK_DIR/xf and WORK_DIR/xs (made once, kept);
#  2. build/rel/bench/accuracy: recall at radius $RADIUS (31) per transform
#     and overall, plain PDQ / scrim / scrim + index-side variants
#     ($VARIANTS), and false matches of every copy of A against the
#     original of B;
#  3. WORK_DIR/accuracy.md and, with gnuplot, WORK_DIR/accuracy.png.
# Env: JOBS (parallel vips jobs), RADIUS, VARIANTS, MAKE_TRANSFORMS.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 ORIG_DIR [WORK_DIR]" >&2; exit 2; }
orig=$(cd "$1" && pwd)
work=${2:-$here/build/accuracy}
mkdir -p "$work"
mt=${MAKE_TRANSFORMS:-$here/../shared/data/eval-dev/make_transforms.sh}
[ -f "$mt" ] || { echo "accuracy.sh: no make_transforms.sh at $mt (set MAKE_TRANSFORMS)" >&2; exit 2; }
[ -d "$work/xf" ] || JOBS=${JOBS:-2} bash "$mt" "$orig" "$work/xf"
[ -d "$work/xs" ] || JOBS=${JOBS:-2} bash "$here/bench/repost_styles.sh" "$orig" "$work/xs"
make -C "$here" -s build/rel/bench/accuracy >/dev/null
var=()
[ -n "${VARIANTS:-}" ] && var=(--variants "$VARIANTS")
"$here/build/rel/bench/accuracy" --radius "${RADIUS:-31}" "${var[@]}" \
    --dat "$work/recall.dat" "$orig" "$work/xf" "$work/xs" >"$work/accuracy.md"
cat "$work/accuracy.md"
if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 1400,600 font ",10"
set output "$work/accuracy.png"
set title "Recall at radius ${RADIUS:-31} per transform: plain PDQ against scrim's matcher"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "recall %"
set yrange [0:105]
set xtics rotate by -45 scale 0
set key top right
set grid ytics
plot "$work/recall.dat" using 2:xtic(1) title "plain PDQ", \
     "" using 3 title "scrim (regions x dihedral)", \
     "" using 4 title "scrim + index-side variants"
GP
    echo "plot: $work/accuracy.png"
fi
