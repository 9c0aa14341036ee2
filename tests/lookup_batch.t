#!/bin/bash
# lookup_batch.t - ?lists= (and scrim match --list) restrict a match or a
# lookup to the lists named; the client's content id (?content_id= or
# X-Content-Id) comes back in the answer, the log line and the review record;
# POST /v1/lookup answers a batch of 10,000 hashes exactly as 10,000 GETs do
# (the times of both are reported, never asserted: bench/ holds targets).
. tests/tap.sh
. tests/daemon_lib.sh

need_tools python3 curl
temp_dir T
S="$BIN/scrim"
DB=$T/db
SOCK=$T/sock
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/reviewer"
REVIEWER=$(cat "$T/reviewer")

PDQ=$("$S" hash "$FIX/blobs.jpg" | cut -d, -f1)
MD5=$(md5sum "$FIX/blobs.png" | cut -c1-32)
# a and b both hold the picture; a also the PNG's MD5; big: 100,000 random
# PDQs (seeded) of which the batch's known hashes are some.
printf '%s\n' "$PDQ" >"$T/one.txt"
printf 'pdq %s\nmd5 %s\n' "$PDQ" "$MD5" >"$T/a.txt"
python3 bench/lookup_batch_data.py "$T"
{ "$S" import --quiet --db "$DB" --list a --create --format pytx "$T/a.txt" &&
    "$S" import --quiet --db "$DB" --list b --create "$T/one.txt" &&
    "$S" import --quiet --db "$DB" --list big --create "$T/big.txt"; } >/dev/null ||
    bail_out "cannot import the lists"

# ---- scrim match --list ------------------------------------------------------
lists_of() { python3 -c 'import json,sys; print(" ".join(m["list"] for m in json.load(sys.stdin)["matches"]))'; }
is "$("$S" match --db "$DB" "$FIX/blobs.png" | lists_of)" "a a b" "scrim match: the picture in a and b, its MD5 in a"
is "$("$S" match --db "$DB" --list b "$FIX/blobs.png" | lists_of)" "b" "scrim match --list b: only b"
is "$("$S" match --db "$DB" --list b --list a "$FIX/blobs.png" | lists_of)" "a a b" "--list is repeatable"
"$S" match --db "$DB" --list nope "$FIX/blobs.png" >/dev/null 2>"$T/err"
is "$?,$(grep -c "no list named 'nope'" "$T/err")" "2,1" "scrim match --list NOPE: usage error naming it"

scrimd_start --db "$DB" --reviewer-token-file "$T/reviewer" || bail_out "scrimd did not start"

# ---- ?lists= ---------------------------------------------------------------------
http POST '/v1/match?lists=a' --data-binary @"$FIX/blobs.png"
is "$code $(lists_of <"$T/out")" "200 a a" "/v1/match?lists=a: a's PDQ and MD5, not b"
http POST '/v1/match?lists=b' --data-binary @"$FIX/blobs.png"
is "$code $(lists_of <"$T/out")" "200 b" "/v1/match?lists=b: only b (no digest of b)"
http POST '/v1/match?lists=a,nope' --data-binary @"$FIX/blobs.png"
is "$code $(jv '$j->{error}{message}')" "400 ?lists=: no list named 'nope'" "unknown list: 400 naming it"
http GET "/v1/lookup?pdq=$PDQ&lists=b"
is "$code $(lists_of <"$T/out")" "200 b" "GET /v1/lookup?lists=b"
http GET "/v1/lookup?md5=$MD5&lists=b"
is "$code $(jv '$j->{matched}')" "200 false" "a digest in a is not found in b"
http GET "/v1/lookup?pdq=$PDQ&lists=b,zz"
is "$code $(jv '$j->{error}{message}')" "400 ?lists=: no list named 'zz'" "GET /v1/lookup: unknown list 400"

# ---- content ids -------------------------------------------------------------------
http POST '/v1/match?lists=b' -H 'X-Content-Id: upload 42/a' --data-binary @"$FIX/blobs.jpg"
is "$code $(jv '$j->{content_id}')" "200 upload 42/a" "X-Content-Id echoed by /v1/match"
RID=$(jv '$j->{review}{id}')
http POST '/v1/hash?content_id=h-1' -H 'X-Content-Id: other' --data-binary @"$FIX/blobs.jpg"
is "$code $(jv '$j->{content_id}')" "200 h-1" "?content_id= echoed by /v1/hash (and wins over the header)"
like "$(grep '"endpoint":"match"' "$T/log" | tail -n 1)" '"content_id":"upload 42/a"' "the id in the match's log line"
like "$(grep '"endpoint":"hash"' "$T/log" | tail -n 1)" '"content_id":"h-1"' "the id in the hash's log line"
http GET "/v1/review/$RID" -H "Authorization: Bearer $REVIEWER"
is "$code $(jv '$j->{content_id}')" "200 upload 42/a" "the id in the review record"
http POST "/v1/hash?content_id=$(printf 'x%.0s' $(seq 257))" --data-binary @"$FIX/blobs.jpg"
is "$code" 400 "content id of 257 bytes: 400"
http POST '/v1/hash' -H "X-Content-Id: $(printf 'a\tb')" --data-binary @"$FIX/blobs.jpg"
is "$code" 400 "content id with a control byte: 400"

