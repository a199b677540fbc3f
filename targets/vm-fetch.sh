#!/bin/bash
# vm-fetch.sh TARGET: fetch what the test VM of TARGET boots, into build/TARGET/vm:
#   kernel            the kernel image of KERNEL_META's current dependency (the package
#                     name carries an ABI number that changes with Debian updates);
#                     KERNEL_UNPACK=pvh: the ELF vmlinux taken out of the bzImage
#   busybox           from BUSYBOX_PKG:DEB_ARCH
#   modules/NAME.ko   MODULES, in load order (checked against each module's depends=)
#   modules/order     the ones to insmod (built-in ones are left out)
# KERNEL_SUITE=bookworm uses the machine's apt sources. Any other suite (riscv64: Debian
# 13 "stable") is read through a private apt state under build/TARGET/vm/apt, so the
# machine's sources never list another release and nothing can be installed from it.
# Exits 77 (skip) if that suite cannot be reached. Cached: delete build/TARGET/vm to refetch.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
load_conf "${1:-}"
to_top
vm=$OUT/vm
[ -f "$vm/fetch.stamp" ] && exit 0
t0=$(now)

# unpack_pvh BZIMAGE: replace a bzImage by the ELF vmlinux inside it, which QEMU boots
# through its PVH entry without the slow real-mode decompression under TCG (x86_64:
# 7 s less per boot on a loaded machine). Kept as it is if that does not work out.
unpack_pvh() {
	local k=$1 sects off len
	sects=$(od -An -tu1 -j$((0x1f1)) -N1 "$k")
	off=$(od -An -tu4 -j$((0x248)) -N4 "$k") # setup header: payload_offset, payload_length
	len=$(od -An -tu4 -j$((0x24c)) -N4 "$k")
	tail -c +$(((sects + 1) * 512 + off + 1)) "$k" | head -c $((len)) | xz -dc --single-stream >"$k.elf" 2>/dev/null &&
		readelf -n "$k.elf" | grep -q 'Xen.*0x00000012' && mv "$k.elf" "$k" && return 0
	say "$TARGET: no PVH vmlinux in $k, booting the bzImage"
	rm -f "$k.elf"
}

need_pkgs "$QEMU_PKG" cpio xz-utils binutils
rm -rf "$vm" && mkdir -p "$vm/dl" "$vm/modules"

if [ "$KERNEL_SUITE" = bookworm ]; then
	need_arch "$DEB_ARCH"
	apt=(apt-get)
	acache=(apt-cache)
else
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	mirror=${mirror:-http://deb.debian.org/debian}
	mkdir -p "$vm/apt/lists/partial" "$vm/apt/cache"
	echo "deb [arch=$DEB_ARCH signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"$mirror $KERNEL_SUITE main" >"$vm/apt/sources.list"
	opts=(-o Dir::Etc::SourceList="$TOP/$vm/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
		-o Dir::State::Lists="$TOP/$vm/apt/lists" -o Dir::State::status=/dev/null
		-o Dir::Cache="$TOP/$vm/apt/cache"
		-o APT::Architecture="$DEB_ARCH" -o APT::Architectures="$DEB_ARCH")
	apt=(apt-get "${opts[@]}")
	acache=(apt-cache "${opts[@]}")
	if ! "${apt[@]}" update -qq; then
		say "$TARGET: SKIP: cannot read Debian '$KERNEL_SUITE' for $DEB_ARCH from $mirror;" \
			"no kernel to boot"
		rm -rf "$vm"
		exit 77
	fi
fi

kpkg=$("${acache[@]}" depends "$KERNEL_META:$DEB_ARCH" | awk '/Depends: linux-image/ { print $2; exit }')
[ -n "$kpkg" ] || die "$TARGET: $KERNEL_META:$DEB_ARCH names no kernel package"
kpkg=${kpkg%:"$DEB_ARCH"}
(cd "$vm/dl" && "${apt[@]}" -o APT::Sandbox::User=root download -qq "$kpkg:$DEB_ARCH" "$BUSYBOX_PKG:$DEB_ARCH")

# Only the image, the list of built-in modules and the named modules leave the .deb.
pats=('*/boot/vmlinu*' '*/modules.builtin')
for m in $MODULES; do pats+=("*/$m.ko*"); done
dpkg --fsys-tarfile "$vm"/dl/linux-image-*.deb | tar -x -C "$vm/dl" --wildcards "${pats[@]}"
mv "$(find "$vm/dl" -path '*/boot/vmlinu*' | head -n 1)" "$vm/kernel"
[ "${KERNEL_UNPACK:-}" = pvh ] && unpack_pvh "$vm/kernel"
builtin=$(find "$vm/dl" -name modules.builtin)

# The .deb has no modules.dep (depmod writes it at install); each module's .modinfo
# "depends=" names what must be loaded before it.
loaded=" "
for m in $MODULES; do
	grep -q "/$m\.ko\$" "$builtin" && continue
	ko=$(find "$vm/dl" -name "$m.ko*" | head -n 1)
	[ -n "$ko" ] || die "$TARGET: no module $m in $kpkg"
	case $ko in
	*.xz) xz -dc "$ko" >"$vm/modules/$m.ko" ;;
	*) cp "$ko" "$vm/modules/$m.ko" ;;
	esac
	deps=$(tr '\0' '\n' <"$vm/modules/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' ')
	for d in $deps; do
		case $loaded in *" $d "*) ;; *) die "$TARGET: module $m needs $d: list it before $m in MODULES" ;; esac
	done
	loaded="$loaded$m "
	echo "$m" >>"$vm/modules/order"
done
touch "$vm/modules/order"

dpkg -x "$vm"/dl/"$BUSYBOX_PKG"_*.deb "$vm/dl/bb"
cp "$(find "$vm/dl/bb" -path "*bin/busybox" -type f | head -n 1)" "$vm/busybox"
# shellcheck disable=SC2016 # dpkg-deb's format, not the shell's
versions=$(dpkg-deb -W --showformat='${Package} ${Version}' "$vm"/dl/linux-image-*.deb)
rm -rf "$vm/dl" "$vm/apt"
echo "$versions" >"$vm/fetch.stamp"
say "$TARGET: fetched $versions ($(since "$t0") s)"
