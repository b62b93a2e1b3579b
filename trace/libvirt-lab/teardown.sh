#!/usr/bin/env bash
# Undo setup.sh: destroy the lab's domains, stop its QEMU processes and both libvirtds (by PID, never by
# name: other QEMUs on this host are not ours), delete its network namespaces and veth pair, and remove
# WORKDIR (unless LV_KEEP=1). The daemons' bind mounts live only in their own mount namespaces and go with
# their last process. Safe to run twice and after a partial setup. Prints what it had to kill.
# usage: teardown.sh WORKDIR
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: teardown.sh WORKDIR" >&2; exit 2; }
[ -f "$1/state.env" ] || { echo "teardown.sh: $1/state.env: nothing to undo"; [ "${LV_KEEP:-0}" = 1 ] || rm -rf "$1"; exit 0; }
# shellcheck disable=SC1091
. "$1/state.env"
PID1="${PID1:-}"
PID2="${PID2:-}"

# The netns inodes: any process whose network namespace is one of ours is ours (libvirtd, its QEMUs).
ns_inodes=()
for ns in "$NS1" "$NS2"; do
  [ -e "/run/netns/$ns" ] && ns_inodes+=("$(stat -L -c %i "/run/netns/$ns")")
done
ours() {
  local p ino
  for p in /proc/[0-9]*; do
    ino="$(readlink "$p/ns/net" 2>/dev/null)" || continue
    for i in "${ns_inodes[@]}"; do [ "$ino" = "net:[$i]" ] && echo "${p#/proc/}"; done
  done
}
alive() { kill -0 "$1" 2>/dev/null; }
is_libvirtd() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = /usr/sbin/libvirtd ]; }

# 1. Destroy the domains through the daemons (over their unix sockets: no SASL, no netns needed).
for n in 1 2; do
  pid_var="PID$n"
  p="${!pid_var}"
  if [ -n "$p" ] && alive "$p" && [ -S "$W/lv$n/run/libvirt-sock" ]; then
    timeout 10 virsh -q -c "qemu:///system?socket=$W/lv$n/run/libvirt-sock" destroy "${DOMAIN:-labvm}" >/dev/null 2>&1 || true
  fi
done
# 2. QEMUs by their pid files, then the daemons.
for f in "$W"/lv*/run/qemu/*.pid; do
  [ -f "$f" ] || continue
  q="$(cat "$f" 2>/dev/null)"
  if [ -n "$q" ] && alive "$q" && grep -q "$W" "/proc/$q/cmdline" 2>/dev/null; then
    echo "teardown.sh: killing QEMU $q"
    kill -TERM "$q" 2>/dev/null
  fi
done
for p in "$PID1" "$PID2"; do
  [ -n "$p" ] && alive "$p" && is_libvirtd "$p" && kill -TERM "$p" 2>/dev/null
done
for _ in $(seq 1 50); do
  left=""
  for p in "$PID1" "$PID2"; do [ -n "$p" ] && alive "$p" && is_libvirtd "$p" && left="$left $p"; done
  [ -z "$left" ] && break
  sleep 0.1
done
for p in $left; do echo "teardown.sh: libvirtd $p ignored SIGTERM: SIGKILL"; kill -KILL "$p" 2>/dev/null; done
# 3. Anything still in our namespaces.
if [ ${#ns_inodes[@]} -gt 0 ]; then
  for _ in 1 2 3; do
    pids="$(ours)"
    [ -z "$pids" ] && break
    echo "teardown.sh: killing leftover processes in $NS1/$NS2: $(echo $pids)"
    kill -KILL $pids 2>/dev/null
    sleep 0.2
  done
fi
# 4. Network: deleting a namespace deletes the veth end in it (and so the pair).
for ns in "$NS1" "$NS2"; do
  [ -e "/run/netns/$ns" ] && ip netns del "$ns"
done
for v in "$VETH1" "$VETH2"; do
  ip link show "$v" >/dev/null 2>&1 && ip link del "$v"
done
# 5. Files.
[ "${LV_KEEP:-0}" = 1 ] || rm -rf "$W"
exit 0
