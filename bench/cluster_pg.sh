#!/bin/sh
# cluster_pg.sh - scrimd --cluster against its PostgreSQL: what the tests
# do not assert (bench/RESULTS.md, "Cluster and PostgreSQL").
#
#   bench/cluster_pg.sh fresh [-m MILLIONS]   a list of M million random PDQs
#       (default 10) imported through node 1 in 1M parts, then a new node
#       from PostgreSQL alone (an empty database): seconds until its
#       /healthz is 200, and until it matches the last hash.
#   bench/cluster_pg.sh outage [-s SECONDS]   3 nodes under a lookup loop;
#       PostgreSQL stopped for S seconds (default 30): failed lookups, what
#       admin writes answer, review records, decisions and reveals made
#       meanwhile, and whether they reach PostgreSQL afterwards, once.
#   bench/cluster_pg.sh compact [-m MILLIONS] [-n ROUNDS]   the same lists
#       imported again and again (default 5 rounds of: list feed dropped and
#       imported afresh, list mirror replaced; M million random PDQs each,
#       default 1) through node 1; a new node from PostgreSQL alone before
#       and after `scrim cluster compact --full`: the log's size and the
#       seconds until the new node's /healthz is 200.
#   bench/cluster_pg.sh accounts              a reviewer's request (GET
#       /v1/review/me, 2000 in a row) on a clustered node (the account read
#       from PostgreSQL each time) and on a single node (LMDB), alternated.
#   bench/cluster_pg.sh loop [-r RUNS]        3 nodes; RUNS times (default
#       100): a fresh list, an upload matched and rejected on node A, then
#       the same upload matched on node B (the next node) again and again
#       until it is reported allowed (suppressed_by) there: ms from node
#       A's reply to that, and the decision's own time on node A.
#
# Everything in a temp dir on Unix sockets, PostgreSQL of its own (Debian's
# postgresql), the release build (make first).  Run with nice -n 10 on a
# shared machine; the temp dir is deleted at the end (-k keeps it).
set -eu
cd "$(dirname "$0")/.."
MODE=${1:-}
[ -n "$MODE" ] && shift
MILLIONS= SECONDS_DOWN=30 KEEP=0 RUNS=100 ROUNDS=5
while getopts m:s:r:n:k o; do
    case $o in
    r) RUNS=$OPTARG ;;
    m) MILLIONS=$OPTARG ;;
    n) ROUNDS=$OPTARG ;;
    s) SECONDS_DOWN=$OPTARG ;;
    k) KEEP=1 ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
    esac
