#!/bin/sh
# hardening_browser.t - the browser attacks, in a real browser (headless
# Chromium): a page on another site (attacker.example, mapped to 127.0.0.1)
# makes the requests any page can make without CORS - an <img> lookup, a
# fetch() POSTing a matching upload, a sendBeacon, a form POST - at scrimd on
# 127.0.0.1; and a DNS rebinding (rebind.example resolving to 127.0.0.1)
# opens /review.  Every one is refused (403 cross_site, 421) and nothing is
# recorded; scrimd's own page on 127.0.0.1 still loads.  Skipped without
# chromium or python3, and in sanitizer builds (the server checks are the
# same; hardening_http.t runs them there).
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl perl python3 chromium
case ${SCRIM_BUILD:-} in *san*) skip_all "run in the release build" ;; esac
WWW=
at_exit '[ -n "$WWW" ] && kill "$WWW" 2>/dev/null'

TOKEN=browser-token-0123456789abcdef
echo "$TOKEN" >"$T/token"
JPG=$FIX/blobs.jpg
"$BIN/scrim" hash "$JPG" | cut -d, -f1 |
    "$BIN/scrim" import --db "$T/db" --list blk --create --quiet - >/dev/null
scrimd_start --db "$T/db" --listen 127.0.0.1:0 --threads 1 --admin-token-file "$T/token" ||
    bail_out "scrimd did not start"
PORT=$(sed -n 's/.*"msg":"listening","tcp":"127.0.0.1","port":\([0-9]*\).*/\1/p' "$T/log")
S=http://127.0.0.1:$PORT

# ---- the attacker's page, on its own server -------------------------------------------
mkdir "$T/www"
B64=$(base64 -w0 "$JPG")
PDQ=$("$BIN/scrim" hash "$JPG" | cut -d, -f1)
cat >"$T/www/attack.html" <<HTML
<!doctype html><html><body><p id="r">started</p>
<img src="$S/v1/lookup?pdq=$PDQ">
<form id="f" method="POST" action="$S/v1/hash" enctype="text/plain"><input name="a" value="b"></form>
<script>
const jpg = Uint8Array.from(atob("$B64"), c => c.charCodeAt(0));
fetch("$S/v1/match", {method: "POST", mode: "no-cors", body: jpg})
  .then(() => { document.getElementById("r").textContent = "fetch sent"; },
        e => { document.getElementById("r").textContent = "fetch failed " + e; });
navigator.sendBeacon("$S/v1/match", new Blob([jpg]));
setTimeout(() => document.getElementById("f").submit(), 500);
</script></body></html>
HTML
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$T/www" >"$T/www.log" 2>&1 &
WWW=$!
i=0
while ! grep -q 'port [0-9]' "$T/www.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
APORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/www.log" | head -n 1)
browse() {   # URL: what the page's DOM holds after 10 s of (virtual) time
    timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/chrome" \
        --host-resolver-rules="MAP attacker.example 127.0.0.1, MAP rebind.example 127.0.0.1" \
        --virtual-time-budget=10000 --dump-dom "$1" 2>>"$T/chrome.err"
}
count() { grep -c "$1" "$T/log"; }

# ---- the cross-site page -------------------------------------------------------------------
browse "http://attacker.example:$APORT/attack.html" >"$T/dom"
grep -q '"code":"cross_site"' "$T/dom"
ok $? "the attacker page ran (its form POST landed on scrimd's 403 cross_site)"
is "$(grep '"endpoint":"lookup"' "$T/log" | grep -c '"status":403,.*"error":"cross_site"')" 1 \
    "its <img> lookup: 403 cross_site"
is "$(grep '"endpoint":"match"' "$T/log" | grep -c '"status":403,.*"error":"cross_site"')" 2 \
    "its fetch() and sendBeacon() POSTing a matching image: 403 cross_site, both"
is "$(grep '"endpoint":"hash"' "$T/log" | grep -c '"status":403,.*"error":"cross_site"')" 1 \
    "its form POST: 403 cross_site"
is "$(count '"status":200')" 0 "no request of the page was served"
http GET /v1/review -H "Authorization: Bearer $TOKEN"
is "$code:$(jv '$j->{records}')" "200:0" "no review record was made"

# ---- DNS rebinding -----------------------------------------------------------------------------
browse "http://rebind.example:$PORT/review" >"$T/dom"
grep -q '"code":"host_not_allowed"' "$T/dom"
ok $? "a rebound name opening /review: refused (421 host_not_allowed)"
grep '"path":"/review"' "$T/log" | grep -q '"status":421'
ok $? "... in the log too"

# ---- the server's own page is served -----------------------------------------------------
browse "$S/review" >"$T/dom"
grep -qi '<title>' "$T/dom" && ! grep -q '"error"' "$T/dom"
ok $? "scrimd's own /review on 127.0.0.1 loads"

kill -TERM "$PID"
wait "$PID"
is "$?" 0 "scrimd exits 0"
PID=
no_sanitizer_reports "$T/stderr"
done_testing
