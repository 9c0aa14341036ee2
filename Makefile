# scrim - build, test, run.  `make` builds bin/scrim, bin/scrimd and
# lib/libscrim.a; `make test` runs every test; `make run` sets everything up.

# A quiet build: one line per step (`CC src/hash/pdq.c`); `make V=1` prints
# the whole commands.  Warnings and errors are shown in full either way.
ifeq ($(V),1)
Q        :=
say      :=
else
Q        := @
say       = @printf '  %-5s %s\n' $(1) $(2);
endif

PKGS     := vips libavformat libavcodec libswscale libavutil lmdb libevent \
            libevent_pthreads jansson libcrypto libjpeg libcurl libpq
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN     += -Werror
endif
# No fused multiply-add: PDQ must round exactly like the reference.
XCFLAGS  := -std=gnu11 -D_GNU_SOURCE -ffp-contract=off -pthread -Iinclude -Isrc $(WARN)
ifeq ($(SANITIZE),1)
XCFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
BUILD    := build/san
else
BUILD    := build/rel
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# FFmpeg, libvips and libpq are not linked: src/base/lazy.c opens them on
# first use (the tests, which call libvips themselves, link it); libcurl
# neither: src/server/webhook.c opens it when scrimd has a --webhook-url.
LAZY_PKGS  := libavformat libavcodec libswscale libavutil vips libcurl libpq
PKG_LIBS   = $(shell pkg-config --libs glib-2.0 gobject-2.0 \
               $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null) -ldl
TEST_LIBS  = $(shell pkg-config --libs vips 2>/dev/null)
LDLIBS     = $(PKG_LIBS) -lm -pthread $(LDSAN)

LIB_SRC  := $(wildcard src/*/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/src/%.o)
LIB      := $(BUILD)/libscrim.a
# Each folder under tools/ is one program: tools/scrim/*.c -> bin/scrim.
TOOL_DIRS := $(patsubst tools/%/,%,$(sort $(dir $(wildcard tools/*/*.c))))
# bin/ and lib/ hold the release build; a sanitizer build stays in
# build/san (its tests run from there), so bin/ is never left instrumented.
ifeq ($(SANITIZE),1)
TOOLS    := $(TOOL_DIRS:%=$(BUILD)/bin/%)
PUBLIC_LIB := $(LIB)
else
TOOLS    := $(TOOL_DIRS:%=bin/%)
PUBLIC_LIB := lib/libscrim.a
endif
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps run test check-deps clean bench
all: $(TOOLS) $(PUBLIC_LIB)

$(BUILD)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

# The PDQ filters and the luma of sampled pixels need -O3 to be vectorised
# (same results: no fast-math).
$(BUILD)/src/hash/pdq.o $(BUILD)/src/decode/luma.o $(BUILD)/src/hash/regions.o: OPT := -O3

-include $(shell find build -name '*.d' 2>/dev/null)

# The review page is embedded with .incbin (src/review/page.c).
$(BUILD)/src/review/page.o: src/review/page.html
# So is the OpenAPI document (src/server/openapi.c).
$(BUILD)/src/server/openapi.o: doc/openapi.json

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

# Copied whenever they differ (not by date: an older tree may have left
# another build's copy there, newer than this one).
lib/libscrim.a: $(LIB) FORCE
	@mkdir -p lib
	@cmp -s $< $@ || cp $< $@
.PHONY: FORCE
FORCE:

