#!/bin/bash
# sizes.sh [NAME...]: a table of the stripped sizes in bytes of build/TARGET/NAME for every
# target (default NAMEs: sandbox probe); "-" where the binary has not been built.
#   NAME      x86_64  aarch64    armv7  riscv64   mipsel
#   probe      43120    ...
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
to_top
[ $# -gt 0 ] || set -- sandbox probe
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

printf '%-16s' NAME
for t in $ALL_TARGETS; do printf ' %9s' "$t"; done
echo
for name; do
	printf '%-16s' "$name"
	for t in $ALL_TARGETS; do
		load_conf "$t"
		if [ -f "$OUT/$name" ] && $CROSS_STRIP -o "$tmp" "$OUT/$name"; then
			printf ' %9s' "$(stat -c %s "$tmp")"
		else
			printf ' %9s' -
		fi
	done
	echo
done
