# tap.sh - the TAP helpers of every shell test (tests/*.t, sourced first:
# . "$(dirname "$0")/tap.sh").  POSIX sh; the tests run from the project root.
#
#   plan N                  the plan, first (or none: done_testing prints it)
#   ok STATUS NAME [DIAG]   passes when STATUS is 0 (an exit status: ok $? ...);
#                           on failure DIAG is printed as a comment
#   check NAME CMD...       ok on CMD's exit status; its output shown on failure
#   is GOT WANT NAME        GOT = WANT (strings)
#   like GOT ERE NAME       GOT matches the extended regular expression
#   skip REASON [N]         N (1) checks skipped
#   skip_all REASON         the whole file skipped (before any check)
#   need_tools TOOL...      skip_all unless every TOOL is installed
#   have_shared             true when $SHARED (../shared/data) is there
#   diag TEXT               a comment line (or lines)
#   bail_out REASON         stops the whole run
#   done_testing            last: the plan if none was given; exit status 1
#                           when a check failed (255 when the count is off)
#   temp_dir VAR [NAME [PARENT]]  VAR = a new directory, removed at exit
#   at_exit CMD             CMD runs at exit, before the temp dirs go
#   poll N CMD...           CMD every 0.05 s until it succeeds, N times at most
#   ff ARGS...              ffmpeg, quiet, overwriting, not reading stdin
#   pyjson EXPR [FILE]      Python EXPR over the JSON in FILE (or stdin) as o
#
# A test that fails calls tap_on_failure (daemon_lib.sh shows the last body).

# SCRIM_BIN, SCRIM_SHARED are set by `make test` (or not: ./bin, ../shared).
BIN=${SCRIM_BIN:-$PWD/bin}
SHARED=${SCRIM_SHARED:-../shared}/data
FIX=$PWD/tests/fixtures

_tap_n=0 _tap_failed=0 _tap_plan='' _tap_exit='' _tap_dirs='' _tap_check=''

plan() { _tap_plan=$1; echo "1..$1"; }

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

tap_on_failure() { :; }

ok() {
    _tap_n=$((_tap_n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $_tap_n - $2"
        return 0
    fi
    echo "not ok $_tap_n - $2"
    _tap_failed=$((_tap_failed + 1))
    [ -n "${3:-}" ] && diag "$3"
    tap_on_failure
    return 1
}

check() {
    _tap_name=$1
    shift
    _tap_check=$(mktemp "${TMPDIR:-/tmp}/tap-check.XXXXXX") || bail_out "mktemp failed"
    "$@" >"$_tap_check" 2>&1
    ok $? "$_tap_name" "$(cat "$_tap_check")"
    _tap_st=$?
    rm -f "$_tap_check"
    _tap_check=
    return $_tap_st
}

is() {
    [ "$1" = "$2" ]
    ok $? "$3" "  got:  '$1'
  want: '$2'"
}

like() {
    printf '%s' "$1" | grep -Eq -- "$2"
    ok $? "$3" "  got: '$1'
  not matching: $2"
}

skip() {
    _tap_k=0
    while [ $_tap_k -lt "${2:-1}" ]; do
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n # skip $1"
        _tap_k=$((_tap_k + 1))
    done
}

skip_all() { echo "1..0 # SKIP $1"; exit 0; }

need_tools() {
    for _tap_tool in "$@"; do
        command -v "$_tap_tool" >/dev/null 2>&1 || skip_all "$_tap_tool not installed"
    done
}

have_shared() { [ -d "$SHARED" ]; }

bail_out() { echo "Bail out! $*"; exit 1; }

done_testing() {
    if [ -z "$_tap_plan" ]; then
        echo "1..$_tap_n"
    elif [ "$_tap_plan" != "$_tap_n" ]; then
        diag "planned $_tap_plan tests but ran $_tap_n"
        exit 255
    fi
    [ $_tap_failed = 0 ] || diag "failed $_tap_failed of $_tap_n"
    exit $((_tap_failed > 0))
}

at_exit() { _tap_exit="$_tap_exit$1
"; }

temp_dir() {
    _tap_d=$(mktemp -d "${3:-${TMPDIR:-/tmp}}/scrim-${2:-test}.XXXXXX") ||
        bail_out "cannot make a temp directory"
    _tap_dirs="$_tap_dirs$_tap_d
"
    eval "$1=\$_tap_d"
}

_tap_cleanup() {
    eval "$_tap_exit"
    [ -n "$_tap_check" ] && rm -f "$_tap_check"
    printf '%s' "$_tap_dirs" | while IFS= read -r _tap_d; do
        rm -rf -- "$_tap_d"
    done
}
trap _tap_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

poll() {
    _tap_i=$1
    shift
    until "$@"; do
        _tap_i=$((_tap_i - 1))
        [ $_tap_i -gt 0 ] || return 1
        sleep 0.05
    done
}

ff() { ffmpeg -nostdin -loglevel error -y "$@"; }

pyjson() {
    _tap_e=$1
    shift
    python3 -c "import json, sys
o = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
print($_tap_e)" "$@"
}
