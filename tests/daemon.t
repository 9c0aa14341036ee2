#!/bin/sh
# daemon.t - black-box tests of bin/scrimd: starts the real daemon on a temp
# socket, a temp database and a free TCP port, and checks every endpoint and
# error status over HTTP (curl; perl for raw, misbehaving clients).
set -u
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl ffmpeg
temp_dir T daemon
SOCK=$T/run/scrimd.sock

# ---- fixtures (generated, small) -----------------------------------------------
ff -f lavfi -i testsrc=size=640x480 -frames:v 1 "$T/a.jpg"
ff -i "$T/a.jpg" -vf transpose=1 "$T/rot.jpg"
ff -f lavfi -i mandelbrot=size=640x480 -frames:v 1 "$T/b.jpg"
ff -f lavfi -i smptebars=size=640x480 -frames:v 1 "$T/c.jpg"
ff -f lavfi -i color=c=gray:s=64x64 -frames:v 1 "$T/flat.png"
# Slow to decode but small: 100 megapixels of one grey.
ff -f lavfi -i color=c=gray:s=10000x10000 -frames:v 1 -pix_fmt gray "$T/big.png"
head -c 9000 "$T/a.jpg" >"$T/trunc.jpg"
head -c 1000 "$FIX/cmyk8.tif" >"$T/trunc.tif"   # cut before its directory
echo "hello, not an image" >"$T/text"
huge_png "$T/huge.png"
mkdir -p "$T/allowed/sub" "$T/outside"
cp "$T/a.jpg" "$T/allowed/sub/a.jpg"
cp "$T/a.jpg" "$T/outside/a.jpg"
ln -s ../outside/a.jpg "$T/allowed/link.jpg"
TOKEN=test-token-0123456789abcdef
echo "$TOKEN" >"$T/token"

cat >"$T/conf" <<EOF
# scrimd test config
threads = 2
queue = 64
max-body = 4M
idle-timeout = 2   # cuts the slowloris client below
receive-timeout = 3   # cuts the client that trickles, below
admin-token-file = $T/token
allow-path = $T/allowed
EOF

start() {
    scrimd_start --config "$T/conf" --db "$T/db" --listen 127.0.0.1:0
    PORT=$(sed -n 's/.*"tcp":"[^"]*","port":\([0-9]*\).*/\1/p' "$T/log" | head -n 1)
}
# logged N PATTERN: the count of lines of $T/log matching PATTERN is not N.
logged() { [ "$(grep -c "$2" "$T/log")" != "$1" ]; }
reload() {   # wait for the reload to be logged
    before=$(grep -c 'settings reloaded\|reload failed' "$T/log")
    kill -HUP "$PID"
    poll 600 logged "$before" 'settings reloaded\|reload failed'
}

# ---- command line ------------------------------------------------------------------
out=$("$BIN/scrimd" --help)
echo "$out" | grep -q -- '--max-body BYTES.*\[67108864\]'
ok $? "--help prints each option with its default"
"$BIN/scrimd" --threads 999 2>"$T/err"
is "$?:$(cat "$T/err")" "2:scrimd: --threads: expected an integer from 0 to 256, got '999'" \
    "an out-of-range option is refused with its range"
printf 'threads = 2\nmax-body = lots\n' >"$T/bad.conf"
"$BIN/scrimd" --config "$T/bad.conf" 2>"$T/err"
grep -q "bad.conf:2: --max-body: expected a whole number" "$T/err"
ok $? "a bad config line is named by file and line"
"$BIN/scrimd" --config "$T/conf" --max-body 1M --print-settings >"$T/eff"
grep -q '^max-body = 1048576$' "$T/eff" && grep -q '^threads = 2$' "$T/eff"
ok $? "--print-settings: config file, then command line"

