#!/usr/bin/env bash
# The libvirt lab (real-lab.md §4): two private libvirtd 9.0 daemons on this one host, each in its own
# network namespace (joined by a veth pair, 10.200.0.1 <-> 10.200.0.2) and its own mount + UTS namespace
# (private /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt, hostname and
# host UUID), both listening on TCP with SASL (DIGEST-MD5, a user added with saslpasswd2), with debug logs
# of the qemu driver, the monitor and the public API. Writes the domain XML of the lab guest
# (.cache/lab/vmlinuz + initrd.gz, built by test/setup/install-qemu.sh) for both sides, the <emulator>
# wrapper and a virsh auth file, but starts no guest: trace/libvirt-lab/run.ts (runLibvirtLab) does that.
#
# usage: setup.sh WORKDIR        (WORKDIR: an empty directory; everything the lab makes lives in it)
# then:  . WORKDIR/state.env; ip netns exec "$NS1" env LIBVIRT_AUTH_FILE="$AUTH_FILE" virsh -c "$SRC_URI" ...
# undo:  teardown.sh WORKDIR     (always safe; also after a failed or partial setup)
#
# Settings (environment): LV_ID (6 hex digits naming the namespaces, default random), LV_LAB_DIR (default
# .cache/lab), LV_MEM_MIB (guest RAM, default 128), LV_WSS_MIB / LV_DIRTY_RATE (the dirtier's working set
# in MiB and rate in MiB/s, default 24 / 8), LV_RAM_EXTRA_KIB (8), LV_TCP_PORT (16509), LV_SASL_USER (migscope),
# LV_SASL_PASSWORD (default random), LV_QEMU (qemu-system-x86_64), LV_TRACE_EVENTS (comma-separated
# QEMU trace-event patterns written to the QEMU trace logs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ $# -eq 1 ] || { echo "usage: setup.sh WORKDIR" >&2; exit 2; }
mkdir -p "$1"
W="$(cd "$1" && pwd)"
[ "$(id -u)" = 0 ] || { echo "setup.sh: needs root (ip netns, unshare --mount --uts, mount --bind)" >&2; exit 1; }
for bin in libvirtd virsh saslpasswd2 ip unshare; do
  command -v "$bin" >/dev/null || { echo "setup.sh: $bin not found: run bash test/setup/install-libvirt.sh" >&2; exit 1; }
done
rnd() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
ID="${LV_ID:-$(rnd 3)}"
LAB_DIR="${LV_LAB_DIR:-$root/.cache/lab}"
MEM_MIB="${LV_MEM_MIB:-128}"
WSS_MIB="${LV_WSS_MIB:-24}"
RATE="${LV_DIRTY_RATE:-8}"
PORT="${LV_TCP_PORT:-16509}"
EXTRA_KIB="${LV_RAM_EXTRA_KIB:-8}"
SASL_USER="${LV_SASL_USER:-migscope}"
SASL_PASSWORD="${LV_SASL_PASSWORD:-$(rnd 12)}"
QEMU="$(command -v "${LV_QEMU:-qemu-system-x86_64}")" || { echo "setup.sh: QEMU not found: run bash test/setup/install-qemu.sh" >&2; exit 1; }
TRACE_EVENTS="${LV_TRACE_EVENTS:-migrate_set_state,migrate_pending,migrate_transferred,migrate_fd_*,migration_bitmap_sync_start,migration_bitmap_sync_end,migration_thread_*,migration_rate_limit_pre,migration_rate_limit_post,migration_completion_*,migration_throttle,migration_socket_*,migration_set_*_channel,savevm_state_setup,savevm_state_iterate,savevm_state_complete_precopy,savevm_state_cleanup,qemu_loadvm_state_post_main,loadvm_state_setup,loadvm_state_cleanup,ram_load_complete}"
for f in vmlinuz initrd.gz; do
  [ -s "$LAB_DIR/$f" ] || { echo "setup.sh: $LAB_DIR/$f missing: run bash test/setup/install-qemu.sh" >&2; exit 1; }
done
for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
  [ -d "$d" ] || { echo "setup.sh: mount point $d missing: run bash test/setup/install-libvirt.sh" >&2; exit 1; }
done
getent passwd libvirt-qemu >/dev/null || { echo "setup.sh: user libvirt-qemu missing: run bash test/setup/install-libvirt.sh" >&2; exit 1; }

