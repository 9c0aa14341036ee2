#!/usr/bin/env bash
# bench/agree.sh - does `scrim hash` agree with Meta's reference CLI on files
# encoded every way uploads come?  REF=/path/to/pdq-photo-hasher is required
# (built from facebook/ThreatExchange pdq/cpp with Debian's cimg-dev; it
# decodes through ImageMagick's `convert`, which must be installed, as must
# libvips' `vips`).  From N photos of ../shared/data/eval-dev/orig (default
# 12) it makes JPEGs (4:2:0, 4:2:2, 4:4:4, progressive, quality 40, grey,
# CMYK), PNGs (RGB, grey, palette, 16-bit, interlaced, with uniform alpha,
# with an alpha gradient, squashed to 333x17, 7x9 and 4x4), WebP (lossy,
# lossless), GIF, TIFF (plain, LZW), HEIC where libvips writes it, and big
# JPEGs (the photos enlarged 5x, 20-48 MP), hashes each with both tools and
# prints, per kind, how many hashes are identical and the largest distance.
#
# usage: REF=... bench/agree.sh [N]
#        REF=... bench/agree.sh -d DIR   (every file of DIR as it is: photos
#        the project has never seen; prints each file that differs, and why
#        it may, from `file`)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${REF:?set REF=/path/to/pdq-photo-hasher}"
make -s all >/dev/null
if [ "${1:-}" = -d ]; then
    dir=${2:?usage: bench/agree.sh -d DIR}
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    find "$dir" -maxdepth 1 -type f | sort >"$t/list"
    tr '\n' '\0' <"$t/list" | xargs -0 "$REF" >"$t/ref.csv" 2>/dev/null || true
    bin/scrim hash --files-from "$t/list" >"$t/scrim.csv" 2>"$t/scrim.err" || true
    bin/scrim hash --alpha ignore --files-from "$t/list" >"$t/ign.csv" 2>/dev/null || true
    python3 - "$t" <<'PY'
import os, subprocess, sys
t = sys.argv[1]
def read(name):
    out = {}
    for line in open(os.path.join(t, name)):
        p = line.strip().split(",", 2)
        if len(p) == 3 and len(p[0]) == 64:
            out[p[2]] = (p[0], int(p[1]))
    return out
ref, got, ign = read("ref.csv"), read("scrim.csv"), read("ign.csv")
n = len(open(os.path.join(t, "list")).read().split("\n")) - 1
dist = lambda a, b: bin(int(a, 16) ^ int(b, 16)).count("1")
same = sum(1 for f in ref if f in got and got[f][0] == ref[f][0])
samei = sum(1 for f in ref if f in ign and ign[f][0] == ref[f][0])
print(f"{n} files; the reference hashed {len(ref)}, scrim {len(got)} as images")
print(f"identical: {same}/{len(ref)} (default), {samei}/{len(ref)} (--alpha ignore)")
for f in sorted(ref):
    if f not in got:
        why = "not hashed as an image by scrim"
    elif ign.get(f, got[f])[0] != ref[f][0]:
        why = f"{dist(got[f][0], ref[f][0])} bits, {dist(ign[f][0], ref[f][0])} with --alpha ignore"
    else:
        continue
    kind = subprocess.run(["file", "-b", f], capture_output=True, text=True).stdout.strip()
    print(f"  {os.path.basename(f)}: {why} (reference quality {ref[f][1]}; {kind[:70]})")
PY
    sed 's/^/  scrim: /' "$t/scrim.err"
    exit 0
fi
n=${1:-12}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
for f in $(ls ../shared/data/eval-dev/orig/*.jpg | head -n "$n"); do
    b=$t/$(basename "$f" .jpg)
    vips copy "$f" "${b}_j420.jpg[Q=80,subsample-mode=on]"
    vips copy "$f" "${b}_j444.jpg[Q=95,subsample-mode=off]"
    vips copy "$f" "${b}_jprogressive.jpg[Q=75,interlace]"
    vips copy "$f" "${b}_jq40.jpg[Q=40]"
    convert "$f" -sampling-factor 2x1 -quality 85 "${b}_j422.jpg"
    convert "$f" -colorspace Gray -quality 90 "${b}_jgrey.jpg"
    convert "$f" -colorspace CMYK -quality 90 "${b}_jcmyk.jpg"
    vips copy "$f" "${b}_prgb.png"
    convert "$f" -colorspace Gray "${b}_pgrey.png"
    convert "$f" -colors 200 "${b}_ppalette.png"
    convert "$f" -depth 16 "${b}_p16bit.png"
    convert "$f" -interlace PNG "${b}_pinterlaced.png"
    convert "$f" -alpha set -channel A -evaluate set 60% +channel "${b}_palpha60.png"
    convert "$f" \( +clone -fx 'i/w' \) -alpha off -compose CopyOpacity -composite "${b}_palphagradient.png"
    convert "$f" -resize '333x17!' "${b}_p333x17.png"
    convert "$f" -resize '7x9!' "${b}_p7x9.png"
    convert "$f" -resize '4x4!' "${b}_p4x4.png"
    vips copy "$f" "${b}_wlossy.webp[Q=80]"
    vips copy "$f" "${b}_wlossless.webp[lossless]"
    convert "$f" "${b}_g.gif"
    vips copy "$f" "${b}_t.tif"
    vips copy "$f" "${b}_tlzw.tif[compression=lzw]"
    vips copy "$f" "${b}_h.heic[Q=80]" 2>/dev/null || rm -f "${b}_h.heic"
    vips resize "$f" "${b}_jbig5x.jpg[Q=90]" 5
done
files=("$t"/*_*.*)
"$REF" -k "${files[@]}" >"$t/ref.csv" 2>"$t/ref.err" || true
bin/scrim hash "${files[@]}" >"$t/scrim.csv" 2>"$t/scrim.err" || true
bin/scrim hash --alpha ignore "$t"/*_palpha*.png >"$t/scrim-ignore.csv" 2>/dev/null || true
python3 - "$t" <<'PY'
import collections, os, sys
t = sys.argv[1]
def read(name):
    out = {}
    for line in open(os.path.join(t, name)):
        h, q, f = line.strip().split(",", 2)
        out[os.path.basename(f)] = (h, int(q))
    return out
ref, got, ign = read("ref.csv"), read("scrim.csv"), read("scrim-ignore.csv")
def tally(title, mine):
    kinds = collections.defaultdict(list)
    for f, (h, q) in ref.items():
        if f in mine:
            kinds[f.rsplit("_", 1)[1]].append(bin(int(h, 16) ^ int(mine[f][0], 16)).count("1"))
    print(title)
    for k in sorted(kinds):
        d = kinds[k]
        print(f"  {k:22s} {d.count(0):3d}/{len(d):<3d} identical, max distance {max(d)}")
tally("scrim hash vs the reference CLI, per kind of file:", got)
tally("scrim hash --alpha ignore (the reference's treatment of alpha):", ign)
missing = sorted(set(ref) - set(got))
print(f"hashed by the reference only: {len(missing)} {' '.join(missing[:5])}")
PY
