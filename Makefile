# diffd — build, test and benchmark entry points.
#
#   make demo            deps + build, then three example backends, diffd, a replay and
#                        `diffd check`; the dashboard stays up until Ctrl-C (DEMO_EXIT=1: not)
#   make                 build build/diffd
#   make deps            install the Debian packages the build and tests need
#   make test            unit (cmocka) + fuzz-corpus replay + e2e tests
#   make SANITIZE=address,undefined test   the same under ASan/UBSan (objects in build/san)
#   make bench           proxy benchmark against nginx (see README)
#   make format-check    clang-format conformance

CC ?= cc
PREFIX ?= /usr/local
PKGS := libevent libcjson libcurl libpcre2-8 zlib
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
PYTHON ?= python3

ifeq ($(SANITIZE),)
BUILD ?= build
SANFLAGS :=
else
BUILD ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -MMD -MP \
	-I diffd -I $(LLHTTP_INC) -I $(BUILD)/gen $(PKG_CFLAGS)
# llhttp is generated code: compile it as its authors do, without our warning set.
LLHTTP_CFLAGS := -std=c11 $(CFLAGS) $(SANFLAGS) -MMD -MP -I $(LLHTTP_INC)
LDLIBS := $(PKG_LIBS) -lpthread -lm
# jemalloc (Debian libjemalloc-dev) for the plain build: the analysis path
# allocates per JSON node, and with glibc's allocator malloc/free were a quarter
# of diffd's CPU in make bench (d); jemalloc cut CPU per request from 78 to 60 us
# (see README, Performance). Sanitizer builds keep the libc allocator that ASan
# replaces; JEMALLOC=0 opts out (e.g. for valgrind's leak checking).
ifeq ($(SANITIZE),)
JEMALLOC ?= 1
endif
ifeq ($(JEMALLOC),1)
LDLIBS += $(shell pkg-config --libs jemalloc 2>/dev/null || echo -ljemalloc)
endif
LDFLAGS += $(SANFLAGS)

