# The front door. The real build is Meson + Ninja under build/.
#   make          build (CLI at build/strata)
#   make demo     apply examples/migrations to an SQLite file, show status
#   make check    every test, then again under ASan+UBSan, with a throwaway
#                 PostgreSQL cluster (scripts/with-postgres.sh)
#   make install  PREFIX=/usr/local DESTDIR=
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps build check test test-asan test-tsan valgrind fuzz bench \
	demo install clean format lint

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --prefix=$(PREFIX)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dc_args=-fno-sanitize-recover=all

$(TSAN_BUILD)/build.ninja: | deps
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false

# The worker-thread API (and the service that uses it) under ThreadSanitizer.
test-tsan: $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    meson test -C $(TSAN_BUILD) --print-errorlogs --suite threads

test: build
	meson test -C $(BUILD) --print-errorlogs

test-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs

# Every test, twice, against a throwaway PostgreSQL cluster of their own.
check: lint build $(ASAN_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja
	scripts/with-postgres.sh $(MAKE) test test-asan test-tsan valgrind
	$(MAKE) fuzz

# The unit and integration suites and the command under Valgrind memcheck.
valgrind: build
	scripts/valgrind.sh $(BUILD)

# Every parser of untrusted input under libFuzzer for FUZZ_SECONDS (default
# 30) each; fails on any crash or leak.
fuzz: | deps
	FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh

lint: deps
	@scripts/lint.sh

# Strata against the raw database clients (bench/README.md); not part of
# check: the figures need a quiet machine.
bench: build
	bench/run.sh

demo: build
	@scripts/demo.sh $(BUILD)/strata

install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
