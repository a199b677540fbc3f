# tests/lib.sh: sourced by the test scripts, on the host (bash or dash) and in
# the VM (busybox sh). Each check prints one line:
#   ok - NAME    not ok - NAME: why    skip - NAME: why
# and anything else is log. Tests make their bundles from cfg_* variables
# (write_config) and a busybox rootfs (make_rootfs), under $T, which they own.

: "${SANDBOX:=sandbox}"
: "${T:=/tmp/sandbox-test.$$}"
mkdir -p "$T"

ok() { echo "ok - $*"; }
fail() { echo "not ok - $*"; }
skip() { echo "skip - $*"; }

# check NAME CMD...: ok when CMD succeeds.
check() {
	name=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$name"
	else
		fail "$name: '$*' failed: $(head -c 300 "$T/check.out" | tr '\n' ' ')"
	fi
}

# expect NAME WANT GOT: ok when they are equal.
expect() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1: want '$2', got '$(printf %s "$3" | head -c 300 | tr '\n' ' ')'"
	fi
}

# expect_match NAME PATTERN TEXT: ok when a line of TEXT matches the grep -E
# PATTERN; a PATTERN of several lines must match that many lines in a row
# (^ and $ then mean the start and end of the whole text).
expect_match() {
	rs=$(printf '\036')
	case $2 in
	*"
"*)	set -- "$1" "$(printf '%s' "$2" | tr '\n' "$rs")" "$(printf '%s' "$3" | tr '\n' "$rs")" ;;
	esac
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		fail "$1: '$2' not in '$(printf %s "$3" | head -c 300 | tr '\n' ' ')'"
	fi
}

# flip_byte FILE OFFSET: changes the byte there (to another value, always).
flip_byte() {
	b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $(((${b:-0} + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# A busybox rootfs: the static busybox and a link per applet.
make_rootfs() {
	dir=$1
	[ -x "$dir/bin/busybox" ] && return 0
	mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/tmp" "$dir/root"
	bb=${BUSYBOX:-$(command -v busybox)}
	case $bb in /*) ;; *) bb=/bin/busybox ;; esac # ash names its applets
	cp "$bb" "$dir/bin/busybox"
	for a in $("$dir/bin/busybox" --list); do
		[ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$dir/etc/passwd"
	echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>"$dir/etc/passwd"
	echo "root:x:0:" >"$dir/etc/group"
}

cfg_reset() {
	cfg_args='"sh"'
	cfg_env='"PATH=/bin"'
	cfg_cwd=/
	cfg_uid=0
	cfg_gid=0
	cfg_user_extra=
	cfg_process_extra=
	cfg_caps=
	cfg_root=
	cfg_readonly=false
	cfg_hostname=sbtest
	cfg_mounts=
	cfg_namespaces='{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}'
	cfg_resources=
	cfg_linux_extra=
	cfg_top_extra=
	cfg_terminal=
	cfg_nnp=
	cfg_masked='"/proc/kcore","/proc/keys","/proc/timer_list","/sys/firmware","/proc/acpi"'
	cfg_ro_paths='"/proc/sys","/proc/sysrq-trigger","/proc/bus"'
}
cfg_reset

default_caps='"CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"'

# write_config DIR: DIR/config.json from the cfg_* variables.
write_config() {
	mkdir -p "$1"
	caps=${cfg_caps:-"\"bounding\":[$default_caps],\"effective\":[$default_caps],\"permitted\":[$default_caps]"}
	cat >"$1/config.json" <<EOF
{
	"ociVersion": "${cfg_version:-1.2.0}",
	"process": {
		"terminal": ${cfg_terminal:-false},
		"user": { "uid": $cfg_uid, "gid": $cfg_gid ${cfg_user_extra:+, $cfg_user_extra} },
		"args": [ $cfg_args ],
		"env": [ $cfg_env ],
		"cwd": "$cfg_cwd",
		"capabilities": { $caps },
		${cfg_process_extra:+$cfg_process_extra,}
		"noNewPrivileges": ${cfg_nnp:-true}
	},
	"root": { "path": "${cfg_root:-$T/rootfs}", "readonly": $cfg_readonly },
	"hostname": "$cfg_hostname",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
		{ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
		  "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" ] },
		{ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
		  "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
		{ "destination": "/sys", "type": "sysfs", "source": "sysfs",
		  "options": [ "nosuid", "noexec", "nodev", "ro" ] },
		{ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "nodev", "mode=1777" ] }
		${cfg_mounts:+, $cfg_mounts}
	],
	"linux": {
		"namespaces": [ $cfg_namespaces ],
		"resources": { $cfg_resources },
		"maskedPaths": [ $cfg_masked ],
		"readonlyPaths": [ $cfg_ro_paths ]
		${cfg_linux_extra:+, $cfg_linux_extra}
	}
	${cfg_top_extra:+, $cfg_top_extra}
}
EOF
}

# run_ct NAME: runs bundle $T/NAME as container id sbt-NAME; output in
# $T/NAME.out (stdout and stderr), status in $rc.
run_ct() {
	rc=0
	"$SANDBOX" run --bundle "$T/$1" "sbt-$1-$$" >"$T/$1.out" 2>&1 || rc=$?
	out=$(cat "$T/$1.out")
}

# ct NAME ARGS-JSON: write_config with these args, then run_ct.
ct() {
	cfg_args=$2
	write_config "$T/$1"
	run_ct "$1"
}

# mounts of this mount namespace, to compare before and after
mount_count() { wc -l </proc/self/mountinfo; }
