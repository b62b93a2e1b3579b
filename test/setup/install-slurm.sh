#!/usr/bin/env bash
# Debian's one-node Slurm (slurm-wlm 22.05 on Debian 12) and munge for test/models/sweep/*.slow.test.ts.
# Idempotent: does nothing when the daemons and clients are already installed. Nothing is started here:
# the slow test starts munged, slurmctld and slurmd itself with a private config, key and socket in a temp
# folder, and stops them by the PIDs they wrote (../shared/docs/slurm-lab.md).
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if have sbatch && have squeue && have sinfo && have scontrol && have slurmctld && have slurmd && have munged; then
  echo "slurm: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null || echo installed)"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
echo "slurm: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null || echo installed)"
