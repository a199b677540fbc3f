# targets/targets.mk: the compiler and libraries for one cross target, for the Makefile.
#
# The Makefile, run from the project top, is expected to do:
#
#   TARGET ?= x86_64                  # x86_64 | aarch64 | armv7 | riscv64 | mipsel
#   include targets/targets.mk        # anywhere: this file leaves the default goal alone
#   CFLAGS = -std=c11 -D_GNU_SOURCE -Os -static -Wall -Wextra -Werror \
#            -ffunction-sections -fdata-sections -Wl,--gc-sections
#   $(TOUT)/sandbox: sandbox.c sandbox.h $(TSTAMP)
#   	$(TCC) $(CFLAGS) -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ sandbox.c $(TBEARSSL_LIB)
#   check-targets:                    # every target in QEMU (targets/README.md)
#   	MAKE="$(MAKE)" targets/check-all.sh -b sandbox -s tests/vm
#
# check-all.sh builds a target's binary with "$(MAKE) TARGET=t build/t/NAME", so the
# rule above must exist for every TARGET. Defined here:
#   TOUT          build/$(TARGET), where the target's outputs go (created by the stamp rule)
#   TCC           the compiler command: cross gcc + musl specs (+ -msoft-float on mipsel)
#   TSTRIP        the target's strip
#   TKH           kernel header dir for -isystem (linux/, asm/, asm-generic/ symlinks):
#                 the musl specs use -nostdinc, so <linux/...> needs it
#   TBEARSSL_INC  BearSSL headers;  TBEARSSL_LIB  libbearssl.a built with TCC
#   TSTAMP        build/$(TARGET)/toolchain.stamp; its rule runs targets/toolchain.sh,
#                 which installs and builds all of the above (quick when done)
#   TQEMU_USER    runs a target binary on the host: "$(TQEMU_USER) $(TOUT)/sandbox --version"
#                 (empty on x86_64; targets/qemu-user.sh TARGET CMD... does the same)
#   TOP           the project top (absolute), used by the .conf files
# plus every key of targets/$(TARGET).conf (DEB_ARCH, CROSS_CC, QEMU_SYSTEM, ...), and
# the rule $(TOUT)/probe for the stand-in program targets/probe.c.

TDIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TOP := $(abspath $(TDIR)/..)
TARGET ?= x86_64
ifeq ($(wildcard $(TDIR)/$(TARGET).conf),)
$(error TARGET=$(TARGET): no $(TDIR)/$(TARGET).conf (x86_64 aarch64 armv7 riscv64 mipsel))
endif
include $(TDIR)/$(TARGET).conf

TOUT := build/$(TARGET)
TCC = $(CROSS_CC) $(CROSS_CFLAGS)
TSTRIP = $(CROSS_STRIP)
TKH := $(TOUT)/kh
TBEARSSL_INC := $(TOUT)/bearssl/inc
TBEARSSL_LIB := $(TOUT)/bearssl/libbearssl.a
TSTAMP := $(TOUT)/toolchain.stamp
TQEMU_USER = $(QEMU_USER)

targets_default_goal := $(.DEFAULT_GOAL)

$(TSTAMP): $(TDIR)/toolchain.sh $(TDIR)/lib.sh $(TDIR)/$(TARGET).conf
	$(TDIR)/toolchain.sh $(TARGET)

$(TOUT)/probe: $(TDIR)/probe.c $(TSTAMP)
	$(TCC) -std=c11 -D_GNU_SOURCE -Os -static -Wall -Wextra -Werror \
	  -ffunction-sections -fdata-sections -Wl,--gc-sections \
	  -isystem $(TKH) -I$(TBEARSSL_INC) -o $@ $< $(TBEARSSL_LIB)

# An empty .DEFAULT_GOAL lets make pick the Makefile's first rule after this file.
.DEFAULT_GOAL := $(targets_default_goal)
