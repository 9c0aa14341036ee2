#!/usr/bin/env python3
"""corpus.py - the malformed-media and malformed-request corpus of
bench/corpus.sh (which documents it), made from files the project never used
in development, and the client that sends it to scrimd.

  corpus.py make DIR          build the corpus in DIR (deterministic: fixed
                              seeds; the originals found on this system are
                              listed in DIR/originals.txt)
  corpus.py send DIR SOCKET ADMIN_TOKEN REVIEWER_TOKEN TIMEOUT PID
                              send every item, check every answer, print the
                              counts; exit 1 on a crash, a hang or a bad answer
"""
import glob
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib

# ---------------------------------------------------------------- making

# Files of other packages found on a Debian system (the first 40 that exist,
# in this order), never the project's fixtures or ../shared.
ORIGINAL_GLOBS = [
    "/usr/share/doc/cmake-data/*.gif",
    "/usr/share/pixmaps/*.png",
    "/usr/share/icons/hicolor/128x128/apps/*.png",
    "/usr/share/gtk-doc/html/libvips/*.jpg",
    "/usr/share/gtk-doc/html/libvips/*.gif",
    "/usr/lib/python3*/test/imghdrdata/python.*",
    "/root/.pyenv/versions/3.13*/lib/python3.13/test/test_email/data/python.*",
    "/root/.pyenv/versions/3.12*/lib/python3.12/test/imghdrdata/python.*",
    "/root/.rustup/toolchains/stable-*/share/doc/rust/html/embedded-book/assets/*.jp*g",
    "/usr/share/doc/valgrind/html/images/*.png",
    "/usr/share/doc/groff-base/html/img/*.png",
    "/usr/share/icons/Adwaita/48x48/legacy/*.png",
]

ZZUF_RATIOS = ["0.0005", "0.002", "0.01", "0.05"]
ZZUF_SEEDS = [1, 2]


def run(*cmd):
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def png(w, h, depth, color, idat, extra=b""):
    return (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)) +
            extra + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def deflate_zeros(n):
    c = zlib.compressobj(9)
    out, block = [], b"\0" * (1 << 20)
    while n > 0:
        k = min(n, len(block))
        out.append(c.compress(block[:k]))
        n -= k
    out.append(c.flush())
    return b"".join(out)


def jpeg_sof(w, h, marker=0xC0):
    """A JPEG whose frame header declares w x h, with one tiny scan."""
    dqt = b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)
    sof = bytes([0xFF, marker]) + struct.pack(">HBHHB", 17, 8, h, w, 3) + \
        b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    dht = (b"\xff\xc4\x00\x1f\x00\x00\x01\x05\x01\x01\x01\x01\x01\x01\x00\x00"
           b"\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b")
    if marker == 0xC2:   # a DC first scan only
        sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x00\x01"
    else:
        sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
    return b"\xff\xd8" + dqt + sof + dht + sos + b"\x00" * 64 + b"\xff\xd9"


def repeat_scans(jpg, times):
    """A progressive JPEG whose scans after the first are repeated: a deep
    progression that decoders must walk."""
    i, segs = 2, []
    while i + 4 <= len(jpg) and jpg[i] == 0xFF:
        m = jpg[i + 1]
        n = struct.unpack(">H", jpg[i + 2:i + 4])[0]
        if m == 0xDA:   # scan: header then entropy data up to the next marker
            j = i + 2 + n
            while j + 1 < len(jpg) and not (jpg[j] == 0xFF and jpg[j + 1] not in (0, *range(0xD0, 0xD8))):
                j += 1
            segs.append(("scan", jpg[i:j]))
            i = j
        else:
            segs.append(("seg", jpg[i:i + 2 + n]))
            i += 2 + n
    scans = [s for k, s in segs if k == "scan"]
    head = b"".join(s for k, s in segs if k == "seg")
    if len(scans) < 2:
        return None
    return b"\xff\xd8" + head + scans[0] + b"".join(scans[1:] * times) + b"\xff\xd9"


def gif(screen_w, screen_h, frames, fw=1, fh=1):
    out = b"GIF89a" + struct.pack("<HHBBB", screen_w, screen_h, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x00\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, fw, fh, 0) + b"\x02\x02\x44\x01\x00"
    return out + b"\x3b"