# ---- start, stale socket -------------------------------------------------------------
start
[ -S "$SOCK" ] && [ -n "$PORT" ]
ok $? "listens on the Unix socket and a free TCP port"
scrimd_stop KILL 2>/dev/null
# systemd readiness: READY=1 on $NOTIFY_SOCKET once serving.
perl -MIO::Socket::UNIX -MSocket -e '
    my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die;
    local $SIG{ALRM} = sub { exit }; alarm 10;
    $s->recv(my $m, 256); print $m' "$T/notify" >"$T/notify.out" &
NOTIFY=$!
poll 600 test -S "$T/notify"
export NOTIFY_SOCKET="$T/notify"
start
unset NOTIFY_SOCKET
wait $NOTIFY
is "$(cat "$T/notify.out")" "READY=1" "tells systemd READY=1 (sd_notify protocol)"
http GET /healthz
is "$code:$(jv '$j->{status}')" "200:ok" "restarts over a stale socket; /healthz"
code=$(curl -s -o "$T/out" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
is "$code" 200 "/healthz over TCP"
# the database read in by the background preload (--preload 1, the default)
wait_log '"msg":"preloaded"'
grep '"msg":"preloaded"' "$T/log" | grep -q '"bytes":[1-9][0-9]*,.*"stopped":false'
ok $? "preloads the database in the background and logs it"
# then keeps every PDQ in memory (--cache-hashes 1, the default); admin
# imports below extend it as they commit
wait_log '"msg":"hashes cached"'
grep '"msg":"hashes cached"' "$T/log" | grep -q '"hashes":[0-9]*,.*"stopped":false'
ok $? "caches the database's hashes in the background and logs it"

# ---- /v1/hash --------------------------------------------------------------------------
http POST /v1/hash --data-binary @"$T/a.jpg"
is "$code:$(jv '$j->{kind}'):$(jv '$j->{width}')x$(jv '$j->{height}')" "200:image:640x480" \
    "POST /v1/hash"
PDQ_A=$(jv '$j->{pdq}[0]{hash}')
MD5_A=$(jv '$j->{md5}')
is "$(jv '$j->{dihedral}')" null "no dihedral hashes unless asked"
http POST '/v1/hash?dihedral=1' --data-binary @"$T/a.jpg" -H 'Content-Type: text/plain'
is "$code:$(jv '$j->{dihedral}'):$(jv '$j->{dihedral}[0]{hash}')" "200:8:$PDQ_A" \
    "?dihedral=1 gives 8 variants; the media type is sniffed, not the header's"
http POST /v1/hash --data-binary @"$T/b.jpg"
PDQ_B=$(jv '$j->{pdq}[0]{hash}')
MD5_B=$(jv '$j->{md5}')
http POST /v1/hash --data-binary @"$T/c.jpg"
PDQ_C=$(jv '$j->{pdq}[0]{hash}')
http POST /v1/hash --data-binary @"$T/flat.png"
PDQ_FLAT=$(jv '$j->{pdq}[0]{hash}')
is "$code:$(jv '$j->{pdq}[0]{quality} < 50 ? 1 : 0')" "200:1" "a flat image hashes with quality < 50"

# ---- errors ------------------------------------------------------------------------------
http POST /v1/hash --data-binary @"$T/text"
is "$code:$(jv '$j->{error}{code}')" "415:unsupported" "415 for a body that is not an image"
http POST /v1/hash --data-binary @"$T/trunc.jpg"
is "$code:$(jv '$j->{error}{code}')" "415:corrupt" "415 for a truncated JPEG"
http POST /v1/hash --data-binary @"$T/trunc.tif"
is "$code:$(jv '$j->{error}{code}')" "415:corrupt" "415 corrupt (not unsupported) for a TIFF cut before its directory"
http POST /v1/hash --data-binary @"$T/huge.png"
is "$code:$(jv '$j->{error}{code}')" "413:too_large" "413 for a 60000x60000 PNG (header only)"
jv '$j->{error}{message}' | grep -q 60000x60000
ok $? "the 413 message names the size"
http POST /v1/hash
is "$code:$(jv '$j->{error}{code}')" "400:bad_request" "400 for an empty body"
http POST '/v1/hash?dihedral=7' --data-binary @"$T/a.jpg"
is "$code:$(jv '$j->{error}{code}')" "400:bad_request" "400 for a bad query value"
http POST '/v1/hash?dihedral' --data-binary @"$T/a.jpg"
is "$code" 400 "400 for a query argument without a value"
http GET /v1/nothing
is "$code:$(jv '$j->{error}{code}')" "404:not_found" "404 for an unknown path"
http GET /v1/hash
is "$code:$(jv '$j->{error}{code}')" "405:method_not_allowed" "405 for a wrong method"
head -c 5000000 /dev/zero >"$T/5M"
http POST /v1/hash --data-binary @"$T/5M"
is "$code" 413 "413 for a body over --max-body"
http POST /v1/hash -H 'Transfer-Encoding: chunked' --data-binary @"$T/5M"
is "$code" 413 "413 while reading a chunked body over --max-body"
# 2 GB announced: refused from the header, before any body is read.
perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print $s "POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n";
    local $SIG{ALRM} = sub { print "timeout\n"; exit };
    alarm 5; my $l = <$s>; print $l' "$SOCK" >"$T/raw"
grep -q '^HTTP/1.1 413' "$T/raw"
ok $? "413 at once for a 2 GB Content-Length"
# Truncated upload: 100000 bytes announced, 1000 sent, then the client leaves.
perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print $s "POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    print $s "\xff\xd8" x 500; close $s' "$SOCK"
http POST /v1/hash --data-binary @"$T/a.jpg"
is "$code:$(jv '$j->{pdq}[0]{hash}')" "200:$PDQ_A" "a truncated upload does not disturb the next client"

# A client that leaves while its image is being decoded.
scrimd_curl -o /dev/null --max-time 0.05 --data-binary @"$T/big.png" http://scrimd/v1/hash
idle() {
    http GET /metrics
    grep -q '^scrim_queue_depth 0$' "$T/out" && grep -q '^scrim_workers_busy 0$' "$T/out"
}
poll 200 idle   # the worker finishes the decode, then drops it
ok $? "a client leaving before its answer: its work is finished and dropped"

# ---- slowloris: others are served, the slow client is cut -------------------------------
perl -MIO::Socket::UNIX -MTime::HiRes=time -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print $s "POST /v1/hash HTTP/1.1\r\nHost: x\r\n";
    my $t = time; local $SIG{ALRM} = sub { print "still open\n"; exit };
    alarm 8; my $l = <$s>; printf "closed %.1f\n", time - $t' "$SOCK" >"$T/slow" &
SLOW=$!
sleep 0.3
http GET /healthz
is "$code" 200 "a slowloris client does not block others"
http POST /v1/hash --data-binary @"$T/a.jpg"
is "$code" 200 "... nor hashing"
wait $SLOW
grep -q '^closed' "$T/slow"
ok $? "the slowloris connection is closed after --idle-timeout ($(cat "$T/slow"))"
# A client that trickles its request, one byte every 0.4 s, is never silent
# for --idle-timeout; --receive-timeout cuts it.
perl -MIO::Socket::UNIX -MTime::HiRes=time,sleep -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die; $SIG{PIPE} = "IGNORE";
    $s->blocking(0); my $t = time;
    for my $c (split //, "POST /v1/hash HTTP/1.1\r\nHost: x\r\nX-Slow: " . ("a" x 40)) {
        last unless defined syswrite($s, $c);
        sleep 0.4;
        my $n = sysread($s, my $b, 100);
        if (defined $n && $n == 0) { printf "closed %.1f\n", time - $t; exit }
    }
    print "still open\n"' "$SOCK" >"$T/trickle" &
TRICKLE=$!
sleep 0.5
http POST /v1/hash --data-binary @"$T/a.jpg"
is "$code" 200 "a client that trickles does not hold up others"
wait $TRICKLE
awk '$1 == "closed" && $2 >= 2.5 && $2 < 5 { f = 1 } END { exit !f }' "$T/trickle"
ok $? "a client that trickles is cut after --receive-timeout ($(cat "$T/trickle"))"
grep -q '"msg":"connection closed mid-request","error":"receive_timeout"' "$T/log"
ok $? "... and logged as a receive_timeout"

# ---- concurrency -----------------------------------------------------------------------------
i=0
pids=
while [ $i -lt 8 ]; do
    if [ $((i % 2)) = 0 ]; then
        scrimd_curl --data-binary @"$T/a.jpg" http://scrimd/v1/hash >"$T/conc.$i" &
    else
        curl -s --max-time 20 --data-binary @"$T/a.jpg" \
            "http://127.0.0.1:$PORT/v1/hash" >"$T/conc.$i" &
    fi
    pids="$pids $!"
    i=$((i + 1))
done
wait $pids
is "$(cat "$T"/conc.* | grep -c "\"hash\":\"$PDQ_A\"")" 8 \
    "8 concurrent clients (Unix socket and TCP) all get the right hash"

