#!/bin/sh
# cluster.t - scrimd --cluster: a PostgreSQL of its own (initdb and pg_ctl in
# a temp dir, on a Unix socket there) and three scrimd nodes on temp sockets.
# An import through one node matches on every node within 2 s (p99 of 100);
# with PostgreSQL stopped, matches go on on every node, admin writes get 503,
# and once it is back the nodes catch up, nothing applied twice; a node
# killed and started again catches up before /healthz says ready.
set -u
. "$(dirname "$0")/tap.sh"
need_tools curl perl
. "$(dirname "$0")/cluster_lib.sh"
temp_dir T cluster

cluster_pg_up
NODE_OPTS="--admin-wait 300"
# status_is N ID STATUS: review record ID has STATUS on node N (for poll)
status_is() { get "$1" "/v1/review/$2" -H "$AUTH" && [ "$(jv '$j->{status}')" = "$3" ]; }
# matches N PDQ: node N finds the PDQ
matches() {
    get "$1" "/v1/lookup?pdq=$2" && [ "$(jv '$j->{matched}')" = true ]
}

for n in 1 2 3; do
    node_start $n --cluster "$URL" || bail_out "node $n did not start: $(cat "$T/stderr$n")"
done
for n in 1 2 3; do
    poll 200 healthy $n
    ok $? "node $n: /healthz 200 once in step with the (empty) change log"
done
is "$(jv '$j->{cluster}{postgres}')" ok "/healthz: cluster.postgres is ok"
is "$(jv '$j->{cluster}{lag_changes}')" 0 "/healthz: cluster.lag_changes is 0"
get 1 /metrics
check "/metrics has the cluster's lag and PostgreSQL gauges" \
    grep -q '^scrim_cluster_postgres_up 1$' "$T/out"
check "/metrics: scrim_cluster_lag_changes, scrim_cluster_lag_seconds" \
    sh -c "grep -q '^scrim_cluster_lag_changes 0$' '$T/out' && grep -q '^scrim_cluster_lag_seconds ' '$T/out'"

# ---- a list made on node 1 is on every node ------------------------------------
get 1 /v1/lists/known -X PUT -H "$AUTH" -d '{"radius": 10}'
is "$code" 201 "PUT /v1/lists/known on node 1: 201"
for n in 2 3; do
    poll 40 got $n /v1/lists/known -H "$AUTH"
    is "$code:$(jv '$j->{radius}')" 200:10 "node $n has the list, radius 10, within 2 s"
done
get 2 /v1/lists/known/import -X POST -H "$AUTH" --data-binary 'not a hash'
is "$code:$(jv '$j->{error}{code}')" 400:bad_request "a bad import is refused on the node (400), nothing sent"

