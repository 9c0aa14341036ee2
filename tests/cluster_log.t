#!/bin/sh
# cluster_log.t - the cluster's change log from bin/scrim: `scrim import
# --cluster` (and drop, list-set, remove, add) write through it and reach
# every node; a node's database is refused a write of its own (--force
# allows it); `scrim cluster compact` removes what later drops and replaces
# make moot, and every node - in step, stopped before the compaction and
# started after, from a snapshot taken before it, or new - ends with
# exactly the matches and lists of a node that applied the whole log.
set -u
. "$(dirname "$0")/tap.sh"
need_tools curl perl
. "$(dirname "$0")/cluster_lib.sh"
temp_dir T cluster_log
cluster_pg_up
NODE_OPTS="--admin-wait 300"
S="$BIN/scrim"

# hashes NAME N SEED: N random PDQs (hex lines) in $T/NAME.hex, all of them
# also in $T/probes (every hash ever imported: what the nodes are asked)
hashes() {
    perl -e 'srand($ARGV[1]); for (1 .. $ARGV[0]) {
        print join("", map { sprintf "%04x", int rand 65536 } 1 .. 16), "\n" }' \
        "$2" "$3" >"$T/$1.hex"
    cat "$T/$1.hex" >>"$T/probes"
}
matches() { get "$1" "/v1/lookup?pdq=$2" && [ "$(jv '$j->{matched}')" = true ]; }
head_id() { psql "SELECT coalesce(max(id), 0) FROM scrim_changes"; }
# in_step N: node N has applied the log's last change
in_step() {
    get "$1" /healthz && [ "$(jv '$j->{cluster}{applied}')" = "$(head_id)" ] &&
        [ "$code" = 200 ]
}
# state N: node N's lists (settings, counts) and the matches of every probe,
# each query's matches sorted (ties may come in any order)
state() {
    "$S" lists --db "$T/db$1" --json | perl -MJSON::PP -ne '
        my $l = decode_json($_);
        my $j = JSON::PP->new->canonical;
        print join(" ", map { "$_=" . (ref $l->{$_} ? $j->encode($l->{$_}) : $l->{$_}) }
            qw(name kind enabled radius count description counts)), "\n"'
    "$S" lookup --db "$T/db$1" - <"$T/probes" | perl -MJSON::PP -ne '
        my $j = JSON::PP->new->canonical;
        my $q = decode_json($_);
        print "$q->{query}: ", join(" ", sort map { $j->encode($_) }
            @{$q->{matches}}, @{$q->{allowed}}), "\n"'
}

nodes_up 1 2 3
: >"$T/probes"

# ---- bin/scrim writes through the log -------------------------------------------
hashes a1 300 1
"$S" import --db "$T/db1" --cluster "$URL" --list churn --create --format hex \
    --json "$T/a1.hex" >"$T/out" 2>"$T/err"
ok $? "scrim import --cluster through node 1's database" "$(cat "$T/err")"
is "$(jv '$j->{added}'):$(jv '$j->{applied}')" 300:true "  300 added, applied on node 1 when it returns"
like "$(jv '$j->{change}')" '^[0-9]+$' "  its reply names the change"
last=$(tail -n 1 "$T/a1.hex")
for n in 1 2 3; do
    poll 40 matches $n "$last"
    ok $? "node $n matches the hashes scrim import --cluster wrote"
done
is "$(psql "SELECT op || ' ' || list || ' ' || entries FROM scrim_changes")" \
    "add churn 300" "one change in the log: the import's 300 entries"
is "$(psql "SELECT action || ' ' || list FROM scrim_audit")" "import churn" \
    "the cluster's audit has it"

hashes x 5 99
"$S" import --db "$T/db1" --list churn --format hex "$T/x.hex" >"$T/out" 2>"$T/err"
is "$?" 1 "scrim import --db NODE_DB without --cluster: refused (status 1)"
like "$(cat "$T/err")" "cluster node's database .*--cluster URL .*--force" \
    "  the error says it is a node's database and what to do"
matches 1 "$(head -n 1 "$T/x.hex")"
is "$?" 1 "  nothing was written to node 1's database"
for cmd in "drop --list churn" "list-set churn --radius 3" \
    "remove --list churn $last"; do
    # shellcheck disable=SC2086
    "$S" $cmd --db "$T/db2" >"$T/out" 2>"$T/err"
    is "$?:$(grep -c "cluster node's database" "$T/err")" 1:1 "scrim $cmd on a node's database: refused"
