# tests/tools/regworld.sh: a loopback registry world for the pull tests,
# sourced (POSIX sh) by tests/host/pull.sh. Everything is made here, from
# Debian's packages (docker-registry, skopeo, openssl, apache2-utils,
# python3, busybox-static); nothing comes from the network.
#
#   rw_certs     a CA and another CA; server certificates signed by the CA
#                (EC and RSA, for localhost and 127.0.0.1), by the other CA,
#                for another name, expired; a token-signing certificate; an
#                htpasswd file and docker config.json files
#   rw_start     the registries and helper servers (ports below)
#   rw_images    images built by hand (OCI layouts), pushed with skopeo
#   rw_tamper    the registry on a copy of the storage, bytes changed
#   rw_hold      the proxy that stalls a pull once, at a given byte
#   rw_stop      kills what rw_start, rw_tamper and rw_hold started, by pid
#
# All files go in $W (default $T/world). Ports: $PULL_PORT_BASE and the
# 15 after it (default 25440), all on 127.0.0.1.

: "${T:?}"
W=${W:-$T/world}
PULL_PORT_BASE=${PULL_PORT_BASE:-25440}
P_TLS=$PULL_PORT_BASE                # registry, https (EC certificate from the CA)
P_HTTP=$((PULL_PORT_BASE + 1))       # registry, plain http, the same storage
P_TOKREG=$((PULL_PORT_BASE + 2))     # registry, https (RSA), token auth
P_TOKEN=$((PULL_PORT_BASE + 3))      # token server, https
P_BASIC=$((PULL_PORT_BASE + 4))      # registry, https, htpasswd Basic auth
P_OTHERCA=$((PULL_PORT_BASE + 5))    # registry, certificate from another CA
P_WRONGNAME=$((PULL_PORT_BASE + 6))  # registry, certificate for other.example
P_EXPIRED=$((PULL_PORT_BASE + 7))    # registry, expired certificate
P_REDIR=$((PULL_PORT_BASE + 8))      # https: 401 Basic, then 307 to P_CAPTURE
P_CAPTURE=$((PULL_PORT_BASE + 9))    # https: logs Authorization, 307 to P_TLS
P_CUT=$((PULL_PORT_BASE + 10))       # proxy to P_HTTP: cuts twice (close, stall)
P_LOG=$((PULL_PORT_BASE + 11))       # proxy to P_HTTP: only logs requests
P_HOLD=$((PULL_PORT_BASE + 12))      # proxy to P_HTTP: stalls once, in big's 2nd layer
P_CHUNK=$((PULL_PORT_BASE + 13))     # proxy to P_HTTP: re-chunks every body
P_SILENT=$((PULL_PORT_BASE + 14))    # accepts, never answers
P_TAMPER=$((PULL_PORT_BASE + 15))    # registry, plain http, tampered storage copy

RW_PIDS=
RW_TOOLS=${RW_TOOLS:-$(cd "$(dirname "$0")/../tools" 2>/dev/null && pwd)}
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
regserv() { "$PY" "$RW_TOOLS/regserv.py" "$@"; }

# ---- certificates and credentials -----------------------------------------

# rw_cert NAME [openssl req -addext ...]: NAME.key, NAME.crt signed by
# $CA_NAME (default ca), with the key type $KEYALG (default EC P-256)
rw_cert() {
	n=$1
	shift
	if [ "${KEYALG:-ec}" = ec ]; then
		set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256 "$@"
	else
		set -- -newkey rsa:2048 "$@"
	fi
	openssl req -new "$@" -nodes -keyout "$W/$n.key" -subj "/CN=$n" -out "$W/$n.csr" 2>/dev/null &&
		openssl x509 -req -in "$W/$n.csr" -CA "$W/${CA_NAME:-ca}.crt" -CAkey "$W/${CA_NAME:-ca}.key" \
			-CAcreateserial -days 30 -copy_extensions copy -out "$W/$n.crt" 2>/dev/null
}

