#!/bin/sh
# hardening_http.t - attacks over HTTP itself, each refused before any
# handler runs, with a JSON error naming the problem:
#  - request smuggling: framing that evhttp would read one way and a proxy
#    another (several Content-Length lines, chunk sizes like 0x10, a body on
#    HEAD, ...): 400, connection closed, the smuggled request never answered;
#  - DNS rebinding: a Host that is not one of this server's names, over TCP:
#    421 (curl --resolve plays the rebound name);
#  - cross-site requests from a browser page (Origin, Sec-Fetch-Site) to the
#    state-changing and matching endpoints: 403;
#  - framing this server's pages: X-Frame-Options, CSP frame-ancestors and
#    nosniff on every answer.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl

TOKEN=http-token-0123456789abcdef
echo "$TOKEN" >"$T/token"
JPG=$FIX/blobs.jpg
ZERO=$(printf '0%.0s' $(seq 64))
scrimd_start --db "$T/db" --listen 127.0.0.1:0 --threads 1 --admin-token-file "$T/token" \
    --allowed-hosts 'localhost,scrim.internal' --allowed-origins 'https://moderation.example' ||
    bail_out "scrimd did not start"
PORT=$(sed -n 's/.*"msg":"listening","tcp":"127.0.0.1","port":\([0-9]*\).*/\1/p' "$T/log")
URL=http://127.0.0.1:$PORT
# tcp PATH [curl args]: as http, over TCP
tcp() {
    p=$1
    shift
    code=$(curl -s -o "$T/out" -D "$T/headers" -w '%{http_code}' --max-time 20 "$@" "$URL$p")
}
err() { printf '%s:%s' "$code" "$(jv '$j->{error}{code}')"; }
# status lines of a raw exchange
statuses() { grep -a '^HTTP/1\.[01] ' "$T/raw" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//'; }
body() { sed -n '/^\r$/,$p' "$T/raw" | sed 1d | head -n 1 >"$T/out"; }
send() {   # PRINTF-FORMAT: those bytes to the Unix socket, answer in $T/raw
    printf "$1" >"$T/req"
    raw "$SOCK" "$T/req" >"$T/raw"
}
SMUGGLED='GET /v1/lists HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '$TOKEN'\r\n\r\n'

# ---- smuggling: framing refused with 400 before a handler, connection closed ----------
smuggle() {   # DESCRIPTION WANT-IN-MESSAGE PRINTF-FORMAT: then a smuggled request
    send "$3$SMUGGLED"
    body
    is "$(statuses):$(jv '$j->{error}{code}')" "400:bad_request" "$1: 400, and the request behind it is never answered"
    like "$(jv '$j->{error}{message}')" "$2" "... naming the problem"
}
smuggle "two Content-Length headers" "more than one Content-Length" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
smuggle "conflicting Content-Length headers" "more than one Content-Length" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 200\r\n\r\nhello'
smuggle "Content-Length: +5" "not a decimal number" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello'
smuggle "Transfer-Encoding: gzip, chunked" "only 'chunked'" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
smuggle "chunk size 0x10" "malformed chunk size '0x10'" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n0123456789abcdef\r\n0\r\n\r\n'
smuggle "chunk size +10" "malformed chunk size" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+10\r\n0123456789abcdef\r\n0\r\n\r\n'
smuggle "chunk size with a leading space" "malformed chunk size" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 10\r\n0123456789abcdef\r\n0\r\n\r\n'
smuggle "chunk size '10 junk'" "malformed chunk size" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10 junk\r\n0123456789abcdef\r\n0\r\n\r\n'
smuggle "an empty line between chunks" "empty line where a chunk size" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n\r\n0\r\n\r\n'
smuggle "chunk data without its CRLF" "not followed by CRLF" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc0\r\n\r\n'
smuggle "a chunk line ending in a bare LF" "without CR" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n'
send 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'"$SMUGGLED"
is "$(statuses)" "400" "a body on HEAD (evhttp never reads it): 400 (no body: it answers HEAD), the request behind it never answered"
smuggle "a body on TRACE (evhttp never reads it)" "HEAD or TRACE" \
    'TRACE /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
# evhttp ends a head at a line starting with NUL; with a request after the
# smuggled one, counting requests alone did not catch it (fuzz_transport)
send 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\000\r\n'"$SMUGGLED"'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
body
is "$(statuses):$(jv '$j->{error}{code}')" "400:bad_request" \
    "a header line starting with NUL (evhttp: the end of the head): 400, nothing behind it answered"
like "$(jv '$j->{error}{message}')" "a NUL byte" "... naming the problem"
smuggle "white space before a header's colon" "white space in a header name" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello'
grep -q '^Connection: close' "$T/raw"
ok $? "the 400 says Connection: close"
# What evhttp refuses itself (its own HTML 400, or 413 for a corrupt chunk):
# still nothing behind it is answered.
evhttp_refuses() {   # DESCRIPTION PRINTF-FORMAT
    send "$2$SMUGGLED"
    like "$(statuses)" '^(400|413)$' "$1: refused by evhttp itself, the request behind it never answered"
}
evhttp_refuses "Content-Length and Transfer-Encoding" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
evhttp_refuses "a folded header line" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n x\r\n\r\nhello'
evhttp_refuses "chunk size -10" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-10\r\nx\r\n0\r\n\r\n'
evhttp_refuses "a chunk extension" \
    'POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\n\r\n'
! grep -q '"endpoint":"lists"' "$T/log"
ok $? "no smuggled request reached a handler"

# ---- sound framing still works, pipelined on one connection --------------------------
send 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n00A\r\n0123456789\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
is "$(statuses)" "200 400 200 200" "pipelined: plain, Content-Length, chunked, plain: every request answered"
send 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcDELETE /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
is "$(statuses)" "200 400 405 200" "... and with a chunked body with a trailer"
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$JPG" http://x/v1/hash)
is "$code:$(jv 'length $j->{md5}')" "200:32" "a chunked upload from curl is hashed"

# ---- methods, versions and answers evhttp frames badly (found by fuzz_transport) -------
N_SMUGGLED=$(printf "$SMUGGLED" | wc -c)
smuggle "a body on a method evhttp does not know (it reads none)" "HEAD or TRACE" \
    "FOO /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: $N_SMUGGLED\r\n\r\n"
for m in OPTIONS PATCH TRACE FOO; do
    send "$m /v1/hash HTTP/1.1\r\nHost: x\r\n\r\n$SMUGGLED"
    body
    is "$(statuses):$(jv '$j->{error}{code}')" "405:method_not_allowed" \
        "$m: 405 in JSON (evhttp's own answer was a 501 page), the connection closed"
done
like "$(jv '$j->{error}{message}')" "method is not supported" "... naming the problem"
# first_answer: the Content-Length of the first answer in $T/raw, then the
# 12 bytes after its head
first_answer() {
    perl -0777 -ne '/\A(.*?\r\n\r\n)/s or exit; my $h = $1;
        my ($cl) = $h =~ /^Content-Length: (\d+)\r$/mi;
        my $rest = substr($_, length $h);
        print defined $cl ? $cl : "none", ":", substr($rest, 0, 12)' "$T/raw"
}
send 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
is "$(statuses)" "405 200" "HEAD then GET: both answered"
like "$(first_answer)" '^[0-9]+:HTTP/1.1 200$' "the answer to HEAD says its length and sends no body (the next answer follows its head)"
send 'CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
is "$(statuses)" "405 200" "CONNECT then GET: both answered"
perl -0777 -ne '/\A(.*?\r\n\r\n)(.*?)HTTP\/1\.1 200/s or exit 1; my ($h, $b) = ($1, $2);
    my ($cl) = $h =~ /^Content-Length: (\d+)\r$/mi; exit(defined $cl && $cl == length $b ? 0 : 1)' "$T/raw"
ok $? "the answer to CONNECT has a Content-Length, that of its body"
for v in 0.1 1.7 1.-1; do
    send "GET /healthz HTTP/$v\r\nHost: x\r\n\r\n"
    body
    is "$(statuses):$(jv '$j->{error}{code}')" "400:bad_request" "HTTP/$v: 400 (evhttp echoed the version, framing its answer as neither 1.0 nor 1.1)"
done
like "$(jv '$j->{error}{message}')" "HTTP/1.1 or HTTP/1.0" "... naming the problem"

# ---- DNS rebinding: Host over TCP ----------------------------------------------------
tcp /healthz
is "$code" 200 "TCP, Host 127.0.0.1:PORT: answered"
tcp /healthz -H "Host: localhost:$PORT"
is "$code" 200 "Host localhost:PORT: answered"
tcp /healthz -H "Host: [::1]:$PORT"
is "$code" 200 "Host [::1]:PORT (an IP literal): answered"
tcp /healthz -H "Host: scrim.internal"
is "$code" 200 "a name in --allowed-hosts: answered"
code=$(curl -s -o "$T/out" -w '%{http_code}' --resolve "rebind.example:$PORT:127.0.0.1" \
    --data-binary @"$JPG" "http://rebind.example:$PORT/v1/match")
is "$(err)" "421:host_not_allowed" "a rebound name (rebind.example -> 127.0.0.1) posting a match: 421"
like "$(jv '$j->{error}{message}')" "Host 'rebind.example'" "... naming the Host"
code=$(curl -s -o "$T/out" -w '%{http_code}' --resolve "rebind.example:$PORT:127.0.0.1" \
    "http://rebind.example:$PORT/review")
is "$(err)" "421:host_not_allowed" "and reading the review page: 421"
tcp /healthz -H "Host: evil.example:99999"
is "$(err)" "400:bad_request" "a malformed Host: 400"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n' >"$T/req"
raw "127.0.0.1:$PORT" "$T/req" >"$T/raw"
body
is "$(statuses):$(jv '$j->{error}{code}')" "400:bad_request" "two Host headers: 400"
http GET /healthz -H "Host: evil.example"
is "$code" 200 "the Unix socket has no Host check (no browser reaches it)"

# ---- cross-site requests -------------------------------------------------------------
tcp /v1/match -H "Origin: http://evil.example" --data-binary @"$JPG"
is "$(err)" "403:cross_site" "POST /v1/match from another site's page (Origin): 403"
like "$(jv '$j->{error}{message}')" "Origin 'http://evil.example'" "... naming the Origin"
tcp /v1/match -H "Origin: null" --data-binary @"$JPG"
is "$(err)" "403:cross_site" "Origin: null (a sandboxed or file: page): 403"
tcp /v1/match -H "Origin: http://localhost:3000" -H "Sec-Fetch-Site: same-site" --data-binary @"$JPG"
is "$(err)" "403:cross_site" "a page on another local port (same-site): 403"
tcp /v1/match -H "Sec-Fetch-Site: cross-site" --data-binary @"$JPG"
is "$(err)" "403:cross_site" "Sec-Fetch-Site: cross-site without Origin: 403"
tcp "/v1/lookup?pdq=$ZERO" -H "Sec-Fetch-Site: cross-site"
is "$(err)" "403:cross_site" "GET /v1/lookup from another site (an <img>): 403"
tcp /v1/lists/x -X PUT -H "Authorization: Bearer $TOKEN" -H "Origin: http://evil.example" --data '{}'
is "$(err)" "403:cross_site" "an admin PUT with a cross-site Origin: 403 (even with the token)"
tcp /v1/review/0123456789abcdef0123456789abcdef/decision -H "Authorization: Bearer $TOKEN" \
    -H "Origin: http://evil.example" --data '{"decision":"confirm"}'
is "$(err)" "403:cross_site" "a review decision with a cross-site Origin: 403"
http POST /v1/match -H "Origin: http://evil.example" --data-binary @"$JPG"
is "$(err)" "403:cross_site" "the same over the Unix socket: 403"
tcp /v1/match -H "Origin: $URL" -H "Sec-Fetch-Site: same-origin" --data-binary @"$JPG"
is "$code" 200 "the server's own page (same origin): 200"
tcp /v1/match -H "Host: localhost:$PORT" -H "Origin: http://localhost:$PORT" --data-binary @"$JPG"
is "$code" 200 "same origin by name: 200"
tcp /v1/match -H "Origin: https://moderation.example" -H "Sec-Fetch-Site: cross-site" --data-binary @"$JPG"
is "$code" 200 "an origin in --allowed-origins: 200"
tcp /v1/match --data-binary @"$JPG"
is "$code" 200 "no Origin (curl, a program): 200"
tcp /review -H "Sec-Fetch-Site: cross-site"
is "$code" 200 "a link to /review from elsewhere (a GET navigation): 200"
tcp /healthz -H "Origin: http://evil.example"
is "$code" 200 "GET /healthz with any Origin: 200"

# ---- headers on every answer ----------------------------------------------------------
hdrs() {
    grep -qi '^X-Frame-Options: DENY' "$T/headers" &&
        grep -qi "^Content-Security-Policy: frame-ancestors 'none'" "$T/headers" &&
        grep -qi '^X-Content-Type-Options: nosniff' "$T/headers"
}
for p in /review /healthz /metrics /v1/nothing "/v1/lookup?pdq=1"; do
    tcp "$p"
    hdrs
    ok $? "X-Frame-Options, CSP frame-ancestors, nosniff on $p ($code)"
done
tcp /v1/match -H "Origin: http://evil.example" --data-binary @"$JPG"
hdrs
ok $? "... and on a refusal ($code)"
tcp /v1/lists -H "Authorization: Bearer $TOKEN"
hdrs
ok $? "... and on the admin API ($code)"

kill -0 "$PID"
ok $? "scrimd is up after all of it"
kill -TERM "$PID"
wait "$PID"
is "$?" 0 "scrimd exits 0"
PID=
no_sanitizer_reports "$T/stderr"
done_testing
