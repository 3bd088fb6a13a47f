# clinner - build, test, install and set-up entry points.
#
#   make            build ./build/clinner (and build/libclinner.a)
#   make test       set up dependencies, build, run every test, then again
#                   under AddressSanitizer + UBSan
#   make setup      Debian packages, llama.cpp and models (idempotent, cached
#                   in $${CLINNER_CACHE:-~/.cache/clinner})
#   make demo       set up, build, and run the main job on a built-in example
#   make models     rebuild the shipped model files under models/ (needs the corpus)
#   make install    PREFIX=/usr/local [DESTDIR=]: the binary, libclinner.a and
#                   libclinner.so, headers, clinner.pc, the man page, the models
#   make uninstall  remove exactly what install wrote (its manifest)
#   make shared     only build/libclinner.so.MAJOR.MINOR
#   make config     show what this build uses (llama.cpp, flags)
#
# llama.cpp is optional at build time: without it (LLAMA_PREFIX= on the
# command line, or no build in the cache) the LLM backends are left out and
# everything else builds.
#
# The configuration cannot go stale: every make runs scripts/configure.sh,
# which writes $(BUILD)/config.mk (the llama.cpp build found in the cache, its
# link flags, CPU or CUDA) only when that changed; make includes it and
# re-reads itself when it did.  For `setup`, `demo` and `test` the set-up runs
# first, in that same step, so the first build of a fresh clone already has
# llama.cpp.  Every object depends on $(BUILD)/flags.stamp (compiler, flags,
# llama.cpp, version), rewritten only when one of them changes, and on the
# headers it includes (-MMD -MP).

CC       ?= cc
BUILD    ?= build
OPT      ?= -O2
PREFIX   ?= /usr/local
DESTDIR  ?=
SETUP    ?= scripts/setup.sh
VERSION  := $(shell cat VERSION)
SOMAJOR  := $(word 1,$(subst ., ,$(VERSION)))
SOMINOR  := $(word 2,$(subst ., ,$(VERSION)))
SONAME    = libclinner.so.$(SOMAJOR)
SOFILE    = libclinner.so.$(SOMAJOR).$(SOMINOR)
DATADIR   = $(PREFIX)/share/clinner

CFLAGS_BASE = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wmissing-prototypes -g -Iinclude -Isrc -pthread
CFLAGS  ?= $(OPT)
LDLIBS_BASE = -lcjson -lutf8proc -lcurl -lmicrohttpd -lm -pthread
DEPFLAGS = -MMD -MP

.PHONY: all test test-unit test-asan setup demo clean fuzz bench models install uninstall \
        shared config tests-build FORCE
all: $(BUILD)/clinner

# ------------------------------------------------------------ configuration
# Goals that need no configuration (and must not run the set-up).
NOCONFIG_GOALS = clean uninstall
DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
ifneq ($(and $(filter setup demo test,$(MAKECMDGOALS)),$(if $(DRY_RUN),,y)),)
  SETUP_IN_CONFIG = y
endif
ifeq ($(origin LLAMA_PREFIX),undefined)
  CONFIGURE_ARGS =
else
  CONFIGURE_ARGS = --llama-prefix '$(LLAMA_PREFIX)'
endif

ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NOCONFIG_GOALS),$(MAKECMDGOALS)),all),)
include $(BUILD)/config.mk
endif

# Remade on every run; when the set-up is among the goals it runs here, before
# the configuration is read (once: not again when make restarts to re-read).
$(BUILD)/config.mk: FORCE
ifdef SETUP_IN_CONFIG
ifndef MAKE_RESTARTS
	$(SETUP)
endif
endif
	@scripts/configure.sh $@ $(CONFIGURE_ARGS)

