#!/usr/bin/env bash
# cli_hash.t - `scrim hash`: output formats, errors per file, exit status.
. "$(dirname "$0")/tap.sh"
plan 26
S="$BIN/scrim"
temp_dir TMP cli-hash

out=$("$S" hash "$FIX/blobs.png")
like "$out" '^[0-9a-f]{64},100,.*/blobs\.png$' "HASH,QUALITY,FILE line"
h_png=${out%%,*}

out=$("$S" hash --dihedral "$FIX/blobs.png")
is "$(printf '%s\n' "$out" | wc -l)" 8 "--dihedral prints 8 lines"
is "$(printf '%s\n' "$out" | head -1 | cut -d, -f1)" "$h_png" "first dihedral line is the plain hash"
is "$(printf '%s\n' "$out" | cut -d, -f1 | sort -u | wc -l)" 8 "the 8 variants differ"

out=$("$S" hash --json "$FIX/blobs.jpg")
py=$(printf '%s' "$out" | python3 -c 'import json,sys; o=json.loads(sys.stdin.read()); print(o["kind"], o["format"], o["width"], o["height"], len(o["pdq"][0]["hash"]), len(o["md5"]), len(o["sha256"]))')
is "$py" "image jpeg 320 240 64 32 64" "--json object with pdq, md5, sha256, size"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["md5"])')" \
   "$(md5sum < "$FIX/blobs.jpg" | cut -d' ' -f1)" "md5 is of the file's bytes"

h_jpg=$("$S" hash "$FIX/blobs.jpg" | cut -d, -f1)
d=$(python3 -c "print(bin(int('$h_png',16)^int('$h_jpg',16)).count('1'))")
ok $([ "$d" -le 10 ] && echo 0 || echo 1) "JPEG of the same pixels within 10 bits ($d)"

"$S" hash "$FIX/blobs.png" "$FIX/truncated.jpg" "$FIX/not-an-image.txt" "$TMP/missing.png" "$FIX/blobs.jpg" >"$TMP/out" 2>"$TMP/err"
st=$?
is "$st" 1 "exit status 1 when some files fail"
is "$(wc -l < "$TMP/out")" 2 "the good files are still hashed"
like "$(cat "$TMP/err")" 'truncated\.jpg: truncated or corrupt' "truncated file named with its reason"
like "$(cat "$TMP/err")" 'not-an-image\.txt: not an image' "non-image named with its reason"
like "$(cat "$TMP/err")" 'missing\.png: cannot open: No such file' "missing file named with its reason"

out=$("$S" hash - < "$FIX/blobs.png")
is "$out" "$h_png,100,-" "stdin with -"

"$S" hash --max-pixels 1000 "$FIX/blobs.png" >/dev/null 2>"$TMP/err"
like "$?:$(cat "$TMP/err")" '^1:.*too large: 320x240 is over the limit of 1000 pixels' "--max-pixels refuses larger images"

"$S" hash --bogus "$FIX/blobs.png" >/dev/null 2>&1
is "$?" 2 "unknown option is a usage error"

# --files-from: one path a line (file or stdin); a bad entry is reported and
# the rest hashed; an unreadable list is a usage error.
printf '%s\n\n%s\n%s\n' "$FIX/blobs.png" "$TMP/missing.png" "$FIX/blobs.jpg" > "$TMP/list"
"$S" hash --files-from "$TMP/list" >"$TMP/out" 2>"$TMP/err"
like "$?:$(cut -d, -f1 "$TMP/out" | tr '\n' ' ')|$(cat "$TMP/err")" "^1:$h_png $h_jpg \|.*missing\.png: cannot open" "--files-from hashes each listed file, reports the bad one"
is "$(printf '%s\n' "$FIX/blobs.png" | "$S" hash --files-from - | cut -d, -f1)" "$h_png" "--files-from - reads the list from stdin"
"$S" hash --files-from "$TMP/no-such-list" >/dev/null 2>&1
is "$?" 2 "--files-from with an unreadable list is a usage error"

