#!/bin/sh
# cluster.sh - a pool of scrimd nodes behind HAProxy on this machine's
# loopback, to try the scale-out set-up (doc/scale-out.md) and to test it:
# N nodes, each on its own copy of a database made with `scrim snapshot`,
# on loopback TCP ports; HAProxy (tools/cluster/haproxy.cfg) in front, with
# health checks on /healthz and retries to another node; and, when scrimd
# has --cluster, PostgreSQL (Debian's initdb/pg_ctl, in DIR/pg, Unix socket
# only, run as the user postgres when started as root) that the nodes share.
# Without --cluster the nodes share nothing: each serves its copy of DB as of
# `up`, and an import through HAProxy reaches one node only.
#
# usage: tools/cluster.sh [-d DIR] [-D DB] [-p PORT] [-x 'SCRIMD OPTIONS'] up [N]
#        tools/cluster.sh [-d DIR] down | status | kill I | start I
#   up      start N nodes (default 3), HAProxy (and PostgreSQL)
#   down    stop them all (SIGTERM: the nodes drain); DIR is kept (logs)
#   status  each node's /healthz and HAProxy's view of it
#   kill I  SIGKILL node I; start I: start it again on the same port
#   -d DIR  state: nodeI/ (db, log), haproxy.cfg, tokens, pg/ (./var/cluster)
#   -D DB   what the nodes start from (default: with --cluster an empty
#           database, which replays the change log; else var/demo.db if
#           there, else empty)
#   -p PORT HAProxy's port on 127.0.0.1 (8760); its stats: PORT+1, /stats
#   -x OPTS more scrimd options for every node
# The admin token is DIR/admin.token, the reviewer's DIR/reviewer.token.
# SCRIM_BIN: where scrim and scrimd are (./bin).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SCRIM_BIN:-$TOP/bin}
DIR=./var/cluster DB= PORT=8760 EXTRA=
usage() { sed -n '12,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts d:D:p:x: o; do
    case $o in
    d) DIR=$OPTARG ;; D) DB=$OPTARG ;; p) PORT=$OPTARG ;; x) EXTRA=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
CMD=$1
shift
say() { printf 'cluster: %s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }
case $PORT in *[!0-9]* | '') die "-p: expected a port, got '$PORT'" ;; esac

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
nodes() { for d in "$DIR"/node*; do [ -d "$d" ] && echo "${d##*/node}"; done | sort -n; }
has_cluster() { "$BIN/scrimd" --help 2>&1 | grep -q -e '--cluster '; }

