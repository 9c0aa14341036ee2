# review_lib.sh - what the review tests share (sourced by tests/review_*.t
# after tap.sh): the preview helper, a temp directory with tokens and one for
# uploads made by the test, scrimd started with those tokens on $T/db,
# requests, and a tiny JSON query.
. "$(dirname "$0")/daemon_lib.sh"

BUILD=${SCRIM_BUILD:-build/rel}
HELPER=$PWD/$BUILD/tests/test_preview   # --make-image, --measure, --privacy

need_helper() { [ -x "$HELPER" ] || skip_all "$HELPER not built"; }

review_setup() {
    [ -x "$BIN/scrimd" ] || skip_all "no scrimd"
    "$BIN/scrimd" --help 2>&1 | grep -q reviewer-token-file || skip_all "scrimd without review support"
    need_helper
    # In /tmp, which review_privacy.t scans (the previews written here too).
    temp_dir T review /tmp
    # Uploads live outside /tmp so that the privacy search never finds the
    # test's own copy.
    mkdir -p "$PWD/build"
    temp_dir U review-upload "$PWD/build"
    SOCK=$T/sock
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/admin"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/reviewer"
    ADMIN=$(cat "$T/admin")
    REVIEWER=$(cat "$T/reviewer")
}

# browser_setup: review_setup for the tests driving the page in headless
# Chromium (skipped without it, and in sanitizer builds: the page is the same
# in every build flavour, one run is enough), with uploads a and b made.
browser_setup() {
    need_tools chromium python3
    case ${SCRIM_BUILD:-} in
    *san*) skip_all "the page is tested in the release build" ;;
    esac
    review_setup
    make_upload a && make_upload b || bail_out "cannot make uploads"
}

# make_upload NAME: a unique image and its PDQ in $U/NAME.jpg / $U/NAME.pdq
make_upload() {
    "$HELPER" --make-image "$U/$1.jpg" &&
        "$BIN/scrim" hash "$U/$1.jpg" | cut -d, -f1 > "$U/$1.pdq"
}

# start_daemon [OPTIONS...]: scrimd on $T/db with the tokens, no TCP.
start_daemon() {
    scrimd_start --db "$T/db" --listen none \
        --admin-token-file "$T/admin" --reviewer-token-file "$T/reviewer" "$@"
}

# req [CURL ARGS...] URL-PATH: body to stdout, status to $T/status
req() {
    _r_n=$# _r_i=0
    for _r_a; do   # "$@" becomes every argument but the last, _r_p the last
        _r_i=$((_r_i + 1))
        [ $_r_i -lt $_r_n ] && set -- "$@" "$_r_a"
        _r_p=$_r_a
    done
    shift $_r_n
    scrimd_curl -o "$T/body" -w '%{http_code}' "$@" "http://x$_r_p" > "$T/status"
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