# Transparency: a 96x96 PNG with an alpha gradient, and the same colours
# without alpha.  --alpha ignore hashes the stored colours (the reference
# CLI's way); the default flattens onto white, which here changes the hash.
python3 - "$TMP" <<'PY'
import struct, sys, zlib
def write(path, ctype, rows):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = b"".join(b"\0" + r for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 96, 96, 8, ctype, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))
col = lambda x, y: ((x * 5 + y) % 256, (x * y) % 256, ((x // 12 + y // 12) % 2) * 200 + 30)
write(sys.argv[1] + "/rgba.png", 6, [bytes(v for x in range(96) for v in col(x, y) + (x * 255 // 95,)) for y in range(96)])
write(sys.argv[1] + "/rgb.png", 2, [bytes(v for x in range(96) for v in col(x, y)) for y in range(96)])
PY
h_rgb=$("$S" hash "$TMP/rgb.png" | cut -d, -f1)
is "$("$S" hash --alpha ignore "$TMP/rgba.png" | cut -d, -f1)" "$h_rgb" "--alpha ignore: the stored colours, alpha dropped"
h_white=$("$S" hash "$TMP/rgba.png" | cut -d, -f1)
ok $([ -n "$h_white" ] && [ "$h_white" != "$h_rgb" ] && echo 0 || echo 1) "default: flattened onto white (another hash)"
"$S" hash --alpha grey "$TMP/rgba.png" >/dev/null 2>"$TMP/err"
like "$?:$(cat "$TMP/err")" "^2:.*--alpha must be 'white' or 'ignore'" "--alpha with a bad value is a usage error"

# -j: several files at a time, the output (and the errors) in input order.
files="$FIX/blobs.png $FIX/truncated.jpg $FIX/anim-alpha.webp $FIX/not-an-image.txt $TMP/rgb.png
       $TMP/missing.png $FIX/blobs.jpg $FIX/cmyk-no-adobe.jpg $TMP/rgba.png $FIX/fps-2e9.mp4"
# shellcheck disable=SC2086
"$S" hash -j 1 $files >"$TMP/o1" 2>"$TMP/e1"; st1=$?
# shellcheck disable=SC2086
"$S" hash -j 3 $files >"$TMP/o3" 2>"$TMP/e3"; st3=$?
# shellcheck disable=SC2086
"$S" hash -j 3 --json $files >"$TMP/j3" 2>/dev/null
# shellcheck disable=SC2086
"$S" hash -j 1 --json $files >"$TMP/j1" 2>/dev/null
ok $([ "$st1" = 1 ] && [ "$st3" = 1 ] && cmp -s "$TMP/o1" "$TMP/o3" && cmp -s "$TMP/e1" "$TMP/e3" &&
     [ "$(grep -c '^[0-9a-f]\{64\},' "$TMP/o1")" -ge 5 ] && echo 0 || echo 1) \
   "-j 3 prints what -j 1 prints, in the same order, errors too"
ok $(cmp -s "$TMP/j1" "$TMP/j3" && [ "$(wc -l < "$TMP/j3")" -ge 6 ] && echo 0 || echo 1) "-j 3 --json: the same objects in order"
# shellcheck disable=SC2086
printf '%s\n' $files | "$S" hash -j 2 --files-from - >"$TMP/f2" 2>"$TMP/fe2"
# shellcheck disable=SC2086
printf '%s\n' $files | "$S" hash -j 1 --files-from - >"$TMP/f1" 2>"$TMP/fe1"
ok $(cmp -s "$TMP/f1" "$TMP/f2" && cmp -s "$TMP/fe1" "$TMP/fe2" && echo 0 || echo 1) "--files-from with -j 2: as one at a time"
"$S" hash -j 0 "$FIX/blobs.png" >/dev/null 2>"$TMP/err"
like "$?:$(cat "$TMP/err")" "^2:.*--jobs" "-j 0 is a usage error"

if have_shared; then
    tail -n +2 "$SHARED/pdq/exact.csv" | sort -t, -k3 > "$TMP/want"
    (cd "$SHARED/pdq/exact" && "$S" hash $(cut -d, -f3 "$TMP/want")) | sort -t, -k3 > "$TMP/got"
    is "$(diff "$TMP/want" "$TMP/got" | grep -c '^[<>]'):$(wc -l < "$TMP/got")" "0:$(wc -l < "$TMP/want")" \
       "CLI reproduces exact.csv (every row)"
else
    skip "$SHARED not found"
fi
done_testing
