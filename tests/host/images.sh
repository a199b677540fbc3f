#!/bin/sh
# Host tests: the image store, load, images, inspect, rmi, run --image,
# commit, export, unpack; hostile and damaged input; a kill during load.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
mkimage=$(cd "$(dirname "$0")/../tools" && pwd)/mkimage.sh
ST=$T/store
sb() { "$SANDBOX" --store "$ST" --root "$T/state" "$@"; }
sha() { sha256sum | cut -d' ' -f1; }
layer_dirs() { ls "$ST/layers" | grep -c '^[0-9a-f]\{64\}$'; }
mktar() { tar --numeric-owner --xattrs --pax-option=delete=atime,delete=ctime --sort=name -C "$1" -cf - .; } # as mkimage.sh

# --- images made here: a busybox base, and layers on top of it
mkdir -p "$T/l2/etc" "$T/l2/data/keep" "$T/l3/data" "$T/lx/etc"
cp -a "$T/rootfs/." "$T/base/" 2>/dev/null || { mkdir -p "$T/base" && cp -a "$T/rootfs/." "$T/base/"; }
mkdir -p "$T/base/data/old" "$T/base/tmp"
echo old >"$T/base/data/old/file"
echo gone >"$T/base/etc/gone"
echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>"$T/base/etc/passwd"
echo "web:x:1000:1000::/:/bin/sh" >>"$T/base/etc/passwd"
echo "staff:x:50:web" >>"$T/base/etc/group"
echo "web:x:1000:" >>"$T/base/etc/group"
echo motd2 >"$T/l2/etc/motd"
touch "$T/l2/etc/.wh.gone"                  # deletes /etc/gone
touch "$T/l2/data/.wh..wh..opq"             # /data: only this layer's
echo new >"$T/l2/data/keep/file"
ln "$T/l2/etc/motd" "$T/l2/etc/motd.hard"
ln -s ../etc/motd "$T/l2/data/link"
long=$(printf 'x%.0s' $(seq 1 150))
echo long >"$T/l2/data/$long"
setfattr -n user.sbt -v yes "$T/l2/etc/motd" 2>/dev/null || true
echo three >"$T/l3/data/three"

m1=$("$mkimage" "$T/oci1" docker.io/library/bb:1 "$T/base" "$T/l2")
check "load an OCI layout directory" sb load "$T/oci1"
expect_match "images lists it, in Docker's short form" '^bb +1 +[0-9a-f]{12} ' "$(sb images)"
out=$(sb inspect bb:1)
d1=$(mktar "$T/base" | sha)
d2=$(mktar "$T/l2" | sha)
c2=$(printf 'sha256:%s sha256:%s' "$d1" "$d2" | sha)
expect_match "inspect: diff_ids are the tars' digests, chainIDs as Docker computes them" \
	"\"diff_id\":\"sha256:$d1\",\"chain_id\":\"sha256:$d1\".*\"diff_id\":\"sha256:$d2\",\"chain_id\":\"sha256:$c2\"" "$out"
expect "one directory per layer, by chainID" "2" "$(layer_dirs)"

# the same image from an OCI archive (a tar of the layout): nothing new stored
tar -C "$T/oci1" -cf "$T/oci1.tar" .
check "load an OCI archive" sb load --name other/bb:tar "$T/oci1.tar"
expect "layers shared by chainID: stored once" "2" "$(layer_dirs)"
expect "--name names it; the same image id" "$(sb images -q | head -n 1)" "$(sb images -q | tail -n 1)"