# ---- 100 imports, each through one node: time until every node matches ----------
# (perl: HTTP over the Unix sockets, a lookup on each node every 2 ms)
cat >"$T/http.pl" <<'EOF'
use strict; use warnings; use IO::Socket::UNIX; use Time::HiRes qw(time sleep);
our ($T, $TOKEN) = @ENV{qw(T TOKEN)};
sub req {
    my ($n, $method, $path, $body) = @_;
    my $s = IO::Socket::UNIX->new(Peer => "$T/s$n") or return (0, "connect: $!");
    $body //= '';
    print $s "$method $path HTTP/1.0\r\nHost: scrimd\r\nAuthorization: Bearer $TOKEN\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/; my $r = <$s> // '';
    my ($code) = $r =~ m{^HTTP/1\.\d (\d+)};
    $r =~ s/^.*?\r\n\r\n//s;
    return ($code // 0, $r);
}
sub pdq { join '', map { sprintf '%04x', int rand 65536 } 1 .. 16 }
1;
EOF
cat >"$T/lag.pl" <<'EOF'
use Time::HiRes qw(time sleep);
require "$ENV{T}/http.pl";
my ($count, $list) = @ARGV;
srand(42);
my @lag;
for my $i (0 .. $count - 1) {
    my $h = pdq();
    my $via = 1 + $i % 3;
    my $t0 = time;
    my ($code, $body) = req($via, 'POST', "/v1/lists/$list/import?format=hex", "$h\n");
    die "import $i via node $via: $code $body\n" unless $code == 200;
    my %left = map { $_ => 1 } 1 .. 3;
    while (%left) {
        die "import $i: not on nodes @{[sort keys %left]} after 30 s\n" if time - $t0 > 30;
        for my $n (keys %left) {
            my ($c, $b) = req($n, 'GET', "/v1/lookup?pdq=$h");
            delete $left{$n} if $c == 200 && $b =~ /"matched":true/;
        }
        sleep 0.002 if %left;
    }
    push @lag, time - $t0;
    print STDERR "$h\n";
}
@lag = sort { $a <=> $b } @lag;
my $p = sub { $lag[int($_[0] * (@lag - 1) + 0.5)] };
printf "%.4f %.4f %.4f %.4f\n", $p->(0.5), $p->(0.99), $lag[-1],
    eval { my $s = 0; $s += $_ for @lag; $s / @lag };
EOF
T=$T TOKEN=$TOKEN perl "$T/lag.pl" 100 known >"$T/lag" 2>"$T/hashes"
ok $? "100 imports (through nodes 1, 2, 3 in turn) all matched on every node" "$(tail -n 3 "$T/hashes")"
read -r p50 p99 pmax mean <"$T/lag" || p99=99
diag "import -> match on all 3 nodes: p50 ${p50:-?} s, p99 $p99 s, max ${pmax:-?} s, mean ${mean:-?} s"
perl -e "exit !($p99 < 2)"
ok $? "p99 of import-to-match-everywhere under 2 s ($p99 s)"
first=$(head -n 1 "$T/hashes")

# ---- review records: one queue on every node --------------------------------------
get 1 "/v1/lists/rv/import?format=hex&create=1" -X POST -H "$AUTH" \
    --data-binary 03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552
is "$code" 200 "a block list with blobs.jpg's PDQ"
get 1 /v1/match --data-binary "@$FIX/blobs.jpg"
rec1=$(jv '$j->{review}{id}')
like "$code:$rec1" '^200:[0-9a-f]{32}$' "a match on node 1 makes a review record"
for n in 2 3; do
    poll 100 got $n "/v1/review/$rec1" -H "$AUTH"
    ok $? "node $n has node 1's review record"
    get $n "/v1/review/$rec1/preview.jpg" -H "$AUTH"
    is "$code:$(head -c 3 "$T/out" | od -An -tx1 | tr -d ' ')" 200:ffd8ff "  and its preview"
done

get 2 /v1/review/lists/known -X PUT -H "$AUTH" -d '{"level": "none"}'
is "$code" 200 "a list's preview level set on node 2"
level_is() { get "$1" /v1/review/lists -H "$AUTH" && [ "$(jv '$j->{known}')" = "$2" ]; }
for n in 1 3; do
    poll 100 level_is $n none
    ok $? "node $n has it"
done
get 3 /v1/review/lists/known -X PUT -H "$AUTH" -d '{"level": "default"}'
poll 100 level_is 1 null
ok $? "and its removal on node 3 reaches node 1"

# ---- PostgreSQL stopped under load ------------------------------------------------
cat >"$T/load.pl" <<'EOF'
require "$ENV{T}/http.pl";
my ($h, $stopfile) = @ARGV;
my ($n, $bad, $i) = (0, 0, 0);
until (-e $stopfile) {
    my $node = 1 + $i++ % 3;
    my ($c, $b) = req($node, 'GET', "/v1/lookup?pdq=$h");
    $n++;
    $bad++ unless $c == 200 && $b =~ /"matched":true/;
}
print "$n $bad\n";
EOF
T=$T TOKEN=$TOKEN perl "$T/load.pl" "$first" "$T/load.stop" >"$T/load" &
LOADPID=$!
sleep 0.5
pg_stop
ok $? "PostgreSQL stopped (pg_ctl stop -m fast)"
for n in 1 2 3; do
    poll 100 pg_is $n down
    ok $? "node $n: /healthz says cluster.postgres down"
    is "$code" 200 "node $n: /healthz still 200 (it matches on what it has)"
done
get 1 /metrics
check "/metrics: scrim_cluster_postgres_up 0" grep -q '^scrim_cluster_postgres_up 0$' "$T/out"
get 2 /v1/lists/known/import -X POST -H "$AUTH" --data-binary "$(T=$T perl -e 'require "$ENV{T}/http.pl"; print pdq()')"
is "$code:$(jv '$j->{error}{code}')" 503:cluster_unavailable "an import while PostgreSQL is down: 503 cluster_unavailable"
like "$(jv '$j->{error}{message}')" "PostgreSQL" "  its message names PostgreSQL"
get 3 /v1/lists/other -X PUT -H "$AUTH" -d '{}'
is "$code" 503 "creating a list while PostgreSQL is down: 503"
get 1 /v1/lists/known -X DELETE -H "$AUTH"
is "$code" 503 "dropping a list while PostgreSQL is down: 503"
get 2 /v1/match --data-binary "@$FIX/blobs.png"
rec2=$(jv '$j->{review}{id}')
like "$code:$rec2" '^200:[0-9a-f]{32}$' "a match on node 2 while PostgreSQL is down makes a review record"
get 3 "/v1/review/$rec1/decision" -X POST -H "$AUTH" -d '{"decision": "reject", "note": "n3"}'
is "$code" 200 "a decision on node 3 while PostgreSQL is down"
is "$(jv 'scalar @{$j->{feedback}{suppressed}}')" 0 "  nothing suppressed yet (that is a change of the log)"
like "$(jv '$j->{feedback}{errors}[-1]')" "made once it is back" "  feedback.errors: done once PostgreSQL is back"
sleep 4
get 2 /metrics
lagsec=$(sed -n 's/^scrim_cluster_lag_seconds //p' "$T/out")
perl -e "exit !(${lagsec:-0} >= 3)"
ok $? "/metrics: scrim_cluster_lag_seconds grows while PostgreSQL is down ($lagsec)"
pg_start
ok $? "PostgreSQL started again"
for n in 1 2 3; do
    poll 100 pg_is $n ok
    ok $? "node $n reconnected by itself"
done
touch "$T/load.stop"
wait $LOADPID
read -r nreq nbad <"$T/load"
diag "lookups during the outage: $nreq, failed: $nbad"
is "${nbad:-x}" 0 "every lookup answered and matched on every node while PostgreSQL was down ($nreq)"
get 3 /v1/lists/known/import -X POST -H "$AUTH" --data-binary "$(T=$T perl -e 'require "$ENV{T}/http.pl"; srand(7); print pdq()')"
is "$code" 200 "an import after PostgreSQL is back: 200"
after=$(T=$T perl -e 'require "$ENV{T}/http.pl"; srand(7); print pdq()')
for n in 1 2 3; do
    poll 40 matches $n "$after"
    ok $? "node $n matches it"
done
for n in 1 3; do
    poll 100 got $n "/v1/review/$rec2" -H "$AUTH"
    ok $? "node $n has the record node 2 made while PostgreSQL was down"
done
for n in 1 2; do
    poll 100 status_is $n "$rec1" rejected
    is "$(jv '$j->{status}'):$(jv '$j->{decision}{note}')" rejected:n3 "node $n shows node 3's decision"
done
is "$(psql "SELECT count(*) FROM scrim_review_log WHERE kind = 'record'")" 2 \
    "PostgreSQL holds each review record once"
# the reject node 3 took while PostgreSQL was down: its suppression now
suppressed() { get "$1" /v1/match --data-binary "@$FIX/blobs.jpg" && [ "$(jv '$j->{allowed}[0]{suppressed_by}')" = rv.suppressed ]; }
for n in 1 2; do
    poll 100 suppressed $n
    ok $? "node $n: the upload node 3 rejected meanwhile is suppressed once PostgreSQL is back"
done
for n in 1 2 3; do
    get $n /v1/review -H "$AUTH"
    is "$(perl -MJSON::PP -e 'local $/; print join ",", map { $_->{id} } @{decode_json(<STDIN>)->{records}}' <"$T/out")" \
        "$rec2" "node $n's pending queue: the one undecided record, once"
done
# nothing applied twice: each node's audit has one import per change
changes=$(psql "SELECT count(*) FROM scrim_changes WHERE op = 'add'")
for n in 1 2 3; do
    get $n "/v1/audit?limit=0&source=node" -H "$AUTH"
    imports=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
        print scalar grep { $_->{action} eq "import" } @{$j->{audit}}' <"$T/out")
    get $n /v1/lists/known -H "$AUTH"
    is "$imports:$(jv '$j->{count}')" "$changes:101" "node $n: $changes imports applied once each, 101 hashes"
done

get 2 "/v1/audit?limit=0" -H "$AUTH"
is "$(jv '$j->{source}'):$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
    my %n; $n{$_->{node}}++ for grep { $_->{action} eq "import" } @{$j->{audit}};
    print scalar(grep { $_->{action} eq "import" } @{$j->{audit}}), " from ", scalar keys %n' <"$T/out")" \
    "cluster:$((changes - 1)) from 3" "GET /v1/audit: the cluster's audit, every node's imports (and the suppression: \"suppress\")"

# ---- a node killed, changes made without it, started again ----------------------
node_stop 3 KILL
ok $? "node 3 killed (SIGKILL)"
perl -e 'srand(9); for (1 .. 200000) { print join("", map { sprintf "%04x", int rand 65536 } 1 .. 16), "\n" }' >"$T/big.hex"
last=$(tail -n 1 "$T/big.hex")
t0=$(date +%s.%N)
get 1 "/v1/lists/big/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "@$T/big.hex"
t1=$(date +%s.%N)
is "$code:$(jv '$j->{added}')" 200:200000 "a 200000-hash import through node 1 while node 3 is down"
diag "200000-hash import (dry run, PostgreSQL, applied on node 1): $(perl -e "printf '%.2f', $t1 - $t0") s"
poll 100 matches 2 "$last"
ok $? "node 2 matches its last hash"
node_start 3 --cluster "$URL"
ok $? "node 3 started again"
seen503=0
until healthy 3; do
    [ "$code" = 503 ] && seen503=1
    sleep 0.02
done
is "$seen503" 1 "node 3's /healthz said 503 while it caught up"
matches 3 "$last"
ok $? "node 3 matches the hashes imported while it was down as soon as /healthz is 200"
is "$(jv '$j->{matches}[0]{list}')" big "  from the list made meanwhile"

# ---- a copy of a node's database carries its position ------------------------
node_stop 2
cp -a "$T/db2" "$T/db4"
node_start 4 --cluster "$URL"
poll 200 healthy 4
ok $? "node 4, from a copy of node 2's database, is ready"
get 4 "/v1/audit?limit=0&source=node" -H "$AUTH"
imports=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
    print scalar grep { $_->{action} eq "import" } @{$j->{audit}}' <"$T/out")
is "$imports" "$((changes + 1))" "node 4 applied nothing twice (its copy carried node 2's position)"
! grep -q 'the log does not have' "$T/log4"
ok $? "node 4 (a copy, in step) does not claim to be ahead of the log"
node_stop 4

# ---- a new node, empty database: the whole log replayed before it is ready -----
node_start 6 --cluster "$URL"
ok $? "node 6 starts on an empty database"
poll 600 healthy 6
ok $? "node 6 is ready"
matches 6 "$last" && matches 6 "$after" && matches 6 "$first"
ok $? "node 6 matches hashes of the first, an outage and the last imports"
get 6 /v1/lists -H "$AUTH"
is "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
    print join ",", map { "$_->{name}:$_->{count}" } @{$j->{lists}}' <"$T/out")" \
    "big:200000,known:101,rv:1,rv.suppressed:2" "node 6's lists and counts are the cluster's"
get 6 "/v1/review/$rec2" -H "$AUTH"
is "$code" 200 "node 6 has the review records too"
node_stop 6

# ---- a single node loads no libpq ---------------------------------------------------
node_start 5
ok $? "a node without --cluster starts"
check "it has not loaded libpq" sh -c "! grep -q libpq /proc/$PID5/maps"
get 5 /healthz
is "$(jv '$j->{cluster}')" null "its /healthz has no cluster object"
node_stop 5

for n in 1 2 3; do
    ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$T/stderr$n" 2>/dev/null
    ok $? "node $n: no sanitizer reports" "$(head -n 30 "$T/stderr$n" 2>/dev/null)"
    ! grep -q 'the log does not have' "$T/log$n"
    ok $? "node $n: never claimed to be ahead of the change log"
done
node_stop 1
ok $? "node 1 stops cleanly"
done_testing
