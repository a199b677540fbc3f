#!/bin/sh
# tests/deps.sh [sources|build|all|fuzz]: install what sandbox needs to build
# and test, from Debian's packages, when it is missing. Debian 12, as root.
#   sources  a deb-src entry for bookworm (BearSSL is built from its source)
#   build    sources, plus the compilers (targets/toolchain.sh does the rest)
#   all      build, plus everything the tests and benchmarks run
#   fuzz     build, plus clang and its libFuzzer runtime (make fuzz; not
#            needed by make check, whose fuzz replay builds with gcc)
set -eu
export DEBIAN_FRONTEND=noninteractive
what=${1:-all}

say() { printf 'deps: %s\n' "$*" >&2; }

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

# apt-get update exits 100 on this mirror once foreign architectures are
# added (a security index of unexpected size); the indexes needed still load.
apt_update() {
	rc=0
	apt-get update -qq >/dev/null 2>&1 || rc=$?
	[ $rc = 0 ] || [ $rc = 100 ] || { say "apt-get update failed ($rc)"; return 1; }
}

need() {
	missing=""
	for p; do installed "$p" || missing="$missing $p"; done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	# shellcheck disable=SC2086
	apt-get install -qq -y -o DPkg::Lock::Timeout=600 $missing >/dev/null 2>&1 ||
		{ apt_update && apt-get install -qq -y -o DPkg::Lock::Timeout=600 $missing >/dev/null; }
}

# The deb-src entry names the same mirror as the machine's own sources.
sources() {
	grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
	uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	say "adding a deb-src entry for $uri"
	cat >/etc/apt/sources.list.d/bookworm-src.sources <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt_update
}

build() {
	sources
	need make gcc musl-tools dpkg-dev linux-libc-dev zlib1g-dev libzstd-dev
}

all() {
	build
	# tests: the demo and test rootfs, the VM (initramfs, QEMU), tools the
	# scripts use; benchmarks: the runtimes compared with
	need busybox-static cpio gzip xz-utils qemu-system-x86 iproute2 procps \
		util-linux crun runc bubblewrap podman containerd umoci zstd
	# the pull tests: registries, image pushes, certificates, helper servers
	need docker-registry skopeo openssl apache2-utils python3
}

fuzz() {
	build
	need clang libclang-rt-dev
}

case $what in
sources | build | all | fuzz) $what ;;
*) say "usage: $0 [sources|build|all|fuzz]"; exit 2 ;;
esac
