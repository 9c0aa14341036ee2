#!/bin/sh
# review_accounts_browser.t - the /review page in headless Chromium with
# reviewer accounts (tests/browser/review_accounts.py): sign-in by name, a
# content warning before any preview request, the reveal cap refused and
# said, no-pictures mode; then, with a shortened stretch, the break screen
# and its dismissal's reason in the log.  Skipped without chromium.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
browser_setup
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null &&
"$BIN/scrim" import --db "$T/db" --list warned --create "$U/b.pdq" >/dev/null ||
    bail_out "import failed"
is "$("$BIN/scrim" content-warning --db "$T/db" warned "graphic violence")" \
    "warned: graphic violence" "scrim content-warning sets the list's warning"
ALICE=$("$BIN/scrim" reviewer add alice --db "$T/db" 2>/dev/null)
BOB=$("$BIN/scrim" reviewer add bob --db "$T/db" 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_daemon --listen "127.0.0.1:$PORT" --review-max-reveals 1 || bail_out "scrimd did not start"
for i in 1 2 3; do { cat "$U/a.jpg"; printf '%s' "$i"; } > "$U/a$i.jpg"; done
for f in a1 a2 a3; do req --data-binary "@$U/$f.jpg" /v1/match >/dev/null; done
WARNED=$(req --data-binary "@$U/b.jpg" /v1/match | json review.id)

# relay: the browser script's TAP lines as this test's (its plans dropped).
relay() {
    "$@" > "$T/browser.tap" 2>"$T/browser.err"
    _rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) ok 0 "${line#ok [0-9]* - }" ;;
            "not ok "*) ok 1 "${line#not ok [0-9]* - }" ;;
            "#"*) printf '%s\n' "$line" ;;
        esac
    done < "$T/browser.tap"
    ok $_rc "the browser run finished" "$(tail -n 5 "$T/browser.err")"
}
relay python3 "$(dirname "$0")/browser/review_accounts.py" people "http://127.0.0.1:$PORT" \
    "$T" "$ALICE" "$ADMIN" "$WARNED"
scrimd_stop

# Again with a stretch of 4 s before a break of a minute.
rm -rf "$T/chrome"
start_daemon --listen "127.0.0.1:$PORT" --review-break-after 4 --review-break 60 ||
    bail_out "scrimd did not start again"
relay python3 "$(dirname "$0")/browser/review_accounts.py" break "http://127.0.0.1:$PORT" \
    "$T" "$BOB" "$ADMIN"
scrimd_stop
done_testing
