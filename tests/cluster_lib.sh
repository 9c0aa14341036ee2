# cluster_lib.sh - a PostgreSQL of the test's own and scrimd nodes, for the
# cluster tests (cluster*.t); sourced after tap.sh with $T
# the test's temp directory.  PostgreSQL runs as nobody when the test runs
# as root (initdb refuses root), on a Unix socket in $T/pg only: no TCP, no
# clash with another.  Defines pg, pg_start, pg_stop, psql and $URL; nodes:
# node_start N [OPTIONS] / node_stop N [SIGNAL] (options for every node of
# a test in $NODE_OPTS); get N PATH [CURL-ARGS] (status in $code, body in
# $T/out); jv EXPR (a perl expression over $j, the body).

PGBIN=${SCRIM_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] ||
    skip_all "PostgreSQL's server programs (initdb, pg_ctl) are not installed (Debian: postgresql)"

# cluster_pg_up: initdb, start, createdb scrim; bails out on failure.  Also
# writes the admin token every node reads ($T/token; $TOKEN, and $AUTH its
# header).
cluster_pg_up() {
    TOKEN=cluster-token-0123456789abcdef
    echo "$TOKEN" >"$T/token"
    AUTH="Authorization: Bearer $TOKEN"
    chmod 711 "$T"
    PG=$T/pg
    mkdir "$PG"
    AS=
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$PG"
        AS="runuser -u nobody --"
    fi
    PORT=5433   # names the socket file in $PG only
    pg initdb -D "$PG/data" -A trust -U scrim --no-sync -E UTF8 >"$T/initdb.log" 2>&1 ||
        bail_out "initdb failed: $(tail -n 5 "$T/initdb.log")"
    at_exit "pg pg_ctl -D '$PG/data' -m immediate -w stop >/dev/null 2>&1"
    pg_start || bail_out "PostgreSQL did not start: $(tail -n 5 "$PG/log")"
    pg createdb -h "$PG" -p $PORT -U scrim scrim || bail_out "createdb failed"
    URL="postgresql:///scrim?host=$PG&port=$PORT&user=scrim"
}
pg() { (cd "$PG" && $AS "$PGBIN/$@"); }
pg_start() {
    pg pg_ctl -D "$PG/data" -l "$PG/log" -w -t 30 -o \
        "-k $PG -p $PORT -c listen_addresses= -c fsync=off" start >/dev/null
}
pg_stop() { pg pg_ctl -D "$PG/data" -m fast -w stop >/dev/null 2>&1; }
psql() { pg psql -X -q -A -t -h "$PG" -p $PORT -U scrim scrim -c "$1"; }

# node_start N [OPTIONS]: scrimd node N on $T/sN, database $T/dbN, log
# $T/logN; returns once it has logged "ready" (serving; /healthz may still
# say 503 until it is in step with the change log).
NODE_OPTS=${NODE_OPTS:-}
node_start() {
    _n=$1
    shift
    : >"$T/log$_n"
    # shellcheck disable=SC2086
    "$BIN/scrimd" --db "$T/db$_n" --socket "$T/s$_n" --listen none \
        --threads 1 --video-threads 0 --admin-token-file "$T/token" \
        $NODE_OPTS --log "$T/log$_n" "$@" 2>>"$T/stderr$_n" &
    eval "PID$_n=$!"
    at_exit "node_stop $_n KILL"
    poll 600 grep -q '"msg":"ready"' "$T/log$_n"
}
node_stop() {
    eval "_p=\${PID$1:-}"
    [ -n "$_p" ] || return 0
    kill -"${2:-TERM}" "$_p" 2>/dev/null
    wait "$_p" 2>/dev/null
    eval "PID$1="
}
get() {
    _n=$1 _path=$2
    shift 2
    code=$(curl -s --max-time 20 --unix-socket "$T/s$_n" -o "$T/out" \
        -w '%{http_code}' "$@" "http://scrimd$_path")
}
tap_on_failure() { [ -f "$T/out" ] && diag "  body: $(head -c 400 "$T/out")"; }
jv() {
    perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) };
        my $v = eval $ARGV[0];
        if (JSON::PP::is_bool($v)) { print $v ? "true" : "false" }
        else { print defined $v ? $v : "null" }' "$1" <"$T/out"
}
# For poll: a 200; /healthz 200; /healthz's cluster.postgres is $2.
got() { get "$@" && [ "$code" = 200 ]; }
healthy() { get "$1" /healthz && [ "$code" = 200 ]; }

# nodes_up N...: nodes N... started with --cluster "$URL", then each
# waited for until /healthz is 200 (in step with the change log); bails
# out otherwise.
nodes_up() {
    for _n in "$@"; do
        node_start "$_n" --cluster "$URL" ||
            bail_out "node $_n did not start: $(cat "$T/stderr$_n")"
    done
    for _n in "$@"; do
        poll 200 healthy "$_n" || bail_out "node $_n not ready"
    done
}
pg_is() { get "$1" /healthz && [ "$(jv '$j->{cluster}{postgres}')" = "$2" ]; }