ifneq ($(strip $(CFG_LLAMA_PREFIX)),)
  LLAMA_CFLAGS  = -DCL_HAVE_LLAMA=1 -I$(CFG_LLAMA_PREFIX)/include
  LLAMA_LDLIBS  = $(CFG_LLAMA_LDFLAGS)
  LLAMA_SRCS    = $(wildcard src/llm/*.c) $(wildcard src/encoder/*.c) $(wildcard src/ensemble/*.c)
endif
BUILD_INFO = $(or $(CFG_LLAMA_INFO),without llama.cpp)
# The shared library has llama.cpp inside only when its static libraries are
# position-independent (scripts/setup-llama.sh builds them so; an older build
# is replaced by `scripts/setup-llama.sh --force`); else libclinner.so is
# built without the LLM backends (the static library and the binary have them).
ifeq ($(CFG_LLAMA_PIC),yes)
  SO_LLAMA_CFLAGS = $(LLAMA_CFLAGS)
  SO_LLAMA_LDLIBS = $(LLAMA_LDLIBS)
  SO_INFO = $(BUILD_INFO)
endif
SO_INFO ?= without llama.cpp$(if $(LLAMA_CFLAGS), (its libraries are not position-independent))

ALL_CFLAGS = $(CFLAGS_BASE) '-DCLINNER_VERSION="$(VERSION)"' $(CFLAGS) $(LLAMA_CFLAGS) $(EXTRA_CFLAGS)
PIC_CFLAGS = $(CFLAGS_BASE) '-DCLINNER_VERSION="$(VERSION)"' $(CFLAGS) $(SO_LLAMA_CFLAGS) $(EXTRA_CFLAGS) -fPIC
LDLIBS     = $(LLAMA_LDLIBS) $(LDLIBS_BASE) $(EXTRA_LDLIBS)
SO_LDLIBS  = $(SO_LLAMA_LDLIBS) $(LDLIBS_BASE) $(EXTRA_LDLIBS)

# Rewritten only when its text changes: everything compiled depends on it.
STAMP_TEXT = CC=$(CC) | $(ALL_CFLAGS) | $(LDLIBS) | $(BUILD_INFO) | $(PIC_CFLAGS) | $(SO_LDLIBS)
$(BUILD)/flags.stamp: FORCE
	$(shell mkdir -p $(@D))$(file >$@.new,$(STAMP_TEXT))
	@cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@
# The install data folder is compiled only into the sources that use it.
$(BUILD)/datadir.stamp: FORCE
	$(shell mkdir -p $(@D))$(file >$@.new,$(DATADIR))
	@cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@

config:
	@echo "clinner $(VERSION), build folder $(BUILD): $(BUILD_INFO)"
	@echo "llama.cpp prefix: $(or $(CFG_LLAMA_PREFIX),(none))"
	@echo "compile: $(CC) $(ALL_CFLAGS)"
	@echo "link:    $(LDLIBS)"
	@echo "libclinner.so: $(SO_INFO)"
	@echo "install: PREFIX=$(PREFIX) (models from $(DATADIR))"

# ------------------------------------------------------------ sources
LIB_SRCS  = $(filter-out src/cli/% src/llm/% src/encoder/% src/ensemble/%,$(wildcard src/*/*.c)) $(LLAMA_SRCS)
CLI_SRCS  = $(wildcard src/cli/*.c)
TEST_SRCS = $(wildcard tests/test_*.c)
PUBLIC_HEADERS = $(wildcard include/clinner/*.h)

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SO_SRCS   = $(if $(SO_LLAMA_CFLAGS),$(LIB_SRCS),$(filter-out $(LLAMA_SRCS),$(LIB_SRCS)))
PIC_OBJS  = $(SO_SRCS:%.c=$(BUILD)/pic/%.o)
CLI_OBJS  = $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
WEB_OBJ   = $(BUILD)/obj/gen/web_page.o $(BUILD)/obj/gen/help_pages.o
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# programs run by hand for docs/BENCHMARKS.md (the bench/*.sh scripts use the
# CLI); built with the tests so that they keep compiling
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

DATADIR_SRCS := $(shell grep -l CL_DATADIR $(LIB_SRCS) $(CLI_SRCS) 2>/dev/null)
DATADIR_OBJS  = $(DATADIR_SRCS:%.c=$(BUILD)/obj/%.o) $(DATADIR_SRCS:%.c=$(BUILD)/pic/%.o)
$(DATADIR_OBJS): FILE_CFLAGS = '-DCL_DATADIR="$(DATADIR)"'
$(DATADIR_OBJS): $(BUILD)/datadir.stamp
$(BUILD)/obj/src/cli/main.o: FILE_CFLAGS = '-DCL_BUILD_INFO="$(BUILD_INFO)"'

# ------------------------------------------------------------ build
$(BUILD)/obj/%.o: %.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FILE_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: %.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(PIC_CFLAGS) $(FILE_CFLAGS) $(DEPFLAGS) -c $< -o $@

-include $(wildcard $(BUILD)/obj/src/*/*.d $(BUILD)/pic/src/*/*.d $(BUILD)/tests/.*.d $(BUILD)/bench/.*.d)

$(BUILD)/libclinner.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/clinner: $(CLI_OBJS) $(WEB_OBJ) $(BUILD)/libclinner.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(WEB_OBJ) $(BUILD)/libclinner.a $(LDLIBS)

# the web page of `clinner serve`, compiled in as a byte array (od: coreutils)
$(BUILD)/gen/web_page.c: web/index.html
	@mkdir -p $(dir $@)
	{ echo '/* generated from web/index.html by the Makefile; do not edit */'; \
	  echo '#include "cli/web_page.h"'; echo 'const unsigned char cl_web_page[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '0x00};'; \
	  echo 'const size_t cl_web_page_len = sizeof cl_web_page - 1;'; } > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/web_page.o: $(BUILD)/gen/web_page.c src/cli/web_page.h $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# `clinner COMMAND --help`: the pages of docs/cli/, compiled in (src/cli/help.h)