def tiff(w, h, loop=False, pages=1):
    """A little-endian TIFF: w x h, 8-bit grey, one 1-byte strip per page;
    its last directory points to itself when loop."""
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for p in range(pages):
        at = len(out)
        tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1),
                (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, h),
                (279, 4, 1, 1)]
        size = 2 + 12 * len(tags) + 4
        data_at = at + size
        out += struct.pack("<H", len(tags))
        for tag, typ, cnt, val in tags:
            if tag == 273:
                val = data_at
            out += struct.pack("<HHI", tag, typ, cnt) + (struct.pack("<HH", val, 0) if typ == 3 else struct.pack("<I", val))
        nxt = at if (loop and p == pages - 1) else (0 if p == pages - 1 else data_at + 2)
        out += struct.pack("<I", nxt) + b"\0\0"
    return bytes(out)


def webp_vp8x(canvas_w, canvas_h, frames=0):
    """A VP8X WebP with a canvas of canvas_w x canvas_h and, if frames,
    that many 1x1 animation frames (lossless)."""
    vp8l = b"\x2f\x00\x00\x00\x00\x88\x88\x08\x00"   # a 1x1 lossless bitstream
    def chunk(t, d):
        return t + struct.pack("<I", len(d)) + d + (b"\0" if len(d) & 1 else b"")
    flags = 0x02 if frames else 0
    body = chunk(b"VP8X", bytes([flags, 0, 0, 0]) +
                 (canvas_w - 1).to_bytes(3, "little") + (canvas_h - 1).to_bytes(3, "little"))
    if frames:
        body += chunk(b"ANIM", b"\0\0\0\0\0\0")
        fr = chunk(b"ANMF", b"\0" * 6 + b"\0\0\0" + b"\0\0\0" + b"\x64\0\0\0" + chunk(b"VP8L", vp8l))
        body += fr * frames
    else:
        body += chunk(b"VP8L", vp8l)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def make(d):
    if os.path.exists(d):
        shutil.rmtree(d)
    orig, media = os.path.join(d, "orig"), os.path.join(d, "media")
    os.makedirs(orig)
    os.makedirs(media)
    found, seen = [], set()
    for g in ORIGINAL_GLOBS:
        for f in sorted(glob.glob(g)):
            if os.path.isfile(f) and os.path.getsize(f) < 4 << 20 and len(found) < 40:
                digest = zlib.crc32(open(f, "rb").read())
                if digest not in seen:
                    seen.add(digest)
                    found.append(f)
    with open(os.path.join(d, "originals.txt"), "w") as o:
        o.write("\n".join(found) + "\n")
    for i, f in enumerate(found):
        shutil.copy(f, os.path.join(orig, "sys%02d-%s" % (i, os.path.basename(f).replace(" ", "_"))))
    # formats the system files lack, made from the first that libvips loads
    pics = [f for f in sorted(glob.glob(orig + "/*")) if run("vipsheader", f)]
    if pics:
        src = pics[0]
        tmp = os.path.join(d, "src.v")
        run("vips", "thumbnail", src, tmp, "320")
        run("vips", "flatten", tmp, tmp + ".v")
        if os.path.exists(tmp + ".v"):
            tmp = tmp + ".v"
        for name, opts in [("prog.jpg", "[Q=80,interlace]"), ("q444.jpg", "[Q=95,subsample-mode=off]"),
                           ("interlaced.png", "[interlace]"), ("palette.png", "[palette]"),
                           ("deflate.tif", "[compression=deflate,tile]"), ("lzw.tif", "[compression=lzw]"),
                           ("lossy.webp", "[Q=60]"), ("lossless.webp", "[lossless]"),
                           ("plain.heic", "[compression=hevc]"), ("plain.avif", "[compression=av1,effort=0]"),
                           ("plain.jp2", ""), ("plain.jxl", ""), ("plain.gif", "")]:
            run("vips", "copy", tmp, os.path.join(orig, "gen-" + name) + opts)
        run("vips", "cast", tmp, tmp + "16.v", "ushort")
        run("vips", "copy", tmp + "16.v", os.path.join(orig, "gen-16bit.png"))
        for f in glob.glob(os.path.join(d, "src.v*")):
            os.remove(f)
    # short clips from ffmpeg's own sources, in containers and codecs the
    # project's tests do not use
    ff = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"]
    clips = [("h264.mp4", "testsrc2=s=160x120:d=2:r=10", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
             ("hevc.mp4", "mandelbrot=s=160x120:r=10", ["-t", "2", "-c:v", "libx265", "-x265-params", "log-level=0"]),
             ("vp9.webm", "life=s=160x120:r=10", ["-t", "2", "-c:v", "libvpx-vp9"]),
             ("mjpeg.avi", "smptebars=s=160x120:d=2:r=10", ["-c:v", "mjpeg"]),
             ("mpeg2.ts", "rgbtestsrc=s=160x120:d=2:r=10", ["-c:v", "mpeg2video"]),
             ("theora.ogv", "testsrc=s=160x120:d=2:r=10", ["-c:v", "libtheora"]),
             ("prores.mov", "yuvtestsrc=s=160x120:d=1:r=10", ["-c:v", "prores"]),
             ("anim.gif", "testsrc2=s=96x64:d=2:r=5", []),
             ("av1.mkv", "testsrc2=s=64x48:d=1:r=5", ["-c:v", "libaom-av1", "-cpu-used", "8"])]
    for name, src, args in clips:
        run(*ff, src, *args, os.path.join(orig, "vid-" + name))

    n = 0
    def put(name, data):
        nonlocal n
        with open(os.path.join(media, name), "wb") as o:
            o.write(data)
        n += 1
    for f in sorted(glob.glob(orig + "/*")):
        base = os.path.basename(f)
        data = open(f, "rb").read()
        put("valid-" + base, data)
        for r in ZZUF_RATIOS:
            for s in ZZUF_SEEDS:
                out = subprocess.run(["zzuf", "-s", str(s), "-r", r], input=data,
                                     stdout=subprocess.PIPE).stdout
                put("zzuf-%s-%d-%s" % (r, s, base), out)
        for frac in (0.25, 0.5, 0.9):
            put("cut%02d-%s" % (int(frac * 100), base), data[:int(len(data) * frac)])
        put("cut16-" + base, data[:16])
        put("cutlast-" + base, data[:-1])
        put("magicpng-" + base, b"\x89PNG\r\n\x1a\n" + data[8:])
        put("magicjpg-" + base, b"\xff\xd8\xff\xe0" + data[4:])
        put("magicftyp-" + base, b"\0\0\0\x18ftypmp42" + data[12:])
    # bombs and lies, built here
    put("bomb-png-60000x60000.png", png(60000, 60000, 8, 2, zlib.compress(b"\0" * 64)))
    put("bomb-png-9000x9000-zeros.png", png(9000, 9000, 8, 0, deflate_zeros(9000 * 9001)))
    put("bomb-png-10001x10000.png", png(10001, 10000, 8, 0, deflate_zeros(1 << 20)))
    put("bomb-png-ztxt.png", png(1, 1, 8, 0, zlib.compress(b"\0\0"),
                                 png_chunk(b"zTXt", b"k\0\0" + deflate_zeros(64 << 20))))
    put("bomb-png-1x1-idat-64mb.png", png(1, 1, 8, 0, deflate_zeros(64 << 20)))
    put("bomb-gif-65535-screen.gif", gif(65535, 65535, 1))
    put("bomb-gif-3000-frames-4k.gif", gif(3840, 2160, 3000))
    put("bomb-gif-frame-outside.gif", gif(16, 16, 1, 60000, 60000))
    put("bomb-jpeg-65500x65500.jpg", jpeg_sof(65500, 65500))
    put("bomb-jpeg-prog-9000x9000.jpg", jpeg_sof(9000, 9000, 0xC2))
    put("bomb-jpeg-prog-12000x8000.jpg", jpeg_sof(12000, 8000, 0xC2))
    put("bomb-jpeg-0x0.jpg", jpeg_sof(0, 0))
    prog = os.path.join(orig, "gen-prog.jpg")
    if os.path.exists(prog):
        deep = repeat_scans(open(prog, "rb").read(), 300)
        if deep:
            put("bomb-jpeg-deep-progressive.jpg", deep)
    put("bomb-tiff-100000x100000.tif", tiff(100000, 100000))
    put("bomb-tiff-ifd-loop.tif", tiff(8, 8, loop=True))
    put("bomb-tiff-ifd-loop-3.tif", tiff(8, 8, loop=True, pages=3))
    put("bomb-tiff-2000-pages.tif", tiff(8, 8, pages=2000))
    put("bomb-webp-canvas-16384.webp", webp_vp8x(16384, 16384))
    put("bomb-webp-anim-1000x16383.webp", webp_vp8x(16383, 16383, 1000))
    put("bomb-svg-laughs.svg", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' +
        b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((98 + i,) + (97 + i,) * 10) for i in range(8)) +
        b']><svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><text>&i;</text></svg>')
    put("empty", b"")
    put("one-byte", b"\xff")
    put("zeros-1mb", b"\0" * (1 << 20))
    rnd = random.Random(21)
    for i in range(20):
        put("random-%02d" % i, bytes(rnd.getrandbits(8) for _ in range(rnd.choice([10, 100, 1000, 20000]))))
    # clips with lies in their headers: every width/height field of the
    # visual sample entry, every frame-count field, pushed to the limit
    for f in sorted(glob.glob(orig + "/vid-*.mp4")) + sorted(glob.glob(orig + "/vid-*.mov")):
        data = bytearray(open(f, "rb").read())
        base = os.path.basename(f)
        for box, off, val, tag in [(b"avc1", 28, b"\xff\xff\xff\xff", "dims"),
                                   (b"hvc1", 28, b"\xff\xff\xff\xff", "dims"),
                                   (b"apch", 28, b"\xff\xff\xff\xff", "dims"),
                                   (b"stts", 12, b"\x7f\xff\xff\xff", "stts"),
                                   (b"mdhd", 16, b"\x00\x00\x00\x01", "timescale"),
                                   (b"stsz", 12, b"\x7f\xff\xff\xff", "stsz"),
                                   (b"tkhd", 80, b"\xff\xff\xff\xff", "tkhd")]:
            at = data.find(box)
            if at > 0 and at + off + 4 <= len(data):
                m = bytearray(data)
                m[at + off:at + off + 4] = val
                put("lie-%s-%s" % (tag, base), bytes(m))
    print("%d originals (%d from this system), %d media items" % (
        len(glob.glob(orig + "/*")), len(found), n))