rw_certs() {
	mkdir -p "$W"
	for ca in ca otherca; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/$ca.key" -out "$W/$ca.crt" \
			-days 30 -subj "/CN=Pull test $ca" 2>/dev/null || return 1
	done
	san="subjectAltName=DNS:localhost,IP:127.0.0.1"
	rw_cert server -addext "$san" || return 1
	KEYALG=rsa rw_cert server-rsa -addext "$san" || return 1
	CA_NAME=otherca rw_cert other -addext "$san" || return 1
	rw_cert wrongname -addext "subjectAltName=DNS:other.example" || return 1
	# expired: openssl ca can date a certificate in the past, x509 -req cannot
	mkdir -p "$W/ca.db"
	: >"$W/ca.db/index.txt"
	echo 01 >"$W/ca.db/serial"
	cat >"$W/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $W/ca.db/index.txt
serial = $W/ca.db/serial
new_certs_dir = $W/ca.db
default_md = sha256
policy = p
copy_extensions = copy
[p]
commonName = supplied
EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/expired.key" \
		-subj /CN=expired -addext "$san" -out "$W/expired.csr" 2>/dev/null &&
		openssl ca -batch -config "$W/ca.cnf" -cert "$W/ca.crt" -keyfile "$W/ca.key" \
			-startdate 20200101000000Z -enddate 20210101000000Z -in "$W/expired.csr" \
			-out "$W/expired.crt" >/dev/null 2>&1 || return 1
	# the token server signs with this; the registry trusts it (rootcertbundle)
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/token.key" -out "$W/token.crt" \
		-days 30 -subj /CN=token-signer 2>/dev/null || return 1
	htpasswd -Bbn alice secret >"$W/htpasswd" 2>/dev/null || return 1
	# docker config.json files: alice for the token registry, and for the
	# Basic one (Docker's "https://host:port/v1/" key spelling there)
	printf '{"auths":{"localhost:%s":{"auth":"%s"}}}\n' "$P_TOKREG" \
		"$(printf alice:secret | base64)" >"$W/auth-token.json"
	mkdir -p "$W/docker-config"
	printf '{"auths":{"https://localhost:%s/v1/":{"username":"alice","password":"secret"}}}\n' \
		"$P_BASIC" >"$W/docker-config/config.json"
}

# ---- servers --------------------------------------------------------------

# rw_registry NAME PORT STORAGE [CERT-NAME] [AUTH-YAML]
rw_registry() {
	n=$1 port=$2 store=$3 c=${4:-} auth=${5:-}
	{
		printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$store"
		printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
		printf 'http:\n  addr: 127.0.0.1:%s\n  secret: pulltest\n' "$port"
		[ -n "$c" ] && printf '  tls:\n    certificate: %s\n    key: %s\n' "$W/$c.crt" "$W/$c.key"
		[ -n "$auth" ] && printf '%s\n' "$auth"
	} >"$W/reg-$n.yml"
	docker-registry serve "$W/reg-$n.yml" >"$W/reg-$n.log" 2>&1 &
	RW_PIDS="$RW_PIDS $!"
}

# rw_helper NAME MODE ARGS...: a regserv.py server, logging to $W/NAME.log
# (python itself in the background, not a function: $! must be its pid)
rw_helper() {
	n=$1
	shift
	"$PY" "$RW_TOOLS/regserv.py" "$@" >>"$W/$n.log" 2>&1 &
	RW_PIDS="$RW_PIDS $!"
}

