# review_lib.sh - shared set-up of the review tests (sourced by tests/review_*.t):
# a temp directory, a database with a block list holding a unique image's
# hash, tokens, scrimd on a Unix socket, TAP helpers.  Everything is removed
# on exit and the daemon is stopped.

BIN=${SCRIM_BIN:-$PWD/bin}
BUILD=${SCRIM_BUILD:-build/rel}
HELPER=$PWD/$BUILD/tests/test_preview   # --make-image, --measure, --privacy
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
check() { # check NAME COMMAND...  (several conditions: check NAME eval '[ a ] && [ b ]')
    name=$1; shift
    if "$@"; then ok "$name"; else nok "$name"; fi
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }

review_setup() {
    [ -x "$BIN/scrimd" ] || skip_all "no scrimd"
    "$BIN/scrimd" --help 2>&1 | grep -q reviewer-token-file || skip_all "scrimd without review support"
    [ -x "$HELPER" ] || skip_all "$HELPER not built"
    T=$(mktemp -d /tmp/scrim-review-test.XXXXXX)
    # Uploads live outside /tmp so that the privacy search never finds the
    # test's own copy.
    U=$(mktemp -d "$PWD/build/review-upload.XXXXXX")
    PID=
    trap review_cleanup EXIT INT TERM
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/admin"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/reviewer"
    ADMIN=$(cat "$T/admin")
    REVIEWER=$(cat "$T/reviewer")
}

review_cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T" "$U"
}

# make_upload NAME: a unique image and its PDQ in $U/NAME.jpg / $U/NAME.pdq
make_upload() {
    "$HELPER" --make-image "$U/$1.jpg" &&
        "$BIN/scrim" hash "$U/$1.jpg" | cut -d, -f1 > "$U/$1.pdq"
}

# start_daemon [OPTIONS...]: scrimd on $T/sock with the tokens.
start_daemon() {
    "$BIN/scrimd" --db "$T/db" --socket "$T/sock" --listen none \
        --admin-token-file "$T/admin" --reviewer-token-file "$T/reviewer" \
        --log "$T/log" "$@" &
    PID=$!
    for _ in $(seq 600); do
        [ -S "$T/sock" ] && curl -s --unix-socket "$T/sock" http://x/healthz >/dev/null && return 0
        sleep 0.05
    done
    return 1
}

stop_daemon() {
    kill "$PID" && wait "$PID"
    PID=
}

# req [CURL ARGS...] URL-PATH: body to stdout, status to $T/status
req() {
    path=$(eval echo "\${$#}")
    args=""
    while [ $# -gt 1 ]; do args="$args '$1'"; shift; done
    eval curl -s --unix-socket "'$T/sock'" -o "'$T/body'" -w '%{http_code}' $args "'http://x$path'" > "$T/status"
    cat "$T/body"
}
status() { cat "$T/status"; }

# json FILTER < JSON: a tiny jq (python3, else perl's JSON::PP): keys and
# array indexes separated by dots; "#" is the length of an array.
json() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    if k == "": continue
    if k == "#": v = len(v); continue
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print("null" if v is None else (json.dumps(v) if isinstance(v,(dict,list,bool)) else v))' "$1"
    else
        perl -MJSON::PP -e 'local $/; my $v = decode_json(<STDIN>);
for my $k (split /\./, $ARGV[0]) { next if $k eq ""; if ($k eq "#") { $v = scalar @$v; next } $v = ref $v eq "ARRAY" ? $v->[$k] : ref $v eq "HASH" ? $v->{$k} : undef }
print defined $v ? (ref $v ? JSON::PP->new->canonical->encode($v) : $v) : "null", "\n"' "$1"
    fi
}
