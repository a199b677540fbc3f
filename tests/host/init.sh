#!/bin/sh
# Host tests: signals to the runtime reach the container; --init makes
# sandbox PID 1 inside, reaping zombies and forwarding signals.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"

# start_bg NAME [OPTIONS]: runs bundle NAME in the background, waits until
# its state exists; sets bg (runtime pid) and ctpid (container's pid 1).
start_bg() {
	name=$1
	shift
	"$SANDBOX" run "$@" --bundle "$T/$name" "sbt-$name-$$" >"$T/$name.out" 2>&1 &
	bg=$!
	i=0
	while [ ! -e "/run/sandbox/sbt-$name-$$/state.json" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	ctpid=$(sed 's/.*"pid":\([0-9]*\).*/\1/' "/run/sandbox/sbt-$name-$$/state.json" 2>/dev/null)
	sleep 0.2
}

finish_bg() {
	rc=0
	wait "$bg" || rc=$?
}

# SIGTERM to the runtime reaches PID 1 in the container, which traps it
cfg_args='"sh","-c","trap \"exit 42\" TERM; echo ready; while :; do sleep 0.05; done"'
write_config "$T/term"
start_bg term
kill -TERM "$bg"
finish_bg
expect "SIGTERM to the runtime reaches the container" 42 "$rc"

# killed by a signal: 128+N
cfg_args='"sleep","30"'
write_config "$T/kill9"
start_bg kill9
kill -KILL "$ctpid"
finish_bg
expect "killed by SIGKILL: status 137" 137 "$rc"

# --init: sandbox is PID 1, the program is its child
cfg_args='"sh","-c","cat /proc/1/cmdline | tr \"\\\\0\" \" \"; echo; echo $$"'
write_config "$T/init"
rc=0
"$SANDBOX" run --init --bundle "$T/init" "sbt-init-$$" >"$T/init.out" 2>&1 || rc=$?
expect_match "--init: sandbox is PID 1, the program PID 2" "^[^ ]*sandbox run --init .*
2$" "$(cat "$T/init.out")"

# --init reaps orphans: a grandchild whose parent exits becomes a zombie
# of PID 1 unless PID 1 reaps it
cfg_args='"sh","-c","sh -c \"sleep 0.2 & exit 0\"; sleep 1; ps -o stat,comm | grep -c ^Z"'
write_config "$T/reap"
rc=0
"$SANDBOX" run --init --bundle "$T/reap" "sbt-reap-$$" >"$T/reap.out" 2>&1 || rc=$?
expect "--init: orphans are reaped (no zombie left)" "0" "$(cat "$T/reap.out")"

# --init forwards signals to a program that has no handler
cfg_args='"sleep","30"'
write_config "$T/fwd"
start_bg fwd --init
kill -TERM "$bg"
finish_bg
expect "--init: SIGTERM reaches a program without a handler: status 143" 143 "$rc"

# --init passes the program's exit status
cfg_args='"sh","-c","exit 3"'
write_config "$T/istatus"
rc=0
"$SANDBOX" run --init --bundle "$T/istatus" "sbt-istatus-$$" >/dev/null 2>&1 || rc=$?
expect "--init: the program's exit status" 3 "$rc"