done
case $MODE in fresh|outage|accounts|loop|compact) ;; *) sed -n '2,30p' "$0"; exit 2 ;; esac
[ -n "$MILLIONS" ] || { [ "$MODE" = compact ] && MILLIONS=1 || MILLIONS=10; }
BIN=$PWD/build/rel/bin
FIX=$PWD/tests/fixtures
[ -x "$BIN/scrimd" ] || { echo "build first: make" >&2; exit 1; }
PGBIN=${SCRIM_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL's server programs are not installed" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/cluster_pg.XXXXXX")
chmod 711 "$T"
PIDS=
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || :; done
    pg pg_ctl -D "$PG/data" -m immediate -w stop >/dev/null 2>&1 || :
    [ "$KEEP" = 1 ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT INT TERM
TOKEN=bench-token-0123456789abcdef0123
echo "$TOKEN" >"$T/token"
AUTH="Authorization: Bearer $TOKEN"
now() { date +%s.%N; }
since() { perl -e "printf '%.2f', $(now) - $1"; }

# ---- PostgreSQL (as tests/cluster.t) ----------------------------------------
PG=$T/pg
mkdir "$PG"
AS=
if [ "$(id -u)" = 0 ]; then chown nobody "$PG"; AS="runuser -u nobody --"; fi
PORT=5434
pg() { (cd "$PG" && $AS "$PGBIN/$@"); }
pg initdb -D "$PG/data" -A trust -U scrim --no-sync -E UTF8 >"$T/initdb.log" 2>&1
pg_start() {
    pg pg_ctl -D "$PG/data" -l "$PG/log" -w -t 60 -o \
        "-k $PG -p $PORT -c listen_addresses= -c fsync=off" start >/dev/null
}
pg_stop() { pg pg_ctl -D "$PG/data" -m fast -w stop >/dev/null; }
pg_start
pg createdb -h "$PG" -p $PORT -U scrim scrim
psql() { pg psql -X -q -A -t -h "$PG" -p $PORT -U scrim scrim -c "$1"; }
URL="postgresql:///scrim?host=$PG&port=$PORT&user=scrim"

node_start() {
    _n=$1
    shift
    : >"$T/log$_n"
    "$BIN/scrimd" --db "$T/db$_n" --socket "$T/s$_n" --listen none \
        --threads 1 --video-threads 0 --admin-token-file "$T/token" \
        --admin-wait 600 --max-body 100000000 --cluster "$URL" \
        --log "$T/log$_n" "$@" 2>>"$T/stderr$_n" &
    eval "PID$_n=$!"
    PIDS="$PIDS $!"
    while ! grep -q '"msg":"ready"' "$T/log$_n"; do sleep 0.05; done
}
get() {
    _n=$1 _path=$2
    shift 2
    code=$(curl -s --max-time 900 --unix-socket "$T/s$_n" -o "$T/out" \
        -w '%{http_code}' "$@" "http://scrimd$_path")
}
jv() {
    perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) };
        my $v = eval $ARGV[0];
        if (JSON::PP::is_bool($v)) { print $v ? "true" : "false" }
        else { print defined $v ? $v : "null" }' "$1" <"$T/out"
}
healthy() { get "$1" /healthz && [ "$code" = 200 ]; }
pg_is() { get "$1" /healthz && [ "$(jv '$j->{cluster}{postgres}')" = "$2" ]; }
wait_for() {   # wait_for SECONDS COMMAND...: 0 once it succeeds
    _end=$(perl -e "print time + $1")
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$_end" ] || return 1
        sleep 0.05
    done
}

# ============================================================================
if [ "$MODE" = fresh ]; then
    node_start 1
    wait_for 60 healthy 1
    echo "# $MILLIONS million random PDQs through node 1, 1M per import"
    t0=$(now)
    i=0
    while [ $i -lt "$MILLIONS" ]; do
        python3 -c "
import os, sys
b = os.urandom(32 * 1000000).hex()
sys.stdout.write('\n'.join(b[i:i + 64] for i in range(0, len(b), 64)) + '\n')" >"$T/part.hex"
        [ $i = 0 ] && c='&create=1' || c=
        t1=$(now)
        get 1 "/v1/lists/big/import?format=hex$c" -X POST -H "$AUTH" --data-binary "@$T/part.hex"
        [ "$code" = 200 ] || { echo "import $i: $code $(head -c 300 "$T/out")" >&2; exit 1; }
        i=$((i + 1))
        echo "import $i: $(since "$t1") s"
    done
    last=$(tail -n 1 "$T/part.hex")
    rm -f "$T/part.hex"
    echo "built: $(since "$t0") s; PostgreSQL: $(psql "SELECT pg_size_pretty(pg_database_size('scrim'))"); node 1 data.mdb: $(du -m "$T/db1/data.mdb" | cut -f1) MB"
    echo "# a new node from PostgreSQL alone (empty database)"
    sync
    t0=$(now)
    node_start 2
    t_serving=$(since "$t0")
    wait_for 3600 healthy 2
    t_ready=$(since "$t0")
    get 2 "/v1/lookup?pdq=$last"
    t_match=$(since "$t0")
    echo "node 2: serving (503) after $t_serving s, /healthz 200 after $t_ready s, first lookup answered ($code, matched $(jv '$j->{matched}')) after $t_match s"
    echo "node 2 data.mdb: $(du -m "$T/db2/data.mdb" | cut -f1) MB; RSS $(ps -o rss= -p "$PID2" | awk '{printf "%d MB", $1/1024}')"
    grep -c '"cluster: change applied' "$T/log2" >/dev/null 2>&1 || :
    exit 0
