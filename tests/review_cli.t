#!/bin/sh
# review_cli.t - `scrim preview`: the daemon's renderer from the command line
# (levels, explicit numbers, the lighter level, stdout) and its errors.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
need_helper
temp_dir T preview-cli
IN=$FIX/blobs.png
plan 10
check "default level: grey, <= 256 px, no detail finer than 24 blocks" \
    sh -c "'$BIN/scrim' preview '$IN' '$T/d.jpg' && '$HELPER' --measure 24 '$T/d.jpg'"
check "strong: 12 blocks" sh -c "'$BIN/scrim' preview --level strong '$IN' '$T/s.jpg' && '$HELPER' --measure 12 '$T/s.jpg'"
check "light: 40 blocks" sh -c "'$BIN/scrim' preview --level light '$IN' '$T/l.jpg' && '$HELPER' --measure 40 '$T/l.jpg'"
check "--lighter of standard: 48 blocks, and not the default" \
    sh -c "'$BIN/scrim' preview --lighter '$IN' '$T/x.jpg' && '$HELPER' --measure 48 '$T/x.jpg' && ! cmp -s '$T/x.jpg' '$T/d.jpg'"
check "explicit numbers: --size 128 --detail 16" \
    sh -c "'$BIN/scrim' preview --size 128 --detail 16 '$IN' '$T/e.jpg' && '$HELPER' --measure 16 '$T/e.jpg' | awk '{ exit !(\$3 <= 128 && \$4 <= 128) }'"
check "--level detail=20,blur=1.2 and stdout" \
    sh -c "'$BIN/scrim' preview --level detail=20,blur=1.2 '$IN' - > '$T/o.jpg' && '$HELPER' --measure 20 '$T/o.jpg'"
check "a bad level is a usage error naming it" \
    sh -c "'$BIN/scrim' preview --level fuzzy '$IN' '$T/b.jpg'; [ \$? = 2 ] && '$BIN/scrim' preview --level fuzzy '$IN' '$T/b.jpg' 2>&1 | grep -q fuzzy"
check "level none makes no preview" sh -c "'$BIN/scrim' preview --level none '$IN' '$T/n.jpg'; [ \$? = 2 ] && [ ! -e '$T/n.jpg' ]"
check "not an image: exit 1 with the reason" \
    sh -c "'$BIN/scrim' preview '$FIX/not-an-image.txt' '$T/t.jpg'; [ \$? = 1 ] && '$BIN/scrim' preview '$FIX/not-an-image.txt' '$T/t.jpg' 2>&1 | grep -q 'not an image'"
check "--detail out of range is refused" sh -c "'$BIN/scrim' preview --detail 1 '$IN' '$T/r.jpg'; [ \$? = 2 ]"
done_testing
