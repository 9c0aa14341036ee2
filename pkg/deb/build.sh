#!/bin/sh
# build.sh STAGE OUT.deb VERSION REVISION MAINTAINER LAZY_PKG... - `make deb`:
# the Debian package scrim from STAGE, a `make install DESTDIR=STAGE
# PREFIX=/usr` tree, with dpkg-deb alone (no debhelper).  What dh would do is
# done here: binaries and the shared library stripped, man pages compressed,
# a changelog entry, conffiles, md5sums, shlibs and the ldconfig trigger, the
# maintainer scripts of this folder.  Depends: dpkg-shlibdeps on the ELF
# files (else the packages that hold the libraries they need), adduser for
# the postinst, and the packages of the libraries src/base/lazy.c dlopens
# (LAZY_PKG: their pkg-config names; no tool sees a dlopen), with the
# versions their shlibs files ask.
set -eu
stage=$1 out=$2 version=$3 revision=$4 maintainer=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
mkdir -p "$(dirname "$out")"
work=$(cd "$(dirname "$out")" && pwd)/work
root=$work/root

rm -rf "$work"
mkdir -p "$work"
cp -a "$stage" "$root"
mkdir -p "$root/DEBIAN"

# ---- the payload, as dh_strip and dh_installman leave it
elfs=$(cd "$root" && find usr -type f \( -path 'usr/bin/*' -o -path 'usr/sbin/*' -o -name '*.so.*' \) | sort)
for f in $elfs; do
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/$f"
done
find "$root/usr/lib" -name '*.a' -exec strip --strip-debug {} +
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
# A changelog entry for this build (the commit, its date when there is git).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
when=$(git log -1 --format=%aD 2>/dev/null || date -R)
mkdir -p "$root/usr/share/doc/scrim"
printf 'scrim (%s-%s) unstable; urgency=medium\n\n  * Built by make deb from commit %s.\n\n -- %s  %s\n' \
    "$version" "$revision" "$commit" "$maintainer" "$when" |
    gzip -9n > "$root/usr/share/doc/scrim/changelog.Debian.gz"

# ---- Depends
# pkg_of FILE: the installed package that holds FILE (resolving /lib vs /usr/lib).
pkg_of() {
    dpkg -S "$1" 2>/dev/null | sed -n '1s/:.*//p' | grep . ||
        dpkg -S "$(readlink -f "$1")" 2>/dev/null | sed -n '1s/:.*//p'
}
shlibdeps=
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    # dpkg-shlibdeps reads debian/control: a minimal one of its own.
    mkdir -p "$work/shlibdeps/debian"
    printf 'Source: scrim\n\nPackage: scrim\nArchitecture: any\n' > "$work/shlibdeps/debian/control"
    shlibdeps=$(cd "$work/shlibdeps" &&
        dpkg-shlibdeps -O $(for f in $elfs; do printf ' -e%s' "$root/$f"; done) 2>"$work/shlibdeps.log" |
        sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.log" >&2; exit 1; }
fi
if [ -z "$shlibdeps" ]; then
    echo "build.sh: no dpkg-shlibdeps: Depends from the packages of the libraries linked" >&2
    shlibdeps=$(for f in $elfs; do
        readelf -d "$root/$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
    done | sort -u | while read -r so; do
        case $so in libscrim.so.*) continue ;; esac
        path=$(/sbin/ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
        [ -n "$path" ] && pkg_of "$path"
    done | sort -u | paste -sd, - | sed 's/,/, /g')
fi
# The dlopened libraries: the SONAME behind each -dev package's libX.so.
lazy=
for pc in "$@"; do
    libdir=$(pkg-config --variable=libdir "$pc")
    lib=$(pkg-config --libs-only-l "$pc" | tr ' ' '\n' | sed -n 's/^-l//p' | head -n 1)
    file=$(readlink -f "$libdir/lib$lib.so")
    soname=$(readelf -d "$file" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    pkg=$(pkg_of "$file")
    [ -n "$soname" ] && [ -n "$pkg" ] || { echo "build.sh: no package holds $file ($pc)" >&2; exit 1; }
    # shlibs line "libvips 42 libvips42 (>> 8.0.2-1~)" for libvips.so.42
    name=${soname%.so.*} major=${soname##*.so.}
    dep=$(dpkg-query --control-show "$pkg" shlibs 2>/dev/null |
        awk -v n="$name" -v m="$major" '$1 == n && $2 == m { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }')
    lazy="$lazy, ${dep:-$pkg}"
done
depends="$shlibdeps, adduser$lazy"

# ---- control files
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: scrim
Version: $version-$revision
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: match uploads against hash lists of known abusive media
 scrim hashes images with PDQ and videos with vPDQ, bit for bit as Meta's
 reference implementations do, and looks the hashes up within a Hamming
 radius in an exact nearest-neighbour index of shared hash lists held in
 LMDB.  A match keeps only a blurred greyscale preview for review.
 .
 This package holds the command-line tool scrim, the daemon scrimd (HTTP
 on a Unix socket and TCP, a systemd service run as the user scrim, its
 database in /var/lib/scrim), and the library libscrim (shared and static,
 headers, pkg-config file scrim).
EOF
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
# shlibs: what a package linking libscrim.so.N depends on
soname=$(for f in $elfs; do readelf -d "$root/$f"; done | sed -n 's/.*(SONAME).*\[libscrim\.so\.\(.*\)\]/\1/p')
echo "libscrim $soname scrim (>= $version)" > "$root/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$root/DEBIAN/triggers"
for s in postinst prerm postrm; do
    install -m 0755 "$here/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/shlibs" \
    "$root/DEBIAN/triggers" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out: Depends: $depends"