# ---- admin auth and lists ----------------------------------------------------------------------
http GET /v1/lists
is "$code:$(jv '$j->{error}{code}')" "401:unauthorized" "401 without a token"
http GET /v1/lists -H "Authorization: Bearer wrong-token-0123456789"
is "$code:$(jv '$j->{error}{code}')" "403:forbidden" "403 with a wrong token"
http GET /v1/lists -H "$(auth)"
is "$code:$(jv '$j->{lists}')" "200:0" "GET /v1/lists"
http PUT /v1/lists/blk -H "$(auth)" --data '{"kind":"block","radius":31,"description":"test"}'
is "$code:$(jv '$j->{name}'):$(jv '$j->{radius}')" "201:blk:31" "PUT creates a list"
http PUT /v1/lists/blk -H "$(auth)" --data '{"radius":28}'
is "$code:$(jv '$j->{radius}'):$(jv '$j->{description}')" "200:28:test" "PUT changes one field"
http PUT /v1/lists/blk -H "$(auth)" --data '{"radius":99}'
is "$code" 400 "400 for a radius out of range"
http PUT /v1/lists/blk -H "$(auth)" --data '{"colour":"red"}'
is "$code" 400 "400 for an unknown field"
http PUT /v1/lists/blk -H "$(auth)" --data '{radius'
is "$code" 400 "400 for a body that is not JSON"
http PUT '/v1/lists/no%20good' -H "$(auth)" --data '{}'
is "$code" 400 "400 for an invalid list name"