# docker save: manifest.json, a config by path, uncompressed layer tars
mkdir -p "$T/dsave"
mktar "$T/base" >"$T/dsave/l1.tar"
mktar "$T/l3" >"$T/dsave/l3.tar"
d3=$(sha <"$T/dsave/l3.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
	"$d1" "$d3" >"$T/dsave/cfg.json"
echo '[{"Config":"cfg.json","RepoTags":["docker.io/peers/debian:bookworm"],"Layers":["l1.tar","l3.tar"]}]' >"$T/dsave/manifest.json"
tar -C "$T/dsave" -cf "$T/dsave.tar" manifest.json cfg.json l1.tar l3.tar
out=$(sb load "$T/dsave.tar" 2>&1)
expect "load a docker save archive, named by its RepoTags" "Loaded image: peers/debian:bookworm" "$out"
expect "its base layer is the one already stored" "3" "$(layer_dirs)"

# zstd layers (application/vnd.oci.image.layer.v1.tar+zstd)
mkdir -p "$T/lz"
echo zstd-layer >"$T/lz/zfile"
"$mkimage" "$T/ociz" zz:1 --zstd "$T/base" "$T/lz" >/dev/null
check "load an image with zstd layers" sb load "$T/ociz"
expect "a zstd layer, unpacked" "zstd-layer" "$(sb run --image zz:1 --rm z1 -- cat /zfile 2>&1)"
sb rmi zz:1 >/dev/null

# a layout whose name is a bare tag: nameless unless --name
m4=$("$mkimage" "$T/oci4" latest "$T/l3")
sed -i 's/"io.containerd.image.name":"latest",//' "$T/oci4/index.json"
expect_match "a bare tag and no --name: loaded by id" '^Loaded image ID: sha256:[0-9a-f]{64}$' "$(sb load "$T/oci4")"

# --- a multi-platform index: this machine's image, or --platform's
cp -a "$T/oci1" "$T/multi"
man=$(cat "$T/multi/blobs/sha256/${m1#sha256:}")
cfgd=$(echo "$man" | sed 's/.*"config":{[^}]*"digest":"sha256:\([0-9a-f]*\)".*/\1/')
sed 's/"architecture":"[a-z0-9]*"/"architecture":"s390x"/' "$T/multi/blobs/sha256/$cfgd" >"$T/cfg.s390x"
c390=$(sha <"$T/cfg.s390x")
cp "$T/cfg.s390x" "$T/multi/blobs/sha256/$c390"
echo "$man" | sed "s/$cfgd/$c390/; s/\"size\":[0-9]*}/\"size\":$(stat -c %s "$T/cfg.s390x")}/" >"$T/man.s390x"
m390=$(sha <"$T/man.s390x")
cp "$T/man.s390x" "$T/multi/blobs/sha256/$m390"
arch=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"os":"linux","architecture":"s390x"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"%s"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}' \
	"$m390" "$(stat -c %s "$T/man.s390x")" "$m1" "$(stat -c %s "$T/multi/blobs/sha256/${m1#sha256:}")" "$arch" "$m390" >"$T/multi/index.json"
sb load --name multi:native "$T/multi" >/dev/null
expect_match "multi-platform index: this machine's image" "\"architecture\":\"$arch\"" "$(sb inspect multi:native)"
sb load --platform linux/s390x --name multi:s390x "$T/multi" >/dev/null
expect_match "--platform picks another" '"architecture":"s390x"' "$(sb inspect multi:s390x)"
rc=0
sb load --platform linux/mips64 --name multi:no "$T/multi" >"$T/noplat.out" 2>&1 || rc=$?
expect_match "no image for the platform: refused" 'no image for linux/mips64' "$rc $(cat "$T/noplat.out")"

# --- damaged and hostile input: refused, nothing of it kept
mkdir -p "$T/l4"
echo four >"$T/l4/four"
mbad=$("$mkimage" "$T/bad" docker.io/library/bad:1 "$T/base" "$T/l4")
# the top layer's blob: the base is in the store, and rightly not read
blob=$(sed 's/.*"digest":"sha256:\([0-9a-f]*\)","size":[0-9]*}\]}$/\1/' "$T/bad/blobs/sha256/${mbad#sha256:}")
flip_byte "$T/bad/blobs/sha256/$blob" 100
before=$(layer_dirs)
rc=0
sb load "$T/bad" >"$T/bad.out" 2>&1 || rc=$?
expect_match "a tampered blob: refused, naming it" "^1 .*blob sha256:$blob: its content has digest sha256:" "$rc $(cat "$T/bad.out")"
expect "a tampered blob: no layer kept" "$before" "$(layer_dirs)"
expect "a tampered blob: no image recorded" "" "$(sb images | grep '^bad ')"