# ---------------------------------------------------------------- requests

HEX64 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def lookup_queries():
    q = ["", "pdq=", "pdq=" + HEX64[:63], "pdq=" + HEX64 + "0", "pdq=" + "g" * 64,
         "pdq=" + HEX64 + "&radius=-1", "pdq=" + HEX64 + "&radius=257",
         "pdq=" + HEX64 + "&radius=99999999999999999999", "pdq=" + HEX64 + "&radius=nan",
         "pdq=" + HEX64 + "&radius=1e3", "pdq=" + HEX64 + "&radius=", "pdq=" + HEX64 + "&radius=31&radius=32",
         "pdq=" + HEX64 + "&lists=", "pdq=" + HEX64 + "&lists=,,,", "pdq=" + HEX64 + "&lists=" + "x" * 5000,
         "pdq=" + HEX64 + "&lists=nosuch", "pdq=" + HEX64 + "&min_quality=101",
         "md5=", "md5=zz", "md5=" + "0" * 31, "md5=" + "0" * 33, "sha256=" + "0" * 63,
         "sha256=" + "0" * 64 + "%00", "pdq=" + HEX64 + "&md5=" + "0" * 32,
         "pdq=%", "pdq=%zz", "pdq=%00" + HEX64[3:], "pdq=" + HEX64.upper(), "pdq= " + HEX64,
         "&&&&", "=" * 100, "pdq=" + HEX64 + "&" + "a=b&" * 2000, "path=/etc/passwd",
         "pdq=" + HEX64 + "&content_id=" + "%ff" * 10, "pdq=" + HEX64 + "#frag"]
    rnd = random.Random(2121)
    keys = ["pdq", "md5", "sha256", "radius", "min_quality", "lists", "path", "content_id",
            "seconds_per_hash", "dihedral", "regions", "", "%00", "pdq[]"]
    vals = [HEX64, HEX64[:32], "-1", "0", "31", "256", "4294967297", "1e309", "nan", "",
            "%", "%25", "%2F..%2F", "a,b,c", "\u00e9", "x" * 300, "0x10", "+5"]
    for _ in range(100):
        q.append("&".join("%s=%s" % (rnd.choice(keys), rnd.choice(vals)) for _ in range(rnd.randint(1, 6))))
    return q


