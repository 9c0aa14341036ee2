#!/bin/sh
# hardening_auth.t - attacks on tokens and on what the files and /metrics
# give away: a token rotated on disk must be refused at once by every API
# (admin, review, per-list metrics) with no SIGHUP; a broken token file must
# not open the API; the database is created 0700/0600 whatever the umask;
# /metrics names no list without the admin token.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl

err() { printf '%s:%s' "$code" "$(jv '$j->{error}{code}')"; }
OLD=old-admin-token-0123456789abcdef
NEW=new-admin-token-fedcba9876543210
REV=reviewer-token-0123456789abcdef
echo "$OLD" >"$T/admin.token"
echo "$REV" >"$T/reviewer.token"

umask 022   # what a careless service manager leaves
scrimd_start --db "$T/db" --listen none --threads 1 --admin-token-file "$T/admin.token" \
    --reviewer-token-file "$T/reviewer.token" ||
    bail_out "scrimd did not start"

# ---- files: 0700 / 0600 by default -----------------------------------------------
mode() { stat -c %a "$1"; }
is "$(mode "$T/db")" 700 "the database directory is created 0700 (umask 022)"
is "$(mode "$T/db/data.mdb") $(mode "$T/db/lock.mdb") $(mode "$T/db/side.mdb") $(mode "$T/db/side.mdb-lock")" \
    "600 600 600 600" "data.mdb, lock.mdb, side.mdb and its lock file are 0600"
grep -q '^UMask=0077$' tools/scrimd/scrimd.service
ok $? "the systemd unit sets UMask=0077"
! grep -q 'open to other users' "$T/log"
ok $? "no warning about the directory's mode"

# ---- a list and a match to count ----------------------------------------------------
http PUT /v1/lists/partner-secret-list -H "Authorization: Bearer $OLD" --data '{"kind":"block"}'
is "$code" 201 "set-up: a list"
"$BIN/scrim" hash "$FIX/blobs.jpg" | cut -d, -f1 >"$T/hashes"
http POST /v1/lists/partner-secret-list/import -H "Authorization: Bearer $OLD" --data-binary @"$T/hashes"
is "$code" 200 "set-up: its hash"
http POST /v1/match --data-binary @"$FIX/blobs.jpg"
is "$code:$(jv '$j->{matched}')" "200:true" "set-up: a match"

# ---- /metrics: no list names to anyone without the admin token ------------------------
http GET /metrics
! grep -q 'partner-secret-list' "$T/out"
ok $? "/metrics without a token names no list"
grep -q '^scrim_matches_all_lists_total 1$' "$T/out" && grep -q '^scrim_hashes_all_lists{type="pdq"} 1$' "$T/out"
ok $? "but has the totals"
http GET /metrics -H "Authorization: Bearer wrong-token-0123456789abcdef"
! grep -q 'partner-secret-list' "$T/out"
ok $? "nor with a wrong token"
http GET /metrics -H "Authorization: Bearer $REV"
! grep -q 'partner-secret-list' "$T/out"
ok $? "nor with the reviewer token"
http GET /metrics -H "Authorization: Bearer $OLD"
grep -q '^scrim_matches_total{list="partner-secret-list"} 1$' "$T/out" &&
    grep -q '^scrim_list_hashes{list="partner-secret-list",type="pdq"} 1$' "$T/out"
ok $? "with the admin token: the per-list series"

# ---- rotation by rename (how a secret manager writes) ----------------------------------
echo "$NEW" >"$T/admin.token.new"
mv "$T/admin.token.new" "$T/admin.token"
http GET /v1/lists -H "Authorization: Bearer $OLD"
is "$(err)" "403:forbidden" "admin token rotated (rename): the old one is refused at once"
http GET /v1/lists -H "Authorization: Bearer $NEW"
is "$code" 200 "the new one works"
http GET /v1/review -H "Authorization: Bearer $OLD"
is "$(err)" "403:forbidden" "review API: the old admin token is refused"
http GET /v1/review -H "Authorization: Bearer $NEW"
is "$code" 200 "review API: the new admin token works"
http GET /metrics -H "Authorization: Bearer $OLD"
! grep -q 'partner-secret-list' "$T/out"
ok $? "/metrics: the old admin token no longer shows list names"
http GET /v1/settings -H "Authorization: Bearer $NEW"
is "$code" 200 "/v1/settings (on the loop) takes the new one"

# ---- rotation in place, same length (only mtime/ctime change) --------------------------
NEW2=new-admin-token-fedcba98765432XY
printf '%s\n' "$NEW2" >"$T/admin.token"
http GET /v1/lists -H "Authorization: Bearer $NEW"
is "$(err)" "403:forbidden" "rewritten in place, same size: the previous token is refused"
http GET /v1/lists -H "Authorization: Bearer $NEW2"
is "$code" 200 "and the new one works"

# ---- the reviewer token rotates too ------------------------------------------------------
echo "reviewer-token-rotated-0123456789" >"$T/reviewer.token"
http GET /v1/review -H "Authorization: Bearer $REV"
is "$(err)" "403:forbidden" "reviewer token rotated: the old one is refused"
http GET /v1/review -H "Authorization: Bearer reviewer-token-rotated-0123456789"
is "$code" 200 "the new one works"

# ---- a broken token file never opens the API -------------------------------------------
echo "short" >"$T/admin.token"
http GET /v1/lists -H "Authorization: Bearer $NEW2"
is "$(err)" "503:admin_unavailable" "a token file rewritten with a bad token: 503, no token accepted"
like "$(jv '$j->{error}{message}')" "admin.token: the token must be" "naming the file and the problem"
rm -f "$T/admin.token"
http GET /v1/lists -H "Authorization: Bearer $NEW2"
is "$(err)" "503:admin_unavailable" "a deleted token file: 503"
http GET /v1/lists -H "Authorization: Bearer "
is "$(err)" "503:admin_unavailable" "an empty token gets nothing either"
echo "$NEW" >"$T/admin.token"
http GET /v1/lists -H "Authorization: Bearer $NEW"
is "$code" 200 "the file back: the API is back"

kill -TERM "$PID"
wait "$PID"
is "$?" 0 "scrimd exits 0"
PID=
# an older database directory, open to others: a warning at start
chmod 755 "$T/db"
: >"$T/log"
"$BIN/scrimd" --db "$T/db" --socket "$SOCK" --listen none --threads 1 \
    --log "$T/log" 2>>"$T/stderr" &
PID=$!
wait_log '"msg":"ready"'
grep '"level":"warning"' "$T/log" | grep -q 'database directory .* is open to other users (mode 0755): chmod 700 it'
ok $? "a database directory open to others (0755): a warning at start"
kill -TERM "$PID"
wait "$PID"
PID=
no_sanitizer_reports "$T/stderr"
done_testing
