#!/usr/bin/env bash
# Installs the real-migration lab (trace/lab, docs: shared/docs/real-lab.md): QEMU 7.2 from Debian, and
# builds the guest into the git-ignored .cache/lab/: the Debian cloud kernel (downloaded and unpacked with
# dpkg -x, never installed), a busybox initramfs with the static dirtier workload program.
# Idempotent: each step is skipped when its output is newer than its inputs; a second run takes < 1 s.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
lab="$root/.cache/lab"
guest="$root/trace/lab/guest"
mkdir -p "$lab"

need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v qemu-img >/dev/null || need_pkgs+=(qemu-utils)
# The initramfs needs the static busybox; the plain busybox package installs a dynamic one.
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v gcc >/dev/null || need_pkgs+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need_pkgs+=(libc6-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "install-qemu: apt-get install ${need_pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  # Recommends would pull 140 GUI/audio packages that a headless TCG guest never uses.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Guest kernel: the cloud flavour boots fastest and has serial, devtmpfs and initrd built in.
if [ ! -s "$lab/vmlinuz" ] || [ ! -d "$lab/modules" ]; then
  abi="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\).*/\1/p' | head -1)"
  if [ -z "$abi" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    abi="$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-cloud-amd64\).*/\1/p' | head -1)"
  fi
  [ -n "$abi" ] || { echo "install-qemu: cannot resolve the cloud kernel package" >&2; exit 1; }
  echo "install-qemu: kernel $abi"
  rm -rf "$lab/debs" "$lab/kernel"
  mkdir -p "$lab/debs"
  (cd "$lab/debs" && apt-get download -qq "$abi" 2>&1 | grep -v unsandboxed || true)
  deb="$(ls "$lab/debs"/*.deb | head -1)"
  dpkg -x "$deb" "$lab/kernel"
  cp "$lab/kernel"/boot/vmlinuz-* "$lab/vmlinuz"
  # virtio is modular in this kernel: keep the six modules a disk needs (they are not compressed).
  k="$(ls -d "$lab/kernel"/lib/modules/*/kernel)"
  mkdir -p "$lab/modules"
  cp "$k"/drivers/virtio/{virtio,virtio_ring,virtio_pci_legacy_dev,virtio_pci_modern_dev,virtio_pci}.ko \
    "$k"/drivers/block/virtio_blk.ko "$lab/modules/"
  rm -rf "$lab/kernel" "$lab/debs"
fi

# Workload program: static, so the initramfs needs no libc. Also used on the host by the fast tests.
if [ ! -x "$lab/dirtier" ] || [ "$guest/dirtier.c" -nt "$lab/dirtier" ]; then
  echo "install-qemu: gcc dirtier"
  gcc -O2 -Wall -Wextra -static -o "$lab/dirtier" "$guest/dirtier.c" -lm
fi

if [ ! -s "$lab/initrd.gz" ] || [ "$lab/dirtier" -nt "$lab/initrd.gz" ] || [ "$guest/init.sh" -nt "$lab/initrd.gz" ]; then
  echo "install-qemu: initramfs"
  r="$lab/initramfs-root"
  rm -rf "$r"
  mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,run,mnt,lib/modules}
  cp /bin/busybox "$r/bin/busybox"
  cp "$lab/dirtier" "$r/bin/dirtier"
  cp "$lab/modules"/*.ko "$r/lib/modules/"
  cp "$guest/init.sh" "$r/init"
  chmod +x "$r/init"
  # There is no cpio binary on Debian's minimal images; busybox has one.
  (cd "$r" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$lab/initrd.gz.tmp")
  mv "$lab/initrd.gz.tmp" "$lab/initrd.gz"
  rm -rf "$r"
fi
qemu-system-x86_64 --version | head -1 >"$lab/qemu-version.txt"