def lookup_bodies():
    vp = "0,100," + HEX64 + ",0.0"
    return [b"", b"[", b"]", b"{}", b"null", b"[]", b"[1]", b"[null]", b"[\"pdq:\"]",
            b"[\"pdq:" + HEX64.encode() + b"\", 5, {}]", b"[{\"pdq\": 5}]", b"[{\"vpdq\": \"\"}]",
            b"[{\"vpdq\": \"" + vp.encode() + b"\\n" + b"garbage\"}]",
            b"[{\"vpdq\": \"" + (vp + "\\n").encode() * 20000 + b"\"}]",
            b"[" * 100000, b"[\"md5:" + b"0" * 32 + b"\"" + b", \"md5:" + b"0" * 32 + b"\"" * 0 + b"]",
            b"[" + b",".join([b"\"pdq:" + HEX64.encode() + b"\""] * 10001) + b"]",
            b"\xef\xbb\xbf[]", b"[\"\\u0000\"]", b"[\"pdq:" + b"\xff" * 64 + b"\"]",
            json.dumps(["sha256:" + "0" * 64] * 3).encode(), b"{\"pdq\": \"" + HEX64.encode() + b"\"}"]


def compare_bodies():
    vp = "0,100," + HEX64 + ",0.0\n"
    many = "".join("%d,100,%s,%d.0\n" % (i, HEX64, i) for i in range(20000))
    return [b"", b"{}", b"[]", b"{\"query\": 5}", json.dumps({"query": "", "compared": ""}).encode(),
            json.dumps({"query": vp, "compared": "x"}).encode(),
            json.dumps({"query": vp, "compared": vp, "distance": -1}).encode(),
            json.dumps({"query": vp, "compared": vp, "min_quality": 1e300}).encode(),
            json.dumps({"query": "0,100,zz,0.0", "compared": vp}).encode(),
            json.dumps({"query": "-1,100," + HEX64 + ",nan", "compared": vp}).encode(),
            json.dumps({"query": many, "compared": many}).encode(),
            json.dumps({"query": vp * 3, "compared": vp, "extra": [1] * 1000}).encode()]


