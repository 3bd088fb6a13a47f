# clinner - build, test and set-up entry points.
#
#   make            build ./build/clinner (and build/libclinner.a)
#   make test       set up dependencies, build, run every test, then again
#                   under AddressSanitizer + UBSan
#   make setup      Debian packages, llama.cpp and models (idempotent, cached
#                   in $${CLINNER_CACHE:-~/.cache/clinner})
#   make demo       set up, build, and run the main job on a built-in example
#
# llama.cpp is optional at build time: without it (LLAMA_PREFIX empty) the
# LLM backends are left out and everything else builds.

CC       ?= cc
BUILD    ?= build
OPT      ?= -O2
CFLAGS_BASE = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wmissing-prototypes -g -Iinclude -Isrc -pthread
CFLAGS  ?= $(OPT)
LDLIBS_BASE = -lcjson -lutf8proc -lcurl -lmicrohttpd -lm -pthread

LLAMA_PREFIX ?= $(shell scripts/setup-llama.sh --prefix 2>/dev/null)
ifneq ($(strip $(LLAMA_PREFIX)),)
  LLAMA_CFLAGS  = -DCL_HAVE_LLAMA=1 -I$(LLAMA_PREFIX)/include
  LLAMA_LDLIBS  = $(shell cat $(LLAMA_PREFIX)/ldflags.txt 2>/dev/null)
  LLAMA_SRCS    = $(wildcard src/llm/*.c)
endif

ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) $(LLAMA_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS     = $(LLAMA_LDLIBS) $(LDLIBS_BASE) $(EXTRA_LDLIBS)

LIB_SRCS  = $(filter-out src/cli/% src/llm/%,$(wildcard src/*/*.c)) $(LLAMA_SRCS)
CLI_SRCS  = $(wildcard src/cli/*.c)
TEST_SRCS = $(wildcard tests/test_*.c)

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  = $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
WEB_OBJ   = $(BUILD)/obj/gen/web_page.o
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# programs run by hand for docs/BENCHMARKS.md (the bench/*.sh scripts use the
# CLI); built with the tests so that they keep compiling
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all test test-unit test-asan setup demo clean fuzz bench
all: $(BUILD)/clinner

$(BUILD)/obj/%.o: %.c $(wildcard include/clinner/*.h) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

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
$(WEB_OBJ): $(BUILD)/gen/web_page.c src/cli/web_page.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libclinner.a $(LDLIBS) -lcmocka

# the CLI's option parser is tested on its own, outside the library
CLI_TESTED = $(BUILD)/obj/src/cli/cli_opts.o
$(BUILD)/tests/test_cli_opts: tests/test_cli_opts.c tests/testutil.h $(CLI_TESTED) $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CLI_TESTED) $(BUILD)/libclinner.a $(LDLIBS) -lcmocka

tests-build: $(BUILD)/clinner $(TEST_BINS) $(BENCH_BINS)

bench: $(BENCH_BINS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libclinner.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libclinner.a $(LDLIBS)

setup:
	scripts/setup.sh

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

fuzz:
	scripts/build-fuzzers.sh

clean:
	rm -rf build build-asan build-fuzz
