# tap.sh - tiny TAP helpers for the shell tests (sourced).
# SCRIM_BIN is set by `make test`; run by hand it defaults to ./bin.
: "${SCRIM_BIN:=$(pwd)/bin}"
SHARED="${SCRIM_SHARED:-../shared}/data"
FIX="$(pwd)/tests/fixtures"
T=0
FAILED=0
plan() { echo "1..$1"; }
ok() { T=$((T + 1)); if [ "$1" -eq 0 ]; then echo "ok $T - $2"; else echo "not ok $T - $2"; FAILED=$((FAILED + 1)); fi; }
skip() { T=$((T + 1)); echo "ok $T # skip $1"; }
# is GOT WANT NAME
is() { if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi; }
# like GOT REGEX NAME
like() { if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3"; echo "#   got: '$1'"; echo "#   not matching: $2"; fi; }
have_shared() { [ -d "$SHARED" ]; }
done_testing() { exit $((FAILED > 0)); }