NS1="mgslv-$ID-1"
NS2="mgslv-$ID-2"
VETH1="mlv${ID}a"
VETH2="mlv${ID}b"
NET=10.200.0
# state.env first: teardown.sh undoes whatever it lists, so a setup that fails half-way is still undone.
cat >"$W/state.env" <<EOF
W='$W'
ID='$ID'
NS1='$NS1'
NS2='$NS2'
VETH1='$VETH1'
VETH2='$VETH2'
ADDR1='$NET.1'
ADDR2='$NET.2'
PORT='$PORT'
SASL_USER='$SASL_USER'
SASL_PASSWORD='$SASL_PASSWORD'
AUTH_FILE='$W/client/auth.conf'
SRC_URI='qemu+tcp://127.0.0.1:$PORT/system'
DST_URI='qemu+tcp://$NET.2:$PORT/system'
SRC_UNIX='qemu:///system?socket=$W/lv1/run/libvirt-sock'
DST_UNIX='qemu+unix:///system?socket=$W/lv2/run/libvirt-sock'
DOMAIN='labvm'
MEM_MIB='$MEM_MIB'
EOF

# --- per-daemon state and configuration ------------------------------------------------------------
log_filters="1:qemu.qemu_monitor 1:qemu.qemu_migration 1:qemu.qemu_migration_params 1:qemu.qemu_migration_cookie 1:qemu.qemu_driver 1:qemu.qemu_process 1:libvirt 1:remote 2:rpc 3:util 3:conf 3:security"
for n in 1 2; do
  d="$W/lv$n"
  mkdir -p "$d"/{etc/sasl2,run,lib,log,cache}
  cat >"$d/etc/libvirtd.conf" <<EOF
# libvirt lab daemon $n (trace/libvirt-lab/setup.sh)
listen_tls = 0
listen_tcp = 1
listen_addr = "0.0.0.0"
tcp_port = "$PORT"
auth_tcp = "sasl"
sasl_allowed_username_list = ["$SASL_USER", "$SASL_USER@labhost$n"]
auth_unix_ro = "none"
auth_unix_rw = "none"
host_uuid = "8a3c3b9e-7b1e-4c55-9d51-0000000000$n$n"
log_level = 3
log_filters = "$log_filters"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
EOF
  cat >"$d/etc/qemu.conf" <<EOF
# libvirt lab daemon $n: QEMU runs as root with no security driver, cgroups or private /dev (a container
# without systemd), writes its stdio to a file (no virtlogd), and migrates over the veth pair.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = "$NET.$n"
migration_host = "$NET.$n"
EOF
  cat >"$d/etc/sasl2/libvirt.conf" <<EOF
# DIGEST-MD5: the one mechanism here that gives libvirt the SSF it demands on a TCP socket without TLS.
mech_list: digest-md5
sasldb_path: /etc/libvirt/passwd.db
EOF
  printf '%s' "$SASL_PASSWORD" | saslpasswd2 -p -c -a libvirt -f "$d/etc/passwd.db" -u "labhost$n" "$SASL_USER"
done

# --- virsh credentials (LIBVIRT_AUTH_FILE) -----------------------------------------------------------
mkdir -p "$W/client"
cat >"$W/client/auth.conf" <<EOF
[credentials-lab]
authname=$SASL_USER
password=$SASL_PASSWORD

[auth-libvirt-127.0.0.1]
credentials=lab

[auth-libvirt-$NET.1]
credentials=lab

[auth-libvirt-$NET.2]
credentials=lab
EOF
chmod 600 "$W/client/auth.conf"

# --- the guest ---------------------------------------------------------------------------------------
tr ',' '\n' <<<"$TRACE_EVENTS" >"$W/trace-events.txt"
mkdir -p "$W/dom"
# libvirt rounds <memory> to whole MiB; QEMU 7.2 under TCG loses dirty pages when RAM is a multiple of
# 256 KiB (real-lab.md §2.6), so the emulator is a wrapper that adds 8 KiB (LV_RAM_EXTRA_KIB) to -m and
# to the pc.ram backend, and turns on the migration trace events of a domain's QEMU (not of libvirt's
# capability probes, which have no -name).
cat >"$W/qemu-wrap.sh" <<EOF
#!/bin/sh
# libvirt <emulator> of the libvirt lab: QEMU with guest RAM + 8 KiB and migration trace events.
role=source
domain=0
for a do
  case "\$a" in
    -incoming) role=destination ;;
    -name) domain=1 ;;
  esac
