#!/bin/bash
# layers.t - src/ is layered in the order an upload passes through it, and a
# folder includes only its own private header and those of the folders
# before it.  Public headers (scrim.h, scrim/*.h) and system headers are
# open to every folder.
. tests/tap.sh

LAYERS="base decode hash video index match preview server review"

rank() {
    local i=0 l
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}

# check_tree SRC: prints one line per include that breaks the rule; returns
# the number of such lines (0: the tree keeps the rule).
check_tree() {
    local src=$1 bad=0 f dir own inc target
    for f in "$src"/*/*.c "$src"/*/*.h; do
        [ -e "$f" ] || continue
        dir=${f#"$src"/}
        dir=${dir%%/*}
        own=$(rank "$dir")
        if [ "$own" -lt 0 ]; then
            echo "$f: folder '$dir' is not one of the layers ($LAYERS)"
            bad=$((bad + 1))
            continue
        fi
        while IFS= read -r inc; do
            case $inc in
            scrim.h | scrim/*) continue ;;
            */*) target=${inc%%/*} ;;
            *)
                echo "$f: #include \"$inc\": a private header is named with its folder"
                bad=$((bad + 1))
                continue
                ;;
            esac
            if [ "$(rank "$target")" -lt 0 ] || [ "$(rank "$target")" -gt "$own" ]; then
                echo "$f: #include \"$inc\": $dir/ may not include $target/ (layers: $LAYERS)"
                bad=$((bad + 1))
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
    return $bad
}

plan 4

out=$(check_tree src)
ok $? "every #include in src/ keeps the layer order"
[ -n "$out" ] && printf '# %s\n' "$out"

folders=$(cd src && ls -d */ | tr -d / | sort | tr '\n' ' ')
want=$(printf '%s\n' $LAYERS | sort | tr '\n' ' ')
is "$folders" "$want" "src/ holds exactly the layer folders"

# The check itself must fail on a back edge: plant one in a copy.
temp_dir tmp
cp -r src "$tmp/src"
printf '#include "server/server.h"\n' >>"$tmp/src/hash/pdq.c"
out=$(check_tree "$tmp/src")
[ $? -ne 0 ] && printf '%s' "$out" | grep -q 'hash/pdq.c: #include "server/server.h"'
ok $? "a planted back edge (hash/ including server/) is caught"

cp src/decode/jpeg.c "$tmp/src/hash/pdq.c"
printf '#include "index.h"\n' >>"$tmp/src/decode/luma.c"
out=$(check_tree "$tmp/src")
[ $? -ne 0 ] && printf '%s' "$out" | grep -q 'decode/luma.c: #include "index.h"'
ok $? "an include without its folder is caught"

done_testing