done
"$S" list-set --db "$T/empty" --create churn >/dev/null
"$S" import --db "$T/empty" --cluster "$URL" --list churn --format hex "$T/x.hex" >"$T/out" 2>"$T/err"
is "$?" 1 "scrim import --cluster on a database that is no node's: refused"
like "$(cat "$T/err")" "not a cluster node's database" "  saying so"
"$S" import --db "$T/db1" --cluster "$URL" --list churn --format hex "$T/nope.hex" >"$T/out" 2>"$T/err"
is "$?:$(head_id)" "1:1" "an import whose file is missing: error, nothing in the log"
printf 'not a hash\n' >"$T/bad.hex"
"$S" import --db "$T/db1" --cluster "$URL" --list churn --format hex "$T/bad.hex" >"$T/out" 2>"$T/err"
is "$?:$(head_id)" "1:1" "a malformed import: refused by the dry run, nothing in the log"

# a snapshot (a node's copy) is a node's database too; --force writes it alone
"$S" snapshot --db "$T/db2" "$T/copy" >/dev/null
"$S" import --db "$T/copy" --list churn --format hex "$T/x.hex" >"$T/out" 2>"$T/err"
is "$?" 1 "a snapshot of a node's database: refused as well"
"$S" import --db "$T/copy" --force --list churn --format hex "$T/x.hex" >"$T/out" 2>"$T/err"
ok $? "--force writes it alone" "$(cat "$T/err")"
"$S" lookup --db "$T/copy" "$(head -n 1 "$T/x.hex")" >"$T/out"
is "$(jv 'scalar @{$j->{matches}}'):$(head_id)" "1:1" "  there only (the log is as it was)"

SCRIM_CLUSTER=$URL "$S" list-set --db "$T/db2" grow --create --radius 5 >"$T/out" 2>"$T/err"
ok $? "SCRIM_CLUSTER=URL scrim list-set --create on node 2's database" "$(cat "$T/err")"
like "$(cat "$T/out")" "^grow: cluster change [0-9]+, applied on this node" "  it says which change"
poll 40 got 3 /v1/lists/grow -H "$AUTH"
is "$code:$(jv '$j->{radius}')" 200:5 "node 3 has the list, radius 5"
"$S" list-set --db "$T/db2" --cluster "$URL" grow --create >"$T/out" 2>"$T/err"
is "$?:$(grep -c "already exists" "$T/err")" 1:1 "list-set --create of a list the cluster has: refused"

# scrim add (an image, with its variants) and import --format vpdq (a video)
"$S" add --db "$T/db3" --cluster "$URL" --list media --create --json \
    "$FIX/blobs.jpg" >"$T/out" 2>"$T/err"
ok $? "scrim add --cluster through node 3's database" "$(cat "$T/err")"
like "$(jv '$j->{added}'):$(jv '$j->{applied}')" '^[1-9][0-9]*:true$' "  its hashes added, applied there"
poll 40 matches 1 03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552
ok $? "node 1 matches blobs.jpg's PDQ"
"$S" hash "$FIX/fps-2e9.mp4" >"$T/clip.vpdq" 2>/dev/null
"$S" import --format vpdq --db "$T/db1" --cluster "$URL" --list media --id clip \
    "$T/clip.vpdq" >"$T/out" 2>"$T/err"
like "$(tr '\n' ' ' <"$T/out")" "^media: added 1 videos .*cluster change [0-9]+, applied" \
    "scrim import --format vpdq --cluster: one video" "$(cat "$T/err")"
video_on() { get "$1" /v1/lists/media -H "$AUTH" && [ "$(jv '$j->{counts}{video}')" = 1 ]; }
poll 40 video_on 2
ok $? "node 2 has the video entry"