rw_start() {
	all=$(seq "$PULL_PORT_BASE" $((PULL_PORT_BASE + 15)))
	# shellcheck disable=SC2086
	regserv wait --free $all || return 1
	mkdir -p "$W/store"
	rw_registry tls "$P_TLS" "$W/store" server
	rw_registry http "$P_HTTP" "$W/store"
	rw_registry tokreg "$P_TOKREG" "$W/store" server-rsa "$(printf 'auth:\n  token:\n    realm: https://localhost:%s/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: %s' "$P_TOKEN" "$W/token.crt")"
	rw_registry basic "$P_BASIC" "$W/store" server "$(printf 'auth:\n  htpasswd:\n    realm: basic-realm\n    path: %s' "$W/htpasswd")"
	rw_registry otherca "$P_OTHERCA" "$W/store" other
	rw_registry wrongname "$P_WRONGNAME" "$W/store" wrongname
	rw_registry expired "$P_EXPIRED" "$W/store" expired
	rw_helper token token --port "$P_TOKEN" --cert "$W/server-rsa.crt" --key "$W/server-rsa.key" \
		--signcert "$W/token.crt" --signkey "$W/token.key" --users alice:secret
	rw_helper redirect redirect --port "$P_REDIR" --cert "$W/server.crt" --key "$W/server.key" \
		--require-basic alice:secret --target "https://localhost:$P_CAPTURE"
	rw_helper capture redirect --port "$P_CAPTURE" --cert "$W/server.crt" --key "$W/server.key" \
		--target "https://localhost:$P_TLS"
	rw_helper cut proxy --port "$P_CUT" --target "127.0.0.1:$P_HTTP" --cut 3000000 --times 2 --how alternate
	rw_helper log proxy --port "$P_LOG" --target "127.0.0.1:$P_HTTP"
	rw_helper chunk chunkproxy --port "$P_CHUNK" --target "http://127.0.0.1:$P_HTTP"
	rw_helper silent silent --port "$P_SILENT"
	# shellcheck disable=SC2086
	regserv wait $P_TLS $P_HTTP $P_TOKREG $P_TOKEN $P_BASIC $P_OTHERCA $P_WRONGNAME $P_EXPIRED \
		$P_REDIR $P_CAPTURE $P_CUT $P_LOG $P_CHUNK $P_SILENT
}

# rw_hold CUT: the proxy that stalls, once, the connection that carries the
# CUTth byte sent to clients, counted over all its connections (started
# once the images, and so the place of the cut, are known)
rw_hold() {
	rw_helper hold proxy --port "$P_HOLD" --target "127.0.0.1:$P_HTTP" --cut "$1" --total --how stall
	regserv wait "$P_HOLD"
}

rw_stop() {
	for p in $RW_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $RW_PIDS; do
		wait "$p" 2>/dev/null || : # killed: 143, not a failure (set -e)
	done
	RW_PIDS=
}

# ---- images ---------------------------------------------------------------

