#!/bin/sh
# hardening_jobs.t - the attack: an admin import (or drop) that takes longer
# than the request may.  It used to be answered 504 at --request-timeout
# while it went on and committed, so a client retried a change that had been
# made, or believed one failed that had not.  Now an admin request not done
# within --admin-wait is answered 202 Accepted with a job; GET /v1/jobs/ID
# says queued / running / done (with the counts) / failed (with the error).
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl

TOKEN=jobs-token-0123456789abcdef
echo "$TOKEN" >"$T/token"
err() { printf '%s:%s' "$code" "$(jv '$j->{error}{code}')"; }
JPG=$FIX/blobs.jpg
# 150,000 random PDQs (about half a second to import here) and the fixture's.
perl -e 'srand(7); for (1..150000) { print join("", map { sprintf "%02x", int(rand 256) } 1..32), "\n" }' >"$T/big"
"$BIN/scrim" hash "$JPG" | cut -d, -f1 >>"$T/big"
cp "$T/big" "$T/bad"
echo "not-a-hash" >>"$T/bad"

start() {   # extra options
    scrimd_start --db "$T/db" --listen none --threads 1 --admin-token-file "$T/token" "$@" ||
        bail_out "scrimd did not start"
}
job_poll() {   # JOB-URL: until the job is done or failed (30 s at most)
    i=0
    while [ $i -lt 300 ]; do
        http GET "$1" -H "$(auth)"
        case "$(jv '$j->{state}')" in done|failed) return 0 ;; esac
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# A request timeout far below the import's time: before, a 504.
start --admin-wait 0.05 --request-timeout 0.1
http PUT /v1/lists/big -H "$(auth)" --data '{"kind":"block"}'
is "$code" 201 "a quick admin request is answered directly"

code=$(curl -s -o "$T/out" -D "$T/headers" -w '%{http_code}' --max-time 20 --unix-socket "$SOCK" \
    -X POST -H "$(auth)" --data-binary @"$T/big" http://scrimd/v1/lists/big/import)
URL=$(jv '$j->{url}')
is "$code:$(jv '$j->{state}' | sed 's/queued/running/')" "202:running" \
    "an import past --admin-wait: 202 Accepted, its job running (not 504)"
grep -qi "^Location: $URL" "$T/headers"
ok $? "with the job's URL in Location ($URL)"
# queued behind it on the one admin thread
http PUT /v1/lists/other -H "$(auth)" --data '{"kind":"block"}'
is "$code:$(jv '$j->{state}')" "202:queued" "an admin request behind it: 202, its job queued"
URL2=$(jv '$j->{url}')
job_poll "$URL"
ok $? "the import's job finishes"
is "$(jv '$j->{state}'):$(jv '$j->{status}'):$(jv '$j->{result}{added}'):$(jv '$j->{result}{lines}')" \
    "done:200:150001:150001" "job done: status 200 and the import's counts"
job_poll "$URL2"
is "$(jv '$j->{state}'):$(jv '$j->{status}'):$(jv '$j->{result}{name}')" "done:201:other" \
    "the queued one is done too, with the answer it would have had"
http GET /v1/lists/big -H "$(auth)"
is "$code:$(jv '$j->{count}')" "200:150001" "the import committed"
! grep '"status":504' "$T/log" | grep -q '"endpoint":"list"'
ok $? "no admin request was answered 504"
grep -q '"msg":"job finished".*"status":200' "$T/log"
ok $? "a log line when the job finishes"

# A failing import past the wait: the job says failed, with the error.
http POST /v1/lists/big/import -H "$(auth)" --data-binary @"$T/bad"
is "$code" 202 "a bad import past the wait: 202"
job_poll "$(jv '$j->{url}')"
is "$(jv '$j->{state}'):$(jv '$j->{status}'):$(jv '$j->{error}{code}')" "failed:400:bad_request" \
    "its job failed: 400 bad_request"
like "$(jv '$j->{error}{message}')" "150002" "the error names the bad line"
http GET /v1/lists/big -H "$(auth)"
is "$(jv '$j->{count}')" 150001 "and nothing of it was imported"

# Job ids: unknown, and only with the admin token.
http GET /v1/jobs/0123456789abcdef0123456789abcdef -H "$(auth)"
is "$(err)" "404:not_found" "an unknown job: 404"
http GET "$URL"
is "$(err)" "401:unauthorized" "a job without the admin token: 401"
http GET /metrics
grep -q '^scrim_admin_jobs_total 3$' "$T/out"
ok $? "/metrics counts the jobs"
kill -TERM "$PID"; wait "$PID"; PID=

# --admin-wait 0: every admin request on the admin thread is a job (a drop).
start --admin-wait 0
http DELETE /v1/lists/big -H "$(auth)"
is "$code" 202 "--admin-wait 0: a drop is answered 202 at once"
job_poll "$(jv '$j->{url}')"
is "$(jv '$j->{state}'):$(jv '$j->{result}{removed}')" "done:150001" "its job: done, 150001 removed"
http GET /v1/settings -H "$(auth)"
is "$code:$(jv '$j->{"admin-wait"}')" "200:0" "an admin request on the loop is answered directly"
kill -TERM "$PID"; wait "$PID"
is "$?" 0 "scrimd exits 0"
PID=
no_sanitizer_reports "$T/stderr"
done_testing
