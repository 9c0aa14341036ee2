# daemon_lib.sh - shared by the shell tests that start bin/scrimd themselves
# (daemon.t, http_errors.t); sourced after T (a temp dir) and SOCK are set.
# TAP: ok/is number the checks in $n; the caller prints the plan at the end.
# On exit the daemon (PID, once started) is killed and T removed.
n=0
PID=
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

need_tools() {   # TOOL...: skip the whole file when one is missing
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "1..0 # skip $tool not installed"
            exit 0
        fi
    done
}
failed=0
ok() {   # STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
# done_testing: the plan (checks made), and a failing exit if one failed.
done_testing() { echo "1..$n"; exit $((failed > 0)); }
is() {   # GOT WANT DESCRIPTION
    if [ "$1" = "$2" ]; then ok 0 "$3"; else
        ok 1 "$3"
        echo "#   got '$1', want '$2'"
        [ -f "$T/out" ] && echo "#   body: $(head -c 400 "$T/out")"
    fi
}
# http METHOD PATH [curl args]: status in $code, body in $T/out.
http() {
    m=$1 p=$2
    shift 2
    code=$(curl -s -o "$T/out" -w '%{http_code}' --max-time 20 \
        --unix-socket "$SOCK" -X "$m" "$@" "http://scrimd$p")
}
# wait_ready LOG: until scrimd logs that it is ready (30 s at most);
# false if it never does.
wait_ready() {
    i=0
    while [ $i -lt 600 ] && ! grep -q '"msg":"ready"' "$1" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    grep -q '"msg":"ready"' "$1" 2>/dev/null
}
# no_sanitizer_reports STDERR: a check that the daemon's stderr holds none.
no_sanitizer_reports() {
    if grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$1"; then
        ok 1 "no sanitizer reports"
        head -n 40 "$1" | sed 's/^/#   /'
    else
        ok 0 "no sanitizer reports"
    fi
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
like() {   # GOT REGEX DESCRIPTION
    if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
        ok 1 "$3"
        echo "#   got '$1', not matching $2"
    fi
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
