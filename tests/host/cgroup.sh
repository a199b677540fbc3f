#!/bin/sh
# Host tests: limits. The development hosts are hybrid (cgroup v1
# controllers bound, v2 holding only hugetlb), so sandbox applies the limits
# through v1 here; tests/vm shows them on cgroup v2.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"

if ! grep -q ' - cgroup cgroup .*memory' /proc/self/mountinfo; then
	skip "cgroup v1 limits: this host has no v1 memory hierarchy"
	exit 0
fi

cgmount='{ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [ "nosuid", "noexec", "nodev", "ro" ] }'

# --- memory: the limit is set, and enforced by the OOM killer
cfg_mounts=$cgmount
cfg_resources='"memory": { "limit": 16777216, "swap": 16777216 }'
ct memlimit '"sh","-c","cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"'
expect "memory limit through v1 (limit and memsw)" "16777216
16777216" "$out"
ct oom '"sh","-c","x=$(head -c 67108864 /dev/zero | tr \"\\\\0\" a); echo survived"'
expect "memory limit enforced: the container is OOM-killed" 137 "$rc"
expect_match "memory limit enforced: the runtime says so" "OOM killer ended [0-9]+ process.*memory limit 16777216 bytes" "$out"
cfg_reset

# --- pids: the limit is set, and a fork loop meets it
cfg_mounts=$cgmount
cfg_resources='"pids": { "limit": 10 }'
ct pids '"sh","-c","cat /sys/fs/cgroup/pids/pids.max; (for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 1 & done) 2>/dev/null; while read l; do echo $l; done </sys/fs/cgroup/pids/pids.events"'
expect_match "pids limit through v1" '^10' "$out"
expect_match "pids limit enforced: forks refused" 'max [1-9]' "$out"
cfg_reset

# --- cpu: quota set, and a busy loop is throttled
cfg_mounts=$cgmount
cfg_resources='"cpu": { "quota": 20000, "period": 100000, "shares": 512 }'
ct cpu '"sh","-c","cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares; timeout 1 sh -c \"while :; do :; done\"; grep nr_throttled /sys/fs/cgroup/cpu/cpu.stat"'
expect_match "cpu quota, period and shares through v1" '^20000
100000
512' "$out"
expect_match "cpu quota enforced: the busy loop was throttled" 'nr_throttled [1-9]' "$out"
cfg_reset

# --- cpuset
cfg_resources='"cpu": { "cpus": "0", "mems": "0" }'
ct cpuset '"sh","-c","grep Cpus_allowed_list /proc/self/status"'
expect "cpuset through v1" "Cpus_allowed_list:	0" "$out"
cfg_reset

# --- devices: v1 devices controller
cfg_resources='"devices": [ { "allow": false, "access": "rwm" } ]'
cfg_linux_extra='"devices": [ { "path": "/dev/loop-sbt", "type": "b", "major": 7, "minor": 200, "fileMode": 384 } ]'
cfg_caps='"bounding":["CAP_MKNOD"],"effective":["CAP_MKNOD"],"permitted":["CAP_MKNOD"]'
ct devices '"sh","-c","echo x >/dev/null && echo null-ok; head -c 1 /dev/loop-sbt 2>&1 | head -c 0; stat -c %a:%t:%T /dev/loop-sbt; mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2"'
expect_match "devices: defaults allowed" 'null-ok' "$out"
expect_match "devices: linux.devices node created with its mode" '600:7:c8' "$out"
expect_match "devices: a node outside the rules is refused" 'head: /dev/mem2: Operation not permitted' "$out"
cfg_reset

# --- limits that no hierarchy can apply are refused, before anything exists
if ! grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
	cfg_resources='"unified": { "memory.high": "1000000" }'
	ct unified '"true"'
	expect_match "unified key without its v2 controller: refused" 'linux.resources.unified.memory.high: no memory controller in cgroup v2 on this host' "$rc $out"
	expect "refused before the cgroup is made" "" "$(ls -d /sys/fs/cgroup/*/sandbox/sbt-unified-$$ 2>/dev/null)"
	cfg_reset
fi

# --- a relative cgroupsPath is below the runtime's own cgroup
cfg_linux_extra="\"cgroupsPath\": \"sbt-rel-$$\""
cfg_resources='"pids": { "limit": 5 }'
ct relpath '"sh","-c","cat /proc/self/cgroup | grep pids"'
expect_match "relative cgroupsPath" "pids:/$" "$out"
cfg_reset

expect "no cgroup left" "" "$(ls -d /sys/fs/cgroup/*/sandbox/sbt-*-$$ /sys/fs/cgroup/*/sbt-rel-$$ 2>/dev/null || true)"
