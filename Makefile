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
            libevent_pthreads jansson libcrypto libjpeg
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
# FFmpeg and libvips are not linked: src/base/lazy.c opens them on first use
# (the tests, which call libvips themselves, link it).
LAZY_PKGS  := libavformat libavcodec libswscale libavutil vips
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
            libssl-dev libjpeg-dev libcmocka-dev zlib1g-dev libvips-tools ffmpeg curl perl python3 \
            chromium
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

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(XCFLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) -lm -pthread

clean:
	rm -rf build bin lib
