#!/bin/sh
# badclients.sh - the misbehaving clients of the daemon issue, against a
# running scrimd (bench/load.sh -a runs it while its clients post JPEGs):
# a truncated upload, a 2 GB Content-Length, a 60000x60000 PNG, a non-image
# body, a client that trickles its headers (slowloris), and an admin import
# that must match on the very next /v1/match.  Prints what each got; exits 1
# if any answer is not the expected one.
#
# usage: bench/badclients.sh SOCKET ADMIN_TOKEN_FILE JPEG [TRICKLE_MAX_SECONDS]
set -u
SOCK=$1 TOKEN=$(cat "$2") IMG=$3 TMAX=${4:-120}
B=$(dirname "$0")/../bin
T=$(mktemp -d "${TMPDIR:-/tmp}/scrim-bad.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
check() {   # WHAT GOT WANT: WANT is an extended regexp
    if printf '%s' "$2" | grep -Eq "$3"; then echo "ok   $1: $2"; else
        echo "FAIL $1: $2 (want /$3/)"
        fail=1
    fi
}
post() {   # FILE: "STATUS BODY" of a POST /v1/match over the socket; a match
           # result is cut down to "matched" and the lists matched
    curl -s --unix-socket "$SOCK" -o "$T/out" -w '%{http_code}' --data-binary @"$1" \
        http://x/v1/match >"$T/code"
    printf '%s ' "$(cat "$T/code")"
    perl -MJSON::PP -e 'local $/; my $t = <STDIN>; my $j = eval { decode_json($t) };
        if ($j && exists $j->{matched}) {
            print encode_json({matched => $j->{matched},
                               lists => [map { $_->{list} } @{$j->{matches}}]});
        } else { $t =~ s/\s+$//; print substr($t, 0, 300) }' <"$T/out"
}

perl -MCompress::Zlib -e '
    sub chunk { my ($t, $d) = @_; pack("N", length $d) . $t . $d . pack("N", crc32($t . $d)) }
    print "\x89PNG\r\n\x1a\n", chunk("IHDR", pack("NNCCCCC", 60000, 60000, 8, 2, 0, 0, 0)),
          chunk("IDAT", compress("\0" x 64)), chunk("IEND", "")' >"$T/huge.png"
head -c 40000 "$IMG" >"$T/trunc.jpg"
printf 'hello, this is not an image' >"$T/text"

# The slow client first, in the background: one header byte a second until
# scrimd closes the connection (or TMAX seconds).
perl -MIO::Socket::UNIX -MTime::HiRes=time,sleep -e '
    my ($path, $max) = @ARGV; $SIG{PIPE} = "IGNORE";
    my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect: $!";
    $s->blocking(0); my $t = time;
    syswrite($s, "POST /v1/match HTTP/1.1\r\nHost: x\r\n");
    while (time - $t < $max) {
        sleep 1;
        my $n = sysread($s, my $b, 4096);
        if ((defined $n && $n == 0) || !defined syswrite($s, "a")) {
            printf "closed by scrimd after %.1f s\n", time - $t; exit;
        }
    }
    printf "still open after %.0f s\n", time - $t' "$SOCK" "$TMAX" >"$T/slow" &
SLOW=$!

got=$(perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die; local $/;
    open my $f, "<:raw", $ARGV[1] or die; my $b = <$f>;
    print $s "POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n$b";
    shutdown($s, 1); my $r = <$s>;
    print defined $r && length $r ? (split /\r\n/, $r)[0] : "closed, no reply"' "$SOCK" "$T/trunc.jpg")
check "upload cut short (40000 of 100000 bytes), client leaves" "$got" '^closed, no reply$'
check "truncated JPEG, whole request" "$(post "$T/trunc.jpg")" '^415 .*"corrupt"'
got=$(perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print $s "POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\nabc";
    my $l = <$s>; $l =~ s/\r?\n$//; print $l' "$SOCK")
check "Content-Length: 2147483648" "$got" '^HTTP/1.1 413'
check "60000x60000 PNG" "$(post "$T/huge.png")" '^413 .*"too_large"'
check "non-image body" "$(post "$T/text")" '^415 .*"unsupported"'

# Admin: a new list, one hash imported, then the very next match.
H=$("$B/scrim" hash "$IMG" | cut -d, -f1)
L=badclients-$$
auth="Authorization: Bearer $TOKEN"
check "admin without a token" "$(curl -s --unix-socket "$SOCK" -X PUT -d '{}' \
    -o /dev/null -w '%{http_code}' "http://x/v1/lists/$L")" '^401$'
check "PUT /v1/lists/$L" "$(curl -s --unix-socket "$SOCK" -H "$auth" -X PUT \
    -d '{"kind":"block","radius":31}' -o /dev/null -w '%{http_code}' "http://x/v1/lists/$L")" '^201$'
check "import of the JPEG's hash" "$(printf '%s\n' "$H" | curl -s --unix-socket "$SOCK" -H "$auth" \
    --data-binary @- "http://x/v1/lists/$L/import")" '"added":1'
check "the very next /v1/match" "$(post "$IMG")" "^200 .*\"matched\":true.*\"$L\""
curl -s --unix-socket "$SOCK" -H "$auth" -X DELETE -o /dev/null "http://x/v1/lists/$L"

wait $SLOW
check "slowloris (a header byte a second)" "$(cat "$T/slow")" '^closed by scrimd'
exit $fail
