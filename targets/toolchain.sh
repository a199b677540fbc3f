#!/bin/bash
# toolchain.sh TARGET: make build/TARGET ready for compiling static musl programs.
#   - installs the cross gcc and the kernel headers of TARGET (GCC_PKGS in the .conf);
#   - musl: Debian's musl-dev:ARCH (MUSL=debian), or musl built from Debian's source
#     into build/TARGET/musl (MUSL=source: riscv64, soft-float mipsel);
#   - build/TARGET/kh: the kernel headers (linux, asm, asm-generic) as symlinks, for
#     -isystem, since the musl specs use -nostdinc;
#   - build/TARGET/bearssl/{libbearssl.a,inc/}: BearSSL from Debian's source, built with
#     TARGET's musl compiler (Debian's libbearssl.a needs glibc's __memcpy_chk).
# Each step checks its own result, so a second run takes a fraction of a second.
# Ends by touching build/TARGET/toolchain.stamp, the file targets.mk depends on.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
load_conf "${1:-}"
to_top
mkdir -p "$OUT"
t0=$(now)

# The cross gcc packages carry the kernel headers (linux-libc-dev-ARCH-cross) that the
# musl builds need; they are listed in GCC_PKGS rather than left to Recommends.
# shellcheck disable=SC2086
need_pkgs $GCC_PKGS

# Compiler settings that the musl and BearSSL builds depend on: a change rebuilds them.
cc_id="$CROSS_CC $CROSS_CFLAGS"

build_musl() {
	local src prefix=$TOP/$OUT/musl obj=$OUT/musl-obj
	src=$TOP/$(source_dir musl)
	say "$TARGET: building musl from $src"
	rm -rf "$prefix" "$obj"
	mkdir -p "$obj"
	(
		cd "$obj"
		# --enable-wrapper=gcc makes "make install" write lib/musl-gcc.specs for this prefix.
		"$src/configure" --target="$GNU_TRIPLET" CROSS_COMPILE="$GNU_TRIPLET-" \
			CC="$GNU_TRIPLET-gcc $CROSS_CFLAGS" --prefix="$prefix" \
			--disable-shared --enable-wrapper=gcc
		make -j"$(nproc)"
		make install
	) >"$OUT/musl.log" 2>&1 || { tail -n 20 "$OUT/musl.log" >&2; die "$TARGET: musl build failed"; }
	rm -rf "$obj"
	printf '%s\n' "$cc_id" >"$OUT/musl.stamp"
}

case $MUSL in
debian)
	need_arch "$DEB_ARCH"
	need_pkgs "musl-dev:$DEB_ARCH"
	;;
source)
	[ "$(cat "$OUT/musl.stamp" 2>/dev/null)" = "$cc_id" ] || build_musl
	;;
*) die "$TARGET.conf: MUSL must be debian or source, not '$MUSL'" ;;
esac

mkdir -p "$OUT/kh"
for h in $KERNEL_HEADERS; do
	[ -d "$h" ] || die "kernel headers $h missing (from GCC_PKGS: $GCC_PKGS)"
	ln -sfn "$h" "$OUT/kh/"
done

build_bearssl() {
	local src
	src=$(source_dir bearssl)
	say "$TARGET: building BearSSL from $TOP/$src"
	rm -rf "$OUT/bearssl"
	# BearSSL's own make, its Unix configuration overridden from the command line: only the
	# static library, objects and library under build/TARGET/bearssl.
	make -C "$src" -j"$(nproc)" lib CONF=Unix BUILD="$TOP/$OUT/bearssl" \
		CC="$CROSS_CC $CROSS_CFLAGS" AR="$CROSS_AR" \
		CFLAGS="-W -Wall -Os -ffunction-sections -fdata-sections" >"$OUT/bearssl.log" 2>&1 ||
		{ tail -n 20 "$OUT/bearssl.log" >&2; die "$TARGET: BearSSL build failed"; }
	rm -rf "$OUT/bearssl/obj"
	cp -r "$src/inc" "$OUT/bearssl/inc"
	printf '%s\n' "$cc_id" >"$OUT/bearssl.stamp"
}

[ "$(cat "$OUT/bearssl.stamp" 2>/dev/null)" = "$cc_id" ] && [ -f "$OUT/bearssl/libbearssl.a" ] ||
	build_bearssl

touch "$OUT/toolchain.stamp"
say "$TARGET: toolchain ready ($(since "$t0") s)"
