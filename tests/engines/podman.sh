#!/bin/sh
# podman.sh RUNTIME: podman (Debian 12: 4.3.1 + conmon 2.1.6) driving the OCI runtime RUNTIME.
#
# Everything podman writes goes to a temporary directory: storage (--root), run root, tmp dir,
# volumes, network config, events log and locks (lock_type = "file", not /dev/shm). Containers
# are created under the cgroup parent /sbtest-podman-PID and use --network none (no firewall).
# The image is a busybox root file system from busybox-static, imported with `podman import`
# inside a private mount namespace (podman 4.3 would otherwise create
# /var/lib/containers/cache/blob-info-cache-v1.boltdb).
#
# podman chooses how to call a runtime by its file name: names listed in runtime_supports_json
# get `--log-format=json --log FILE`; this script adds the basename of RUNTIME to that list so
# the runtime is called exactly as runc is.
#
# Env: TRACE=1 puts shim/runtime-shim in front of RUNTIME and keeps its log (see CALLS.md);
#      KEEP=1 keeps the temporary directory; T_LIMIT=seconds per podman call (default 60);
#      STORAGE_DRIVER=overlay|vfs (default overlay).
# Output: ok/not ok/skip lines and a summary; exit 1 if anything failed.

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

RUNTIME=${1:-${RUNTIME:-}}
case "$RUNTIME" in
/*) ;;
*) echo "usage: $0 /absolute/path/to/runtime" >&2; exit 2 ;;
esac
[ -x "$RUNTIME" ] || { echo "$RUNTIME: not executable" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 2; }
for c in podman conmon busybox timeout; do
	command -v $c >/dev/null || { skip podman "$c not installed"; finish podman; exit 0; }
done

name=$(basename "$RUNTIME")
T=$(mktemp -d /tmp/sbtest-podman.XXXXXX)
CGP=/sbtest-podman-$$
IMG=localhost/sbtest-busybox:latest
run_before=$(run_dirs)

# The runtime podman execs: RUNTIME itself, or the logging shim under the same file name.
if [ "${TRACE:-0}" = 1 ]; then
	mkdir -p "$T/trace"
	cp "$here/shim/runtime-shim" "$T/trace/$name"
	echo "$RUNTIME" > "$T/trace/$name.real"
	RT=$T/trace/$name
else
	RT=$RUNTIME
fi

cat > "$T/containers.conf" <<EOF
[containers]
netns = "none"
log_driver = "k8s-file"
# podman asks for nofile 1048576; without CAP_SYS_RESOURCE (missing here) raising a hard
# limit fails, so ask for what we have.
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]

[network]
network_config_dir = "$T/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
lock_type = "file"
tmp_dir = "$T/tmp"
static_dir = "$T/storage/libpod"
volume_path = "$T/storage/volumes"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "$name"]
EOF
cat > "$T/storage.conf" <<EOF
[storage]
driver = "${STORAGE_DRIVER:-overlay}"
graphroot = "$T/storage"
runroot = "$T/run"
EOF
export CONTAINERS_CONF="$T/containers.conf" CONTAINERS_STORAGE_CONF="$T/storage.conf"
unset CONTAINER_HOST CONTAINER_CONNECTION

pm() { tmo podman --runtime "$RT" "$@"; }
# prun ARGS: podman run --rm in our cgroup parent, stdin closed unless given.
prun() { pm run --rm --pull=never --cgroup-parent="$CGP" "$@"; }

cleanup() {
	trap - EXIT INT TERM
	pm rm -af -t 0 >/dev/null 2>&1
	pm rmi -af >/dev/null 2>&1
	pm volume prune -f >/dev/null 2>&1
	# conmon and `podman container cleanup` (conmon's exit command) may still be finishing.
	cleanup_under_T "$CGP"
	# A runtime's default state directory (podman passes no --root for root), if we made it.
	for d in $(run_dirs); do
		echo "$run_before" | grep -qx "$d" || rmdir "$d" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1 {print $3}'), runtime $RUNTIME (as \"$name\"), tmp $T"

# --- image ---------------------------------------------------------------------------------
if make_rootfs "$T/rootfs" && rootfs_tar "$T/rootfs" "$T/rootfs.tar"; then
	if unshare -m --propagation private sh -c \
		'mount -t tmpfs -o size=16m tmpfs /var/lib && exec podman import "$1" "$2"' \
		sh "$T/rootfs.tar" "$IMG" > "$T/import.out" 2>&1; then
		ok "podman import busybox rootfs"
	else
		notok "podman import busybox rootfs" "$(tail -n 3 "$T/import.out")"
		finish podman; exit 1
	fi
else
	skip podman "busybox-static not installed"; finish podman; exit 0
fi

# --- run --rm, exit codes, stdio -------------------------------------------------------------
out=$(prun "$IMG" echo hello 2>"$T/err"); rc=$?
expect_eq "run --rm: exit status 0" 0 "$rc"
expect_eq "run --rm: stdout" hello "$out"

prun "$IMG" sh -c 'exit 42' >/dev/null 2>&1
expect_eq "run --rm: exit status 42 passed through" 42 $?

out=$(prun "$IMG" sh -c 'echo to-out; echo to-err >&2' 2>"$T/err")
expect_eq "run --rm: stdout separate from stderr" to-out "$out"
expect_eq "run --rm: stderr separate from stdout" to-err "$(cat "$T/err")"

out=$(echo piped-in | prun -i "$IMG" cat 2>&1)
expect_eq "run -i: stdin reaches the container" piped-in "$out"

out=$(prun "$IMG" sh -c 'ls /proc/self/fd | tr "\n" " "' 2>&1)
# 0, 1, 2 and the directory ls itself opens: a runtime must not leak its own descriptors.
expect_eq "run: container has no leaked descriptors" "0 1 2 3 " "$out"

prun "$IMG" /nonexistent >/dev/null 2>"$T/err"
rc=$?
expect_eq "run: missing executable gives 127" 127 "$rc"
expect_in "run: missing executable is reported" nonexistent "$(cat "$T/err")"

prun "$IMG" /etc/passwd >/dev/null 2>"$T/err"
expect_eq "run: non-executable file gives 126" 126 $?

# --- environment, user, working directory, hostname -----------------------------------------
out=$(prun -e FOO=bar -e EMPTY= "$IMG" sh -c 'echo "$FOO/${EMPTY-unset}/$HOME/$container"' 2>&1)
expect_eq "run -e: environment" "bar///root/podman" "$out"

out=$(prun --user 1000:1000 "$IMG" sh -c 'echo $(id -u) $(id -g) $HOME' 2>&1)
expect_eq "run --user 1000:1000" "1000 1000 /home/user" "$out"

out=$(prun --user nobody "$IMG" sh -c 'echo $(id -u) $(id -g)' 2>&1)
expect_eq "run --user nobody (name from /etc/passwd)" "65534 65534" "$out"

out=$(prun --user 1000 --group-add 65534 "$IMG" id -G 2>&1)
expect_eq "run --group-add: supplementary groups" "1000 65534" "$out"

out=$(prun -w /tmp --hostname sbhost "$IMG" sh -c 'echo $(pwd) $(hostname)' 2>&1)
expect_eq "run -w/--hostname" "/tmp sbhost" "$out"

out=$(prun "$IMG" sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status | awk "{print \$2}" | sort -u' 2>&1)
# podman's built-in 14 (CONTAINERS_CONF replaces /usr/share/containers/containers.conf's 11).
expect_eq "run: default capabilities, effective = bounding" 00000000a80425fb "$out"

out=$(prun --cap-drop all "$IMG" sh -c 'grep ^CapEff /proc/self/status | awk "{print \$2}"' 2>&1)
expect_eq "run --cap-drop all" 0000000000000000 "$out"

out=$(prun "$IMG" sh -c 'grep ^Seccomp: /proc/self/status | awk "{print \$2}"' 2>&1)
expect_eq "run: seccomp filter applied (mode 2)" 2 "$out"

out=$(prun "$IMG" sh -c 'grep ^NoNewPrivs: /proc/self/status | awk "{print \$2}"' 2>&1)
expect_eq "run: no_new_privileges not set by default" 0 "$out"

# --- mounts ----------------------------------------------------------------------------------
mkdir -p "$T/vol"; echo host-data > "$T/vol/in"
out=$(prun -v "$T/vol:/data" "$IMG" sh -c 'cat /data/in; echo from-ctr > /data/out' 2>&1)
expect_eq "run -v: bind mount readable" host-data "$out"
expect_eq "run -v: bind mount writable, visible on the host" from-ctr "$(cat "$T/vol/out" 2>/dev/null)"

out=$(prun -v "$T/vol:/data:ro" "$IMG" sh -c '{ echo x > /data/ro; } 2>/dev/null && echo wrote || echo refused' 2>&1)
expect_eq "run -v :ro: read-only bind mount" refused "$out"

out=$(prun -v sbtestvol:/vol "$IMG" sh -c 'echo v > /vol/f && cat /vol/f' 2>&1)
expect_eq "run -v NAME: named volume" v "$out"

out=$(prun --read-only "$IMG" sh -c 'touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/x && echo tmp-ok' 2>&1)
expect_eq "run --read-only: root read-only, /tmp tmpfs (tmpcopyup) writable" "ro tmp-ok" "$(echo $out)"

out=$(prun --tmpfs /scratch:size=1m "$IMG" sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f3' 2>&1)
expect_eq "run --tmpfs" tmpfs "$out"

out=$(prun "$IMG" sh -c 'cat /etc/hostname >/dev/null && grep -q " /dev/shm " /proc/mounts && test -e /run/.containerenv && echo yes' 2>&1)
expect_eq "run: podman's bind mounts (/etc/hostname, /dev/shm, /run/.containerenv)" yes "$out"

out=$(prun "$IMG" sh -c 'awk "\$2 == \"/proc/sys\" { print substr(\$4, 1, 2) }" /proc/mounts' 2>&1)
expect_eq "run: readonlyPaths (/proc/sys read-only)" ro "$out"

# --- terminal --------------------------------------------------------------------------------
out=$(prun -t "$IMG" sh -c 'tty; exit 4' </dev/null 2>&1); rc=$?
expect_eq "run -t: exit status" 4 "$rc"
expect_in "run -t: stdin is a terminal" /dev/pts/ "$out"

# --- resources (cgroup v1 files, as on this host) ---------------------------------------------
if [ -d /sys/fs/cgroup/memory ]; then
	out=$(prun --memory 64m "$IMG" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)
	expect_eq "run --memory 64m (memory.limit_in_bytes)" 67108864 "$out"
else
	skip "run --memory" "no cgroup v1 memory hierarchy"
fi
if [ -d /sys/fs/cgroup/pids ]; then
	out=$(prun --pids-limit 50 "$IMG" cat /sys/fs/cgroup/pids/pids.max 2>&1)
	expect_eq "run --pids-limit 50 (pids.max)" 50 "$out"
else
	skip "run --pids-limit" "no cgroup v1 pids hierarchy"
fi
if [ -d /sys/fs/cgroup/cpu ]; then
	out=$(prun --cpus 0.5 "$IMG" cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>&1)
	expect_eq "run --cpus 0.5 (cpu.cfs_quota_us)" 50000 "$out"
else
	skip "run --cpus" "no cgroup v1 cpu hierarchy"
fi

# --- detached container: inspect, exec, logs, pause, kill, stop, rm ------------------------------
cid=$(pm run -d --name sbt-main --cgroup-parent="$CGP" "$IMG" \
	sh -c 'trap "echo got-term; exit 0" TERM; trap "echo got-usr1" USR1; echo started; while :; do sleep 0.2; done' 2>"$T/err")
rc=$?
expect_eq "run -d: exit status 0" 0 "$rc"
expect_eq "run -d: prints the container id" 64 "${#cid}"
sleep 0.5
st=$(pm inspect --format '{{.State.Status}} {{.State.Pid}}' sbt-main 2>&1)
expect_eq "run -d: container is running" running "${st%% *}"
pid=${st#* }
check "run -d: State.Pid is a live host process" "pid '$pid'" alive "$pid"
expect_eq "run -d: State.Pid is the container's sh" sh "$(cat /proc/"$pid"/comm 2>/dev/null)"

out=$(pm exec sbt-main sh -c 'echo in-exec; exit 5' 2>&1); rc=$?
expect_eq "exec: exit status" 5 "$rc"
expect_eq "exec: stdout" in-exec "$out"

out=$(pm exec -e X=1 --user 1000 -w /tmp sbt-main sh -c 'echo $X $(id -u) $(pwd)' 2>&1)
expect_eq "exec -e/--user/-w" "1 1000 /tmp" "$out"

out=$(echo exec-in | pm exec -i sbt-main cat 2>&1)
expect_eq "exec -i: stdin" exec-in "$out"

out=$(pm exec -t sbt-main sh -c 'tty; exit 3' </dev/null 2>&1); rc=$?
expect_eq "exec -t: exit status" 3 "$rc"
expect_in "exec -t: terminal" /dev/pts/ "$out"

pm exec sbt-main /nonexistent >/dev/null 2>&1
expect_eq "exec: missing executable gives 127" 127 $?

pm exec -d sbt-main sh -c 'sleep 30' >/dev/null 2>&1
rc=$?
out=$(pm exec sbt-main sh -c 'ps -o comm | grep -c "^sleep$"' 2>&1)
if [ "$rc" = 0 ] && [ "${out:-0}" -ge 1 ]; then ok "exec -d: process keeps running"; else notok "exec -d: process keeps running" "rc=$rc, sleeps=$out"; fi

out=$(pm exec sbt-main sh -c 'echo $$; cat /proc/1/comm' 2>&1)
expect_eq "exec: joins the container's pid namespace" sh "$(echo "$out" | tail -n 1)"

out=$(pm top sbt-main pid comm 2>&1)
expect_in "top: lists the container's processes" sleep "$out"

if pm pause sbt-main >"$T/pause.out" 2>&1; then
	expect_eq "pause: status paused" paused "$(pm inspect --format '{{.State.Status}}' sbt-main 2>&1)"
	fz=$(cat /sys/fs/cgroup/freezer$CGP/libpod-$cid/freezer.state 2>/dev/null)
	[ -n "$fz" ] && expect_eq "pause: freezer.state" FROZEN "$fz"
	pm unpause sbt-main >/dev/null 2>&1
	expect_eq "unpause: status running" running "$(pm inspect --format '{{.State.Status}}' sbt-main 2>&1)"
else
	notok "pause" "$(tail -n 2 "$T/pause.out")"
fi

if [ -d /sys/fs/cgroup/memory ]; then
	if pm update --memory 96m sbt-main >"$T/upd.out" 2>&1; then
		expect_eq "update --memory 96m" 100663296 "$(cat /sys/fs/cgroup/memory$CGP/libpod-$cid/memory.limit_in_bytes 2>/dev/null)"
	else
		notok "update --memory 96m" "$(tail -n 2 "$T/upd.out")"
	fi
fi

pm kill -s USR1 sbt-main >/dev/null 2>&1
sleep 0.6
expect_in "kill -s USR1: signal delivered" got-usr1 "$(pm logs sbt-main 2>&1)"

pm stop -t 10 sbt-main >/dev/null 2>&1
expect_eq "stop: SIGTERM handled, exit status 0" "exited 0" \
	"$(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' sbt-main 2>&1)"
logs=$(pm logs sbt-main 2>&1)
expect_in "logs: output before stop" started "$logs"
expect_in "logs: output of the TERM handler" got-term "$logs"
check "stop: container process gone" "pid '$pid' alive" gone "$pid"

pm start sbt-main >/dev/null 2>&1
sleep 0.3
expect_eq "start: a stopped container runs again" running "$(pm inspect --format '{{.State.Status}}' sbt-main 2>&1)"

pm rm -f -t 2 sbt-main >/dev/null 2>&1
expect_eq "rm -f: container removed" "" "$(pm ps -aq 2>&1)"
sleep 0.3
expect_eq "rm: container cgroup removed" "" "$(cgroup_leftovers "$CGP/libpod-$cid")"

# A process that ignores SIGTERM: stop falls back to SIGKILL after the timeout.
pm run -d --name sbt-stubborn --cgroup-parent="$CGP" "$IMG" sh -c 'trap "" TERM; while :; do sleep 0.2; done' >/dev/null 2>&1
sleep 0.3
pm stop -t 1 sbt-stubborn >/dev/null 2>&1
expect_eq "stop -t 1: SIGKILL after the timeout" "exited 137" \
	"$(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' sbt-stubborn 2>&1)"
pm rm sbt-stubborn >/dev/null 2>&1

pm run -d --name sbt-kill --cgroup-parent="$CGP" "$IMG" sleep 300 >/dev/null 2>&1
sleep 0.3
pm kill sbt-kill >/dev/null 2>&1
expect_eq "kill: SIGKILL by default, wait gives 137" 137 "$(pm wait sbt-kill 2>&1)"
pm rm sbt-kill >/dev/null 2>&1

# --pid=host: podman stops with `kill --all` since the container has no pid namespace of its own.
pm run -d --name sbt-pidhost --pid=host --cgroup-parent="$CGP" "$IMG" sleep 300 >/dev/null 2>&1
sleep 0.3
pm stop -t 5 sbt-pidhost >/dev/null 2>&1
expect_eq "stop --pid=host (kill --all)" exited "$(pm inspect --format '{{.State.Status}}' sbt-pidhost 2>&1)"
pm rm sbt-pidhost >/dev/null 2>&1

out=$(pm run --name sbt-restart --cgroup-parent="$CGP" "$IMG" sh -c 'echo once' 2>&1)
out=$(pm start -a sbt-restart 2>&1)
expect_eq "start -a: an exited container runs again" once "$out"
pm rm sbt-restart >/dev/null 2>&1

expect_eq "no containers left" "" "$(pm ps -aq 2>&1)"

finish podman
