#!/bin/sh
# Host tests: the process, its namespaces, its rootfs. Root on this host.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
m0=$(mount_count)

# --- exit status
ct exit7 '"sh","-c","exit 7"'
expect "exit status passes through" 7 "$rc"
ct notfound '"no-such-program"'
expect "missing program: status 127" 127 "$rc"
expect_match "missing program: message" 'run sbt-notfound-[0-9]+: exec "no-such-program": executable file not found' "$out"
ct notexec '"/etc/passwd"'
expect "program not executable: status 126" 126 "$rc"

# --- PID 1, hostname, domainname
cfg_top_extra='"domainname": "example.org"'
ct pid1 '"sh","-c","echo $$; hostname; cat /proc/sys/kernel/domainname"'
expect "PID 1, hostname and domainname" "1
sbtest
example.org" "$out"
cfg_reset

# --- env, cwd, user, groups, umask
cfg_env='"PATH=/bin","FOO=bar baz"'
cfg_cwd=/tmp
cfg_uid=1000 cfg_gid=1001
cfg_user_extra='"additionalGids": [5, 6], "umask": 63'
ct user '"sh","-c","echo $FOO; pwd; id -u; id -g; id -G; umask; touch /tmp/f; stat -c %a /tmp/f"'
expect "env, cwd, uid, gid, groups, umask" "bar baz
/tmp
1000
1001
1001 5 6
0077
600" "$out"
cfg_reset

# --- rlimits
cfg_process_extra='"rlimits": [ { "type": "RLIMIT_NOFILE", "soft": 100, "hard": 200 }, { "type": "RLIMIT_CORE", "soft": 0, "hard": 0 } ]'
ct rlimits '"sh","-c","ulimit -n; ulimit -Hn; ulimit -c"'
expect "rlimits" "100
200
0" "$out"
cfg_reset

# --- capabilities, read back from /proc/self/status
cfg_caps='"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]'
ct caps_root '"sh","-c","grep ^Cap /proc/self/status"'
expect "capabilities of root (exec gives root its bounding set)" "CapInh:	0000000000000020
CapPrm:	0000000000000021
CapEff:	0000000000000021
CapBnd:	0000000000000021
CapAmb:	0000000000000020" "$out"
cfg_uid=1000 cfg_gid=1000
ct caps_user '"sh","-c","grep ^Cap /proc/self/status"'
expect "capabilities of a user: only the ambient set survives exec" "CapInh:	0000000000000020
CapPrm:	0000000000000020
CapEff:	0000000000000020
CapBnd:	0000000000000021
CapAmb:	0000000000000020" "$out"
cfg_reset
cfg_caps='"bounding":[],"effective":[],"permitted":[]'
ct caps_none '"sh","-c","grep -E \"^Cap(Eff|Bnd)\" /proc/self/status; hostname x"'
expect_match "no capabilities: all dropped" 'CapEff:	0000000000000000' "$out"
expect_match "no capabilities: bounding set empty" 'CapBnd:	0000000000000000' "$out"
expect_match "no capabilities: sethostname refused" 'hostname: sethostname: Operation not permitted' "$out"
cfg_reset
ct nnp '"sh","-c","grep NoNewPrivs /proc/self/status"'
expect "noNewPrivileges" "NoNewPrivs:	1" "$out"

# --- no host descriptor leaks in; --preserve-fds passes exactly those
exec 7</etc/hostname
ct fds '"sh","-c","ls /proc/$$/fd; true"'
expect "only stdio reaches the container" "0
1
2" "$out"
cfg_args='"sh","-c","ls /proc/$$/fd; cat <&3; true"'
write_config "$T/pfds"
rc=0
"$SANDBOX" run --preserve-fds 1 --bundle "$T/pfds" "sbt-pfds-$$" 3</etc/hostname >"$T/pfds.out" 2>&1 || rc=$?
expect "--preserve-fds 1 passes fd 3 and no more" "0
1
2
3
$(cat /etc/hostname)" "$(cat "$T/pfds.out")"
exec 7<&-

# --- namespaces
ct pidns '"sh","-c","ls -d /proc/[0-9]* | wc -l"'
expect_match "pid namespace: few processes visible" '^[1-4]$' "$out"
ct netns '"sh","-c","ls /sys/class/net; cat /sys/class/net/lo/flags"'
expect "network namespace: only lo, and up" "lo
0x9" "$out"
ipcs_host=$(ipcmk -M 4096 2>/dev/null | awk '{print $NF}')
ct ipcns '"sh","-c","cat /proc/sysvipc/shm | wc -l"'
expect "ipc namespace: host segment invisible" 1 "$out"
[ -n "$ipcs_host" ] && ipcrm -m "$ipcs_host"
cfg_caps='"bounding":["CAP_SYS_ADMIN"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN"]'
ct mntns '"sh","-c","mkdir /tmp/m && mount -t tmpfs none /tmp/m && echo mounted"'
expect "mount inside the container" "mounted" "$out"
cfg_reset
expect "mount namespace: the host's mounts are unchanged" "$m0" "$(mount_count)"
ct cgroupns '"sh","-c","cat /proc/self/cgroup | grep -c :/$"'
expect_match "cgroup namespace: own groups are the root" '^[1-9]' "$out"

