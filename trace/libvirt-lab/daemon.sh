#!/bin/sh
# One private libvirtd of the libvirt lab. setup.sh runs it as
#   ip netns exec NS unshare --mount --uts --propagation private sh daemon.sh DIR HOSTNAME
# so it is already inside its own network namespace and a fresh mount + UTS namespace. It bind-mounts
# DIR/{etc,run,lib,log,cache} over libvirt's system paths (nothing changes outside this mount namespace,
# and the mounts vanish with its last process), sets its own hostname (libvirt refuses a migration whose
# cookie carries the local hostname and host UUID: real-lab.md §4.2), and execs libvirtd in the foreground
# with TCP listening on, so the PID setup.sh records is libvirtd's own.
set -eu
dir=$1
host=$2
mount --bind "$dir/etc" /etc/libvirt
mount --bind "$dir/run" /run/libvirt
mount --bind "$dir/lib" /var/lib/libvirt
mount --bind "$dir/log" /var/log/libvirt
mount --bind "$dir/cache" /var/cache/libvirt
hostname "$host"
# Cyrus SASL reads its libvirt.conf (mech_list, sasldb_path) from here instead of /etc/sasl2.
export SASL_CONF_PATH=/etc/libvirt/sasl2
exec libvirtd --listen --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd.pid
