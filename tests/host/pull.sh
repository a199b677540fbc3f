#!/bin/sh
# Host tests: sandbox pull against registries on loopback (Debian's
# docker-registry, images pushed with skopeo; helper servers for tokens,
# redirects, cut, stalled and re-chunked connections), made by
# tests/tools/regworld.sh. Formats and platforms, digests, auth, TLS
# failures, tampered and dropped blobs, a kill mid-pull, peak RSS.
# PULL_PORT_BASE (default 25440) moves the 16 loopback ports it uses.
. "$(dirname "$0")/../lib.sh"
T=$(cd "$T" && pwd)
RW_TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)
W=$T/world

for c in docker-registry skopeo openssl htpasswd python3; do
	if ! command -v $c >/dev/null; then
		skip "pull: $c is not installed (tests/deps.sh installs it)"
		exit 0
	fi
done
. "$RW_TOOLS/regworld.sh"

bg=
cleanup() {
	[ -n "$bg" ] && kill -9 "$bg" 2>/dev/null
	rw_stop
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# No credentials but the tests' own: a HOME without ~/.docker
unset DOCKER_CONFIG
export HOME="$T/home"
rm -rf "$W" "$T"/st-* "$T/home" "$T/home2"
mkdir -p "$HOME"

if ! { rw_certs && rw_start && rw_images; } >"$T/world.log" 2>&1; then
	fail "the registry world starts: $(grep -v '^$' "$T/world.log" | tail -n 3 | tr '\n' ' ')"
	exit 1
fi
ok "the registry world starts: certificates, 7 registries, helper servers, 8 images pushed"

TLS=localhost:$P_TLS
HTTP=127.0.0.1:$P_HTTP
CA=$W/ca.crt

# pull STORE ARGS...: sandbox --store $T/st-STORE pull ARGS; sets rc, out
# (stdout), err (stderr) and errs (stderr on one line)
pull() {
	s=$1
	shift
	rc=0
	"$SANDBOX" --store "$T/st-$s" pull "$@" >"$T/pull.out" 2>"$T/pull.err" || rc=$?
	out=$(cat "$T/pull.out")
	err=$(cat "$T/pull.err")
	errs=$(printf '%s' "$err" | tr '\n' ' ')
}
# pulled_manifest STORE: the stored manifest the last pull names, on one line
pulled_manifest() {
	tr '\n' ' ' <"$(blob "$1" "$(echo "$err" | sed -n 's/^Manifest \(sha256:[0-9a-f]*\).*/\1/p')")"
}
sb() { s=$1; shift; "$SANDBOX" --store "$T/st-$s" "$@"; }
# run_img STORE IMAGE CMD...: runs the image in a container (--rm), prints
# its output (called in $(...): the id cannot come from a counter)
run_img() {
	s=$1 img=$2
	shift 2
	"$SANDBOX" --store "$T/st-$s" --root "$T/state" run --image "$img" --rm \
		"pull-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" -- "$@" 2>&1
}
can_run=$([ "$(id -u)" = 0 ] && echo yes)
layer_dirs() { ls "$T/st-$1/layers" 2>/dev/null | grep -c '^[0-9a-f]\{64\}$'; }
# layers without their meta file (meta is written last: a half layer)
half_layers() {
	h=0
	for l in "$T/st-$1"/layers/*/; do
		case $l in */l/ | *"/*/") continue ;; esac
		[ -f "$l/meta" ] || h=$((h + 1))
	done
	echo $h
}
tmp_left() { ls -A "$T/st-$1/tmp" 2>/dev/null; }
short() { echo "$1" | cut -c1-19; } # sha256: and 12 hex digits, as progress shows
json_ok() { "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>&1; }
# the file a store keeps a blob in, and an image's architecture
blob() { echo "$T/st-$1/blobs/sha256/${2#sha256:}"; }
arch_of() { sb "$1" inspect "$2" | grep -o '"architecture":"[^"]*"'; }
# L1, L2, L3: big's layers ("sha256:... SIZE")
L1=$(echo "$BIG_LAYERS" | sed -n 1p) L2=$(echo "$BIG_LAYERS" | sed -n 2p) L3=$(echo "$BIG_LAYERS" | sed -n 3p)

# --- single-arch image over https, gzip
pull one --ca "$CA" "$TLS/test/busybox:amd64"
expect "pull over https: exit 0, the pulled name on stdout" "0 $TLS/test/busybox:amd64" "$rc $out"
expect_match "stderr: the manifest pulled, then the layer's size, time and rate" \
	"^Pulling $TLS/test/busybox:amd64
Manifest $AMD64_DIGEST
$(short "$AMD64_LAYER"): [0-9.]+[kMG]?B in ([0-9]+ ms|[0-9]+\.[0-9]s), [0-9.]+[kMG]?B/s$" "$err"
expect_match "images lists it" "^$TLS/test/busybox +amd64 +[0-9a-f]{12} " "$(sb one images)"
expect "one whole layer in the store, tmp/ empty" "1 0 " "$(layer_dirs one) $(half_layers one) $(tmp_left one)"
expect_match "the manifest is stored as served, its layer tar+gzip" 'layer.v1.tar\+gzip' "$(cat "$(blob one "$AMD64_DIGEST")")"
if [ -n "$can_run" ]; then
	expect "the pulled image runs: its files, its config's env" "root:x:0:0:root:/root:/bin/sh
pulltest:x:4242:4242:made by regworld.sh:/:/bin/sh
busybox" "$(run_img one "$TLS/test/busybox:amd64" sh -c 'cat /etc/passwd; echo $IMAGE')"
else
	skip "the pulled image runs: needs root"
fi

pull one -q --ca "$CA" "$TLS/test/busybox:amd64"
expect "-q: the name on stdout, nothing on stderr" "0 $TLS/test/busybox:amd64|" "$rc $out|$err"

if command -v script >/dev/null; then
	rm -rf "$T/st-tty"
	script -qec "'$SANDBOX' --store '$T/st-tty' pull --ca '$CA' '$TLS/test/busybox:amd64'" /dev/null >"$T/tty.out" 2>&1
	expect_match "on a terminal, the layer's line is rewritten in place" "$(printf '\r\033')\\[K$(short "$AMD64_LAYER"): " "$(cat "$T/tty.out")"
fi

n=$(layer_dirs one)
sb one rmi "$TLS/test/busybox:amd64" >/dev/null 2>&1
expect "rmi of the pulled image: its layer goes" "1 0" "$n $(layer_dirs one)"

# --- layers already present: not downloaded again (the proxy logs requests)
layer_gets() { grep -c "GET /v2/test/busybox/blobs/$AMD64_LAYER " "$W/log.log"; }
pull log --insecure-registry "127.0.0.1:$P_LOG" "127.0.0.1:$P_LOG/test/busybox:amd64"
expect "first pull through a logging proxy: the layer is fetched once" "0 1" "$rc $(layer_gets)"
manifest_gets=$(grep -c 'GET /v2/test/busybox/manifests/amd64 ' "$W/log.log")
pull log --insecure-registry "127.0.0.1:$P_LOG" "127.0.0.1:$P_LOG/test/busybox:amd64"
expect_match "second pull: the layer is \"already present\"" "^0 .* $(short "$AMD64_LAYER"): already present$" "$rc $errs"
expect "second pull: the manifest fetched again, the layer blob not" "$((manifest_gets + 1)) 1" \
	"$(grep -c 'GET /v2/test/busybox/manifests/amd64 ' "$W/log.log") $(layer_gets)"

# --- a multi-platform index: an attestation first, amd64, arm64/v8, arm/v7
if [ "$(uname -m)" = x86_64 ]; then
	pull multi --ca "$CA" "$TLS/test/multi"
	expect_match "index: the default platform picks linux/amd64; the attestation listed first is skipped" \
		"^0 .*Manifest $MULTI_AMD64 for linux/amd64 " "$rc $errs"
	expect "index: the amd64 image recorded" '"architecture":"amd64"' "$(arch_of multi "$TLS/test/multi")"
else
	skip "index: the default platform: this machine is not x86_64"
fi
pull multi --ca "$CA" --platform linux/arm64 "$TLS/test/multi"
expect_match "index: --platform linux/arm64 picks the arm64/v8 image" "^0 .*Manifest $MULTI_ARM64 for linux/arm64/v8 " "$rc $errs"
expect "index: its layer unpacked, its architecture recorded" "arm64 \"architecture\":\"arm64\"" \
	"$(cat "$T"/st-multi/layers/*/diff/etc/marker 2>/dev/null | grep -x arm64) $(arch_of multi "$TLS/test/multi")"
pull multi --ca "$CA" --platform linux/arm/v7 "$TLS/test/multi"
expect_match "index: --platform linux/arm/v7 picks the arm/v7 image" "^0 .*Manifest $MULTI_ARM for linux/arm/v7 " "$rc $errs"
pull multi --ca "$CA" --platform linux/riscv64 "$TLS/test/multi"
expect_match "index: linux/riscv64 refused, naming what the index has (not the attestation)" \
	"^1 .*sandbox: pull $TLS/test/multi: .*no image for linux/riscv64 in the index \(it has: linux/amd64, linux/arm64/v8, linux/arm/v7\)$" "$rc $errs"

# --- Docker's formats: a manifest list, schema 2; a zstd layer
pull list --ca "$CA" --platform linux/arm/v7 "$TLS/test/list"
expect_match "docker manifest list: --platform linux/arm/v7 picks its image" "^0 .*Manifest sha256:[0-9a-f]{64} for linux/arm/v7 " "$rc $errs"
pull list --ca "$CA" "$TLS/test/list"
expect_match "docker manifest list: the default platform, a docker schema 2 manifest" \
	'^0 .*"application/vnd.docker.distribution.manifest.v2\+json"' "$rc $(pulled_manifest list)"
pull v2s2 --ca "$CA" "$TLS/test/docker:v2s2"
expect_match "docker schema 2 image: pulled, its layer rootfs.diff.tar.gzip downloaded" \
	"^0 .*$(short "$AMD64_LAYER"): [0-9.]+[kMG]?B in .*rootfs.diff.tar.gzip" \
	"$rc $errs $(pulled_manifest v2s2)"
pull zstd --ca "$CA" "$TLS/test/zstd"
expect_match "zstd layer: pulled and unpacked" "^0 .*layer.v1.tar\+zstd" \
	"$rc $(pulled_manifest zstd)"
if [ -n "$can_run" ]; then
	expect "docker schema 2 and zstd images run" "busybox amd64|zstd amd64" \
		"$(run_img v2s2 "$TLS/test/docker:v2s2" sh -c 'echo $IMAGE $(cat /etc/marker)')|$(run_img zstd "$TLS/test/zstd" sh -c 'echo $IMAGE $(cat /etc/marker)')"
fi

# --- by digest: nameless, found by name@digest
pull dig --ca "$CA" "$TLS/test/busybox@$AMD64_DIGEST"
expect "by manifest digest: pulled, that name printed" "0 $TLS/test/busybox@$AMD64_DIGEST" "$rc $out"
expect_match "by manifest digest: recorded nameless" '^<none> +<none> +[0-9a-f]{12} ' "$(sb dig images)"
pull idx --ca "$CA" "$TLS/test/multi@$MULTI_INDEX"
expect_match "by index digest: the platform's manifest from it" "^0 .*Manifest $MULTI_AMD64 for linux/amd64 " "$rc $errs"
if [ -n "$can_run" ]; then
	expect "run --image name@sha256: by a manifest digest, by an index digest, by the manifest picked from it" \
		"busybox|multi-amd64|multi-amd64" \
		"$(run_img dig "$TLS/test/busybox@$AMD64_DIGEST" sh -c 'echo $IMAGE')|$(run_img idx "$TLS/test/multi@$MULTI_INDEX" sh -c 'echo $IMAGE')|$(run_img idx "$TLS/test/multi@$MULTI_AMD64" sh -c 'echo $IMAGE')"
fi
# the same image (config) under another manifest: found by each digest
pull dig2 -q --ca "$CA" "$TLS/test/docker:v2s2"
pull dig2 -q --ca "$CA" "$TLS/test/busybox@$AMD64_DIGEST"
expect "by digest: an image known under another manifest is found by this one too" \
	"0 $TLS/test/busybox@$AMD64_DIGEST ok" "$rc $out $(sb dig2 inspect "$TLS/test/busybox@$AMD64_DIGEST" >/dev/null && echo ok)"
# an index pulled for two platforms: name@index is this machine's image
pull idx2 -q --ca "$CA" --platform linux/arm/v7 "$TLS/test/multi@$MULTI_INDEX"
pull idx2 -q --ca "$CA" "$TLS/test/multi@$MULTI_INDEX"
expect 'by index digest, pulled for arm/v7 and amd64: name@index is the amd64 image' \
	'"architecture":"amd64"' "$(arch_of idx2 "$TLS/test/multi@$MULTI_INDEX")"
pull dig --ca "$CA" "$TLS/test/busybox@$MULTI_ARM64"
expect_match "a digest the repository lacks: refused (HTTP 404)" "^1 .*HTTP 404 on /v2/test/busybox/manifests/$MULTI_ARM64" "$rc $errs"

# --- token auth (Bearer, from a token server)
pull tok --ca "$CA" "localhost:$P_TOKREG/public/busybox:1"
expect "token: an anonymous token for a public repository" "0 1" \
	"$rc $(grep -c "user='' scopes=\['repository:public/busybox:pull'\] granted=1" "$W/token.log")"
pull tok --ca "$CA" "localhost:$P_TOKREG/private/busybox:1"
expect_match "token: a private repository refused to anonymous" \
	"^1 .*localhost:$P_TOKREG: HTTP 401 on /v2/private/busybox/manifests/1: UNAUTHORIZED" "$rc $errs"
pull tok --ca "$CA" --creds alice:secret "localhost:$P_TOKREG/private/busybox:1"
expect "token: --creds USER:PASS, sent to the token server" "0 1" \
	"$rc $(grep -c "user='alice' scopes=\['repository:private/busybox:pull'\] granted=1" "$W/token.log")"
pull tok --ca "$CA" --authfile "$W/auth-token.json" "localhost:$P_TOKREG/private/busybox:1"
expect "token: credentials from a docker config.json (--authfile)" "0 2" \
	"$rc $(grep -c "user='alice' scopes=\['repository:private/busybox:pull'\] granted=1" "$W/token.log")"
pull tok --ca "$CA" --creds alice:wrong "localhost:$P_TOKREG/private/busybox:1"
expect_match "token: a wrong password refused" \
	"^1 .*authentication failed: token server localhost:$P_TOKEN: HTTP 401 on /token" "$rc $errs"
"$SANDBOX" --store "$T/st-tok" --debug pull --ca "$CA" --creds alice:secret "localhost:$P_TOKREG/private/busybox:1" >"$T/debug.out" 2>&1
expect "token: --debug shows the token request, and no token nor credential" "1 " \
	"$(grep -c "http: GET https://localhost:$P_TOKEN/token" "$T/debug.out") $(grep -E 'eyJ|Bearer|Basic|secret|YWxpY2U' "$T/debug.out")"

# --- Basic auth (htpasswd)
pull basic --ca "$CA" "localhost:$P_BASIC/test/busybox:amd64"
expect_match "basic: no credentials, refused" "^1 .*localhost:$P_BASIC: authentication required, and no credentials" "$rc $errs"
pull basic --ca "$CA" --creds alice:nope "localhost:$P_BASIC/test/busybox:amd64"
expect_match "basic: a wrong password refused" "^1 .*HTTP 401 on /v2/test/busybox/manifests/amd64: UNAUTHORIZED" "$rc $errs"
rc=0
"$SANDBOX" --store "$T/st-basic" --debug pull --ca "$CA" --creds alice:secret "localhost:$P_BASIC/test/busybox:amd64" >"$T/debug.out" 2>&1 || rc=$?
expect "basic: --creds USER:PASS; --debug shows no credential" "0 1 " \
	"$rc $(grep -c "^localhost:$P_BASIC/test/busybox:amd64$" "$T/debug.out") $(grep -E 'Basic|secret|YWxpY2U' "$T/debug.out")"
rm -rf "$T/st-basic"
rc=0
DOCKER_CONFIG=$W/docker-config "$SANDBOX" --store "$T/st-basic" pull -q --ca "$CA" "localhost:$P_BASIC/test/busybox:amd64" >"$T/pull.out" 2>&1 || rc=$?
expect "basic: credentials from \$DOCKER_CONFIG/config.json (an https://host:port/v1/ key)" "0 localhost:$P_BASIC/test/busybox:amd64" "$rc $(cat "$T/pull.out")"
rm -rf "$T/st-basic" "$T/emptyconf"
mkdir -p "$T/emptyconf"
rc=0
DOCKER_CONFIG=$T/emptyconf "$SANDBOX" --store "$T/st-basic" pull -q --ca "$CA" "$TLS/test/busybox:amd64" >"$T/pull.out" 2>&1 || rc=$?
expect "a \$DOCKER_CONFIG without config.json: anonymous, as Docker" "0 $TLS/test/busybox:amd64" "$rc $(cat "$T/pull.out")"
mkdir -p "$T/home2/.docker"
cp "$W/docker-config/config.json" "$T/home2/.docker/"
rm -rf "$T/st-basic"
rc=0
HOME=$T/home2 "$SANDBOX" --store "$T/st-basic" pull -q --ca "$CA" "localhost:$P_BASIC/test/busybox:amd64" >"$T/pull.out" 2>&1 || rc=$?
expect "basic: credentials from ~/.docker/config.json" "0 localhost:$P_BASIC/test/busybox:amd64" "$rc $(cat "$T/pull.out")"

# --- a redirect to another port: Authorization stays with the first host
pull redir --ca "$CA" --creds alice:secret "localhost:$P_REDIR/test/busybox:amd64"
expect "redirect: 307 to another port (then to the registry), pulled" "0 localhost:$P_REDIR/test/busybox:amd64" "$rc $out"
expect_match "redirect: the redirecting host got Authorization with the layer request" \
	"GET /v2/test/busybox/blobs/$AMD64_LAYER auth=yes" "$(cat "$W/redirect.log")"
expect "redirect: the host redirected to got the layer request, never Authorization" "1 0" \
	"$(grep -c "GET /v2/test/busybox/blobs/$AMD64_LAYER auth=no" "$W/capture.log") $(grep -c 'auth=yes' "$W/capture.log")"

# --- TLS failures; plain http only when asked
pull tlsfail --ca "$CA" "localhost:$P_OTHERCA/test/busybox:amd64"
expect_match "tls: a certificate from an unknown CA, refused" "^1 .*localhost:$P_OTHERCA: certificate signed by an unknown authority$" "$rc $errs"
pull tlsfail "$TLS/test/busybox:amd64"
expect_match "tls: without --ca, the system bundle alone does not know the test CA" "^1 .*localhost:$P_TLS: certificate signed by an unknown authority$" "$rc $errs"
pull tlsfail --ca "$CA" "localhost:$P_WRONGNAME/test/busybox:amd64"
expect_match "tls: a certificate for another name, refused" "^1 .*localhost:$P_WRONGNAME: certificate for another name$" "$rc $errs"
pull tlsfail --ca "$CA" "localhost:$P_EXPIRED/test/busybox:amd64"
expect_match "tls: an expired certificate, refused" "^1 .*localhost:$P_EXPIRED: certificate expired" "$rc $errs"
pull tlsfail --ca "$CA" "$HTTP/test/busybox:amd64"
expect_match "https to a plain http registry: refused, naming --insecure-registry" \
	"^1 .*$HTTP: not a TLS server \(plain http\? then name it with --insecure-registry\)$" "$rc $errs"
pull tlsfail --ca "$CA" --insecure-registry "$TLS" "$HTTP/test/busybox:amd64"
expect_match "--insecure-registry for another registry: still https" "^1 .*$HTTP: not a TLS server" "$rc $errs"
pull tlsfail --ca /nonexistent.pem "$TLS/test/busybox:amd64"
expect_match "a missing --ca file: refused, named" "^1 .*/nonexistent.pem: No such file or directory" "$rc $errs"
expect "the refused pulls left no layer, image or temporary file" "0 no " \
	"$(layer_dirs tlsfail) $([ -e "$T/st-tlsfail/images.json" ] && echo yes || echo no) $(tmp_left tlsfail)"
pull http --insecure-registry "$HTTP" "$HTTP/test/busybox:amd64"
expect "plain http with --insecure-registry HOST:PORT: pulled" "0 $HTTP/test/busybox:amd64" "$rc $out"
pull http --timeout 1 "localhost:$P_SILENT/test/x"
expect_match "a server that never answers: --timeout 1 gives up" "^1 .*localhost:$P_SILENT: read timed out after 1000 ms" "$rc $errs"
pull http "127.0.0.1:1/test/x"
expect_match "nothing listening: connection refused" "^1 .*127.0.0.1:1: connection refused" "$rc $errs"

# --- tampered blobs: refused, nothing of them kept
rw_tamper >>"$T/world.log" 2>&1
pull tamper -q --ca "$CA" --platform linux/arm64 "$TLS/test/multi" # something else in the store
cp "$T/st-tamper/images.json" "$T/images.before"
pull tamper --insecure-registry "127.0.0.1:$P_TAMPER" "127.0.0.1:$P_TAMPER/test/busybox:amd64"
expect_match "a layer whose gzip header was changed (same tar): refused by its digest" \
	"^1 .*layer 1: blob $AMD64_LAYER: digest mismatch: got sha256:" "$rc $errs"
expect "... no layer of it kept, tmp/ empty, images.json unchanged" "1 0  same" \
	"$(layer_dirs tamper) $(half_layers tamper) $(tmp_left tamper) $(cmp -s "$T/images.before" "$T/st-tamper/images.json" && echo same)"
pull tamper --insecure-registry "127.0.0.1:$P_TAMPER" "127.0.0.1:$P_TAMPER/test/big"
expect_match "a byte changed in the 3rd of 3 layers: refused, naming it" \
	"^1 .*layer 3: blob ${L3% *}: digest mismatch" "$rc $errs"
expect "... the first two layers kept whole, not the 3rd, the image not recorded" "3 0  same" \
	"$(layer_dirs tamper) $(half_layers tamper) $(tmp_left tamper) $(cmp -s "$T/images.before" "$T/st-tamper/images.json" && echo same)"

# --- dropped connections: resumed with Range
pull cut --timeout 2 --insecure-registry "127.0.0.1:$P_CUT" "127.0.0.1:$P_CUT/test/big"
expect "a layer cut twice (closed, then stalled past --timeout): the pull completes" "0 127.0.0.1:$P_CUT/test/big:latest" "$rc $out"
expect "the proxy cut twice and saw 2 Range requests for the rest" "1 1 2" \
	"$(grep -c 'cut: closed' "$W/cut.log") $(grep -c 'cut: stalled' "$W/cut.log") $(grep -c "blobs/${L1% *} .*| Range: bytes=[1-9][0-9]*-" "$W/cut.log")"
chain1=$(sb cut inspect "127.0.0.1:$P_CUT/test/big" | grep -o '"chain_id":"sha256:[0-9a-f]*"' | head -n 1 | cut -d: -f3 | tr -d '"')
check "the resumed layer's file is byte for byte the pushed one" cmp "$W/img/big1/data1" "$T/st-cut/layers/$chain1/diff/data1"
pull chunk --insecure-registry "127.0.0.1:$P_CHUNK" "127.0.0.1:$P_CHUNK/test/big"
expect "chunked bodies (random chunk sizes, extensions, a trailer): pulled" "0 3" \
	"$rc $(grep -c 'blobs/.* 200 -> [0-9]\{7,\} bytes chunked' "$W/chunk.log")"

# --- kill -9 mid-layer: the store stays consistent, the next pull completes
# The proxy stalls in the middle of big's 2nd layer: the 1st is in.
rw_hold $((${L1#* } + ${L2#* } / 2)) >>"$T/world.log" 2>&1
pull kill -q --insecure-registry "$HTTP" "$HTTP/test/busybox:amd64"
cp "$T/st-kill/images.json" "$T/images.before"
"$SANDBOX" --store "$T/st-kill" pull --insecure-registry "127.0.0.1:$P_HOLD" "127.0.0.1:$P_HOLD/test/big" >"$T/kill.out" 2>&1 &
bg=$!
i=0
while ! grep -q 'cut: stalled' "$W/hold.log" && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
expect_match "the pull stalls in the 2nd layer, with the 1st done" "^1 .* $(short "$L1"): " \
	"$(grep -c 'cut: stalled' "$W/hold.log") $(tr '\n' ' ' <"$T/kill.out")"
kill -9 $bg
wait $bg 2>/dev/null
bg=
expect "after kill -9: two whole layers (busybox, big's 1st), none half" "2 0" "$(layer_dirs kill) $(half_layers kill)"
expect "after kill -9: images.json unchanged, valid JSON" "same " \
	"$(cmp -s "$T/images.before" "$T/st-kill/images.json" && echo same) $(json_ok "$T/st-kill/images.json")"
rc=0
imgs=$(sb kill images 2>&1) || rc=$?
expect "after kill -9: images works, lists busybox, not big" "0 1 0" \
	"$rc $(echo "$imgs" | grep -c "^$HTTP/test/busybox ") $(echo "$imgs" | grep -c 'test/big')"
pull kill --insecure-registry "127.0.0.1:$P_HOLD" "127.0.0.1:$P_HOLD/test/big"
expect_match "the next pull completes: the 1st layer already present, the others fetched" \
	"^0 .*$(short "$L1"): already present $(short "$L2"): [0-9.]+MB in .* $(short "$L3"): [0-9.]+MB in " "$rc $errs"
expect "... and leaves tmp/ empty, 4 whole layers" "4 0 " "$(layer_dirs kill) $(half_layers kill) $(tmp_left kill)"

# --- relative paths: --store and --bundle from the working directory
rm -rf "$T/rel" && mkdir -p "$T/rel"
rc=0
(cd "$T/rel" && "$SANDBOX" --store st pull -q --ca "$CA" "$TLS/test/busybox:amd64") >"$T/pull.out" 2>&1 || rc=$?
expect "a relative --store is the working directory's" "0 1" "$rc $(ls -d "$T"/rel/st/layers/*/diff | wc -l)"
if [ -n "$can_run" ]; then
	rc=0
	out=$(cd "$T/rel" && "$SANDBOX" --store st --root "$T/state" run --image "$TLS/test/busybox:amd64" --rm rel-$$ -- echo ran 2>&1) || rc=$?
	expect "run --image with a relative --store finds the image" "0 ran" "$rc $out"
fi

# --- peak RSS of a pull of 3 layers (~24 MB) over https
rm -rf "$T/st-rss"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -o "$T/rss" -f %M "$SANDBOX" --store "$T/st-rss" pull -q --ca "$CA" "$TLS/test/big" >"$T/rss.out" 2>"$T/rss.err"
	rc=$?
	rss=$(tail -n 1 "$T/rss")
else # the largest RSS of the children python waited for
	rss=$("$PY" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)' \
		"$T/rss.out" "$SANDBOX" --store "$T/st-rss" pull -q --ca "$CA" "$TLS/test/big" 2>"$T/rss.err")
	rc=$?
fi
echo "# peak RSS of the pull of test/big (3 layers, $(((${L1#* } + ${L2#* } + ${L3#* }) / 1000)) kB, https): ${rss:-?} kB"
expect "peak RSS of a 3-layer ~24 MB pull over https: under 4 MiB" "0 $TLS/test/big:latest yes" \
	"$rc $(cat "$T/rss.out") $([ "${rss:-99999}" -lt 4096 ] 2>/dev/null && echo yes || echo "no: ${rss:-?} kB")"