# rw_blob DIGEST [STORAGE]: the file a registry's storage keeps the blob in
rw_blob() {
	h=${1#sha256:}
	echo "${2:-$W/store}/docker/registry/v2/blobs/sha256/$(echo "$h" | cut -c1-2)/$h/data"
}

# add_blob FILE: copies it into the layout $LAYOUT; sets BDIG, BSIZE
add_blob() {
	BDIG=$(sha256sum "$1" | cut -d' ' -f1)
	BSIZE=$(stat -c %s "$1")
	mkdir -p "$LAYOUT/blobs/sha256"
	cp "$1" "$LAYOUT/blobs/sha256/$BDIG"
}

# make_layer DIR: a reproducible tar of DIR, gzip-compressed unless
# $PLAIN_LAYERS; sets LDIG, LSIZE, LDIFF (the tar's digest), LMT
make_layer() {
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$1" -cf "$W/layer.tar" .
	LDIFF=$(sha256sum "$W/layer.tar" | cut -d' ' -f1)
	if [ -n "${PLAIN_LAYERS:-}" ]; then
		add_blob "$W/layer.tar"
		LMT=application/vnd.oci.image.layer.v1.tar
	else
		gzip -n -1 -c "$W/layer.tar" >"$W/layer.tgz"
		add_blob "$W/layer.tgz"
		LMT=application/vnd.oci.image.layer.v1.tar+gzip
	fi
	LDIG=$BDIG LSIZE=$BSIZE
}

# make_manifest ARCH VARIANT MARK DIR...: an OCI image in $LAYOUT, one layer
# per DIR; its config's env has IMAGE=MARK; sets MDIG, MSIZE
make_manifest() {
	arch=$1 variant=$2 mark=$3
	shift 3
	diffs='' layers=''
	for d; do
		make_layer "$d"
		diffs="$diffs${diffs:+,}\"sha256:$LDIFF\""
		layers="$layers${layers:+,}{\"mediaType\":\"$LMT\",\"digest\":\"sha256:$LDIG\",\"size\":$LSIZE}"
	done
	printf '{"architecture":"%s",%s"os":"linux","config":{"Env":["PATH=/bin","IMAGE=%s"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
		"$arch" "${variant:+\"variant\":\"$variant\",}" "$mark" "$diffs" >"$W/config.json"
	add_blob "$W/config.json"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$BDIG" "$BSIZE" "$layers" >"$W/manifest.json"
	add_blob "$W/manifest.json"
	MDIG=$BDIG MSIZE=$BSIZE
}

# layout_index ENTRY: $LAYOUT's index.json with this one descriptor
layout_index() {
	printf '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"
	printf '{"schemaVersion":2,"manifests":[%s]}' "$1" >"$LAYOUT/index.json"
}

# ref_entry MEDIATYPE HEX SIZE REFNAME
ref_entry() {
	printf '{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}' "$@"
}

# plat_entry HEX SIZE ARCH [VARIANT]: an image index entry
plat_entry() {
	printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"%s}}' \
		"$1" "$2" "$3" "${4:+,\"variant\":\"$4\"}"
}

# push SKOPEO-ARGS...: to the plain http registry (same storage as the rest)
push() {
	skopeo copy -q --dest-tls-verify=false "$@" >>"$W/skopeo.log" 2>&1 ||
		{ echo "# skopeo copy $* failed:"; tail -n 5 "$W/skopeo.log" | sed 's/^/#   /'; return 1; }
}

# A rootfs: a binary as bin/busybox, applet links, /etc/passwd, a marker
rw_rootfs() { # DIR BINARY MARK
	mkdir -p "$1/bin" "$1/etc"
	cp "$2" "$1/bin/busybox"
	for a in sh ls cat echo; do ln -sf busybox "$1/bin/$a"; done
	echo "root:x:0:0:root:/root:/bin/sh" >"$1/etc/passwd"
	echo "pulltest:x:4242:4242:made by regworld.sh:/:/bin/sh" >>"$1/etc/passwd"
	echo "$3" >"$1/etc/marker"
}

rw_images() {
	I=$W/img
	rm -rf "$I"
	mkdir -p "$I"
	# amd64: the host's static busybox. arm64 and arm/v7: small fake files
	# (nothing runs them; the tests only check which one was picked).
	bb=${BUSYBOX:-/bin/busybox}
	rw_rootfs "$I/amd64" "$bb" amd64
	printf 'fake arm64 busybox\n' >"$I/fake-arm64"
	printf 'fake armv7 busybox\n' >"$I/fake-arm"
	rw_rootfs "$I/arm64" "$I/fake-arm64" arm64
	rw_rootfs "$I/arm" "$I/fake-arm" arm/v7

	# single-arch amd64, gzip, under several names (auth tests use them)
	LAYOUT=$I/oci-amd64
	make_manifest amd64 "" busybox "$I/amd64"
	AMD64_DIGEST=sha256:$MDIG AMD64_LAYER=sha256:$LDIG
	layout_index "$(ref_entry application/vnd.oci.image.manifest.v1+json "$MDIG" "$MSIZE" amd64)"
	push "oci:$LAYOUT:amd64" "docker://127.0.0.1:$P_HTTP/test/busybox:amd64" || return 1
	push "oci:$LAYOUT:amd64" "docker://127.0.0.1:$P_HTTP/public/busybox:1" || return 1
	push "oci:$LAYOUT:amd64" "docker://127.0.0.1:$P_HTTP/private/busybox:1" || return 1
	push --format v2s2 "oci:$LAYOUT:amd64" "docker://127.0.0.1:$P_HTTP/test/docker:v2s2" || return 1

	# zstd: skopeo 1.9 does not recompress gzip, so from an uncompressed layer
	LAYOUT=$I/oci-plain
	PLAIN_LAYERS=1 make_manifest amd64 "" zstd "$I/amd64"
	layout_index "$(ref_entry application/vnd.oci.image.manifest.v1+json "$MDIG" "$MSIZE" plain)"
	push --dest-compress --dest-compress-format zstd --format oci "oci:$LAYOUT:plain" \
		"docker://127.0.0.1:$P_HTTP/test/zstd:latest" || return 1

	# multi-arch: an attestation first (as buildx puts them), then amd64,
	# arm64/v8, arm/v7
	LAYOUT=$I/oci-multi
	make_manifest amd64 "" multi-amd64 "$I/amd64"
	M1=$MDIG S1=$MSIZE
	make_manifest arm64 v8 multi-arm64 "$I/arm64"
	M2=$MDIG S2=$MSIZE
	make_manifest arm v7 multi-arm "$I/arm"
	M3=$MDIG S3=$MSIZE
	mkdir -p "$I/att"
	echo '{"_type":"https://in-toto.io/Statement/v0.1"}' >"$I/att/att.json"
	make_manifest unknown "" attestation "$I/att"
	M0=$MDIG S0=$MSIZE
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s,%s,%s]}' \
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$M0\",\"size\":$S0,\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\",\"vnd.docker.reference.digest\":\"sha256:$M1\"}}" \
		"$(plat_entry "$M1" "$S1" amd64)" "$(plat_entry "$M2" "$S2" arm64 v8)" "$(plat_entry "$M3" "$S3" arm v7)" \
		>"$W/index.json"
	add_blob "$W/index.json"
	MULTI_INDEX=sha256:$BDIG MULTI_AMD64=sha256:$M1 MULTI_ARM64=sha256:$M2 MULTI_ARM=sha256:$M3
	layout_index "$(ref_entry application/vnd.oci.image.index.v1+json "$BDIG" "$BSIZE" latest)"
	push --all "oci:$LAYOUT:latest" "docker://127.0.0.1:$P_HTTP/test/multi:latest" || return 1
	push --all --format v2s2 "oci:$LAYOUT:latest" "docker://127.0.0.1:$P_HTTP/test/list:latest" || return 1

	# three layers of 6, 8 and 10 MiB, random, so that gzip keeps them large
	LAYOUT=$I/oci-big
	for i in 1 2 3; do
		mkdir -p "$I/big$i"
		head -c $(((4 + 2 * i) * 1048576)) /dev/urandom >"$I/big$i/data$i"
	done
	make_manifest amd64 "" big "$I/big1" "$I/big2" "$I/big3"
	BIG_DIGEST=sha256:$MDIG
	BIG_LAYERS=$(sed 's/"digest":"\(sha256:[0-9a-f]*\)","size":\([0-9]*\)/\n\1 \2\n/g' "$LAYOUT/blobs/sha256/$MDIG" |
		grep '^sha256:' | tail -n 3)
	layout_index "$(ref_entry application/vnd.oci.image.manifest.v1+json "$MDIG" "$MSIZE" latest)"
	push "oci:$LAYOUT:latest" "docker://127.0.0.1:$P_HTTP/test/big:latest" || return 1
}

# rw_tamper: a registry on a copy of the storage where the amd64 layer's
# gzip header has another mtime (it still unpacks to the same tar: only its
# digest tells), and big's last layer has a byte changed mid-stream
rw_tamper() {
	rm -rf "$W/store-tamper"
	cp -a "$W/store" "$W/store-tamper"
	printf '\001\002\003\004' | dd of="$(rw_blob "$AMD64_LAYER" "$W/store-tamper")" bs=1 seek=4 conv=notrunc 2>/dev/null
	l3=$(echo "$BIG_LAYERS" | tail -n 1 | cut -d' ' -f1)
	printf 'X' | dd of="$(rw_blob "$l3" "$W/store-tamper")" bs=1 seek=5000000 conv=notrunc 2>/dev/null
	rw_registry tamper "$P_TAMPER" "$W/store-tamper"
	regserv wait "$P_TAMPER"
}
