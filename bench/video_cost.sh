#!/bin/bash
# video_cost.sh - the video cost targets of issue 20: scrim's vPDQ hashing
# with framing detection on, one thread, against FFmpeg's own decode of the
# same file, timed in the same rounds:
#   every frame     vs  ffmpeg -threads 1 -i F -f null -                   (<= 1.3x)
#   1 s per hash    vs  the same                                           (<= 1.2x)
#   key frames      vs  ffmpeg -threads 1 -skip_frame nokey -i F -f null - (<= 1.5x)
#
#   bench/video_cost.sh [-r ROUNDS] [-c CPU] [FILE...]
#
# Without FILEs: the 14 sample videos of $SCRIM_SHARED/data/vpdq (or
# ../shared) and six videos made here once with ffmpeg (testsrc2 and
# mandelbrot, 480p/720p/1080p, H.264 and VP9, letterboxed and pillarboxed;
# kept in ${VIDEO_COST_DIR:-/tmp/scrim-video-cost}).
#
# Times are CPU seconds (user + system) of whole processes, both sides: scrim
# is `build/rel/bench/video_bench once -f ...` (its start-up and FFmpeg's
# loading included, as ffmpeg's are).  Each round runs every command once in
# turn, pinned to one CPU (taskset -c CPU, default 1), so that load from
# other processes falls on both sides; each figure is the best of ROUNDS
# (default 3).  Prints one line per file and the ratios of the sums.
# VIDEO_BENCH=PATH times another build of video_bench; VIDEO_BENCH_BASE=PATH
# times a second one in the same rounds too (an A/B comparison: its ratios
# are printed on a line of their own under each file's).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=3
CPU=1
while getopts r:c: o; do
    case $o in
    r) ROUNDS=$OPTARG ;;
    c) CPU=$OPTARG ;;
    *) echo "usage: $0 [-r ROUNDS] [-c CPU] [FILE...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
BENCH=${VIDEO_BENCH:-${SCRIM_BUILD:-build/rel}/bench/video_bench}
BASE=${VIDEO_BENCH_BASE:-}
[ -x "$BENCH" ] || make -s "$BENCH"
command -v ffmpeg >/dev/null || { echo "ffmpeg is needed" >&2; exit 1; }
PIN=
command -v taskset >/dev/null && PIN="taskset -c $CPU"