# Tools (and tests) are built per build flavour; the release ones are copied
# to bin/.
define tool_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/$(1)/*.c)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(CFLAGS) $$(XCFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB) $$(LDLIBS)
bin/$(1): $(BUILD)/bin/$(1) FORCE
	@mkdir -p bin
	@cmp -s $$< $$@ || cp $$< $$@
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_rule,$(t))))

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $(PKG_CFLAGS) -Itests -Wno-format-truncation -o $@ $< $(LIB) $(LDLIBS) $(TEST_LIBS) -lcmocka -lz

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench: $(BENCHES) $(TOOLS)

# The random PDQ data shared by the store tests and the index benchmark.
$(BUILD)/tests/test_store $(BUILD)/bench/index_bench: tests/pdq_random.h

# Dependencies, from Debian's packages; installs only what is missing.
DEB_PKGS := build-essential pkg-config libvips-dev libavformat-dev libavcodec-dev \
            libswscale-dev libavutil-dev liblmdb-dev libevent-dev libjansson-dev \
            libssl-dev libjpeg-dev libcurl4-openssl-dev libcmocka-dev zlib1g-dev libvips-tools ffmpeg curl perl python3 \
            python3-jsonschema \
            chromium groff-base man-db haproxy libpq-dev postgresql zzuf
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run 'make deps' (as root)"; \
	  pkg-config --print-errors --exists $(PKGS); exit 1; }

ASAN_OPTIONS := detect_leaks=1:abort_on_error=0
LSAN_OPTIONS := suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

# The whole suite: C unit tests (cmocka, TAP output) and black-box tests of
# the CLI and daemon (shell, TAP), all run by prove.
test: deps
	$(MAKE) all $(TESTS)
	SCRIM_BUILD=$(BUILD) SCRIM_BIN=$(CURDIR)/$(BUILD)/bin ASAN_OPTIONS=$(ASAN_OPTIONS) LSAN_OPTIONS=$(LSAN_OPTIONS) \
	  UBSAN_OPTIONS=print_stacktrace=1 prove -f --exec tests/run $(TESTS) $(sort $(wildcard tests/*.t))

DEMO_DB ?= var/demo.db
# The demo: a small database, an admin token in var/admin.token, the daemon in
# the foreground on ./var/scrimd.sock and 127.0.0.1:8750.
run: deps all
	@mkdir -p var
	./tools/make-demo-db.sh $(DEMO_DB)
	@[ -s var/admin.token ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > var/admin.token)
	@echo
	@echo "try:  curl -s --data-binary @tests/fixtures/blobs.jpg http://127.0.0.1:8750/v1/match"
	@echo "      curl -s -H \"Authorization: Bearer \$$(cat var/admin.token)\" http://127.0.0.1:8750/v1/lists"
	@echo "      review page: http://127.0.0.1:8750/review (token in var/admin.token)"
	@echo
	./bin/scrimd --db $(DEMO_DB) --admin-token-file var/admin.token

# `make fuzz` (by hand, needs clang): the libFuzzer harnesses tests/fuzz/*.c
# -> build/fuzz/<name>, against the library built with the same sanitizers.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
FUZZ_OBJ   := $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)
FUZZ       := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/*.c))
.PHONY: fuzz
.SECONDARY: $(FUZZ_OBJ)
fuzz: $(FUZZ)

build/fuzz/obj/%.o: src/%.c | check-deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang (FUZZ_CC=$(FUZZ_CC))"; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(XCFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
build/fuzz/obj/review/page.o: src/review/page.html
build/fuzz/obj/server/openapi.o: doc/openapi.json

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(XCFLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) -lm -pthread

clean:
	rm -rf build bin lib

# ============================================================================
# Install, shared library, Debian package (issue 23).  Kept apart from the
# build above; it reuses LIB_SRC, XCFLAGS, PKG_CFLAGS, PKG_LIBS, PKGS and
# LAZY_PKGS from it.
#
#   make install [PREFIX=/usr/local] [DESTDIR=...]   make uninstall (same args)
#   make shared   build/pic/libscrim.so.$(SO_VERSION) only
#   make deb      build/deb/scrim_VERSION-1_ARCH.deb (dpkg-deb, no debhelper)
#
# The daemon goes to sbin (a system service, scrimd(8)); the unit's ExecStart
# and config path are rewritten to where they are installed.  The config goes
# to $(SYSCONFDIR)/scrim (/etc/scrim whatever PREFIX) and is never
# overwritten; uninstall removes it only when it is still the example.
# ============================================================================
VERSION      := $(shell sed -n 's/^\#define SCRIM_VERSION "\(.*\)"/\1/p' include/scrim.h)
# The SONAME is libscrim.so.$(SO_MAJOR): bump SO_MAJOR when the ABI breaks.
SO_MAJOR     := 0
SO_VERSION   := $(SO_MAJOR).$(word 2,$(subst ., ,$(VERSION))).$(word 3,$(subst ., ,$(VERSION)))
PREFIX       ?= /usr/local
EXEC_PREFIX  ?= $(PREFIX)
BINDIR       ?= $(EXEC_PREFIX)/bin
SBINDIR      ?= $(EXEC_PREFIX)/sbin
LIBDIR       ?= $(EXEC_PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR       ?= $(PREFIX)/share/man
SYSCONFDIR   ?= /etc
UNITDIR      ?= $(PREFIX)/lib/systemd/system
INSTALL      ?= install

# The shared library: every src/ object again, position-independent, in
# build/pic (never sanitized: it is what gets installed).  Only the scrim_
# API is exported (pkg/libscrim.map).  FFmpeg and libvips stay out of its
# DT_NEEDED, as out of the programs: src/base/lazy.c dlopens them.
PIC          := build/pic
PIC_OBJ      := $(LIB_SRC:src/%.c=$(PIC)/src/%.o)
SHLIB        := $(PIC)/libscrim.so.$(SO_VERSION)
PIC_XCFLAGS   = $(filter-out -fsanitize% -fno-sanitize%,$(XCFLAGS)) -fPIC
# What a program linking libscrim needs: jansson publicly (scrim.h includes
# jansson.h); for a static link, what PKG_LIBS links besides.
PC_REQUIRES  := jansson
PC_PRIVATE   := $(filter-out $(PC_REQUIRES),glib-2.0 gobject-2.0 $(filter-out $(LAZY_PKGS),$(PKGS)))
PC_LIBS_PRIV := -ldl -lm -pthread
PC_FILE      := $(PIC)/scrim.pc
UNIT_FILE    := $(PIC)/scrimd.service
MAN_PAGES    := doc/man/scrim.1 doc/man/scrimd.8 doc/man/scrimd.conf.5
HEADERS      := $(wildcard include/scrim/*.h)
# The Debian package: files under /usr (the library in the multiarch
# directory), maintainer scripts and Depends by pkg/deb/build.sh.
DEB_REVISION   ?= 1
DEB_MAINTAINER ?= $(shell git log -1 --format='%an <%ae>' 2>/dev/null)
DEB_ARCH        = $(shell dpkg --print-architecture 2>/dev/null)
DEB_MULTIARCH   = $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch)
DEB             = build/deb/scrim_$(VERSION)-$(DEB_REVISION)_$(DEB_ARCH).deb

.PHONY: shared install uninstall deb
ifeq ($(SANITIZE),1)
shared install uninstall deb:
	@echo "make $@ is for the release build: run it without SANITIZE=1"; exit 2
else
shared: $(SHLIB)

$(PIC)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(PIC_XCFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
# As in build/rel: -O3 for the vectorised filters, the embedded page.
$(PIC)/src/hash/pdq.o $(PIC)/src/decode/luma.o: OPT := -O3
$(PIC)/src/review/page.o: src/review/page.html
$(PIC)/src/server/openapi.o: doc/openapi.json

$(SHLIB): $(PIC_OBJ) pkg/libscrim.map
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,libscrim.so.$(SO_MAJOR) \
	  -Wl,--version-script=pkg/libscrim.map -Wl,-z,defs -Wl,--as-needed \
	  -o $@ $(PIC_OBJ) $(PKG_LIBS) -lm -pthread

# Rewritten on every run (cheap): it depends on PREFIX and LIBDIR.
$(PC_FILE): pkg/scrim.pc.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' \
	  -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	  -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	  -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES@|$(PC_REQUIRES)|' \
	  -e 's|@REQUIRES_PRIVATE@|$(PC_PRIVATE)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIV)|' \
	  $< > $@.tmp && mv $@.tmp $@

# The unit with the paths it is installed with.
$(UNIT_FILE): tools/scrimd/scrimd.service FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|/usr/local/sbin/scrimd|$(SBINDIR)/scrimd|' \
	  -e 's|/etc/scrim/|$(SYSCONFDIR)/scrim/|' $< > $@.tmp && mv $@.tmp $@

install: bin/scrim bin/scrimd lib/libscrim.a $(SHLIB) $(PC_FILE) $(UNIT_FILE) $(MAN_PAGES)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/scrim $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/scrim
	$(INSTALL) -m 0755 bin/scrim $(DESTDIR)$(BINDIR)/scrim
	$(INSTALL) -m 0755 bin/scrimd $(DESTDIR)$(SBINDIR)/scrimd
	$(INSTALL) -m 0644 lib/libscrim.a $(DESTDIR)$(LIBDIR)/libscrim.a
	$(INSTALL) -m 0644 $(SHLIB) $(DESTDIR)$(LIBDIR)/libscrim.so.$(SO_VERSION)
	ln -sf libscrim.so.$(SO_VERSION) $(DESTDIR)$(LIBDIR)/libscrim.so.$(SO_MAJOR)
	ln -sf libscrim.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libscrim.so
	$(INSTALL) -m 0644 $(PC_FILE) $(DESTDIR)$(PKGCONFIGDIR)/scrim.pc
	$(INSTALL) -m 0644 include/scrim.h $(DESTDIR)$(INCLUDEDIR)/scrim.h
	$(INSTALL) -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/scrim/
	$(INSTALL) -m 0644 doc/man/scrim.1 $(DESTDIR)$(MANDIR)/man1/scrim.1
	$(INSTALL) -m 0644 doc/man/scrimd.conf.5 $(DESTDIR)$(MANDIR)/man5/scrimd.conf.5
	$(INSTALL) -m 0644 doc/man/scrimd.8 $(DESTDIR)$(MANDIR)/man8/scrimd.8
	$(INSTALL) -m 0644 $(UNIT_FILE) $(DESTDIR)$(UNITDIR)/scrimd.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/scrim/scrimd.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/scrim/scrimd.conf (the example: tools/scrimd/scrimd.conf)"; \
	else \
	  echo "$(INSTALL) -m 0644 tools/scrimd/scrimd.conf $(DESTDIR)$(SYSCONFDIR)/scrim/scrimd.conf"; \
	  $(INSTALL) -m 0644 tools/scrimd/scrimd.conf $(DESTDIR)$(SYSCONFDIR)/scrim/scrimd.conf; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  echo ldconfig; ldconfig || true; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/scrim $(DESTDIR)$(SBINDIR)/scrimd \
	  $(DESTDIR)$(LIBDIR)/libscrim.a $(DESTDIR)$(LIBDIR)/libscrim.so.$(SO_VERSION) \
	  $(DESTDIR)$(LIBDIR)/libscrim.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libscrim.so \
	  $(DESTDIR)$(PKGCONFIGDIR)/scrim.pc $(DESTDIR)$(INCLUDEDIR)/scrim.h \
	  $(HEADERS:include/%=$(DESTDIR)$(INCLUDEDIR)/%) \
	  $(DESTDIR)$(MANDIR)/man1/scrim.1 $(DESTDIR)$(MANDIR)/man5/scrimd.conf.5 \
	  $(DESTDIR)$(MANDIR)/man8/scrimd.8 $(DESTDIR)$(UNITDIR)/scrimd.service
	@conf=$(DESTDIR)$(SYSCONFDIR)/scrim/scrimd.conf; \
	if [ -e $$conf ] && ! cmp -s $$conf tools/scrimd/scrimd.conf; then \
	  echo "kept $$conf: it is not the example any more"; \
	else \
	  echo "rm -f $$conf"; rm -f $$conf; \
	fi
	@for d in $(DESTDIR)$(INCLUDEDIR)/scrim $(DESTDIR)$(SYSCONFDIR)/scrim; do \
	  [ ! -d $$d ] || rmdir $$d 2>/dev/null || echo "kept $$d: not empty"; \
	done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  echo ldconfig; ldconfig || true; \
	fi

deb:
	@command -v dpkg-deb >/dev/null || { echo "make deb needs dpkg-deb (Debian's dpkg)"; exit 1; }
	@rm -rf build/deb/stage
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/build/deb/stage PREFIX=/usr \
	  LIBDIR=/usr/lib/$(DEB_MULTIARCH) UNITDIR=/usr/lib/systemd/system SYSCONFDIR=/etc >/dev/null
	@rm -f build/deb/*.deb
	pkg/deb/build.sh build/deb/stage $(DEB) $(VERSION) $(DEB_REVISION) "$(DEB_MAINTAINER)" $(LAZY_PKGS)
endif