fi

# ============================================================================
if [ "$MODE" = compact ]; then
    # part FILE: M million random PDQs
    part() {
        python3 -c "
import os, sys
for _ in range($MILLIONS):
    b = os.urandom(32 * 1000000).hex()
    sys.stdout.write('\\n'.join(b[i:i + 64] for i in range(0, len(b), 64)) + '\\n')" >"$1"
    }
    log_size() {
        psql "SELECT count(*) || ' changes, entries ' || pg_size_pretty(coalesce(sum(octet_length(payload)), 0)) || ', table ' || pg_size_pretty(pg_total_relation_size('scrim_changes')) FROM scrim_changes"
    }
    # fresh N: node N on an empty database; seconds to /healthz 200 in $took
    fresh() {
        sync
        t0=$(now)
        node_start "$1"
        wait_for 3600 healthy "$1"
        took=$(since "$t0")
    }
    node_start 1
    wait_for 60 healthy 1
    echo "# $ROUNDS rounds: feed dropped and imported afresh, mirror replaced; $MILLIONS M PDQs each"
    t0=$(now)
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        r=$((r + 1))
        [ $r -gt 1 ] && get 1 /v1/lists/feed -X DELETE -H "$AUTH"
        part "$T/feed.hex"
        get 1 "/v1/lists/feed/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "@$T/feed.hex"
        [ "$code" = 200 ] || { echo "feed $r: $code $(head -c 300 "$T/out")" >&2; exit 1; }
        part "$T/mirror.hex"
        get 1 "/v1/lists/mirror/import?format=hex&create=1&replace=1" -X POST -H "$AUTH" --data-binary "@$T/mirror.hex"
        [ "$code" = 200 ] || { echo "mirror $r: $code $(head -c 300 "$T/out")" >&2; exit 1; }
        echo "round $r: $(since "$t0") s"
    done
    last=$(tail -n 1 "$T/mirror.hex")
    rm -f "$T/feed.hex" "$T/mirror.hex"
    echo "log before: $(log_size)"
    fresh 2
    echo "node 2 (empty database, the whole log): /healthz 200 after $took s"
    get 2 "/v1/lookup?pdq=$last"
    echo "  matches mirror's last hash: $(jv '$j->{matched}')"
    kill "$PID2"
    wait "$PID2" || :
    echo "# scrim cluster compact --full"
    "$BIN/scrim" cluster compact --cluster "$URL" --full
    echo "log after: $(log_size)"
    fresh 3
    echo "node 3 (empty database, the compacted log): /healthz 200 after $took s"
    get 3 "/v1/lookup?pdq=$last"
    echo "  matches mirror's last hash: $(jv '$j->{matched}')"
    for n in 1 3; do
        get $n /v1/lists -H "$AUTH"
        echo "node $n lists: $(perl -MJSON::PP -e 'local $/; print join ",", map { "$_->{name}:$_->{count}" } @{decode_json(<STDIN>)->{lists}}' <"$T/out"); data.mdb $(du -m "$T/db$n/data.mdb" | cut -f1) MB"
    done
    exit 0
fi

# ============================================================================
if [ "$MODE" = accounts ]; then
    cat >"$T/me.pl" <<'PERL'