mkdir -p "$T/evil"
( cd "$T/evil" && mkdir -p d && echo pwned >d/f && tar --transform 's,^d/f,../../../../../../tmp/sbt-escape-'$$',' -cf ../evil.tar d/f )
ed=$(sha <"$T/evil.tar")
mkdir -p "$T/evilimg/blobs/sha256"
cp "$T/evil.tar" "$T/evilimg/blobs/sha256/$ed"
printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$arch" "$ed" >"$T/evil.cfg"
ec=$(sha <"$T/evil.cfg"); cp "$T/evil.cfg" "$T/evilimg/blobs/sha256/$ec"
printf '{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":1}]}' "$ec" "$ed" >"$T/evil.man"
em=$(sha <"$T/evil.man"); cp "$T/evil.man" "$T/evilimg/blobs/sha256/$em"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"annotations":{"io.containerd.image.name":"evil:1"}}]}' "$em" >"$T/evilimg/index.json"
rc=0
sb load "$T/evilimg" >"$T/evil.out" 2>&1 || rc=$?
expect_match "a layer writing with ..: refused" '^1 .*tar: entry .*\.\.' "$rc $(cat "$T/evil.out")"
check "... and nothing written outside the store" test ! -e "/tmp/sbt-escape-$$"

head -c 20000 "$T/oci1.tar" >"$T/trunc.tar"
rc=0
sb load --name trunc:1 "$T/trunc.tar" >"$T/trunc.out" 2>&1 || rc=$?
expect_match "a truncated archive: refused" '^1 .*trunc.tar' "$rc $(cat "$T/trunc.out")"

# --- a kill during load leaves a store the next command accepts
mkdir -p "$T/big"
head -c 40000000 /dev/urandom >"$T/big/blob"
"$mkimage" "$T/bigimg" big:1 "$T/big" >/dev/null
sb load "$T/bigimg" >/dev/null 2>&1 &
bg=$!
i=0; while [ -z "$(ls "$ST/tmp" 2>/dev/null)" ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
kill -9 $bg 2>/dev/null; wait $bg 2>/dev/null
check "after kill -9 during load: images works" sb images
incomplete=0
for l in "$ST"/layers/*/; do [ -f "$l/meta" ] || case $l in */l/) ;; *) incomplete=$((incomplete + 1)) ;; esac; done
expect "after kill -9: no half layer visible" 0 "$incomplete"
check "after kill -9: the load completes" sb load "$T/bigimg"
expect "the next writer emptied tmp/" "" "$(ls "$ST/tmp")"

# --- run --image: the process from the image config, Docker's flags
out=$(sb run --image bb:1 --rm r1 -- sh -c 'cat /etc/motd; ls /etc/gone 2>&1; ls /data; echo $FROM_IMAGE $HOSTNAME; pwd; cat /etc/hostname; grep -c r1 /etc/hosts' 2>&1)
expect "run --image: layers, whiteouts, opaque dirs, env, hostname, init layer" "motd2
ls: /etc/gone: No such file or directory
keep
link
$long
yes r1
/
r1
1" "$out"
out=$(sb run --image bb:1 --rm r2 -- sh -c 'stat -c "%h" /etc/motd.hard; readlink /data/link' 2>&1)
expect "run --image: hardlinks and symlinks" "2
../etc/motd" "$out"
mkdir -p "$T/vol"
echo vol >"$T/vol/f"
out=$(sb run --image bb:1 --rm -e FOO=bar -w /data -u web --hostname h1 -v "$T/vol:/mnt/vol:ro" --tmpfs /scratch:size=1m \
	--read-only r3 -- sh -c 'echo $FOO; pwd; id -u; id -G; hostname; cat /mnt/vol/f; touch /mnt/vol/x 2>&1; touch /x 2>&1; touch /scratch/x && echo scratch-ok' 2>&1)