$(BUILD)/gen/help_pages.c: $(wildcard docs/cli/*.txt) scripts/gen-help.sh
	@mkdir -p $(dir $@)
	sh scripts/gen-help.sh $@ $(sort $(wildcard docs/cli/*.txt))
$(BUILD)/obj/gen/help_pages.o: $(BUILD)/gen/help_pages.c src/cli/help.h $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The shared library exports only what include/clinner/*.h declares (cl_*
# functions and data); everything else, llama.cpp included, stays local.
$(BUILD)/libclinner.map: $(PUBLIC_HEADERS) $(BUILD)/flags.stamp
	{ echo 'CLINNER_$(SOMAJOR) {'; echo '  global:'; \
	  cat $(PUBLIC_HEADERS) | grep -oE '\bcl_[a-z0-9_]+ *[[(]' | sed 's/ *[[(]$$//' | sort -u | \
	    sed 's/.*/    &;/'; \
	  echo '  local: *;'; echo '};'; } >$@.tmp && mv -f $@.tmp $@

$(BUILD)/$(SOFILE): $(PIC_OBJS) $(BUILD)/libclinner.map
	$(CC) $(PIC_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/libclinner.map \
	  -Wl,-z,defs -o $@ $(PIC_OBJS) $(SO_LDLIBS)
	ln -sf $(SOFILE) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libclinner.so

shared: $(BUILD)/$(SOFILE)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $(@D)/.$(@F).d -o $@ $< $(BUILD)/libclinner.a $(LDLIBS) -lcmocka

# the CLI's option parser is tested on its own, outside the library
CLI_TESTED = $(BUILD)/obj/src/cli/cli_opts.o $(BUILD)/obj/src/cli/help.o $(BUILD)/obj/gen/help_pages.o
$(BUILD)/tests/test_cli_opts: tests/test_cli_opts.c tests/testutil.h $(CLI_TESTED) $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $(@D)/.$(@F).d -o $@ $< $(CLI_TESTED) $(BUILD)/libclinner.a $(LDLIBS) -lcmocka

tests-build: $(BUILD)/clinner $(TEST_BINS) $(BENCH_BINS)

bench: $(BENCH_BINS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $(@D)/.$(@F).d -o $@ $< $(BUILD)/libclinner.a $(LDLIBS)

# ------------------------------------------------------------ set-up, tests, demo
# The set-up itself runs while the configuration is made (above), so that
# what it builds is in this make's configuration; under make -n it is shown.
setup:
ifndef SETUP_IN_CONFIG
	$(SETUP)
else
	@:
endif

# The test command of README.md: set-up, normal build + tests, then the
# sanitizer build + tests.
test: setup
	$(MAKE) test-unit
	$(MAKE) test-asan

test-unit: tests-build
	tests/run.sh $(BUILD)

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" tests-build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  CLINNER_SANITIZER=1 tests/run.sh build-asan

demo: setup all
	scripts/demo.sh

# The shipped model files (models/, from the corpus in ../shared/data).
models: all
	BUILD=$(BUILD) CLINNER_BIN=$(abspath $(BUILD)/clinner) scripts/make-models.sh

fuzz:
	scripts/build-fuzzers.sh

# ------------------------------------------------------------ install
$(BUILD)/clinner.pc: scripts/clinner.pc.in $(BUILD)/flags.stamp $(BUILD)/datadir.stamp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LLAMA_LDFLAGS@|$(LLAMA_LDLIBS)|' -e 's|@BUILD_INFO@|$(BUILD_INFO)|' \
	    -e 's|@SO_INFO@|$(SO_INFO)|' $< >$@.tmp
	mv -f $@.tmp $@

INSTALL_ENV = BUILD='$(BUILD)' PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' SOFILE='$(SOFILE)' SONAME='$(SONAME)'

install: all shared $(BUILD)/clinner.pc
	$(INSTALL_ENV) scripts/install.sh install

uninstall:
	$(INSTALL_ENV) scripts/install.sh uninstall

clean:
	rm -rf build build-asan build-fuzz

FORCE:
