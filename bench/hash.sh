#!/usr/bin/env bash
# bench/hash.sh [DIR] - images/s per core for decode + hash on 1024-px JPEGs.
# Without DIR, 1024-px JPEG copies (quality 85) of ../shared/data/eval-dev/orig
# are made in a temp dir.  Compares with ImageMagick's decode of the same
# files, which is the decode path of Meta's reference CLI (CImg loads JPEGs
# through ImageMagick): a lower bound for the reference's time per image.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s bench >/dev/null
dir=${1:-}
if [ -z "$dir" ]; then
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    for f in ../shared/data/eval-dev/orig/*; do
        b=$(basename "${f%.*}")
        vips thumbnail "$f" "$dir/$b.jpg[Q=85,strip]" 1024 --size both
    done
fi
files=("$dir"/*.jpg)
echo "== ${#files[@]} JPEGs in $dir ($(du -sh "$dir" | cut -f1))"
taskset -c 0 build/rel/bench/hash_bench --min-seconds 5 "${files[@]}"
taskset -c 0 build/rel/bench/hash_bench --digests --min-seconds 5 "${files[@]}"
taskset -c 0 build/rel/bench/hash_bench --fast --min-seconds 5 "${files[@]}"
if command -v convert >/dev/null; then
    n=20
    s=$(date +%s.%N)
    for f in "${files[@]:0:$n}"; do taskset -c 0 convert "$f" ppm:- >/dev/null; done
    e=$(date +%s.%N)
    python3 -c "t=($e-$s)/$n; print(f'ImageMagick decode alone (reference CLI lower bound): {t*1000:.1f} ms/image, {1/t:.1f} images/s')"
fi