# ---- PostgreSQL (only with scrimd --cluster) ----------------------------------
PG=$DIR/pg PGPORT=$((PORT + 2))
pg_bin() {
    for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
             "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /x/x)")"; do
        [ -x "$b/pg_ctl" ] && [ -x "$b/initdb" ] && { echo "$b"; return; }
    done
    die "scrimd has --cluster but PostgreSQL is not installed (apt-get install postgresql)"
}
as_pg() {   # PostgreSQL refuses to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_url() { echo "postgresql:///scrim?host=$PG&port=$PGPORT&user=scrim"; }
pg_up() {
    B=$(pg_bin)
    mkdir -p "$PG"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no user postgres to run PostgreSQL as"
        chown postgres "$PG"
        runuser -u postgres -- test -x "$PG" ||
            die "the user postgres cannot reach $PG: use -d under a directory it may enter"
    fi
    if [ ! -f "$PG/data/PG_VERSION" ]; then
        as_pg "$B/initdb" -D "$PG/data" -U scrim -A trust --no-sync >"$PG/initdb.log" 2>&1 ||
            die "initdb failed: $(tail -n 3 "$PG/initdb.log")"
    fi
    as_pg "$B/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
        "-c listen_addresses='' -c unix_socket_directories='$PG' -p $PGPORT" start >/dev/null ||
        die "PostgreSQL did not start: $(tail -n 3 "$PG/log")"
    as_pg "$B/psql" -h "$PG" -p "$PGPORT" -U scrim -d postgres -Atqc \
        "select 1 from pg_database where datname = 'scrim'" | grep -q 1 ||
        as_pg "$B/createdb" -h "$PG" -p "$PGPORT" -U scrim scrim
    say "PostgreSQL on $PG (port $PGPORT, Unix socket only): $(pg_url)"
}
pg_down() {
    [ -f "$PG/data/postmaster.pid" ] || return 0
    as_pg "$(pg_bin)/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null 2>&1 || :
}

# ---- nodes ------------------------------------------------------------------
# start_node I: scrimd for node I in the background, on its recorded port
# (any free one the first time); waits until it serves.
start_node() {
    _n=$DIR/node$1
    [ -d "$_n" ] || die "no node $1 in $DIR"
    alive "$_n/pid" && die "node $1 is running (pid $(cat "$_n/pid"))"
    _port=$(cat "$_n/port" 2>/dev/null || echo 0)
    _copt=
    has_cluster && _copt="--cluster $(pg_url)"
    : >"$_n/log"
    # shellcheck disable=SC2086
    setsid "$BIN/scrimd" --db "$_n/db" --socket none --listen "127.0.0.1:$_port" \
        --admin-token-file "$DIR/admin.token" --reviewer-token-file "$DIR/reviewer.token" \
        --log "$_n/log" $_copt $EXTRA </dev/null >>"$_n/stderr" 2>&1 &
    echo $! >"$_n/pid"
    _i=0
    until grep -q '"msg":"ready"' "$_n/log" 2>/dev/null; do
        alive "$_n/pid" || die "node $1 did not start ('$0 -d $DIR down' stops the rest): $(tail -c 400 "$_n/stderr")"
        [ $_i -lt 600 ] || die "node $1 not ready after 30 s"
        sleep 0.05
        _i=$((_i + 1))
    done
    sed -n 's/.*"tcp":"[^"]*","port":\([0-9]*\).*/\1/p' "$_n/log" | head -n 1 >"$_n/port"
}
stop_pid() {   # PIDFILE SIGNAL: signal it and wait (40 s at most) until it is gone
    alive "$1" || return 0
    _p=$(cat "$1")
    kill -"$2" "$_p" 2>/dev/null || :
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 800 ]; do sleep 0.05; _i=$((_i + 1)); done
    rm -f "$1"
}

# ---- HAProxy ----------------------------------------------------------------
haproxy_cfg() {
    { sed -n '1,/# servers: begin/p' "$TOP/tools/cluster/haproxy.cfg"
      for _i in $(nodes); do
          echo "    server node$_i 127.0.0.1:$(cat "$DIR/node$_i/port") check"
      done
      sed -n '/# servers: end/,$p' "$TOP/tools/cluster/haproxy.cfg"
    } | sed -e "s/^\( *bind \).*# public/\1127.0.0.1:$PORT/" \
            -e "s/^\( *bind \).*# stats/\1127.0.0.1:$((PORT + 1))/" >"$DIR/haproxy.cfg"
}
haproxy_up() {
    haproxy_cfg
    haproxy -q -c -f "$DIR/haproxy.cfg" || die "$DIR/haproxy.cfg is not valid"
    # glibc keeps HAProxy's 1 MB buffers instead of mapping them afresh for
    # each request (half its CPU per request: tools/cluster/haproxy.cfg)
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2097152:glibc.malloc.trim_threshold=67108864 \
        setsid haproxy -db -f "$DIR/haproxy.cfg" </dev/null >>"$DIR/haproxy.log" 2>&1 &
    echo $! >"$DIR/haproxy.pid"
    _i=0
    until curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/stats"; do
        alive "$DIR/haproxy.pid" || die "haproxy did not start: $(tail -n 5 "$DIR/haproxy.log")"
        [ $_i -lt 200 ] || die "haproxy not answering after 10 s"
        sleep 0.05
        _i=$((_i + 1))
    done
}
# stats: HAProxy's CSV line of each node: name, status, requests, retries, redispatches
stats() {
    curl -s "http://127.0.0.1:$((PORT + 1))/stats;csv" |
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                 $1 == "scrimd" { print $2 ";" $(c["status"]) ";" $(c["stot"]) ";" $(c["wretr"]) ";" $(c["wredis"]) }'
}

