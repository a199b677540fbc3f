#!/bin/sh
# Host tests: the builds without optional features (config.h's switches,
# make's variants). The OCI runtime alone (SB_WITH_IMAGES=0) runs bundles
# and has no image verbs; without seccomp (SB_WITH_SECCOMP=0) a config
# that asks for a filter is refused, never run unfiltered.
. "$(dirname "$0")/../lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
if ! make -s -C "$top" build/x86_64/sandbox-runtime build/x86_64/sandbox-noseccomp >"$T/make.out" 2>&1; then
	fail "the variants build: $(tail -n 3 "$T/make.out")"
	exit 1
fi
make_rootfs "$T/rootfs"
m0=$(mount_count)
full=$SANDBOX

# --- the runtime alone
SANDBOX=$top/build/x86_64/sandbox-runtime
ct rt '"sh","-c","echo runtime-$((6 * 7))"'
expect "runtime build: a bundle runs" "0 runtime-42" "$rc $out"
rc=0
out=$("$SANDBOX" pull busybox 2>&1) || rc=$?
expect_match "runtime build: no image verbs" "^1 sandbox: pull: unknown command" "$rc $out"
rc=0
out=$("$SANDBOX" run --image busybox "sbt-rtimg-$$" 2>&1) || rc=$?
expect_match "runtime build: run --image refused, the reason named" \
	"^125 .*--image busybox: the image store is not built in \(SB_WITH_IMAGES=0\)" "$rc $out"
expect "runtime build: nothing left of the refused run" "" "$(ls -d /run/sandbox/sbt-rtimg-$$ 2>/dev/null)"
expect_match "runtime build: features still lists seccomp" '"seccomp":\{"enabled":true' "$("$SANDBOX" features)"
expect "runtime build: --help names no image command" 0 "$("$SANDBOX" --help | grep -c -E '^  (pull|load|images|rmi) ')"
size_full=$(stat -c %s "$full")
size_rt=$(stat -c %s "$SANDBOX")
expect "runtime build: smaller than the full one" 1 "$([ "$size_rt" -lt "$size_full" ] && echo 1)"

# --- without seccomp
SANDBOX=$top/build/x86_64/sandbox-noseccomp
cfg_linux_extra='"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mkdir" ], "action": "SCMP_ACT_ERRNO" } ] }'
ct nosec '"sh","-c","mkdir /tmp/x && echo unfiltered"'
expect_match "no-seccomp build: linux.seccomp refused, not run unfiltered" \
	"^125 .*linux.seccomp: seccomp is not built in \(SB_WITH_SECCOMP=0\)" "$rc $out"
expect "no-seccomp build: the program never ran" 0 "$(grep -c unfiltered "$T/nosec.out")"
expect "no-seccomp build: nothing left" "::$m0" \
	"$(ls -d /run/sandbox/sbt-nosec-$$ 2>/dev/null):$(ls -d /sys/fs/cgroup/*/sandbox/sbt-nosec-$$ 2>/dev/null):$(mount_count)"
cfg_reset
ct nosec2 '"sh","-c","echo plain-$((6 * 7))"'
expect "no-seccomp build: a bundle without a filter runs" "0 plain-42" "$rc $out"
expect_match "no-seccomp build: features says so" '"seccomp":\{"enabled":false\}' "$("$SANDBOX" features)"