def import_files():
    rnd = random.Random(77)
    vp = "0,100," + HEX64 + ",0.0\n"
    files = [("pdq", b""), ("pdq", b"\n\n\n"), ("pdq", HEX64.encode() + b"\n" + b"zz\n"),
             ("pdq", HEX64[:63].encode() + b",100\n"), ("pdq", HEX64.encode() + b",101\n"),
             ("pdq", HEX64.encode() + b",-1\n"), ("pdq", HEX64.encode() + b",100,extra,fields,,,\n"),
             ("pdq", b"\0" * 1000), ("pdq", b"\xff\xfe" + HEX64.encode("utf-16-le")),
             ("pdq", HEX64.encode() + b"," + b"9" * 100 + b"\n"), ("pdq", b"x" * (2 << 20)),
             ("pdq", (HEX64 + "\r\n").encode() * 3 + b"\r"), ("pdq", b"\"" + HEX64.encode() + b"\"\n"),
             ("md5", b"0" * 31 + b"\n"), ("md5", b"0" * 32 + b" extra\n"), ("sha256", b"g" * 64 + b"\n"),
             ("vpdq", b""), ("vpdq", b"nonsense"), ("vpdq", vp.encode() * 2 + b"1,100\n"),
             ("vpdq", b"-5,100," + HEX64.encode() + b",0.0\n"), ("vpdq", b"0,100," + HEX64.encode() + b",inf\n"),
             ("bogus-format", HEX64.encode() + b"\n"), ("", b"{\"not\": \"a list\"}"),
             ("", b"\x89PNG\r\n\x1a\n" + b"\0" * 100), ("", bytes(rnd.getrandbits(8) for _ in range(5000)))]
    for i in range(15):
        lines = []
        for _ in range(rnd.randint(1, 50)):
            parts = [rnd.choice([HEX64, HEX64[:rnd.randint(0, 63)], "", "z" * 64, "0" * 32, str(rnd.randint(-5, 500))])
                     for _ in range(rnd.randint(1, 5))]
            lines.append(rnd.choice([",", "\t", " ", ";"]).join(parts))
        files.append((rnd.choice(["pdq", "md5", "vpdq", ""]), "\n".join(lines).encode()))
    return files

# ---------------------------------------------------------------- sending


