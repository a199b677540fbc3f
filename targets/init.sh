#!/bin/sh
# /init of the test VM (copied there by targets/vm-run.sh); busybox sh, PID 1.
# Phase 1 runs /suite/run-initramfs (if any) with / still the initramfs, where the
# kernel refuses pivot_root (EINVAL: rootfs has no parent mount). Then the root is copied
# into a tmpfs, switch_root enters it, and phase 2 runs /suite/run (pivot_root works).
# The suite sees TARGET, SANDBOX=/bin/sandbox, VM_PHASE (1 or 2); kernel command-line
# words KEY=value (no dot in KEY) are in its environment as well. Lines starting with
# "sandbox-vm: " are read by vm-run.sh; suite lines "ok - ", "not ok - ", "skip - " are
# the results.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root SANDBOX=/bin/sandbox
export TARGET="${TARGET:-unknown}"

say() { echo "sandbox-vm: $*"; }

uptime_s() { read -r up _ </proc/uptime && echo "$up"; }

# run_phase N SCRIPT: runs SCRIPT from /suite and reports its exit status.
run_phase() {
	say "phase $1 start at $(uptime_s) s"
	if [ -x "$2" ]; then
		(cd /suite && VM_PHASE=$1 "$2")
		say "phase $1 exit $?"
	elif [ -e "$2" ]; then
		(cd /suite && VM_PHASE=$1 sh "$2")
		say "phase $1 exit $?"
	elif [ "$1" = 2 ]; then
		echo "not ok - vm: $2 missing"
	fi
}

# Phase 1 -> 2: the root moves into a tmpfs, the mounts come along, the initramfs is freed.
enter_tmpfs_root() {
	mkdir /newroot
	mount -t tmpfs -o mode=0755 root /newroot
	for d in /*; do
		case $d in
		/proc | /sys | /dev | /tmp) mkdir "/newroot$d" && mount --move "$d" "/newroot$d" ;;
		/newroot) ;;
		*) cp -a "$d" /newroot/ ;;
		esac
	done
	export SB_PHASE=2
	exec switch_root /newroot /init
}

if [ "${SB_PHASE:-1}" = 1 ]; then
	/bin/busybox --install -s
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t tmpfs -o mode=1777 tmp /tmp
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	while read -r m; do
		insmod "/lib/modules/$m.ko" || echo "not ok - vm: insmod $m"
	done </lib/modules/order
	dmesg -n 1 # only panics on the console from here on
	say "kernel $(uname -r) on $(uname -m), target $TARGET"
	run_phase 1 /suite/run-initramfs
	enter_tmpfs_root
fi

run_phase 2 /suite/run
say "end of suite at $(uptime_s) s"
sync
poweroff -f