# ---- POST /v1/lookup ------------------------------------------------------------------
VPDQ=$(printf '0,100,%s,0.000\n1,100,%s,1.000\n' "$PDQ" "$PDQ")
python3 - "$T" "$PDQ" "$MD5" "$VPDQ" >"$T/mixed.json" <<'EOF'
import json, sys
t, pdq, md5, vpdq = sys.argv[1:]
print(json.dumps(["pdq:" + pdq.upper(), md5, "md5:" + md5, {"pdq": pdq}, "sha256:" + "0" * 64,
                  "xyz", {"pdq": 3}, {"vpdq": vpdq}, {"vpdq": "junk"}, [pdq], pdq]))
EOF
http POST '/v1/lookup?lists=a' --data-binary @"$T/mixed.json"
is "$code" 200 "a batch with malformed items is answered"
got=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(len(r), [x.get("matched", "error" in x) for x in r],
      r[0]["query"] == r[3]["query"] == r[10]["query"], r[7]["frames"], r[7]["matches"][0]["timestamps"])' "$T/out")
is "$got" "11 [True, True, True, True, False, True, True, True, True, True, True] True 2 [0.0, 1.0]" \
    "one result per item, in order: hashes, digests, errors in place, a video's frames"
is "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[5]["error"]["code"], "error" in r[6], "error" in r[8], "error" in r[9])' "$T/out")" \
    "bad_request True True True" "a malformed item is an error object"
http POST '/v1/lookup?lists=nope' --data-binary '[]'
is "$code" 400 "POST /v1/lookup?lists=NOPE: 400"
http POST '/v1/lookup?radius=40' --data-binary '[]'
is "$code" 403 "?radius= without the admin token: 403, as GET"
http POST '/v1/lookup' --data-binary '{"pdq": 1}'
is "$code" 400 "not an array: 400"
python3 -c 'import json; print(json.dumps(["0"*64] * 10001))' >"$T/over.json"
http POST '/v1/lookup' --data-binary @"$T/over.json"
is "$code" 413 "10,001 items: 413"

# 10,000 hashes in one POST against 10,000 GETs (one kept-alive connection,
# as a client that cares would make them), once the daemon has read the
# database in and cached its hashes, as it serves in steady state (before,
# the batch, coming first, raced the preload and paid the cold pages).
wait_log '"msg":"preloaded"' && wait_log '"msg":"hashes cached"' ||
    diag "no preload or hash cache logged: the times below are cold"
python3 - "$T" "$SOCK" >"$T/cmp" 2>"$T/times" <<'EOF'
import http.client, json, socket, sys, time
t, sock = sys.argv[1:]
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock)
qs = open(t + "/queries.txt").read().split()
c = C("scrimd")
t0 = time.monotonic()
c.request("POST", "/v1/lookup", json.dumps(qs), {"Content-Type": "application/json"})
resp = c.getresponse()
batch = json.loads(resp.read())["results"]
tb = time.monotonic() - t0
t0 = time.monotonic()
single = []
for q in qs:
    c.request("GET", "/v1/lookup?pdq=" + q)
    single.append(json.loads(c.getresponse().read()))
ts = time.monotonic() - t0
same = json.dumps(batch, sort_keys=True) == json.dumps(single, sort_keys=True)
hits = sum(1 for r in single if r["matched"])
print(resp.status, len(batch), same, hits)
print("batch %.3f s, singles %.3f s, %.1fx" % (tb, ts, ts / tb), file=sys.stderr)
EOF
read -r st n same hits <"$T/cmp"
is "$st $n $same" "200 10000 True" "10,000 in one POST = 10,000 GETs, result for result"
check "the known hashes are found ($hits)" [ "${hits:-0}" -ge 90 ]
diag "$(cat "$T/times")"
python3 -c 'import json; print(json.dumps([{"pdq": "f"*64}] * 3))' >"$T/three.json"
http POST '/v1/lookup?lists=b' --data-binary @"$T/three.json"
is "$code $(jv 'scalar @{$j->{results}}')" "200 3" "a batch restricted by ?lists="

scrimd_stop
is "$?" 0 "scrimd stops cleanly"
done_testing
