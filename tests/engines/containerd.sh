#!/bin/sh
# containerd.sh RUNTIME: a private containerd (Debian 12: 1.6.20, shim io.containerd.runc.v2)
# driving the OCI runtime RUNTIME through `ctr run --runc-binary RUNTIME`.
#
# containerd gets its own config, root, state, gRPC/ttrpc sockets and opt dir in a temporary
# directory, is started and stopped by this script, and never touches /etc/containerd or
# /run/containerd/containerd.sock. The runtime root is private too (--runc-root). Two things
# containerd 1.6 puts outside: the shim socket /run/containerd/s/<sha256> (removed when the
# shim exits; the directories are removed here if this run created them), and the cgroups
# /<namespace>/<id> (namespace sbtestPID, removed here).
# The image is a docker-archive tarball made here from busybox-static and `ctr image import`ed.
#
# Env: TRACE=1 puts shim/runtime-shim in front of RUNTIME and keeps its log (see CALLS.md);
#      KEEP=1 keeps the temporary directory; T_LIMIT=seconds per ctr call (default 60).
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
for c in containerd ctr containerd-shim-runc-v2 busybox timeout script; do
	command -v $c >/dev/null || { skip containerd "$c not installed"; finish containerd; exit 0; }
done

T=$(mktemp -d /tmp/sbtest-ctrd.XXXXXX)
NS=sbtest$$
IMG=docker.io/sbtest/busybox:latest
had_run_containerd=no; [ -d /run/containerd ] && had_run_containerd=yes
had_run_containerd_s=no; [ -d /run/containerd/s ] && had_run_containerd_s=yes

if [ "${TRACE:-0}" = 1 ]; then
	mkdir -p "$T/trace"
	cp "$here/shim/runtime-shim" "$T/trace/$(basename "$RUNTIME")"
	echo "$RUNTIME" > "$T/trace/$(basename "$RUNTIME").real"
	RT=$T/trace/$(basename "$RUNTIME")
else
	RT=$RUNTIME
fi

cat > "$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
# No CRI (it would want CNI and a pause image); no snapshotters that cannot work here.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$T/containerd.sock"
[ttrpc]
  address = "$T/containerd.sock.ttrpc"
[debug]
  level = "debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF

ct() { tmo ctr --address "$T/containerd.sock" --namespace "$NS" "$@"; }
# crun ARGS: ctr run with our runtime, private runtime root and FIFO directory.
crun() { ct run --runc-binary "$RT" --runc-root "$T/runc-root" --fifo-dir "$T/fifo" "$@"; }
cexec() { ct task exec --fifo-dir "$T/fifo" "$@"; }
# task_status ID: RUNNING, PAUSED, STOPPED, CREATED or nothing.
task_status() { ct task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { ct task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
# exit_of ID: deletes the task and prints its exit status (ctr only warns about non-zero ones).
exit_of() {
	_o=$(ct task delete "$1" 2>&1) || { echo "delete failed: $_o"; return; }
	case "$_o" in
	*"exit code "*) echo "$_o" | sed -n 's/.*exit code \([0-9]*\).*/\1/p' | tail -n 1 ;;
	*) echo 0 ;;
	esac
}
remove() { ct task kill -s KILL "$1" >/dev/null 2>&1; sleep 0.2; ct task delete -f "$1" >/dev/null 2>&1; ct container delete "$1" >/dev/null 2>&1; }

ids="c-hello c-exit c-stdio c-stdin c-fds c-env c-bind c-bindro c-ro c-caps c-missing c-tty c-main c-kill c-all"
cpid=
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		for c in $(ct container ls -q 2>/dev/null); do remove "$c"; done
		ct image rm "$IMG" >/dev/null 2>&1
		kill "$cpid" 2>/dev/null
		i=0
		while kill -0 "$cpid" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
		kill -9 "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	# Shims (their command line names our socket) and anything else started from here.
	cleanup_under_T "/$NS"
	# A shim killed above leaves its socket /run/containerd/s/sha256(ADDRESS/NAMESPACE/ID).
	for id in $ids; do
		rm -f "/run/containerd/s/$(printf '%s' "$T/containerd.sock/$NS/$id" | sha256sum | cut -d' ' -f1)"
	done
	[ $had_run_containerd_s = no ] && rmdir /run/containerd/s 2>/dev/null
	[ $had_run_containerd = no ] && rmdir /run/containerd 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# containerd $(containerd --version | awk '{print $3}'), runtime $RUNTIME, namespace $NS, tmp $T"

# --- daemon --------------------------------------------------------------------------------
containerd --config "$T/config.toml" > "$T/containerd.log" 2>&1 < /dev/null &
cpid=$!
i=0
until ctr --address "$T/containerd.sock" version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 $cpid 2>/dev/null; then
		notok "containerd starts" "$(tail -n 3 "$T/containerd.log")"
		finish containerd; exit 1
	fi
	sleep 0.2
done
ok "containerd starts (private socket, root, state)"

