# lib.sh: shared helpers for podman.sh, containerd.sh and validation.sh (POSIX sh, sourced).
#
# Result lines:  ok - NAME  |  not ok - NAME: why  |  skip - NAME: why
# Counters are kept in shell variables; finish() prints a summary and sets the exit status
# (1 if anything failed, else 0).

n_ok=0 n_fail=0 n_skip=0
t_start=$(date +%s)

ok()    { n_ok=$((n_ok + 1));     echo "ok - $1"; }
notok() { n_fail=$((n_fail + 1)); echo "not ok - $1: $2"; }
skip()  { n_skip=$((n_skip + 1)); echo "skip - $1: $2"; }

# check NAME WHY-IF-FAILED COMMAND...: ok if the command succeeds.
check() {
	_name=$1 _why=$2; shift 2
	if "$@"; then ok "$_name"; else notok "$_name" "$_why"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "expected '$2', got '$(printf '%s' "$3" | head -c 300 | tr '\n' '|')'"; fi
}

# expect_in NAME NEEDLE HAYSTACK
expect_in() {
	case "$3" in
	*"$2"*) ok "$1" ;;
	*) notok "$1" "'$2' not in '$(printf '%s' "$3" | head -c 300 | tr '\n' '|')'" ;;
	esac
}

finish() {
	echo "# $1: $n_ok ok, $n_fail not ok, $n_skip skipped in $(( $(date +%s) - t_start )) s (runtime $RUNTIME)"
	[ "$n_fail" -eq 0 ]
}

# Every engine call is bounded, so a hanging runtime fails a test instead of the whole run.
T_LIMIT=${T_LIMIT:-60}
tmo() { timeout -k 5 "$T_LIMIT" "$@"; }

# make_rootfs DIR: a busybox root file system from Debian's busybox-static, with users
# root (0), user (1000) and nobody (65534).
make_rootfs() {
	_bb=$(command -v busybox) || return 1
	file -L "$_bb" 2>/dev/null | grep -q 'statically linked' || return 1
	mkdir -p "$1/bin" "$1/etc" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/root" \
		"$1/home/user" "$1/data" "$1/run" "$1/var/tmp" || return 1
	cp "$_bb" "$1/bin/busybox" || return 1
	for _a in $("$_bb" --list); do
		[ "$_a" = busybox ] || ln -sf busybox "$1/bin/$_a"
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$1/etc/passwd"
	printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' > "$1/etc/group"
	chmod 1777 "$1/tmp" "$1/var/tmp"
	chown 1000:1000 "$1/home/user"
}

# rootfs_tar DIR TARFILE: a reproducible tar with numeric root ownership.
rootfs_tar() {
	tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$1" -cf "$2" .
}

# cgroup_cleanup REL: remove cgroup REL (relative to each hierarchy root) in every v1 hierarchy
# and in the v2 one, deepest first. Processes still inside belong to the test: kill them first.
cgroup_cleanup() {
	for _h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		_d=${_h%/}/${1#/}
		[ -d "$_d" ] || continue
		for _p in $(find "$_d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			kill -9 "$_p" 2>/dev/null
		done
		find "$_d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

# cgroup_leftovers REL: prints the directories that still exist.
cgroup_leftovers() {
	for _h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		_d=${_h%/}/${1#/}
		[ -d "$_d" ] && echo "$_d"
	done
}

# umount_under DIR: lazily unmount whatever is still mounted below DIR (deepest first).
umount_under() {
	awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r _m; do umount -l "$_m" 2>/dev/null; done
}

mounted_under() {
	awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo
}

# pids_matching STRING: pids of processes whose command line contains STRING (never our own).
pids_matching() {
	for _p in /proc/[0-9]*; do
		_pid=${_p#/proc/}
		[ "$_pid" = "$$" ] && continue
		tr '\0' ' ' 2>/dev/null < "$_p/cmdline" | grep -qF -- "$1" && echo "$_pid"
	done
}

# alive PID / gone PID: for a real (positive) pid only; `kill -0 0` would test our process group.
# cleanup_under_T CGROUP: what an engine test leaves once the engine is
# told to stop: processes whose command line names $T (given 5 s to end,
# then killed), the cgroup, mounts under $T, and $T itself (kept with
# KEEP=1, or while anything is still mounted there).
cleanup_under_T() {
	i=0
	while [ -n "$(pids_matching "$T")" ] && [ $i -lt 20 ]; do sleep 0.25; i=$((i + 1)); done
	for p in $(pids_matching "$T"); do kill -9 "$p" 2>/dev/null; done
	cgroup_cleanup "$1"
	umount_under "$T"
	if [ -n "$(mounted_under "$T")" ]; then
		echo "# cleanup: still mounted under $T, not removing it:" >&2
		mounted_under "$T" >&2
	elif [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}

alive() { case "$1" in ''|*[!0-9]*|0) return 1 ;; esac; kill -0 "$1" 2>/dev/null; }
gone()  { case "$1" in ''|*[!0-9]*|0) return 1 ;; esac; ! kill -0 "$1" 2>/dev/null; }

# Directories directly under /run that exist now (to remove the ones a runtime creates for its
# default state, e.g. /run/runc, only if this run created them and they are empty).
run_dirs() { find /run -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort; }
