#!/bin/sh
# tests/tools/mkimage.sh OUT NAME[:TAG] [--zstd|--plain] DIR...: an OCI image
# layout in OUT with one layer per DIR (bottom first), each the tar of the
# directory's contents (whiteout files .wh.NAME go in as they are; GNU tar
# where there is one, reproducibly, else busybox's), gzip-compressed unless
# --plain. Prints the manifest digest.
set -eu
out=$1 name=$2
shift 2
comp=gzip
case ${1:-} in --zstd) comp=zstd; shift ;; --plain) comp=none; shift ;; esac
mkdir -p "$out/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
tmp=$(mktemp -d)
blob() { # blob FILE: moves it into blobs/, prints its sha256
	d=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$out/blobs/sha256/$d"
	echo "$d"
}
layers= diffs=
for dir; do
	if tar --version 2>/dev/null | grep -q GNU; then
		tar --numeric-owner --xattrs --pax-option=delete=atime,delete=ctime --sort=name -C "$dir" -cf "$tmp/l.tar" .
	else
		tar -C "$dir" -cf "$tmp/l.tar" .
	fi
	diff=$(sha256sum "$tmp/l.tar" | cut -d' ' -f1)
	case $comp in
	gzip) gzip -n -6 "$tmp/l.tar" 2>/dev/null || gzip -6 "$tmp/l.tar"; f=$tmp/l.tar.gz; mt=application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd) zstd -q --rm -3 "$tmp/l.tar"; f=$tmp/l.tar.zst; mt=application/vnd.oci.image.layer.v1.tar+zstd ;;
	none) f=$tmp/l.tar; mt=application/vnd.oci.image.layer.v1.tar ;;
	esac
	size=$(stat -c %s "$f")
	d=$(blob "$f")
	layers="$layers${layers:+,}{\"mediaType\":\"$mt\",\"digest\":\"sha256:$d\",\"size\":$size}"
	diffs="$diffs${diffs:+,}\"sha256:$diff\""
done
case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; armv7l) arch=arm ;; riscv64) arch=riscv64 ;; mips*) arch=mipsle ;; *) arch=$(uname -m) ;; esac
printf '{"created":"2026-01-01T00:00:00Z","architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","FROM_IMAGE=yes"],"Cmd":["sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[]}' \
	"$arch" "$diffs" >"$tmp/config.json"
csize=$(stat -c %s "$tmp/config.json")
cd=$(blob "$tmp/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
	"$cd" "$csize" "$layers" >"$tmp/manifest.json"
msize=$(stat -c %s "$tmp/manifest.json")
md=$(blob "$tmp/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}\n' \
	"$md" "$msize" "$name" "${name##*:}" >"$out/index.json"
rm -rf "$tmp"
echo "sha256:$md"
