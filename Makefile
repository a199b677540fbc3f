# Makefile - build and test sandbox (see README.md).
#
#   make                  ./sandbox for this machine: static, musl, BearSSL
#   make TARGET=aarch64   build/aarch64/sandbox (x86_64 aarch64 armv7 riscv64 mipsel)
#   make deps             install every build and test dependency (Debian 12, root)
#   make demo             run a container on a busybox rootfs, with a memory limit
#   make check            every test; the last line is "N passed, M failed"
#   make size             stripped size of ./sandbox

ifeq ($(origin TARGET),command line)
DEFAULT_BIN = $(TOUT)/sandbox
else
DEFAULT_BIN = sandbox
endif
TARGET ?= x86_64
include targets/targets.mk

# No unwind tables (C, no exceptions) and no page-aligned code segment of
# its own: both cost a static binary some 16 KB on x86_64.
CFLAGS = -std=c11 -D_GNU_SOURCE -Os -Wall -Wextra -Werror \
	-ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
LDFLAGS = -static -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,--build-id=none

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

.PHONY: all size deps demo check clean units

# Unit tests include sandbox.c itself, to reach its static functions; they
# are built for each target too, and run in its VM.
UNITS = unit seccomp tar sha256
$(TOUT)/unit-%: tests/unit/%.c tests/unit/sec_testlib.h sandbox.c sandbox.h config.h $(TSTAMP)
	$(TCC) $(CFLAGS) -O1 -Wno-format-truncation -I. -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ $< \
		$(TBEARSSL_LIB) $(LDFLAGS)
units: $(UNITS:%=$(TOUT)/unit-%) $(TOUT)/sysprobe
# the inflate and zstd tests compare with zlib and libzstd: host (glibc) builds
build/unit-inflate: tests/unit/inflate.c sandbox.c sandbox.h config.h $(TSTAMP)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -I. -I$(TBEARSSL_INC) -o $@ $< $(TBEARSSL_LIB) -lz
build/unit-zstd: tests/unit/zstd.c sandbox.c sandbox.h config.h $(TSTAMP)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -I. -I$(TBEARSSL_INC) -o $@ $< $(TBEARSSL_LIB) -lzstd
$(TOUT)/sysprobe: tests/tools/sysprobe.c $(TSTAMP)
	$(TCC) -Os -static -o $@ $<
