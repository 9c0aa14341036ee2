#!/bin/sh
# hardening_path.t - the attack on ?path= (--allow-path): a process swaps a
# directory in the middle of the path for a symlink to outside and back, as
# fast as it can, while many requests read a file through it.  Before,
# realpath() checked the path and open(O_NOFOLLOW) opened it again, guarding
# only its last component: a swap between the two read the outside file.
# Now every component is opened beneath the allowed directory without
# following symlinks: no request may ever return the outside file's hash.
# Also: a missing file and one outside get one answer, the same status and
# message, so that the answer does not tell which paths exist.
set -u
. "$(dirname "$0")/tap.sh"
temp_dir T
SOCK=$T/scrimd.sock
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3
SWAP=
at_exit '[ -n "$SWAP" ] && kill "$SWAP" 2>/dev/null'

FIX=$(pwd)/tests/fixtures
mkdir -p "$T/allowed/d" "$T/outside"
cp "$FIX/blobs.jpg" "$T/allowed/d/img.jpg"   # inside
cp "$FIX/cmyk-no-adobe.jpg" "$T/outside/img.jpg"   # outside: another picture
ln -s "$T/outside" "$T/allowed/dx"
INSIDE=$("$BIN/scrim" hash "$T/allowed/d/img.jpg" | cut -d, -f1)
OUTSIDE=$("$BIN/scrim" hash "$T/outside/img.jpg" | cut -d, -f1)
[ -n "$INSIDE" ] && [ -n "$OUTSIDE" ] && [ "$INSIDE" != "$OUTSIDE" ]
ok $? "set-up: the inside and outside files hash differently"

scrimd_start --db "$T/db" --listen none --threads 2 --allow-path "$T/allowed" ||
    bail_out "scrimd did not start"

http POST /v1/hash -G --data-urlencode "path=$T/allowed/d/img.jpg"
is "$code:$(grep -o "$INSIDE" "$T/out")" "200:$INSIDE" "a file under --allow-path is read"

# ---- one answer for outside, missing, through a symlink --------------------------------
http POST /v1/hash -G --data-urlencode "path=$T/outside/img.jpg"
outside="$code $(cat "$T/out")"
http POST /v1/hash -G --data-urlencode "path=$T/allowed/d/missing.jpg"
is "$code $(cat "$T/out")" "$outside" "a missing file: the same status and message as one outside"
http POST /v1/hash -G --data-urlencode "path=$T/allowed/nodir/img.jpg"
is "$code $(cat "$T/out")" "$outside" "... a missing directory: the same"
http POST /v1/hash -G --data-urlencode "path=$T/allowed/dx/img.jpg"
is "$code $(cat "$T/out")" "$outside" "... through a symlink in the middle: the same"
http POST /v1/hash -G --data-urlencode "path=$T/allowed/d"
is "$code $(cat "$T/out")" "$outside" "... a directory: the same"
case $outside in 403\ *forbidden*) ok 0 "that answer is a 403 forbidden ($outside)" ;;
*) ok 1 "that answer is a 403 forbidden ($outside)" ;; esac

# ---- the race ------------------------------------------------------------------------------
# The swapper: renameat2(RENAME_EXCHANGE) flips allowed/d (the real
# directory) and allowed/dx (the symlink to outside) atomically, again and
# again, until killed.
python3 - "$T/allowed" <<'EOF' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
d = os.path.join(sys.argv[1], "d").encode()
dx = os.path.join(sys.argv[1], "dx").encode()
open(sys.argv[1] + "/../swapper.ready", "w").close()
while True:
    if libc.renameat2(AT_FDCWD, d, AT_FDCWD, dx, RENAME_EXCHANGE):
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
EOF
SWAP=$!
i=0
while [ ! -e "$T/swapper.ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

# Four clients, keep-alive, 400 requests each, through the swapping directory.
python3 - "$SOCK" "$T/allowed/d/img.jpg" "$INSIDE" "$OUTSIDE" >"$T/race" <<'EOF'
import json, socket, sys, threading, urllib.parse
sock, path, inside, outside = sys.argv[1:5]
N, CLIENTS = 400, 4
counts = {"inside": 0, "outside": 0, "refused": 0, "other": 0}
lock = threading.Lock()
req = ("POST /v1/hash?path=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
       % urllib.parse.quote(path)).encode()
def client():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rb")
    for _ in range(N):
        s.sendall(req)
        status = int(f.readline().split()[1])
        length = 0
        while True:
            h = f.readline().strip()
            if not h:
                break
            k, _, v = h.partition(b":")
            if k.lower() == b"content-length":
                length = int(v)
        body = f.read(length).decode()
        kind = ("inside" if inside in body else "outside" if outside in body
                else "refused" if status == 403 else "other")
        with lock:
            counts[kind] += 1
    s.close()
ts = [threading.Thread(target=client) for _ in range(CLIENTS)]
for t in ts: t.start()
for t in ts: t.join()
print("%(inside)d %(outside)d %(refused)d %(other)d" % counts)
EOF
kill "$SWAP"
wait "$SWAP" 2>/dev/null
SWAP=
read -r inside outside refused other <"$T/race"
is "$outside" 0 "1600 requests through a swapping directory: none read the outside file ($inside inside, $refused refused)"
is "$other" 0 "... and every other answer was the inside file's hash or the one 403"
[ "$inside" -gt 0 ] && [ "$refused" -gt 0 ]
ok $? "... the swap was seen both ways (the race ran)"

kill -TERM "$PID"
wait "$PID"
ok $? "scrimd stops cleanly"
PID=
no_sanitizer_reports "$T/stderr"

done_testing
