#!/bin/sh
# tests/demo.sh: make demo. Builds a busybox rootfs from the host's
# busybox-static and runs a container in it with a memory limit: no network,
# no image needed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
T=$top/build/demo
mkdir -p "$T"
. "$top/tests/lib.sh"
make_rootfs "$T/rootfs"
cfg_hostname=demo
cfg_env='"PATH=/bin","LIMIT=64 MiB"'
cfg_mounts='{ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [ "nosuid", "noexec", "nodev", "ro" ] }'
cfg_resources='"memory": { "limit": 67108864 }, "pids": { "limit": 64 }'
cfg_args='"sh","-c","echo \"hello from $(hostname): PID $$, $(ls -d /proc/[0-9]* | wc -l) processes in sight\"; if [ -f /sys/fs/cgroup/memory.max ]; then m=$(cat /sys/fs/cgroup/memory.max); else m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); fi; echo \"memory limit: $m bytes ($LIMIT)\"; echo \"network: $(ls /sys/class/net)\"; echo \"capabilities: $(grep CapEff /proc/self/status)\""'
write_config "$T"
echo "sandbox run --bundle $T demo (config: $T/config.json)"
exec "$top/sandbox" run --bundle "$T" "demo-$$"