use strict; use warnings; use IO::Socket::UNIX; use Time::HiRes qw(time);
my ($sock, $tok, $n) = @ARGV;
my ($bad, @lat) = (0);
for (1 .. $n) {
    my $t = time;
    my $s = IO::Socket::UNIX->new(Peer => $sock) or die "$sock: $!";
    print $s "GET /v1/review/me HTTP/1.0\r\nAuthorization: Bearer $tok\r\n\r\n";
    local $/; my $r = <$s> // '';
    $bad++ unless $r =~ m{^HTTP/1\.\d 200};
    push @lat, time - $t;
}
@lat = sort { $a <=> $b } @lat;
my $sum = 0; $sum += $_ for @lat;
printf "mean %.3f ms, p50 %.3f ms, p99 %.3f ms, errors %d\n", $sum / @lat * 1000,
    $lat[$#lat / 2] * 1000, $lat[int($#lat * 0.99)] * 1000, $bad;
PERL
    node_start 1
    wait_for 60 healthy 1
    get 1 /v1/reviewers -X POST -H "$AUTH" -d '{"name": "alice"}'
    CT=$(jv '$j->{token}')
    mkdir "$T/single"
    "$BIN/scrimd" --db "$T/single/db" --socket "$T/single/s" --listen none         --threads 1 --video-threads 0 --admin-token-file "$T/token"         --log "$T/single/log" 2>>"$T/single/stderr" &
    PIDS="$PIDS $!"
    while ! grep -q '"msg":"ready"' "$T/single/log"; do sleep 0.05; done
    "$BIN/scrim" reviewer add alice --db "$T/single/db" --json >"$T/out"
    ST=$(jv '$j->{token}')
    for round in 1 2; do
        echo "round $round, clustered: $(perl "$T/me.pl" "$T/s1" "$CT" 2000)"
        echo "round $round, single:    $(perl "$T/me.pl" "$T/single/s" "$ST" 2000)"
    done
    exit 0
fi

# ============================================================================
if [ "$MODE" = loop ]; then
    for n in 1 2 3; do node_start $n; done
    for n in 1 2 3; do wait_for 60 healthy $n; done
    cat >"$T/loop.pl" <<'PERL'
use strict; use warnings; use IO::Socket::UNIX; use Time::HiRes qw(time sleep);
my ($T, $tok, $fix, $runs) = @ARGV;
my $P = '03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552';
open my $f, '<:raw', "$fix/blobs.jpg" or die; local $/; my $jpg = <$f>; close $f;
sub req {
    my ($n, $m, $path, $body) = @_;
    my $s = IO::Socket::UNIX->new(Peer => "$T/s$n") or die "s$n: $!";
    $body //= '';
    print $s "$m $path HTTP/1.0\r\nHost: scrimd\r\nAuthorization: Bearer $tok\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $r = <$s> // '';
    my ($c) = $r =~ m{^HTTP/1\.\d (\d+)};
    return ($c // 0, $r);
}
my (@lag, @lag0, @dec, @imp, @base, $bad);
for my $i (1 .. $runs) {
    my ($a, $b) = (1 + $i % 3, 1 + ($i + 1) % 3);
    my $ti = time;
    my ($c, $r) = req($a, 'POST', "/v1/lists/bad$i/import?format=hex&create=1", $P);
    die "import: $r" unless $c == 200;
    push @imp, time - $ti;
    # node B has the list (it matches there) before the reject
    my $tw = time;
    $r = '';
    until ($r =~ /"list":"bad$i"/) {
        die "node B lacks list bad$i after 120 s" if time - $tw > 120;
        sleep 0.001;
        (undef, $r) = req($b, 'GET', "/v1/lookup?pdq=$P");
    }
    my $tb = time;   # the upload on node B before: matched (a match's own time)
    ($c, $r) = req($b, 'POST', '/v1/match', $jpg . "base$i");
    die "node B before: $r" unless $r =~ /"matched":true/;
    push @base, time - $tb;
    ($c, $r) = req($a, 'POST', '/v1/match', $jpg . "run$i");
    my ($id) = $r =~ /"review":\{"id":"([0-9a-f]{32})"/;
    die "match $i: $c" unless $id;
    my $t0 = time;
    ($c, $r) = req($a, 'POST', "/v1/review/$id/decision", '{"decision":"reject"}');
    my $t1 = time;
    die "decision $i: $r" unless $c == 200 && $r =~ /"suppressed":\[\{/;
    my $t2;
    for (1 .. 20000) {
        (undef, $r) = req($b, 'POST', '/v1/match', $jpg . "run$i");
        if ($r =~ /"matched":false/ && $r =~ /"suppressed_by":"bad$i.suppressed"/) { $t2 = time; last }
    }
    if (defined $t2) { push @lag, $t2 - $t1; push @lag0, $t2 - $t0 } else { $bad++ }
    push @dec, $t1 - $t0;
    req($a, 'DELETE', "/v1/lists/bad$i");
    req($a, 'DELETE', "/v1/lists/bad$i.suppressed");
}
for my $x (["reject on A answered to allowed on B" => \@lag],
           ["reject on A sent to allowed on B" => \@lag0], ["a match on B (in the above)" => \@base],
           ["the reject's answer on A" => \@dec], ["an admin import on A" => \@imp]) {
    my @v = sort { $a <=> $b } @{$x->[1]};
    printf "%s: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", $x->[0], scalar @v,
        $v[$#v / 2] * 1000, $v[int($#v * 0.99)] * 1000, $v[-1] * 1000;
}
printf "never suppressed on node B: %d\n", $bad // 0;
PERL
    echo "# $RUNS rejects on node A, suppression seen on node B"
    perl "$T/loop.pl" "$T" "$TOKEN" "$FIX" "$RUNS"
    echo "changes in the log: $(psql "SELECT count(*) FROM scrim_changes")"
    exit 0
fi

# ============================================================================
# outage: 3 nodes, a list of 100 PDQs, blobs.jpg's PDQ on a review list
for n in 1 2 3; do node_start $n --review-max-reveals 1000; done
for n in 1 2 3; do wait_for 60 healthy $n; done
perl -e 'srand(1); for (1 .. 100) { print join("", map { sprintf "%04x", int rand 65536 } 1 .. 16), "\n" }' >"$T/known.hex"
get 1 "/v1/lists/known/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "@$T/known.hex"
get 1 "/v1/lists/rv/import?format=hex&create=1" -X POST -H "$AUTH" \
    --data-binary 03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552
get 1 /v1/reviewers -X POST -H "$AUTH" -d '{"name": "alice"}'
ALICE=$(jv '$j->{token}')
for n in 1 2 3; do get $n /v1/review/me -H "Authorization: Bearer $ALICE"; done
h=$(head -n 1 "$T/known.hex")
cat >"$T/load.pl" <<'PERL'
use strict; use warnings; use IO::Socket::UNIX; use Time::HiRes qw(time);
my ($T, $h, $stop) = @ARGV;
my ($n, $bad, $i, $max, $tmax, %codes, @lat) = (0, 0, 0, 0, 0);
until (-e $stop) {
    my $node = 1 + $i++ % 3;
    my $t = time;
    my $s = IO::Socket::UNIX->new(Peer => "$T/s$node");
    my $r = '';
    if ($s) { print $s "GET /v1/lookup?pdq=$h HTTP/1.0\r\nHost: x\r\n\r\n"; local $/; $r = <$s> // '' }
    my ($c) = $r =~ m{^HTTP/1\.\d (\d+)};
    $c //= 0;
    my $dt = time - $t;
    ($max, $tmax) = ($dt, $t) if $dt > $max;
    push @lat, $dt;
    $n++;
    $codes{$c}++;
    $bad++ unless $c == 200 && $r =~ /"matched":true/;
}
@lat = sort { $a <=> $b } @lat;
printf "%d %d %.1f %.1f %.1f %.3f %s\n", $n, $bad, $lat[$#lat / 2] * 1000,
    $lat[int($#lat * 0.99)] * 1000, $max * 1000, $tmax,
    join ",", map { "$_:$codes{$_}" } sort keys %codes;
PERL
perl "$T/load.pl" "$T" "$h" "$T/stop" >"$T/load" &
LOAD=$!
# a distinct upload each time (bytes after the JPEG's end: the same picture)
upload() { cp "$FIX/blobs.jpg" "$T/up.jpg"; printf '%s' "$1" >>"$T/up.jpg"; }
records_before=$(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'record'")
sleep 2
echo "# PostgreSQL stopped for $SECONDS_DOWN s under the lookup loop"
pg_stop
t_down=$(now)
for n in 1 2 3; do wait_for 30 pg_is $n down; done
echo "nodes saw it down after $(since "$t_down") s"
made=0 writes= decided=0 reveals=0 k=0
: >"$T/made"
while [ "$(perl -e "print $(now) - $t_down < $SECONDS_DOWN ? 1 : 0")" = 1 ]; do
    n=$((1 + k % 3))
    k=$((k + 1))
    upload "x$k"
    get $n /v1/match --data-binary "@$T/up.jpg"
    id=$(jv '$j->{review}{id}')
    if [ "$code" = 200 ] && [ "$id" != null ]; then made=$((made + 1)); echo "$id" >>"$T/made"; fi
    get $n "/v1/review/$id/decision" -X POST -H "$AUTH" -d '{"decision": "confirm"}'
    [ "$code" = 200 ] && decided=$((decided + 1))
    get $n "/v1/review/$id/preview.jpg?level=light" -H "Authorization: Bearer $ALICE"
    [ "$code" = 200 ] && reveals=$((reveals + 1))
    get $n /v1/lists/known/import -X POST -H "$AUTH" --data-binary 0000000000000000000000000000000000000000000000000000000000000001
    writes="$writes $code:$(jv '$j->{error}{code}')"
    sleep 0.3
done
echo "while down: $made review records made, $decided decisions, $reveals reveals by alice"
echo "admin writes answered: $(echo $writes | tr ' ' '\n' | sort | uniq -c | tr '\n' ';')"
t_up=$(now)
pg_start
for n in 1 2 3; do wait_for 60 pg_is $n ok; done
echo "PostgreSQL back: every node reconnected after $(since "$t_up") s"
want=$((records_before + made))
wait_for 120 sh -c "[ \$($AS '$PGBIN/psql' -X -q -A -t -h '$PG' -p $PORT -U scrim scrim -c \"SELECT count(*) FROM scrim_review_log WHERE kind = 'record'\") -ge $want ]"
echo "review records in PostgreSQL: $(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'record'") (want $want: $records_before before + $made), $(since "$t_up") s after the restart"
echo "decisions in PostgreSQL: $(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'decision'"); distinct (node, seq) rows: $(psql "SELECT count(DISTINCT (node, seq)) FROM scrim_review_log") of $(psql "SELECT count(*) FROM scrim_review_log")"
touch "$T/stop"
wait $LOAD
read -r nreq nbad p50 p99 maxms tmax codes <"$T/load"
echo "lookups during the whole run: $nreq, failed or unmatched: $nbad, p50 $p50 ms, p99 $p99 ms, slowest $maxms ms ($(perl -e "printf '%.1f', $tmax - $t_down") s after PostgreSQL was stopped), codes $codes"
get 1 /v1/review/me -H "Authorization: Bearer $ALICE"
echo "alice's reveals today in PostgreSQL: $(psql "SELECT reveals FROM scrim_exposure WHERE reviewer = 'alice'") (want $reveals); her reveal events in the cluster's log: $(psql "SELECT count(*) FROM scrim_reviewer_log WHERE event LIKE '%\"reveal\"%'")"
sleep 2
changes=$(psql "SELECT count(*) FROM scrim_changes")
for n in 1 2 3; do
    get $n "/v1/audit?limit=0&source=node" -H "$AUTH"
    a=$(perl -MJSON::PP -e 'local $/; print join ",", map { "$_->{action}:$_->{list}" } @{decode_json(<STDIN>)->{audit}}' <"$T/out")
    get $n "/v1/lists/known" -H "$AUTH"
    c=$(jv '$j->{count}')
    have=0
    while read -r id; do
        get $n "/v1/review/$id" -H "$AUTH"
        [ "$code" = 200 ] && have=$((have + 1))
    done <"$T/made"
    echo "node $n: audit $a for $changes changes, list known has $c hashes, holds $have of the $made records made while down"
done