# ---- a history with repeated imports, replaces and drops ------------------------
hashes a2 300 2
get 2 "/v1/lists/churn/import?format=hex" -X POST -H "$AUTH" --data-binary "@$T/a2.hex"
is "$code" 200 "churn: a second import through node 2's API"
hashes g1 200 3
"$S" import --db "$T/db3" --cluster "$URL" --list grow --format hex "$T/g1.hex" >/dev/null
ok $? "grow: an import through node 3's database"
hashes d1 200 4
"$S" import --db "$T/db1" --cluster "$URL" --list gone --create --format hex "$T/d1.hex" >/dev/null
ok $? "gone: created by an import"
poll 200 in_step 3
mid=$(head_id)
node_stop 3
ok $? "node 3 stopped at change $mid"
"$S" snapshot --db "$T/db2" "$T/db5" >/dev/null
ok $? "a snapshot of node 2 at change $mid"

hashes a3 300 5
get 1 "/v1/lists/churn/import?format=hex&replace=1" -X POST -H "$AUTH" --data-binary "@$T/a3.hex"
is "$code:$(jv '$j->{removed}')" 200:600 "churn: replaced (600 removed)"
head -n 50 "$T/a3.hex" >"$T/a3rm.hex"
"$S" remove --db "$T/db2" --cluster "$URL" --list churn --from "$T/a3rm.hex" >"$T/out" 2>"$T/err"
like "$(cat "$T/out")" "^churn: removed 50, not found 0" "churn: 50 removed through the cluster" "$(cat "$T/err")"
"$S" remove --db "$T/db2" --cluster "$URL" --list churn "$(sed -n 51p "$T/a3.hex")" >"$T/out" 2>"$T/err"
like "$(cat "$T/out")" "^churn: removed 1, not found 0" "and one by scrim remove --cluster HASH"
hashes a4 300 6
"$S" import --db "$T/db1" --cluster "$URL" --list churn --replace --format hex "$T/a4.hex" >/dev/null
ok $? "churn: replaced again through scrim import --replace --cluster"
hashes a5 100 7
"$S" import --db "$T/db1" --cluster "$URL" --list churn --format hex "$T/a5.hex" >/dev/null
ok $? "churn: and added to"
hashes g2 200 8
get 1 "/v1/lists/grow/import?format=hex" -X POST -H "$AUTH" --data-binary "@$T/g2.hex"
is "$code" 200 "grow: a second import"
"$S" drop --db "$T/db1" --cluster "$URL" --list gone >"$T/out" 2>"$T/err"
like "$(cat "$T/out")" "^gone: dropped, 200 entries removed" "gone: dropped through scrim drop --cluster" "$(cat "$T/err")"
hashes b1 200 9
get 2 "/v1/lists/back/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "@$T/b1.hex"
get 2 /v1/lists/back -X DELETE -H "$AUTH"
is "$code" 200 "back: made, then dropped"
hashes b2 200 10
"$S" import --db "$T/db2" --cluster "$URL" --list back --create --kind allow --format hex "$T/b2.hex" >/dev/null
ok $? "back: made again, an allow list"
hashes b3 200 11
get 1 "/v1/lists/back/import?format=hex&replace=1" -X POST -H "$AUTH" --data-binary "@$T/b3.hex"
is "$code" 200 "back: replaced"
# a kind of change this scrim does not know: it and what precedes it stay
hashes f1 100 12
get 1 "/v1/lists/barred/import?format=hex&create=1" -X POST -H "$AUTH" --data-binary "@$T/f1.hex"
psql "ALTER TABLE scrim_changes DROP CONSTRAINT scrim_changes_op_check" >/dev/null
psql "INSERT INTO scrim_changes (list, op) VALUES ('barred', 'future'); NOTIFY scrim_changes" >/dev/null
get 1 /v1/lists/barred -X DELETE -H "$AUTH"
is "$code" 200 "barred: an import, a change of an unknown kind, a drop"
before=$(psql "SELECT count(*) FROM scrim_changes")
for n in 1 2; do
    poll 200 in_step $n
    ok $? "node $n in step with the log ($(head_id) changes, $before rows)"
done
state 2 >"$T/want"
is "$(grep -c ': {' "$T/want")" "$(grep -c . "$T/a4.hex" "$T/a5.hex" "$T/g1.hex" "$T/g2.hex" "$T/b3.hex" | awk -F: '{s += $2} END {print s}')" \
    "the reference (node 2, never compacted): matches for the hashes the lists hold"