http POST /v1/match --data-binary @"$T/a.jpg"
is "$code:$(jv '$j->{matched}'):$(jv '$j->{matches}')" "200:false:0" "no match before the import"
http POST /v1/lists/blk/import -H "$(auth)" --data-binary "pdq $PDQ_A
pdq $PDQ_FLAT
"
is "$code:$(jv '$j->{added}')" "200:2" "POST /v1/lists/blk/import"
http POST /v1/match --data-binary @"$T/a.jpg"
is "$code:$(jv '$j->{matched}'):$(jv '$j->{matches}[0]{list}'):$(jv '$j->{matches}[0]{distance}')" \
    "200:true:blk:0" "an imported hash matches on the very next /v1/match"
http POST /v1/match --data-binary @"$T/rot.jpg"
is "$code:$(jv '$j->{matched}')" "200:true" "a rotated copy matches (dihedral variants by default)"
http POST '/v1/match?dihedral=0' --data-binary @"$T/rot.jpg"
is "$code:$(jv '$j->{matched}')" "200:false" "... but not with ?dihedral=0"
http POST /v1/match --data-binary @"$T/b.jpg"
is "$code:$(jv '$j->{matched}')" "200:false" "an unrelated image does not match"
http POST /v1/match --data-binary @"$T/flat.png"
is "$code:$(jv '$j->{matched}')" "200:false" "a quality < 50 hash never matches by default"
http POST '/v1/match?min_quality=0' --data-binary @"$T/flat.png"
is "$code:$(jv '$j->{error}{code}')" "403:forbidden" "... and ?min_quality= needs the admin token"
http POST '/v1/match?min_quality=0' -H "$(auth)" --data-binary @"$T/flat.png"
is "$code:$(jv '$j->{matched}')" "200:true" "... with which it lets the hash match"

