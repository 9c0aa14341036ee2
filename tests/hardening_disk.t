#!/bin/sh
# hardening_disk.t - the attack: fill the disk under scrimd's database, then
# start it and post an upload that matches.  LMDB writes its lock file
# through a memory map, so a lock file whose pages the full file system could
# not allocate used to kill scrimd with SIGBUS at the first matching upload
# (side.mdb, opened then) and at every restart.  Now every LMDB lock file is
# allocated before it is mapped, side.mdb is opened at start-up, and a full
# disk means: the main database refuses to start with a message naming the
# file, or review records are off (log, /healthz) while matching goes on.
# Needs root (a small tmpfs is mounted); skipped otherwise.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl
M=$T/full
mkdir -p "$M"
if [ "$(id -u)" != 0 ]; then
    skip_all "needs root to mount a small tmpfs"
    exit 0
fi
if ! mount -t tmpfs -o size=4m,mode=0755 tmpfs "$M" 2>"$T/mount.err"; then
    skip_all "cannot mount a tmpfs: $(head -c 200 "$T/mount.err")"
    exit 0
fi
# scrimd first (daemon_lib kills one still running at exit), then the tmpfs
at_exit '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; umount "$M" 2>/dev/null'

JPG=$FIX/blobs.jpg
echo disk-token-0123456789abcdef >"$T/token"
start() {   # DB: scrimd on DB in the background, PID set
    : >"$T/log"
    : >"$T/stderr"
    "$BIN/scrimd" --db "$1" --socket "$SOCK" --listen none --threads 1 \
        --admin-token-file "$T/token" --log "$T/log" 2>>"$T/stderr" &
    PID=$!
}
stop() {   # SIGTERM; the exit status in $rc
    kill -TERM "$PID" 2>/dev/null
    wait "$PID"
    rc=$?
    PID=
}
start_fails() {   # DB: start, wait up to 10 s for it to exit; its status in $rc
    start "$1"
    i=0
    while kill -0 "$PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    if kill -0 "$PID" 2>/dev/null; then stop; rc="still running"; return; fi
    wait "$PID"
    rc=$?
    PID=
}
fill() {   # until the file system has no block left: the test's tmpfs only
    mountpoint -q "$M" || { echo "Bail out! $M is not the test's tmpfs"; exit 1; }
    dd if=/dev/zero of="$M/fill$1" bs=64k 2>/dev/null
    avail=$(df -Pk "$M" | awk 'NR == 2 { print $4 }')
}

# ---- a database with a list that the fixture matches, then a full disk ----------
"$BIN/scrim" hash "$JPG" | cut -d, -f1 |
    "$BIN/scrim" import --db "$M/db" --list blk --create --quiet - >/dev/null
ok $? "set-up: a list holding the fixture's hash, on a 4 MB tmpfs"
fill 1
is "$avail" 0 "the disk is full"

# ---- start on the full disk, then a matching upload ---------------------------------
start "$M/db"
wait_log '"msg":"ready"'
ok $? "scrimd starts on the full disk"
grep '"msg":"review records are off"' "$T/log" | grep -q 'side.mdb-lock.*No space left on device'
ok $? "its log says review records are off, naming side.mdb's lock file and ENOSPC"
http GET /healthz
is "$code:$(jv '$j->{status}'):$(jv '$j->{review}{records}')" "200:degraded:off" \
    "/healthz: degraded, review records off"

like "$(jv '$j->{review}{error}')" '^side.mdb-lock: cannot allocate .*No space left on device$' "/healthz names the problem (the file's name, not its path)"
http POST /v1/match --data-binary @"$JPG"
is "$code:$(jv '$j->{matched}'):$(jv '$j->{review}')" "200:true:null" \
    "a matching upload is answered (matched, no review record)"
http POST /v1/match --data-binary @"$JPG"
is "$code" 200 "and the next one"
http PUT /v1/lists/more -H "Authorization: Bearer disk-token-0123456789abcdef" --data '{}'
is "$code:$(jv '$j->{error}{code}')" "500:database" "an admin write on the full disk: 500 database"
like "$(jv '$j->{error}{message}')" "No space left on device" "... naming the full disk"
kill -0 "$PID" 2>/dev/null
ok $? "scrimd is still up"
grep '"endpoint":"match"' "$T/log" | grep -q '"hook_error":"review records are off:'
ok $? "each match's log line says its review record was not kept"
stop
is "$rc" 0 "SIGTERM: exit 0 (no signal)"

# ---- what the crashed run left: a sparse side.mdb lock file -------------------------
# (a run of the old code made side.mdb-lock with ftruncate, then died writing to it)
truncate -s 65664 "$M/db/side.mdb-lock"
start "$M/db"
wait_log '"msg":"ready"'
ok $? "restart over the sparse lock file a crash left: starts"
http POST /v1/match --data-binary @"$JPG"
is "$code:$(jv '$j->{matched}')" "200:true" "and answers a matching upload"
kill -0 "$PID" 2>/dev/null
ok $? "and is still up"
stop
is "$rc" 0 "exit 0"

# ---- the main database on a full disk: refused with a message, not a signal ---------
start_fails "$M/newdb"
is "$rc" 1 "a new database on the full disk: scrimd exits 1 (no signal)"
grep -q 'newdb/lock.mdb: cannot allocate .*No space left on device' "$T/stderr"
ok $? "naming the lock file and the full disk"
truncate -s 0 "$M/db/lock.mdb"
truncate -s 65664 "$M/db/lock.mdb"   # sparse: as LMDB leaves it
fill 2
start_fails "$M/db"
grep -q 'db/lock.mdb: cannot allocate .*No space left on device' "$T/stderr"
is "$rc:$?" "1:0" "a sparse main lock file on the full disk: exit 1 naming it"

# ---- space again: review records come back ------------------------------------------
rm -f "$M"/fill*
start "$M/db"
wait_log '"msg":"ready"'
http GET /healthz
is "$code:$(jv '$j->{status}'):$(jv '$j->{review}{records}')" "200:ok:on" \
    "disk space freed: /healthz ok, review records on"
http POST /v1/match --data-binary @"$JPG"
is "$code:$(jv 'length $j->{review}{id}')" "200:32" "a match gets its review record"
stop
is "$rc" 0 "exit 0"
no_sanitizer_reports "$T/stderr"
done_testing