# ---- compaction ---------------------------------------------------------------------
"$S" cluster compact --cluster "$URL" --dry-run --json >"$T/out" 2>"$T/err"
ok $? "scrim cluster compact --dry-run" "$(cat "$T/err")"
dry=$(jv '$j->{deleted} + $j->{emptied}')
is "$(psql "SELECT count(*) FROM scrim_changes")" "$before" "  changed nothing"
"$S" cluster compact --cluster "$URL" --json >"$T/out" 2>"$T/err"
ok $? "scrim cluster compact" "$(cat "$T/err")"
diag "compact: $(cat "$T/out")"
is "$(jv '$j->{deleted} + $j->{emptied}')" "$dry" "  did what the dry run said ($dry changes)"
after=$(psql "SELECT count(*) FROM scrim_changes")
is "$(jv '$j->{rows_before}'):$(jv '$j->{rows_after}')" "$before:$after" "  its counts are the table's"
perl -e "exit !($(jv '$j->{payload_after}') * 2 < $(jv '$j->{payload_before}'))"
ok $? "  the entries it keeps are less than half ($(jv '$j->{payload_before}') -> $(jv '$j->{payload_after}') bytes)"
is "$(psql "SELECT string_agg(op, ',' ORDER BY id) FROM scrim_changes WHERE list = 'gone'")" drop \
    "gone: its drop alone is left"
is "$(psql "SELECT string_agg(op || ':' || entries, ',' ORDER BY id) FROM scrim_changes WHERE list = 'churn'")" \
    "add:0,replace:300,add:100" \
    "churn: the creating import emptied, the last replace and what follows it kept"
is "$(psql "SELECT string_agg(op || ':' || entries, ',' ORDER BY id) FROM scrim_changes WHERE list = 'back'")" \
    "drop:0,add:0,replace:200" \
    "back: its drop, the import that made it again (emptied, an allow list) and the replace"
is "$(psql "SELECT string_agg(op, ',' ORDER BY id) FROM scrim_changes WHERE list = 'barred'")" \
    "add,future,drop" "barred: the change of an unknown kind and what precedes it are kept"
is "$(psql "SELECT count(*) FROM scrim_changes WHERE list = 'grow'")" 3 "grow (no drop, no replace): kept whole"
"$S" cluster compact --cluster "$URL" --json >"$T/out"
is "$(jv '$j->{deleted} + $j->{emptied}')" 0 "a second compaction finds nothing more"
"$S" cluster status --cluster "$URL" >"$T/out" 2>&1
like "$(cat "$T/out")" "^head $(head_id), $after changes" "scrim cluster status: the head and the count"

# ---- every node ends with the reference's state -----------------------------------
hashes a6 100 13
"$S" import --db "$T/db1" --cluster "$URL" --list churn --format hex "$T/a6.hex" >/dev/null
ok $? "an import after the compaction"
node_start 3 --cluster "$URL"
poll 400 in_step 3
ok $? "node 3 (stopped at change $mid, before the compaction) caught up"
node_start 4 --cluster "$URL"
poll 400 in_step 4
ok $? "node 4 (an empty database: the compacted log from the start) is in step"
node_start 5 --cluster "$URL"
poll 400 in_step 5
ok $? "node 5 (a snapshot of node 2 at change $mid) caught up"
for n in 1 2; do poll 200 in_step $n; done
state 2 >"$T/want"
for n in 1 3 4 5; do
    state $n >"$T/got$n"
    check "node $n: every list and every probe's matches equal to node 2's (never compacted)" \
        diff "$T/want" "$T/got$n"
done
for n in 2 4; do
    get $n /metrics
    sed -n 's/^scrim_cluster_changes_skipped_total //p' "$T/out" >"$T/skipped$n"
done
is "$(cat "$T/skipped4")" "$(cat "$T/skipped2")" "node 4 skipped no more changes than node 2 (the unknown kind only: $(cat "$T/skipped2"))"
! grep 'change skipped' "$T/log3" | grep -v '"op":"future"' | grep -q .
ok $? "node 3 skipped nothing but the unknown kind (a drop of a list it no longer has is no skip)"

for n in 1 2 3 4 5; do
    ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$T/stderr$n" 2>/dev/null
    ok $? "node $n: no sanitizer reports" "$(head -n 30 "$T/stderr$n" 2>/dev/null)"
done
done_testing