http POST /v1/lists/blk/import -H "$(auth)" --data-binary "pdq $PDQ_B
pdq nothex
"
is "$code:$(jv '$j->{error}{code}')" "400:bad_request" "a malformed import is refused"
jv '$j->{error}{message}' | grep -q '2'
ok $? "... naming the line ($(jv '$j->{error}{message}'))"
http POST /v1/match --data-binary @"$T/b.jpg"
is "$(jv '$j->{matched}')" false "... and nothing of it was imported"
http POST /v1/lists/nolist/import -H "$(auth)" --data-binary "pdq $PDQ_B"
is "$code" 404 "import into a missing list: 404"

http PUT /v1/lists/md5s -H "$(auth)" --data '{}'
http POST '/v1/lists/md5s/import?format=md5' -H "$(auth)" --data-binary "$MD5_B"
http POST /v1/match --data-binary @"$T/b.jpg"
is "$code:$(jv '$j->{matched}'):$(jv '$j->{matches}[0]{list}'):$(jv '$j->{matches}[0]{hash}')" \
    "200:true:md5s:$MD5_B" "MD5 exact match"
http PUT /v1/lists/ok -H "$(auth)" --data '{"kind":"allow"}'
http POST '/v1/lists/ok/import?format=hex' -H "$(auth)" --data-binary "$PDQ_C"
http POST /v1/match --data-binary @"$T/c.jpg"
is "$code:$(jv '$j->{matched}'):$(jv '$j->{allowed}'):$(jv '$j->{allowed}[0]{list}')" \
    "200:false:1:ok" "an allow-list hit is reported under allowed, not matched"

http GET "/v1/lookup?pdq=$PDQ_A"
is "$code:$(jv '$j->{matches}[0]{list}'):$(jv '$j->{query}')" "200:blk:$PDQ_A" "GET /v1/lookup?pdq="
http GET "/v1/lookup?md5=$MD5_B"
is "$code:$(jv '$j->{matches}[0]{list}')" "200:md5s" "GET /v1/lookup?md5="
http GET "/v1/lookup?pdq=1234"
is "$code" 400 "lookup: 400 for a malformed hash"
http GET "/v1/lookup"
is "$code" 400 "lookup: 400 without a hash"

http DELETE /v1/lists/md5s -H "$(auth)"
is "$code:$(jv '$j->{removed}')" "200:1" "DELETE /v1/lists/NAME"
http POST /v1/match --data-binary @"$T/b.jpg"
is "$(jv '$j->{matched}')" false "a dropped list no longer matches"
http DELETE /v1/lists/md5s -H "$(auth)"
is "$code" 404 "DELETE of a missing list: 404"
http GET /v1/audit -H "$(auth)"
[ "$code" = 200 ] && [ "$(jv '$j->{audit}')" -ge 5 ]
ok $? "GET /v1/audit records the changes"

# While another writer holds the database (a CLI import reading from a pipe
# that stays open), an admin import waits for it on the admin thread, and
# matches, whose review records go to side.mdb, are answered meanwhile.
http PUT /v1/lists/late -H "$(auth)" --data '{}'
mkfifo "$T/fifo"
(exec 3>"$T/fifo"; sleep 6) &
HOLD=$!
"$BIN/scrim" import --db "$T/db" --list held --create - <"$T/fifo" >/dev/null 2>&1 &
CLI=$!
sleep 0.5
(http POST /v1/lists/late/import -H "$(auth)" --data-binary "pdq $PDQ_B"
 echo "$code" >"$T/admin_code") &
