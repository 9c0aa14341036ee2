#!/bin/sh
# install.t - `make install DESTDIR=... PREFIX=/usr` and `make uninstall`:
# the files installed, exactly; the shared library's SONAME, links and
# exports; a program built in a temp directory with `pkg-config --cflags
# --libs scrim` against the installed files only, linked shared and static,
# hashes as bin/scrim does; a static link of every object of libscrim.a
# resolves with `pkg-config --static --libs scrim`; the installed man pages
# format without warnings; an edited config survives install and uninstall;
# uninstall leaves no file behind.  The first run builds build/pic (the
# PIC objects of the shared library); later runs reuse it.
. "$(dirname "$0")/tap.sh"
need_tools cc make pkg-config readelf nm ldd
[ -x "$BIN/scrim" ] || skip_all "no $BIN/scrim"
temp_dir T install
D=$T/root
TOP=$PWD

# The release build, whatever flavour `make test` runs: without the
# SANITIZE=1 and the jobserver `make test` passes down (WERROR=1, in the
# environment, stays).
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE \
        make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" "$@"
}

version=$(sed -n 's/^#define SCRIM_VERSION "\(.*\)"/\1/p' include/scrim.h)
so=libscrim.so.0.${version#*.}

check "make install DESTDIR=\$T/root PREFIX=/usr" mk install DESTDIR="$D" PREFIX=/usr ||
    bail_out "make install failed"

want=$( {
    printf '%s\n' usr/bin/scrim usr/sbin/scrimd usr/lib/libscrim.a usr/lib/libscrim.so \
        usr/lib/libscrim.so.0 "usr/lib/$so" usr/lib/pkgconfig/scrim.pc usr/include/scrim.h \
        usr/share/man/man1/scrim.1 usr/share/man/man5/scrimd.conf.5 \
        usr/share/man/man8/scrimd.8 usr/lib/systemd/system/scrimd.service \
        etc/scrim/scrimd.conf
    for h in include/scrim/*.h; do echo "usr/$h"; done
} | sort)
got=$(cd "$D" && find . -type f -o -type l | sed 's|^\./||' | sort)
is "$got" "$want" "the files installed, exactly"

L=$D/usr/lib
is "$(readlink "$L/libscrim.so") $(readlink "$L/libscrim.so.0")" "libscrim.so.0 $so" \
    "libscrim.so -> libscrim.so.0 -> $so"
like "$(readelf -d "$L/$so")" 'SONAME.*\[libscrim\.so\.0\]' "SONAME libscrim.so.0"
needed=$(readelf -d "$L/$so" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')
like "$needed" 'liblmdb.*libjansson' "links lmdb, jansson ... ($needed)"
ok $(printf '%s' "$needed" | grep -Eq 'libvips|libav|libswscale'; [ $? = 1 ]; echo $?) \
    "links neither libvips nor FFmpeg (dlopened)" "$needed"
is "$(nm -D --defined-only "$L/$so" | awk '$3 !~ /^scrim_[^_]/' | tr '\n' ' ')" "" \
    "exports only the scrim_ API"
is "$(nm -D --defined-only "$L/$so" | awk '$3 ~ /^scrim_/' | wc -l)" \
    "$(nm -g --defined-only "$L/libscrim.a" | awk 'NF == 3 && $3 ~ /^scrim_[^_]/' | wc -l)" \
    "exports every scrim_ function of libscrim.a"
check "installed scrim and scrimd are bin/'s" sh -c \
    'cmp bin/scrim "$1/usr/bin/scrim" && cmp bin/scrimd "$1/usr/sbin/scrimd"' sh "$D"
is "$(sed -n 's/^ExecStart=//p' "$D/usr/lib/systemd/system/scrimd.service")" \
    "/usr/sbin/scrimd --config /etc/scrim/scrimd.conf" "the unit runs the installed scrimd"
check "the installed config is the example" cmp tools/scrimd/scrimd.conf "$D/etc/scrim/scrimd.conf"

# pkg-config and a program built against the installed files only.
export PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$L/pkgconfig"
is "$(pkg-config --modversion scrim)" "$version" "pkg-config --modversion scrim"
flags=$(pkg-config --cflags --libs scrim)
like "$flags" "^-I$D/usr/include .*-L$D/usr/lib -lscrim( |\$)" "cflags and libs point into DESTDIR"
ok $(printf '%s' "$flags" | grep -qF "$TOP"; [ $? = 1 ]; echo $?) "nothing from the source tree" "$flags"
like "$(pkg-config --print-requires-private scrim | tr '\n' ' ')" 'glib-2.0 .*lmdb .*libjpeg' \
    "Requires.private: what a static link needs"

mkdir "$T/prog"
cp tests/install_hash.c "$T/prog/"
cd "$T/prog" || bail_out "cd"
want_line=$("$BIN/scrim" hash "$FIX/blobs.jpg")
check "cc \$(pkg-config --cflags --libs scrim): shared" \
    sh -c 'cc -o hash-shared install_hash.c $(pkg-config --cflags --libs scrim)'
like "$(LD_LIBRARY_PATH=$L ldd ./hash-shared)" "libscrim\.so\.0 => $L/libscrim\.so\.0" \
    "the program uses the installed libscrim.so.0"
is "$(LD_LIBRARY_PATH=$L ./hash-shared "$FIX/blobs.jpg" | head -n 1)" "$want_line" \
    "shared: the same hash as bin/scrim"
static_libs=$(pkg-config --static --libs scrim | sed 's/-lscrim\( \|$\)/-l:libscrim.a /')
check "cc ... \$(pkg-config --static --libs scrim): libscrim.a" \
    sh -c 'cc -o hash-static install_hash.c $(pkg-config --cflags scrim) $1' sh "$static_libs"
ok $(ldd ./hash-static | grep -q libscrim; [ $? = 1 ]; echo $?) "no libscrim.so in the static program"
is "$(./hash-static "$FIX/blobs.jpg" | head -n 1)" "$want_line" "static: the same hash as bin/scrim"
check "every object of libscrim.a links with pkg-config --static --libs" \
    sh -c 'cc -o whole install_hash.c $(pkg-config --cflags scrim) -Wl,--whole-archive -l:libscrim.a -Wl,--no-whole-archive $1' \
    sh "$static_libs"
cd "$TOP" || bail_out "cd"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH

for page in man1/scrim.1 man5/scrimd.conf.5 man8/scrimd.8; do
    if command -v man >/dev/null 2>&1; then
        is "$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$D/usr/share/man/$page" 2>&1 >/dev/null)" "" \
            "installed $page: man --warnings says nothing"
    else
        is "$(groff -z -wall -man "$D/usr/share/man/$page" 2>&1)" "" "installed $page: groff -wall says nothing"
    fi
done

# An edited config is the admin's: install keeps it, uninstall leaves it.
echo "threads = 2" >> "$D/etc/scrim/scrimd.conf"
check "install again" mk install DESTDIR="$D" PREFIX=/usr
like "$(tail -n 1 "$D/etc/scrim/scrimd.conf")" '^threads = 2$' "install keeps an edited config"
check "make uninstall" mk uninstall DESTDIR="$D" PREFIX=/usr
is "$(cd "$D" && find . -type f -o -type l)" "./etc/scrim/scrimd.conf" \
    "uninstall removes everything but the edited config"
cp tools/scrimd/scrimd.conf "$D/etc/scrim/scrimd.conf"
check "make uninstall, the config as installed" mk uninstall DESTDIR="$D" PREFIX=/usr
is "$(cd "$D" && find . -type f -o -type l)" "" "uninstall leaves no file behind"
is "$(cd "$D" && find . -path ./etc/scrim -o -path ./usr/include/scrim)" "" \
    "nor scrim's own directories"
done_testing
