#!/bin/sh
# review_browser.t - the /review page in headless Chromium (driven by
# tests/browser/review_page.py over the DevTools protocol): only default
# previews in the default view (screenshot check), reveal while held or for
# a few seconds, keyboard decisions, login.  Skipped without chromium.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
browser_setup
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null &&
"$BIN/scrim" import --db "$T/db" --list hidden --create "$U/b.pdq" >/dev/null ||
    bail_out "import failed"
# A free TCP port for the browser (it cannot use the Unix socket).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_daemon --listen "127.0.0.1:$PORT" || bail_out "scrimd did not start"
req -X PUT -H "Authorization: Bearer $ADMIN" -d '{"level":"none"}' /v1/review/lists/hidden >/dev/null
# Three uploads of a (other files: a byte after its end; the same file
# again would count on its record) and one of b.
for i in 1 2; do { cat "$U/a.jpg"; printf '%s' "$i"; } > "$U/a$i.jpg"; done
for f in a a1 a2 b; do req --data-binary "@$U/$f.jpg" /v1/match >/dev/null; done
python3 "$(dirname "$0")/browser/review_page.py" "http://127.0.0.1:$PORT" "$REVIEWER" \
    "$HELPER" "$T" 3 1
