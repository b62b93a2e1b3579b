#!/bin/busybox sh
# /init of the lab guest's initramfs (busybox-static). The host sets the workload on the kernel command
# line as lab_*=value (built by trace/lab/run.ts, guestCmdline). The serial console carries markers that
# the host waits for: LAB_BOOT_OK, LAB_WORKLOAD_START (from dirtier), LAB_WORKLOAD_EXIT on failure.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
lab_kind=idle lab_pages=0 lab_wss_pages=0 lab_rate=0 lab_zipfs=1.1 lab_seed=1
lab_disk=0 lab_disk_rate=0 lab_disk_alloc=0 lab_hb=5
for a in $(cat /proc/cmdline); do
  case "$a" in
    lab_*=*) eval "${a%%=*}='${a#*=}'" ;;
  esac
done
if [ "$lab_disk" = 1 ]; then
  # virtio is modular in Debian's cloud kernel; this load order resolves the dependencies.
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    insmod /lib/modules/$m.ko || echo "LAB_INSMOD_FAILED $m"
  done
  n=0
  while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
fi
echo "LAB_BOOT_OK uptime=$(cut -d' ' -f1 /proc/uptime)"
set -- -k "$lab_kind" -p "$lab_pages" -w "$lab_wss_pages" -r "$lab_rate" -z "$lab_zipfs" -e "$lab_seed" -i "$lab_hb"
if [ "$lab_disk" = 1 ] && [ -b /dev/vda ]; then set -- "$@" -d /dev/vda -D "$lab_disk_rate" -A "$lab_disk_alloc"; fi
/bin/dirtier "$@"
echo "LAB_WORKLOAD_EXIT rc=$?"
# init must never exit (the kernel would panic), so an ended workload leaves an idle guest.
while :; do sleep 3600; done
