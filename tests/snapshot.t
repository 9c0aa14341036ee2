#!/bin/sh
# snapshot.t - `scrim snapshot`: a copy of a database made while scrimd
# serves it and an import runs holds every list as of one commit (an import
# is in it whole or not at all); scrimd started on the copy (a new node)
# matches what the first one does, has its per-list preview levels but not
# its review queue (unless --with-reviews); an existing OUT, a missing
# directory, a full disk (root: a small tmpfs) are clear errors that leave
# nothing half-written.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
need_tools perl
plan 17
SCRIM=$BIN/scrim
BG=
at_exit '[ -z "$BG" ] || kill -9 "$BG" 2>/dev/null'
DB=$T/db
S=$T/snaps
mkdir -p "$S"

make_upload a || bail_out "cannot make an upload"
"$SCRIM" import --db "$DB" --list bad --create "$U/a.pdq" >/dev/null &&
    "$SCRIM" preview-level --db "$DB" bad strong >/dev/null ||
    bail_out "cannot make the database"
# 300,000 random PDQs for an import that runs while snapshots are taken
perl -e 'srand(3); for (1..300000) { printf "%08x" x 8 . "\n", map { int(rand(2**32)) } 1..8 }' \
    >"$T/big.hex"
start_daemon || bail_out "scrimd did not start"
AUTH="Authorization: Bearer $REVIEWER"
req --data-binary "@$U/a.jpg" /v1/match >"$T/m1"
check "the first node matches and keeps a review record" \
    eval '[ "$(status)" = 200 ] && [ "$(json matched < "$T/m1")" = true ] &&
          [ "$(json review.id < "$T/m1" | wc -c)" = 33 ]'

# 2-3: snapshots while scrimd serves and an import of 300,000 hashes runs
"$SCRIM" import --db "$DB" --list big --create "$T/big.hex" >"$T/import.out" 2>&1 &
BG=$!
n=0 bad=
while kill -0 "$BG" 2>/dev/null && [ $n -lt 50 ]; do
    n=$((n + 1))
    "$SCRIM" snapshot --db "$DB" "$S/during$n" >/dev/null 2>"$T/snap.err" || { bad="snapshot failed: $(cat "$T/snap.err")"; break; }
    c=$("$SCRIM" lists --db "$S/during$n" --json | sed -n 's/.*"name":"big".*"count":\([0-9]*\).*/\1/p')
    case ${c:-0} in 0 | 300000) ;; *) bad="snapshot $n has $c of the import's hashes" ;; esac
    rm -rf "$S/during$n"
done
wait "$BG"
st=$?
BG=
[ -z "$bad" ]
ok $? "snapshots taken during an import ($n) hold all of it or none" "$bad"
check "the import went through meanwhile" [ $st = 0 ]

# 4-6: the snapshot: complete files only, lists as the source's
out=$("$SCRIM" snapshot --db "$DB" "$S/new" 2>&1)
check "scrim snapshot: exit 0, names OUT with its sizes" \
    sh -c "printf '%s' '$out' | grep -q '^$S/new: data.mdb [0-9.]* MB, side.mdb'"
check "OUT holds data.mdb and side.mdb, no lock files, no partial copy left" \
    sh -c "[ \"\$(ls '$S/new' | tr '\n' ' ')\" = 'data.mdb side.mdb ' ] && [ \"\$(ls '$S')\" = new ]"
check "the copy's lists are the source's" \
    sh -c "[ \"\$('$SCRIM' lists --db '$DB' --json)\" = \"\$('$SCRIM' lists --db '$S/new' --json)\" ]"
check "the copy keeps the per-list preview level" \
    sh -c "'$SCRIM' preview-level --db '$S/new' | grep -qx 'bad strong'"

# 8-10: a new node on the copy matches; its review queue is empty
"$SCRIM" snapshot --db "$DB" --with-reviews --json "$S/full" >"$T/full.json"
check "--with-reviews --json" sh -c "grep -q '\"reviews\":true' '$T/full.json'"
scrimd_stop || :
SOCK=$T/sock2
scrimd_start --db "$S/new" --listen none --reviewer-token-file "$T/reviewer" ||
    bail_out "scrimd did not start on the snapshot"
req --data-binary "@$U/a.jpg" /v1/match >"$T/m2"
check "a node started on the snapshot matches the upload" \
    eval '[ "$(status)" = 200 ] && [ "$(json matches.0.list < "$T/m2")" = bad ]'
req -H "$AUTH" "/v1/review?since=0&limit=1000" >"$T/q2"
check "its review queue holds only its own record (the source's left out)" \
    eval '[ "$(status)" = 200 ] && [ "$(json records.# < "$T/q2")" = 1 ] &&
          [ "$(json records.0.id < "$T/q2")" = "$(json review.id < "$T/m2")" ]'
scrimd_stop || :
scrimd_start --db "$S/full" --listen none --reviewer-token-file "$T/reviewer" ||
    bail_out "scrimd did not start on the full snapshot"
req -H "$AUTH" "/v1/review?since=0&limit=1000" >"$T/q3"
check "with --with-reviews the source's record is there" \
    eval '[ "$(json records.0.id < "$T/q3")" = "$(json review.id < "$T/m1")" ]'
scrimd_stop || :

# 12-15: errors
"$SCRIM" snapshot --db "$DB" "$S/new" 2>"$T/err"; rc=$?
check "OUT exists: exit 1, said" eval '[ $rc = 1 ] && grep -q "new: already exists" "$T/err"'
"$SCRIM" snapshot --db "$DB" "$S/no/such/out" 2>"$T/err"; rc=$?
check "no such parent directory: exit 1, said" eval '[ $rc = 1 ] && grep -q "no/such: no such directory" "$T/err"'
"$SCRIM" snapshot --db "$T/nodb" "$S/x" 2>"$T/err"; rc=$?
check "no such database: exit 1, said" eval '[ $rc = 1 ] && grep -q "nodb: no such database" "$T/err" && [ ! -e "$S/x" ]'
"$SCRIM" snapshot --db "$DB" 2>"$T/err"; rc=$?
check "no OUT: usage, exit 2" eval '[ $rc = 2 ] && grep -q "usage: scrim snapshot" "$T/err"'

# 16-17: a full disk
M=$T/full
mkdir -p "$M"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=2m,mode=0755 tmpfs "$M" 2>/dev/null; then
    skip "needs root to mount a small tmpfs" 2
else
    at_exit "umount '$M' 2>/dev/null"
    "$SCRIM" snapshot --db "$DB" "$M/snap" 2>"$T/err"; rc=$?
    check "full disk: exit 1, said" eval '[ $rc = 1 ] && grep -q "snap: copying data.mdb: the disk is full" "$T/err"'
    check "full disk: nothing left behind" sh -c "[ -z \"\$(ls -A '$M')\" ]"
    umount "$M"
fi
done_testing
