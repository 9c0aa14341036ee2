#!/bin/sh
# review_level_cli.t - `scrim preview-level`: per-list preview levels read and
# set on the database directly (show, set, canonical numbers, reset, bad
# level, unknown list), and a running scrimd seeing a level the CLI set (its
# GET /v1/review/lists and its next match) and the CLI seeing one set over HTTP.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/review_lib.sh"
review_setup
plan 21

make_upload a || bail_out "cannot make an upload"
"$BIN/scrim" import --db "$T/db" --list bad --create "$U/a.pdq" >/dev/null &&
"$BIN/scrim" list-set --db "$T/db" --create hidden ||
    bail_out "import failed"
DB="$T/db"
# pl ARGS...: scrim preview-level on the test db; stdout to $T/out, stderr to
# $T/err, exit status to $T/rc.
pl() { "$BIN/scrim" preview-level --db "$DB" "$@" > "$T/out" 2> "$T/err"; echo $? > "$T/rc"; }
rc() { cat "$T/rc"; }
out() { cat "$T/out"; }
json_levels() { "$BIN/scrim" preview-level --db "$DB" --json; }
# result NAME: ok if the last command (list) succeeded, else not ok with the
# command's output.
result() { ok $? "$1" "$(cat "$T/out" "$T/err" 2>/dev/null)"; }

# 1-2: help and a fresh database.
"$BIN/scrim" preview-level --help > "$T/help" && grep -q 'usage: scrim preview-level' "$T/help"
result "--help: exit 0, the usage on stdout"
pl
[ "$(rc)" = 0 ] && [ "$(out)" = "$(printf 'bad default\nhidden default')" ]
result "fresh db: every list at the default level"

# 3-7: set, read back, canonical explicit numbers, JSON, none.
pl bad strong
[ "$(rc)" = 0 ] && [ "$(out)" = "bad strong" ]
result "set bad strong: exit 0, prints the new level"
pl
[ "$(out)" = "$(printf 'bad strong\nhidden default')" ]
result "listing shows it"
pl hidden 10
[ "$(rc)" = 0 ] && \
    [ "$(out)" = "hidden detail=10,size=256,blur=0.8,quality=75" ]
result "a number of blocks is stored as canonical numbers"
[ "$(json_levels | json bad)" = strong ] && \
    [ "$(json_levels | json hidden)" = "detail=10,size=256,blur=0.8,quality=75" ]
result "--json: the levels set"
pl hidden none
[ "$(rc)" = 0 ] && [ "$(json_levels | json hidden)" = none ]
result "level none"

# 8-9: reset.
pl hidden default
[ "$(rc)" = 0 ] && [ "$(out)" = "hidden default" ] && \
    [ "$(json_levels)" = '{"bad":"strong"}' ]
result "default removes the list's level"
pl
[ "$(out)" = "$(printf 'bad strong\nhidden default')" ]
result "listing after the reset"

# 10-14: errors name the problem, exit 1 (2 for usage), change nothing.
pl bad fuzzy
[ "$(rc)" = 1 ] && grep -q "bad preview level 'fuzzy'" "$T/err"
result "bad level: exit 1, names the level"
[ "$(json_levels)" = '{"bad":"strong"}' ]
result "bad level: the level is unchanged"
pl nosuch strong
[ "$(rc)" = 1 ] && \
    grep -q "no list named 'nosuch'" "$T/err" && [ "$(json_levels)" = '{"bad":"strong"}' ]
result "unknown list: exit 1, names the list, nothing stored"
pl 'b@d' strong
[ "$(rc)" = 1 ] && grep -q "list name 'b@d'" "$T/err"
result "bad list name: exit 1, says so"
pl bad
[ "$(rc)" = 2 ] && grep -q usage "$T/err"
result "one argument is a usage error (2)"
DB="$T/none.db"
pl
DB="$T/db"
[ "$(rc)" = 1 ] && grep -q "none.db" "$T/err"
result "no database: exit 1, names it"

# 15-20: with scrimd running on the same database.
start_daemon || bail_out "scrimd did not start"
AUTH="Authorization: Bearer $ADMIN"
req -H "$AUTH" /v1/review/lists > "$T/l0"
[ "$(status)" = 200 ] && [ "$(json bad < "$T/l0")" = strong ]
result "scrimd's GET /v1/review/lists: the CLI's level"
pl bad light
req -H "$AUTH" /v1/review/lists > "$T/l1"
[ "$(rc)" = 0 ] && [ "$(json bad < "$T/l1")" = light ]
result "set by the CLI while scrimd runs: seen by its next GET"
req --data-binary "@$U/a.jpg" /v1/match > "$T/m"
ID=$(json review.id < "$T/m")
req -H "$AUTH" "/v1/review/$ID" > "$T/r"
[ ${#ID} = 32 ] && [ "$(json level < "$T/r")" = light ]
result "and by its next match (record level light)"
pl bad default
req -H "$AUTH" /v1/review/lists > "$T/l2"
[ "$(rc)" = 0 ] && [ "$(cat "$T/l2")" = '{}' ]
result "reset by the CLI: gone from scrimd's GET"
req -X PUT -H "$AUTH" -d '{"level":"strong"}' /v1/review/lists/later >/dev/null
pl
[ "$(status)" = 200 ] && [ "$(out)" = "$(printf 'bad default\nhidden default\nlater strong')" ]
result "a level set over HTTP for a list not imported yet is listed"
pl later light
req -H "$AUTH" /v1/review/lists > "$T/l3"
[ "$(rc)" = 0 ] && [ "$(json later < "$T/l3")" = light ]
result "and can be changed by the CLI"
done_testing
