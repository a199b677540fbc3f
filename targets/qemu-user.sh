#!/bin/bash
# qemu-user.sh TARGET CMD [ARG...]: run a TARGET binary on the host under the target's
# qemu-user-static (QEMU_USER in the .conf, with its -cpu: mipsel uses the FPU-less 24Kc,
# so hard-float code dies with SIGILL). On x86_64 CMD runs directly.
#   targets/qemu-user.sh aarch64 build/aarch64/sandbox --version
# Limits of qemu-user (targets-recipe.md §5): no user namespace, no clone(CLONE_NEW*),
# no exec of another foreign binary without binfmt_misc; use the VM for those.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || die "usage: qemu-user.sh TARGET CMD [ARG...]"
load_conf "$1"
shift
[ -z "$QEMU_USER" ] || installed qemu-user-static || need_pkgs qemu-user-static
# shellcheck disable=SC2086
exec $QEMU_USER "$@"
