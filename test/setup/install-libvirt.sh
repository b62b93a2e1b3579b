#!/usr/bin/env bash
# Installs the libvirt lab (trace/libvirt-lab, docs: shared/docs/real-lab.md §4): the minimal libvirt 9.0
# daemon + QEMU driver + virsh from Debian 12 (no libvirt-daemon-system: it would upgrade systemd and
# friends), Cyrus SASL's saslpasswd2 and the DIGEST-MD5 / sasldb plugins (SASL on libvirtd's TCP socket),
# and the three host steps that libvirt-daemon-system would otherwise do. The guest comes from
# install-qemu.sh (.cache/lab). Idempotent: a second run installs nothing and takes < 1 s.
set -euo pipefail

need_pkgs=()
command -v libvirtd >/dev/null || need_pkgs+=(libvirt-daemon)
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] || need_pkgs+=(libvirt-daemon-driver-qemu)
command -v virsh >/dev/null || need_pkgs+=(libvirt-clients)
command -v saslpasswd2 >/dev/null || need_pkgs+=(sasl2-bin)
# DIGEST-MD5 (the one mechanism libvirt accepts on plain TCP: it gives an SSF) and the sasldb auxprop plugin.
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libdigestmd5.so ] || need_pkgs+=(libsasl2-modules)
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so ] || need_pkgs+=(libsasl2-modules-db)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v unshare >/dev/null || need_pkgs+=(util-linux)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "install-libvirt: apt-get install ${need_pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need_pkgs[@]}" >/dev/null
fi

# Without libvirt-daemon-system: the QEMU driver resolves its built-in user 'libvirt-qemu' before it reads
# qemu.conf and fails to initialise when the user does not exist (real-lab.md §4.1).
getent group kvm >/dev/null || groupadd --system kvm
if ! getent passwd libvirt-qemu >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
fi
# Empty mount points: each lab daemon bind-mounts its private state over them in its own mount namespace.
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
libvirtd --version | head -1
