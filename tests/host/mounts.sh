#!/bin/sh
# Host tests: mounts. Destinations resolve inside the rootfs, symlinks
# included; options and propagation apply.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
m0=$(mount_count)

mkdir -p "$T/data"
echo host-data >"$T/data/file"

# --- bind mounts: read-only and read-write
cfg_mounts="{ \"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$T/data\", \"options\": [ \"rbind\", \"ro\" ] },
	{ \"destination\": \"/rw\", \"type\": \"bind\", \"source\": \"$T/data\", \"options\": [ \"bind\", \"nosuid\" ] },
	{ \"destination\": \"/one/file\", \"type\": \"bind\", \"source\": \"$T/data/file\", \"options\": [ \"bind\", \"ro\" ] }"
ct binds '"sh","-c","cat /ro/file; touch /ro/x; echo written >/rw/new; cat /one/file; grep -E \" /(ro|rw) \" /proc/mounts | cut -d\" \" -f2,4"'
expect_match "bind: contents visible" '^host-data' "$out"
expect_match "bind ro: write refused" 'touch: /ro/x: Read-only file system' "$out"
expect "bind rw: write reaches the host" "written" "$(cat "$T/data/new" 2>/dev/null)"
expect_match "bind of a file onto a created file" 'host-data
/ro ro,' "$out"
expect_match "bind options in /proc/mounts" '/rw rw,nosuid' "$out"
cfg_reset

# --- destinations through symlinks stay inside the rootfs
rm -rf "$T/rootfs-sym"
cp -a "$T/rootfs" "$T/rootfs-sym"
ln -sn ../../../../../../etc "$T/rootfs-sym/up"
ln -sn /etc "$T/rootfs-sym/abs"
cfg_root=$T/rootfs-sym
cfg_mounts='{ "destination": "/up/sbt-escape", "type": "tmpfs", "source": "tmpfs" },
	{ "destination": "/abs/sbt-escape2", "type": "tmpfs", "source": "tmpfs" }'
ct symlinks '"sh","-c","grep sbt-escape /proc/mounts | cut -d\" \" -f2"'
expect "symlinked destinations resolve in the rootfs" "/etc/sbt-escape
/etc/sbt-escape2" "$out"
expect "nothing made in the host's /etc" "" "$(ls -d /etc/sbt-escape* 2>/dev/null)"
check "made in the rootfs's /etc instead" test -d "$T/rootfs-sym/etc/sbt-escape" -a -d "$T/rootfs-sym/etc/sbt-escape2"
cfg_reset

# --- proc must not be mounted through a symlink
rm -rf "$T/rootfs-proc"
cp -a "$T/rootfs" "$T/rootfs-proc"
rmdir "$T/rootfs-proc/proc"
mkdir -p "$T/rootfs-proc/fakeproc"
ln -sn /fakeproc "$T/rootfs-proc/proc"
cfg_root=$T/rootfs-proc
ct procsym '"true"'
expect_match "proc on a symlink: refused" '^125 .*mount destination /proc: a symlink, refused for proc mounts' "$rc $out"
cfg_reset

# --- tmpfs options, tmpcopyup
cfg_mounts='{ "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": [ "size=1m", "mode=700", "noexec" ] },
	{ "destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": [ "tmpcopyup" ] }'
ct tmpfs '"sh","-c","stat -c %a /scratch; grep \" /scratch \" /proc/mounts | cut -d\" \" -f4; cat /etc/group; echo x >/etc/new && echo etc-writable"'
expect "tmpfs mode, size, noexec; tmpcopyup copies the rootfs's files" "700
rw,noexec,relatime,size=1024k,mode=700
root:x:0:
etc-writable" "$out"
check "tmpcopyup leaves the rootfs alone" test ! -e "$T/rootfs/etc/new"
cfg_reset

# --- propagation of the rootfs
cfg_linux_extra='"rootfsPropagation": "rshared"'
ct rshared '"sh","-c","awk \"\\$5 == \\\"/\\\"\" /proc/self/mountinfo"'
expect_match "rootfsPropagation rshared: / is a shared mount" ' shared:[0-9]+' "$out"
cfg_reset
ct rdefault '"sh","-c","awk \"\\$5 == \\\"/\\\"\" /proc/self/mountinfo"'
expect_match "default: / is not shared" '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / rw[^ ]* (master:[0-9]+ )?- ' "$out"

expect "no mount left in the host's namespace" "$m0" "$(mount_count)"