# --- image: docker-archive with one uncompressed layer ---------------------------------------
mk_image() {
	make_rootfs "$T/rootfs" || return 1
	mkdir -p "$T/archive" || return 1
	rootfs_tar "$T/rootfs" "$T/layer.tar" || return 1
	diff_id=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
	mkdir -p "$T/archive/$diff_id" && mv "$T/layer.tar" "$T/archive/$diff_id/layer.tar"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$diff_id" > "$T/archive/config.json"
	cfg=$(sha256sum "$T/archive/config.json" | cut -d' ' -f1)
	mv "$T/archive/config.json" "$T/archive/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["sbtest/busybox:latest"],"Layers":["%s/layer.tar"]}]' \
		"$cfg" "$diff_id" > "$T/archive/manifest.json"
	tar --numeric-owner --owner=0 --group=0 -C "$T/archive" -cf "$T/busybox.tar" .
}
if ! mk_image; then
	skip containerd "busybox-static not installed"; finish containerd; exit 0
fi
if ct image import "$T/busybox.tar" > "$T/import.out" 2>&1 && ct image ls -q | grep -qx "$IMG"; then
	ok "ctr image import (docker archive)"
else
	notok "ctr image import (docker archive)" "$(tail -n 3 "$T/import.out")"
	finish containerd; exit 1
fi

# --- run to completion -----------------------------------------------------------------------
out=$(crun --rm "$IMG" c-hello echo hello 2>"$T/err" </dev/null); rc=$?
expect_eq "run --rm: exit status 0" 0 "$rc"
expect_eq "run --rm: stdout" hello "$out"

crun --rm "$IMG" c-exit sh -c 'exit 3' >/dev/null 2>&1 </dev/null
expect_eq "run --rm: exit status 3 passed through" 3 $?

out=$(crun --rm "$IMG" c-stdio sh -c 'echo to-out; echo to-err >&2' 2>"$T/err" </dev/null)
expect_eq "run: stdout separate from stderr" to-out "$out"
expect_eq "run: stderr separate from stdout" to-err "$(cat "$T/err")"

# ctr run never closes the container's stdin on EOF (task exec does), so read one line only.
out=$(echo piped-in | crun --rm "$IMG" c-stdin sh -c 'read l; echo "$l"' 2>&1)
expect_eq "run: stdin reaches the container" piped-in "$out"

out=$(crun --rm "$IMG" c-fds sh -c 'ls /proc/self/fd | tr "\n" " "' 2>&1 </dev/null)
expect_eq "run: container has no leaked descriptors" "0 1 2 3 " "$out"

out=$(crun --rm --env FOO=bar --cwd /tmp "$IMG" c-env sh -c 'echo $FOO $(pwd)' 2>&1 </dev/null)
expect_eq "run --env/--cwd" "bar /tmp" "$out"

mkdir -p "$T/vol"; echo host-data > "$T/vol/in"
out=$(crun --rm --mount "type=bind,src=$T/vol,dst=/data,options=rbind:rw" "$IMG" c-bind \
	sh -c 'cat /data/in; echo from-ctr > /data/out' 2>&1 </dev/null)
expect_eq "run --mount bind: readable" host-data "$out"
expect_eq "run --mount bind: writable, visible on the host" from-ctr "$(cat "$T/vol/out" 2>/dev/null)"

out=$(crun --rm --mount "type=bind,src=$T/vol,dst=/data,options=rbind:ro" "$IMG" c-bindro \
	sh -c '{ echo x > /data/ro; } 2>/dev/null && echo wrote || echo refused' 2>&1 </dev/null)
expect_eq "run --mount bind ro" refused "$out"

out=$(crun --rm --read-only "$IMG" c-ro sh -c '{ touch /x; } 2>/dev/null && echo rw || echo ro' 2>&1 </dev/null)
expect_eq "run --read-only" ro "$out"

out=$(crun --rm "$IMG" c-caps sh -c 'grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status | awk "{print \$2}" | tr "\n" " "' 2>&1 </dev/null)
expect_eq "run: containerd default capabilities and noNewPrivileges" "00000000a80425fb 1 " "$out"

crun --rm "$IMG" c-missing /nonexistent >/dev/null 2>"$T/err" </dev/null
rc=$?
if [ $rc -ne 0 ]; then ok "run: missing executable fails"; else notok "run: missing executable fails" "exit status 0"; fi
# The shim reads the last {"level":"error"} line of --log FILE into this message.
expect_in "run: runtime error message (from the --log JSON) reaches ctr" "/nonexistent" "$(cat "$T/err")"
expect_eq "run: failed container leaves no container record" "" "$(ct container ls -q 2>/dev/null | grep -x c-missing)"

out=$(tmo script -qec "ctr --address $T/containerd.sock --namespace $NS run --rm -t --runc-binary $RT --runc-root $T/runc-root --fifo-dir $T/fifo $IMG c-tty sh -c 'tty; exit 4'" /dev/null </dev/null 2>&1)
rc=$?
expect_eq "run -t: exit status" 4 "$rc"
expect_in "run -t: terminal" /dev/pts/ "$out"

