#!/usr/bin/env bash
# bench/hash.sh [DIR] - images/s per core for decode + hash on 1024-px JPEGs.
# Without DIR, 1024-px JPEG copies (quality 85) of ../shared/data/eval-dev/orig
# are made in a temp dir.  Compares with ImageMagick's decode of the same
# files, which is the decode path of Meta's reference CLI (CImg loads JPEGs
# through ImageMagick): a lower bound for the reference's time per image.
#
# REF=/path/to/pdq-photo-hasher also times Meta's reference CLI itself on
# the same files against `scrim hash` (whole runs, start-up included, best
# and median of ROUNDS alternating runs, default 5) and checks that both print the same
# hashes, and hash_bench's decode + hash time per image against the
# reference's time per image.  Build it from facebook/ThreatExchange pdq/cpp with its Makefile's
# flags (-O3) and Debian's cimg-dev; it runs `convert` from PATH per image.
# CPU=N pins everything to core N (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s bench >/dev/null
dir=${1:-}
cpu=${CPU:-0}
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
taskset -c "$cpu" build/rel/bench/hash_bench --min-seconds 5 "${files[@]}" | tee "${TMPDIR:-/tmp}/hash_bench.$$"
per=$(sed -n 's/.*(\([0-9.]*\) ms each.*/\1/p' "${TMPDIR:-/tmp}/hash_bench.$$")
rm -f "${TMPDIR:-/tmp}/hash_bench.$$"
taskset -c "$cpu" build/rel/bench/hash_bench --digests --min-seconds 5 "${files[@]}"
taskset -c "$cpu" build/rel/bench/hash_bench --fast --min-seconds 5 "${files[@]}"
if command -v convert >/dev/null; then
    n=20
    s=$(date +%s.%N)
    for f in "${files[@]:0:$n}"; do taskset -c "$cpu" convert "$f" ppm:- >/dev/null; done
    e=$(date +%s.%N)
    python3 -c "t=($e-$s)/$n; print(f'ImageMagick decode alone (reference CLI lower bound): {t*1000:.1f} ms/image, {1/t:.1f} images/s')"
fi
if [ -n "${REF:-}" ]; then
    python3 - "$REF" "$cpu" "$per" "${ROUNDS:-5}" "${files[@]}" <<'PY'
import statistics, subprocess, sys, time
ref, cpu, per, rounds, files = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
cmds = {"reference CLI": [ref], "scrim hash": ["bin/scrim", "hash"]}
times = {k: [] for k in cmds}
out = {}
for _ in range(rounds):
    for name, cmd in cmds.items():
        t = time.monotonic()
        r = subprocess.run(["taskset", "-c", cpu] + cmd + files,
                           capture_output=True, text=True)
        times[name].append(time.monotonic() - t)
        out[name] = {l.rsplit(",", 1)[-1]: l.split(",")[0]
                     for l in r.stdout.splitlines() if l.count(",") >= 2}
n = len(files)
for name, ts in times.items():
    print(f"{name}: {len(out[name])}/{n} hashed, {min(ts) / n * 1000:.2f} ms/image best, "
          f"{statistics.median(ts) / n * 1000:.2f} median (whole runs of {n} files)")
a, b = out["reference CLI"], out["scrim hash"]
d = [bin(int(a[f], 16) ^ int(b[f], 16)).count("1") for f in a if f in b]
print(f"agreement: {d.count(0)}/{len(d)} identical, max distance {max(d) if d else '-'}")
best = {k: min(v) for k, v in times.items()}
med = {k: statistics.median(v) for k, v in times.items()}
print(f"scrim hash is {best['reference CLI'] / best['scrim hash']:.1f}x faster (best runs), "
      f"{med['reference CLI'] / med['scrim hash']:.1f}x (medians)")
print(f"decode + hash alone (hash_bench above, {per:.2f} ms): "
      f"{best['reference CLI'] / n * 1000 / per:.1f}x the reference's best, "
      f"{med['reference CLI'] / n * 1000 / per:.1f}x its median")
PY
fi
