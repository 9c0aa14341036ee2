# daemon_lib.sh - bin/scrimd run by the shell tests themselves (daemon.t,
# http_errors.t, video_daemon.t, and the review tests through review_lib.sh);
# sourced after tap.sh.  scrimd listens on $SOCK (default $T/sock, T being
# the test's temp directory), logs to $T/log and writes its stderr to
# $T/stderr; one still running at exit is killed.
PID=
HTTP_MAX_TIME=${HTTP_MAX_TIME:-20}

# scrimd_start [OPTIONS...]: scrimd with OPTIONS in the background, its pid in
# $PID ($T/log emptied first); returns once it logs that it is ready, false
# (with its stderr) if it exits first or is not ready within 90 s (a
# sanitizer build on a loaded machine opens large lists slowly).
scrimd_start() {
    : "${SOCK:=$T/sock}"
    : >"$T/log"
    # No TCP unless the test asks: the default 127.0.0.1:8750 may be taken
    # (make run, another test, another checkout's tests).
    case " $* " in *" --listen"*) _d_tcp= ;; *) _d_tcp="--listen none" ;; esac
    # shellcheck disable=SC2086
    "$BIN/scrimd" --socket "$SOCK" --log "$T/log" $_d_tcp "$@" 2>>"$T/stderr" &
    PID=$!
    _d_i=0
    until grep -q '"msg":"ready"' "$T/log" 2>/dev/null; do
        if [ $_d_i -ge 1800 ] || ! kill -0 "$PID" 2>/dev/null; then
            diag "scrimd did not start: $(tail -c 400 "$T/stderr" 2>/dev/null)"
            return 1
        fi
        sleep 0.05
        _d_i=$((_d_i + 1))
    done
}

# scrimd_stop [SIGNAL]: sends SIGNAL (TERM) and waits; returns scrimd's exit
# status.
scrimd_stop() {
    kill -"${1:-TERM}" "$PID"
    wait "$PID"
    _d_st=$?
    PID=
    return $_d_st
}

scrimd_kill() { [ -z "$PID" ] || scrimd_stop KILL 2>/dev/null; }
at_exit scrimd_kill

# wait_log PATTERN: until $T/log has a line matching (30 s at most).
wait_log() { poll 600 grep -q -- "$1" "$T/log"; }

# scrimd_curl CURL-ARGS...: curl over $SOCK, silent, $HTTP_MAX_TIME s at most.
scrimd_curl() { curl -s --max-time "$HTTP_MAX_TIME" --unix-socket "$SOCK" "$@"; }

# http METHOD PATH [CURL-ARGS...]: status in $code, body in $T/out (shown
# when a check fails).
http() {
    _d_m=$1 _d_p=$2
    shift 2
    code=$(scrimd_curl -o "$T/out" -w '%{http_code}' -X "$_d_m" "$@" "http://scrimd$_d_p")
}
tap_on_failure() {
    if [ -n "${code:-}" ] && [ -f "$T/out" ]; then
        diag "  body: $(head -c 400 "$T/out")"
    fi
}

# auth: the Authorization header with the admin token $TOKEN.
auth() { echo "Authorization: Bearer $TOKEN"; }

# no_sanitizer_reports STDERR: a check that scrimd's stderr holds none.
no_sanitizer_reports() {
    ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$1"
    ok $? "no sanitizer reports" "$(head -n 40 "$1")"
}

# huge_png FILE: a PNG whose header (with a valid CRC) claims 60000x60000
# pixels.
huge_png() {
    perl -MCompress::Zlib -e '
        sub chunk { my ($t, $d) = @_; pack("N", length $d) . $t . $d . pack("N", crc32($t . $d)) }
        print "\x89PNG\r\n\x1a\n", chunk("IHDR", pack("NNCCCCC", 60000, 60000, 8, 2, 0, 0, 0)),
              chunk("IDAT", compress("\0" x 64)), chunk("IEND", "")' >"$1"
}
# jv EXPR: a value of the last JSON body ($T/out) as $j; arrays give their
# length, booleans true/false, a missing value null.
jv() {
    perl -MJSON::PP -e '
        local $/; my $t = <STDIN>; my $j = eval { decode_json($t) };
        my $v = eval $ARGV[0];
        if (ref($v) eq "ARRAY") { print scalar(@$v) }
        elsif (JSON::PP::is_bool($v)) { print $v ? "true" : "false" }
        else { print defined $v ? $v : "null" }' "$1" <"$T/out"
}
# raw ADDR FILE: the bytes of FILE sent as they are to ADDR (a Unix socket
# path, or HOST:PORT); prints all the server answers until it closes the
# connection (3 s at most).
raw() {
    perl -MIO::Socket::UNIX -MIO::Socket::INET -e '
        my ($a, $f) = @ARGV;
        my $s = $a =~ m{^/} ? IO::Socket::UNIX->new(Peer => $a)
                            : IO::Socket::INET->new(PeerAddr => $a);
        die "connect $a: $!\n" unless $s;
        open my $in, "<", $f or die; binmode $in; local $/; my $req = <$in>;
        print $s $req;
        local $SIG{ALRM} = sub { exit }; alarm 3;
        binmode STDOUT; while (sysread($s, my $b, 65536)) { print $b }' "$1" "$2"
}
