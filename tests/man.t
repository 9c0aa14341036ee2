#!/bin/sh
# man.t - the man pages of doc/man/: they format without a warning (groff
# -wall, man --warnings), carry the programs' version, and name every
# command and option the programs' --help texts print, so that a new option
# cannot be left out of them unnoticed.
. "$(dirname "$0")/tap.sh"
need_tools groff
[ -x "$BIN/scrim" ] && [ -x "$BIN/scrimd" ] || skip_all "no $BIN/scrim and scrimd"
temp_dir TMP man
MAN=doc/man

# The page as plain ASCII text, wide, hyphens as typed.
text() { groff -man -Tascii -rLL=200n -P-cbou "$1" 2>/dev/null; }

for page in scrim.1 scrimd.8 scrimd.conf.5; do
    check "$page: groff -wall finds nothing" \
        sh -c 'out=$(groff -z -wall -man "$1" 2>&1); printf "%s" "$out"; [ -z "$out" ]' sh "$MAN/$page"
    if command -v man >/dev/null 2>&1; then
        check "$page: man --warnings finds nothing" \
            sh -c 'out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null); printf "%s" "$out"; [ -z "$out" ]' sh "$MAN/$page"
    else
        skip "man not installed"
    fi
    version=$("$BIN/scrim" --version | cut -d' ' -f2)
    like "$(sed -n 's/^\.TH //p' "$MAN/$page")" "\"scrim $version\"" "$page: .TH names scrim $version"
done

# missing PAGE_TEXT WORD... -> the words not in the text, or nothing.
missing() {
    _t=$1
    shift
    for _w in "$@"; do
        printf '%s\n' "$_t" | grep -qF -e "$_w" || printf '%s ' "$_w"
    done
}

t1=$(text "$MAN/scrim.1")
cmds=$("$BIN/scrim" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
ok $([ -n "$cmds" ]; echo $?) "scrim --help lists commands"
for c in $cmds; do
    opts=$("$BIN/scrim" "$c" --help 2>&1 | grep -o -e '--[a-z][a-z-]*' | sort -u)
    # as the page says them: the command's section heading, its options
    is "$(missing "$t1" "$c -- " $opts)" "" "scrim.1: '$c' and every option of 'scrim $c --help'"
done
is "$(missing "$t1" "scrim import --format vpdq" $("$BIN/scrim" import --format vpdq --help 2>&1 | grep -o -e '--[a-z][a-z-]*' | sort -u))" \
    "" "scrim.1: every option of 'scrim import --format vpdq --help'"

t8=$(text "$MAN/scrimd.8")
t5=$(text "$MAN/scrimd.conf.5")
dopts=$("$BIN/scrimd" --help | sed -n 's/^  \(--[a-z][a-z-]*\).*/\1/p')
ok $([ -n "$dopts" ]; echo $?) "scrimd --help lists options"
is "$(missing "$t8" $dopts --version)" "" "scrimd.8: every option of scrimd --help"
keys=$(printf '%s\n' $dopts | sed -n 's/^--//p' | grep -v -x -e config -e help -e print-settings | sed 's/$/ =/')
is "$(IFS='
'; missing "$t5" $keys)" "" "scrimd.conf.5: every option of scrimd --help as a key"
is "$("$BIN/scrimd" --print-settings --config tools/scrimd/scrimd.conf | sed -n 's/ = .*//p' | while read -r k; do
        printf '%s\n' "$t5" | grep -qF "$k =" || printf '%s ' "$k"; done)" \
    "" "scrimd.conf.5: every key --print-settings writes"
done_testing