class Conn:
    def __init__(self, path, timeout):
        self.path, self.timeout = path, timeout

    def request(self, method, target, body=b"", headers=()):
        """(status, headers, body, seconds); status "closed" when scrimd
        closed the connection without an answer, "hang" on time-out."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        t0 = time.monotonic()
        try:
            s.connect(self.path)
            head = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: %d\r\n" % (
                method, target, len(body))
            for h in headers:
                head += h + "\r\n"
            s.sendall(head.encode("latin-1") + b"\r\n" + body)
            data = b""
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                data += b
        except socket.timeout:
            return "hang", "", b"", time.monotonic() - t0
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        finally:
            s.close()
        dt = time.monotonic() - t0
        if not data:
            return "closed", "", b"", dt
        he = data.find(b"\r\n\r\n")
        if not data.startswith(b"HTTP/1.") or he < 0:
            return "garbled", "", data, dt
        return int(data[9:12]), data[:he].decode("latin-1"), data[he + 4:], dt


def send(d, sock, admin, reviewer, timeout, pid):
    conn = Conn(sock, timeout + 15)
    counts, bad, notes, slowest = {}, [], [], (0, "")
    auth = ["Authorization: Bearer " + admin]
    rauth = ["Authorization: Bearer " + reviewer]

    def alive():
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def one(route, item, method, target, body=b"", headers=(), ok_types=("application/json",)):
        nonlocal slowest
        st, h, b, dt = conn.request(method, target, body, headers)
        code = ""
        problem = None
        if st in ("hang", "garbled"):
            problem = st
        elif st == "closed":
            pass
        else:
            ct = ""
            for line in h.split("\r\n"):
                if line.lower().startswith("content-type:"):
                    ct = line.split(":", 1)[1].strip()
            if st >= 400:
                try:
                    code = json.loads(b)["error"]["code"]
                except Exception:
                    problem = "%d without a JSON error" % st
                if st >= 500 and st not in (503, 504):
                    problem = "a %d (%s)" % (st, code)
            elif not any(ct.startswith(t) for t in ok_types):
                problem = "%d with Content-Type %s" % (st, ct)
        if dt > timeout + 5:
            problem = problem or "answered after %.1f s (timeout %g s)" % (dt, timeout)
        if dt > slowest[0]:
            slowest = (dt, "%s %s" % (route, item))
        key = (route, str(st), code)
        counts[key] = counts.get(key, 0) + 1
        if st in (503, 504, "closed"):
            notes.append("%s %s: %s %s (%.1f s)" % (route, item, st, code, dt))
        if problem:
            bad.append("%s %s: %s" % (route, item, problem))
        if not alive():
            print("CRASH: scrimd died on %s %s" % (route, item))
            report(counts, bad, notes, slowest)
            sys.exit(1)

    media = sorted(glob.glob(os.path.join(d, "media", "*")))
    for i, f in enumerate(media):
        data = open(f, "rb").read()
        name = os.path.basename(f)
        one("match", name, "POST", "/v1/match", data)
        one("preview", name, "POST", "/v1/preview", data, rauth, ("image/jpeg",))
        if i % 10 == 0:
            one("lists-media", name, "POST", "/v1/lists/corpus/media?create=1&id=m%d" % i, data, auth)
    for q in lookup_queries():
        one("lookup-get", q[:40], "GET", "/v1/lookup?" + "".join(
            c if 32 < ord(c) < 127 and c != "#" else "%%%02X" % (ord(c) & 255) for c in q))
    for b in lookup_bodies():
        one("lookup-post", b[:30], "POST", "/v1/lookup", b)
    for b in compare_bodies():
        one("compare", b[:30], "POST", "/v1/compare", b)
    for i, (fmt, b) in enumerate(import_files()):
        qs = "?create=1" + ("&format=" + fmt if fmt else "") + ("&id=v%d" % i if fmt == "vpdq" else "")
        one("import", "%d:%s" % (i, fmt), "POST", "/v1/lists/bad%d/import%s" % (i % 3, qs), b, auth)
    report(counts, bad, notes, slowest)
    return 1 if bad else 0


def report(counts, bad, notes, slowest):
    routes = sorted({k[0] for k in counts})
    print("\n%-12s %7s  %s" % ("route", "answers", "by status (error code)"))
    for r in routes:
        ks = sorted((k for k in counts if k[0] == r), key=lambda k: (k[1], k[2]))
        tot = sum(counts[k] for k in ks)
        print("%-12s %7d  %s" % (r, tot, ", ".join(
            "%s%s: %d" % (k[1], " " + k[2] if k[2] else "", counts[k]) for k in ks)))
    print("\nall: %d requests; slowest %.2f s (%s)" % (sum(counts.values()), slowest[0], slowest[1]))
    print("503, 504 and closed connections: %d" % len(notes))
    for n in notes[:30]:
        print("  " + n)
    print("problems: %d" % len(bad))
    for b in bad[:50]:
        print("  " + b)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 8 and sys.argv[1] == "send":
        sys.exit(send(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]), int(sys.argv[7])))
    else:
        sys.exit(__doc__)