ADMIN=$!
sleep 0.5
t0=$(date +%s.%N)
http POST /v1/match --data-binary @"$T/a.jpg"
c1="$code:$(jv '$j->{matched}'):$(jv '$j->{review}{id}' | wc -c)"
http POST /v1/match --data-binary @"$T/a.jpg"
c2="$code:$(jv '$j->{matched}')"
http POST /v1/hash --data-binary @"$T/b.jpg"
c3=$code
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
is "$c1 $c2 $c3" "200:true:32 200:true 200" "matches (with their review records) while a writer holds the database"
awk -v s="$secs" 'BEGIN { exit !(s < 3) }'
ok $? "... answered at once (${secs} s; the writer holds on for 5 s more)"
[ ! -s "$T/admin_code" ]
ok $? "... while the admin import still waits for the writer"
wait $HOLD $CLI $ADMIN
is "$(cat "$T/admin_code")" 200 "... and is done once the writer has finished"

# ---- ?path= confinement ------------------------------------------------------------------------
pathreq() { http POST /v1/match -G --data-urlencode "path=$1"; }
pathreq "$T/allowed/sub/a.jpg"
is "$code:$(jv '$j->{matched}')" "200:true" "?path= under --allow-path"
pathreq "$T/outside/a.jpg"
is "$code" 403 "?path= outside: 403"
outside=$(cat "$T/out")
pathreq "$T/allowed/link.jpg"
is "$code" 403 "?path= through a symlink out: 403"
pathreq "$T/allowed/../outside/a.jpg"
is "$code" 403 "?path= with ..: 403"
pathreq "allowed/sub/a.jpg"
is "$code" 403 "relative ?path=: 403"
# A missing file gets the very answer an outside one does: the answer must
# not tell which paths exist.
pathreq "$T/allowed/none.jpg"
is "$code:$(cat "$T/out")" "403:$outside" "?path= to a missing file: the same 403 and message as outside"

# ---- metrics and logs ------------------------------------------------------------------------------
http GET /metrics -H "$(auth)"
grep -q '^scrim_requests_total{endpoint="match",status="200"} [1-9]' "$T/out" &&
    grep -q '^scrim_matches_total{list="blk"} [1-9]' "$T/out" &&
    grep -q '^scrim_list_hashes{list="blk",type="pdq"} 2' "$T/out" &&
    grep -q '^scrim_request_duration_seconds_bucket{endpoint="hash",le="+Inf"}' "$T/out" &&
    grep -q '^scrim_errors_total{kind="too_large"} [1-9]' "$T/out" &&
    grep -q '^scrim_queue_depth 0' "$T/out"
ok $? "GET /metrics: requests, latency, matches by list, hash counts, errors, queue depth"
http GET /metrics
! grep -q 'list=' "$T/out" &&
    grep -q '^scrim_matches_all_lists_total [1-9]' "$T/out" &&
    grep -q '^scrim_hashes_all_lists{type="pdq"} [1-9]' "$T/out" &&
    grep -q '^scrim_lists [1-9]' "$T/out"
ok $? "GET /metrics without the admin token: totals, no list names"
grep -q '"endpoint":"match","path":"/v1/match","status":200,"bytes_in":[0-9]*,"bytes_out":[0-9]*,"ms":[0-9.e-]*,"matches":1' "$T/log"
ok $? "one structured log line per request"

# ---- reload: 503 when the queue is full, 504 on timeout -----------------------------------------
sed -i 's/^queue = .*/queue = 1/' "$T/conf"
reload
i=0
pids=
while [ $i -lt 10 ]; do
    scrimd_curl -o /dev/null -w '%{http_code}\n' --max-time 30 \
        --data-binary @"$T/big.png" http://scrimd/v1/hash >"$T/q.$i" &
    pids="$pids $!"
    i=$((i + 1))