if [ $# -eq 0 ]; then
    SHARED=${SCRIM_SHARED:-../shared}
    set -- "$SHARED"/data/vpdq/videos/*.mp4
    [ -f "$1" ] || set --
    DIR=${VIDEO_COST_DIR:-/tmp/scrim-video-cost}
    mkdir -p "$DIR"
    # name | source | size | seconds | codec | pad filter (picture inside bars)
    while IFS='|' read -r name src size secs codec pad; do
        f=$DIR/$name
        if [ ! -s "$f" ]; then
            case $codec in
            h264) enc="-c:v libx264 -preset veryfast -crf 23 -g 60" ;;
            vp9) enc="-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 0 -crf 34 -g 60" ;;
            esac
            # shellcheck disable=SC2086
            ffmpeg -nostdin -v error -y -f lavfi -i "$src=size=$size:rate=30" \
                -t "$secs" -vf "$pad,format=yuv420p" $enc "$f.part.${name##*.}" &&
                mv "$f.part.${name##*.}" "$f"
        fi
        set -- "$@" "$f"
    done <<EOF
mandel-480p-letterbox-h264.mp4|mandelbrot|854x360|10|h264|pad=854:480:0:60:black
testsrc-720p-pillarbox-h264.mp4|testsrc2|960x720|10|h264|pad=1280:720:160:0:black
mandel-1080p-letterbox-h264.mp4|mandelbrot|1920x800|5|h264|pad=1920:1080:0:140:black
testsrc-480p-pillarbox-vp9.webm|testsrc2|640x480|10|vp9|pad=854:480:107:0:black
mandel-720p-letterbox-vp9.webm|mandelbrot|1280x540|5|vp9|pad=1280:720:0:90:black
testsrc-1080p-pillarbox-vp9.webm|testsrc2|1440x1080|5|vp9|pad=1920:1080:240:0:0x202020
EOF
fi
[ $# -gt 0 ] || { echo "no videos (set SCRIM_SHARED or name files)" >&2; exit 1; }

# CPU seconds (user + system) of one command, or exit on failure.
# (bash's `times`: the children's user and system time, to the millisecond)
cpu() {
    local t
    # shellcheck disable=SC2086
    t=$( ($PIN "$@" >/dev/null 2>&1 || exit 1; times) ) ||
        { echo "failed: $*" >&2; exit 1; }
    echo "$t" | awk 'NR == 2 { s = 0
        for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] }
        printf "%.3f\n", s }'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

printf '%-38s %7s %7s %6s %7s %6s %7s %7s %6s\n' file ffmpeg every ratio 1s/hash \
    ratio ff-key key ratio
T_FF=0 T_EV=0 T_1S=0 T_FK=0 T_KF=0 T_BEV=0 T_B1S=0 T_BKF=0
for f in "$@"; do
    ff= ev= s1= fk= kf= bev= bs1= bkf=
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        ff=$(min "$(cpu ffmpeg -nostdin -v error -threads 1 -i "$f" -f null -)" "$ff")
        ev=$(min "$(cpu "$BENCH" once -f -s 0 "$f")" "$ev")
        [ -z "$BASE" ] || bev=$(min "$(cpu "$BASE" once -f -s 0 "$f")" "$bev")
        fk=$(min "$(cpu ffmpeg -nostdin -v error -threads 1 -skip_frame nokey -i "$f" -f null -)" "$fk")
        kf=$(min "$(cpu "$BENCH" once -f -k "$f")" "$kf")
        [ -z "$BASE" ] || bkf=$(min "$(cpu "$BASE" once -f -k "$f")" "$bkf")
        s1=$(min "$(cpu "$BENCH" once -f -s 1 "$f")" "$s1")
        [ -z "$BASE" ] || bs1=$(min "$(cpu "$BASE" once -f -s 1 "$f")" "$bs1")
        r=$((r + 1))
    done
    awk -v n="$(basename "$f")" -v ff="$ff" -v ev="$ev" -v s1="$s1" -v fk="$fk" -v kf="$kf" \
        'BEGIN { printf "%-38s %7.3f %7.3f %5.2fx %7.3f %5.2fx %7.3f %7.3f %5.2fx\n",
                 substr(n, 1, 38), ff, ev, ev / ff, s1, s1 / ff, fk, kf, kf / fk }'
    [ -z "$BASE" ] || awk -v ff="$ff" -v ev="$bev" -v s1="$bs1" -v fk="$fk" -v kf="$bkf" \
        'BEGIN { printf "%-38s %7s %7.3f %5.2fx %7.3f %5.2fx %7s %7.3f %5.2fx\n",
                 "  (VIDEO_BENCH_BASE)", "", ev, ev / ff, s1, s1 / ff, "", kf, kf / fk }'
    T_BEV=$(awk -v a="$T_BEV" -v b="${bev:-0}" 'BEGIN { print a + b }')
    T_B1S=$(awk -v a="$T_B1S" -v b="${bs1:-0}" 'BEGIN { print a + b }')
    T_BKF=$(awk -v a="$T_BKF" -v b="${bkf:-0}" 'BEGIN { print a + b }')
    T_FF=$(awk -v a="$T_FF" -v b="$ff" 'BEGIN { print a + b }')
    T_EV=$(awk -v a="$T_EV" -v b="$ev" 'BEGIN { print a + b }')
    T_1S=$(awk -v a="$T_1S" -v b="$s1" 'BEGIN { print a + b }')
    T_FK=$(awk -v a="$T_FK" -v b="$fk" 'BEGIN { print a + b }')
    T_KF=$(awk -v a="$T_KF" -v b="$kf" 'BEGIN { print a + b }')
done
awk -v ff="$T_FF" -v ev="$T_EV" -v s1="$T_1S" -v fk="$T_FK" -v kf="$T_KF" -v r="$ROUNDS" \
    -v bev="$T_BEV" -v b1s="$T_B1S" -v bkf="$T_BKF" \
    'BEGIN { printf "%-38s %7.3f %7.3f %5.2fx %7.3f %5.2fx %7.3f %7.3f %5.2fx\n",
             "all (sums)", ff, ev, ev / ff, s1, s1 / ff, fk, kf, kf / fk
             if (bev > 0)
                 printf "%-38s %7s %7.3f %5.2fx %7.3f %5.2fx %7s %7.3f %5.2fx\n",
                        "  (VIDEO_BENCH_BASE)", "", bev, bev / ff, b1s, b1s / ff, "", bkf, bkf / fk
             printf "targets: every frame <= 1.3x, 1 s per hash <= 1.2x, key frames <= 1.5x" \
                    " (framing on, one thread, CPU s, best of %d rounds)\n", r }'