done
first=1
prev=
for a do
  if [ \$first = 1 ]; then set --; first=0; fi
  case "\$prev:\$a" in
    -m:size=*[0-9]k) n=\${a#size=}; n=\${n%k}; a="size=\$((n + $EXTRA_KIB))k" ;;
    -m:*[!0-9]*) ;;
    -m:?*) a="\$((a * 1024 + $EXTRA_KIB))K" ;;
  esac
  prev=\$a
  case "\$a" in
    *'"qom-type":"memory-backend-ram"'*'"size":'*)
      n=\$(printf '%s' "\$a" | sed 's/.*"size":\([0-9]*\).*/\1/')
      a=\$(printf '%s' "\$a" | sed "s/\"size\":\$n/\"size\":\$((n + $((EXTRA_KIB * 1024))))/") ;;
  esac
  set -- "\$@" "\$a"
done
if [ \$domain = 1 ]; then
  set -- "\$@" -trace "events=$W/trace-events.txt,file=$W/dom/qemu-\$role-trace.log"
  printf '%s\n' "\$*" >"$W/dom/qemu-\$role-cmdline.txt"
fi
exec "$QEMU" "\$@"
EOF
chmod +x "$W/qemu-wrap.sh"
pages=$((MEM_MIB * 256))
wss=$((WSS_MIB * 256))
for side in src dst; do
  cat >"$W/dom/labvm-$side.xml" <<EOF
<domain type='qemu'>
  <name>labvm</name>
  <uuid>8a3c3b9e-7b1e-4c55-9d51-000000000042</uuid>
  <memory unit='MiB'>$MEM_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LAB_DIR/vmlinuz</kernel>
    <initrd>$LAB_DIR/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet lab_kind=uniform lab_pages=$pages lab_wss_pages=$wss lab_rate=$RATE lab_seed=1 lab_hb=1</cmdline>
  </os>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$W/qemu-wrap.sh</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='$W/dom/serial-$side.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
done

# --- network: two namespaces joined by a veth pair ---------------------------------------------------
ip netns add "$NS1"
ip netns add "$NS2"
ip link add "$VETH1" type veth peer name "$VETH2"
ip link set "$VETH1" netns "$NS1"
ip link set "$VETH2" netns "$NS2"
ip -n "$NS1" addr add "$NET.1/24" dev "$VETH1"
ip -n "$NS2" addr add "$NET.2/24" dev "$VETH2"
for n in "$NS1" "$NS2"; do ip -n "$n" link set lo up; done
ip -n "$NS1" link set "$VETH1" up
ip -n "$NS2" link set "$VETH2" up

# --- the daemons -------------------------------------------------------------------------------------
# ip netns exec and unshare exec (no fork), and daemon.sh execs libvirtd: $! is libvirtd's PID.
ip netns exec "$NS1" unshare --mount --uts --propagation private sh "$here/daemon.sh" "$W/lv1" labhost1 \
  </dev/null >"$W/lv1/stderr.log" 2>&1 &
echo "PID1='$!'" >>"$W/state.env"
ip netns exec "$NS2" unshare --mount --uts --propagation private sh "$here/daemon.sh" "$W/lv2" labhost2 \
  </dev/null >"$W/lv2/stderr.log" 2>&1 &
echo "PID2='$!'" >>"$W/state.env"
. "$W/state.env"
for i in $(seq 1 100); do
  [ -S "$W/lv1/run/libvirt-sock" ] && [ -S "$W/lv2/run/libvirt-sock" ] && break
  for p in "$PID1" "$PID2"; do
    kill -0 "$p" 2>/dev/null || { echo "setup.sh: libvirtd (PID $p) exited at start:" >&2; tail -5 "$W"/lv*/stderr.log >&2; exit 1; }
  done
  sleep 0.1
done
[ -S "$W/lv1/run/libvirt-sock" ] && [ -S "$W/lv2/run/libvirt-sock" ] || { echo "setup.sh: libvirtd sockets did not appear in 10 s" >&2; exit 1; }
echo "setup.sh: libvirtd $PID1 ($NS1, $NET.1) and $PID2 ($NS2, $NET.2) listening on TCP $PORT with SASL"
