#!/bin/sh
# Host tests: a user namespace with id mappings.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"

cfg_namespaces='{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}'
cfg_linux_extra='"uidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ],
	"gidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ]'
ct userns '"sh","-c","cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; echo x >/dev/null && echo null-ok; echo $$"'
expect_match "user namespace: the mappings" '^ +0 +100000 +65536
 +0 +100000 +65536' "$out"
expect_match "user namespace: root inside, host root unmapped" '
0
65534
null-ok
1$' "$out"
cfg_uid=1000
cfg_gid=1000
ct userns2 '"sh","-c","id -u; grep CapEff /proc/self/status"'
expect "user namespace: a mapped user, no capabilities" "1000
CapEff:	0000000000000000" "$out"
