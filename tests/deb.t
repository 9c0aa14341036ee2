#!/bin/sh
# deb.t - `make deb`: the package's files, control fields and maintainer
# scripts; then, in a throwaway copy of this very system (an overlay of /
# whose writes go to a tmpfs, in a private mount namespace: the real system
# is never touched), `dpkg -i` runs its postinst (the user scrim,
# /var/lib/scrim 0700, the unit enabled; not started: no systemd runs
# there), scrimd is started as the unit says (ExecStart, User=, its runtime
# directory; --listen none, as port 8750 may be taken here) and answers
# /healthz and /v1/hash, then `dpkg -r` and `dpkg -P` leave nothing of the
# package behind.  Needs root and dpkg-deb; the install part needs mounts
# (CAP_SYS_ADMIN), else it is skipped and the payload's scrimd is run from
# `dpkg-deb -x` instead (SCRIM_DEB_NO_OVERLAY=1 asks for that too).
. "$(dirname "$0")/tap.sh"
need_tools dpkg dpkg-deb curl
[ "$(id -u)" = 0 ] || skip_all "not root (dpkg -i, mounts)"

# Everything below in a mount namespace of its own when one can be had:
# its mounts vanish with this process, whatever happens.
# SCRIM_DEB_NS: the namespace this started in (the re-run's must differ).
if [ -z "${SCRIM_DEB_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    SCRIM_DEB_NS=$(readlink /proc/self/ns/mnt) exec unshare --mount --propagation private sh "$0" "$@"
fi

temp_dir T deb
TOP=$PWD
# The release build, as in install.t.
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE \
        make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" "$@"
}
version=$(sed -n 's/^#define SCRIM_VERSION "\(.*\)"/\1/p' include/scrim.h)
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || cc -print-multiarch)
DEB=$TOP/build/deb/scrim_${version}-1_${arch}.deb

check "make deb" mk deb || bail_out "make deb failed"
ok $([ -f "$DEB" ]; echo $?) "$(basename "$DEB") built"

