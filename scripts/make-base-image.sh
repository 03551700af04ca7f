#!/usr/bin/env bash
# Builds the small bootable Debian 12 image that kiln's qemu tests, the
# quickstart and the qemu benchmark boot, from Debian's packages with
# debootstrap: systemd, openssh-server, the cloud kernel, DHCP through
# systemd-networkd, and root login with a test key this script generates.
#
# Outputs (in a directory keyed by this script's hash, OUTSIDE the checkout,
# so CI and every worktree reuse it):
#   disk.qcow2        ext4 root filesystem on the whole disk (no partition
#                     table): boot it with -kernel vmlinuz -initrd initrd.img
#                     -append "root=/dev/vda console=ttyS0"
#   disk-boot.qcow2   the same system on an MBR-partitioned disk with a
#                     bootloader (syslinux on a FAT /boot partition, root on
#                     partition 2): boots with no -kernel at all
#   vmlinuz, initrd.img, cmdline (the kernel command line for disk.qcow2)
#   id_ed25519, id_ed25519.pub   the test key root accepts
#
# Nothing here needs loop devices or mounting: the root filesystem is made
# from a directory with `mkfs.ext4 -d`, the partitions are laid out with
# sfdisk on a plain file and filled at their offsets, and syslinux installs
# itself into the FAT partition through mtools.
#
# Usage: scripts/make-base-image.sh [--force]
# Prints the output directory on stdout (the last line); progress goes to
# stderr. Concurrent callers wait on a lock and share one build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
script="$here/$(basename "$0")"
force=0
[ "${1:-}" = "--force" ] && force=1

cache_root=${KILN_CACHE_DIR:-${HOME:-/root}/.cache/kiln}/base-images
hash=$(sha256sum "$script" | cut -c1-12)
out="$cache_root/debian12-$hash"
mkdir -p "$cache_root"

exec 9>"$cache_root/.lock"
flock 9

if [ "$force" -eq 0 ] && [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

log() { echo "make-base-image: $*" >&2; }

for tool in debootstrap mkfs.ext4 sfdisk qemu-img ssh-keygen syslinux mcopy mkfs.vfat; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "error: \`$tool\` is not installed; run scripts/install-deps.sh first"
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  log "error: debootstrap needs root (run as root or through sudo)"
  exit 1
fi

# Use the machine's own Debian mirror.
mirror=$(grep -rhs -E '^(URIs:|deb) .*debian' /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null \
  | grep -v security | grep -oE 'https?://[^ ]+/debian' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "$cache_root/.build-XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root="$work/rootfs"

start=$(date +%s)
log "debootstrap bookworm from $mirror (about 2.5 minutes)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,udev,dbus,openssh-server,linux-image-cloud-amd64,initramfs-tools,iproute2,netbase,procps,ca-certificates \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  log "error: debootstrap failed (full log above)"
  exit 1
}

log "configuring the system"
ssh-keygen -q -t ed25519 -N '' -C kiln-test -f "$work/id_ed25519"
install -d -m 700 "$root/root/.ssh"
install -m 600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
echo "kiln-base" >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 kiln-base\n' >"$root/etc/hosts"
printf 'LABEL=kiln-root / ext4 defaults,errors=remount-ro 0 1\n' >"$root/etc/fstab"
: >"$root/etc/machine-id"
cat >"$root/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
cat >"$root/etc/ssh/sshd_config.d/kiln.conf" <<'EOF'
PermitRootLogin prohibit-password
UseDNS no
EOF
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Nothing in the image waits for the network or runs periodic jobs: boots
# are as short as they can be under TCG.
chroot "$root" systemctl mask systemd-networkd-wait-online.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
  >/dev/null 2>&1 || true
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

kernel=$(ls "$root"/boot/vmlinuz-* | head -n1)
initrd=$(ls "$root"/boot/initrd.img-* | head -n1)
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
echo "root=/dev/vda rw console=ttyS0" >"$work/cmdline"

log "making the root filesystem (disk.qcow2)"
rootfs_mib=2048
truncate -s ${rootfs_mib}M "$work/root.raw"
mkfs.ext4 -q -L kiln-root -d "$root" "$work/root.raw"
qemu-img convert -f raw -O qcow2 "$work/root.raw" "$work/disk.qcow2"

log "making the partitioned, bootable variant (disk-boot.qcow2)"
# Layout: 1 MiB gap (MBR + syslinux), 64 MiB FAT16 /boot (bootable), root.
boot_mib=64
boot_off=$((1024 * 1024))
root_off=$(((1 + boot_mib) * 1024 * 1024))
total_mib=$((1 + boot_mib + rootfs_mib))
truncate -s ${total_mib}M "$work/boot.raw"
sfdisk -q "$work/boot.raw" <<EOF
label: dos
start=2048, size=$((boot_mib * 2048)), type=6, bootable
start=$(((1 + boot_mib) * 2048)), type=83
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/boot.raw" bs=440 count=1 conv=notrunc status=none
truncate -s ${boot_mib}M "$work/bootfs.raw"
mkfs.vfat -F 16 -n KILNBOOT "$work/bootfs.raw" >/dev/null
mmd -i "$work/bootfs.raw" ::/syslinux
syslinux --install --directory /syslinux "$work/bootfs.raw"
cat >"$work/syslinux.cfg" <<'EOF'
DEFAULT debian
TIMEOUT 1
PROMPT 0
LABEL debian
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=/dev/vda2 rw console=ttyS0
EOF
mcopy -i "$work/bootfs.raw" "$work/syslinux.cfg" ::/syslinux/syslinux.cfg
mcopy -i "$work/bootfs.raw" "$work/vmlinuz" ::/vmlinuz
mcopy -i "$work/bootfs.raw" "$work/initrd.img" ::/initrd.img
dd if="$work/bootfs.raw" of="$work/boot.raw" bs=1M seek=$((boot_off / 1048576)) conv=notrunc,sparse status=none
dd if="$work/root.raw" of="$work/boot.raw" bs=1M seek=$((root_off / 1048576)) conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$work/boot.raw" "$work/disk-boot.qcow2"

rm -rf "$out"
mkdir -p "$out"
for f in disk.qcow2 disk-boot.qcow2 vmlinuz initrd.img cmdline id_ed25519 id_ed25519.pub; do
  mv "$work/$f" "$out/$f"
done
touch "$out/.complete"
# Older builds of this script are stale: drop them.
for old in "$cache_root"/debian12-*; do
  [ "$old" = "$out" ] || rm -rf "$old"
done
log "done in $(($(date +%s) - start))s: $out"
echo "$out"
