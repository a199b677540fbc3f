# shellcheck shell=bash disable=SC2016 # '$(TOP)' is meant literally
# targets/lib.sh: sourced by the scripts in targets/. Loads a target description
# (targets/TARGET.conf) into shell variables and wraps apt for the installers.
# Build outputs are under build/ relative to the project top, so scripts resolve their
# own path arguments first and then call to_top.

set -eu

TDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$TDIR")
ALL_TARGETS="x86_64 aarch64 armv7 riscv64 mipsel"
export DEBIAN_FRONTEND=noninteractive

say() { printf '%s\n' "$*" >&2; }
die() { say "${0##*/}: $*"; exit 1; }
to_top() { cd "$TOP"; }

# load_conf TARGET: each KEY=value line becomes a shell variable, as make's include reads it;
# $(TOP) in a value is the project top, as in targets.mk.
load_conf() {
	local key val conf=$TDIR/${1:-}.conf
	[ -n "${1:-}" ] && [ -f "$conf" ] || die "unknown target '${1:-}' (one of: $ALL_TARGETS)"
	TARGET=$1
	while IFS='=' read -r key val; do
		case $key in '' | \#*) continue ;; esac
		printf -v "$key" '%s' "${val//'$(TOP)'/$TOP}"
	done <"$conf"
	# shellcheck disable=SC2034 # for the scripts that source this file
	OUT=build/$TARGET
}

# now: seconds since the epoch with 0.1 s resolution, for the timings the scripts print.
now() { date +%s.%N | cut -c1-12; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# apt-get update exits 100 on this mirror once armhf is added (a bookworm-security index
# with an unexpected size); the indexes that matter still load, so 100 is tolerated.
apt_update() {
	local rc=0
	apt-get update -qq >/dev/null 2>&1 || rc=$?
	[ $rc = 0 ] && return 0
	[ $rc = 100 ] && say "apt-get update exited 100 (tolerated)" && return 0
	say "apt-get update failed ($rc)"
	return 1
}

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

# need_pkgs PKG...: install the packages that are missing, refreshing the indexes once if needed.
need_pkgs() {
	local p missing=""
	for p; do installed "$p" || missing="$missing $p"; done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	# shellcheck disable=SC2086
	apt-get install -qq -y -o DPkg::Lock::Timeout=600 $missing >/dev/null ||
		{ apt_update && apt-get install -qq -y -o DPkg::Lock::Timeout=600 $missing >/dev/null; }
}

# need_arch ARCH: make dpkg/apt know a foreign architecture (amd64 is native).
need_arch() {
	[ "$1" = "$(dpkg --print-architecture)" ] && return 0
	dpkg --print-foreign-architectures | grep -qx "$1" && return 0
	say "adding architecture $1"
	dpkg --add-architecture "$1"
	apt_update
}

# source_dir PKG: Debian's source of PKG unpacked once under build/src, shared by all targets.
# Needs a deb-src entry for bookworm (tests/deps.sh sources writes one).
source_dir() {
	local d
	mkdir -p build/src
	(
		flock 9
		cd build/src
		ls -d "$1"-[0-9]*/ >/dev/null 2>&1 && exit 0
		need_pkgs dpkg-dev
		apt-cache showsrc "$1" 2>/dev/null | grep -q . || apt_update
		apt-get -o APT::Sandbox::User=root source -qq "$1" >/dev/null
	) 9>build/src/.lock || die "cannot get Debian's source of $1 (is there a deb-src entry for bookworm?)"
	d=$(ls -d build/src/"$1"-[0-9]*/ | head -n 1)
	printf '%s\n' "${d%/}"
}
