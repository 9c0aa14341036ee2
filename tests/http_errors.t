#!/bin/sh
# http_errors.t - every endpoint family (media, lookup, admin, review) answers
# the same kind of error with the same status and JSON "code": starts the real
# scrimd on a temp socket and database, as daemon.t does, and compares them.
set -u
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl
temp_dir T http-errors
SOCK=$T/scrimd.sock

# err: "STATUS:CODE" of the last answer, CODE from its JSON error.
err() {
    printf '%s:' "$code"
    perl -MJSON::PP -e 'local $/; my $j = eval { decode_json(<STDIN>) };
        my $c = $j && ref $j eq "HASH" && $j->{error} ? $j->{error}{code} : undef;
        print defined $c ? $c : "(no JSON error)"' <"$T/out"
}

# ---- fixtures and the daemon ---------------------------------------------------
JPG=$FIX/blobs.jpg
huge_png "$T/huge.png"
mkdir -p "$T/allowed"
head -c 300000 /dev/zero >"$T/allowed/300k"   # over --max-body below
head -c 300000 /dev/zero >"$T/300k"
TOKEN=errors-token-0123456789abcdef
echo "$TOKEN" >"$T/token"

scrimd_start --db "$T/db" --listen none --threads 1 --max-body 200000 \
    --admin-token-file "$T/token" --allow-path "$T/allowed" ||
    bail_out "scrimd did not start"
http PUT /v1/lists/blk -H "$(auth)" --data '{"kind":"block"}'
is "$code" 201 "set-up: a list to work on"
http POST /v1/match --data-binary @"$JPG"
is "$code" 200 "set-up: a match (the review records are opened)"

# ---- 400: one code, "bad_request", from every family ------------------------------
http POST '/v1/match?min_quality=high' --data-binary @"$JPG"
is "$(err)" "400:bad_request" "media: /v1/match with a bad query value"
http GET '/v1/lookup?pdq=12345'
is "$(err)" "400:bad_request" "lookup: a malformed hash"
http PUT /v1/lists/blk -H "$(auth)" --data '{"radius":99}'
is "$(err)" "400:bad_request" "admin: a radius out of range"
http POST /v1/lists/blk/import -H "$(auth)" --data-binary 'pdq nothex'
is "$(err)" "400:bad_request" "admin: a malformed import line (the store's error)"
http GET '/v1/review?limit=0' -H "$(auth)"
is "$(err)" "400:bad_request" "review: a bad ?limit="
http GET '/v1/review?since=yesterday' -H "$(auth)"
is "$(err)" "400:bad_request" "review: a bad ?since= (the review store's error)"

# ---- 404: "not_found" ---------------------------------------------------------------
http GET /v1/lists/nolist -H "$(auth)"
is "$(err)" "404:not_found" "admin: a missing list"
http POST /v1/match -G --data-urlencode "path=$T/allowed/none.jpg"
is "$(err)" "403:forbidden" "media: ?path= to a missing file (as one outside: existence is not told)"
http GET /v1/review/0123456789abcdef0123456789abcdef -H "$(auth)"
is "$(err)" "404:not_found" "review: a missing record"
# A path that is not UTF-8: the error quotes it, bad bytes as '?', and the
# request still gets its log line.
http GET "/v1/nowhere$(printf '\314\377')x"
is "$(err)|$(grep -c '"path":"/v1/nowhere??x"' "$T/log")" "404:not_found|1" "a path that is not UTF-8: JSON error and log line"

# ---- 413: "too_large" ----------------------------------------------------------------
http POST /v1/hash --data-binary @"$T/huge.png"
is "$(err)" "413:too_large" "media: an image over --max-pixels (the decoder's error)"
http POST /v1/match -G --data-urlencode "path=$T/allowed/300k"
is "$(err)" "413:too_large" "media: a ?path= file over --max-body"
# Refused by libevent before any handler runs (README: no JSON body).
http POST /v1/lists/blk/import -H "$(auth)" --data-binary @"$T/300k"
is "$code" 413 "admin: an import body over --max-body"

# ---- the daemon is unharmed --------------------------------------------------------------
http POST /v1/hash --data-binary @"$JPG"
is "$code" 200 "served normally after the errors"
scrimd_stop
is "$?" 0 "SIGTERM: exit 0"
no_sanitizer_reports "$T/stderr"
done_testing
