# Makefile - build and test sandbox (see README.md).
#
#   make                  ./sandbox for this machine: static, musl, BearSSL
#   make TARGET=aarch64   build/aarch64/sandbox (x86_64 aarch64 armv7 riscv64 mipsel)
#   make deps             install every build and test dependency (Debian 12, root)
#   make demo             run a container on a busybox rootfs, with a memory limit
#   make check            every test; the last line is "N passed, M failed"
#   make fuzz             each libFuzzer harness for FUZZ_SECONDS (tests/fuzz/README.md)
#   make size             stripped size of ./sandbox
#   make targets          every target built, with and without TLS: sizes
#   make check-targets    the VM suite on every target

ifeq ($(origin TARGET),command line)
DEFAULT_BIN = $(TOUT)/sandbox
else
DEFAULT_BIN = sandbox
endif
TARGET ?= x86_64
include targets/targets.mk

# No unwind tables (C, no exceptions), no page-aligned code segment of
# its own, no position-independent code (a static binary is loaded where
# it was linked): together some 20 KB of a static binary on x86_64.
CFLAGS = -std=c11 -D_GNU_SOURCE -Os -Wall -Wextra -Werror \
	-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie
LDFLAGS = -static -no-pie -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,--build-id=none

all: $(DEFAULT_BIN)

config.h:
	cp config.def.h $@

# The toolchain script builds BearSSL from Debian's source: it needs deb-src.
build/sources.stamp: tests/deps.sh
	tests/deps.sh build
	mkdir -p build && touch $@
$(TSTAMP): build/sources.stamp

$(TOUT)/sandbox: sandbox.c sandbox.h config.h $(TSTAMP)
	$(TCC) $(CFLAGS) -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ sandbox.c \
		$(TBEARSSL_LIB) $(LDFLAGS)

# by rename: a running ./sandbox keeps its file, and no reader sees half
sandbox: $(TOUT)/sandbox
	cp $(TOUT)/sandbox $@.tmp && mv -f $@.tmp $@

size: sandbox
	@$(TSTRIP) -o build/sandbox.stripped sandbox
	@wc -c < build/sandbox.stripped | awk '{ print "sandbox (stripped, $(TARGET)): " $$1 " bytes" }'

# Builds without optional features (config.h's switches): notls, no
# HTTPS client; runtime, the OCI runtime alone (no image store, so no
# TLS); noseccomp, no filter compiler.
VARIANT_notls = -DSB_WITH_TLS=0
VARIANT_runtime = -DSB_WITH_TLS=0 -DSB_WITH_IMAGES=0
VARIANT_noseccomp = -DSB_WITH_SECCOMP=0
$(TOUT)/sandbox-%: sandbox.c sandbox.h config.h $(TSTAMP)
	$(TCC) $(CFLAGS) $(VARIANT_$*) -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ sandbox.c \
		$(TBEARSSL_LIB) $(LDFLAGS)

# Every target, with and without the optional features: a table of
# stripped sizes, and each binary's --version under qemu-user.
ALL_TARGETS = x86_64 aarch64 armv7 riscv64 mipsel
targets: build/sources.stamp
	@for t in $(ALL_TARGETS); do \
		$(MAKE) -s TARGET=$$t build/$$t/sandbox build/$$t/sandbox-notls \
			build/$$t/sandbox-runtime || exit 1; \
	done
	@targets/sizes.sh sandbox sandbox-notls sandbox-runtime
	@for t in $(ALL_TARGETS); do \
		v=$$(targets/qemu-user.sh $$t build/$$t/sandbox --version) || exit 1; \
		printf '%-8s %s\n' $$t "$$(echo "$$v" | head -n 1)"; \
	done

# The VM suite on every target (make check runs x86_64 and aarch64).
check-targets: build/deps.stamp sandbox
	TARGETS=all tests/run vm

deps: build/deps.stamp
build/deps.stamp: tests/deps.sh
	tests/deps.sh all
	mkdir -p build && touch $@

demo: build/deps.stamp sandbox
	tests/demo.sh

check: build/deps.stamp sandbox
	tests/run

clean:
	rm -rf build sandbox

.PHONY: all size deps demo check clean units targets check-targets fuzz

# Unit tests include sandbox.c itself, to reach its static functions; they
# are built for each target too, and run in its VM.
UNITS = unit seccomp tar sha256
$(TOUT)/unit-%: tests/unit/%.c tests/unit/sec_testlib.h tests/unit/tap.h sandbox.c sandbox.h config.h $(TSTAMP)
	$(TCC) $(CFLAGS) -O1 -Wno-format-truncation -I. -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ $< \
		$(TBEARSSL_LIB) $(LDFLAGS)
units: $(UNITS:%=$(TOUT)/unit-%) $(TOUT)/sysprobe
# the inflate and zstd tests compare with zlib and libzstd: host (glibc) builds
build/unit-inflate: tests/unit/inflate.c tests/unit/tap.h sandbox.c sandbox.h config.h $(TSTAMP)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -I. -I$(TBEARSSL_INC) -o $@ $< $(TBEARSSL_LIB) -lz
build/unit-zstd: tests/unit/zstd.c tests/unit/tap.h sandbox.c sandbox.h config.h $(TSTAMP)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -I. -I$(TBEARSSL_INC) -o $@ $< $(TBEARSSL_LIB) -lzstd
$(TOUT)/sysprobe: tests/tools/sysprobe.c $(TSTAMP)
	$(TCC) -Os -static -o $@ $<

# Fuzzing: the harnesses of tests/fuzz/fuzz.c, one libFuzzer binary (run as
# build/fuzz/fuzz-NAME) built by clang with ASan and UBSan; FUZZ names them,
# FUZZ_SECONDS is each one's time. build/fuzz/replay runs the files under
# tests/fuzz/NAME/ through them once, without libFuzzer (tests/run unit).
FUZZ = json config seccomp manifest auth ref head chunk url san dns pem tar inflate zstd
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all -I. -I$(TBEARSSL_INC)
FUZZ_DEPS = tests/fuzz/fuzz.c tests/unit/sec_testlib.h sandbox.c sandbox.h config.h $(TSTAMP)
build/fuzz/deps.stamp: tests/deps.sh
	tests/deps.sh fuzz
	mkdir -p build/fuzz && touch $@
build/fuzz/fuzz: $(FUZZ_DEPS) build/fuzz/deps.stamp
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(TBEARSSL_LIB) -lz -lzstd
build/fuzz/replay: $(FUZZ_DEPS)
	mkdir -p build/fuzz
	$(CC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -DFUZZ_REPLAY -o $@ $< \
		$(TBEARSSL_LIB) -lz -lzstd
fuzz: build/fuzz/fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ)
