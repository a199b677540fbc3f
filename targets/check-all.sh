#!/bin/bash
# check-all.sh [-b NAME] [-s SUITE_DIR] [-t TIMEOUT] [TARGET...]: for each TARGET (default:
# all five) set up the toolchain, build build/TARGET/NAME, fetch the kernel and run the
# suite in QEMU; then print every target's summary again and
#   TOTAL: N passed, M failed, K skipped
# NAME "probe" (the default) is targets/probe.c, built through targets/targets.mk; any
# other NAME is built with "${MAKE:-make} TARGET=TARGET build/TARGET/NAME" (the top-level
# Makefile's rule). SUITE_DIR defaults to targets/selftest, TIMEOUT (per boot) to 600 s.
# A step that fails counts as one failure of its target; a target whose kernel cannot be
# fetched (riscv64 without Debian 13) counts as one skip. Exits 1 if anything failed.
#   make check-targets:  MAKE="$(MAKE)" targets/check-all.sh -b sandbox -s tests/vm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
name=probe suite=$TDIR/selftest timeout=${VM_TIMEOUT:-600}
while getopts b:s:t: opt; do
	case $opt in
	b) name=$OPTARG ;;
	s) suite=$(realpath -e "$OPTARG") || die "no suite directory $OPTARG" ;;
	t) timeout=$OPTARG ;;
	*) die "usage: check-all.sh [-b NAME] [-s SUITE_DIR] [-t TIMEOUT] [TARGET...]" ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-$ALL_TARGETS}
for t in $targets; do load_conf "$t"; done
to_top

build() {
	if [ "$name" = probe ]; then
		make -s -f "$TDIR/targets.mk" TARGET="$1" "build/$1/probe"
	else
		${MAKE:-make} -s TARGET="$1" "build/$1/$name"
	fi
}

# check TARGET: prints the result lines, leaves "N M K" in $counts and timings in $times.
check() {
	local t=$1 t0 rc=0
	counts="0 1 0" times=""
	t0=$(now)
	"$TDIR/toolchain.sh" "$t" || { echo "not ok - $t: toolchain"; return; }
	times="toolchain $(since "$t0") s" t0=$(now)
	build "$t" || { echo "not ok - $t: build of build/$t/$name"; return; }
	times="$times, build $(since "$t0") s" t0=$(now)
	"$TDIR/vm-fetch.sh" "$t" || rc=$?
	case $rc in
	0) ;;
	77) echo "skip - $t: no kernel to boot (see above)" && counts="0 0 1" && return ;;
	*) echo "not ok - $t: vm-fetch" && return ;;
	esac
	times="$times, fetch $(since "$t0") s" t0=$(now)
	rm -f "build/$t/vm/result"
	"$TDIR/vm-run.sh" "$t" "build/$t/$name" "$suite" "$timeout" || true
	times="$times, vm $(since "$t0") s"
	counts=$(cat "build/$t/vm/result" 2>/dev/null || echo "0 1 0")
}

summary=() tp=0 tf=0 ts=0
for t in $targets; do
	say "=== $t"
	check "$t"
	read -r p f s <<<"$counts"
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	summary+=("$t: $p passed, $f failed, $s skipped ($times)")
done
echo "==="
printf '%s\n' "${summary[@]}"
echo "TOTAL: $tp passed, $tf failed, $ts skipped"
[ "$tf" = 0 ]
