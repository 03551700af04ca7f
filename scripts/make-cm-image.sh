#!/usr/bin/env bash
# Makes the docker image the configuration-management provisioner tests use
# as their guest: `kiln-test/cm:bookworm`, a Debian 12 minbase root made by
# debootstrap with python3 (Ansible's remote side), ansible-core (for
# `ansible-local`) and puppet-agent (for `puppet-masterless`), imported with
# `docker import` because this machine's engine can pull nothing.
# Idempotent: does nothing when the image exists with this script's
# revision label. About 3 minutes when it has to build.
# Usage: scripts/make-cm-image.sh [--force]
set -euo pipefail

IMAGE=kiln-test/cm:bookworm
REVISION=1
PACKAGES="python3 ansible-core puppet-agent sudo"

log() { echo "make-cm-image: $*" >&2; }

if [ "${1:-}" != "--force" ] \
   && [ "$(docker image inspect -f '{{ index .Config.Labels "kiln.revision" }}' "$IMAGE" 2>/dev/null || true)" = "$REVISION" ]; then
  exit 0
fi
for tool in debootstrap docker tar; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: \`$tool\` is missing: run scripts/install-deps.sh"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { log "error: debootstrap needs root"; exit 1; }

mirror=$(grep -rhs -m1 -E '^(URIs:|deb) .*debian' /etc/apt/sources.list.d/ /etc/apt/sources.list \
  | grep -v security | grep -oE 'https?://[^ ]+/debian' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/kiln-cm-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
log "debootstrap bookworm from $mirror, then apt-get install $PACKAGES"
debootstrap --variant=minbase bookworm "$work/root" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  log "error: debootstrap failed (log above)"
  exit 1
}
# apt inside the root resolves the packages' dependencies properly
# (debootstrap --include does not) and their scripts need /proc.
mount -t proc proc "$work/root/proc"
trap 'umount "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
chroot "$work/root" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends $PACKAGES >"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  log "error: apt-get install in the image root failed (log above)"
  exit 1
}
umount "$work/root/proc"
# A plain user for `user` / become tests; no apt caches in the image.
chroot "$work/root" useradd -m -s /bin/bash app
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" --numeric-owner -cf "$work/root.tar" .
docker import --change 'CMD ["/bin/bash"]' --change "LABEL kiln.revision=$REVISION" \
  "$work/root.tar" "$IMAGE" >/dev/null
log "made $IMAGE"