done
wait $pids
c503=$(cat "$T"/q.* | grep -c 503)
c200=$(cat "$T"/q.* | grep -c 200)
[ "$c503" -ge 1 ] && [ "$c200" -ge 2 ] && [ $((c503 + c200)) = 10 ]
ok $? "a full queue answers 503 at once, the others are served ($c200 x 200, $c503 x 503)"
echo "request-timeout = 0.02" >>"$T/conf"
sed -i 's/^queue = .*/queue = 64/' "$T/conf"
reload
http GET /v1/settings -H "$(auth)"
is "$(jv '$j->{"request-timeout"}'):$(jv '$j->{queue}')" "0.02:64" "SIGHUP reloads the config"
http POST /v1/hash --data-binary @"$T/big.png"
is "$code:$(jv '$j->{error}{code}')" "504:timeout" "504 past --request-timeout"
http POST /v1/hash --data-binary @"$T/a.jpg"
sed -i '/^request-timeout/d' "$T/conf"
reload
http POST /v1/hash --data-binary @"$T/a.jpg"
is "$code" 200 "served normally after a timeout"
echo "max-body = huge" >>"$T/conf"
reload
grep -q 'reload failed, keeping the old settings' "$T/log"
ok $? "a bad config on reload keeps the old settings"
sed -i '/^max-body = huge/d' "$T/conf"
mv "$T/log" "$T/log.1"   # log rotation: SIGHUP reopens the file by name
reload
http GET /after-rotation
grep -q '"path":"/after-rotation"' "$T/log" && ! grep -q '"path":"/after-rotation"' "$T/log.1"
ok $? "SIGHUP reopens the log (rotation)"
wait_log '"msg":"preloaded"'
grep -q '"msg":"preloaded"' "$T/log"
ok $? "SIGHUP preloads the database again (after imports by the CLI)"
# A hash imported by the CLI while scrimd runs: found at once (read from the
# database, as the hash cache does not have it), and after SIGHUP, which
# extends the cache by it, found through the cache.
CLI_PDQ=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
echo "$CLI_PDQ" | "$BIN/scrim" import --db "$T/db" --list cli --create - >/dev/null 2>&1
ok $? "the CLI imports into the database scrimd has open"
http GET "/v1/lookup?pdq=$CLI_PDQ"
is "$code:$(jv '$j->{matches}[0]{list}'):$(jv '$j->{matches}[0]{distance}')" "200:cli:0" \
    "... and scrimd finds the hash at once"
cached=$(grep -c '"msg":"hashes cached"' "$T/log")
reload
poll 600 logged "$cached" '"msg":"hashes cached"'
grep '"msg":"hashes cached"' "$T/log" | tail -n 1 | grep -q '"added":1,'
ok $? "SIGHUP adds that hash to the hash cache"
http GET "/v1/lookup?pdq=$CLI_PDQ"
is "$code:$(jv '$j->{matches}[0]{list}'):$(jv '$j->{matches}[0]{distance}')" "200:cli:0" \
    "... and finds it through the cache"

# ---- SIGTERM drains in-flight requests ----------------------------------------------------------------
scrimd_curl -o "$T/drain" -w '%{http_code}' --max-time 30 \
    --data-binary @"$T/big.png" http://scrimd/v1/hash >"$T/drain.code" &
CURL=$!
sleep 0.1
scrimd_stop
rc=$?
wait $CURL
is "$rc:$(cat "$T/drain.code")" "0:200" "SIGTERM: the request in flight is answered, then exit 0"
[ ! -e "$SOCK" ]
ok $? "the socket is removed on exit"
no_sanitizer_reports "$T/stderr"

# ---- --user: bind as root, then serve as an unprivileged user -------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    chmod 0711 "$T"   # nobody must reach its directory
    mkdir -m 0777 "$T/pub"
    SOCK=$T/pub/sock
    scrimd_start --db "$T/pub/db" --listen none --user nobody
    uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4}' "/proc/$PID/status")
    want=$(id -u nobody)
    is "$uid" "$want,$want,$want" "--user: runs as that user after binding"
    http POST /v1/match --data-binary @"$T/a.jpg"
    is "$code" 200 "--user: serves and opens the database as that user"
    scrimd_stop
    is "$?" 0 "--user: drains and exits 0"
else
    skip "--user needs root and a 'nobody' user" 3
fi
done_testing