SRCS := $(sort $(wildcard diffd/*.c))
REPORT_SRCS := $(sort $(wildcard reports/*.c))
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out diffd/main.c,$(SRCS)) $(REPORT_SRCS)) \
	$(BUILD)/obj/gen/assets.o
WEB_FILES := $(shell find web -type f ! -name '.*' 2>/dev/null)
LLHTTP_OBJS := $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o $(BUILD)/obj/llhttp/llhttp.o
LIB := $(BUILD)/libdiffd.a

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/*_fuzzer.c))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%_replay,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60

.PHONY: all demo deps install test unit-test fuzz-replay e2e-test web-test valgrind fuzz bench bench-trials bench-diff format format-check clean

all: $(BUILD)/diffd

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The dashboard, embedded: web/* -> build/gen/assets.c (a table of byte arrays).
$(BUILD)/gen/assets.c: tools/embed_assets.py $(WEB_FILES)
	@mkdir -p $(dir $@)
	$(PYTHON) tools/embed_assets.py web $@

$(BUILD)/obj/gen/assets.o: $(BUILD)/gen/assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LLHTTP_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/diffd: $(BUILD)/obj/diffd/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

install: $(BUILD)/diffd
	install -D -m 0755 $(BUILD)/diffd $(DESTDIR)$(PREFIX)/bin/diffd

# Debian packages for build, tests and benchmarks. Installs only what is missing;
# runs `apt-get update` first when the package lists are empty, and again when an
# install fails (stale lists on an old image).
DEB_PKGS := build-essential pkg-config libevent-dev node-llhttp libcjson-dev \
	libcurl4-openssl-dev libpcre2-dev zlib1g-dev libcmocka-dev libjemalloc-dev clang \
	libclang-rt-14-dev clang-format nginx wrk python3 python3-yaml curl openssl valgrind prometheus \
	libnghttp2-dev nghttp2-client libpcap-dev tcpdump python3-scapy python3-grpcio \
	python3-grpc-tools protobuf-compiler libprotobuf-dev gunicorn python3-httpbin \
	python3-matplotlib linux-perf
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages installed"; else \
	echo "deps: installing $$missing"; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	export DEBIAN_FRONTEND=noninteractive; \
	if [ -z "$$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ]; then \
		$$SUDO apt-get update -q; fi; \
	$$SUDO apt-get install -y -q --no-install-recommends $$missing || \
	{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends $$missing; }; fi
	@sh tests/web/run.sh --install

# The README's first command: installs what is missing, builds, then runs
# examples/demo/demo.py (its docstring lists the DEMO_* knobs). `all` is made after
# `deps` has finished, also under -j, as it needs the packages.
demo: deps
	@$(MAKE) --no-print-directory all
	DIFFD_BIN=$(abspath $(BUILD)/diffd) $(PYTHON) examples/demo/demo.py

# ---- tests -----------------------------------------------------------------

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(LIB) \
		$(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

# Fuzz targets built by gcc as replay programs: main() feeds each corpus file.
$(BUILD)/tests/fuzz/%_replay: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIB) $(LDFLAGS) $(LDLIBS)

# libFuzzer builds (clang), always with ASan/UBSan.
build/fuzz/%: tests/fuzz/%.c $(SRCS) $(REPORT_SRCS) $(BUILD)/gen/assets.c
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -I diffd \
		-I $(LLHTTP_INC) $(PKG_CFLAGS) -o $@ $< $(filter-out diffd/main.c,$(SRCS)) \
		$(REPORT_SRCS) $(BUILD)/gen/assets.c $(LLHTTP_SRC)/api.c $(LLHTTP_SRC)/http.c \
		$(LLHTTP_SRC)/llhttp.c $(LDLIBS)

unit-test: $(UNIT_BINS)
	@sh tests/run_unit.sh $(UNIT_BINS)

fuzz-replay: $(FUZZ_REPLAY)
	@sh tests/run_fuzz_replay.sh $(FUZZ_REPLAY)

e2e-test: $(BUILD)/diffd
	DIFFD_BIN=$(abspath $(BUILD)/diffd) $(PYTHON) tests/e2e/run.py

# Dashboard in headless Chromium (playwright-core from npm, Debian's chromium).
web-test: $(BUILD)/diffd
	DIFFD_BIN=$(abspath $(BUILD)/diffd) sh tests/web/run.sh

# The e2e suite with diffd under valgrind's memcheck: a JEMALLOC=0 build in
# build/vg, so memcheck sees every allocation; any error or leak fails a test.
valgrind:
	@$(MAKE) --no-print-directory JEMALLOC=0 BUILD=build/vg build/vg/diffd
	VALGRIND_DIFFD=$(abspath build/vg/diffd) DIFFD_BIN=$(abspath tests/valgrind_diffd.sh) \
		E2E_START_S=30 $(PYTHON) tests/e2e/run.py

# The README's test command: installs what is missing first (like make demo),
# then everything in order (also under -j).
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit-test fuzz-replay
	@$(MAKE) --no-print-directory e2e-test
	@$(MAKE) --no-print-directory web-test

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
		name=$$(basename $$f); mkdir -p build/fuzz/corpus/$$name; \
		echo "== $$name ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/$$name tests/fuzz/corpus/$${name%_fuzzer}; \
	done

bench: $(BUILD)/diffd
	DIFFD_BIN=$(abspath $(BUILD)/diffd) sh tests/bench/proxy_bench.sh

# C benchmarks linked against the library (tests/bench/*.c).
$(BUILD)/tests/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# Analysis path memory/CPU: 1,000,000 trials over 100,000 paths through trial_done.
bench-trials: $(BUILD)/tests/bench/trial_bench
	$(BUILD)/tests/bench/trial_bench $(BENCH_TRIALS)

# Diff engine: normalize x3 + diff x2 on 1/10/100 KB JSON with 10 rules, against
# cJSON parsing alone (README "Diff engine benchmark"); DIFF_BENCH_SECONDS [1] per size.
bench-diff: $(BUILD)/tests/bench/diff_bench
	$(BUILD)/tests/bench/diff_bench

format:
	clang-format -i $(SRCS) $(wildcard diffd/*.h) $(REPORT_SRCS) $(UNIT_SRCS) $(FUZZ_SRCS)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(wildcard diffd/*.h) $(REPORT_SRCS) \
		$(UNIT_SRCS) $(FUZZ_SRCS) && echo "format-check: ok"

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