# --- rootfs: read-only root, masked and read-only paths, /dev
cfg_readonly=true
ct rootro '"sh","-c","touch /x 2>&1; touch /tmp/x && echo tmp-ok"'
expect_match "root.readonly: / is read-only" 'Read-only file system' "$out"
expect_match "root.readonly: /tmp tmpfs still writable" 'tmp-ok' "$out"
cfg_reset
ct masked '"sh","-c","wc -c </proc/timer_list; ls /sys/firmware | wc -l; cat /proc/keys | wc -c"'
expect "masked paths read empty" "0
0
0" "$out"
cfg_ro_paths='"/proc/sys","/etc"'
ct rosys '"sh","-c","echo x >/proc/sys/kernel/domainname; touch /etc/x; touch /sys/kernel/x; touch /tmp/x && echo tmp-ok"'
expect "read-only paths and /sys refuse writes" "3 tmp-ok" "$(grep -c 'Read-only file system' "$T/rosys.out") $(tail -n 1 "$T/rosys.out")"
cfg_reset
ct dev '"sh","-c","echo x >/dev/null && head -c 4 /dev/zero | wc -c && readlink /dev/ptmx && readlink /dev/fd && ls /dev | tr \"\\n\" \" \""'
expect "default devices and links" "4
pts/ptmx
/proc/self/fd
fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " "$out"

# --- spec writes a config that runs, and refuses to overwrite one
mkdir -p "$T/spec" && rm -f "$T/spec/config.json" && ln -sfn "$T/rootfs" "$T/spec/rootfs"
check "spec writes config.json" "$SANDBOX" spec --bundle "$T/spec"
rc=0
"$SANDBOX" run --bundle "$T/spec" "sbt-spec-$$" </dev/null >"$T/spec.out" 2>&1 || rc=$?
expect "the default spec runs: sh on a terminal, ended by the end of stdin" 0 "$rc"
expect_match "the default spec runs: its shell spoke" "built-in shell" "$(cat "$T/spec.out")"
# the ^D must reach the shell's line editor, not the terminal before it
# (a race that hung about one run in ten): ten runs, each bounded
ended=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout -s KILL 20 "$SANDBOX" run --bundle "$T/spec" "sbt-eof$i-$$" </dev/null >/dev/null 2>&1 &&
		ended=$((ended + 1))
	"$SANDBOX" delete -f "sbt-eof$i-$$" 2>/dev/null
done
expect "the end of stdin ends sh on a terminal, ten times of ten" 10 "$ended"
out=$(printf 'echo piped-$((40 + 2))\n' | timeout -s KILL 20 "$SANDBOX" run --bundle "$T/spec" "sbt-pipe-$$" 2>&1)
expect_match "lines piped to sh on a terminal are run before the end" "piped-42" "$out"
"$SANDBOX" delete -f "sbt-pipe-$$" 2>/dev/null
rc=0
"$SANDBOX" spec --bundle "$T/spec" >"$T/spec2.out" 2>&1 || rc=$?
expect_match "spec refuses to overwrite" 'File exists \(remove it first\)' "$rc $(cat "$T/spec2.out")"

# --- the bundle is the working directory's, as runc takes it
rc=0
(cd "$T/spec" && "$SANDBOX" run "sbt-cwd-$$" </dev/null) >"$T/cwd.out" 2>&1 || rc=$?
expect_match "run with no --bundle: the working directory is the bundle" "^0 .*built-in shell" "$rc $(tr '\n' ' ' <"$T/cwd.out")"
rc=0
(cd "$T" && "$SANDBOX" run --bundle spec "sbt-rel-$$" </dev/null) >"$T/rel.out" 2>&1 || rc=$?
expect_match "run --bundle with a relative path" "^0 .*built-in shell" "$rc $(tr '\n' ' ' <"$T/rel.out")"

# --- nothing left behind
expect "no mount left in the host's namespace" "$m0" "$(mount_count)"
expect "no state left" "" "$(ls /run/sandbox 2>/dev/null | grep "sbt-.*-$$" || true)"
expect "no cgroup left" "" "$(ls -d /sys/fs/cgroup/*/sandbox/sbt-*-$$ 2>/dev/null || true)"
