#!/bin/sh
# webhook_ab.sh [-n N] [-r ROUNDS] - what the webhook queue costs a match:
# scrimd's own time ("ms" of its log line) for N matching POST /v1/match
# (each upload another file: a new review record each time), without a
# webhook (A) and with one to a local receiver accepting everything (B),
# alternated ROUNDS times on one database.  Prints per round the median,
# p90 and mean of each; run from the top of the checkout after `make`.
set -eu
N=200 ROUNDS=3
while getopts n:r: o; do
    case $o in n) N=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac
done
BIN=${SCRIM_BIN:-$PWD/bin}
T=$(mktemp -d /tmp/webhook_ab.XXXXXX)
RPID= SPID=
cleanup() {
    [ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true
    [ -z "$RPID" ] || kill "$RPID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/secret"
printf 'hash,id\n%s,case-1\n' "$("$BIN/scrim" hash tests/fixtures/blobs.jpg | cut -d, -f1)" > "$T/l.csv"
"$BIN/scrim" import --db "$T/db" --list bad --create "$T/l.csv" >/dev/null
python3 tests/webhook_receiver.py serve --secret-file "$T/secret" --log /dev/null \
    --port-file "$T/port" &
RPID=$!
while [ ! -s "$T/port" ]; do sleep 0.05; done
i=0
round() { # LABEL [OPTIONS]: N matches, then the stats of their log lines
    label=$1
    shift
    : > "$T/log"
    "$BIN/scrimd" --db "$T/db" --socket "$T/sock" --listen none --log "$T/log" \
        --review-rate 0 "$@" &
    SPID=$!
    until grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do sleep 0.05; done
    k=0
    while [ $k -lt "$N" ]; do
        i=$((i + 1)) k=$((k + 1))
        { cat tests/fixtures/blobs.jpg; printf '%s' "$i"; } > "$T/up"
        curl -s -o /dev/null --unix-socket "$T/sock" --data-binary "@$T/up" \
            "http://scrimd/v1/match?content_id=ab-$i"
    done
    kill "$SPID"
    wait "$SPID" || true
    SPID=
    LABEL=$label perl -MJSON::PP -ne '$r = eval { decode_json($_) } or next;
        push @ms, $r->{ms} if ($r->{endpoint} // "") eq "match" && $r->{matches};
        END { @ms = sort { $a <=> $b } @ms; my $s = 0; $s += $_ for @ms;
              printf "%-12s n=%d median %.2f ms, p90 %.2f ms, mean %.2f ms\n", $ENV{LABEL},
                  scalar @ms, $ms[$#ms / 2], $ms[int(0.9 * $#ms)], $s / @ms }' \
        < "$T/log"
}
r=1
while [ $r -le "$ROUNDS" ]; do
    round "A(none)"
    round "B(webhook)" --webhook-url "http://127.0.0.1:$(cat "$T/port")/hook" \
        --webhook-secret-file "$T/secret"
    r=$((r + 1))
done