case $CMD in
up)
    N=${1:-3}
    case $N in *[!0-9]* | '' | 0) die "up: expected a number of nodes, got '$N'" ;; esac
    command -v haproxy >/dev/null || die "haproxy is not installed (apt-get install haproxy)"
    [ -x "$BIN/scrimd" ] || die "no $BIN/scrimd: run make"
    alive "$DIR/haproxy.pid" && die "already up in $DIR ('$0 -d $DIR down' first)"
    mkdir -p "$DIR"
    for t in admin reviewer; do
        [ -s "$DIR/$t.token" ] ||
            (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/$t.token")
    done
    if has_cluster; then
        pg_up
    else
        say "scrimd has no --cluster: the nodes share nothing (each serves its own copy)"
    fi
    # With --cluster a node with an empty database replays PostgreSQL's
    # change log; without, the demo lists are a start.
    if [ -z "$DB" ] && ! has_cluster && [ -f "$TOP/var/demo.db/data.mdb" ]; then
        DB=$TOP/var/demo.db
    fi
    for i in $(seq 1 "$N"); do
        n=$DIR/node$i
        mkdir -p "$n"
        if [ ! -d "$n/db" ] && [ -n "$DB" ]; then
            "$BIN/scrim" snapshot --db "$DB" "$n/db" >/dev/null ||
                die "cannot copy $DB for node $i"
        fi
        start_node "$i"
        say "node$i: 127.0.0.1:$(cat "$n/port") (pid $(cat "$n/pid"), $n)"
    done
    haproxy_up
    say "HAProxy: http://127.0.0.1:$PORT/ (stats: http://127.0.0.1:$((PORT + 1))/stats)"
    ;;
down)
    for i in $(nodes); do stop_pid "$DIR/node$i/pid" TERM; done
    stop_pid "$DIR/haproxy.pid" TERM
    pg_down
    say "down ($DIR kept)"
    ;;
status)
    alive "$DIR/haproxy.pid" && stats >"$DIR/.stats" 2>/dev/null || : >"$DIR/.stats"
    for i in $(nodes); do
        n=$DIR/node$i
        h=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
            "http://127.0.0.1:$(cat "$n/port" 2>/dev/null || echo 1)/healthz" || :)
        state=stopped
        alive "$n/pid" && state="pid $(cat "$n/pid")"
        printf 'node%s  %-10s /healthz %s  haproxy: %s\n' "$i" "$state" "$h" \
            "$(awk -F';' -v s="node$i" '$1 == s { print $2 ", " $3 " requests, " $4 " retries, " $5 " redispatched" }' "$DIR/.stats")"
    done
    alive "$DIR/haproxy.pid" && echo "haproxy pid $(cat "$DIR/haproxy.pid") on 127.0.0.1:$PORT" ||
        echo "haproxy stopped"
    if [ -d "$PG/data" ]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$PG/data" status >/dev/null 2>&1 &&
            echo "postgresql running: $(pg_url)" || echo "postgresql stopped"
    fi
    ;;
kill)
    [ $# = 1 ] || usage
    alive "$DIR/node$1/pid" || die "node $1 is not running"
    kill -KILL "$(cat "$DIR/node$1/pid")"
    rm -f "$DIR/node$1/pid"
    ;;
start)
    [ $# = 1 ] || usage
    start_node "$1"
    ;;
*) usage ;;
esac
