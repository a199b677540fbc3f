#!/bin/bash
# vm-run.sh TARGET BINARY SUITE_DIR [TIMEOUT_SECONDS]: boot TARGET's kernel in QEMU (TCG)
# with an initramfs holding busybox, BINARY as /bin/sandbox, SUITE_DIR as /suite, the
# modules fetched by vm-fetch.sh and targets/init.sh as /init (see there for the two
# phases and the suite's environment). Prints the suite's result lines as they come and
#   TARGET: N passed, M failed, K skipped
# and exits 1 if M > 0 or the suite did not finish (timeout, panic, crash).
# Console: build/TARGET/vm/console.log; result: build/TARGET/vm/result ("N M K").
# Kernel command line: "TARGET=name" plus the words of SUITE_DIR/cmdline (if present) and
# of $VM_APPEND; KEY=value words reach the suite's environment. VERBOSE=1 shows the console.
# TIMEOUT_SECONDS defaults to $VM_TIMEOUT or 600.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -ge 3 ] || die "usage: vm-run.sh TARGET BINARY SUITE_DIR [TIMEOUT_SECONDS]"
load_conf "$1"
binary=$(realpath -e "$2") || die "no binary $2"
suite=$(realpath -e "$3") || die "no suite directory $3"
timeout=${4:-${VM_TIMEOUT:-600}}
to_top
vm=$OUT/vm
[ -f "$vm/fetch.stamp" ] || die "$TARGET: no kernel yet: run targets/vm-fetch.sh $TARGET"

root=$vm/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lib/modules,suite}
cp "$vm/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$binary" "$root/bin/sandbox"
cp -r "$suite/." "$root/suite/"
cp "$vm"/modules/* "$root/lib/modules/"
cp "$TDIR/init.sh" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
chmod 755 "$root/init" "$root/bin/sandbox"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$vm/initrd.gz"
rm -rf "$root"

append="console=$CONSOLE quiet panic=-1 TARGET=$TARGET"
[ -f "$suite/cmdline" ] && append="$append $(tr '\n' ' ' <"$suite/cmdline")"
append="$append ${VM_APPEND:-}"
log=$vm/console.log
show='^(ok|not ok|skip) - '
[ "${VERBOSE:-0}" = 1 ] && show=.

t0=$(now)
# shellcheck disable=SC2086
timeout -k 5 "$timeout" $QEMU_SYSTEM -accel tcg $QEMU_ARGS -nographic -no-reboot -nic none \
	-kernel "$vm/kernel" -initrd "$vm/initrd.gz" -append "$append" </dev/null 2>&1 |
	sed -u 's/\r$//' | tee "$log" | { grep --line-buffered -E "$show" || true; }
qemu_status=${PIPESTATUS[0]}
elapsed=$(since "$t0")

# Count the results; a phase that exits non-zero without a "not ok" line counts as one.
counts=$(awk '
	/^ok - / { p++ } /^not ok - / { f++; pf++ } /^skip - / { s++ }
	/^sandbox-vm: phase [12] start at/ { pf = 0; if (!boot) boot = $6 }
	/^sandbox-vm: phase [12] exit/ && $5 != 0 && !pf {
		print "not ok - vm: phase " $3 " suite exited " $5; f++ }
	/^sandbox-vm: end of suite/ { done = 1 }
	END { printf "%d %d %d %d %s\n", p, f, s, done, boot ? boot : "-" }' "$log")
printf '%s\n' "$counts" | sed '$d'
read -r passed failed skipped finished boot <<<"$(printf '%s\n' "$counts" | tail -n 1)"

if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
	echo "not ok - vm: timeout after $timeout s"
	failed=$((failed + 1))
elif grep -q 'Kernel panic' "$log"; then
	echo "not ok - vm: kernel panic: $(grep -m 1 'Kernel panic' "$log")"
	failed=$((failed + 1))
elif [ "$finished" != 1 ]; then
	echo "not ok - vm: the suite did not finish (qemu exit $qemu_status)"
	failed=$((failed + 1))
fi
if [ "$finished" != 1 ] && [ "${VERBOSE:-0}" != 1 ]; then
	say "--- last lines of $log:"
	tail -n 25 "$log" >&2
fi
echo "$passed $failed $skipped" >"$vm/result"
echo "# $TARGET: kernel $(cat "$vm/fetch.stamp"), suite started at $boot s uptime, qemu $elapsed s"
echo "$TARGET: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$finished" = 1 ]