# ---- the package as built
want=$( {
    printf './%s\n' usr/bin/scrim usr/sbin/scrimd etc/scrim/scrimd.conf \
        usr/lib/systemd/system/scrimd.service "usr/lib/$ma/libscrim.a" \
        "usr/lib/$ma/libscrim.so" "usr/lib/$ma/libscrim.so.0" "usr/lib/$ma/libscrim.so.0.${version#*.}" \
        "usr/lib/$ma/pkgconfig/scrim.pc" usr/include/scrim.h \
        usr/share/man/man1/scrim.1.gz usr/share/man/man5/scrimd.conf.5.gz \
        usr/share/man/man8/scrimd.8.gz usr/share/doc/scrim/changelog.Debian.gz
    for h in include/scrim/*.h; do echo "./usr/$h"; done
} | sort)
listing=$(dpkg-deb -c "$DEB")
is "$(printf '%s\n' "$listing" | grep -v '^d' | awk '{print $6}' | sort)" "$want" "dpkg-deb -c: the files, exactly"
is "$(printf '%s\n' "$listing" | awk '{print $2}' | sort -u)" "root/root" "all owned by root"
like "$(printf '%s\n' "$listing" | grep ' ./usr/sbin/scrimd$')" '^-rwxr-xr-x ' "scrimd 0755"
is "$(dpkg-deb -f "$DEB" Package Version Architecture | tr '\n' ' ')" \
    "Package: scrim Version: ${version}-1 Architecture: $arch " "Package, Version, Architecture"
depends=$(dpkg-deb -f "$DEB" Depends)
like "$depends" '(^|, )libc6 \(>= [^)]*\)' "Depends: libc6 with a version (dpkg-shlibdeps)"
for p in liblmdb0 libjansson4 libglib2.0-0 adduser libvips42 libavcodec; do
    like "$depends" "(^|, )$p" "Depends: $p"
done
missing=$(printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | while read -r p; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || printf '%s ' "$p"; done)
is "$missing" "" "every package of Depends is installed here (real names)"
dpkg-deb -e "$DEB" "$T/control"
is "$(cat "$T/control/conffiles")" "/etc/scrim/scrimd.conf" "conffiles: the config"
is "$(cat "$T/control/shlibs")" "libscrim 0 scrim (>= $version)" "shlibs: libscrim 0"
is "$(cat "$T/control/triggers")" "activate-noawait ldconfig" "triggers: ldconfig"
for s in postinst prerm postrm; do
    check "$s: sh -n" sh -n "$T/control/$s"
done

# ---- installed in a throwaway copy of this system
R=$T/ovl/root
can_overlay() {
    [ -z "${SCRIM_DEB_NO_OVERLAY:-}" ] && [ -n "${SCRIM_DEB_NS:-}" ] &&
        [ "$(readlink /proc/self/ns/mnt)" != "$SCRIM_DEB_NS" ] || return 1
    mkdir -p "$T/ovl" && mount -t tmpfs tmpfs "$T/ovl" &&
        mkdir -p "$T/ovl/upper" "$T/ovl/work" "$R" &&
        mount -t overlay overlay -o "lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$R" &&
        mount -t proc proc "$R/proc" &&
        mount -t tmpfs -o mode=0755 tmpfs "$R/dev" &&
        mknod -m 0666 "$R/dev/null" c 1 3 && mknod -m 0666 "$R/dev/zero" c 1 5 &&
        mknod -m 0666 "$R/dev/urandom" c 1 9 && mknod -m 0666 "$R/dev/random" c 1 8 &&
        mount -t tmpfs -o mode=0755 tmpfs "$R/run"
}
pid=
# scrimd first, then the mounts (before the temp dirs go)
at_exit '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; umount -R "$T/ovl" 2>/dev/null'
in_root() { chroot "$R" "$@"; }
health() { curl -sf --unix-socket "$1" http://scrimd/healthz; }

if ! can_overlay; then
    diag "no overlay of / here (mount namespace, tmpfs and overlayfs need CAP_SYS_ADMIN):"
    diag "dpkg -i, the maintainer scripts and dpkg -r are not checked"
    skip "cannot mount an overlay of / to install into"
    # The payload alone: its scrimd, as the unit runs it, on temp paths.
    dpkg-deb -x "$DEB" "$T/x"
    "$T/x/usr/sbin/scrimd" --config "$T/x/etc/scrim/scrimd.conf" --db "$T/db" \
        --socket "$T/s.sock" --listen none --log "$T/scrimd.log" &
    pid=$!
    check "the package's scrimd answers /healthz" poll 200 health "$T/s.sock"
    kill "$pid"; wait "$pid"
    is "$?" 0 "it stops on SIGTERM with status 0"
    pid=
    done_testing
fi

check "dpkg -i" in_root dpkg -i "$DEB"
is "$(in_root dpkg-query -W -f='${Status}' scrim)" "install ok installed" "scrim installed"
like "$(in_root getent passwd scrim)" '^scrim:x:[0-9]+:[0-9]+:scrim matching daemon,*:/var/lib/scrim:/usr/sbin/nologin$' \
    "postinst: system user scrim"
is "$(in_root stat -c '%U:%G %a' /var/lib/scrim)" "scrim:scrim 700" "postinst: /var/lib/scrim scrim:scrim 0700"
ok $([ -L "$R/etc/systemd/system/multi-user.target.wants/scrimd.service" ]; echo $?) \
    "postinst: the unit enabled (multi-user.target.wants)"
like "$(in_root /usr/bin/scrim hash - < "$FIX/blobs.jpg")" \
    "^$("$BIN/scrim" hash "$FIX/blobs.jpg" | cut -d, -f1,2)," "the installed scrim hashes as bin/scrim"

# As systemd would start it: ExecStart as User=/Group=, with the unit's
# RuntimeDirectory= (/run/scrim, 0750) made first.
unit=$R/usr/lib/systemd/system/scrimd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
is "$exec_start $user:$group" "/usr/sbin/scrimd --config /etc/scrim/scrimd.conf scrim:scrim" "the unit's ExecStart, User, Group"
is "$(sed -n 's/^StateDirectoryMode=//p' "$unit")" "0700" "the unit keeps /var/lib/scrim 0700 too"
if [ -x "$R/usr/bin/systemd-analyze" ]; then
    check "systemd-analyze verify: the installed unit, its binary, its man pages" \
        in_root systemd-analyze verify /usr/lib/systemd/system/scrimd.service
else
    skip "no systemd-analyze"
fi
in_root install -d -o "$user" -g "$group" -m "$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")" \
    "/run/$(sed -n 's/^RuntimeDirectory=//p' "$unit")"
# shellcheck disable=SC2086 # ExecStart's words
chroot "$R" setpriv --reuid="$user" --regid="$group" --init-groups \
    $exec_start --listen none > "$T/scrimd.log" 2>&1 &
pid=$!
sock=$R/run/scrim/scrimd.sock
check "scrimd answers /healthz on the config's socket" poll 200 health "$sock"
like "$(health "$sock")" '"status":"ok".*"database":true' "healthz: ok, with its database"
like "$(curl -s --unix-socket "$sock" --data-binary @"$FIX/blobs.jpg" http://scrimd/v1/hash)" \
    "\"hash\":\"$("$BIN/scrim" hash "$FIX/blobs.jpg" | cut -d, -f1)\"" "/v1/hash: the same hash"
is "$(in_root stat -c %U /var/lib/scrim/db/data.mdb)" "scrim" "the database, made by scrimd as scrim"
kill "$pid"
wait "$pid"
is "$?" 0 "SIGTERM: scrimd drains and exits 0"
pid=

files=$(in_root dpkg -L scrim)
check "dpkg -r scrim" in_root dpkg -r scrim
left=$(printf '%s\n' "$files" | while read -r f; do
    if [ ! -d "$R$f" ] && { [ -e "$R$f" ] || [ -L "$R$f" ]; }; then printf '%s ' "$f"; fi; done)
is "$left" "/etc/scrim/scrimd.conf " "dpkg -r: only the conffile is left of the package's files"
ok $([ -d "$R/var/lib/scrim/db" ]; echo $?) "dpkg -r keeps the database"
check "dpkg -P scrim" in_root dpkg -P scrim
is "$(in_root dpkg-query -W -f='${Status}' scrim 2>/dev/null)" "" "purged: dpkg knows scrim no more"
# What the whole round left in the copy of the system, beyond dpkg's and
# adduser's books (the user is kept on purge, see pkg/deb/postrm).
books='^(var/lib/dpkg/|var/log/|var/cache/|etc/(passwd|group|shadow|gshadow)-?$|etc/\.pwd\.lock$|etc/ld\.so\.cache$|run/|tmp/)'
is "$(cd "$T/ovl/upper" && find . ! -type d | sed 's|^\./||' | grep -Ev "$books" | tr '\n' ' ')" "" \
    "dpkg -P: no file left behind"
is "$(cd "$T/ovl/upper" && find . -type d | sed 's|^\./||' | grep -Ev "$books" |
    while read -r d; do [ -d "/$d" ] || printf '%s ' "$d"; done)" "" "nor a directory"
done_testing
