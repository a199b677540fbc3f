#!/bin/sh
# Host tests: linux.seccomp compiled to BPF in sandbox.c, and Docker's
# default profile through --security-opt.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
cc=${SYSPROBE_CC:-musl-gcc}
$cc -static -Os -o "$T/rootfs/bin/sysprobe" "$(dirname "$0")/../tools/sysprobe.c"

probe() { # probe NAME [--security-opt ...]: runs sysprobe NAME in bundle sec
	name=$1
	shift
	cfg_args="\"sysprobe\",\"$name\""
	write_config "$T/sec"
	rc=0
	out=$("$SANDBOX" run "$@" --bundle "$T/sec" "sbt-sec-$$" 2>&1) || rc=$?
}

cfg_linux_extra='"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "architectures": [ "SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64", "SCMP_ARCH_MIPSEL" ],
	"syscalls": [ { "names": [ "mkdir", "mkdirat" ], "action": "SCMP_ACT_ERRNO" },
		{ "names": [ "keyctl" ], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
		{ "names": [ "personality" ], "action": "SCMP_ACT_ERRNO", "args": [ { "index": 0, "value": 4294967295, "op": "SCMP_CMP_NE" } ] },
		{ "names": [ "no_such_syscall" ], "action": "SCMP_ACT_ERRNO" } ] }'
probe mkdir
expect "a blocked syscall returns EPERM" "errno 1" "$out"
probe keyctl
expect "a blocked syscall returns the profile's errnoRet" "errno 13" "$out"
probe personality
expect "an argument comparison that does not match: allowed" "ok" "$out"
probe personality-bad
expect "an argument comparison that matches: blocked" "errno 1" "$out"
probe getpid
expect "an allowed syscall works" "ok" "$out"
if [ "$(uname -m)" = x86_64 ]; then
	probe int80
	expect "a foreign-arch (i386) syscall kills the process (SIGSYS)" "159:" "$rc:$out"
	probe x32
	expect "an x32 syscall kills the process" "159:" "$rc:$out"
fi
cfg_nnp=false
cfg_caps='"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]'
probe mkdir
expect "without noNewPrivileges (installed before CAP_SYS_ADMIN goes)" "errno 1" "$out"
cfg_reset

cfg_linux_extra='"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": [ "mkdir" ], "action": "SCMP_ACT_ERRNO", "args": [ { "index": 7, "value": 1, "op": "SCMP_CMP_EQ" } ] } ] }'
probe getpid
expect_match "a bad profile is refused with its JSON path, before anything exists" "^125 .*linux.seccomp.syscalls\[0\].args\[0\].index: 7 is out of range" "$rc $out"
expect "... nothing left" "" "$(ls /run/sandbox 2>/dev/null | grep "sbt-sec-$$")"
cfg_reset

# Docker's default profile
for call in keyctl unshare-user mount; do
	probe $call --security-opt seccomp=default
	expect "default profile: $call blocked" "errno 1" "$out"
done
probe getpid --security-opt seccomp=default
expect "default profile: getpid allowed" "ok" "$out"
probe mkdir --security-opt seccomp=default
expect "default profile: mkdir allowed" "ok" "$out"
cfg_caps='"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN"]'
probe unshare-ns --security-opt seccomp=default
expect "default profile: unshare of a mount namespace allowed with CAP_SYS_ADMIN" "ok" "$out"
cfg_reset
cfg_linux_extra='"seccomp": { "defaultAction": "SCMP_ACT_ERRNO" }'
probe getpid --security-opt seccomp=unconfined
expect "--security-opt seccomp=unconfined drops the config's profile" "ok" "$out"
cfg_reset