# --- detached task: exec, ps, pause, kill, delete --------------------------------------------
# After `ctr run -d` returns nobody reads the container's output: report through a bind mount.
crun -d --memory-limit 67108864 --mount "type=bind,src=$T/vol,dst=/data,options=rbind:rw" "$IMG" c-main \
	sh -c 'trap "echo got-term > /data/term; exit 0" TERM; while :; do sleep 0.2; done' >"$T/main.out" 2>&1 </dev/null
expect_eq "run -d: exit status 0" 0 $?
sleep 0.3
expect_eq "run -d: task RUNNING" RUNNING "$(task_status c-main)"
pid=$(task_pid c-main)
check "run -d: task pid is a live host process" "pid '$pid'" alive "$pid"
if [ -d /sys/fs/cgroup/memory ]; then
	expect_eq "run --memory-limit (cgroup /$NS/c-main)" 67108864 \
		"$(cat /sys/fs/cgroup/memory/$NS/c-main/memory.limit_in_bytes 2>/dev/null)"
fi

out=$(cexec --exec-id e1 c-main sh -c 'echo in-exec; exit 5' 2>&1 </dev/null); rc=$?
expect_eq "task exec: exit status" 5 "$rc"
expect_eq "task exec: stdout" in-exec "$out"

out=$(cexec --exec-id e2 --cwd /tmp --user 1000 c-main sh -c 'echo $(pwd) $(id -u)' 2>&1 </dev/null)
expect_eq "task exec --cwd/--user" "/tmp 1000" "$out"

out=$(echo exec-in | cexec --exec-id e3 c-main cat 2>&1)
expect_eq "task exec: stdin" exec-in "$out"

out=$(tmo script -qec "ctr --address $T/containerd.sock --namespace $NS task exec -t --fifo-dir $T/fifo --exec-id e4 c-main sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1)
rc=$?
expect_eq "task exec -t: exit status" 6 "$rc"
expect_in "task exec -t: terminal" /dev/pts/ "$out"

cexec --exec-id e5 c-main /nonexistent >/dev/null 2>&1 </dev/null
rc=$?
if [ $rc -ne 0 ]; then ok "task exec: missing executable fails"; else notok "task exec: missing executable fails" "exit status 0"; fi

cexec -d --exec-id e6 c-main sleep 300 >/dev/null 2>&1 </dev/null
sleep 0.3
out=$(ct task ps c-main 2>&1)
n=$(echo "$out" | awk 'NR > 1' | wc -l)
if [ "$n" -ge 3 ]; then ok "task ps (runtime ps --format json)"; else notok "task ps (runtime ps --format json)" "$(echo "$out" | tr '\n' '|')"; fi
expect_in "task ps: lists the init pid" "$pid" "$out"

ct task kill --exec-id e6 -s KILL c-main >/dev/null 2>&1
sleep 0.3
n2=$(ct task ps c-main 2>/dev/null | awk 'NR > 1' | wc -l)
expect_eq "task kill --exec-id: exec process gone" $((n - 1)) "$n2"

if ct task pause c-main >"$T/pause.out" 2>&1; then
	expect_eq "task pause: PAUSED" PAUSED "$(task_status c-main)"
	[ -f /sys/fs/cgroup/freezer/$NS/c-main/freezer.state ] &&
		expect_eq "task pause: freezer.state" FROZEN "$(cat /sys/fs/cgroup/freezer/$NS/c-main/freezer.state)"
	ct task resume c-main >/dev/null 2>&1
	expect_eq "task resume: RUNNING" RUNNING "$(task_status c-main)"
else
	notok "task pause" "$(tail -n 2 "$T/pause.out")"
fi

ct task kill c-main >/dev/null 2>&1
i=0; while [ "$(task_status c-main)" = RUNNING ] && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
expect_eq "task kill (SIGTERM): task STOPPED" STOPPED "$(task_status c-main)"
expect_eq "task kill (SIGTERM): the handler ran" got-term "$(cat "$T/vol/term" 2>/dev/null)"
expect_eq "task delete: exit status 0" 0 "$(exit_of c-main)"
check "task delete: container process gone" "pid '$pid' alive" gone "$pid"
expect_eq "task delete: container cgroup removed" "" "$(cgroup_leftovers "/$NS/c-main")"
ct container delete c-main >/dev/null 2>&1

crun -d "$IMG" c-kill sleep 300 >/dev/null 2>&1 </dev/null
sleep 0.3
ct task kill -s KILL c-kill >/dev/null 2>&1
i=0; while [ "$(task_status c-kill)" = RUNNING ] && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
expect_eq "task kill -s KILL: exit status 137" 137 "$(exit_of c-kill)"
ct container delete c-kill >/dev/null 2>&1

crun -d "$IMG" c-all sh -c 'sleep 300 & sleep 300 & wait' >/dev/null 2>&1 </dev/null
sleep 0.3
ct task kill --all -s KILL c-all >/dev/null 2>&1
i=0; while [ "$(task_status c-all)" = RUNNING ] && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
expect_eq "task kill --all: task STOPPED" STOPPED "$(task_status c-all)"
ct task delete c-all >/dev/null 2>&1
ct container delete c-all >/dev/null 2>&1

expect_eq "no containers left" "" "$(ct container ls -q 2>&1)"

finish containerd
