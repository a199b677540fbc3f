#!/bin/sh
# Host tests: the escapes other runtimes have had, tried on this one. Each
# names its CVE; each would succeed against a runtime without the defence.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
m0=$(mount_count)
self=$(command -v "$SANDBOX")
ptrace_caps='"bounding":["CAP_SYS_PTRACE","CAP_KILL"],"effective":["CAP_SYS_PTRACE","CAP_KILL"],"permitted":["CAP_SYS_PTRACE","CAP_KILL"]'

# --- CVE-2019-5736: the runtime's binary, reached through /proc/PID/exe of
# a process running its code in the container (here the --init PID 1),
# must not be writable, even once that process is gone.
# A copy of the binary that only this test runs: another sandbox running
# the same file would keep it busy (ETXTBSY) whatever the defence.
cp "$self" "$T/sandbox-5736"
real=$SANDBOX
SANDBOX=$T/sandbox-5736
self=$SANDBOX
sum0=$(sha256sum <"$self")
cfg_caps=$ptrace_caps
ct exe_inside '"sh","-c","( true >>/proc/1/exe ) 2>&1; readlink /proc/1/exe >/dev/null && echo exe-readable"'
expect_match "CVE-2019-5736: PID 1's exe (sandbox --init) not writable from inside" \
	"can't create /proc/1/exe: (Read-only file system|Text file busy)" "$out"
cfg_args='"sleep","30"'
write_config "$T/exe"
"$SANDBOX" run -d --init --bundle "$T/exe" "sbt-exe-$$" >"$T/exe.out" 2>&1
pid=$("$SANDBOX" state "sbt-exe-$$" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
if [ -n "$pid" ] && exec 8<"/proc/$pid/exe"; then
	"$SANDBOX" kill "sbt-exe-$$" KILL
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	err=$( (true >>/proc/self/fd/8) 2>&1 ) && err=writable
	expect_match "CVE-2019-5736: the exe a container held stays read-only after its process ends" \
		'Read-only file system' "$err"
	exec 8<&-
else
	fail "CVE-2019-5736: the container's PID 1 ($pid): $(cat "$T/exe.out")"
fi
"$SANDBOX" delete -f "sbt-exe-$$" >/dev/null 2>&1
expect "CVE-2019-5736: the runtime's binary is unchanged" "$sum0" "$(sha256sum <"$self")"
SANDBOX=$real
# the runtime comes back to the host's mount namespace: hooks see it
cfg_reset
cfg_top_extra="\"hooks\": { \"createRuntime\": [ { \"path\": \"/bin/sh\", \"args\": [ \"sh\", \"-c\", \"readlink /proc/self/ns/mnt >$T/hook-ns\" ] } ] }"
ct exe_ns '"true"'
expect "CVE-2019-5736 defence: the runtime and its hooks stay in the host's mount namespace" \
	"$(readlink /proc/self/ns/mnt)" "$(cat "$T/hook-ns" 2>/dev/null)"
cfg_reset

# --- CVE-2024-21626: a cwd naming a host descriptor leaked into the
# container (/proc/self/fd/N) would give it the host's filesystem.
exec 7</etc
cfg_cwd=/proc/self/fd/7
ct leakcwd '"sh","-c","echo ran in $PWD; ls ../../.. | head -3"'
expect_match "CVE-2024-21626: a cwd through a leaked host descriptor is refused" \
	'^125 .*process.cwd /proc/self/fd/7: (No such file or directory|outside the container.s root)' "$rc $out"
exec 7<&-
cfg_reset

# --- CVE-2025-31133: with /dev from the image (no tmpfs), an image's
# /dev/null made a symlink to a host procfs file must not be bound over
# masked paths (it would make that file writable in the container).
rm -rf "$T/rootfs-null"
cp -a "$T/rootfs" "$T/rootfs-null"
ln -sfn /proc/sys/kernel/core_pattern "$T/rootfs-null/dev/null"
cfg_root=$T/rootfs-null
cfg_mounts=
core0=$(cat /proc/sys/kernel/core_pattern)
cfg_caps='"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN"]'
write_config "$T/null"
sed -i '/"destination": "\/dev",/,+1d' "$T/null/config.json"
run_ct null
expect "CVE-2025-31133: the host's core_pattern is untouched" "$core0" "$(cat /proc/sys/kernel/core_pattern)"
cfg_args='"sh","-c","wc -c </proc/kcore; grep -c core_pattern /proc/self/mountinfo"'
write_config "$T/null2"
sed -i '/"destination": "\/dev",/,+1d' "$T/null2/config.json"
run_ct null2
expect_match "CVE-2025-31133: a /dev/null symlink in the image is refused or never used for masking" \
	'^(125 .*(dev/null|symlink).*|0 0
0)$' "$rc $out"
cfg_reset

# --- CVE-2025-52565: /dev/console, where the terminal is bound, must be
# no symlink of the image's aimed at a host file.
rm -rf "$T/rootfs-console"
cp -a "$T/rootfs" "$T/rootfs-console"
ln -sfn /proc/sys/kernel/core_pattern "$T/rootfs-console/dev/console"
cfg_root=$T/rootfs-console
cfg_terminal=true
cfg_args='"sh","-c","grep -c core_pattern /proc/self/mountinfo; readlink /dev/console || echo not-a-link"'
write_config "$T/console"
sed -i '/"destination": "\/dev",/,+1d' "$T/console/config.json"
rc=0
"$SANDBOX" run --bundle "$T/console" "sbt-console-$$" </dev/null >"$T/console.out" 2>&1 || rc=$?
out=$(tr -d '\r' <"$T/console.out")
expect_match "CVE-2025-52565: the terminal never lands on a symlinked /dev/console's target" \
	'^(125 .*/dev/console in the rootfs is a symlink, refused|0 0
not-a-link)$' "$rc $out"
expect "CVE-2025-52565: the host's core_pattern is untouched" "$core0" "$(cat /proc/sys/kernel/core_pattern)"
cfg_reset

# --- the host's processes are out of sight and reach
sleep 60 &
hostpid=$!
ct hostpids "\"sh\",\"-c\",\"kill -0 $hostpid 2>&1; ps -o pid | wc -l\""
expect_match "a host process cannot be signalled from a container" 'No such process|kill.*' "$out"
check "the host process lives" kill -0 "$hostpid"
kill "$hostpid"
wait "$hostpid" 2>/dev/null

# --- without CAP_SYS_ADMIN a read-only root stays read-only
cfg_readonly=true
ct remount '"sh","-c","mount -o remount,rw / 2>&1; touch /x 2>&1"'
expect_match "a read-only root cannot be remounted read-write" 'Read-only file system' "$out"
cfg_reset

expect "no mount left in the host's namespace" "$m0" "$(mount_count)"
rm -rf "$T"