expect_match "run --image: -e -w -u NAME (groups from /etc/group) --hostname -v :ro --tmpfs --read-only" "^bar
/data
1000
1000 50
h1
vol
touch: /mnt/vol/x: Read-only file system
touch: /x: Read-only file system
scratch-ok$" "$out"
out=$(sb run --image bb:1 --rm --entrypoint /bin/echo r4 -- from entrypoint 2>&1)
expect "run --image --entrypoint" "from entrypoint" "$out"
out=$(sb run --image bb:1 --rm --init r5 -- sh -c 'echo $$; cat /proc/1/comm' 2>&1)
expect "run --image --init" "2
sandbox" "$out"
if grep -q ' - cgroup cgroup .*memory' /proc/self/mountinfo; then
	out=$(sb run --image bb:1 --rm -m 48m --cpus 0.5 --pids-limit 33 r6 -- sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max' 2>&1)
	expect "run --image -m --cpus --pids-limit" "50331648
50000
33" "$out"
fi
out=$(sb run --image bb:1 --rm r7 -- sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status' 2>&1)
expect "run --image: Docker's capabilities, no_new_privs, seccomp" "CapEff:	00000000a80425fb
NoNewPrivs:	1
Seccomp:	2" "$out"
out=$(sb run --image bb:1 --rm --cap-drop ALL --cap-add NET_RAW --security-opt seccomp=unconfined r8 -- sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status' 2>&1)
expect "run --image --cap-drop ALL --cap-add --security-opt seccomp=unconfined" "CapEff:	0000000000002000
Seccomp:	0" "$out"
expect "--rm: storage and state gone" ":" "$(ls "$ST/containers"):$(ls "$T/state" 2>/dev/null)"
rc=0
sb run --image nosuch:1 r9 >"$T/r9.out" 2>&1 || rc=$?
expect_match "run --image of an image not in the store: 125" '^125 .*image "nosuch:1": not in the store' "$rc $(cat "$T/r9.out")"

# --- commit, export, unpack
sb run --image bb:1 c1 -- sh -c 'echo changed >/etc/motd; mkdir /newdir; rm /bin/vi; echo 10.9.9.9 x >>/etc/hosts' >/dev/null 2>&1
expect "without --rm the container stays, stopped" stopped "$(sb state c1 | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')"
check "commit" sb commit c1 bb:2
out=$(sb run --image bb:2 --rm c2 -- sh -c 'cat /etc/motd; ls -d /newdir; ls /bin/vi 2>&1; grep -c 10.9.9.9 /etc/hosts' 2>&1)
expect "commit: changes and deletions in the new image; the init layer's files left out" "changed
/newdir
ls: /bin/vi: No such file or directory
0" "$out"
sb inspect bb:2 >"$T/i2"
sb commit c1 bb:3 >/dev/null
expect "commit: the same changes give the same diff_id" "$(sed 's/.*"diff_id":"\([^"]*\)".*/\1/' "$T/i2")" "$(sb inspect bb:3 | sed 's/.*"diff_id":"\([^"]*\)".*/\1/')"
sb export c1 >"$T/c1.tar"
expect_match "export: the container's files, changes included" "^changed$" "$(tar -xOf "$T/c1.tar" etc/motd)"
expect "export: deletions applied, no whiteout in the archive" "0 0" "$(tar -tf "$T/c1.tar" | grep -c '^bin/vi$') $(tar -tf "$T/c1.tar" | grep -c '\.wh\.')"
rc=0
sb rmi "$(sb images -q | head -n 1)" >"$T/rmi.out" 2>&1 || rc=$?
expect_match "rmi of an image a container uses: refused" '^1 .*container "c1" uses it' "$rc $(cat "$T/rmi.out")"
expect "rmi of a name, when others name the image: untagged" "Untagged: other/bb:tar" "$(sb rmi other/bb:tar)"
check "delete the container: its storage too" sb delete c1
expect "delete: no storage left" "" "$(ls "$ST/containers")"

mkdir -p "$T/unpacked"
check "unpack IMAGE DIR" sb unpack bb:1 "$T/unpacked"
if command -v umoci >/dev/null; then
	umoci unpack --image "$T/oci1:1" "$T/umoci" >"$T/umoci.out" 2>&1 || cat "$T/umoci.out"
	listing() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G %s %l\n' | grep -v '^\.' | sort); }
	expect "unpack: the same tree as umoci unpack" "$(listing "$T/umoci/rootfs")" "$(listing "$T/unpacked")"
else
	skip "unpack compared with umoci: umoci not installed"
fi

# --- more layers than overlayfs is given: the bottom ones squashed
# 150 layers: the busybox base, then one file each; layer 20 deletes the
# file of layer 5 (both squashed), layer 100 that of layer 10 (across the
# squash), layer 140 makes /d opaque (its files from layer 3 and 130 go)
mkdir -p "$T/many"
many=$T/base
for i in $(seq 2 150); do
	mkdir -p "$T/many/$i/layers"
	echo "$i" >"$T/many/$i/layers/$i"
	many="$many $T/many/$i"
done
mkdir -p "$T/many/3/d" "$T/many/130/d" "$T/many/140/d"
echo old >"$T/many/3/d/three" && echo old >"$T/many/130/d/onethirty" && echo new >"$T/many/140/d/new"
touch "$T/many/140/d/.wh..wh..opq" "$T/many/20/layers/.wh.5" "$T/many/100/layers/.wh.10"
# shellcheck disable=SC2086
"$mkimage" "$T/many-oci" many:1 $many >/dev/null
check "150 layers: load" sb load "$T/many-oci"
rc=0
out=$(sb run --image many:1 --rm many1 -- sh -c 'ls /layers | wc -l; cat /layers/150 /layers/2; ls /layers/5 /layers/10 2>&1 | wc -l; ls /d' 2>&1) || rc=$?
expect "150 layers: a container runs, the bottom layers squashed, whiteouts across the squash applied" "0: 147
150
2
2
new" "$rc: $out"
expect "150 layers: the squash is kept in the store, once" 1 "$(ls -d "$ST"/layers/*/flat | wc -l)"
rc=0
out=$(sb run --image many:1 --rm many2 -- cat /layers/33 2>&1) || rc=$?
expect "150 layers: a second container shares the squash" "0: 33 1" "$rc: $out $(ls -d "$ST"/layers/*/flat | wc -l)"
sb rmi many:1 >/dev/null
expect "150 layers: rmi removes the squash and its short name" "0 0" \
	"$(ls -d "$ST"/layers/*/flat 2>/dev/null | wc -l) $(ls "$ST/layers/l" | grep -c '^[0-9a-f]\{16\}f$')"

# --- rmi and the GC: layers go when nothing uses them
for n in bb:2 bb:3 multi:native multi:s390x big:1; do sb rmi "$n" >/dev/null; done
before=$(layer_dirs)
sb rmi bb:1 >/dev/null
expect "rmi bb:1: the base layer peers/debian shares stays" "$((before - 1))" "$(layer_dirs)"
sb rmi peers/debian:bookworm >/dev/null
for id in $(sb images -q); do sb rmi "$id" >/dev/null; done
expect "the last rmi: no layer, blob or image left" "0 0" "$(layer_dirs) $(ls "$ST/blobs/sha256" | wc -l)"
