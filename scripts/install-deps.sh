#!/usr/bin/env bash
# Installs the system packages kiln's builds and tests need, on Debian 12.
# Idempotent and quick when everything is already there.
#   packer     - Debian's Packer 1.6.6: the reference for the compatibility
#                tests and the benchmarks.
#   time       - GNU time, for peak-memory figures in bench/.
#   qemu-system-x86 (from bookworm-backports, to match the machine's
#                qemu-utils 10), qemu-utils - the qemu builder.
#   debootstrap, e2fsprogs, syslinux, syslinux-common, fdisk, mtools,
#   dosfstools, openssh-client - scripts/make-base-image.sh (the base Debian image the qemu
#                tests, quickstart and benchmark boot).
#   xorriso    - ISOs for `cd_files` / `cd_content` and the ISO tests.
#   isolinux, busybox-static - the boot_command test's bootable ISO; busybox
#                also makes the docker tests' base image (`docker import`).
#   docker-registry - a local registry server for the docker-push tests.
#   mtools, dosfstools - floppy images for `floppy_files` too.
#   ovmf       - UEFI firmware for `firmware` / `efi_boot`.
#   swtpm      - the emulated TPM for the qemu builder's `vtpm`.
#   openssl    - certificates for the TLS `DOCKER_HOST` test.
#   dnsmasq-base - a DHCP server on the bridge of the qemu `net_bridge` test.
#   tmux       - the terminal the live-view tests run kiln in.
#   cargo-deb  - (from crates.io, at the end) the Debian package of scripts/dist.sh.
#   ansible-core - ansible-playbook for the `ansible` provisioner's tests.
#   iproute2   - loopback in the private network namespace of the fake
#                Alibaba Cloud API's packer run (fakes/alicloud).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

need=()
command -v packer >/dev/null 2>&1 || need+=(packer)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# python3-venv: the venv moto (the amazon-ebs tests' EC2 server) lives in.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client)
# microsocks: a SOCKS5 server with user/password auth for the ssh_proxy_* tests.
command -v microsocks >/dev/null 2>&1 || need+=(microsocks)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v sfdisk >/dev/null 2>&1 || need+=(fdisk)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
[ -f /usr/lib/ISOLINUX/isolinux.bin ] || need+=(isolinux)
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v xorriso >/dev/null 2>&1 || need+=(xorriso)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v mkfs.vfat >/dev/null 2>&1 || need+=(dosfstools)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -f /usr/share/OVMF/OVMF_CODE.fd ] || [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
command -v swtpm >/dev/null 2>&1 || need+=(swtpm)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# ansible-core: the `ansible` provisioner runs ansible-playbook on this host.
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible-core)
# iproute2: `ip link set lo up` in the namespace of fakes/alicloud's packer run.
command -v ip >/dev/null 2>&1 || need+=(iproute2)

# qemu-system-x86 must come from bookworm-backports: Debian 12's own 7.2
# conflicts with the backported qemu-utils 10 the machine has.
need_qemu=0
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_qemu=1

if [ ${#need[@]} -gt 0 ] || [ "$need_qemu" -eq 1 ]; then
  if [ "$need_qemu" -eq 1 ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Use the same mirror as the machine's existing Debian source.
    mirror=$(grep -rhs -m1 -E '^(URIs:|deb) .*debian' /etc/apt/sources.list.d/ /etc/apt/sources.list \
      | grep -v security | grep -oE 'https?://[^ ]+/debian' | head -n1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/kiln-bookworm-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  if [ "$need_qemu" -eq 1 ]; then
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils
  fi
fi

# The openstack builder tests' cloud: OpenStack Zed from Debian 12's packages
# (scripts/openstack.sh; its services run only when a test starts them).
$SUDO "$(dirname "$0")/openstack.sh" install

# The configuration-management provisioners' guest image (ansible-core,
# puppet-agent, python3): kiln-test/cm:bookworm, made with debootstrap and
# `docker import`. About 3 minutes, once.
$SUDO "$(dirname "$0")/make-cm-image.sh"

# moto's EC2 server for the amazon-ebs tests and bench/amazon-parallel.sh,
# in a venv (Debian 12's pip refuses system-wide installs). The tests look
# for it here (or in $KILN_MOTO_VENV).
MOTO_VENV="${KILN_MOTO_VENV:-$HOME/.cache/kiln/moto-venv}"
MOTO_VERSION=5.2.5
if ! "$MOTO_VENV/bin/python" -c "from importlib.metadata import version as v; assert v('moto') == '$MOTO_VERSION'; v('boto3'); v('flask')" >/dev/null 2>&1 \
   || [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# ensure_venv DIR PKG[EXTRA]==VER...: a venv at DIR holding exactly these pins
# (created or refreshed only when one of them is missing or differs).
ensure_venv() {
  local dir="$1"; shift
  local check="from importlib.metadata import version as v" p
  for p in "$@"; do
    local name="${p%%==*}"
    check+="; assert v('${name%%[*}') == '${p##*==}'"
  done
  if ! "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
  fi
}

# The vendors' own Python SDKs, which prove the fake cloud APIs (fakes/*)
# faithful; the fakes themselves need only the stdlib. The tests look for
# each venv here (or in $KILN_<CLOUD>_VENV).
ensure_venv "${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}" \
  aliyun-python-sdk-core==2.16.1 \
  aliyun-python-sdk-ecs==4.24.83 \
  aliyun-python-sdk-vpc==3.0.48 \
  alibabacloud-ecs20140526==7.11.8 \
  alibabacloud-tea-openapi==0.4.6 \
  oss2==2.19.1
ensure_venv "${KILN_TENCENTCLOUD_VENV:-$HOME/.cache/kiln/tencentcloud-venv}" \
  tencentcloud-sdk-python-common==3.1.195 \
  tencentcloud-sdk-python-cvm==3.1.178 \
  tencentcloud-sdk-python-vpc==3.1.193
ensure_venv "${KILN_UCLOUD_VENV:-$HOME/.cache/kiln/ucloud-venv}" \
  ucloud-sdk-python3==0.11.150 \
  ufile==3.2.11
ensure_venv "${KILN_HUAWEICLOUD_VENV:-$HOME/.cache/kiln/huaweicloud-venv}" \
  huaweicloudsdkcore==3.1.219 \
  huaweicloudsdkecs==3.1.219 \
  huaweicloudsdkims==3.1.219 \
  huaweicloudsdkvpc==3.1.219 \
  huaweicloudsdkeip==3.1.219 \
  huaweicloudsdkiam==3.1.219

# Independent checkers of what issue 23's components write: the SPDX and
# CycloneDX reference validators (the sbom provisioner), and
# securesystemslib's DSSE verifier (the provenance post-processor).
ensure_venv "${KILN_SBOM_VENV:-$HOME/.cache/kiln/sbom-venv}" \
  spdx-tools==0.8.5 \
  'cyclonedx-python-lib[json-validation]==11.12.0'
ensure_venv "${KILN_ATTEST_VENV:-$HOME/.cache/kiln/attest-venv}" \
  securesystemslib==1.6.0 \
  cryptography==51.0.1

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust (rustup) first" >&2
  exit 1
fi

# cargo-deb: scripts/dist.sh makes kiln's Debian package with it, and the
# dist test (crates/kiln/tests/cli/dist.rs) runs dist.sh. About 1.5 minutes,
# once.
if ! command -v cargo-deb >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo-deb" ]; then
  cargo install --locked cargo-deb --version 3.8.0
fi
